"""Is a difference in mAP real? A paired bootstrap over queries (and over seeds where there are several).

Two result sets on the same protocol are aligned query by query (their per-query files,
:mod:`reid_bench.results.per_query`). The mAP of a set of runs is the mean, over its seeds, of the mean AP over
the protocol's valid queries (those with a true match in the gallery). One bootstrap replicate draws
the queries with replacement, the *same* draw for both sides (that is the pairing: a hard query is
hard for both methods, and pairing removes that shared variance), and each side's seeds with
replacement, independently (different methods' seeds are not paired); the replicate's difference is
side A's mAP minus side B's on those draws. The interval is the percentile interval of the replicates'
differences (``confidence``, default 95 %), and the estimate is the difference on the data as they are.
Replicates come from ``numpy.random.default_rng(seed)``: the same inputs and seed give the same interval.

Two identical result sets give a difference of exactly 0 and an interval ``[0, 0]``. An interval that
contains 0 means the data do not show which side is better at that confidence.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """Side A's mAP minus side B's, in percentage points, with its bootstrap interval."""

    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int
    num_queries: int
    seeds_a: int
    seeds_b: int

    @property
    def contains_zero(self):
        return self.low <= 0.0 <= self.high

    def describe(self):
        spread = f"{self.seeds_a} and {self.seeds_b} seeds, " if max(self.seeds_a, self.seeds_b) > 1 else ""
        verdict = ("the interval contains 0: no significant difference" if self.contains_zero
                   else "the interval excludes 0: a significant difference")
        return (f"{self.difference:+.2f} points, {100 * self.confidence:g}% interval [{self.low:+.2f}, "
                f"{self.high:+.2f}] (paired bootstrap over {self.num_queries} queries, {spread}{self.resamples} "
                f"resamples, seed {self.seed}); {verdict}")


def _resample_means(values, query_counts, rng, size):
    """Each replicate's mean of ``values`` (seeds x queries): seeds drawn with replacement, each weighted
    by its count, queries weighted by ``query_counts`` (replicates x queries)."""
    seeds, queries = values.shape
    seed_counts = rng.multinomial(seeds, np.full(seeds, 1.0 / seeds), size=size)
    return np.einsum("rs,sq,rq->r", seed_counts, values, query_counts) / (seeds * queries)


def paired_bootstrap(a, b, *, resamples=DEFAULT_RESAMPLES, confidence=DEFAULT_CONFIDENCE, seed=0, block=250):
    """:class:`Comparison` of ``a`` and ``b``, per-query APs as fractions, each ``(seeds, queries)`` (a
    1-D array is one seed), the same queries in the same order on both sides."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ValueError(f"both sides need the same, non-zero number of queries, got {a.shape[1]} and {b.shape[1]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("per-query values must be finite (valid queries only)")
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"expected resamples >= 1 and 0 < confidence < 1, got {resamples} and {confidence}")
    rng = np.random.default_rng(seed)
    queries = a.shape[1]
    differences = []
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        query_counts = rng.multinomial(queries, np.full(queries, 1.0 / queries), size=size)
        differences.append(_resample_means(a, query_counts, rng, size) - _resample_means(b, query_counts, rng, size))
    differences = 100.0 * np.concatenate(differences)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(differences, [tail, 1.0 - tail])
    return Comparison(difference=100.0 * (a.mean() - b.mean()), low=float(low), high=float(high),
                      confidence=confidence, resamples=resamples, seed=seed, num_queries=queries,
                      seeds_a=a.shape[0], seeds_b=b.shape[0])


def aligned_ap(sides, reranked=False):
    """Per-query AP matrices (seeds x valid queries), one per side, from per-query files' columns.

    ``sides`` is a list of sides, each a list of ``(name, columns)`` (one per seed). Every file must list
    the same queries (trial, identity, camera) in the same order with the same number of true matches:
    otherwise the runs were not tested on the same protocol and cannot be compared query by query.
    """
    name0, reference = sides[0][0]
    key = ("trial", "pid", "camid", "num_matches")
    column = "ap_reranked" if reranked else "ap"
    matrices = []
    for side in sides:
        rows = []
        for name, columns in side:
            if any(not np.array_equal(columns[k], reference[k]) for k in key):
                raise UserError(f"{name} and {name0} were not evaluated on the same queries (identity, camera "
                                "and true matches differ); per-query comparison needs the same test protocol")
            if column not in columns:
                raise UserError(f"{name} has no re-ranked per-query results (the run was not re-ranked)")
            rows.append(columns[column][reference["num_matches"] > 0])
        matrices.append(np.stack(rows))
    return matrices
