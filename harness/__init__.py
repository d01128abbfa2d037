"""reid-bench: a plugin-based benchmark harness for person re-identification, built on torchreid.

The public API for plugins is what this module exports; a plugin imports nothing else of the harness
(see DESIGN in the README).
"""
import importlib
import importlib.metadata
import warnings

# torchreid warns at import that its Cython ranking is missing; reid-bench ranks with its own code.
warnings.filterwarnings("ignore", message="Cython evaluation", category=UserWarning)

from .errors import DatasetLayoutError, MissingPretrainedWeightsError, UserError
from .hookspecs import hookimpl
from .spec import (
    Augment,
    Budget,
    ClassificationSplits,
    LossTerm,
    LRSchedule,
    MethodSpec,
    OptimizerSpec,
    ProtocolSpec,
    Recipe,
    ReidSplits,
    Reported,
    SamplerSpec,
    Stage,
    Variant,
)

#: the exported names that need torch, and the module of each: imported on first use (PEP 562), so that
#: importing the package (``reid-bench --help``, ``reid-bench list``) does not import torch
_LAZY = {
    **dict.fromkeys(("googlenet", "load_imagenet_weights", "resnet", "set_last_stride"), ".models.backbones"),
    **dict.fromkeys(("ReidModel", "extract_features", "load_model"), ".deploy.inference"),
    **dict.fromkeys(("BatchHardTripletTerm", "CrossEntropyTerm", "pairwise_distances", "same_identity_mask"),
                    ".models.losses"),
    "Pretrained": ".models.weights",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


try:  # the one place of the version is pyproject.toml
    __version__ = importlib.metadata.version("reid-bench")
except importlib.metadata.PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = None

__all__ = [
    "Augment",
    "BatchHardTripletTerm",
    "Budget",
    "CrossEntropyTerm",
    "ClassificationSplits",
    "DatasetLayoutError",
    "LossTerm",
    "LRSchedule",
    "MethodSpec",
    "MissingPretrainedWeightsError",
    "OptimizerSpec",
    "Pretrained",
    "ProtocolSpec",
    "Recipe",
    "ReidModel",
    "ReidSplits",
    "Reported",
    "SamplerSpec",
    "Stage",
    "UserError",
    "Variant",
    "extract_features",
    "googlenet",
    "hookimpl",
    "load_model",
    "load_imagenet_weights",
    "pairwise_distances",
    "resnet",
    "same_identity_mask",
    "set_last_stride",
]
