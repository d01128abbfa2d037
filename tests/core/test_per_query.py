"""Per-query results: written beside every re-id record, and they reproduce the record's mAP."""
import glob
import os

import numpy as np
import pytest
import torch

from reid_bench.errors import UserError
from reid_bench.evaluation.evaluate import evaluate_reid, plain_forward
from reid_bench.evaluation.test_time import Reranking, TestTimeOptions
from reid_bench.results.per_query import load_per_query, mean_ap


def test_run_writes_per_query_file_that_reproduces_map(short_run, tmp_path):
    record = short_run("baseline", "--rerank")
    path = os.path.join(str(tmp_path), "runs", "results", record["per_query"])
    columns = load_per_query(path)
    assert len(columns["ap"]) == record["evaluation"]["num_query"]
    assert int((columns["num_matches"] == 0).sum()) == record["evaluation"]["num_skipped_queries"]
    assert mean_ap(columns) == record["metrics"]["mAP"]  # exactly: the same numbers summed in the same order
    assert mean_ap(columns, reranked=True) == record["metrics_reranked"]["mAP"]
    valid = columns["num_matches"] > 0
    r1 = 100.0 * float(np.mean(columns["first_rank"][valid] == 1))
    assert r1 == pytest.approx(record["metrics"]["R1"], abs=1e-4)
    assert record["evaluation"]["test_time"] == {"flip": False, "distance": "euclidean", "aqe": None,
                                                 "rerank": {"k1": 20, "k2": 6, "lambda": 0.3}}


class Identity(torch.nn.Module):
    def forward(self, images):
        return images.flatten(1)


def test_torchreid_evaluator_gives_the_same_per_query_results():
    generator = torch.Generator().manual_seed(0)
    q_pids, g_pids = torch.randint(0, 5, (12,), generator=generator), torch.randint(0, 5, (40,), generator=generator)
    loaders = {
        "query": [{"img": torch.randn(12, 3, 2, 2, generator=generator), "pid": q_pids.tolist(), "camid": [0] * 12}],
        "gallery": [{"img": torch.randn(40, 3, 2, 2, generator=generator), "pid": g_pids.tolist(),
                     "camid": [1] * 40}],
    }
    options = TestTimeOptions(rerank=Reranking(k1=5, k2=2))
    ours = evaluate_reid(Identity(), loaders, plain_forward, torch.device("cpu"), "reid_bench", options)
    reference = evaluate_reid(Identity(), loaders, plain_forward, torch.device("cpu"), "torchreid", options)
    for name in ("ap", "ap_reranked"):
        assert np.allclose(ours.per_query[name], reference.per_query[name], equal_nan=True)
    for name in ("first_rank", "first_rank_reranked", "num_matches", "pid", "camid"):
        assert ours.per_query[name].tolist() == reference.per_query[name].tolist()
    assert reference.metrics["mAP"] == pytest.approx(100.0 * np.nanmean(reference.per_query["ap"]), abs=1e-9)


def test_unreadable_per_query_file_is_a_user_error(tmp_path):
    path = tmp_path / "x.queries.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="per-query"):
        load_per_query(str(path))
    np.savez(str(tmp_path / "y.npz"), ap=np.zeros(3))
    with pytest.raises(UserError, match="lacks"):
        load_per_query(str(tmp_path / "y.npz"))


def test_truncated_and_non_finite_per_query_files_are_user_errors(tmp_path):
    """Reliability issue, defect 7: a truncated file or a NaN AP gave tracebacks in leaderboard and compare."""
    columns = {"trial": np.zeros(3, dtype=np.int64), "pid": np.arange(3), "camid": np.zeros(3, dtype=np.int64),
               "ap": np.array([0.5, 1.0, np.nan]), "first_rank": np.array([1, 1, 0]),
               "num_matches": np.array([2, 1, 0])}
    good = tmp_path / "good.queries.npz"
    np.savez(str(good), **columns)
    assert mean_ap(load_per_query(str(good))) == pytest.approx(75.0)  # the NaN is a query without a match
    truncated = tmp_path / "truncated.queries.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UserError, match="per-query"):
        load_per_query(str(truncated))
    np.savez(str(tmp_path / "nan.npz"), **{**columns, "ap": np.array([np.nan, 1.0, np.nan])})
    with pytest.raises(UserError, match="non-finite AP"):
        load_per_query(str(tmp_path / "nan.npz"))
