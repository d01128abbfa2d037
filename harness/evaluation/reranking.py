"""k-reciprocal re-ranking (Zhong et al., CVPR 2017) in memory O((q + g) * k) plus one chunk.

Reproduces ``torchreid.reid.utils.re_ranking`` as torchreid's engine calls it::

    distmat    = compute_distance_matrix(qf, gf)   # squared Euclidean
    distmat_qq = compute_distance_matrix(qf, qf)
    distmat_gg = compute_distance_matrix(gf, gf)
    distmat    = re_ranking(distmat, distmat_qq, distmat_gg, k1=20, k2=6, lambda_value=0.3)

torchreid builds dense ``(q+g)^2`` matrices (original distance, its full argsort, V, V after query
expansion); MSMT17 would need about 245 GB. Here:

1. *Nearest neighbours.* The ``(q+g)^2`` squared distances ``D^2`` (torchreid squares the squared
   Euclidean distance once more, then divides each column by its maximum) are streamed in row
   blocks of ``chunk_size``; gallery x gallery is computed once per unordered pair (upper block
   triangle; the lower part reaches its rows through the block's columns, with a running K-th best
   threshold). Every row keeps its ``K = max(k1 + 1, k2) + 16`` smallest ``D^2`` and its maximum,
   which gives the row's normalised distances and its first ``k1 + 1`` neighbours exactly (ordered
   by normalised distance, ties by index). Blocks start at multiples of 64 rows of the query or the
   gallery set and cover the same products as torchreid's three calls, so, with MKL, every distance
   has the same bits as torchreid's.
2. *k-reciprocal sets* (``R(i, k1)``, ``R(c, round(k1 / 2))``, the 2/3 expansion rule) are computed
   with array operations on the ``(q+g) x (k1+1)`` neighbour table; V is a sparse matrix (CSR) with
   the same weights ``exp(-d) / sum exp(-d)`` (numpy's ``exp`` and numpy's pairwise ``sum``, so the
   same float32 values). Distances of expansion members outside a row's K stored neighbours are
   recomputed with the same GEMM call on 64 gathered rows (same bits again, with MKL).
3. *Query expansion* ``V_qe[i] = mean(V[initial_rank[i, :k2]])`` is a sparse sum in the same order
   (numpy's axis-0 mean adds rows in order, then divides), so again the same float32 values.
4. *Jaccard distance*, only for query x gallery and one chunk of queries at a time (the query x
   gallery ``D^2`` is kept from step 1 when it takes at most ``cache_mib``, else recomputed): for every
   query ``i`` and gallery ``j``, ``sum_k min(V_i[k], V_j[k])`` over the common support, accumulated in
   increasing ``k`` (torchreid's order) with ``np.add.at``; then
   ``final = jaccard * (1 - lambda) + original * lambda`` in float32.

:func:`rerank_features` returns a :class:`RerankedDistances`: the sparse state plus the features, from
which ``iter_chunks`` produces the re-ranked ``(chunk, g)`` distance rows on demand; the chunked
metrics in :mod:`reid_bench.evaluation.ranking` consume it directly.

With torch's MKL the re-ranked matrix is bit for bit torchreid's (tested). Differences that can show
elsewhere: exact ties in the normalised distance at a neighbour-list boundary (k1 + 1, round(k1/2) + 1
or k2) are broken by index (torchreid: by numpy's unstable argsort), and with another BLAS, distances
may differ from torchreid's in the last bit. Both are rare and move re-ranked distances by about 1e-7.

Measured (2 cores, random unit 2048-d features; benchmarks/eval_scale.py): Market scale 10.5 s and
1.8 GiB peak resident for distances + re-ranking + metrics (torchreid's re_ranking alone: 63 s,
9.3 GiB); MSMT17 scale about 250 s and 3.5 GiB.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import numpy as np
import torch

from .ranking import (
    DeviceLike,
    RetrievalResult,
    Workspace,
    _as_features,
    _resolve_device,
    chunk_bounds,
    euclidean_squared_distance,
    evaluate_distances,
)

__all__ = ["RerankedDistances", "rerank_features", "evaluate_reranked", "NeighbourTable", "knn_table"]

_MARGIN = 16
_MIN_COLS = 64


# ----------------------------------------------------------------------------------------------
# 1. streamed nearest neighbours of D^2 over query + gallery


@dataclass
class NeighbourTable:
    """Per row of ``[query; gallery]``: the ``K`` smallest ``D^2`` (``values``, float32) with their
    column (``index``), sorted by normalised distance then index, and the row maximum of ``D^2``."""

    values: np.ndarray  # (N, K) float32, D^2
    index: np.ndarray  # (N, K) int64
    rowmax: np.ndarray  # (N,) float32

    @property
    def normalised(self) -> np.ndarray:
        return self.values / self.rowmax[:, None]


class _Pool:
    def __init__(self, n: int, k: int, device: torch.device):
        self.k = k
        self.v = torch.full((n, k), float("inf"), dtype=torch.float32, device=device)
        self.i = torch.full((n, k), -1, dtype=torch.int64, device=device)
        self.rowmax = torch.zeros(n, dtype=torch.float32, device=device)
        self._mask = None

    def merge(self, rows: slice, new_v: torch.Tensor, new_i: torch.Tensor) -> None:
        v = torch.cat([self.v[rows], new_v], 1)
        i = torch.cat([self.i[rows], new_i], 1)
        tv, ti = torch.topk(v, self.k, dim=1, largest=False, sorted=False)
        self.v[rows] = tv
        self.i[rows] = torch.gather(i, 1, ti)

    def add_rows(self, rows: slice, block: torch.Tensor, col_offset: int) -> None:
        """``block[r, c]`` is ``D^2`` of row ``rows.start + r`` and column ``col_offset + c``."""
        kk = min(self.k, block.shape[1])
        tv, ti = torch.topk(block, kk, dim=1, largest=False, sorted=False)
        self.merge(rows, tv, ti + col_offset)
        self.rowmax[rows] = torch.maximum(self.rowmax[rows], block.amax(1))

    def add_columns(self, rows: slice, block: torch.Tensor, row_offset: int) -> None:
        """``block[r, c]`` is ``D^2`` of row ``rows.start + c`` and column ``row_offset + r`` (the
        transposed part of a symmetric block)."""
        m = block.shape[1]
        self.rowmax[rows] = torch.maximum(self.rowmax[rows], block.amax(0))
        tau = self.v[rows].amax(1)  # current K-th best (inf while not full)
        if bool(torch.isinf(tau).any()):
            self._add_columns_topk(rows, block, row_offset)
            return
        # the entries below their column's K-th best so far (few, after the first blocks)
        if block.device.type == "cpu":
            b = block.numpy()
            if self._mask is None or self._mask.size < b.size:
                self._mask = np.empty(b.size, dtype=bool)
            mask = self._mask[:b.size].reshape(b.shape)
            np.less(b, tau.numpy()[None, :], out=mask)
            flat = np.flatnonzero(mask)
            if len(flat) == 0:
                return
            r_np, c_np = np.divmod(flat, m)
            order = np.argsort(c_np, kind="stable")
            r = torch.from_numpy(r_np[order])
            c = torch.from_numpy(c_np[order])
        else:
            c, r = torch.nonzero((block < tau.unsqueeze(0)).t(), as_tuple=True)
            if c.numel() == 0:
                return
        counts = torch.bincount(c, minlength=m)
        width = int(counts.max())
        if width > 4 * self.k:
            self._add_columns_topk(rows, block, row_offset)
            return
        starts = torch.cumsum(counts, 0) - counts
        within = torch.arange(c.numel(), device=c.device) - starts[c]
        new_v = torch.full((m, width), float("inf"), dtype=torch.float32, device=block.device)
        new_i = torch.full((m, width), -1, dtype=torch.int64, device=block.device)
        new_v[c, within] = block[r, c]
        new_i[c, within] = r + row_offset
        self.merge(rows, new_v, new_i)

    def _add_columns_topk(self, rows: slice, block: torch.Tensor, row_offset: int) -> None:
        kk = min(self.k, block.shape[0])
        tv, ti = torch.topk(block.t().contiguous(), kk, dim=1, largest=False, sorted=False)
        self.merge(rows, tv, ti + row_offset)


def _square_(d: torch.Tensor) -> torch.Tensor:
    return d.mul_(d)  # numpy's power(x, 2) is x * x; checked bit for bit


def knn_table(qf, gf, *, k: int, chunk_size: int = 1024, device: DeviceLike = None,
              qg_cache: Optional[np.ndarray] = None) -> NeighbourTable:
    """The ``k`` nearest columns (by ``D^2``, the square of torchreid's squared Euclidean distance) of
    every row of ``[qf; gf]`` against ``[qf; gf]``, and every row's maximum ``D^2``. If ``qg_cache``
    (a float32 ``(q, g)`` array) is given, the query x gallery ``D^2`` is stored into it."""
    dev = _resolve_device(device, qf, gf)
    q = _as_features(qf, dev).float()
    g = _as_features(gf, dev).float()
    nq, ng = q.shape[0], g.shape[0]
    n = nq + ng
    k = min(k, n)
    q_sq = torch.pow(q, 2).sum(dim=1)
    g_sq = torch.pow(g, 2).sum(dim=1)
    pool = _Pool(n, k, dev)
    ws = Workspace()
    with torch.no_grad():
        for s, e in chunk_bounds(nq, chunk_size):
            rows = slice(s, e)
            d_qq = _square_(euclidean_squared_distance(q[s:e], q, q_sq, out=ws.get((e - s, nq), device=dev)))
            pool.add_rows(rows, d_qq, 0)
            del d_qq
            d_qg = _square_(euclidean_squared_distance(q[s:e], g, g_sq, out=ws.get((e - s, ng), device=dev)))
            if qg_cache is not None:
                qg_cache[s:e] = d_qg.cpu().numpy()
            pool.add_rows(rows, d_qg, nq)
            pool.add_columns(slice(nq, n), d_qg, s)
            del d_qg
        for s, e in chunk_bounds(ng, chunk_size):
            cs = min(s, max(0, ng - _MIN_COLS))
            d_gg = _square_(euclidean_squared_distance(g[s:e], g[cs:], g_sq[cs:], out=ws.get((e - s, ng - cs), device=dev)))
            pool.add_rows(slice(nq + s, nq + e), d_gg[:, s - cs:], nq + s)
            if e < ng:
                pool.add_columns(slice(nq + e, n), d_gg[:, e - cs:], nq + s)
            del d_gg
    values = pool.v.cpu().numpy()
    index = pool.i.cpu().numpy()
    rowmax = pool.rowmax.cpu().numpy()
    normalised = values / rowmax[:, None]
    order = np.lexsort((index, normalised), axis=1)
    return NeighbourTable(np.take_along_axis(values, order, 1), np.take_along_axis(index, order, 1), rowmax)


# ----------------------------------------------------------------------------------------------
# 2. k-reciprocal expansion sets and V


def _reciprocal_mask(rank: np.ndarray, rows_block: int = 8192) -> np.ndarray:
    """``mask[i, a]``: ``i`` is among the first ``rank.shape[1]`` neighbours of ``rank[i, a]``."""
    n, w = rank.shape
    out = np.empty((n, w), dtype=bool)
    for a in range(0, n, rows_block):
        b = min(n, a + rows_block)
        out[a:b] = (rank[rank[a:b]] == np.arange(a, b)[:, None, None]).any(2)
    return out


def _expansion_sets(initial_rank: np.ndarray, k1: int, rows_block: int = 2048) -> Tuple[np.ndarray, np.ndarray]:
    """torchreid's ``k_reciprocal_expansion_index`` of every row as (row, member) pairs, sorted."""
    n, kr = initial_rank.shape
    kh = min(int(np.around(k1 / 2.)) + 1, kr)
    half = np.ascontiguousarray(initial_rank[:, :kh])
    fmask = _reciprocal_mask(initial_rank)
    hmask = _reciprocal_mask(half)
    hsize = hmask.sum(1)
    keys = []
    for a in range(0, n, rows_block):
        b = min(n, a + rows_block)
        cand = initial_rank[a:b]  # (m, kr)
        fm = fmask[a:b]
        recset = np.where(fm, cand, -1)
        hs = half[cand]  # (m, kr, kh)
        hm = hmask[cand]
        inter = (hm & (hs[..., None] == recset[:, None, None, :]).any(-1)).sum(-1)
        accept = fm & (inter > 2. / 3 * hsize[cand])
        row = np.arange(a, b, dtype=np.int64)
        k_rec = (row[:, None] * n + cand)[fm]
        exp = (row[:, None, None] * n + hs)[accept[:, :, None] & hm]
        keys.append(np.unique(np.concatenate([k_rec, exp])))
    keys = np.concatenate(keys)
    return keys // n, keys % n


def _pairwise_sums_like_numpy(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """``np.sum(values[indptr[i]:indptr[i+1]])`` for every row, bit for bit (rows of one length are
    summed together as a 2-D ``sum(axis=1)``, which numpy reduces row by row with the same pairwise
    algorithm)."""
    lengths = np.diff(indptr)
    out = np.zeros(len(lengths), dtype=values.dtype)
    for length in np.unique(lengths):
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        idx = indptr[rows][:, None] + np.arange(length)[None, :]
        out[rows] = np.sum(values[idx], axis=1)
    return out


def _pair_d2(q: torch.Tensor, g: torch.Tensor, sq: torch.Tensor, a: np.ndarray, b: np.ndarray,
             rows_per_call: int = 64) -> np.ndarray:
    """``D^2`` for index pairs ``(a, b)`` (global indices into ``[q; g]``, sorted by ``a``).

    Computed with the same formula and BLAS call as the blocks, on 64 gathered rows against the
    union of their columns (padded to a multiple of 64): MKL then gives the same bits as for the
    corresponding element of a full matrix product (measured; an elementwise dot product does not).
    """
    nq = q.shape[0]
    dev = q.device
    out = np.empty(len(a), dtype=np.float32)

    def gather(idx: np.ndarray) -> torch.Tensor:
        idx_t = torch.from_numpy(idx).to(dev)
        res = torch.empty((len(idx), q.shape[1]), dtype=q.dtype, device=dev)
        mq = idx_t < nq
        res[mq] = q[idx_t[mq]]
        res[~mq] = g[idx_t[~mq] - nq]
        return res

    def pad(idx: np.ndarray) -> np.ndarray:
        size = max(_MIN_COLS, -(-len(idx) // _MIN_COLS) * _MIN_COLS)
        return np.concatenate([idx, np.full(size - len(idx), idx[0], dtype=idx.dtype)])

    uniq_rows, first = np.unique(a, return_index=True)
    bounds = np.append(first, len(a))
    for s in range(0, len(uniq_rows), rows_per_call):
        e = min(s + rows_per_call, len(uniq_rows))
        lo, hi = bounds[s], bounds[e]
        rows = pad(uniq_rows[s:e])
        cols, col_pos = np.unique(b[lo:hi], return_inverse=True)
        cols = pad(cols)
        row_pos = np.repeat(np.arange(e - s), np.diff(bounds[s:e + 1]))
        with torch.no_grad():
            block = euclidean_squared_distance(gather(rows), gather(cols), sq[torch.from_numpy(cols).to(dev)])
            block = _square_(block).cpu().numpy()
        out[lo:hi] = block[row_pos, col_pos]
    return out


def _lookup_d2(table: NeighbourTable, rows: np.ndarray, cols: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    n, k = table.index.shape
    pool_keys = (np.arange(n, dtype=np.int64)[:, None] * n + table.index).ravel()
    order = np.argsort(pool_keys)
    sorted_keys = pool_keys[order]
    keys = rows * n + cols
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = sorted_keys[pos] == keys
    vals = np.zeros(len(keys), dtype=np.float32)
    vals[found] = table.values.ravel()[order[pos[found]]]
    return vals, found


def _build_v(table: NeighbourTable, q, g, k1: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """V as CSR ``(indptr, indices, data)``."""
    n = table.index.shape[0]
    initial_rank = np.ascontiguousarray(table.index[:, :min(k1 + 1, n)])
    rows, cols = _expansion_sets(initial_rank, k1)
    d2, found = _lookup_d2(table, rows, cols)
    if not found.all():
        sq = torch.cat([torch.pow(q, 2).sum(dim=1), torch.pow(g, 2).sum(dim=1)])
        miss = ~found
        d2[miss] = _pair_d2(q, g, sq, rows[miss], cols[miss])
    dist = d2 / table.rowmax[rows]
    weight = np.exp(-dist)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    sums = _pairwise_sums_like_numpy(weight, indptr)
    data = 1. * weight / sums[rows]
    return indptr, cols, data


def _query_expansion(indptr, indices, data, neighbours: np.ndarray, rows_block: int = 4096):
    """``V_qe[i] = mean(V[neighbours[i]], axis=0)`` as numpy computes it (rows added in order, then
    divided by their number), sparse."""
    n, k2 = neighbours.shape
    lengths = np.diff(indptr)
    out_rows, out_cols, out_vals = [], [], []
    for a in range(0, n, rows_block):
        b = min(n, a + rows_block)
        nb = neighbours[a:b].ravel()  # (i, t) in order
        cnt = lengths[nb]
        total = int(cnt.sum())
        owner = np.repeat(np.repeat(np.arange(a, b, dtype=np.int64), k2), cnt)
        pos = np.repeat(indptr[nb] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        keys = owner * n + indices[pos]
        uniq, inverse = np.unique(keys, return_inverse=True)
        acc = np.zeros(len(uniq), dtype=np.float32)
        np.add.at(acc, inverse, data[pos])  # sequential, in (i, t) order: numpy's axis-0 sum order
        np.true_divide(acc, np.intp(k2), out=acc, casting="unsafe")
        out_rows.append(uniq // n)
        out_cols.append(uniq % n)
        out_vals.append(acc)
    rows = np.concatenate(out_rows)
    new_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=new_indptr[1:])
    return new_indptr, np.concatenate(out_cols), np.concatenate(out_vals)


# ----------------------------------------------------------------------------------------------
# 3. re-ranked distances, chunk by chunk


class RerankedDistances:
    """Re-ranked query x gallery distances, produced ``chunk_size`` query rows at a time.

    ``iter_chunks(chunk_size)`` yields ``(start, stop, rows)`` with ``rows`` a float32 ``(stop-start, g)``
    numpy array equal to ``re_ranking(...)[start:stop]``; :func:`evaluate_distances` accepts this
    object in place of a matrix.
    """

    def __init__(self, q: torch.Tensor, g: torch.Tensor, rowmax: np.ndarray, v_indptr, v_indices, v_data,
                 lambda_value: float, chunk_size: int, pair_budget: int = 1 << 22,
                 qg_d2: Optional[np.ndarray] = None):
        self.q, self.g = q, g
        self.num_query, self.num_gallery = q.shape[0], g.shape[0]
        self.shape = (self.num_query, self.num_gallery)
        self.rowmax = rowmax
        self.lambda_value = lambda_value
        self.chunk_size = chunk_size
        self.pair_budget = pair_budget
        self.v_indptr, self.v_indices, self.v_data = v_indptr, v_indices, v_data
        nq, n = self.num_query, self.num_query + self.num_gallery
        # gallery rows of V by column (CSC of V[nq:]), entries of a column in increasing row order
        lo = v_indptr[nq]
        g_rows = np.repeat(np.arange(self.num_gallery, dtype=np.int64), np.diff(v_indptr[nq:]))
        g_cols = v_indices[lo:]
        order = np.argsort(g_cols, kind="stable")
        self.csc_rows = g_rows[order]
        self.csc_vals = v_data[lo:][order]
        self.csc_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(g_cols, minlength=n), out=self.csc_ptr[1:])
        self._g_sq = torch.pow(g, 2).sum(dim=1)
        self.qg_d2 = qg_d2  # cached query x gallery D^2 (small problems), else recomputed per chunk
        self._workspace = Workspace()

    def _intersections(self, start: int, stop: int) -> np.ndarray:
        """``temp_min`` of torchreid for queries ``start:stop`` against the gallery (float32)."""
        ng = self.num_gallery
        out = np.zeros((stop - start) * ng, dtype=np.float32)
        ip, ind, dat = self.v_indptr, self.v_indices, self.v_data
        col_cnt = np.diff(self.csc_ptr)
        i = start
        while i < stop:
            # as many query rows as fit in the pair budget (at least one)
            lo = ip[i]
            j = i + 1
            cum = int(col_cnt[ind[ip[i]:ip[i + 1]]].sum())
            while j < stop:
                extra = int(col_cnt[ind[ip[j]:ip[j + 1]]].sum())
                if cum + extra > self.pair_budget:
                    break
                cum += extra
                j += 1
            hi = ip[j]
            ks = ind[lo:hi]
            vi = dat[lo:hi]
            owner = np.repeat(np.arange(i, j, dtype=np.int64) - start, np.diff(ip[i:j + 1]))
            cnt = col_cnt[ks]
            total = int(cnt.sum())
            if total:
                pos = np.repeat(self.csc_ptr[ks] - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
                mins = np.minimum(np.repeat(vi, cnt), self.csc_vals[pos])
                # entries come in increasing k for every (query, gallery) pair: torchreid's order
                np.add.at(out, np.repeat(owner, cnt) * ng + self.csc_rows[pos], mins)
            i = j
        return out.reshape(stop - start, ng)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``re_ranking(...)[start:stop]``: torchreid's float32 operations, done in place."""
        out = self._intersections(start, stop)  # temp_min
        scratch = np.subtract(2., out)
        np.divide(out, scratch, out=out)
        np.subtract(1, out, out=out)  # jaccard_dist = 1 - temp_min / (2. - temp_min)
        np.multiply(out, 1 - self.lambda_value, out=out)
        if self.qg_d2 is not None:
            d2 = self.qg_d2[start:stop]
        else:
            with torch.no_grad():
                buf = self._workspace.get((stop - start, self.num_gallery), device=self.q.device)
                d2 = _square_(euclidean_squared_distance(self.q[start:stop], self.g, self._g_sq, out=buf)).cpu().numpy()
        np.divide(d2, self.rowmax[start:stop, None], out=scratch)  # original_dist
        np.multiply(scratch, self.lambda_value, out=scratch)
        np.add(out, scratch, out=out)  # jaccard * (1 - lambda) + original * lambda
        return out

    def iter_chunks(self, chunk_size: Optional[int] = None) -> Iterator[Tuple[int, int, np.ndarray]]:
        for start, stop in chunk_bounds(self.num_query, chunk_size or self.chunk_size):
            yield start, stop, self.rows(start, stop)


def rerank_features(qf, gf, *, k1: int = 20, k2: int = 6, lambda_value: float = 0.3, chunk_size: int = 1024,
                    device: DeviceLike = None, cache_mib: float = 1024) -> RerankedDistances:
    """k-reciprocal re-ranking of query features ``qf`` against gallery features ``gf``, equal to
    torchreid's ``re_ranking(compute_distance_matrix(qf, gf), compute_distance_matrix(qf, qf),
    compute_distance_matrix(gf, gf), k1, k2, lambda_value)`` (see the module docstring), without any
    ``(q+g)^2`` array: memory is O((q+g) * k) plus one ``chunk_size x (q+g)`` block, plus the
    ``q x g`` float32 distances if they take at most ``cache_mib`` MiB (they are then kept from the
    neighbour pass instead of being computed a second time for the re-ranked rows)."""
    if k1 < 1 or k2 < 1:
        raise ValueError("k1 and k2 must be positive")
    dev = _resolve_device(device, qf, gf)
    q = _as_features(qf, dev).float()
    g = _as_features(gf, dev).float()
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"feature dimensions differ: {q.shape[1]} vs {g.shape[1]}")
    n = q.shape[0] + g.shape[0]
    cache = None
    if q.shape[0] * g.shape[0] * 4 <= cache_mib * 2**20:
        cache = np.empty((q.shape[0], g.shape[0]), dtype=np.float32)
    table = knn_table(q, g, k=max(k1 + 1, k2) + _MARGIN, chunk_size=chunk_size, device=dev, qg_cache=cache)
    indptr, indices, data = _build_v(table, q, g, k1)
    if k2 != 1:
        indptr, indices, data = _query_expansion(indptr, indices, data, table.index[:, :min(k2, n)])
    return RerankedDistances(q, g, table.rowmax, indptr, indices, data, lambda_value, chunk_size, qg_d2=cache)


def evaluate_reranked(qf, gf, q_pids, g_pids, q_camids, g_camids, *, k1: int = 20, k2: int = 6,
                      lambda_value: float = 0.3, max_rank: int = 20, chunk_size: int = 1024,
                      device: DeviceLike = None, tie_break: str = "torchreid", progress: bool = False) -> RetrievalResult:
    """CMC / mAP / mINP after k-reciprocal re-ranking (``rerank_features`` then ``evaluate_distances``;
    ``progress``: a tqdm bar over the re-ranked query chunks)."""
    reranked = rerank_features(qf, gf, k1=k1, k2=k2, lambda_value=lambda_value, chunk_size=chunk_size, device=device)
    return evaluate_distances(reranked, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank,
                              chunk_size=chunk_size, tie_break=tie_break, progress=progress)
