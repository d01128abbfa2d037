"""ImageNet backbones from torchvision, with weights found offline or a clear error.

Pretrained weights come from ImageNet or, on the embedded protocol, from the harness's own synthetic
pretraining (:mod:`reid_bench.pretraining`, made once and cached). ImageNet weights are never downloaded. They are looked up, by torchvision's own file names, in the folder
given with ``--weights-dir`` (or a file given directly) and then in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``, ``~/.cache/torch/hub/checkpoints`` by default). Missing weights
raise :class:`MissingPretrainedWeightsError` saying where to put them or to pass ``--no-pretrained``.
"""
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torchvision

from ..errors import MissingPretrainedWeightsError

#: architecture -> torchvision weight enums whose files are accepted, preferred first
_WEIGHT_ENUMS = {
    "resnet50": ("ResNet50_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2")),
    "resnet101": ("ResNet101_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2")),
    "googlenet": ("GoogLeNet_Weights", ("IMAGENET1K_V1",)),
}


#: where pretrained weights can come from
WEIGHT_SOURCES = ("imagenet", "synthetic")


@dataclass(frozen=True)
class Pretrained:
    """Where pretrained weights come from. ``source="imagenet"``: ``path`` (a folder holding
    torchvision's weight files, or a single ``.pth`` file) and then the torch hub cache.
    ``source="synthetic"``: the harness's synthetic pretraining, made on first use and cached."""

    path: Optional[str] = None
    source: str = "imagenet"

    def describe(self):
        if self.source == "synthetic":
            from .pretraining import PRETRAINING

            return f"synthetic (reid_bench.pretraining v{PRETRAINING.version})"
        return f"imagenet ({self.path})" if self.path else "imagenet (torch hub cache)"

    def weights_for(self, arch):
        """Path of ``arch``'s weight file from this source."""
        if self.source == "synthetic":
            from .pretraining import synthetic_weights

            return synthetic_weights(arch)
        return find_imagenet_weights(arch, self)


def weight_file_names(arch):
    enum_name, members = _WEIGHT_ENUMS[arch]
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


def zero_init_residuals(module):
    """Start every residual block of ``module`` as the identity: the last BatchNorm of each block's
    residual branch gets weight 0 (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 5.1;
    torchvision's ``zero_init_residual``). A deep ResNet trained from scratch then behaves like a
    shallow one at first and learns in far fewer iterations; pretrained weights overwrite it."""
    for block in module.modules():
        last_norm = getattr(block, "bn3", None) if hasattr(block, "conv3") else getattr(block, "bn2", None)
        if hasattr(block, "conv1") and hasattr(block, "downsample") and isinstance(last_norm, torch.nn.BatchNorm2d):
            torch.nn.init.zeros_(last_norm.weight)
    return module


def load_imagenet_weights(module, arch, pretrained, strict=True):
    """Load ``arch``'s pretrained weights (ImageNet's or the synthetic ones, as ``pretrained`` says)
    into ``module``; without ``pretrained`` the module trains
    from scratch and its residual blocks start as the identity (:func:`zero_init_residuals`).

    With ``strict=False`` keys the module does not have (a classifier, auxiliary heads) are skipped,
    but every parameter the module and the file share must match in shape.
    """
    if not pretrained:
        return zero_init_residuals(module)
    state = torch.load(pretrained.weights_for(arch), map_location="cpu", weights_only=True)
    if not strict:
        own = module.state_dict()
        state = {k: v for k, v in state.items() if k in own}
    # The synthetic weights carry no classifier (``fc``): a strict load accepts that difference only.
    optional = ("fc.",) if pretrained.source == "synthetic" else ()
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.startswith(optional)]
    if strict and (missing or unexpected):
        raise RuntimeError(f"pretrained {arch} weights do not fit the model: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
    return module


def resnet(depth=50, pretrained=False, **kwargs):
    """A torchvision ResNet-50/101 (``kwargs`` go to torchvision, e.g.
    ``replace_stride_with_dilation``) with ImageNet weights when ``pretrained`` is given."""
    arch = f"resnet{depth}"
    if arch not in _WEIGHT_ENUMS:
        raise ValueError(f"unsupported ResNet depth {depth}; expected 50 or 101")
    model = getattr(torchvision.models, arch)(weights=None, **kwargs)
    return load_imagenet_weights(model, arch, pretrained)


def set_last_stride(net, stride):
    """Set the stride of a torchvision ResNet's layer4 (BoT/MSReID use last stride 1)."""
    block = net.layer4[0]
    block.conv2.stride = (stride, stride)
    block.downsample[0].stride = (stride, stride)
    return net


def googlenet(pretrained=False):
    """torchvision's GoogLeNet (Inception-V1 with BatchNorm), without auxiliary heads."""
    # ImageNet GoogLeNet weights expect torchvision's input re-normalisation (transform_input); the
    # synthetic ones were trained on the harness's normalisation.
    imagenet = bool(pretrained) and pretrained.source == "imagenet"
    model = torchvision.models.googlenet(
        weights=None, aux_logits=False, transform_input=imagenet, init_weights=not pretrained
    )
    return load_imagenet_weights(model, "googlenet", pretrained, strict=False)
