"""Ranked results: for each chosen query, the query image then its top-k gallery images, each framed
green (same identity) or red (another identity, distractors included), with its rank and distance.

The ranking is the evaluation's own: squared Euclidean distances of the recipe's test-time features
(:func:`reid_bench.evaluation.ranking.euclidean_squared_distance`), gallery images of the query's
identity *and* camera removed (torchreid's Market rule), ties broken by gallery index (a stable sort).
The distance printed is the Euclidean distance (the square root, same order). Queries are chosen
evenly over the query list (``--queries N``), by identity (``--query-ids``), or as the ``--worst N`` by
average precision, since failures are what one wants to look at.

Images are composed with Pillow rather than matplotlib: frames and cells sit at exact pixel positions,
so a test can read the frame colours back, and torchreid's ``visualize_ranked_results`` writes neither
rank nor distance and cannot pick queries.
"""
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..errors import UserError
from ..evaluation.ranking import euclidean_squared_distance, iter_distance_chunks

MATCH = (0, 190, 0)
MISMATCH = (220, 0, 0)
QUERY = (0, 0, 0)
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)
FRAME = 4  # frame width, pixels
GAP = 4  # between gallery cells
QUERY_GAP = 16  # between the query and rank 1
LABEL = 26  # text strip under each cell: two lines of Pillow's default font


@dataclass
class RankedList:
    """One query's top-k: gallery indices, Euclidean distances, whether each is a true match, and the
    query's average precision over the whole kept gallery (``None`` without any true match)."""

    query: int
    gallery: np.ndarray
    distances: np.ndarray
    matches: np.ndarray
    ap: float


def _kept_order(d2_row, q_pid, q_camid, g_pids, g_camids):
    """Gallery indices of one query by distance (stable), its own identity-and-camera entries removed."""
    keep = ~((g_pids == q_pid) & (g_camids == q_camid))
    order = np.argsort(d2_row, kind="stable")
    return order[keep[order]]


def _average_precision(matches):
    """AP of a ranked boolean list of true matches; ``None`` when there is none."""
    hits = np.flatnonzero(matches)
    if hits.size == 0:
        return None
    return float(np.mean(np.arange(1, hits.size + 1) / (hits + 1)))


def average_precisions(qf, gf, q_pids, g_pids, q_camids, g_camids, chunk_size=256):
    """Per-query AP (``nan`` for a query without a true match in the kept gallery), chunk by chunk."""
    aps = np.full(len(q_pids), np.nan)
    for start, stop, dist in iter_distance_chunks(qf, gf, chunk_size):
        rows = dist.cpu().numpy()
        for offset, row in enumerate(rows):
            index = start + offset
            order = _kept_order(row, q_pids[index], q_camids[index], g_pids, g_camids)
            ap = _average_precision(g_pids[order] == q_pids[index])
            aps[index] = np.nan if ap is None else ap
    return aps


def rank_queries(qf, gf, q_pids, g_pids, q_camids, g_camids, queries, topk):
    """:class:`RankedList` of each query index in ``queries``."""
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    ranked = []
    for index in queries:
        d2 = euclidean_squared_distance(qf[index:index + 1].float(), gf.float())[0].numpy()
        order = _kept_order(d2, q_pids[index], q_camids[index], g_pids, g_camids)
        matches = g_pids[order] == q_pids[index]
        top = order[:topk]
        ranked.append(RankedList(int(index), top, np.sqrt(np.maximum(d2[top], 0.0)), matches[:topk],
                                 _average_precision(matches)))
    return ranked


def choose_queries(q_pids, *, count=None, pids=None, worst=None, aps=None):
    """Query indices: the ``worst`` lowest APs (queries without a true match left out), every query of
    the identities ``pids``, or ``count`` spread evenly over the query list."""
    if worst is not None:
        valid = np.flatnonzero(~np.isnan(aps))
        return [int(i) for i in valid[np.argsort(aps[valid], kind="stable")][:worst]]
    if pids:
        chosen = [int(i) for i in np.flatnonzero(np.isin(q_pids, pids))]
        missing = sorted(set(pids) - set(int(p) for p in q_pids))
        if missing:
            raise UserError(f"--query-ids: no query image of identity {', '.join(map(str, missing))}; the query "
                            f"identities run from {int(np.min(q_pids))} to {int(np.max(q_pids))}")
        return chosen
    return sorted({int(i) for i in np.linspace(0, len(q_pids) - 1, min(count, len(q_pids)))})


def _cell(path, size, colour, lines):
    """One framed image of ``size`` (height, width) with its text lines below."""
    height, width = size
    cell = Image.new("RGB", (width + 2 * FRAME, height + 2 * FRAME + LABEL), BACKGROUND)
    cell.paste(colour, (0, 0, width + 2 * FRAME, height + 2 * FRAME))
    with Image.open(path) as image:
        cell.paste(image.convert("RGB").resize((width, height), Image.BILINEAR), (FRAME, FRAME))
    draw = ImageDraw.Draw(cell)
    for number, line in enumerate(lines):
        draw.text((1, height + 2 * FRAME + 1 + 12 * number), line, fill=TEXT)
    return cell


def cell_origin(slot, size):
    """Top-left pixel of cell ``slot`` (0: the query, 1..k: ranks) in a ranked-list image."""
    width = size[1] + 2 * FRAME
    return (0 if slot == 0 else width + QUERY_GAP + (slot - 1) * (width + GAP)), 0


def draw_ranked(ranked, query_item, gallery_items, size):
    """The image of one :class:`RankedList`: ``query_item`` and ``gallery_items`` are torchreid's
    ``(path, pid, camid, ...)`` tuples; every image is shown at ``size`` (height, width)."""
    path, pid, camid = query_item[:3]
    ap = "no match" if ranked.ap is None else f"AP {100 * ranked.ap:.1f}"
    cells = [_cell(path, size, QUERY, [f"query id {pid}", ap])]
    for rank, (index, distance, match) in enumerate(zip(ranked.gallery, ranked.distances, ranked.matches), 1):
        g_path, g_pid = gallery_items[index][:2]
        cells.append(_cell(g_path, size, MATCH if match else MISMATCH, [f"#{rank} d={distance:.2f}", f"id {g_pid}"]))
    width = cell_origin(len(cells) - 1, size)[0] + cells[-1].width
    canvas = Image.new("RGB", (width, cells[0].height), BACKGROUND)
    for slot, cell in enumerate(cells):
        canvas.paste(cell, cell_origin(slot, size))
    return canvas


def write_ranked_results(features, splits, out_dir, *, size, topk=10, count=8, pids=None, worst=None):
    """Rank the chosen queries and write one PNG per query into ``out_dir``; returns the paths.
    ``features`` is ``(qf, q_pids, q_camids, gf, g_pids, g_camids)`` in the order of ``splits``."""
    qf, q_pids, q_camids, gf, g_pids, g_camids = features
    aps = average_precisions(qf, gf, q_pids, g_pids, q_camids, g_camids) if worst is not None else None
    queries = choose_queries(q_pids, count=count, pids=pids, worst=worst, aps=aps)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for order, ranked in enumerate(rank_queries(qf, gf, q_pids, g_pids, q_camids, g_camids, queries, topk), 1):
        prefix = f"worst{order:03d}_" if worst is not None else ""
        path = os.path.join(out_dir, f"{prefix}query{ranked.query:05d}_id{q_pids[ranked.query]}.png")
        draw_ranked(ranked, splits.query[ranked.query], splits.gallery, size).save(path)
        paths.append(path)
    return paths


def extract(model, splits, transform, extractor, device, batch_size=64, workers=0, progress=True):
    """Query and gallery features of ``splits`` with the recipe's test transform and extractor (pooled
    query features on a multi-query protocol, as the evaluation's)."""
    from ..data.loaders import build_test_loaders
    from ..evaluation.evaluate import extract_features, extract_query_features

    loaders = build_test_loaders(splits, transform, batch_size, workers, pin_memory=False)
    qf, q_pids, q_camids, _ = extract_query_features(model, loaders, extractor, device, progress)
    gf, g_pids, g_camids = extract_features(model, loaders["gallery"], extractor, device, progress,
                                            "gallery features")
    return qf, q_pids, q_camids, gf, g_pids, g_camids


__all__ = ["RankedList", "average_precisions", "rank_queries", "choose_queries", "draw_ranked", "cell_origin",
           "write_ranked_results", "extract", "MATCH", "MISMATCH", "FRAME"]
