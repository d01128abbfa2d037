"""reid-bench: a plugin-based benchmark harness for person re-identification, built on torchreid.

The public API for plugins is what this module exports; a plugin imports nothing else of the harness
(see DESIGN in the README).
"""
import importlib.metadata
import warnings

# torchreid warns at import that its Cython ranking is missing; reid-bench ranks with its own code.
warnings.filterwarnings("ignore", message="Cython evaluation", category=UserWarning)

from .models.backbones import googlenet, load_imagenet_weights, resnet, set_last_stride
from .errors import DatasetLayoutError, MissingPretrainedWeightsError, UserError
from .hookspecs import hookimpl
from .deploy.inference import ReidModel, extract_features, load_model
from .models.losses import BatchHardTripletTerm, CrossEntropyTerm, pairwise_distances, same_identity_mask
from .models.weights import Pretrained
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
