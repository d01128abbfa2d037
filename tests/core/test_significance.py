"""The paired bootstrap and ``reid-bench compare``, on constructed result sets whose answer is known."""
import json
import os

import numpy as np
import pytest

from reid_bench.cli import main
from reid_bench.results.per_query import save_per_query
from reid_bench.results.significance import paired_bootstrap


def test_identical_result_sets_differ_by_exactly_zero():
    ap = np.random.default_rng(0).uniform(size=500)
    comparison = paired_bootstrap(ap, ap.copy(), resamples=300)
    assert (comparison.difference, comparison.low, comparison.high) == (0.0, 0.0, 0.0)
    assert comparison.contains_zero


def test_constant_shift_is_exact():
    # every query's AP is 0.05 higher on side A: every resample's difference is 5 points
    b = np.random.default_rng(1).uniform(0.0, 0.9, size=300)
    comparison = paired_bootstrap(b + 0.05, b, resamples=200)
    assert comparison.difference == pytest.approx(5.0)
    assert comparison.low == pytest.approx(5.0) and comparison.high == pytest.approx(5.0)


def test_known_shift_is_detected_with_the_expected_width():
    # per-query differences: mean 0.02, standard deviation 0.1, over 2000 queries; the mean's standard
    # error is 0.1 / sqrt(2000) = 0.00224, so the 95% interval is about 2.0 +- 1.96 * 0.224 points
    rng = np.random.default_rng(2)
    b = rng.uniform(size=2000)
    d = rng.normal(size=2000)
    d = 0.02 + 0.1 * (d - d.mean()) / d.std()  # exactly mean 0.02 and std 0.1
    comparison = paired_bootstrap(b + d, b, resamples=2000, seed=7)
    assert comparison.difference == pytest.approx(2.0)
    assert not comparison.contains_zero
    half_width = (comparison.high - comparison.low) / 2
    assert half_width == pytest.approx(1.96 * 0.2236, rel=0.1)
    # no shift, same noise: the interval contains 0
    assert paired_bootstrap(b + d - 0.02, b, resamples=2000, seed=7).contains_zero


def test_interval_is_seeded_and_reproducible():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=200), rng.uniform(size=200)
    first, again = paired_bootstrap(a, b, seed=11, resamples=500), paired_bootstrap(a, b, seed=11, resamples=500)
    assert first == again


def test_seed_variance_widens_the_interval():
    rng = np.random.default_rng(4)
    b = rng.uniform(size=400)
    one_seed = paired_bootstrap(b + 0.02, b, resamples=1000)
    # side A's two seeds are 0.04 apart (mean still +0.02): resampling seeds adds that spread
    two_seeds = paired_bootstrap(np.stack([b, b + 0.04]), b, resamples=1000)
    assert two_seeds.difference == pytest.approx(2.0) and two_seeds.seeds_a == 2
    assert two_seeds.high - two_seeds.low > one_seed.high - one_seed.low + 1.0


def write_run(output, method, seed, ap, pids, num_matches=None, protocol="synthetic"):
    """A record and its per-query file as ``reid-bench run`` lays them out under ``output``."""
    run_dir = os.path.join(output, method, "full", protocol, "uniform", f"seed{seed}")
    os.makedirs(run_dir, exist_ok=True)
    run_id = f"{method}-seed{seed}"
    num_matches = np.ones(len(ap), dtype=np.int64) if num_matches is None else num_matches
    save_per_query(os.path.join(output, "results", f"{run_id}.queries.npz"), [{
        "pid": np.asarray(pids), "camid": np.zeros(len(ap), dtype=np.int64),
        "ap": np.where(num_matches > 0, ap, np.nan), "first_rank": np.ones(len(ap), dtype=np.int64),
        "num_matches": num_matches}])
    record = {"run_id": run_id, "protocol": protocol, "method": method, "variant": "full", "seed": seed,
              "run_dir": run_dir, "per_query": f"{run_id}.queries.npz", "finished_at": "2026-01-01T00:00:00+00:00",
              "evaluation": {"test_time": {"flip": True, "distance": "cosine", "aqe": None, "rerank": None}}}
    path = os.path.join(output, "results", f"{run_id}.json")
    with open(path, "w") as stream:
        json.dump(record, stream)
    return path, run_dir


def test_compare_records_and_run_folders(tmp_path, capsys):
    output = str(tmp_path / "runs")
    pids = np.arange(100)
    b = np.linspace(0.1, 0.9, 100)
    record_a, folder_a = write_run(output, "better", 0, b + 0.1, pids)
    write_run(output, "better", 1, b + 0.1, pids)
    record_b, folder_b = write_run(output, "worse", 0, b, pids)
    assert main(["compare", record_a, record_b, "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "+10.00 points, 95% interval [+10.00, +10.00]" in out and "excludes 0" in out
    assert "test-time: flip, cosine" in out
    # a run folder finds its record; the folder above the seed folders takes every seed
    assert main(["compare", folder_b, os.path.dirname(folder_a), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "-10.00 points" in out and "1 and 2 seeds" in out


def test_compare_refuses_different_queries(tmp_path, capsys):
    output = str(tmp_path / "runs")
    record_a, _ = write_run(output, "a", 0, np.full(10, 0.5), np.arange(10))
    record_b, _ = write_run(output, "b", 0, np.full(10, 0.5), np.arange(10) + 1)
    assert main(["compare", record_a, record_b]) == 2
    assert "not evaluated on the same queries" in capsys.readouterr().err
    assert main(["compare", record_a, str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_compare_says_when_the_sides_differ_in_test_time_options(tmp_path, capsys):
    """Reliability issue, defect 8: records with other test-time options were paired without a word."""
    output = str(tmp_path / "runs")
    record_a, _ = write_run(output, "a", 0, np.full(10, 0.6), np.arange(10))
    record_b, _ = write_run(output, "b", 0, np.full(10, 0.5), np.arange(10))
    assert main(["compare", record_a, record_b, "--resamples", "50"]) == 0
    assert "note:" not in capsys.readouterr().out
    with open(record_b) as stream:
        record = json.load(stream)
    record["evaluation"]["test_time"]["flip"] = False
    with open(record_b, "w") as stream:
        json.dump(record, stream)
    assert main(["compare", record_a, record_b, "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "note: the records differ in test-time options (A: flip, cosine; B: cosine)" in out
    with pytest.raises(SystemExit) as info:
        main(["compare", record_a, record_b, "--seed", "-1"])
    assert info.value.code == 2 and "--seed: expected a whole number of at least 0" in capsys.readouterr().err
    with open(record_b) as stream:  # defect 7: an integer per_query was a TypeError traceback
        record = json.load(stream)
    record["per_query"] = 5
    with open(record_b, "w") as stream:
        json.dump(record, stream)
    assert main(["compare", record_a, record_b]) == 2
    assert "per_query is 5, expected the name of the per-query file" in capsys.readouterr().err
