"""Evaluate a trained model on a protocol's test split.

Re-id: features of query and gallery images from the model in eval mode (through the recipe's
test-time feature extractor; on a multi-query protocol each query's feature is the mean over its
identity's images from its camera, :func:`pool_query_features`), prepared by the test-time options
(:mod:`.test_time`: flipped images, query expansion, Euclidean or cosine distance), CMC / mAP / mINP under torchreid's market rules
(gallery entries with the query's id *and* camera are excluded), plus the same metrics after
k-reciprocal re-ranking (default k1 = 20, k2 = 6, lambda = 0.3) as a second set. Each query's AP,
first-match rank and number of true matches are kept too (:attr:`Evaluation.per_query`), so two runs
can be compared query by query (:mod:`reid_bench.results.significance`), and the CMC curve to rank 50 (the
leaderboard's CMC figure).
Two evaluators give the same numbers: ``reid_bench`` (chunked, memory-bounded, default) and
``torchreid`` (its ``compute_distance_matrix`` / ``evaluate_rank`` / ``re_ranking``, the reference).

Classification: top-1 and top-5 error of the model's eval-mode logits.
"""
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..choices import EVALUATORS
from ..errors import UserError
from ..spec import CMC_RANKS
from .test_time import TestTimeOptions

CMC_CURVE_RANKS = 50  # the record's ``evaluation.cmc`` (percent, ranks 1-50) feeds the leaderboard's CMC figure


@dataclass
class Evaluation:
    metrics: dict
    metrics_reranked: dict = None
    details: dict = field(default_factory=dict)
    #: re-id only: query ``pid`` and ``camid``, and ``ap``, ``first_rank``, ``num_matches`` (see
    #: :class:`.ranking.RetrievalResult`), plus ``ap_reranked`` and ``first_rank_reranked`` when re-ranked
    per_query: dict = None


def plain_forward(model, images):
    """The default test-time feature: one forward pass in eval mode."""
    return model(images)


def test_feature_extractor(method, recipe):
    """``fn(model, images) -> (B, D)``: the test-time features ``recipe`` asks of ``method`` (``single``, one
    forward pass, or one of the method's ``feature_extractors``, e.g. sharp_attention's ``ten_crop``)."""
    if recipe.test_features == "single":
        return plain_forward
    if recipe.test_features not in method.feature_extractors:
        raise UserError(f"recipe asks for test features {recipe.test_features!r} but {method.name} has "
                        f"only {', '.join(['single', *method.feature_extractors])}")
    return method.feature_extractors[recipe.test_features]


@torch.no_grad()
def extract_features(model, loader, extractor, device, progress=False, desc="features"):
    """``(features (N, D) float32 on the CPU, pids, camids)`` for every item of ``loader`` (a tqdm bar
    named ``desc`` with ``progress``)."""
    from tqdm import tqdm

    model.eval()
    features, pids, camids = [], [], []
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False, dynamic_ncols=True, disable=not progress):
        out = extractor(model, batch["img"].to(device))
        features.append(out.float().cpu())
        pids.append(np.asarray(batch["pid"]))
        camids.append(np.asarray(batch["camid"]))
    return torch.cat(features), np.concatenate(pids), np.concatenate(camids)


def _percent_curve(cmc):
    """The CMC curve as a list of percentages (rank 1 first)."""
    return [100.0 * float(value) for value in cmc]


def _per_query(q_pids, q_camids, result, reranked):
    columns = {"pid": np.asarray(q_pids, dtype=np.int64), "camid": np.asarray(q_camids, dtype=np.int64),
               **result.per_query}
    if reranked is not None:
        columns.update(ap_reranked=reranked.per_query["ap"], first_rank_reranked=reranked.per_query["first_rank"])
    return columns


def _torchreid_metrics(qf, gf, q_pids, g_pids, q_camids, g_camids, rerank):
    """torchreid's metrics; the per-query values come from our ranking of torchreid's own distance
    matrices (torchreid returns only the means; ours agree with them to rounding, 1e-15)."""
    from torchreid.reid.metrics import compute_distance_matrix, evaluate_rank
    from torchreid.reid.utils import re_ranking

    from .ranking import evaluate_distances, percent_metrics

    distmat = compute_distance_matrix(qf, gf, "euclidean").numpy()
    cmc, mAP = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=CMC_CURVE_RANKS)
    metrics, curve = percent_metrics(cmc, mAP, None), _percent_curve(cmc)
    result = evaluate_distances(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max(CMC_RANKS))
    reranked = reranked_result = None
    if rerank is not None:
        q_q = compute_distance_matrix(qf, qf, "euclidean").numpy()
        g_g = compute_distance_matrix(gf, gf, "euclidean").numpy()
        distmat = re_ranking(distmat, q_q, g_g, **rerank.kwargs())
        cmc, mAP = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max(CMC_RANKS))
        reranked = percent_metrics(cmc, mAP, None)
        reranked_result = evaluate_distances(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max(CMC_RANKS))
    return metrics, reranked, {"cmc": curve}, _per_query(q_pids, q_camids, result, reranked_result)


def _reid_bench_metrics(qf, gf, q_pids, g_pids, q_camids, g_camids, rerank, device, progress=False):
    from .ranking import evaluate_features
    from .reranking import evaluate_reranked

    result = evaluate_features(qf, gf, q_pids, g_pids, q_camids, g_camids, max_rank=CMC_CURVE_RANKS, device=device,
                               progress=progress)
    reranked = None
    if rerank is not None:
        reranked = evaluate_reranked(qf, gf, q_pids, g_pids, q_camids, g_camids, max_rank=max(CMC_RANKS), device=device,
                                     progress=progress, **rerank.kwargs())
    return (result.as_percentages(), None if reranked is None else reranked.as_percentages(),
            {"num_skipped_queries": result.num_skipped_queries, "cmc": _percent_curve(result.cmc)},
            _per_query(q_pids, q_camids, result, reranked))


def evaluate_reid(model, loaders, extractor, device, evaluator="reid_bench", options=None, progress=False):
    """Retrieval metrics (percent) of ``model`` on ``{"query", "gallery"}`` loaders, tested with
    ``options`` (:class:`.test_time.TestTimeOptions`; default: plain features, Euclidean distance,
    default re-ranking); ``progress`` shows bars for feature extraction, metrics and re-ranking."""
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; expected one of {', '.join(EVALUATORS)}")
    options = TestTimeOptions() if options is None else options
    start = time.perf_counter()
    extractor = options.extractor(extractor)
    qf, q_pids, q_camids, pooling = extract_query_features(model, loaders, extractor, device, progress)
    gf, g_pids, g_camids = extract_features(model, loaders["gallery"], extractor, device, progress,
                                            "gallery features")
    evaluation = evaluate_reid_features(qf, gf, q_pids, g_pids, q_camids, g_camids, evaluator, options, device,
                                        start, progress)
    if pooling is not None:
        evaluation.details["query_pooling"] = pooling
    return evaluation


def extract_query_features(model, loaders, extractor, device, progress=False):
    """``(features, pids, camids, pooling)`` of the queries: :func:`extract_features` of the ``"query"``
    loader, or on a multi-query protocol (a ``"query_pool"`` loader) the pool's features averaged per query
    (:func:`pool_query_features`); ``pooling`` is ``None`` or what the record's ``query_pooling`` says."""
    if "query_pool" not in loaders:
        return (*extract_features(model, loaders["query"], extractor, device, progress, "query features"), None)
    pf, p_pids, p_camids = extract_features(model, loaders["query_pool"], extractor, device, progress,
                                            "query pool features")
    queries = loaders["query"].dataset.data
    q_pids = np.asarray([item[1] for item in queries])
    q_camids = np.asarray([item[2] for item in queries])
    qf = pool_query_features(pf, p_pids, p_camids, q_pids, q_camids)
    return qf, q_pids, q_camids, {"mode": "mean", "pool_images": len(p_pids)}


def pool_query_features(pool_features, pool_pids, pool_camids, q_pids, q_camids):
    """Multi-query features (Market-1501's multiple-query setting, Zheng et al., ICCV 2015, Sec. 5): each
    query's feature is the mean of the features of every pool image with the query's pid *and* camera.
    ``pool_features`` is ``(P, D)``; returns ``(len(q_pids), D)``. A query with no such pool image is an
    error (the multi-query loaders put every query into its own pool)."""
    keys = {}
    for index, key in enumerate(zip(np.asarray(pool_pids).tolist(), np.asarray(pool_camids).tolist())):
        keys.setdefault(key, []).append(index)
    pooled = []
    for key in zip(np.asarray(q_pids).tolist(), np.asarray(q_camids).tolist()):
        if key not in keys:
            raise ValueError(f"query of pid {key[0]} camera {key[1]} has no image in the query pool")
        pooled.append(pool_features[keys[key]].mean(dim=0))
    return torch.stack(pooled) if pooled else pool_features[:0]


def evaluate_reid_features(qf, gf, q_pids, g_pids, q_camids, g_camids, evaluator="reid_bench", options=None,
                           device=None, start=None, progress=False):
    """Retrieval metrics (percent) of query and gallery features (float32 tensors) with their identities and
    cameras under the test-time ``options`` (their ``flip`` is the extractor's business, done before);
    ``start`` (a ``perf_counter`` time) is where ``wall_s`` counts from (default: now)."""
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; expected one of {', '.join(EVALUATORS)}")
    options = TestTimeOptions() if options is None else options
    start = time.perf_counter() if start is None else start
    qf, gf = options.prepare(qf, gf)
    if evaluator == "torchreid":
        metrics, reranked, extra, per_query = _torchreid_metrics(qf, gf, q_pids, g_pids, q_camids, g_camids,
                                                                 options.rerank)
    else:
        metrics, reranked, extra, per_query = _reid_bench_metrics(qf, gf, q_pids, g_pids, q_camids, g_camids,
                                                                  options.rerank, device, progress)
    details = {"evaluator": evaluator, "num_query": len(q_pids), "num_gallery": len(g_pids),
               "feature_dim": int(qf.shape[1]), "wall_s": time.perf_counter() - start, **extra,
               "test_time": options.describe()}
    return Evaluation(metrics, reranked, details, per_query)


@torch.no_grad()
def evaluate_classification(model, loaders, device):
    """Top-1 and top-5 error (percent) of the eval-mode logits on the ``{"test"}`` loader."""
    start = time.perf_counter()
    model.eval()
    top1 = top5 = total = 0
    for batch in loaders["test"]:
        logits = model(batch["img"].to(device)).float()
        labels = torch.as_tensor(batch["pid"], device=logits.device)
        best = logits.topk(min(5, logits.size(1)), dim=1).indices
        top1 += (best[:, 0] == labels).sum().item()
        top5 += (best == labels.unsqueeze(1)).any(dim=1).sum().item()
        total += labels.numel()
    metrics = {"top1_err": 100.0 * (1 - top1 / total), "top5_err": 100.0 * (1 - top5 / total)}
    return Evaluation(metrics, None, {"evaluator": "classification", "num_test": total,
                                      "wall_s": time.perf_counter() - start})
