"""``reid-bench compare RUN_A RUN_B``: the mAP difference of two runs with a paired-bootstrap interval.

Each side is a result record (``<output>/results/<run_id>.json``), a run folder
(``<output>/<method>/<variant>/<protocol>/<recipe>/seed<N>``: its latest record on the protocol it was
trained on, or on ``--protocol``), or the folder above a configuration's seed folders (every seed of it;
the bootstrap then resamples seeds too). The records' per-query files (:mod:`reid_bench.per_query`)
are aligned query by query and compared with :func:`reid_bench.significance.paired_bootstrap`.
"""
import json
import os
import re

from ..cli import POSITIVE
from ..errors import UserError
from ..leaderboard.records import InvalidRecord, evaluation_label
from .per_query import load_per_query, mean_ap
from .significance import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, aligned_ap, paired_bootstrap

SEED_FOLDER = re.compile(r"^seed\d+$")
RUN_FOLDER_DEPTH = 5  # method / variant / protocol / recipe / seed<N> below the --output folder


def add_arguments(parser):
    parser.add_argument("run_a", metavar="RUN_A", help="a result record, a run folder, or the folder above "
                                                       "its seed folders (every seed)")
    parser.add_argument("run_b", metavar="RUN_B", help="the same for the other side (the difference is A - B)")
    parser.add_argument("--protocol", help="with run folders: the records on this protocol (default: the "
                                           "protocol the run was trained on)")
    parser.add_argument("--reranked", action="store_true", help="compare the re-ranked mAP")
    parser.add_argument("--resamples", type=POSITIVE, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    parser.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE,
                        help=f"interval confidence, between 0 and 1 (default {DEFAULT_CONFIDENCE})")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed (default 0)")


def read_record(path):
    """A result record as a dict, with the path of its per-query file; :class:`UserError` otherwise."""
    try:
        with open(path, encoding="utf-8") as stream:
            record = json.load(stream)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} as a result record ({type(exc).__name__}: {exc})") from None
    if not isinstance(record, dict) or "run_id" not in record or "protocol" not in record:
        raise UserError(f"{path} is not a reid-bench result record")
    if not record.get("per_query"):
        raise UserError(f"{path} has no per-query results (a classification run, or a record written before "
                        "reid-bench saved them); rerun it to compare it query by query")
    return record, os.path.join(os.path.dirname(os.path.abspath(path)), record["per_query"])


def _tail(path):
    return os.path.normpath(os.path.abspath(path)).split(os.sep)[-RUN_FOLDER_DEPTH:]


def records_of_run_folder(folder, protocol=None):
    """The latest record of a seed folder, on ``protocol`` (default: the one in the folder's path)."""
    parts = _tail(folder)
    protocol = protocol or parts[2]
    results = os.path.join(folder, *[os.pardir] * RUN_FOLDER_DEPTH, "results")
    found = []
    if os.path.isdir(results):
        for name in sorted(os.listdir(results)):
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                with open(os.path.join(results, name), encoding="utf-8") as stream:
                    record = json.load(stream)
            except (OSError, ValueError):
                continue
            if (isinstance(record, dict) and isinstance(record.get("run_dir"), str)
                    and _tail(record["run_dir"]) == parts and record.get("protocol") == protocol):
                found.append((record.get("finished_at", ""), os.path.join(results, name)))
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
    return [(record_path, *read_record(record_path)) for record_path in record_paths]


def _label(side):
    record = side[0][1]
    try:
        options = evaluation_label(record.get("evaluation"))
    except InvalidRecord:
        options = "unreadable"
    seeds = ", ".join(str(record.get("seed")) for _, record, _ in side)
    trained_on = record.get("trained_on", record["protocol"])
    where = record["protocol"] if trained_on == record["protocol"] else f"{trained_on}->{record['protocol']}"
    return (f"{record.get('method')} [{record.get('variant')}] on {where}, seed {seeds}"
            + (f"; test-time: {options}" if options else ""))


def command(args, plugins):
    """Print both sides and the comparison; exit status 0."""
    sides = [resolve_side(args.run_a, args.protocol), resolve_side(args.run_b, args.protocol)]
    if not 0.0 < args.confidence < 1.0:
        raise UserError(f"--confidence {args.confidence}: expected a number between 0 and 1")
    columns = [[(record_path, load_per_query(per_query)) for record_path, _, per_query in side] for side in sides]
    matrices = aligned_ap(columns, reranked=args.reranked)
    metric = "mAP re-ranked" if args.reranked else "mAP"
    for letter, side, side_columns in zip("AB", sides, columns):
        mean = sum(mean_ap(c, args.reranked) for _, c in side_columns) / len(side_columns)
        print(f"{letter}: {_label(side)}: {metric} {mean:.2f}")
        for record_path, _, _ in side:
            print(f"   {record_path}")
    comparison = paired_bootstrap(matrices[0], matrices[1], resamples=args.resamples, confidence=args.confidence,
                                  seed=args.seed)
    print(f"{metric} A - B: {comparison.describe()}")
    return 0
