"""``reid-bench``: the parser built from the command registry (:mod:`.commands`), and ``main``.

User errors (unknown names, missing data or weights, an existing run folder) and files the operating
system refuses (permissions, a full disk) print one line starting with ``error:`` and exit with status 2,
without a traceback (:func:`.base.execute`).
"""
import sys

from .base import Parser, command_line, common_parser, execute, given_options
from .commands import COMMANDS, MODULES

#: commands whose options may come from a --config file (``config`` through its ``show``)
CONFIGURED = ("run", "config", "show")


def build_parser():
    common = common_parser()
    # given before the command (`reid-bench --plugin-module X run ...`) it lands in its own list, which
    # the command's own --plugin-module (default []) cannot overwrite; execute() joins the two
    parser = Parser(
        prog="reid-bench",
        description="Benchmark person re-identification methods (plugins) under uniform protocols.",
        epilog="Example: reid-bench run --plugin baseline --dataset synthetic",
        parents=[common_parser("plugin_module_before_command")],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
        module.add_parser(commands, common)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = command_line(argv)  # what the records of `run` and `eval` say they came from
    args.given_options = given_options(build_parser, argv, CONFIGURED) if args.command in CONFIGURED else set()
    return execute(args, COMMANDS[args.command])
