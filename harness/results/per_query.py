"""Per-query results of a re-id evaluation, saved beside its result record.

``<results>/<run_id>.queries.npz`` (the record's ``per_query`` key names it) holds one entry per query
and trial, in the protocol's query order, as numpy arrays (no pickled objects):

    trial                int   trial index (0 for single-trial protocols)
    pid, camid           int   the query's identity and camera: two runs on the same protocol align on them
    ap                   float the query's average precision (fraction, NaN for a query without a true match)
    first_rank           int   1-based rank of the first true match (0 without one)
    num_matches          int   true matches in the gallery after the same-camera rule (0: skipped query)
    ap_reranked, first_rank_reranked   the same after re-ranking (only when the run re-ranked)

A record's mAP is reproduced from it: per trial, the mean of ``ap`` over queries with
``num_matches > 0``, in percent, then the mean over trials.
"""
import os
import zipfile

import numpy as np

from ..errors import UserError

SUFFIX = ".queries.npz"
REQUIRED = ("trial", "pid", "camid", "ap", "first_rank", "num_matches")


def per_query_filename(run_id):
    return f"{run_id}{SUFFIX}"


def save_per_query(path, per_trial):
    """Write the per-query columns of each trial's evaluation (``Evaluation.per_query``) to ``path``."""
    columns = {"trial": np.concatenate([np.full(len(trial["ap"]), index, dtype=np.int64)
                                        for index, trial in enumerate(per_trial)])}
    for name in per_trial[0]:
        columns[name] = np.concatenate([np.asarray(trial[name]) for trial in per_trial])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp_path = f"{path}.tmp.npz"
    np.savez_compressed(tmp_path, **columns)
    os.replace(tmp_path, path)
    return path


def load_per_query(path):
    """The columns of a per-query file; :class:`UserError` naming the problem if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            columns = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # a truncated file is a bad zip
        raise UserError(f"cannot read {path} as per-query results ({type(exc).__name__}: {exc}); expected the "
                        f"{SUFFIX} file that `reid-bench run` writes beside a result record") from None
    missing = [name for name in REQUIRED if name not in columns]
    lengths = {len(columns[name]) for name in columns}
    if missing or len(lengths) != 1:
        raise UserError(f"{path} is not a per-query file: "
                        + (f"it lacks {', '.join(missing)}" if missing else "its columns differ in length"))
    if any(columns[name].ndim != 1 or columns[name].dtype.kind not in "iuf" for name in columns):
        raise UserError(f"{path} is not a per-query file: expected one number per query in every column")
    valid = columns["num_matches"] > 0
    if not all(np.isfinite(columns[name][valid]).all() for name in ("ap", "ap_reranked") if name in columns):
        raise UserError(f"{path} holds a non-finite AP for a query with a true match; expected values in [0, 1]")
    return columns


def mean_ap(columns, reranked=False):
    """The mAP (percent) the columns give: per trial the mean AP of the queries with a true match, then
    the mean over trials, as the record computes it."""
    ap = columns["ap_reranked" if reranked else "ap"]
    valid = columns["num_matches"] > 0
    trials = np.unique(columns["trial"])
    return 100.0 * float(np.mean([ap[valid & (columns["trial"] == t)].mean() for t in trials]))
