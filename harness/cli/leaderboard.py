"""``reid-bench leaderboard``: regenerate ``leaderboards/`` from result records: per protocol the markdown
page, the same page as sortable HTML, its rows as CSV and its figures (:mod:`reid_bench.leaderboard`)."""
import argparse
import os
import sys

from ..errors import UserError
from ..leaderboard import DEFAULT_OUT_DIR, DEFAULT_RESULT_DIRS
from . import options

NAME = "leaderboard"


class _AppendReplacingDefault(argparse.Action):
    """A repeatable option whose first use replaces the default list instead of extending it."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, self.dest)
        setattr(namespace, self.dest, ([] if given is self.default else given) + [values])


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="regenerate leaderboards/ (markdown, HTML, CSV)",
                                 description="Regenerate the leaderboards from result records: per protocol "
                                             "<protocol>.md, the same page as sortable HTML (<protocol>.html), "
                                             "every row as CSV (<protocol>.csv) and the figures, and README.md "
                                             "linking them.")
    parser.add_argument(
        "--results", metavar="DIR", action=_AppendReplacingDefault, default=list(DEFAULT_RESULT_DIRS),
        help="a folder searched (recursively) for result records; repeatable "
             f"(default: {' and '.join(DEFAULT_RESULT_DIRS)})",
    )
    options.add_output(parser, metavar="DIR", default=DEFAULT_OUT_DIR,
                       help=f"where the pages and their index are written (default: {DEFAULT_OUT_DIR})")
    parser.add_argument("--include-smoke", action="store_true",
                        help="also show smoke runs (runs with --max-iters), which are left off by default")
    return parser


def command(args, plugins):
    from ..leaderboard import write_leaderboards

    if args.results != list(DEFAULT_RESULT_DIRS):  # folders named on purpose: without them every page would lose runs
        missing = [folder for folder in args.results if not os.path.isdir(folder)]
        if missing:
            raise UserError(f"--results {missing[0]}: no such folder; expected a folder of result records "
                            "(nothing was rewritten)")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise UserError(f"--output {args.output}: a file; expected a folder for the pages (or a path where one can "
                        "be made)")
    report = write_leaderboards(args.results, args.output, plugins, include_smoke=args.include_smoke)
    for folder in report.missing_dirs:
        print(f"warning: no result folder {folder}", file=sys.stderr)
    for path, reason in report.skipped:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    for path in report.written + report.figures:
        print(path)
    return 0
