"""What ``run`` and ``eval`` print when they end: a compact metrics table on stdout (one row per result:
protocol, seed, test-time options; mAP, R1, R5, R10, mINP and the re-ranked mAP and R1 where computed), or
with ``--json`` the results as JSON and nothing else on stdout (every other line goes to stderr), for
scripts. The full numbers are in the result records either way."""
import contextlib
import json
import sys

from ..results.records import evaluation_label

#: the re-id metrics a table shows (the record has every CMC rank), and the re-ranked ones
REID_COLUMNS = ("mAP", "R1", "R5", "R10", "mINP")
RERANKED_COLUMNS = ("mAP", "R1")


def add_json_option(parser):
    """``--json``: print the results as JSON instead of the table."""
    parser.add_argument("--json", action="store_true",
                        help="print the result records as a JSON list (where none is written, as for eval "
                             "--features, the metrics and evaluation) and nothing else on stdout (log lines go to "
                             "stderr), instead of the metrics table")


def quiet_stdout(args):
    """A context in which the command's own lines go to stderr when ``--json`` keeps stdout for the JSON."""
    return contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()


def row(labels, metrics, metrics_reranked, evaluation):
    """A table row: ``labels`` (ordered column -> value, e.g. protocol and seed), then the test-time options
    of ``evaluation`` (the record's ``evaluation`` block; "default" for the default ones) and the metrics."""
    return {**labels, "test time": evaluation_label(evaluation) or "default", "metrics": metrics,
            "reranked": metrics_reranked or {}}


def metrics_table(rows):
    """The rows (:func:`row`) as one table: re-id metrics as :data:`REID_COLUMNS`, a classification
    protocol's as they are (top-1 and top-5 error), re-ranked columns only where some row has them."""
    from tabulate import tabulate

    columns = []
    for entry in rows:
        names = REID_COLUMNS if "mAP" in entry["metrics"] else tuple(entry["metrics"])
        columns += [name for name in names if name not in columns]
    reranked = [name for name in RERANKED_COLUMNS if any(name in entry["reranked"] for entry in rows)]
    labels = [key for key in rows[0] if key not in ("metrics", "reranked")]
    body = [[entry[key] for key in labels] + [_number(entry["metrics"].get(name)) for name in columns]
            + [_number(entry["reranked"].get(name)) for name in reranked] for entry in rows]
    return tabulate(body, headers=labels + columns + [f"{name} re-ranked" for name in reranked],
                    floatfmt=".2f", missingval="-")


def _number(value):
    return None if value is None else float(value)  # every metric with two decimals, whole numbers too


def print_results(args, rows, documents):
    """End ``run`` or ``eval``: the JSON ``documents`` (records) with ``--json``, else the metrics table."""
    if args.json:
        print(json.dumps(documents, indent=2))
    elif rows:
        print(metrics_table(rows))
