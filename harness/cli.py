"""The ``reid-bench`` command line: ``list``, ``run``, ``eval``, ``check``, ``extract``, ``search``, ``export``,
``compare``, ``config``, ``sweep``, ``leaderboard`` and ``visualize``.

User errors (unknown names, missing data or weights, an existing run folder) and files the operating
system refuses (permissions, a full disk) print one line starting with ``error:`` and exit with status 2,
without a traceback.
"""
import argparse
import json
import sys
import textwrap

from .experiment import config as config_module
from .models.backbones import WEIGHT_SOURCES
from .engine.acceleration import AMP_DTYPES
from .errors import UserError
from .evaluation import test_time
from .evaluation.evaluate import EVALUATORS
from .plugin_manager import CORE_PLUGIN_NAME, load_plugins
from .recipes import RECIPES


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line (exit 2), like the harness's other errors."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


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


def _common_parser(dest="plugin_module"):
    common = _Parser(add_help=False)
    common.add_argument("--plugin-module", dest=dest, action="append", default=[], metavar="MODULE",
                        help="import MODULE as a plugin (one not installed as a package); repeatable")
    return common


def _data_arguments(parser, several=False, dataset_required=True):
    if several:
        parser.add_argument("--dataset", required=True, nargs="+", metavar="PROTOCOL",
                            help="protocol names (see `reid-bench list`); one record each")
    else:
        parser.add_argument("--dataset", required=dataset_required, help="protocol name (see `reid-bench list`)")
    parser.add_argument("--root", help="folder holding the dataset (synthetic: defaults to the cache folder)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept a dataset copy whose split sizes differ from the published ones")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--workers", type=NON_NEGATIVE,
                        help="data loading processes (default: one per available CPU less one, at most 16; "
                             "none on 1-2 CPUs)")
    parser.add_argument("--evaluator", choices=EVALUATORS, default="reid_bench",
                        help="retrieval metrics implementation (torchreid's is the reference)")


def _run_arguments(run):
    """The options of an experiment (``run`` and ``config show``)."""
    run.add_argument("--plugin", help="plugin (or method) name, see `reid-bench list` (or from --config)")
    run.add_argument("--variant", help="named variant (default: the full method)")
    _data_arguments(run, dataset_required=False)
    config_module.add_arguments(run)
    run.add_argument("--test-on", nargs="+", default=[], metavar="PROTOCOL",
                     help="also test the trained model on these protocols (cross-domain), one record each")
    run.add_argument("--recipe", choices=RECIPES, default="paper",
                     help="paper: the method's own recipe (default); uniform: the shared schedule")
    run.add_argument("--seeds", type=NON_NEGATIVE, nargs="+", default=[0], help="one run per seed (default 0)")
    run.add_argument("--epochs", type=NON_NEGATIVE, help="shorten or stretch the recipe to this many epochs (0: evaluate the untrained model)")
    run.add_argument("--max-iters", type=POSITIVE, help="cap iterations per epoch (smoke tests)")
    run.add_argument("--batch-size", type=POSITIVE,
                     help="override every stage's batch size (a multiple of a P x K sampler's K images per identity)")
    run.add_argument("--input-size", type=POSITIVE, nargs=2, metavar=("H", "W"), help="override the input size")
    pretrained = run.add_mutually_exclusive_group()
    pretrained.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                            help="start from pretrained weights (the default; ImageNet's, or on synthetic the "
                                 "harness's synthetic pretraining)")
    pretrained.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                            help="train from scratch")
    run.add_argument("--pretrained-from", choices=WEIGHT_SOURCES,
                     help="which pretrained weights: imagenet (default on real protocols) or synthetic (made once "
                          "by the harness and cached; default on synthetic)")
    run.add_argument("--weights-dir", help="folder (or file) with torchvision's ImageNet weight files")
    amp = run.add_mutually_exclusive_group()
    amp.add_argument("--amp", dest="amp", nargs="?", const="fp16", choices=AMP_DTYPES, default=None,
                     help="mixed precision on CUDA: fp16 (with loss scaling; the bare --amp) or bf16")
    amp.add_argument("--no-amp", dest="amp", action="store_false", help="full precision")
    run.add_argument("--channels-last", action="store_true", help="channels-last (NHWC) weights and images")
    run.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    run.add_argument("--output", default="runs", help="run folders and results/ go here (default runs)")
    run.add_argument("--no-rerank", dest="rerank", action="store_false", help="skip re-ranked metrics")
    run.add_argument("--eval-every", type=POSITIVE, metavar="N",
                     help="also evaluate every N epochs (TensorBoard and the record's history; never used to "
                          "pick a checkpoint)")
    run.add_argument("--sync-bn", action="store_true",
                     help="under torchrun on CUDA: SyncBatchNorm, statistics over the global batch (default: "
                          "each process's BatchNorm sees its own share)")
    test_time.add_arguments(run)


def build_parser():
    common = _common_parser()
    # given before the command (`reid-bench --plugin-module X run ...`) it lands in its own list, which
    # the command's own --plugin-module (default []) cannot overwrite; main() joins the two
    parser = _Parser(
        prog="reid-bench",
        description="Benchmark person re-identification methods (plugins) under uniform protocols.",
        epilog="Example: reid-bench run --plugin baseline --dataset synthetic",
        parents=[_common_parser("plugin_module_before_command")],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", parents=[common], help="show plugins, methods, variants and protocols",
                        description="Show the plugins (built-in and third-party) with their methods, "
                                    "variants and reported numbers, and the protocols with their splits.")

    run = commands.add_parser("run", parents=[common], help="train, evaluate and write a result record",
                              description="Train a method with a recipe on a protocol, evaluate it and write "
                                          "one result record per seed under OUTPUT/results. Options can come from "
                                          "a --config file; those given here win, and --set overrides any "
                                          "option or recipe value.")
    _run_arguments(run)
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint, with the options it was started "
                          "with (a changed recipe, --epochs, --batch-size or --input-size is refused: the "
                          "run folder's recipe.json says what it was started with)")
    run.add_argument("--overwrite", action="store_true", help="start again even if the run folder has a checkpoint")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    config = commands.add_parser("config", parents=[common], help="show the fully resolved config of a run",
                                 description="Experiment configs (YAML): `reid-bench config show` prints one.")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_commands.add_parser("show", parents=[common], help="print a run's fully resolved config as YAML",
                                      description="Print the run options, the resolved recipe and the loss terms "
                                                  "of a run as YAML, ready for `reid-bench run --config`.")
    _run_arguments(show)

    sweep = commands.add_parser("sweep", parents=[common], help="run a grid of experiments (local or Slurm)",
                                description="Run every cell of a grid (plugins x variants x datasets x recipes x "
                                            "seeds x override sets) as one `reid-bench run`, through submitit; "
                                            "cells already done are skipped, interrupted ones resumed.")
    from .experiment import sweep as sweep_module

    sweep_module.add_arguments(sweep)

    evaluate = commands.add_parser("eval", parents=[common], help="evaluate a trained model or saved features",
                                   description="Evaluate the model.pt of a run folder, or saved query and gallery "
                                               "features, on one or more protocols.")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a run folder or its model.pt (run.json beside it)")
    source.add_argument("--features", nargs=2, metavar=("QUERY", "GALLERY"),
                        help="saved query and gallery features (.npz from `reid-bench extract` or another tool: "
                             "features, paths) instead of a model")
    _data_arguments(evaluate, several=True)
    evaluate.add_argument("--output", help="with --checkpoint, records go to OUTPUT/results (default: the results "
                                           "folder of the run's own output)")
    evaluate.add_argument("--rerank", action="store_true", help="also report re-ranked metrics")
    evaluate.add_argument("--eval-batch-size", type=POSITIVE, default=128)
    test_time.add_arguments(evaluate)

    check = commands.add_parser("check", parents=[common], help="verify that every image of a dataset decodes",
                                description="Decode every image of a protocol's splits and list those that cannot "
                                            "be read (a run stops at the first one).")
    from .data import check as check_module

    check_module.add_arguments(check)

    from .deploy import export as export_module, inference

    extract = commands.add_parser("extract", parents=[common], help="write the features of your own images",
                                  description="Extract a trained model's test-time features for a folder or glob "
                                              "of images into an .npz (features, paths).")
    inference.add_extract_arguments(extract)
    search = commands.add_parser("search", parents=[common], help="rank a gallery's saved features for query images",
                                 description="Print the nearest gallery images (Euclidean distance on the "
                                             "model's test features) of each query image.")
    inference.add_search_arguments(search)
    export = commands.add_parser("export", parents=[common], help="export a trained model to ONNX",
                                 description="Export a run's model (its test-time features) to ONNX and check "
                                             "the file with onnxruntime against PyTorch.")
    export_module.add_arguments(export)

    compare = commands.add_parser("compare", parents=[common], help="mAP difference of two runs, with a confidence interval",
                                  description="The mAP difference of two runs (or two sets of seeds) on the same "
                                              "protocol, with a paired-bootstrap confidence interval over queries "
                                              "(and seeds).")
    from .results import compare as compare_module

    compare_module.add_arguments(compare)

    leaderboard = commands.add_parser("leaderboard", parents=[common], help="regenerate leaderboards/*.md",
                                      description="Regenerate the markdown leaderboards from result records.")
    from . import leaderboard as leaderboard_module

    leaderboard_module.add_arguments(leaderboard)

    visualize = commands.add_parser("visualize", help="pictures of a run: ranked results, attention maps, curves",
                                    description="Draw a trained run's ranked results, attention maps or "
                                                "training curves.")
    from . import visualize as visualize_module

    visualize_module.add_arguments(visualize, common)
    return parser


def _report_problems(plugins, stream=sys.stderr):
    for problem in plugins.problems:
        print(f"warning: {problem}", file=stream)


def _format_metrics(metrics):
    return ", ".join(f"{k} {v:g}" for k, v in metrics.items())


def command_list(args, plugins):
    print("Plugins")
    for name in sorted(set(plugins.plugins) - {CORE_PLUGIN_NAME}):
        print(f"  {name}  ({plugins.sources[name]})")
        for method_name in plugins.methods_of(name):
            method = plugins.methods.get(method_name)
            print(f"    method {method.name}: {method.title}" + (f"  <{method.url}>" if method.url else ""))
            variants = [f"{v} (default)" if v == method.default_variant else v for v in method.variants]
            print(textwrap.fill("variants: " + ", ".join(variants), width=100, initial_indent=" " * 6,
                                subsequent_indent=" " * 16))
            for reported in method.reported:
                where = f" measured on {reported.measured_on}" if reported.measured_on else ""
                what = f"{reported.variant or method.default_variant}{' re-ranked' if reported.reranked else ''}"
                print(f"      reported {reported.protocol} [{what}]{where}: {_format_metrics(reported.metrics)} "
                      f"({reported.source})")
    print("\nProtocols")
    for name, protocol in plugins.datasets.items():
        trials = f", {protocol.trials} trials" if protocol.trials > 1 else ""
        if protocol.overrides:
            trials += f"; every recipe: {protocol.overrides}"
        print(f"  {name:<26} {protocol.task:<15} {protocol.split}{trials}")
    print(f"\nRecipes: {', '.join(RECIPES)}")
    if plugins.problems:
        print("\nProblems")
        for problem in plugins.problems:
            print(f"  {problem}")
    return 0


def command_run(args, plugins):
    from .experiment.runs import run

    experiment = config_module.experiment_from_args(args, args.given_options)
    for config in config_module.run_configs(experiment, resume=args.resume, overwrite=args.overwrite,
                                            progress=args.progress):
        run(config, plugins)
    return 0


def command_sweep(args, plugins):
    from .experiment.sweep import command

    return command(args, plugins)


def command_config(args, plugins):
    return config_module.command_show(args, plugins, args.given_options)


def command_eval(args, plugins):
    from .deploy.inference import evaluate_feature_files
    from .experiment.runs import evaluate_checkpoint

    options = test_time.from_arguments(args)
    if args.features:
        done = [(dataset, evaluate_feature_files(*args.features, plugins, dataset=dataset, root=args.root,
                                                 allow_partial=args.allow_partial, evaluator=args.evaluator,
                                                 options=options, device=args.device), None)
                for dataset in dict.fromkeys(args.dataset)]
    else:
        done = evaluate_checkpoint(args.checkpoint, plugins, datasets=args.dataset, root=args.root,
                                   device=args.device, workers=args.workers, evaluator=args.evaluator,
                                   rerank=args.rerank, allow_partial=args.allow_partial,
                                   eval_batch_size=args.eval_batch_size, test_time=options, output=args.output)
    for protocol, evaluation, record_path in done:
        print(json.dumps({"protocol": protocol, "metrics": evaluation.metrics,
                          "metrics_reranked": evaluation.metrics_reranked, "evaluation": evaluation.details,
                          "record": record_path}, indent=2))
    return 0


def command_check(args, plugins):
    from .data.check import command

    return command(args, plugins)


def command_extract(args, plugins):
    from .deploy.inference import command_extract

    return command_extract(args, plugins)


def command_search(args, plugins):
    from .deploy.inference import command_search

    return command_search(args, plugins)


def command_export(args, plugins):
    from .deploy.export import command

    return command(args, plugins)


def command_compare(args, plugins):
    from .results.compare import command

    return command(args, plugins)


def command_leaderboard(args, plugins):
    from .leaderboard import write_leaderboards

    report = write_leaderboards(args.results, args.out, plugins, include_smoke=args.include_smoke)
    for folder in report.missing_dirs:
        print(f"warning: no result folder {folder}", file=sys.stderr)
    for path, reason in report.skipped:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    for path in report.written + report.figures:
        print(path)
    return 0


def command_visualize(args, plugins):
    from .visualize import command

    return command(args, plugins)


COMMANDS = {"list": command_list, "run": command_run, "eval": command_eval, "check": command_check,
            "extract": command_extract, "search": command_search, "export": command_export,
            "compare": command_compare, "config": command_config, "sweep": command_sweep, "leaderboard": command_leaderboard, "visualize": command_visualize}


def given_options(argv):
    """The destinations of the ``run`` / ``config show`` options given on the command line ``argv``
    (defaults left out), so that a --config file's values give way only to options really given."""
    parser = build_parser()
    parsers = [parser]
    while parsers:
        for action in parsers.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(sub for name, sub in action.choices.items() if name in ("run", "config", "show"))
            else:
                action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.given_options = given_options(argv) if args.command in ("run", "config") else set()
    try:
        plugins = load_plugins(list(dict.fromkeys(args.plugin_module_before_command + args.plugin_module)))
        if args.command != "list":
            _report_problems(plugins)
        return COMMANDS[args.command](args, plugins)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the environment refused a file: permissions, a full disk, a vanished folder
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot access{where}: {exc.strerror or exc}; expected a readable (and, for outputs, "
              "writable) path with space left", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last completed epoch is checkpointed: rerun with --resume to continue",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
