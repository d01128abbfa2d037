"""Checkpoints are read with ``weights_only=True``: a malicious pickle is refused without being executed,
and a damaged ``checkpoint.pt`` ends in one ``error:`` line (``--resume``) or is replaced (``--overwrite``)."""
import os
import pickle
import random

import numpy as np
import pytest
import torch

from reid_bench.cli import main
from reid_bench.engine.checkpoint import CheckpointError, load_checkpoint, restore_rng_state, rng_state
from reid_bench.run_folder import CHECKPOINT_FILE as CHECKPOINT_NAME
from reid_bench.errors import UserError

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
ARGS = ["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs", "1",
        "--max-iters", "1", "--workers", "0", "--no-progress", "--no-rerank", "--keep-checkpoint"]
RUN_DIR = os.path.join("toy", "full", "synthetic", "paper", "seed0")


@pytest.fixture(autouse=True)
def toy_plugin(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)


class WritesMarker:
    """Unpickling this calls ``exec``, which writes ``marker``: what an attacker's checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('executed')",)


def _plant(run_dir, payload, fmt):
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, CHECKPOINT_NAME)
    if fmt == "torch.save":
        torch.save(payload, path)
    else:  # a bare pickle stream, torch.load's legacy format
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)
    return path


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("fmt", ["torch.save", "pickle"])
def test_malicious_checkpoint_is_refused_and_never_executed(tmp_path, capsys, fmt):
    marker = str(tmp_path / "marker")
    output = str(tmp_path / "runs")
    run_dir = os.path.join(output, RUN_DIR)
    path = _plant(run_dir, {"next_epoch": 1, "model": WritesMarker(marker)}, fmt)

    # the payload is real: an unrestricted load runs it (done here once, on purpose, to prove the test bites)
    try:
        torch.load(path, weights_only=False)
    except RuntimeError:  # the bare pickle: its payload runs as torch.load reads the "magic number"
        pass
    assert os.path.exists(marker)
    os.remove(marker)

    with pytest.raises(CheckpointError, match="refused") as caught:
        load_checkpoint(run_dir)
    assert path in str(caught.value) and isinstance(caught.value, UserError)
    assert not os.path.exists(marker)

    capsys.readouterr()
    assert main(ARGS + ["--output", output, "--resume"]) == 2
    line = _one_error_line(capsys)
    assert path in line and "--overwrite" in line
    assert main(ARGS + ["--output", output]) == 2  # neither flag: refuses to start over it
    assert "--overwrite" in _one_error_line(capsys)
    assert not os.path.exists(marker)

    assert main(ARGS + ["--output", output, "--overwrite"]) == 0  # never read, replaced by a good one
    assert not os.path.exists(marker)
    assert load_checkpoint(run_dir)["next_epoch"] == 1


def _good_checkpoint_bytes(tmp_path):
    output = str(tmp_path / "good")
    assert main(ARGS + ["--output", output]) == 0
    with open(os.path.join(output, RUN_DIR, CHECKPOINT_NAME), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("damage", ["empty", "text", "truncated", "model_weights"])
def test_damaged_checkpoint_names_the_file_on_resume_and_overwrite_always_works(tmp_path, capsys, damage):
    output = str(tmp_path / "runs")
    run_dir = os.path.join(output, RUN_DIR)
    os.makedirs(run_dir)
    path = os.path.join(run_dir, CHECKPOINT_NAME)
    if damage == "model_weights":  # a plain state dict (a model.pt) saved under the checkpoint's name
        torch.save({"weight": torch.zeros(3)}, path)
    else:
        content = {"empty": b"", "text": b"not a checkpoint\n"}.get(damage)
        if content is None:
            good = _good_checkpoint_bytes(tmp_path)
            content = good[: len(good) // 2]
        with open(path, "wb") as handle:
            handle.write(content)

    with pytest.raises(CheckpointError):
        load_checkpoint(run_dir)
    capsys.readouterr()
    assert main(ARGS + ["--output", output, "--resume"]) == 2
    line = _one_error_line(capsys)
    assert path in line and "--overwrite" in line and "delete" in line
    assert main(ARGS + ["--output", output, "--overwrite"]) == 0
    assert load_checkpoint(run_dir)["next_epoch"] == 1
    assert main(ARGS + ["--output", output, "--resume"]) == 0  # the replaced checkpoint resumes (at its end)


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(3), np.random.seed(3), torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in NumPy's state
    path = str(tmp_path / "rng.pt")
    torch.save(rng_state(), path)
    expected = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    restore_rng_state(torch.load(path, weights_only=True))
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == expected
