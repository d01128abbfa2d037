"""The generic training engine: any registered method trains from its spec.

:class:`Trainer` and :class:`TrainStats` are imported on first use (PEP 562): the command line imports
light modules of this package (:mod:`.tracking`) without torch."""
import importlib

__all__ = ["Trainer", "TrainStats"]


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(".trainer", __name__), name)
