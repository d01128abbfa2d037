"""``reid-bench compare RUN_A RUN_B``: the mAP difference of two runs with a paired-bootstrap interval.

Each side is a result record (``<output>/results/<run_id>.json``), a run folder
(``<output>/<method>/<variant>/<protocol>/<recipe>/seed<N>``: its latest record on the protocol it was
trained on, or on ``--protocol``), or the folder above a configuration's seed folders (every seed of it;
the bootstrap then resamples seeds too). The records' per-query files (:mod:`reid_bench.results.per_query`)
are aligned query by query and compared with :func:`reid_bench.results.significance.paired_bootstrap`.
"""
import os
import sys

from ..errors import UserError
from ..run_folder import RESULTS_FOLDER, RUN_FOLDER_DEPTH, SEED_FOLDER
from .per_query import load_per_query, mean_ap
from .records import InvalidRecord, evaluation_label, read_record, records_in
from .significance import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, aligned_ap, paired_bootstrap


def _record_and_per_query(path):
    """A result record as a dict, with the path of its per-query file; :class:`UserError` otherwise."""
    try:
        record = read_record(path)
    except InvalidRecord as exc:
        raise UserError(f"cannot read {path} as a result record ({exc})") from None
    if not isinstance(record, dict) or "run_id" not in record or "protocol" not in record:
        raise UserError(f"{path} is not a reid-bench result record")
    if not record.get("per_query"):
        raise UserError(f"{path} has no per-query results (a classification run, or a record written before "
                        "reid-bench saved them); rerun it to compare it query by query")
    if not isinstance(record["per_query"], str):
        raise UserError(f"{path}: per_query is {record['per_query']!r}, expected the name of the per-query file "
                        "beside the record")
    return record, os.path.join(os.path.dirname(os.path.abspath(path)), record["per_query"])


def _tail(path):
    return os.path.normpath(os.path.abspath(path)).split(os.sep)[-RUN_FOLDER_DEPTH:]


def records_of_run_folder(folder, protocol=None):
    """The latest record of a seed folder, on ``protocol`` (default: the one in the folder's path)."""
    parts = _tail(folder)
    protocol = protocol or parts[2]
    results = os.path.join(folder, *[os.pardir] * RUN_FOLDER_DEPTH, RESULTS_FOLDER)
    found = [(record.get("finished_at", ""), path) for path, record in records_in(results)
             if isinstance(record.get("run_dir"), str) and _tail(record["run_dir"]) == parts
             and record.get("protocol") == protocol]
    if not found:
        raise UserError(f"no result record of run folder {folder} on protocol {protocol} in {results}")
    return max(found)[1]


def resolve_side(path, protocol=None):
    """``[(record path, record, per-query path)]`` for one side (one per seed)."""
    if os.path.isfile(path):
        record_paths = [path]
    elif os.path.isdir(path):
        if SEED_FOLDER.match(os.path.basename(os.path.normpath(path))):
            seed_folders = [path]
        else:
            seed_folders = [os.path.join(path, name) for name in sorted(os.listdir(path)) if SEED_FOLDER.match(name)]
            if not seed_folders:
                raise UserError(f"{path} is neither a run folder (seed<N>) nor a folder holding seed folders")
        record_paths = [records_of_run_folder(folder, protocol) for folder in seed_folders]
    else:
        raise UserError(f"{path} does not exist; expected a result record or a run folder")
    return [(record_path, *_record_and_per_query(record_path)) for record_path in record_paths]


def _test_time(record):
    """The record's test-time options as the leaderboard writes them (flip, distance, AQE, re-ranking)."""
    try:
        return evaluation_label(record.get("evaluation"))
    except InvalidRecord:
        return "unreadable"


def _label(side):
    record = side[0][1]
    options = _test_time(record)
    seeds = ", ".join(str(record.get("seed")) for _, record, _ in side)
    trained_on = record.get("trained_on", record["protocol"])
    where = record["protocol"] if trained_on == record["protocol"] else f"{trained_on}->{record['protocol']}"
    return (f"{record.get('method')} [{record.get('variant')}] on {where}, seed {seeds}"
            + (f"; test-time: {options}" if options else ""))


def compare_runs(run_a, run_b, *, protocol=None, reranked=False, resamples=DEFAULT_RESAMPLES,
                 confidence=DEFAULT_CONFIDENCE, seed=0, out=None):
    """Print both sides (:func:`resolve_side`) and their mAP difference A - B with its paired-bootstrap
    interval; returns the :class:`~reid_bench.results.significance.Comparison`."""
    out = out or sys.stdout
    sides = [resolve_side(run_a, protocol), resolve_side(run_b, protocol)]
    if not 0.0 < confidence < 1.0:
        raise UserError(f"--confidence {confidence}: expected a number between 0 and 1")
    columns = [[(record_path, load_per_query(per_query)) for record_path, _, per_query in side] for side in sides]
    matrices = aligned_ap(columns, reranked=reranked)
    metric = "mAP re-ranked" if reranked else "mAP"
    for letter, side, side_columns in zip("AB", sides, columns):
        mean = sum(mean_ap(c, reranked) for _, c in side_columns) / len(side_columns)
        print(f"{letter}: {_label(side)}: {metric} {mean:.2f}", file=out)
        for record_path, _, _ in side:
            print(f"   {record_path}", file=out)
    options = [sorted({_test_time(record) or "defaults" for _, record, _ in side}) for side in sides]
    if len({option for side in options for option in side}) > 1:
        print(f"note: the records differ in test-time options (A: {' / '.join(options[0])}; B: "
              f"{' / '.join(options[1])}): the difference measures them too", file=out)
    comparison = paired_bootstrap(matrices[0], matrices[1], resamples=resamples, confidence=confidence, seed=seed)
    print(f"{metric} A - B: {comparison.describe()}", file=out)
    return comparison
