"""``reid-bench run``: train a method with a recipe on a protocol, evaluate it, write one record per seed."""
from ..choices import AMP_NAMES, WEIGHT_SOURCES
from ..engine.tracking import MLFLOW_INSTALL, TRACKERS
from ..recipes import RECIPES
from . import options, report

NAME = "run"


def add_run_options(parser):
    """The options of an experiment (``run``, ``config show``)."""
    parser.add_argument("--plugin", help="plugin (or method) name, see `reid-bench list` (or from --config)")
    parser.add_argument("--variant", help="named variant (default: the full method)")
    options.add_data_options(parser, dataset_required=False)
    options.add_config_options(parser)
    parser.add_argument("--test-on", nargs="+", default=[], metavar="PROTOCOL",
                        help="also test the trained model on these protocols (cross-domain), one record each")
    parser.add_argument("--recipe", choices=RECIPES, default="paper",
                        help="paper: the method's own recipe (default); uniform: the shared schedule")
    parser.add_argument("--seeds", type=options.NON_NEGATIVE, nargs="+", default=[0],
                        help="one run per seed (default 0)")
    parser.add_argument("--epochs", type=options.NON_NEGATIVE,
                        help="shorten or stretch the recipe to this many epochs (0: evaluate the untrained model)")
    parser.add_argument("--max-iters", type=options.POSITIVE, help="cap iterations per epoch (smoke tests)")
    parser.add_argument("--batch-size", type=options.POSITIVE,
                        help="override every stage's batch size (a multiple of a P x K sampler's K images per "
                             "identity)")
    parser.add_argument("--input-size", type=options.POSITIVE, nargs=2, metavar=("H", "W"),
                        help="override the input size")
    pretrained = parser.add_mutually_exclusive_group()
    pretrained.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                            help="start from pretrained weights (the default; ImageNet's, or on synthetic the "
                                 "harness's synthetic pretraining)")
    pretrained.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                            help="train from scratch")
    parser.add_argument("--pretrained-from", choices=WEIGHT_SOURCES,
                        help="which pretrained weights: imagenet (default on real protocols) or synthetic (made "
                             "once by the harness and cached; default on synthetic)")
    parser.add_argument("--weights-dir", help="folder (or file) with torchvision's ImageNet weight files")
    amp = parser.add_mutually_exclusive_group()
    amp.add_argument("--amp", dest="amp", nargs="?", const="fp16", choices=AMP_NAMES, default=None,
                     help="mixed precision on CUDA: fp16 (with loss scaling; the bare --amp) or bf16")
    amp.add_argument("--no-amp", dest="amp", action="store_false", help="full precision")
    parser.add_argument("--channels-last", action="store_true", help="channels-last (NHWC) weights and images")
    parser.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    parser.add_argument("--output", default="runs", help="run folders and results/ go here (default runs)")
    parser.add_argument("--eval-every", type=options.POSITIVE, metavar="N",
                        help="also evaluate every N epochs (the tracker and the record's history; never used to "
                             "pick a checkpoint)")
    parser.add_argument("--tracker", choices=TRACKERS, default="tensorboard",
                        help="where losses, learning rate and metrics are reported: tensorboard (default; "
                             "RUN/tensorboard), mlflow (an MLflow run per seed in MLFLOW_TRACKING_URI, default "
                             f"OUTPUT/mlruns; {MLFLOW_INSTALL}) or none")
    parser.add_argument("--keep-checkpoint", action="store_true",
                        help="keep the run folder's checkpoint.pt once the run has finished (default: only model.pt "
                             "is kept; an interrupted run always keeps its checkpoint for --resume)")
    parser.add_argument("--sync-bn", action="store_true",
                        help="under torchrun on CUDA: SyncBatchNorm, statistics over the global batch (default: "
                             "each process's BatchNorm sees its own share)")
    options.add_test_time_options(parser)


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="train, evaluate and write a result record",
                                 description="Train a method with a recipe on a protocol, evaluate it and write "
                                             "one result record per seed under OUTPUT/results. Options can come "
                                             "from a --config file; those given here win, and --set overrides any "
                                             "option or recipe value.")
    add_run_options(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its checkpoint, with the options it was started "
                             "with (a changed recipe, --epochs, --batch-size or --input-size is refused: the "
                             "run folder's recipe.json says what it was started with)")
    parser.add_argument("--overwrite", action="store_true", help="start again even if the run folder has a checkpoint")
    options.add_progress(parser)
    report.add_json_option(parser)
    return parser


def command(args, plugins):
    """Run every seed; end with the metrics table of its records (and the ``--test-on`` ones), or ``--json``."""
    from ..experiment import config as config_module
    from ..engine import distributed
    from ..experiment.runs import run

    experiment = options.experiment_of_args(args, args.given_options)
    done = []
    with report.quiet_stdout(args):
        for config in config_module.run_configs(experiment, resume=args.resume, overwrite=args.overwrite,
                                                progress=args.progress, command=tuple(args.command_line)):
            done += run(config, plugins)
    distributed.leave()  # every rank, together: the runs ended at one barrier
    distributed.end_other_rank()  # rank 0 reports
    rows = [report.row({"protocol": record["tested_on"], "seed": record["seed"]}, record["metrics"],
                       record["metrics_reranked"], record["evaluation"]) for record, _ in done]
    report.print_results(args, rows, [record for record, _ in done])
    return 0
