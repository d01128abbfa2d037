"""Synthetic pretraining: the embedded protocol's stand-in for ImageNet weights.

Every paper fine-tunes an ImageNet-pretrained backbone; the embedded ``synthetic`` protocol cannot ship
or download ImageNet weights, and trained from scratch a triplet-only or dropout-heavy method learns
nothing in a CPU budget (``shared/PAPERS.md``, "The embedded protocol and pretraining"). So the harness
makes its own pretrained starting point, once per backbone architecture and geometry, deterministically,
and caches it like the dataset. It is *generic*, as ImageNet is to re-id: no image shows a person.

- **data** (:func:`pretraining_set`): dead-leaves compositions (:mod:`reid_bench.datasets.leaves`):
  coloured, textured shapes and fractals on textured backgrounds under random cameras, by construction
  no person, body part or re-id attribute; ``classes`` compositions of ``images_per_class``
  renderings each, plus held-out renderings to check that the task was learnt;
- **task**: composition classification (label smoothing 0.1) plus multi-label heads for the colours and
  the textures present, so colour and texture stay informative, as ImageNet features keep them;
- **schedule** (:data:`PRETRAINING`): AdamW with a linear warm-up and a cosine decay, flip and a random
  rescale (one factor per batch, so that the weights hold at the scales a stride or a dilation change
  gives), batch 64, a fixed number of iterations;
- **threads**: always :attr:`PretrainingRecipe.threads` CPU threads (2), whatever the process's own
  setting: a reduction split over another number of threads sums in another order, so the weights, and
  every record's ``weights_fingerprint``, followed the thread count of the run that happened to build the
  cache (measured: ResNet-18, six iterations, bit-identical on repeat at one thread count, different bits at
  1 and 2 threads; the board's seeds 1 and 2 had started from different ResNet-50 weights). Two, not one,
  because the quick start builds its weights on a 2-core machine (a ResNet-50 iteration 1.21 s at 1 thread,
  0.62 s at 2); on other CPUs (another instruction set) the bits may still differ, which the fingerprint shows;
- **geometry**: ResNets are pretrained at the last stride a method uses (layer4's stride 1 or 2;
  :func:`~reid_bench.models.backbones.resnet_geometry` reads it from the module being loaded; a dilated
  network takes the stride-2 weights, as it takes ImageNet's), so that no method starts from weights made
  for other feature-map sizes;
- **cache**: ``<cache>/pretrained/synthetic-<arch>[-<geometry>]-<fingerprint>.pth`` (torchvision's key
  names, no classifier) plus a ``.json`` of how it was made and its held-out accuracy, written atomically
  under a file lock, so parallel runs pretrain once. A changed recipe changes the fingerprint and
  pretrains again; a changed design raises :attr:`PretrainingRecipe.version`, which the record names
  (``"pretrained": "synthetic (reid_bench.models.pretraining v2)"``) and the leaderboard shows.

Version 1 (records before 2026-12-05) pretrained on generated pedestrians, the target task itself.
"""
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchvision
from torch import nn

from ..atomic import save_torch_atomic, write_text_atomic
from ..cache import cache_base, exclusive_lock
from ..datasets import synthetic
from ..datasets.leaves import PALETTE, TEXTURES, leaves_set
from .backbones import set_last_stride, zero_init_residuals
from ..spec import IMAGENET_MEAN, IMAGENET_STD

@dataclass(frozen=True)
class PretrainingRecipe:
    """How the pretrained weights are made (part of the cache fingerprint)."""

    classes: int = 400
    images_per_class: int = 24
    held_out_per_class: int = 2
    input_size: tuple = synthetic.INPUT_SIZE
    iterations: int = 600
    batch_size: int = 64
    lr: float = 1e-3
    warmup: float = 0.05
    weight_decay: float = 1e-4
    label_smooth: float = 0.1
    scale: tuple = (0.75, 1.25)
    seed: int = 20261205
    threads: int = 2
    version: int = 2

    def fingerprint(self, arch, geometry=None):
        config = {**asdict(self), "arch": arch, **(geometry or {})}
        return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


PRETRAINING = PretrainingRecipe()


def pretraining_set(recipe=None):
    """``(train, held_out)``, each ``(images, labels, colours, textures)`` of :func:`leaves_set` as
    tensors, the last ``held_out_per_class`` renderings of every class held out. Deterministic for a
    recipe (default :data:`PRETRAINING`)."""
    recipe = recipe or PRETRAINING
    images, labels, colours, textures = leaves_set(
        recipe.classes, recipe.images_per_class + recipe.held_out_per_class, recipe.input_size, recipe.seed)
    per_class = recipe.images_per_class + recipe.held_out_per_class
    held = (np.arange(len(labels)) % per_class) >= recipe.images_per_class
    tensors = [torch.from_numpy(array) for array in (images, labels, colours, textures)]
    return tuple(t[torch.from_numpy(~held)] for t in tensors), tuple(t[torch.from_numpy(held)] for t in tensors)


def build_backbone(arch, last_stride=2):
    """``(backbone, feature_dim)``: torchvision's ``arch`` from scratch (residual blocks starting as the
    identity), a ResNet with layer4's stride ``last_stride``, its classifier replaced by the identity so
    that it returns pooled features."""
    if arch in ("resnet18", "resnet34", "resnet50", "resnet101"):
        net = zero_init_residuals(set_last_stride(getattr(torchvision.models, arch)(weights=None), last_stride))
        dim = net.fc.in_features
        net.fc = nn.Identity()
    elif arch == "googlenet":
        net = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False, init_weights=True)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        net.dropout = nn.Identity()
    else:
        raise ValueError(f"no synthetic pretraining for {arch!r}; expected resnet18, resnet34, resnet50, resnet101 or "
                         "googlenet")
    return net, dim


class PretrainingNet(nn.Module):
    """The backbone with a composition classifier and multi-label colour and texture heads on its
    pooled feature."""

    def __init__(self, arch, num_classes, **geometry):
        super().__init__()
        self.backbone, dim = build_backbone(arch, **geometry)
        self.neck = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, num_classes)
        self.colours = nn.Linear(dim, len(PALETTE))
        self.textures = nn.Linear(dim, len(TEXTURES))

    def forward(self, images):
        feature = self.neck(self.backbone(images))
        return self.classifier(feature), self.colours(feature), self.textures(feature)


def _normalise(images):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def _augment(images, generator, scale):
    """Random horizontal flip and a random rescale of a uint8 batch (one factor in ``scale`` per batch),
    cropped or zero-padded back to its size at a random place per image, returned normalised."""
    batch, _, height, width = images.shape
    flip = torch.rand(batch, generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images).float()
    factor = scale[0] + (scale[1] - scale[0]) * float(torch.rand(1, generator=generator))
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    images = nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    pad_y, pad_x = max(height - size[0], 0), max(width - size[1], 0)
    images = nn.functional.pad(images, (pad_x, pad_x, pad_y, pad_y))
    span_y, span_x = images.shape[2] - height, images.shape[3] - width
    offsets = torch.stack([torch.randint(0, span_y + 1, (batch,), generator=generator),
                           torch.randint(0, span_x + 1, (batch,), generator=generator)], 1)
    crops = torch.stack([images[i, :, y:y + height, x:x + width] for i, (y, x) in enumerate(offsets.tolist())])
    return _normalise(crops)


def _losses(model, images, labels, colours, textures, label_smooth):
    logits, colour_logits, texture_logits = model(images)
    loss = (nn.functional.cross_entropy(logits, labels, label_smoothing=label_smooth)
            + nn.functional.binary_cross_entropy_with_logits(colour_logits, colours)
            + nn.functional.binary_cross_entropy_with_logits(texture_logits, textures))
    return loss, logits, colour_logits, texture_logits


@torch.no_grad()
def held_out_accuracy(model, held_out, batch_size=256):
    """Composition accuracy and colour / texture per-label accuracy on held-out renderings."""
    model.eval()
    images, labels, colours, textures = held_out
    correct = colour_hits = texture_hits = 0
    for start in range(0, len(labels), batch_size):
        end = start + batch_size
        logits, colour_logits, texture_logits = model(_normalise(images[start:end]))
        correct += int((logits.argmax(1) == labels[start:end]).sum())
        colour_hits += int(((colour_logits > 0).float() == colours[start:end]).sum())
        texture_hits += int(((texture_logits > 0).float() == textures[start:end]).sum())
    model.train()
    return {"class": correct / len(labels), "colour": colour_hits / colours.numel(),
            "texture": texture_hits / textures.numel()}


def pretrain(arch, recipe=None, log=print, **geometry):
    """Pretrain ``arch`` (in ``geometry``: ``last_stride``) on :func:`pretraining_set` at the recipe's
    thread count (the caller's is restored after); returns ``(state_dict, stats)``, the state dict with
    torchvision's key names and no classifier. ``recipe`` defaults to :data:`PRETRAINING`."""
    recipe = recipe or PRETRAINING
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        return _pretrain(arch, recipe, log, geometry)
    finally:
        torch.set_num_threads(threads)


def _pretrain(arch, recipe, log, geometry):
    """:func:`pretrain` at the thread count it has set."""
    started = time.perf_counter()
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    train, held_out = pretraining_set(recipe)
    images, labels, colours, textures = train
    made_s = time.perf_counter() - started
    model = PretrainingNet(arch, recipe.classes, **geometry).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    warmup = max(1, round(recipe.warmup * recipe.iterations))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(step, recipe.iterations) / recipe.iterations)))
    order = torch.randperm(len(labels), generator=generator)
    position, correct, seen = 0, 0, 0
    for step in range(recipe.iterations):
        if position + recipe.batch_size > len(order):
            order, position = torch.randperm(len(labels), generator=generator), 0
        index = order[position:position + recipe.batch_size]
        position += recipe.batch_size
        loss, logits, _, _ = _losses(model, _augment(images[index], generator, recipe.scale), labels[index],
                                     colours[index], textures[index], recipe.label_smooth)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step >= recipe.iterations - 50:  # training accuracy over the last 50 iterations
            correct += int((logits.argmax(1) == labels[index]).sum())
            seen += len(index)
        if (step + 1) % 100 == 0:
            log(f"synthetic pretraining {arch}: iteration {step + 1}/{recipe.iterations}, loss {loss.item():.3f}")
    held = held_out_accuracy(model, held_out) if len(held_out[1]) else {}
    state = {key: value for key, value in model.backbone.state_dict().items() if not key.startswith("fc.")}
    stats = {"arch": arch, "geometry": geometry, "recipe": asdict(recipe), "train_accuracy": correct / max(seen, 1),
             "held_out_accuracy": held, "chance": 1 / recipe.classes, "final_loss": loss.item(),
             "images_s": made_s, "wall_s": time.perf_counter() - started, "images": int(len(labels)),
             "torch": torch.__version__}
    return state, stats


def cache_dir():
    """``$REID_BENCH_CACHE/pretrained`` (default ``~/.cache/reid_bench/pretrained``)."""
    return os.path.join(cache_base(), "pretrained")


def geometry_name(geometry):
    """``""`` or ``"s1"``: a ResNet geometry in a cache file name."""
    return f"s{geometry['last_stride']}" if geometry.get("last_stride", 2) != 2 else ""


def synthetic_weights(arch, geometry=None, recipe=None, log=print):
    """Path of the cached synthetic-pretrained weights of ``arch`` in ``geometry`` (``last_stride``,
    default torchvision's 2; :func:`~reid_bench.models.backbones.resnet_geometry`), pretraining them first
    if they are not cached (one process at a time; the others wait and then read the same file).
    ``recipe`` defaults to :data:`PRETRAINING`."""
    recipe = recipe or PRETRAINING
    geometry = {key: value for key, value in (geometry or {}).items() if (key, value) != ("last_stride", 2)}
    folder = cache_dir()
    os.makedirs(folder, exist_ok=True)
    name = "-".join(part for part in ("synthetic", arch, geometry_name(geometry), recipe.fingerprint(arch, geometry))
                    if part)
    path = os.path.join(folder, f"{name}.pth")
    if os.path.isfile(path):
        return path
    with exclusive_lock(path + ".lock", waiting=f"the synthetic pretraining of {arch}", log=log):
        if os.path.isfile(path):
            return path
        where = f" at {geometry_name(geometry)}" if geometry else ""
        log(f"synthetic pretraining of {arch}{where} on generic dead-leaves images ({recipe.iterations} iterations "
            f"of {recipe.batch_size} images; once, cached in {folder})")
        state, stats = pretrain(arch, recipe, log, **geometry)
        write_text_atomic(os.path.splitext(path)[0] + ".json", json.dumps(stats, indent=2))
        save_torch_atomic(state, path)
        held_out = stats["held_out_accuracy"]
        log(f"synthetic pretraining of {arch} done in {stats['wall_s']:.0f} s (held-out accuracy "
            f"{100 * held_out.get('class', 0.0):.1f}%, chance {100 * stats['chance']:.2f}%)")
    return path
