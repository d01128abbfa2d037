"""The command line, the edge of the package: ``reid-bench <command>`` (:func:`main`), one module per
command (:mod:`.commands` lists them), the options they share in :mod:`.options`. Nothing else in
``reid_bench`` imports this package or parses arguments."""
from .commands import COMMANDS
from .main import build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
