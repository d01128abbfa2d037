"""The base every command stands on: the parser whose errors are one ``error:`` line, the parent parser
every command takes (``--plugin-module``), which options a command line really gave, and running a
command so that user errors and refused files are one ``error:`` line (exit 2) without a traceback."""
import argparse
import sys

from ..errors import UserError
from ..plugin_manager import load_plugins


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line (exit 2), like the harness's other errors."""

    def error(self, message):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def common_parser(dest="plugin_module"):
    """The parent parser of every command: ``--plugin-module``."""
    common = Parser(add_help=False)
    common.add_argument("--plugin-module", dest=dest, action="append", default=[], metavar="MODULE",
                        help="import MODULE as a plugin (one not installed as a package); repeatable")
    return common


def given_options(make_parser, argv, commands):
    """The destinations of the options of ``commands`` (and their sub-commands) given on the command line
    ``argv`` (defaults left out), so that a --config file's values give way only to options really
    given; ``make_parser()`` builds the parser (whose defaults this changes)."""
    parser = make_parser()
    parsers = [parser]
    while parsers:
        for action in parsers.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(sub for name, sub in action.choices.items() if name in commands)
            else:
                action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def command_line(argv):
    """The command line of ``argv`` (the arguments after the program's name) as records keep it:
    ``["reid-bench", *argv]``."""
    return ["reid-bench", *argv]


def execute(args, command):
    """Load the plugins ``args`` asks for and run ``command(args, plugins)``; its exit status, 2 with one
    ``error:`` line for a user error or a file the system refuses, 130 when interrupted."""
    try:
        plugins = load_plugins(list(dict.fromkeys(args.plugin_module_before_command + args.plugin_module)))
        if args.command != "list":
            for problem in plugins.problems:
                print(f"warning: {problem}", file=sys.stderr)
        return command(args, plugins)
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
