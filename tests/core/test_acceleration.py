"""Speed options (--amp fp16|bf16, --channels-last, --compile) and the loader workers: resolved, applied,
recorded in the result record and the run folder's settings."""
import glob
import json
import os

import pytest
import torch

from reid_bench.cli import main
from reid_bench.data.loaders import default_workers
from reid_bench.engine.acceleration import Acceleration, amp_mode

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
TOY = ["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs", "1",
       "--max-iters", "2", "--no-progress", "--no-rerank"]


@pytest.fixture(autouse=True)
def toy_plugin(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)


def _record(output):
    (path,) = glob.glob(os.path.join(output, "results", "*.json"))
    with open(path) as handle:
        return json.load(handle)


@pytest.mark.parametrize("requested, recipe_amp, device, expected", [
    (None, False, "cuda", None), (None, True, "cuda", "fp16"), (True, False, "cuda", "fp16"),
    ("bf16", False, "cuda", "bf16"), (False, True, "cuda", None), ("bf16", True, "cpu", None),
    (None, True, "cpu", None),
])
def test_amp_mode_follows_the_option_then_the_recipe_on_cuda_only(requested, recipe_amp, device, expected):
    assert amp_mode(requested, recipe_amp, device) == expected


def test_channels_last_and_compile_prepare_the_model_without_renaming_it():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    names = list(model.state_dict())
    forward = Acceleration(channels_last=True, compile=True).prepare_model(model)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert forward is not model and list(forward.parameters()) == list(model.parameters())
    assert list(model.state_dict()) == names  # checkpoints keep their names
    images = Acceleration(channels_last=True).prepare_images(torch.randn(2, 3, 8, 6))
    assert images.is_contiguous(memory_format=torch.channels_last)


def test_options_are_recorded(tmp_path):
    output = str(tmp_path / "runs")
    assert main([*TOY, "--output", output, "--workers", "0", "--channels-last", "--amp", "bf16"]) == 0
    record = _record(output)
    # on a CPU mixed precision stays off, whatever was asked
    assert (record["amp"], record["channels_last"], record["compile"]) == (False, True, False)
    assert record["train"]["workers"] == 0
    (settings,) = glob.glob(os.path.join(output, "**", "settings.json"), recursive=True)
    with open(settings) as handle:
        assert json.load(handle)["workers"] == 0


def test_default_workers_are_recorded_and_resume_refuses_another_count(tmp_path, capsys):
    output = str(tmp_path / "runs")
    assert main([*TOY, "--output", output, "--keep-checkpoint"]) == 0  # a checkpoint to resume from
    assert _record(output)["train"]["workers"] == default_workers()
    capsys.readouterr()
    assert main([*TOY, "--output", output, "--workers", str(default_workers() + 1), "--resume"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --resume:") and "(--workers)" in error and error.count("\n") == 1
