"""Test-time options (flip, cosine distance, alpha-query expansion, re-ranking parameters) on tiny galleries
whose answers are worked out by hand in the comments."""
import numpy as np
import pytest
import torch

from reid_bench.errors import UserError
from reid_bench.evaluation.evaluate import evaluate_reid, plain_forward
from reid_bench.evaluation.reranking import rerank_features
from reid_bench.evaluation.test_time import QueryExpansion, Reranking, TestTimeOptions, alpha_query_expansion
from whole_matrix import whole


class FirstRow(torch.nn.Module):
    """A "model" whose embedding of an image is its first row of the first channel: features are set by
    the test images themselves, and a horizontal flip reverses them."""

    def forward(self, images):
        return images[:, 0, 0, :]


def loaders(query, gallery):
    """``{"query", "gallery"}`` loaders (one batch each) of images whose first row is the given feature;
    items are ``(feature, pid, camid)``."""
    def batch(items):
        rows = torch.tensor([feature for feature, _, _ in items], dtype=torch.float32)
        return [{"img": rows[:, None, None, :].expand(-1, 3, 2, -1).contiguous(),
                 "pid": [pid for _, pid, _ in items], "camid": [camid for _, _, camid in items]}]

    return {"query": batch(query), "gallery": batch(gallery)}


def evaluate(query, gallery, **options):
    options.setdefault("rerank", None)
    return evaluate_reid(FirstRow(), loaders(query, gallery), plain_forward, torch.device("cpu"),
                         options=TestTimeOptions(**options))


def test_cosine_distance_ranks_by_angle():
    # query (1, 0); its match (10, 1) is far in Euclidean terms (81 + 1 = 82) but almost parallel
    # (cos 0.995), the other identity's (0.5, 0.5) is near (0.25 + 0.25 = 0.5) but at 45 degrees (cos 0.707)
    query, gallery = [([1.0, 0.0], 0, 0)], [([10.0, 1.0], 0, 1), ([0.5, 0.5], 1, 1)]
    euclidean = evaluate(query, gallery)
    assert euclidean.metrics["mAP"] == pytest.approx(50.0)  # match at rank 2: AP = 1/2
    assert euclidean.per_query["first_rank"].tolist() == [2]
    cosine = evaluate(query, gallery, distance="cosine")
    assert cosine.metrics["mAP"] == pytest.approx(100.0)
    assert cosine.per_query["first_rank"].tolist() == [1]
    assert cosine.details["test_time"] == {"flip": False, "distance": "cosine", "aqe": None, "rerank": None}


def test_flip_averages_the_mirror_image():
    # query (3, 1), its match (1, 3) (the mirror image), the other identity (3, 0).
    # Plain: distances 8 and 1, the match is second (AP 1/2). Flipped: query and match both become (2, 2),
    # the other (1.5, 1.5): distances 0 and 0.5, the match is first.
    query, gallery = [([3.0, 1.0], 0, 0)], [([1.0, 3.0], 0, 1), ([3.0, 0.0], 1, 1)]
    assert evaluate(query, gallery).metrics["mAP"] == pytest.approx(50.0)
    flipped = evaluate(query, gallery, flip=True)
    assert flipped.metrics["mAP"] == pytest.approx(100.0)
    assert flipped.details["test_time"]["flip"] is True
    features = TestTimeOptions(flip=True).extractor(plain_forward)(FirstRow(), loaders(query, query)["query"][0]["img"])
    assert features.tolist() == [[2.0, 2.0]]


def test_query_expansion_by_hand():
    # features q = (1, 0), a = (0, 2), b = (3, 4); unit vectors (1, 0), (0, 1), (0.6, 0.8), so
    # cos(q, a) = 0, cos(q, b) = 0.6, cos(a, b) = 0.8. With k = 2 each feature averages itself (cos 1) and
    # its nearest other, weighted by cos^3:
    #   q' = ((1, 0) + 0.216 (3, 4)) / 2 = (0.824, 0.432)
    #   a' = ((0, 2) + 0.512 (3, 4)) / 2 = (0.768, 2.024)
    #   b' = ((3, 4) + 0.512 (0, 2)) / 2 = (1.5, 2.512)
    qf, gf = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0], [3.0, 4.0]])
    q, g = alpha_query_expansion(qf, gf, k=2, alpha=3.0, times=1)
    assert np.allclose(q.numpy(), [[0.824, 0.432]], atol=1e-6)
    assert np.allclose(g.numpy(), [[0.768, 2.024], [1.5, 2.512]], atol=1e-6)


def fast_reid_aqe(qf, gf, k, alpha, times):
    """fast-reid's formula, one feature at a time: the k most cosine-similar features of the joint set
    (itself first), their raw vectors weighted by similarity ** alpha, averaged; ``times`` rounds."""
    features = np.concatenate([qf, gf]).astype(np.float64)
    for _ in range(times):
        unit = features / np.linalg.norm(features, axis=1, keepdims=True)
        new = np.empty_like(features)
        for i in range(len(features)):
            sims = unit @ unit[i]
            top = np.argsort(-sims, kind="stable")[:k]
            new[i] = (features[top] * sims[top, None] ** alpha).mean(axis=0)
        features = new
    return features[:len(qf)], features[len(qf):]


@pytest.mark.parametrize("k,alpha,times", [(5, 3.0, 1), (3, 1.0, 2), (1, 3.0, 1)])
def test_query_expansion_matches_fast_reid_formula(k, alpha, times):
    generator = torch.Generator().manual_seed(k)
    qf, gf = torch.randn(7, 16, generator=generator).abs(), torch.randn(11, 16, generator=generator).abs()
    q, g = alpha_query_expansion(qf, gf, k=k, alpha=alpha, times=times, chunk_size=4)
    q_ref, g_ref = fast_reid_aqe(qf.numpy(), gf.numpy(), k, alpha, times)
    assert np.allclose(q.numpy(), q_ref, atol=1e-5) and np.allclose(g.numpy(), g_ref, atol=1e-5)
    if k == 1:  # only itself: the features are unchanged
        assert np.allclose(q.numpy(), qf.numpy(), atol=1e-6)


def test_query_expansion_is_applied_and_stated():
    query, gallery = [([1.0, 0.0], 0, 0)], [([10.0, 1.0], 0, 1), ([0.5, 0.5], 1, 1)]
    expanded = evaluate(query, gallery, aqe=QueryExpansion(k=2, alpha=3.0, times=1))
    assert expanded.details["test_time"]["aqe"] == {"k": 2, "alpha": 3.0, "times": 1}
    # the query's nearest by angle is its match (cos 0.995): expansion pulls it to (5.42, 0.49), past
    # the other identity's expanded feature, so the match comes first
    assert expanded.per_query["first_rank"].tolist() == [1]


def rerank_case():
    """1-D features: queries 0 and 10, gallery 0.1 (query 0's match), 10.1 (query 1's) and 50 (a stray).

    torchreid squares the squared Euclidean distances it is given (d^4) and divides each row by its
    maximum. With k1 = 1 the k-reciprocal set of a point is itself and its nearest neighbour when that
    neighbour's nearest is the point (0 <-> 0.1, 10 <-> 10.1; 50 has none), with equal weights (their
    distance is ~1e-8 of the row's maximum), so the Jaccard distance is 0 within a pair and 1 across.
    Row of query 0: d^4 to 10.1 is 10406.0401, to 50 is 6.25e6 (the maximum), so the re-ranked distances
    are (1 - lambda) * jaccard + lambda * d^4 / 6.25e6:
      to 0.1: ~0; to 10.1: (1 - lambda) + lambda * 0.00166497; to 50: 1.
    """
    return torch.tensor([[0.0], [10.0]]), torch.tensor([[0.1], [10.1], [50.0]])


@pytest.mark.parametrize("lambda_value", [0.3, 0.8])
def test_reranking_lambda_and_k1_by_hand(lambda_value):
    qf, gf = rerank_case()
    rerank = Reranking(k1=1, k2=1, lambda_value=lambda_value)
    distances = whole(rerank_features(qf, gf, **rerank.kwargs()))
    assert distances[0].tolist() == pytest.approx(
        [0.0, (1 - lambda_value) + lambda_value * 10406.0401 / 6.25e6, 1.0], abs=1e-6)


def test_reranking_k2_by_hand():
    # k2 = 2 replaces each point's weights by the mean of its own and its nearest neighbour's. The pairs'
    # sets are the same for both members, so nothing changes, except the stray 50, whose nearest is 10.1:
    # its set becomes half {50} and half the pair {10, 10.1}; query 1 = 10 now shares 1/2 of its mass
    # with 50: temp_min = min(1/2, 1/4) over 10 and 10.1 = 1/2, Jaccard = 1 - (1/2) / (2 - 1/2) = 2/3.
    qf, gf = rerank_case()
    lambda_value = 0.3
    k2 = whole(rerank_features(qf, gf, **Reranking(k1=1, k2=2, lambda_value=lambda_value).kwargs()))
    # 50 is query 1's farthest point, so its normalised original distance is 1
    assert k2[1, 2] == pytest.approx((1 - lambda_value) * 2 / 3 + lambda_value * 1.0, abs=1e-6)
    k1 = whole(rerank_features(qf, gf, **Reranking(k1=1, k2=1, lambda_value=lambda_value).kwargs()))
    assert k1[1, 2] == pytest.approx(1.0, abs=1e-6)


def test_reranking_options_reach_the_evaluation():
    qf, gf = rerank_case()
    query = [(qf[0].tolist() + [0.0], 0, 0), (qf[1].tolist() + [0.0], 1, 0)]
    gallery = [(gf[i].tolist() + [0.0], pid, 1) for i, pid in enumerate([0, 1, 2])]
    result = evaluate(query, gallery, rerank=Reranking(k1=1, k2=2, lambda_value=0.3))
    assert result.details["test_time"]["rerank"] == {"k1": 1, "k2": 2, "lambda": 0.3}
    assert result.metrics_reranked["mAP"] == pytest.approx(100.0)
    assert result.per_query["first_rank_reranked"].tolist() == [1, 1]


@pytest.mark.parametrize("options", [dict(distance="manhattan"), dict(aqe=QueryExpansion(k=0)),
                                     dict(rerank=Reranking(lambda_value=1.5))])
def test_bad_options_are_user_errors(options):
    with pytest.raises(UserError):
        TestTimeOptions(**options)


@pytest.mark.parametrize("extra, expected", [
    (["--rerank", "--rerank-lambda", "1.5"], "0 <= lambda <= 1"),
    (["--aqe", "--aqe-alpha", "-1"], "alpha >= 0"),
    (["--distance", "manhattan"], "invalid choice"),
    (["--aqe-k", "0"], "expected a whole number of at least 1"),
    (["--aqe-k", "3"], "--aqe-k given without --aqe"),
    (["--rerank-k2", "3"], "--rerank-k2 given without --rerank"),
    (["--no-rerank", "--rerank-k2", "3"], "--rerank-k2 given without --rerank"),
    (["--rerank", "--no-rerank"], "not allowed with argument"),
])
def test_bad_options_on_the_command_line(tmp_path, capsys, extra, expected):
    from reid_bench.cli import main

    args = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--output", str(tmp_path), *extra]
    try:  # refused while parsing (SystemExit 2) or when the options are checked (status 2)
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err


class Items(torch.utils.data.Dataset):
    """``(feature, pid, camid, dsetid)`` items served as images whose first row is the feature (the shape
    of a :class:`reid_bench.data.loaders.ReidImageDataset`, ``.data`` included)."""

    def __init__(self, items):
        self.data = items

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        feature, pid, camid, _ = self.data[index]
        row = torch.tensor(feature, dtype=torch.float32)
        return {"img": row[None, None, :].expand(3, 2, -1).contiguous(), "pid": pid, "camid": camid}


def test_multi_query_pools_the_mean_feature_of_each_querys_id_and_camera():
    # pid 1 camera 0 pools (0, 0), (2, 0), (4, 0) -> (2, 0); pid 2 camera 1 pools (0, 3) and (0, 5) -> (0, 4).
    # Gallery: pid 1 at (2.5, 0) and pid 2 at (0, 0.5), both from camera 2. Pooled, each query's match is
    # first (distances 0.25 vs 4.25 and 12.25); with single queries (0, 0) and (0, 3) the pid 1 query
    # would rank pid 2's (0, 0.5) first (0.25 < 6.25): AP 1/2.
    query = [((0.0, 0.0), 1, 0, 0), ((0.0, 3.0), 2, 1, 0)]
    pool = [*query, ((2.0, 0.0), 1, 0, 0), ((4.0, 0.0), 1, 0, 0), ((0.0, 5.0), 2, 1, 0),
            ((9.0, 9.0), 1, 1, 0)]  # pid 1 from camera 1: another camera, not pooled into the camera-0 query
    gallery = [((2.5, 0.0), 1, 2, 0), ((0.0, 0.5), 2, 2, 0)]
    loaders = {name: torch.utils.data.DataLoader(Items(items), batch_size=2)
               for name, items in (("query", query), ("query_pool", pool), ("gallery", gallery))}
    options = TestTimeOptions(rerank=None)
    pooled = evaluate_reid(FirstRow(), loaders, plain_forward, torch.device("cpu"), options=options)
    assert pooled.metrics["mAP"] == pytest.approx(100.0)
    assert pooled.details["query_pooling"] == {"mode": "mean", "pool_images": 6}
    del loaders["query_pool"]
    single = evaluate_reid(FirstRow(), loaders, plain_forward, torch.device("cpu"), options=options)
    assert single.per_query["ap"].tolist() == pytest.approx([0.5, 1.0])


def test_pool_query_features_means_over_the_pid_and_camera():
    from reid_bench.evaluation.evaluate import pool_query_features

    features = torch.tensor([[1.0, 2.0], [3.0, 6.0], [10.0, 10.0], [5.0, 5.0]])
    pooled = pool_query_features(features, [7, 7, 7, 8], [0, 0, 1, 0], [8, 7, 7], [0, 0, 1])
    assert pooled.tolist() == [[5.0, 5.0], [2.0, 4.0], [10.0, 10.0]]
    with pytest.raises(ValueError, match="pid 9 camera 0"):
        pool_query_features(features, [7, 7, 7, 8], [0, 0, 1, 0], [9], [0])
