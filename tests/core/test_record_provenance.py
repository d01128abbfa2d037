"""Records that reproduce a number by themselves (schema version 2: command, git state, environment, data and
weights fingerprints, resolved loss terms, plugin versions), version-1 records still read, and run folders
that keep model.pt but not checkpoint.pt once finished (unless --keep-checkpoint)."""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest
import torch

from reid_bench.cli import main
from reid_bench.datasets.synthetic import default_root
from reid_bench.leaderboard.records import parse_record
from reid_bench.models import pretraining
from reid_bench.plugin_manager import load_plugins
from reid_bench.results import records
from reid_bench.results.records import read_record
from reid_bench.run_folder import CHECKPOINT_FILE, MODEL_FILE, SETTINGS_FILE
from reid_bench.spec import ClassificationSplits

TINY = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--epochs", "1", "--max-iters", "2", "--batch-size",
        "8", "--input-size", "32", "16", "--workers", "0", "--no-progress", "--no-rerank"]
RUN_DIR = os.path.join("baseline", "full", "synthetic", "paper", "seed0")
FINGERPRINT = re.compile(r"[0-9a-f]{16}\Z")


def _record(output):
    (path,) = glob.glob(os.path.join(output, "results", "*.json"))
    with open(path) as handle:
        return json.load(handle)


def _one_error_line(capsys, *expected):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, (text, err)
    return err


def _leaderboard_records(folder):
    """The records in ``folder`` as the leaderboards read them (:class:`InvalidRecord` for one they skip)."""
    return [parse_record(path, read_record(path)) for path in glob.glob(os.path.join(folder, "*.json"))]


def _sha256(path, digits=16):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:digits]


def test_a_record_says_how_to_reproduce_it_and_eval_records_say_the_same(tmp_path, reid_bench_cache):
    output = str(tmp_path / "runs")
    argv = [*TINY, "--output", output, "--set", "loss_terms.triplet.kwargs.margin=0.5"]  # synthetic pretraining
    assert main(argv) == 0
    record = _record(output)

    assert record["schema_version"] == records.SCHEMA_VERSION == 2
    assert record["command"] == ["reid-bench", *argv]
    assert set(record["git"]) == {"commit", "dirty"} and "git_commit" not in record
    assert record["git"]["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"])
    environment = record["environment"]
    assert set(environment) == {"host", "platform", "cpu", "cpu_count", "torch_threads", "gpu", "cuda"}
    assert environment["cpu_count"] >= 1 and environment["torch_threads"] >= 1
    assert environment["gpu"] is None and environment["cuda"] is None  # a CPU run
    assert record["plugins"]["baseline"] == {"distribution": "reid-bench", "version": records.library_versions()[
        "reid_bench"]}

    # the loss terms in full: the override, the stock label smoothing and weights, the registered losses
    assert record["loss_terms"] == {
        "softmax": {"loss": "cross_entropy", "weight": 1.0, "kwargs": {"output": "logits", "label_smooth": 0.1},
                    "optimizer": None},
        "triplet": {"loss": "triplet", "weight": 1.0, "kwargs": {"output": "embedding", "margin": 0.5},
                    "optimizer": None}}

    # the split as listed by the protocol, wherever the dataset lives
    splits = load_plugins().datasets.get("synthetic").load(None)
    assert FINGERPRINT.match(record["data_fingerprint"])
    assert record["data_fingerprint"] == records.data_fingerprint([splits])
    moved = tmp_path / "moved"
    shutil.copytree(default_root(), moved)
    assert records.data_fingerprint([load_plugins().datasets.get("synthetic").load(str(moved))]) == \
        record["data_fingerprint"]
    splits.query = splits.query[1:]
    assert records.data_fingerprint([splits]) != record["data_fingerprint"]
    assert records.data_fingerprint([ClassificationSplits([], [], [], [], [])]) is None  # image arrays: none

    # the cached synthetic pretraining the backbone started from
    weights = pretraining.synthetic_weights("resnet50", {"last_stride": 1})  # cached: other tests cache others
    assert os.path.dirname(weights) == os.path.join(str(reid_bench_cache), "pretrained")
    assert record["pretrained"].startswith("synthetic") and record["weights_fingerprint"] == _sha256(weights)
    assert record["pretrained_tensors"] == len(torch.load(weights, weights_only=True))  # every tensor of the file

    # finished: model.pt stays, the checkpoint is gone; the eval record carries the same facts
    run_dir = record["run_dir"]
    assert os.path.isfile(os.path.join(run_dir, MODEL_FILE))
    assert not os.path.exists(os.path.join(run_dir, CHECKPOINT_FILE))
    with open(os.path.join(run_dir, SETTINGS_FILE)) as handle:
        assert json.load(handle)["weights_fingerprint"] == record["weights_fingerprint"]
    eval_argv = ["eval", "--checkpoint", run_dir, "--dataset", "synthetic", "--workers", "0"]
    assert main(eval_argv) == 0
    (evaluated,) = [r for r in map(json.load, map(open, glob.glob(os.path.join(output, "results", "*.json"))))
                    if "evaluated_checkpoint" in r]
    assert evaluated["command"] == ["reid-bench", *eval_argv]
    for key in ("data_fingerprint", "weights_fingerprint", "pretrained_tensors", "loss_terms", "plugins", "git"):
        assert evaluated[key] == record[key], key

    assert len(_leaderboard_records(os.path.join(output, "results"))) == 2


def test_a_model_that_ignores_its_pretrained_weights_is_recorded_as_from_scratch(tmp_path, capsys, monkeypatch):
    """Reliability issue, defect 5: a third-party builder that ignores ``pretrained`` was recorded as trained from
    the synthetic weights; the record now says what was loaded (no tensor: from scratch) and the run warns."""
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party"))
    output = str(tmp_path / "runs")
    assert main(["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs",
                 "1", "--max-iters", "1", "--workers", "0", "--no-progress", "--no-rerank", "--output", output]) == 0
    assert "loaded none of the synthetic" in capsys.readouterr().out
    record = _record(output)
    assert record["pretrained"] is False and record["pretrained_tensors"] == 0
    assert record["weights_fingerprint"] is None


def _git(folder, *arguments):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *arguments], cwd=folder,
                   check=True, capture_output=True)


def test_records_say_whether_the_checkout_was_dirty_and_finished_runs_keep_no_checkpoint(tmp_path, monkeypatch,
                                                                                      capsys):
    checkout = tmp_path / "checkout"
    (checkout / "harness").mkdir(parents=True)
    (checkout / "harness" / "code.py").write_text("x = 1\n")
    _git(checkout, "init", "-q")
    _git(checkout, "add", "harness/code.py")
    _git(checkout, "commit", "-q", "-m", "code")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    monkeypatch.setattr(records, "source_folder", lambda: str(checkout / "harness"))
    (checkout / "harness" / "notes.txt").write_text("untracked files do not count\n")

    clean = str(tmp_path / "clean")
    assert main([*TINY, "--no-pretrained", "--output", clean]) == 0
    record = _record(clean)
    assert record["git"] == {"commit": head, "dirty": False}
    assert record["weights_fingerprint"] is None  # from scratch
    run_dir = os.path.join(clean, RUN_DIR)
    assert os.path.isfile(os.path.join(run_dir, MODEL_FILE))
    assert not os.path.exists(os.path.join(run_dir, CHECKPOINT_FILE))

    # a finished run is not run over (its checkpoint is gone): plain or --resume, one error line
    capsys.readouterr()
    assert main([*TINY, "--no-pretrained", "--output", clean]) == 2
    _one_error_line(capsys, "holds a finished run", "--overwrite", "reid-bench eval --checkpoint")
    assert main([*TINY, "--no-pretrained", "--output", clean, "--resume"]) == 2
    _one_error_line(capsys, "nothing to resume", "--overwrite")

    (checkout / "harness" / "code.py").write_text("x = 2\n")
    dirty = str(tmp_path / "dirty")
    assert main([*TINY, "--no-pretrained", "--output", dirty, "--keep-checkpoint"]) == 0
    assert _record(dirty)["git"] == {"commit": head, "dirty": True}
    assert os.path.isfile(os.path.join(dirty, RUN_DIR, CHECKPOINT_FILE))
    assert main([*TINY, "--no-pretrained", "--output", dirty, "--resume"]) == 0  # a kept checkpoint: as before

    monkeypatch.setattr(records, "source_folder", lambda: str(tmp_path))  # no git checkout
    assert records.git_state() == {"commit": None, "dirty": None}


def test_keep_checkpoint_is_a_config_option_checked_before_anything_runs(tmp_path, capsys):
    output = tmp_path / "runs"
    assert main([*TINY, "--output", str(output), "--set", "keep_checkpoint=maybe"]) == 2
    _one_error_line(capsys, "keep_checkpoint", "true or false")
    assert not output.exists()
    assert main(["config", "show", "--plugin", "baseline", "--dataset", "synthetic", "--keep-checkpoint"]) == 0
    assert "keep_checkpoint: true" in capsys.readouterr().out


def test_version_1_records_are_still_read_by_the_leaderboard_compare_and_sweep(tmp_path, capsys):
    from reid_bench.experiment.sweep import recorded_run_folders

    # two records the first synthetic board wrote (schema 1), kept here since the board's were replaced
    committed = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "records_v1", "*.json")))
    results = tmp_path / "out" / "results"
    results.mkdir(parents=True)
    copies = []
    for path in committed:
        with open(path) as handle:
            record = json.load(handle)
        assert record["schema_version"] == 1 and "git_commit" in record and "git" not in record
        copies.append(shutil.copy(path, results))
        shutil.copy(os.path.join(os.path.dirname(path), record["per_query"]), results)

    assert len(_leaderboard_records(str(results))) == 2
    assert main(["compare", *copies, "--resamples", "200"]) == 0
    assert "mAP" in capsys.readouterr().out
    assert os.path.normpath(record["run_dir"]) in recorded_run_folders(str(tmp_path / "out"))
