"""Training speed options (``--amp fp16|bf16``, ``--channels-last``, ``--compile``), which change how a
step runs on the device, not what the method learns; every result record says which were on.

- mixed precision: the forward pass and the loss terms run under ``torch.autocast`` in float16 (with
  loss scaling, ``torch.amp.GradScaler``) or bfloat16 (float32's exponent range, so no scaling), on CUDA
  only, as before: on a CPU a run is full precision whatever the recipe says;
- channels-last: the model's weights and each batch of images in NHWC layout, which cuDNN's tensor-core
  convolutions read without transposing;
- compile: the training step calls ``torch.compile(model)``, which shares the model's parameters; the
  model itself stays uncompiled, so checkpoints keep their names, and evaluation and torchreid's FLOP
  counter (whose hooks would break the graph) run it eagerly.
"""
from dataclasses import dataclass
from typing import Optional

import torch

from ..choices import AMP_NAMES

#: ``--amp`` modes and their autocast dtypes; the bare ``--amp`` (and a recipe's ``amp=True``) is fp16
AMP_DTYPES = dict(zip(AMP_NAMES, (torch.float16, torch.bfloat16)))


def amp_mode(requested, recipe_amp, device):
    """The mixed precision a run uses: ``"fp16"``, ``"bf16"`` or ``None`` (full precision).

    ``requested`` is ``--amp``'s value (``None``: the recipe decides, ``False``: ``--no-amp``, ``True``
    or a mode name), ``recipe_amp`` the recipe's flag; off on any device but CUDA."""
    if requested is None:
        requested = recipe_amp
    if requested is True:
        requested = "fp16"
    if not requested or torch.device(device).type != "cuda":
        return None
    if requested not in AMP_DTYPES:
        raise ValueError(f"unknown mixed precision {requested!r}; expected one of {', '.join(AMP_DTYPES)}")
    return requested


@dataclass(frozen=True)
class Acceleration:
    """How the trainer runs a step: ``amp`` (``None``, ``"fp16"``, ``"bf16"``), ``channels_last``, ``compile``."""

    amp: Optional[str] = None
    channels_last: bool = False
    compile: bool = False

    @property
    def amp_dtype(self):
        return AMP_DTYPES[self.amp] if self.amp else None

    def prepare_model(self, model):
        """Lay out ``model`` (already on its device) as asked; returns what a training step calls:
        ``model``, or its compiled form."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return torch.compile(model) if self.compile else model

    def prepare_images(self, images):
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def to_record(self):
        """The record's fields: ``amp`` (the mode or false), ``channels_last``, ``compile``."""
        return {"amp": self.amp or False, "channels_last": self.channels_last, "compile": self.compile}
