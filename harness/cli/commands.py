"""The command registry: every ``reid-bench`` command, in the order ``reid-bench --help`` lists them.

A command is a module of this package with ``NAME``, ``add_parser(commands, common)`` (adds its parser
to the ``commands`` sub-parsers; ``common`` is the parent parser every command takes) and
``command(args, plugins)`` (returns the exit status). Adding one is that module and its line here.
"""
from . import (check, compare, config, evaluate, export, extract, leaderboard, listing, new_plugin, run, search,
               sweep, visualize)

MODULES = (listing, run, config, sweep, evaluate, check, extract, search, export, compare, leaderboard, visualize,
           new_plugin)
COMMANDS = {module.NAME: module.command for module in MODULES}
