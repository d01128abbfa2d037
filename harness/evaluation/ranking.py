"""Exact retrieval metrics (CMC, mAP, mINP) computed in query chunks.

Rules are torchreid's ``eval_market1501`` (what ``torchreid.reid.metrics.evaluate_rank`` runs):

* gallery entries with the query's id *and* the query's camera are removed from that query's ranking;
* a query with no remaining gallery entry of its id is skipped (and counted in
  ``num_skipped_queries``);
* CMC is the fraction of valid queries whose first correct match is within rank k (float32, computed
  exactly as torchreid does), AP is the mean over the correct matches of precision-at-the-match,
  mAP the mean of AP over valid queries;
* mINP (Ye et al., "Deep Learning for Person Re-identification: A Survey and Outlook", 2021) is the
  mean over valid queries of ``num_correct / (rank of the last correct match)``. torchreid 1.4.0 does
  not compute it; the value here is the usual definition from the AGW reference code.

How it scales. Distances are computed chunk by chunk (``chunk x gallery`` at a time, with the same
formula and the same BLAS call as torchreid's ``compute_distance_matrix(..., 'euclidean')``, the
squared Euclidean distance), so peak memory is set by the chunk size, not by ``query x gallery``. A
metric only needs the rank of every correct match among the kept gallery entries, never the full
ranking: for each chunk the rows are sorted by value only (``np.sort``, several threads; about 5x
cheaper than ``np.argsort``) and the number of gallery entries strictly below / equal to each correct
match's distance is read off with a binary search. Entries of the query's id (kept or removed) are
counted separately, which gives every correct match's rank among the kept entries exactly.

Ties. torchreid ranks with ``np.argsort(distmat, axis=1)`` (default kind). That sort is not stable:
numpy >= 1.25 uses a SIMD quicksort on x86 (checked: even a 10-element row with ties is not returned in
index order), so which of two equal distances comes first is an implementation detail of numpy. Ties
only change a metric when a correct match and a wrong (kept) entry have *exactly* the same distance;
with float32 distances this is common (about a third of the queries at Market scale with random
2048-d features). Such rows are detected exactly (counts of equal values) and, with
``tie_break="torchreid"`` (the default), ranked with the very same ``np.argsort`` call on the very
same float32 row, which reproduces torchreid's result bit for bit on the same numpy. Rows without
such ties give the same metrics under any tie order and take the fast path. ``tie_break="index"``
instead breaks ties by gallery index (what a stable sort does), without any argsort.

Bit-exact distances. MKL's sgemm returns, for a given element, the same bits whatever the number of
rows of the call, as long as the calls' row blocks start at the same offsets modulo 64 and are not
tiny (measured: chunks of 1000 rows out of 3001, or a trailing call of 2 rows, differ in the last
bits). Chunks therefore start at multiples of 64 query rows (``chunk_size`` is rounded up to a
multiple of 64) and a last piece shorter than 64 rows joins the previous chunk. Our distances, and so
all results including the tie handling, are then identical to those from torchreid's full matrix and
independent of the chunk size. (With another BLAS the distances may differ in the last bit from
torchreid's, which can move exactly tied entries; metrics still agree to float rounding otherwise.)

Cost. Per chunk: the distance GEMM, one value sort of every row, and an ``np.argsort`` of the rows
with a correct match tied to a wrong entry (when more than half of the rows of a chunk needed one, the
next chunk argsorts all its rows directly).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple, Union

import numpy as np
import torch

from ..spec import CMC_RANKS

__all__ = [
    "RetrievalResult",
    "evaluate_features",
    "evaluate_distances",
    "iter_distance_chunks",
    "euclidean_squared_distance",
    "aligned_chunk_size",
    "chunk_bounds",
    "TIE_BREAKS",
]

TIE_BREAKS = ("torchreid", "index")
ROW_ALIGN = 64

DeviceLike = Union[str, torch.device, None]


@dataclass
class RetrievalResult:
    """Retrieval metrics; fractions in ``[0, 1]`` like torchreid's ``evaluate_rank``."""

    cmc: np.ndarray
    mAP: float
    mINP: float
    num_valid_queries: int
    num_skipped_queries: int
    #: per query, in query order: ``ap`` (NaN for a skipped query), ``first_rank`` (1-based rank of the
    #: first correct match among the kept gallery entries; 0 when skipped), ``num_matches`` (correct
    #: matches kept; 0 when skipped). ``mAP`` is the mean of ``ap`` over queries with ``num_matches > 0``.
    per_query: Optional[dict] = None

    def as_percentages(self) -> dict:
        """The record's metrics in percent (:func:`percent_metrics`)."""
        return percent_metrics(self.cmc, self.mAP, self.mINP)


def percent_metrics(cmc, mAP, mINP=None) -> dict:
    """``{"mAP", "mINP", "R<k>" for k in CMC_RANKS}`` (:data:`reid_bench.spec.CMC_RANKS`) in percent; an
    ``R<k>`` beyond the CMC's length (``max_rank < k`` or fewer gallery entries than k) is ``None``, and so
    is ``mINP`` where the evaluator has none."""
    metrics = {"mAP": 100.0 * float(mAP), "mINP": None if mINP is None else 100.0 * float(mINP)}
    for rank in CMC_RANKS:
        metrics[f"R{rank}"] = 100.0 * float(cmc[rank - 1]) if len(cmc) >= rank else None
    return metrics


# ----------------------------------------------------------------------------------------------
# small utilities

_EXECUTOR = None


def _num_threads() -> int:
    return max(1, torch.get_num_threads())


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="reid_bench_eval")
    return _EXECUTOR


def _parallel_rows(fn, n_rows: int, min_rows: int = 16):
    """Run ``fn(start, stop)`` over row ranges, in parallel threads (numpy's sorts release the GIL)."""
    threads = _num_threads()
    if threads <= 1 or n_rows < 2 * min_rows:
        return [fn(0, n_rows)]
    parts = min(threads * 2, max(1, n_rows // min_rows))
    bounds = np.linspace(0, n_rows, parts + 1).astype(np.int64)
    futures = [_executor().submit(fn, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    return [f.result() for f in futures]


def aligned_chunk_size(chunk_size: int) -> int:
    """``chunk_size`` rounded up to a multiple of 64 rows (see the module docstring)."""
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return ((chunk_size + ROW_ALIGN - 1) // ROW_ALIGN) * ROW_ALIGN


def chunk_bounds(n: int, chunk_size: int) -> list:
    """``[(start, stop), ...]`` covering ``range(n)``: starts at multiples of the aligned chunk size, and a
    last piece shorter than 64 rows joins the previous chunk (MKL runs small calls through other code
    paths, whose results can differ in the last bit from those of the full matrix)."""
    step = aligned_chunk_size(chunk_size)
    bounds = [[s, min(s + step, n)] for s in range(0, n, step)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < ROW_ALIGN:
        last = bounds.pop()
        bounds[-1][1] = last[1]
    return [tuple(b) for b in bounds]


def _as_int_array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _resolve_device(device: DeviceLike, *tensors) -> torch.device:
    if device is not None:
        return torch.device(device)
    for t in tensors:
        if isinstance(t, torch.Tensor):
            return t.device
    return torch.device("cpu")


def _as_features(x, device: torch.device) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.detach()
    if t.dim() != 2:
        raise ValueError(f"features must be 2-D, got shape {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t.to(device).contiguous()


class Workspace:
    """A reusable flat buffer handing out contiguous views (fresh multi-hundred-MB tensors cost about
    0.1 s of page faults each on the CPU)."""

    def __init__(self):
        self._buf = None

    def get(self, shape, dtype=torch.float32, device=None) -> torch.Tensor:
        numel = int(np.prod(shape))
        device = torch.device(device or "cpu")
        if self._buf is None or self._buf.numel() < numel or self._buf.dtype != dtype or self._buf.device != device:
            self._buf = None
            self._buf = torch.empty(numel, dtype=dtype, device=device)
        return self._buf[:numel].view(*shape)


def euclidean_squared_distance(x: torch.Tensor, y: torch.Tensor, y_sqnorm: Optional[torch.Tensor] = None,
                               out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Exactly torchreid's ``euclidean_squared_distance`` (same operations, same BLAS call); ``y_sqnorm``
    (``torch.pow(y, 2).sum(dim=1)``) may be passed in to avoid recomputing it for every chunk, and
    ``out`` (contiguous, ``(len(x), len(y))``) to write into an existing buffer."""
    if y_sqnorm is None:
        y_sqnorm = torch.pow(y, 2).sum(dim=1)
    x_sqnorm = torch.pow(x, 2).sum(dim=1, keepdim=True)
    if out is None:
        dist = x_sqnorm + y_sqnorm.unsqueeze(0)
    else:
        dist = torch.add(x_sqnorm, y_sqnorm.unsqueeze(0), out=out)
    dist.addmm_(x, y.t(), beta=1, alpha=-2)
    return dist


def iter_distance_chunks(qf, gf, chunk_size: int = 1024, device: DeviceLike = None,
                         reuse_buffer: bool = False) -> Iterator[Tuple[int, int, torch.Tensor]]:
    """Yield ``(start, stop, dist[start:stop])`` of the query x gallery squared Euclidean distance,
    ``chunk_size`` (rounded up to a multiple of 64) query rows at a time, on ``device``. With
    ``reuse_buffer`` every chunk is written into the same buffer (a chunk is then only valid until
    the next one is produced)."""
    dev = _resolve_device(device, qf, gf)
    q = _as_features(qf, dev)
    g = _as_features(gf, dev)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"feature dimensions differ: {q.shape[1]} vs {g.shape[1]}")
    if q.dtype != g.dtype:
        q, g = q.float(), g.float()
    g_sqnorm = torch.pow(g, 2).sum(dim=1)
    ws = Workspace() if reuse_buffer else None
    with torch.no_grad():
        for start, stop in chunk_bounds(q.shape[0], chunk_size):
            out = None if ws is None else ws.get((stop - start, g.shape[0]), q.dtype, dev)
            yield start, stop, euclidean_squared_distance(q[start:stop], g, g_sqnorm, out=out)


# ----------------------------------------------------------------------------------------------
# the metric accumulator


def _count_below(dist: torch.Tensor, rows: np.ndarray, thresholds: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For every ``r`` and threshold ``t = thresholds[r, k]``: the number of entries of ``dist[rows[r]]``
    strictly below ``t`` and at most ``t`` (two ``(len(rows), P)`` int64 arrays). The rows are sorted
    by value (no indices): ``np.sort`` in threads on the CPU, ``torch.sort`` elsewhere."""
    if dist.device.type != "cpu":
        srt = torch.sort(dist[torch.from_numpy(rows).to(dist.device)], dim=1).values
        t = torch.from_numpy(thresholds).to(dist.device)
        lt = torch.searchsorted(srt, t, side="left").cpu().numpy()
        le = torch.searchsorted(srt, t, side="right").cpu().numpy()
        return lt, le
    a = dist.numpy()
    lt = np.empty(thresholds.shape, dtype=np.int64)
    le = np.empty(thresholds.shape, dtype=np.int64)

    def work(lo, hi):
        for b in range(lo, hi, 64):
            e = min(hi, b + 64)
            srt = np.sort(a[rows[b:e]], axis=1)
            for r in range(e - b):
                lt[b + r] = np.searchsorted(srt[r], thresholds[b + r], side="left")
                le[b + r] = np.searchsorted(srt[r], thresholds[b + r], side="right")

    _parallel_rows(work, len(rows))
    return lt, le


class _MarketAccumulator:
    """Collects per-query first-hit rank, AP and INP chunk by chunk."""

    def __init__(self, q_pids, g_pids, q_camids, g_camids, max_rank: int, tie_break: str):
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        self.q_pids = _as_int_array(q_pids, "q_pids")
        self.g_pids = _as_int_array(g_pids, "g_pids")
        self.q_camids = _as_int_array(q_camids, "q_camids")
        self.g_camids = _as_int_array(g_camids, "g_camids")
        if len(self.q_pids) != len(self.q_camids) or len(self.g_pids) != len(self.g_camids):
            raise ValueError("pids and camids must have the same length")
        self.num_q, self.num_g = len(self.q_pids), len(self.g_pids)
        if self.num_g < max_rank:
            max_rank = self.num_g  # as torchreid does
        self.max_rank = int(max_rank)
        self.tie_break = tie_break
        order = np.argsort(self.g_pids, kind="stable")
        self.g_order = order
        self.uniq, self.group_start, self.group_count = np.unique(self.g_pids[order], return_index=True, return_counts=True)
        self.first = np.full(self.num_q, -1, dtype=np.int64)
        self.ap = np.zeros(self.num_q, dtype=np.float64)
        self.inp = np.zeros(self.num_q, dtype=np.float64)
        self.num_matches = np.zeros(self.num_q, dtype=np.int64)
        self.seen = np.zeros(self.num_q, dtype=bool)
        self._argsort_everything = False  # adaptive: most rows need argsort anyway
        self.num_tie_rows = 0

    # -- per chunk -------------------------------------------------------------------------------
    def add(self, start: int, dist) -> None:
        if isinstance(dist, np.ndarray):
            dist = torch.from_numpy(np.ascontiguousarray(dist))
        elif not isinstance(dist, torch.Tensor):
            dist = torch.as_tensor(np.asarray(dist))
        if dist.dim() != 2 or dist.shape[1] != self.num_g:
            raise ValueError(f"distance chunk must be (n, {self.num_g}), got {tuple(dist.shape)}")
        n = dist.shape[0]
        stop = start + n
        if stop > self.num_q:
            raise ValueError("distance chunk goes past the last query")
        self.seen[start:stop] = True
        qp = self.q_pids[start:stop]
        qc = self.q_camids[start:stop]

        # gallery entries of each query's id (kept or removed), in gallery-index order
        pos = np.searchsorted(self.uniq, qp)
        pos_c = np.minimum(pos, len(self.uniq) - 1)
        has = (pos < len(self.uniq)) & (self.uniq[pos_c] == qp) if len(self.uniq) else np.zeros(n, bool)
        cnt = np.where(has, self.group_count[pos_c] if len(self.uniq) else 0, 0)
        if n == 0 or cnt.max(initial=0) == 0:
            return
        P = int(cnt.max())
        ar = np.arange(P)
        real = ar[None, :] < cnt[:, None]
        gidx = self.g_order[np.where(real, self.group_start[pos_c][:, None] + ar[None, :], 0)]
        valid = real & (self.g_camids[gidx] != qc[:, None])
        nvalid = valid.sum(1)
        rows = np.flatnonzero(nvalid > 0)
        if len(rows) == 0:
            return
        if len(rows) != n:  # rows of the chunk with a correct match; the others are skipped
            gidx, real, valid, nvalid = gidx[rows], real[rows], valid[rows], nvalid[rows]
        qrows = start + rows
        dist = dist.contiguous()

        ranks = np.zeros((len(rows), P), dtype=np.int64)  # kept rank of the m-th correct match (sorted)
        if self.tie_break == "torchreid" and self._argsort_everything and dist.device.type == "cpu":
            tie_rows = np.arange(len(rows))
        else:
            tie_rows = self._fast_ranks(dist, rows, gidx, real, valid, nvalid, ranks)
            if self.tie_break == "torchreid":
                self._argsort_everything = len(tie_rows) > 0.5 * len(rows)
        if len(tie_rows):
            self.num_tie_rows += len(tie_rows)
            self._argsort_ranks(dist, rows, tie_rows, gidx, real, valid, nvalid, ranks)

        m = np.arange(P)
        vmask = m[None, :] < nvalid[:, None]
        prec = np.where(vmask, (m[None, :] + 1.0) / (ranks + 1.0), 0.0)
        self.ap[qrows] = prec.sum(1) / nvalid
        self.first[qrows] = ranks[:, 0]
        self.num_matches[qrows] = nvalid
        last = ranks[np.arange(len(rows)), nvalid - 1]
        self.inp[qrows] = nvalid / (last + 1.0)

    def _fast_ranks(self, dist, rows, gidx, real, valid, nvalid, ranks) -> np.ndarray:
        """Fill ``ranks`` for the rows whose correct matches tie with no wrong entry (all rows with
        ``tie_break="index"``); return the indices (into ``rows``) of the other rows."""
        if dist.device.type == "cpu":
            tv = dist.numpy()[rows[:, None], gidx]
        else:
            dev = dist.device
            tv = dist[torch.from_numpy(rows).to(dev)[:, None], torch.from_numpy(gidx).to(dev)].cpu().numpy()
        inf = np.array(np.inf, dtype=tv.dtype)
        tv_real = np.where(real, tv, inf)
        lt, le = _count_below(dist, rows, tv_real)
        # entries of the query's id strictly below / equal to each one (P x P per row, small)
        n, P = tv_real.shape
        same_lt = np.empty((n, P), dtype=np.int64)
        same_eq = np.empty((n, P), dtype=np.int64)
        block = max(1, (1 << 22) // max(1, P * P))
        for a in range(0, n, block):
            t = tv_real[a:a + block]
            r = real[a:a + block][:, None, :]
            same_lt[a:a + block] = ((t[:, None, :] < t[:, :, None]) & r).sum(2)
            same_eq[a:a + block] = ((t[:, None, :] == t[:, :, None]) & r).sum(2)
        neg_lt = lt - same_lt
        neg_eq = (le - lt) - same_eq
        tied = valid & (neg_eq > 0)
        tie_rows = np.flatnonzero(tied.any(1))
        # correct matches in (distance, gallery index) order; members are listed in index order
        perm = np.argsort(np.where(valid, tv, inf), axis=1, kind="stable")
        neg_before = np.take_along_axis(neg_lt, perm, axis=1)
        if self.tie_break == "index" and len(tie_rows):
            extra = self._equal_negatives_before(dist, rows, gidx, real, tie_rows, tied)
            neg_before += np.take_along_axis(extra, perm, axis=1)
            tie_rows = tie_rows[:0]
        ranks[:] = neg_before + np.arange(P)[None, :]
        return tie_rows

    def _equal_negatives_before(self, dist, rows, gidx, real, tie_rows, tied) -> np.ndarray:
        """For ``tie_break="index"``: number of wrong entries with exactly the same distance as a
        correct match and a smaller gallery index."""
        extra = np.zeros(gidx.shape, dtype=np.int64)
        for r in tie_rows:
            row = dist[int(rows[r])].cpu().numpy()
            same_set = np.zeros(self.num_g, dtype=bool)
            same_set[gidx[r][real[r]]] = True
            for k in np.flatnonzero(tied[r]):
                p = gidx[r, k]
                eq = np.flatnonzero(row == row[p])
                eq = eq[~same_set[eq]]
                extra[r, k] = int((eq < p).sum())
        return extra

    def _argsort_ranks(self, dist, rows, tie_rows, gidx, real, valid, nvalid, ranks) -> None:
        """Exact torchreid ranking for ``tie_rows``: ``np.argsort(row)`` with numpy's default kind, as
        ``eval_market1501`` does, then the kept rank of every correct match."""
        d = dist.cpu().numpy() if dist.device.type != "cpu" else dist.numpy()
        G = self.num_g
        batch = max(1, min(64, (1 << 22) // max(1, G)))
        arange_g = np.arange(G, dtype=np.int64)[None, :]

        def work(lo, hi):
            for a in range(lo, hi, batch):
                sel = tie_rows[a:min(hi, a + batch)]
                order = np.argsort(d[rows[sel]], axis=1)
                inv = np.empty(order.shape, dtype=np.int64)
                np.put_along_axis(inv, order, np.broadcast_to(arange_g, order.shape), axis=1)
                pos = np.take_along_axis(inv, gidx[sel], axis=1)  # position of each same-id entry
                removed = real[sel] & ~valid[sel]
                before = ((pos[:, None, :] < pos[:, :, None]) & removed[:, None, :]).sum(2)
                kept = np.where(valid[sel], pos - before, np.iinfo(np.int64).max)
                ranks[sel] = np.sort(kept, axis=1)

        _parallel_rows(work, len(tie_rows), min_rows=4)

    # -- result ----------------------------------------------------------------------------------
    def result(self) -> RetrievalResult:
        if not self.seen.all():
            raise RuntimeError("not every query row was evaluated")
        valid = self.first >= 0
        num_valid = int(valid.sum())
        if num_valid == 0:
            raise ValueError("Error: all query identities do not appear in gallery")
        counts = np.bincount(np.minimum(self.first[valid], self.max_rank), minlength=self.max_rank + 1)[:self.max_rank]
        hits = np.cumsum(counts).astype(np.float32)
        cmc = hits / float(num_valid)  # float32 / Python float, exactly torchreid's operation
        return RetrievalResult(
            cmc=cmc,
            mAP=float(np.mean(self.ap[valid])),
            mINP=float(np.mean(self.inp[valid])),
            num_valid_queries=num_valid,
            num_skipped_queries=self.num_q - num_valid,
            per_query={"ap": np.where(valid, self.ap, np.nan), "first_rank": np.where(valid, self.first + 1, 0),
                       "num_matches": self.num_matches.copy()},
        )


# ----------------------------------------------------------------------------------------------
# public entry points


def evaluate_features(qf, gf, q_pids, g_pids, q_camids, g_camids, *, max_rank: int = 20, chunk_size: int = 1024,
                      device: DeviceLike = None, tie_break: str = "torchreid", progress: bool = False) -> RetrievalResult:
    """CMC / mAP / mINP of query features ``qf`` (q, d) against gallery features ``gf`` (g, d).

    The distance is torchreid's ``compute_distance_matrix(qf, gf, 'euclidean')`` (squared Euclidean),
    computed ``chunk_size`` query rows at a time on ``device`` (default: the features' device); peak
    memory is about ``3 * chunk_size * g * 4`` bytes on top of the features. Results equal
    ``torchreid.reid.metrics.evaluate_rank`` (Python version, ``use_metric_cuhk03=False``) on
    ``compute_distance_matrix(qf, gf)``: CMC bit for bit, mAP to rounding (1e-15). ``progress``: a tqdm
    bar over the query chunks.
    """
    acc = _MarketAccumulator(q_pids, g_pids, q_camids, g_camids, max_rank, tie_break)
    if isinstance(qf, torch.Tensor) or isinstance(qf, np.ndarray):
        if len(qf) != acc.num_q or len(gf) != acc.num_g:
            raise ValueError("features and pids/camids disagree in length")
    chunks = iter_distance_chunks(qf, gf, chunk_size, device, reuse_buffer=True)
    for start, _, dist in _progress(chunks, acc.num_q, chunk_size, "metrics", progress):
        acc.add(start, dist)
    return acc.result()


def _progress(chunks, num_rows: int, chunk_size: int, desc: str, enabled: bool):
    """``chunks`` (an iterator over query-row chunks) behind a tqdm bar counting them, when ``enabled``."""
    from tqdm import tqdm

    return tqdm(chunks, total=len(chunk_bounds(num_rows, chunk_size)), desc=desc, unit="chunk", leave=False,
                dynamic_ncols=True, disable=not enabled)


def evaluate_distances(distmat, q_pids, g_pids, q_camids, g_camids, *, max_rank: int = 20, chunk_size: int = 1024,
                       tie_break: str = "torchreid", progress: bool = False) -> RetrievalResult:
    """The same metrics from a distance matrix: a ``(q, g)`` numpy array or tensor (any device), or an
    object with ``iter_chunks(chunk_size)`` yielding ``(start, stop, rows)`` such as the
    :class:`~reid_bench.evaluation.reranking.RerankedDistances` from ``rerank_features`` (``progress``: a
    tqdm bar over its chunks, which is where re-ranking spends most of its time)."""
    acc = _MarketAccumulator(q_pids, g_pids, q_camids, g_camids, max_rank, tie_break)
    if hasattr(distmat, "iter_chunks"):
        for start, _, rows in _progress(distmat.iter_chunks(chunk_size), acc.num_q, chunk_size, "re-ranking",
                                        progress):
            acc.add(start, rows)
        return acc.result()
    if not isinstance(distmat, (np.ndarray, torch.Tensor)):
        distmat = np.asarray(distmat)
    if distmat.ndim != 2 or distmat.shape != (acc.num_q, acc.num_g):
        raise ValueError(f"distmat must be ({acc.num_q}, {acc.num_g}), got {tuple(distmat.shape)}")
    for start, stop in chunk_bounds(acc.num_q, chunk_size):
        rows = distmat[start:stop]
        if isinstance(rows, torch.Tensor):
            rows = rows.detach()
        acc.add(start, rows)
    return acc.result()
