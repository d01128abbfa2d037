"""Shared test setup: a session-wide cache folder, so the synthetic dataset is generated once."""
import glob
import json
import math
import os

import pytest
import torch

# one thread: on 2 shared cores, two-thread BLAS in each test process is several times slower; the
# environment variables give the same to the processes tests start (CLI runs, sweeps and their cells)
torch.set_num_threads(1)
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(scope="session", autouse=True)
def reid_bench_cache(tmp_path_factory):
    """Point the synthetic dataset's cache at a session temporary folder (never the user's)."""
    cache = tmp_path_factory.mktemp("reid_bench_cache")
    previous = os.environ.get("REID_BENCH_CACHE")
    os.environ["REID_BENCH_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("REID_BENCH_CACHE", None)
    else:
        os.environ["REID_BENCH_CACHE"] = previous


@pytest.fixture(scope="session", autouse=True)
def tiny_synthetic_pretraining():
    """A run on ``synthetic`` without ``--no-pretrained`` pretrains its backbone first (minutes); in the
    tests that pretraining is a tiny one (a few iterations), so no test pays for the real one."""
    from reid_bench.models import pretraining

    real = pretraining.PRETRAINING
    pretraining.PRETRAINING = pretraining.PretrainingRecipe(classes=6, images_per_class=2, held_out_per_class=1,
                                                            iterations=2, batch_size=4)
    yield pretraining.PRETRAINING
    pretraining.PRETRAINING = real


@pytest.fixture(scope="session")
def live_residuals():
    """``live_residuals(model)``: give back the residual branches a from-scratch backbone starts without.

    Without ImageNet weights every residual block starts as the identity (its last BatchNorm weight is
    0, ``backbones.zero_init_residuals``), so on the first step no gradient reaches the convolutions
    inside those branches. Tests that check every parameter gets a gradient set those weights to 1.
    """
    def revive(model):
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d) and not module.weight.detach().any():
                torch.nn.init.ones_(module.weight)
        return model

    return revive


@pytest.fixture(scope="session")
def cancelled_biases():
    """``cancelled_biases(model)``: names of the biases that sit right before a BatchNorm, in a Sequential
    or in torchreid's conv-BN-ReLU ``ConvBlock``.

    A train-mode BatchNorm subtracts the batch mean, so such a bias gets a zero gradient, up to float
    noise whose size and sign depend on the CPU's summation order; gradient-reach tests require these
    to have a gradient but not a non-zero one.
    """
    from torchreid.reid.models.hacnn import ConvBlock

    batch_norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)

    def names(model):
        cancelled = set()
        for prefix, module in model.named_modules():
            if not isinstance(module, (torch.nn.Sequential, ConvBlock)):
                continue
            children = list(module.named_children())
            for (name, layer), (_, following) in zip(children, children[1:]):
                if isinstance(following, batch_norms) and getattr(layer, "bias", None) is not None:
                    cancelled.add(f"{prefix}.{name}.bias" if prefix else f"{name}.bias")
        return cancelled

    return names


SHORT_RUN = ["--epochs", "1", "--max-iters", "2", "--batch-size", "16", "--input-size", "64", "32",
             "--no-pretrained", "--workers", "0", "--no-progress"]


@pytest.fixture
def short_run_options():
    """``reid-bench run``'s options for one short epoch, :data:`SHORT_RUN` (a fixture, since another
    folder's ``conftest`` module may hold the name ``conftest`` when folders are collected together)."""
    return list(SHORT_RUN)


@pytest.fixture
def short_run(tmp_path):
    """``short_run(plugin, *extra, dataset="synthetic")``: ``reid-bench run`` for one short epoch (two
    iterations of 16 images at 64x32); returns the one result record it wrote."""
    from reid_bench.cli import main

    def run(plugin, *extra, dataset="synthetic"):
        output = os.path.join(str(tmp_path), "runs")
        status = main(["run", "--plugin", plugin, "--dataset", dataset, *SHORT_RUN, "--output", output, *extra])
        assert status == 0
        records = glob.glob(os.path.join(output, "results", "*.json"))
        assert len(records) == 1, records
        with open(records[0]) as handle:
            record = json.load(handle)
        for key, value in record["metrics"].items():
            assert value is None or (math.isfinite(value) and 0.0 <= value <= 100.0), (key, value)
        return record

    return run
