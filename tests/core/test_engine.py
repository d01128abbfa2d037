"""The generic engine: checkpoints every epoch, resume after an interruption, schedules and callbacks."""
import glob
import json
import os

import pytest
import torch

from reid_bench.cli import main
from reid_bench.engine import Trainer
from reid_bench.engine.checkpoint import load_checkpoint

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
ARGS = ["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs", "3",
        "--max-iters", "3", "--workers", "0", "--no-progress", "--no-rerank"]


@pytest.fixture(autouse=True)
def toy_plugin(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)


def read_record(output):
    (path,) = glob.glob(os.path.join(output, "results", "*.json"))
    with open(path) as handle:
        return json.load(handle)


@pytest.mark.parametrize("workers", [0, 2])
def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch, workers):
    """Bit-identical final weights for any worker count: with workers the augmentations run in worker
    processes whose seeds come from the loader's generator, which is seeded from (seed, epoch)."""
    args = ARGS + ["--workers", str(workers)]
    reference = str(tmp_path / "reference")
    assert main(args + ["--output", reference]) == 0
    expected = read_record(reference)
    assert expected["resumed"] is False and expected["train"]["iterations"] == 9

    interrupted = str(tmp_path / "interrupted")
    original_step, calls = Trainer._step, {"n": 0}

    def step_then_die(self, batch):  # killed in the middle of the second epoch, then of the third
        calls["n"] += 1
        if calls["n"] in (5, 10):
            raise KeyboardInterrupt
        return original_step(self, batch)

    monkeypatch.setattr(Trainer, "_step", step_then_die)
    assert main(args + ["--output", interrupted]) == 130
    run_dir = os.path.join(interrupted, "toy", "full", "synthetic", "paper", "seed0")
    assert load_checkpoint(run_dir)["next_epoch"] == 1
    assert not glob.glob(os.path.join(interrupted, "results", "*.json"))

    assert main(args + ["--output", interrupted]) == 2  # refuses to overwrite silently
    assert main(args + ["--output", interrupted, "--resume"]) == 130  # steps 6-8 (epoch 2), killed at 10
    assert load_checkpoint(run_dir)["next_epoch"] == 2
    assert main(args + ["--output", interrupted, "--resume"]) == 0
    assert calls["n"] == 13
    resumed = read_record(interrupted)
    assert resumed["resumed"] is True and resumed["train"]["iterations"] == 9
    assert resumed["metrics"] == pytest.approx(expected["metrics"])
    final_reference = torch.load(os.path.join(reference, "toy/full/synthetic/paper/seed0/model.pt"))
    final_resumed = torch.load(os.path.join(run_dir, "model.pt"))
    for name, tensor in final_reference.items():
        assert torch.equal(tensor, final_resumed[name]), name


def test_checkpoint_holds_optimizer_rng_and_schedule(tmp_path):
    output = str(tmp_path / "out")
    assert main(ARGS + ["--output", output, "--epochs", "1", "--max-iters", "1", "--keep-checkpoint"]) == 0
    state = load_checkpoint(os.path.join(output, "toy/full/synthetic/paper/seed0"))
    assert {"model", "optimizer", "loss_modules", "loss_optimizers", "scaler", "rng", "next_epoch",
            "stage_index", "stats"} <= set(state)
    # the synthetic budget's schedule cut to one epoch: that epoch is its warm-up, at 0.1 x the toy's lr 0.01
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.001)
    assert os.listdir(os.path.join(output, "toy/full/synthetic/paper/seed0/tensorboard"))


def test_same_seed_gives_same_metrics_and_seeds_write_one_record_each(tmp_path):
    output = str(tmp_path / "seeds")
    assert main(ARGS + ["--output", output, "--epochs", "1", "--seeds", "0", "1"]) == 0
    again = str(tmp_path / "again")
    assert main(ARGS + ["--output", again, "--epochs", "1", "--seeds", "1"]) == 0
    records = {}
    for path in glob.glob(os.path.join(output, "results", "*.json")):
        with open(path) as handle:
            record = json.load(handle)
        records[record["seed"]] = record
    assert sorted(records) == [0, 1]
    assert read_record(again)["metrics"] == records[1]["metrics"]
