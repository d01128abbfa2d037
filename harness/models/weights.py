"""Where pretrained weights come from: ImageNet files found offline, or the harness's own synthetic
pretraining (:mod:`.pretraining`, made once and cached).

ImageNet weights are never downloaded. They are looked up, by torchvision's own file names, in the folder
given with ``--weights-dir`` (or a file given directly) and then in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``, ``~/.cache/torch/hub/checkpoints`` by default). Missing weights raise
:class:`MissingPretrainedWeightsError` saying where to put them or to pass ``--no-pretrained``.
"""
import os
from dataclasses import dataclass, field
from typing import Optional

import torch
import torchvision

from ..choices import WEIGHT_SOURCES
from ..errors import MissingPretrainedWeightsError
from .backbones import WEIGHT_ENUMS


#: where pretrained weights can come from


@dataclass(frozen=True)
class Pretrained:
    """Where pretrained weights come from. ``source="imagenet"``: ``path`` (a folder holding
    torchvision's weight files, or a single ``.pth`` file) and then the torch hub cache.
    ``source="synthetic"``: the harness's synthetic pretraining, made on first use and cached.

    ``loaded`` lists the weight files :meth:`weights_for` has handed out, in order: the files the models
    built with this choice started from (a record's ``weights_fingerprint``); ``tensors``, how many tensors each
    load took from its file (:func:`~reid_bench.models.backbones.load_imagenet_weights`; a record's
    ``pretrained_tensors``). Neither is part of the value."""

    path: Optional[str] = None
    source: str = "imagenet"
    loaded: list = field(default_factory=list, compare=False, repr=False)
    tensors: list = field(default_factory=list, compare=False, repr=False)

    def describe(self):
        if self.source == "synthetic":
            from .pretraining import PRETRAINING

            return f"synthetic (reid_bench.models.pretraining v{PRETRAINING.version})"
        return f"imagenet ({self.path})" if self.path else "imagenet (torch hub cache)"

    def weights_for(self, arch, geometry=None):
        """Path of ``arch``'s weight file from this source; synthetic weights are made for the ResNet
        ``geometry`` (:func:`~reid_bench.models.backbones.resnet_geometry`), ImageNet's come in one."""
        if self.source == "synthetic":
            from .pretraining import synthetic_weights

            path = synthetic_weights(arch, geometry)
        else:
            path = find_imagenet_weights(arch, self)
        self.loaded.append(path)
        return path


def weight_file_names(arch):
    enum_name, members = WEIGHT_ENUMS[arch]
    enum = getattr(torchvision.models, enum_name)
    return [os.path.basename(getattr(enum, member).url) for member in members]


def find_imagenet_weights(arch, pretrained):
    """Path of the ImageNet weight file for ``arch``; raises a user error naming where to put it."""
    names = weight_file_names(arch)
    folders = []
    if pretrained.path:
        if os.path.isfile(pretrained.path):
            return pretrained.path
        folders.append(pretrained.path)
    hub_dir = os.path.join(torch.hub.get_dir(), "checkpoints")
    folders.append(hub_dir)
    for folder in folders:
        for name in names:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
    raise MissingPretrainedWeightsError(
        f"ImageNet weights for {arch} not found (looked for {' or '.join(names)} in "
        f"{', '.join(folders)}). Nothing is downloaded: copy torchvision's weight file into "
        f"{hub_dir} or a folder passed with --weights-dir, or train from scratch with --no-pretrained."
    )
