"""``reid-bench config show``: a run's fully resolved config (options, recipe, loss terms) as YAML."""
from . import options
from .run import add_run_options

NAME = "config"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="show the fully resolved config of a run",
                                 description="Experiment configs (YAML): `reid-bench config show` prints one.")
    actions = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = actions.add_parser("show", parents=[common], help="print a run's fully resolved config as YAML",
                              description="Print the run options, the resolved recipe and the loss terms of a "
                                          "run as YAML, ready for `reid-bench run --config`.")
    add_run_options(show)
    return parser


def command(args, plugins):
    """``reid-bench config show``: print the fully resolved config as YAML."""
    from ..experiment import config as config_module

    experiment = options.experiment_of_args(args, args.given_options)
    print(config_module.resolved_config_text(experiment, plugins), end="")
    return 0
