"""Experiment configs: `reid-bench config show`, `run --config`, `--set` overrides and their records."""
import glob
import json
import os

import pytest
import yaml

from reid_bench.cli import main
from reid_bench.leaderboard import write_leaderboards
from reid_bench.plugin_manager import load_plugins

TINY = ["--epochs", "1", "--max-iters", "2", "--batch-size", "8", "--input-size", "32", "16", "--no-pretrained",
        "--workers", "0", "--no-progress", "--no-rerank"]


def _show(capsys, *args):
    assert main(["config", "show", *args]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def _error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_config_show_prints_options_resolved_recipe_and_loss_terms(capsys):
    document = _show(capsys, "--plugin", "ccan", "--dataset", "market1501")
    assert document["plugin"] == "ccan" and document["dataset"] == "market1501" and document["seeds"] == [0]
    assert document["recipe"]["name"] == "paper" and document["recipe"]["input_size"] == [256, 128]
    assert document["recipe"]["stages"][0]["optimizer"]["lr"] == pytest.approx(5e-4)
    assert set(document["loss_terms"]) >= {"triplet_global", "triplet_local"}
    assert document["loss_terms"]["triplet_global"]["kwargs"]["margin"] == pytest.approx(1.0)


def test_set_overrides_options_recipe_values_loss_terms_and_test_time(capsys):
    document = _show(capsys, "--plugin", "baseline", "--dataset", "synthetic", "--recipe", "uniform",
                     "--set", "recipe.stages.0.optimizer.lr=1e-3", "--set", "recipe.input_size=[96, 48]",
                     "--set", "loss_terms.triplet.weight=0.5", "--set", "loss_terms.triplet.kwargs.margin=0.5",
                     "--set", "seeds=[1, 2]", "--set", "test_time.aqe.k=3")
    assert document["recipe"]["name"] == "uniform"
    assert document["recipe"]["stages"][0]["optimizer"]["lr"] == pytest.approx(1e-3)
    assert document["recipe"]["input_size"] == [96, 48]
    assert document["loss_terms"]["triplet"] == {"weight": 0.5, "kwargs": {"output": "embedding", "margin": 0.5}}
    assert document["seeds"] == [1, 2]
    assert document["test_time"]["aqe"] == {"k": 3, "alpha": 3.0, "times": 1}


def test_a_config_file_gives_way_to_options_given_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "exp.yaml"
    path.write_text("plugin: baseline\ndataset: synthetic\nepochs: 3\nrecipe: {name: uniform}\n")
    assert _show(capsys, "--config", str(path))["recipe"]["stages"][0]["epochs"] == 3
    document = _show(capsys, "--config", str(path), "--epochs", "2", "--seeds", "4")
    assert document["recipe"]["stages"][0]["epochs"] == 2 and document["seeds"] == [4]


@pytest.mark.parametrize("assignment, expected", [
    ("recipe.stages.0.optimizer.lr=abc", "recipe.stages.0.optimizer.lr: expected a number"),
    ("recipe.nonexistent=1", "unknown key recipe.nonexistent; valid keys there: name, stages, input_size"),
    ("recipe.stages.0.optimizer.lrr=1", "did you mean lr?"),
    ("recipe.stages.3.epochs=1", "recipe.stages is a list of 1"),
    ("loss_terms.triplett.weight=1", "unknown key loss_terms.triplett; did you mean triplet?"),
    ("epochz=2", "unknown key epochz; did you mean epochs?"),
    ("epochs=two", "epochs: expected a whole number or null"),
    ("amp=fp8", "amp: expected null"),
    ("test_time.distance=cosin", "unknown distance 'cosin'"),
    ("lr", "expected KEY=VALUE"),
])
def test_a_bad_key_or_value_is_one_error_naming_it(assignment, expected, capsys):
    line = _error(capsys, ["config", "show", "--plugin", "baseline", "--dataset", "synthetic", "--set", assignment])
    assert expected in line


def test_a_bad_config_file_is_one_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("- just\n- a list\n")
    assert "expected a mapping" in _error(capsys, ["run", "--config", str(path)])
    assert "cannot read it" in _error(capsys, ["run", "--config", str(tmp_path / "missing.yaml")])
    assert "no plugin and no dataset given" in _error(capsys, ["config", "show"])
    # reliability issue, defects 6 and 9: these were a UnicodeDecodeError traceback, "unknown plugin None" and
    # "ImageNet weights not found"
    path.write_bytes(b"plugin: baseline\ndataset: synthetic\n# \xff\n")
    assert "expected UTF-8 text, byte 38 is not" in _error(capsys, ["run", "--config", str(path)])
    path.write_text("")
    assert "no plugin and no dataset given" in _error(capsys, ["run", "--config", str(path)])
    assert "pretrained_from: expected one of imagenet, synthetic, got 'foo'" in _error(
        capsys, ["run", "--plugin", "baseline", "--dataset", "synthetic", "--set", "pretrained_from=foo"])


def _records(output):
    return sorted(glob.glob(os.path.join(output, "results", "*.json")))


def test_a_run_folder_config_reproduces_the_run_and_overrides_get_their_own_row(tmp_path, capsys):
    first = str(tmp_path / "first")
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", "--recipe", "uniform", *TINY,
                 "--output", first]) == 0
    (config_path,) = glob.glob(os.path.join(first, "**", "config.yaml"), recursive=True)
    again = str(tmp_path / "again")
    assert main(["run", "--config", config_path, "--set", f"output={again}"]) == 0
    (a,), (b,) = _records(first), _records(again)
    a, b = json.load(open(a)), json.load(open(b))
    assert a["overrides"] == {} and b["overrides"] == {}
    assert a["recipe"] == b["recipe"] and a["metrics"] == b["metrics"]

    # the same run with a changed learning rate: its record names the override, and its row is its own
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", "--recipe", "uniform", *TINY,
                 "--output", first, "--overwrite", "--set", "recipe.stages.0.optimizer.lr=0.01"]) == 0
    overridden = [json.load(open(path)) for path in _records(first) if json.load(open(path))["overrides"]]
    assert [record["overrides"] for record in overridden] == [{"stages[0].optimizer.lr": 0.01}]
    out = tmp_path / "pages"
    write_leaderboards([os.path.join(first, "results")], str(out), load_plugins(), include_smoke=True)
    lines = [line for line in (out / "synthetic.md").read_text().splitlines() if line.startswith("| [baseline]")]
    assert len(lines) == 2 and sum("set stages[0].optimizer.lr=0.01" in line for line in lines) == 1


def test_an_overridden_run_has_its_own_folder_and_eval_rebuilds_its_recipe(tmp_path, capsys):
    output = str(tmp_path / "runs")
    common = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--recipe", "uniform", *TINY, "--output", output]
    assert main([*common, "--set", "recipe.norm_mean=[0.5, 0.5, 0.5]"]) == 0
    assert main(common) == 0  # the stock recipe: another folder, no --overwrite needed
    folders = sorted(os.path.basename(os.path.dirname(path))
                     for path in glob.glob(os.path.join(output, "baseline", "full", "synthetic", "*", "seed0")))
    assert folders[0] == "uniform" and folders[1].startswith("uniform-set-") and len(folders) == 2
    (overridden,) = [json.load(open(path)) for path in _records(output) if json.load(open(path))["overrides"]]
    capsys.readouterr()
    assert main(["eval", "--checkpoint", overridden["run_dir"], "--dataset", "synthetic", "--workers", "0",
                 "--json"]) == 0
    [printed] = json.loads(capsys.readouterr().out)
    assert printed["metrics"] == pytest.approx(overridden["metrics"], abs=1e-9)
    evaluated = [json.load(open(path)) for path in _records(output) if "-eval-" in path]
    assert [record["overrides"] for record in evaluated] == [{f"norm_mean[{i}]": 0.5 for i in range(3)}]
