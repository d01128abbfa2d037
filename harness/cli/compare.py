"""``reid-bench compare RUN_A RUN_B``: the mAP difference of two runs with a paired-bootstrap interval."""
from . import options

NAME = "compare"


def add_parser(commands, common):
    from ..results.significance import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES

    parser = commands.add_parser(NAME, parents=[common], help="mAP difference of two runs, with a confidence interval",
                                 description="The mAP difference of two runs (or two sets of seeds) on the same "
                                             "protocol, with a paired-bootstrap confidence interval over queries "
                                             "(and seeds).")
    parser.add_argument("run_a", metavar="RUN_A", help="a result record, a run folder, or the folder above "
                                                       "its seed folders (every seed)")
    parser.add_argument("run_b", metavar="RUN_B", help="the same for the other side (the difference is A - B)")
    parser.add_argument("--protocol", help="with run folders: the records on this protocol (default: the "
                                           "protocol the run was trained on)")
    parser.add_argument("--reranked", action="store_true", help="compare the re-ranked mAP")
    parser.add_argument("--resamples", type=options.POSITIVE, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    parser.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE,
                        help=f"interval confidence, between 0 and 1 (default {DEFAULT_CONFIDENCE})")
    parser.add_argument("--seed", type=options.NON_NEGATIVE, default=0, help="bootstrap random seed (default 0)")
    return parser


def command(args, plugins):
    """Print both sides and the comparison; exit status 0."""
    from ..results.compare import compare_runs

    compare_runs(args.run_a, args.run_b, protocol=args.protocol, reranked=args.reranked, resamples=args.resamples,
                 confidence=args.confidence, seed=args.seed)
    return 0
