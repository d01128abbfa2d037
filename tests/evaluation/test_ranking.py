"""Chunked retrieval metrics against torchreid's evaluate_rank (Python version, market rules)."""
import warnings

import numpy as np
import pytest
import torch

from reid_bench.evaluation.ranking import RetrievalResult, evaluate_distances, evaluate_features

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torchreid.reid.metrics.distance import compute_distance_matrix
    from torchreid.reid.metrics.rank import eval_market1501


def torchreid_eval(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20):
    distmat = distmat.numpy() if isinstance(distmat, torch.Tensor) else distmat
    return eval_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)


def reference_minp(distmat, q_pids, g_pids, q_camids, g_camids, kind="quicksort"):
    """mINP straight from the definition (Ye et al.): num_correct / (1-based rank of the last one)."""
    inps = []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind=kind)
        keep = ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        hits = (g_pids[order] == q_pids[i])[keep]
        if hits.any():
            inps.append(hits.sum() / (np.flatnonzero(hits)[-1] + 1.0))
    return float(np.mean(inps))


def assert_same(ours: RetrievalResult, cmc, mAP, *, max_rank=20):
    assert ours.cmc.dtype == np.float32
    np.testing.assert_array_equal(ours.cmc, np.asarray(cmc, dtype=np.float32)[:max_rank])
    assert abs(ours.mAP - mAP) < 1e-6


def market_like(num_q, num_g, num_ids, num_cams, dim, seed, distinct_levels=None):
    rng = np.random.default_rng(seed)
    g_pids = rng.integers(0, num_ids, num_g)
    g_camids = rng.integers(0, num_cams, num_g)
    q_pids = rng.integers(0, num_ids, num_q)
    q_camids = rng.integers(0, num_cams, num_q)
    if distinct_levels is None:
        centers = rng.standard_normal((num_ids, dim)).astype(np.float32)
        qf = centers[q_pids] + 1.5 * rng.standard_normal((num_q, dim)).astype(np.float32)
        gf = centers[g_pids] + 1.5 * rng.standard_normal((num_g, dim)).astype(np.float32)
    else:  # few distinct feature values: many exactly tied distances
        qf = rng.integers(0, distinct_levels, (num_q, dim)).astype(np.float32)
        gf = rng.integers(0, distinct_levels, (num_g, dim)).astype(np.float32)
    return torch.from_numpy(qf), torch.from_numpy(gf), q_pids, g_pids, q_camids, g_camids


@pytest.mark.parametrize("seed", [0, 1])
def test_features_match_torchreid_random(seed):
    qf, gf, *ids = market_like(130, 700, 40, 6, 64, seed)
    ours = evaluate_features(qf, gf, *ids, chunk_size=64)
    dist = compute_distance_matrix(qf, gf, "euclidean")
    cmc, mAP = torchreid_eval(dist, *ids)
    assert_same(ours, cmc, mAP)
    assert abs(ours.mINP - reference_minp(dist.numpy(), *ids)) < 1e-12
    assert ours.num_valid_queries + ours.num_skipped_queries == 130


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="bit-exact chunked distances measured with MKL")
def test_random_l2_normalised_2048d_has_ties_and_matches():
    """Random unit 2048-d features (as in the benchmark): float32 distances tie often."""
    qf, gf, *ids = market_like(192, 1500, 60, 6, 2048, 3)
    qf = torch.nn.functional.normalize(torch.randn(192, 2048, generator=torch.Generator().manual_seed(3)), dim=1)
    gf = torch.nn.functional.normalize(torch.randn(1500, 2048, generator=torch.Generator().manual_seed(4)), dim=1)
    dist = compute_distance_matrix(qf, gf, "euclidean")
    cmc, mAP = torchreid_eval(dist, *ids)
    for chunk in (64, 1024):
        assert_same(evaluate_features(qf, gf, *ids, chunk_size=chunk), cmc, mAP)
    assert_same(evaluate_distances(dist, *ids), cmc, mAP)


def adversarial_case(seed=0):
    """Quantised distances (massive ties), queries without any match, queries whose only matches share
    their camera, single-match queries, and ties between correct and wrong entries."""
    rng = np.random.default_rng(seed)
    num_q, num_g = 60, 400
    g_pids = rng.integers(0, 30, num_g)
    g_camids = rng.integers(0, 4, num_g)
    q_pids = rng.integers(0, 30, num_q)
    q_camids = rng.integers(0, 4, num_q)
    q_pids[:5] = 1000 + np.arange(5)  # ids absent from the gallery
    # same-camera-only matches: ids 900.. present in the gallery only under the query's camera
    for i in range(5, 10):
        q_pids[i], q_camids[i] = 900 + i, 0
        g_pids[i * 3:(i * 3) + 3], g_camids[i * 3:(i * 3) + 3] = 900 + i, 0
    # single-match queries: ids 800.. appear exactly once in the gallery under another camera
    for i in range(10, 16):
        q_pids[i], q_camids[i] = 800 + i, 1
        g_pids[100 + i], g_camids[100 + i] = 800 + i, 2
    distmat = rng.integers(0, 6, (num_q, num_g)).astype(np.float32)  # 6 distinct values only
    distmat[20:25] = 1.0  # rows where everything ties
    return distmat, q_pids, g_pids, q_camids, g_camids


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adversarial_distances_match_torchreid_exactly(seed):
    distmat, *ids = adversarial_case(seed)
    cmc, mAP = torchreid_eval(distmat, *ids)
    ours = evaluate_distances(distmat, *ids)
    assert_same(ours, cmc, mAP)
    assert ours.num_skipped_queries == 10  # 5 absent ids + 5 same-camera-only ids
    assert ours.num_valid_queries == 50
    assert abs(ours.mINP - reference_minp(distmat, *ids)) < 1e-12
    # same through a torch tensor
    assert_same(evaluate_distances(torch.from_numpy(distmat), *ids), cmc, mAP)


def test_ties_matter_and_index_tie_break_equals_stable_sort():
    distmat, *ids = adversarial_case(0)
    # torchreid on a tie-free matrix that encodes the stable (index) order
    stable_rank = np.argsort(np.argsort(distmat, axis=1, kind="stable"), axis=1).astype(np.float32)
    cmc_s, mAP_s = torchreid_eval(stable_rank, *ids)
    ours = evaluate_distances(distmat, *ids, tie_break="index")
    assert_same(ours, cmc_s, mAP_s)
    assert abs(ours.mINP - reference_minp(distmat, *ids, kind="stable")) < 1e-12
    # where numpy's default argsort does not break these ties by index (x86 SIMD sort), the two orders
    # give other numbers: the tie-break matters and the default follows numpy, not the index
    if not np.array_equal(np.argsort(distmat, axis=1), np.argsort(distmat, axis=1, kind="stable")):
        _, mAP_default = torchreid_eval(distmat, *ids)
        assert abs(mAP_default - mAP_s) > 1e-6
        assert abs(evaluate_distances(distmat, *ids).mAP - mAP_default) < 1e-6


def test_tied_features_match_torchreid():
    qf, gf, *ids = market_like(100, 600, 25, 5, 8, 7, distinct_levels=2)
    dist = compute_distance_matrix(qf, gf, "euclidean")
    assert (dist.numpy()[:, :, None] == dist.numpy()[:, None, :5]).sum() > 1000  # plenty of ties
    cmc, mAP = torchreid_eval(dist, *ids)
    for chunk in (1, 64, 1000):
        assert_same(evaluate_features(qf, gf, *ids, chunk_size=chunk), cmc, mAP)


def test_minp_hand_computed():
    # one query, id 7, camera 0. Gallery in distance order:
    #   g0 id7 cam0 (removed: same id and camera), g1 id3, g2 id7 cam1 (hit, kept rank 1),
    #   g3 id4, g4 id5, g5 id7 cam2 (hit, kept rank 4), g6 id9
    g_pids = np.array([7, 3, 7, 4, 5, 7, 9])
    g_camids = np.array([0, 1, 1, 1, 1, 2, 1])
    distmat = np.arange(7, dtype=np.float32)[None, :]
    res = evaluate_distances(distmat, np.array([7]), g_pids, np.array([0]), g_camids, max_rank=5)
    # kept ranking: g1, g2*, g3, g4, g5*, g6 -> hits at 1-based ranks 2 and 5
    assert res.mINP == pytest.approx(2 / 5)
    assert res.mAP == pytest.approx((1 / 2 + 2 / 5) / 2)
    np.testing.assert_array_equal(res.cmc, np.array([0, 1, 1, 1, 1], dtype=np.float32))
    pct = res.as_percentages()
    assert pct["R1"] == 0.0 and pct["R5"] == 100.0 and pct["R10"] is None
    assert pct["mINP"] == pytest.approx(40.0)


def test_minp_two_queries_hand_computed():
    # query A (id 1): order g0*, g1, g2*, g3 -> hits at ranks 1 and 3 -> INP 2/3
    # query B (id 2): order g3, g2, g1*, g0 -> single hit at rank 3 -> INP 1/3
    g_pids = np.array([1, 2, 1, 3])
    g_camids = np.array([1, 1, 1, 1])
    distmat = np.array([[0.1, 0.2, 0.3, 0.4],
                        [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    res = evaluate_distances(distmat, np.array([1, 2]), g_pids, np.array([0, 0]), g_camids)
    assert res.mINP == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert res.mAP == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)
    assert len(res.cmc) == 4  # max_rank capped at the gallery size, as torchreid does


def test_chunk_size_does_not_change_results():
    qf, gf, *ids = market_like(333, 900, 50, 6, 32, 11)
    ref = evaluate_features(qf, gf, *ids, chunk_size=4096)
    dist = compute_distance_matrix(qf, gf, "euclidean")
    for chunk in (1, 63, 64, 100, 200):
        for res in (evaluate_features(qf, gf, *ids, chunk_size=chunk), evaluate_distances(dist, *ids, chunk_size=chunk)):
            np.testing.assert_array_equal(res.cmc, ref.cmc)
            assert res.mAP == ref.mAP and res.mINP == ref.mINP
            assert res.num_skipped_queries == ref.num_skipped_queries


def test_all_queries_without_match_raises():
    with pytest.raises(ValueError):
        evaluate_distances(np.zeros((2, 3), np.float32), np.array([5, 6]), np.array([1, 2, 3]),
                           np.array([0, 0]), np.array([1, 1, 1]))
