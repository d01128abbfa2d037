"""`reid-bench sweep`: a grid of runs through submitit's local launcher, resumable, with a summary."""
import glob
import os

import pytest

from reid_bench.cli import main

TINY = ["--set", "epochs=1", "--set", "max_iters=2", "--set", "batch_size=8", "--set", "input_size=[32,16]",
        "--set", "pretrained=false", "--set", "workers=0", "--set", "rerank=false"]


def _records(output):
    return sorted(path for path in glob.glob(os.path.join(output, "results", "*.json")))


def test_dry_run_lists_every_cell_with_its_folder_and_command(tmp_path, capsys):
    output = str(tmp_path / "out")
    assert main(["sweep", "--plugins", "baseline", "ccan", "--datasets", "synthetic", "--recipes", "uniform",
                 "--seeds", "0", "1", "--overrides", "", "--overrides", "recipe.stages.0.optimizer.lr=1e-3,"
                 "recipe.input_size=[96,48]", "--output", output, "--dry-run", *TINY]) == 0
    out = capsys.readouterr().out
    assert "8 cells: 8 to run, 0 done" in out
    assert out.count("reid-bench run --plugin ccan") == 4
    assert "--set 'recipe.input_size=[96,48]'" in out and "uniform-set-" in out
    assert not os.path.exists(output)  # nothing ran


def test_a_sweep_runs_its_cells_skips_done_ones_resumes_and_reports_failures(tmp_path, capsys):
    output = str(tmp_path / "out")
    sweep = tmp_path / "grid.yaml"
    sweep.write_text(f"plugins: [baseline]\ndatasets: [synthetic]\nrecipes: [uniform]\nseeds: [0, 1]\n"
                     f"output: {output}\nset: [epochs=1, max_iters=2, batch_size=8, 'input_size=[32,16]', "
                     "pretrained=false, workers=0, rerank=false, keep_checkpoint=true]\n")
    assert main(["sweep", str(sweep), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("| ran ") == 2 and "2 ran" in out
    assert len(_records(output)) == 2

    # reliability issue, defect 8: a cell whose folder holds a run with another --max-iters or other test-time
    # options was counted done
    for extra, difference in ((["--max-iters", "3"], "max_iters 2 where the cell has 3"),
                              (["--set", "test_time.flip=true"], "test-time defaults where the cell has flip")):
        assert main(["sweep", str(sweep), "--dry-run", *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: 2 cell(s) would train in run folders"), err
        assert difference in err[0] and "another --output" in err[0]

    # again: both done; one more seed runs; a cell that lost its record and weights is resumed (from the
    # checkpoint keep_checkpoint kept; without it a finished cell has none). One job
    # at a time: the second cell starts after the first is done (a finished job once took the place of
    # the function every cell runs, and every cell after the first failed)
    for path in glob.glob(os.path.join(output, "results", "*seed1*")):
        os.remove(path)
    os.remove(os.path.join(output, "baseline", "full", "synthetic", "uniform", "seed1", "model.pt"))
    assert main(["sweep", str(sweep), "--seeds", "0", "1", "2", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "| skipped " in out and "| resumed " in out and "| ran " in out
    assert "1 ran, 1 resumed, 1 skipped" in out
    assert len(_records(output)) == 3

    # a cell that fails (no data there) is reported with its log; the sweep exits with 1
    assert main(["sweep", "--plugins", "baseline", "--datasets", "market1501", "--set",
                 f"root={tmp_path / 'nowhere'}", "--output", output, *TINY]) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "| failed " in line]
    log = line.split("|")[3].strip()
    assert os.path.isfile(log) and "error" in open(log).read().lower()


@pytest.mark.parametrize("argv, expected", [
    (["--plugins", "baseline"], "a sweep needs plugins and datasets"),
    (["--plugins", "nope", "--datasets", "synthetic"], "unknown plugin 'nope'"),
    (["--plugins", "baseline", "--datasets", "synthetic", "--set", "recipe.nope=1"], "unknown key recipe.nope"),
    (["--plugins", "baseline", "--datasets", "synthetic", "--launcher", "slurm"], "needs Slurm's sbatch"),
])
def test_a_bad_sweep_is_one_error_before_anything_runs(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch there
    assert main(["sweep", *argv, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]
    assert not (tmp_path / "out").exists()


def test_a_sweep_file_with_an_unknown_key_is_refused(tmp_path, capsys):
    sweep = tmp_path / "grid.yaml"
    sweep.write_text("plugin: [baseline]\ndatasets: [synthetic]\n")
    assert main(["sweep", str(sweep), "--dry-run"]) == 2
    assert "unknown key plugin; did you mean plugins?" in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    ("output: 5\n", "output: expected a path, got 5"),
    ("config: [a, b]\n", "config: expected a path, got ['a', 'b']"),
])
def test_a_sweep_file_whose_paths_are_not_text_is_refused(tmp_path, capsys, content, expected):
    """Reliability issue, defect 6: these were TypeError tracebacks."""
    sweep = tmp_path / "grid.yaml"
    sweep.write_text("plugins: [baseline]\ndatasets: [synthetic]\n" + content)
    assert main(["sweep", str(sweep), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == f"error: sweep file {sweep}: {expected}"


def test_the_slurm_launcher_submits_one_job_array(tmp_path, capsys, monkeypatch):
    """Without a cluster: a fake ``sbatch`` on PATH keeps the submission script submitit writes."""
    bin_dir, kept = tmp_path / "bin", tmp_path / "submitted.sh"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {kept}\necho 'Submitted batch job 4242'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "squeue").write_text("#!/bin/sh\nprintf '4242_1\\n4242_3\\n'\n")  # two cells still queued
    for tool in ("sbatch", "srun", "squeue"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    output = str(tmp_path / "out")
    assert main(["sweep", "--plugin", "baseline", "ccan", "--dataset", "synthetic", "--seeds", "0", "1", "--epochs",
                 "0", "--launcher", "slurm", "--partition", "gpu", "--gpus", "2", "--cpus", "6", "--time", "90",
                 "--mem", "32", "--jobs", "3", "--output", output]) == 0
    out = capsys.readouterr()
    assert "submitted job array 4242 (4 cells)" in out.err and "4 submitted" in out.out
    script = kept.read_text()
    for line in ("#SBATCH --array=0-3%3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2",
                 "#SBATCH --cpus-per-task=6", "#SBATCH --time=90", "#SBATCH --mem=32GB"):
        assert line in script
    assert all(f"sweep-logs/4242_{index}_0_log.out" in out.out for index in range(4))

    # reliability issue, defect 8: the same sweep again (as its message advises) submitted all four again; now
    # the cells whose jobs squeue still lists are left alone and only the others are submitted
    argv = ["sweep", "--plugin", "baseline", "ccan", "--dataset", "synthetic", "--seeds", "0", "1", "--epochs", "0",
            "--launcher", "slurm", "--output", output]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "submitted job array 4242 (2 cells)" in out.err and "2 submitted, 2 queued" in out.out
    assert "#SBATCH --array=0-1" in kept.read_text()
    assert out.out.count("Slurm job 4242_1") == 1 and out.out.count("Slurm job 4242_3") == 1


def test_ctrl_c_stops_a_local_sweep_and_its_cells_without_tracebacks(tmp_path):
    """Reliability issue, defect 9: Ctrl-C (SIGINT to the terminal's whole process group) made submitit's
    controller and the cell print KeyboardInterrupt tracebacks; now the sweep alone takes it, stops its cells
    and says how to continue."""
    import signal
    import subprocess
    import sys
    import time

    err_path = tmp_path / "stderr.txt"
    argv = [sys.executable, "-m", "reid_bench", "sweep", "--plugins", "baseline", "--datasets", "synthetic",
            "--output", str(tmp_path / "out"), *TINY, "--set", "epochs=200", "--set", "max_iters=50"]

    def terminal_signals():
        """Ctrl-C's SIGINT at its default, as in a terminal's foreground job: a suite started as a background job
        of a non-interactive shell (``nohup pytest &``) passes SIGINT on ignored, and then nothing would stop."""
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    with open(err_path, "w") as err:
        sweep = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                 preexec_fn=terminal_signals)
    deadline = time.monotonic() + 120
    logs = tmp_path / "out" / "sweep-logs"
    while time.monotonic() < deadline and not any("Epoch" in path.read_text() or "epoch" in path.read_text()
                                                      for path in logs.glob("*_log.out")):
        time.sleep(0.5)  # until the cell trains
    os.killpg(sweep.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert sweep.wait(timeout=60) == 130
    stderr = err_path.read_text()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "interrupted" in stderr
    for _ in range(40):  # the controller and the cell are gone too
        try:
            os.killpg(sweep.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.25)
    else:
        raise AssertionError("processes of the interrupted sweep are still running")
