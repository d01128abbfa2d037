"""The options more than one command takes, each declared once (the dataset and where it is, the device,
loader workers, a trained run's checkpoint, where a command writes, experiment configs, test-time
options), the whole-number argument types, and what parsed options make (test-time options, an experiment config)."""
import argparse

from ..choices import DISTANCES, EVALUATORS
from ..evaluation.test_time import QueryExpansion, Reranking, TestTimeOptions
from ..errors import UserError


def _integer(minimum, expected):
    """An argparse type: an integer ``>= minimum``; anything else is refused saying ``expected``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


POSITIVE = _integer(1, "a whole number of at least 1")
NON_NEGATIVE = _integer(0, "a whole number of at least 0")


def add_checkpoint(parser, required=True, help="a run folder or its model.pt (run.json beside it)"):
    """``--checkpoint``: a trained run (``parser`` may be a mutually exclusive group)."""
    parser.add_argument("--checkpoint", required=required, help=help)


def add_output(parser, help, required=False, default=None, metavar="PATH"):
    """``--output``: where a command writes its file or folder. ``--out``, its spelling before every command
    said ``--output``, is kept as an alias (listed in --help beside it)."""
    parser.add_argument("--output", "--out", dest="output", required=required, default=default, metavar=metavar,
                        help=help)


def add_dataset_location(parser):
    """``--root`` and ``--allow-partial``: where a protocol's dataset is, and whether a partial copy is fine."""
    parser.add_argument("--root", help="folder holding the dataset (synthetic: defaults to the cache folder)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept a dataset copy whose split sizes differ from the published ones")


def add_device(parser):
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")


def add_workers(parser, default=None, help="data loading processes (default: one per available CPU less one, "
                                           "at most 16; none on 1-2 CPUs)"):
    parser.add_argument("--workers", type=NON_NEGATIVE, default=default, help=help)


def add_progress(parser, help="no progress bar"):
    parser.add_argument("--no-progress", dest="progress", action="store_false", help=help)


def add_data_options(parser, several=False, dataset_required=True):
    """The protocol (``--dataset``, one or ``several``), its location, the device, loader workers and
    the evaluator: what ``run``, ``config show`` and ``eval`` share."""
    if several:
        parser.add_argument("--dataset", required=True, nargs="+", metavar="PROTOCOL",
                            help="protocol names (see `reid-bench list`); one record each")
    else:
        parser.add_argument("--dataset", required=dataset_required, help="protocol name (see `reid-bench list`)")
    add_dataset_location(parser)
    add_device(parser)
    add_workers(parser)
    parser.add_argument("--evaluator", choices=EVALUATORS, default="reid_bench",
                        help="retrieval metrics implementation (torchreid's is the reference)")


def add_config_options(parser):
    """``--config`` and ``--set`` (``run``, ``config show``, ``sweep``)."""
    parser.add_argument("--config", metavar="FILE",
                        help="a YAML config (see `reid-bench config show`); options given here win over it")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="override a run option or a recipe / loss-term value, e.g. "
                             "recipe.stages.0.optimizer.lr=1e-3 or loss_terms.triplet.weight=0.5; repeatable")


#: the parameters of query expansion and re-ranking: ``(option, type, default, help)``
TEST_TIME_PARAMETERS = (
    ("--aqe-k", POSITIVE, QueryExpansion.k, "features averaged per query expansion"),
    ("--aqe-alpha", float, QueryExpansion.alpha, "similarity exponent of query expansion"),
    ("--aqe-times", POSITIVE, QueryExpansion.times, "rounds of query expansion"),
    ("--rerank-k1", POSITIVE, Reranking.k1, "re-ranking k1"),
    ("--rerank-k2", POSITIVE, Reranking.k2, "re-ranking k2"),
    ("--rerank-lambda", float, Reranking.lambda_value, "re-ranking lambda, 0-1"),
)
#: the argparse destinations of :func:`add_test_time_options`, with their defaults
TEST_TIME_DEFAULTS = {"flip": False, "distance": "euclidean", "aqe": False,
                      **{option[2:].replace("-", "_"): default for option, _, default, _ in TEST_TIME_PARAMETERS}}


def add_test_time_options(parser):
    """The test-time options of ``run`` and ``eval`` (:mod:`reid_bench.evaluation.test_time`), re-ranking
    (``--rerank``, off by default in both) included."""
    group = parser.add_argument_group("test-time options (stated in the record's evaluation.test_time)")
    group.add_argument("--flip", action="store_true",
                       help="feature = mean of the image's and its horizontal mirror's embeddings")
    group.add_argument("--distance", choices=DISTANCES, default="euclidean",
                       help="euclidean (default) or cosine (L2-normalised features)")
    group.add_argument("--aqe", action="store_true", help="alpha-query expansion as fast-reid's TEST.AQE")
    rerank = group.add_mutually_exclusive_group()
    rerank.add_argument("--rerank", action="store_true",
                        help="also report k-reciprocal re-ranked metrics (off by default: its time grows with "
                             "(queries + gallery)^2, minutes on MSMT17-sized galleries, and the plain metrics "
                             "are the ones compared)")
    rerank.add_argument("--no-rerank", dest="rerank", action="store_false",
                        help="no re-ranked metrics: the default, kept for command lines written when run "
                             "re-ranked by default")
    for option, kind, default, text in TEST_TIME_PARAMETERS:
        group.add_argument(option, type=kind, default=default, help=f"{text} (default {default:g})")


def test_time_options(args):
    """The :class:`TestTimeOptions` that :func:`add_test_time_options`'s options ask for. A parameter of an
    option that is off (``--aqe-k`` without ``--aqe``, ``--rerank-k1`` without ``--rerank``) is refused rather
    than silently ignored."""
    unused = [("--aqe", not args.aqe, ("aqe_k", "aqe_alpha", "aqe_times")),
              ("--rerank", not args.rerank, ("rerank_k1", "rerank_k2", "rerank_lambda"))]
    for switch, off, names in unused:
        given = [f"--{name.replace('_', '-')}" for name in names
                 if off and getattr(args, name) != TEST_TIME_DEFAULTS[name]]
        if given:
            raise UserError(f"{', '.join(given)} given without {switch}")
    aqe = QueryExpansion(args.aqe_k, args.aqe_alpha, args.aqe_times) if args.aqe else None
    rerank = Reranking(args.rerank_k1, args.rerank_k2, args.rerank_lambda) if args.rerank else None
    return TestTimeOptions(flip=args.flip, distance=args.distance, aqe=aqe, rerank=rerank)


def experiment_of_args(args, given):
    """The :class:`~reid_bench.experiment.config.ExperimentConfig` of parsed ``run`` / ``config show``
    arguments; ``given`` names the options given on the command line (only those override the config
    file). The test-time switches (``--flip``, ``--aqe-k`` ...) given together make the ``test_time``
    option."""
    from ..experiment import config as config_module  # torch: imported when a command runs, not for --help

    document = config_module.read_config_file(args.config) if args.config else {}
    options = config_module.option_defaults()
    chosen = {}
    for name in given:
        if name in options or name == "recipe":
            value = getattr(args, name)
            chosen[name] = list(value) if name in ("seeds", "input_size", "test_on") else value
    if any(name in given for name in TEST_TIME_DEFAULTS):
        chosen["test_time"] = test_time_options(args)
    return config_module.merge_options(document, chosen,
                                       [config_module.parse_assignment(text) for text in args.assignments])
