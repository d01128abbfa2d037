"""Memory-bounded k-reciprocal re-ranking against torchreid's re_ranking."""
import warnings

import numpy as np
import pytest
import torch

import reid_bench.evaluation.reranking as reranking
from reid_bench.evaluation.ranking import evaluate_distances
from reid_bench.evaluation.reranking import RerankedDistances, evaluate_reranked, rerank_features
from whole_matrix import whole

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torchreid.reid.metrics.distance import compute_distance_matrix
    from torchreid.reid.metrics.rank import eval_market1501
    from torchreid.reid.utils.rerank import re_ranking


def torchreid_rerank(qf, gf, **kw):
    """As torchreid's engine calls it (squared Euclidean distance matrices)."""
    return re_ranking(compute_distance_matrix(qf, gf).numpy(), compute_distance_matrix(qf, qf).numpy(),
                      compute_distance_matrix(gf, gf).numpy(), **kw)


def make_case(num_q, num_g, dim, seed, num_ids=None, normalise=True):
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    num_ids = num_ids or max(2, num_g // 8)
    g_pids = rng.integers(0, num_ids, num_g)
    q_pids = rng.integers(0, num_ids, num_q)
    centers = torch.randn(num_ids, dim, generator=gen)
    qf = centers[q_pids] + 1.2 * torch.randn(num_q, dim, generator=gen)
    gf = centers[g_pids] + 1.2 * torch.randn(num_g, dim, generator=gen)
    if normalise:
        qf, gf = torch.nn.functional.normalize(qf, dim=1), torch.nn.functional.normalize(gf, dim=1)
    return qf, gf, q_pids, g_pids, rng.integers(0, 5, num_q), rng.integers(0, 5, num_g)


@pytest.mark.parametrize("seed,num_q,num_g,dim,normalise", [
    (0, 50, 300, 64, True),
    (1, 50, 300, 64, False),
    (2, 100, 450, 256, True),
])
def test_same_distances_rankings_and_metrics_as_torchreid(seed, num_q, num_g, dim, normalise):
    qf, gf, *ids = make_case(num_q, num_g, dim, seed, normalise=normalise)
    ref = torchreid_rerank(qf, gf)
    ours = rerank_features(qf, gf, chunk_size=64)
    assert isinstance(ours, RerankedDistances)
    dense = whole(ours)
    assert dense.dtype == np.float32 and dense.shape == ref.shape
    np.testing.assert_allclose(dense, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.argsort(dense, axis=1, kind="stable"), np.argsort(ref, axis=1, kind="stable"))
    cmc, mAP = eval_market1501(ref, *ids, 20)
    res = evaluate_reranked(qf, gf, *ids, chunk_size=64)
    np.testing.assert_array_equal(res.cmc, cmc)
    assert abs(res.mAP - mAP) < 1e-6
    assert res.num_valid_queries + res.num_skipped_queries == num_q


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="bit-exactness measured with MKL's sgemm")
def test_bit_identical_to_torchreid_with_mkl():
    """With MKL (torch's CPU BLAS), every distance of the block products has torchreid's bits, so the
    re-ranked matrix is bit for bit torchreid's."""
    qf, gf, *_ = make_case(70, 400, 128, 5)
    assert np.array_equal(whole(rerank_features(qf, gf)), torchreid_rerank(qf, gf))


def test_expansion_members_outside_stored_neighbours(monkeypatch):
    """No margin: many expansion members fall outside each row's stored neighbours and take the
    pair-distance path; results still equal torchreid's."""
    monkeypatch.setattr(reranking, "_MARGIN", 0)
    qf, gf, *_ = make_case(60, 350, 64, 6)
    ref = torchreid_rerank(qf, gf)
    dense = whole(rerank_features(qf, gf))
    np.testing.assert_allclose(dense, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.argsort(dense, 1, kind="stable"), np.argsort(ref, 1, kind="stable"))


@pytest.mark.parametrize("k1,k2,lam", [(5, 1, 0.5), (7, 3, 0.0), (20, 6, 1.0)])
def test_other_parameters(k1, k2, lam):
    qf, gf, *_ = make_case(40, 200, 32, 7)
    ref = torchreid_rerank(qf, gf, k1=k1, k2=k2, lambda_value=lam)
    dense = whole(rerank_features(qf, gf, k1=k1, k2=k2, lambda_value=lam))
    np.testing.assert_allclose(dense, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.argsort(dense, 1, kind="stable"), np.argsort(ref, 1, kind="stable"))


def test_chunk_size_does_not_change_results():
    qf, gf, *ids = make_case(140, 400, 32, 8)
    ref = whole(rerank_features(qf, gf, chunk_size=4096))
    for chunk in (1, 100):
        reranked = rerank_features(qf, gf, chunk_size=chunk)
        assert np.array_equal(whole(reranked), ref)
        for inner in (64, 128):  # the chunking of the re-ranked rows as well
            assert np.array_equal(np.concatenate([r for _, _, r in reranked.iter_chunks(inner)]), ref)
    base = evaluate_distances(ref, *ids)
    for chunk in (64,):
        res = evaluate_reranked(qf, gf, *ids, chunk_size=chunk)
        np.testing.assert_array_equal(res.cmc, base.cmc)
        assert res.mAP == base.mAP and res.mINP == base.mINP


def test_intersection_budget_splits_do_not_change_results():
    qf, gf, *_ = make_case(80, 300, 32, 9)
    reranked = rerank_features(qf, gf)
    ref = whole(reranked)
    reranked.pair_budget = 1  # one query row per accumulation step
    assert np.array_equal(whole(reranked), ref)
