"""Synthetic pretraining: the embedded protocol's stand-in for ImageNet weights.

Every paper fine-tunes an ImageNet-pretrained backbone; the embedded ``synthetic`` protocol cannot ship
or download ImageNet weights, and trained from scratch a triplet-only or dropout-heavy method learns
nothing in a CPU budget (``shared/PAPERS.md``, "The embedded protocol and pretraining"). So the harness
makes its own pretrained starting point, once per backbone architecture, deterministically, and caches
it like the dataset:

- **data** (:func:`pretraining_set`): pedestrians drawn by the synthetic generator with another seed,
  identities whose attribute combination is none of the re-id protocol's (train *and* test), seen by
  *random* cameras (gain, colour cast, contrast, noise and background drawn per image, not the
  protocol's six cameras), held in memory at the network's input size;
- **task**: identity classification (label smoothing 0.1) plus one classification head per clothing
  attribute (top and bottom colours, pattern, shoes, hair, skin, accessory, shorts), the attributes
  being what ImageNet's colour and texture features give a real re-id backbone;
- **schedule** (:data:`PRETRAINING`): AdamW with a one-cycle learning rate, flip + pad-crop, batch 64,
  a fixed number of iterations;
- **cache**: ``<cache>/pretrained/synthetic-<arch>-<fingerprint>.pth`` (torchvision's key names, no
  classifier) plus a ``.json`` of how it was made, written atomically under a file lock, so parallel
  runs pretrain once. A changed recipe changes the fingerprint and pretrains again.

Runs load these weights where they would load ImageNet's (:mod:`reid_bench.models.backbones`); the record
says ``"pretrained": "synthetic (...)"`` and the leaderboard groups and labels rows by it.
"""
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torchvision
from torch import nn

from ..atomic import save_torch_atomic, write_text_atomic
from .backbones import zero_init_residuals
from ..cache import cache_base, exclusive_lock
from ..datasets import synthetic
from ..spec import IMAGENET_MEAN, IMAGENET_STD

#: attribute heads: name -> number of classes (the generator's pools)
ATTRIBUTES = {
    "top": len(synthetic.TOP_COLOURS),
    "bottom": len(synthetic.BOTTOM_COLOURS),
    "pattern": len(synthetic.PATTERNS),
    "shoes": len(synthetic.SHOE_COLOURS),
    "hair": len(synthetic.HAIR_COLOURS),
    "skin": len(synthetic.SKIN_TONES),
    "accessory": len(synthetic.ACCESSORIES),
    "shorts": 2,
}


@dataclass(frozen=True)
class PretrainingRecipe:
    """How the synthetic-pretrained weights are made (part of the cache fingerprint)."""

    identities: int = 800
    images_per_identity: int = 8
    input_size: tuple = synthetic.INPUT_SIZE
    iterations: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smooth: float = 0.1
    padding: int = 4
    seed: int = 20261203
    version: int = 1

    def fingerprint(self, arch):
        config = {**asdict(self), "arch": arch, "generator": synthetic.GENERATOR_VERSION}
        return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


PRETRAINING = PretrainingRecipe()


def _identity_key(identity):
    """The discrete attributes that make an identity (continuous build and height left out)."""
    return tuple(sorted((k, v) for k, v in identity.items() if not isinstance(v, float)))


def _protocol_identity_keys():
    """Attribute combinations of every identity of the re-id protocol (train and test): its generator
    draws them first from its seeded stream, so replaying those draws gives them all."""
    rng = np.random.default_rng(synthetic.SEED)
    keys = set()
    for _ in range(synthetic.NUM_TRAIN_IDS + synthetic.NUM_TEST_IDS):
        keys.add(_identity_key(synthetic._draw_identity(rng)))
    return keys


def _random_camera(rng):
    """A camera not among the protocol's six: every photometric setting drawn at random."""
    return dict(gain=float(rng.uniform(0.5, 1.3)), cast=tuple(float(c) for c in rng.uniform(0.85, 1.15, 3)),
                contrast=float(rng.uniform(0.7, 1.25)), noise=float(rng.uniform(2.0, 9.0)),
                background=tuple(int(c) for c in rng.integers(40, 220, 3)))


def attribute_labels(identity):
    return [identity[name] if name != "shorts" else int(identity["shorts"]) for name in ATTRIBUTES]


def pretraining_set(recipe=None):
    """``(images, identity_labels, attribute_labels)``: uint8 ``(N, 3, H, W)`` at the recipe's input
    size, int64 ``(N,)`` and ``(N, len(ATTRIBUTES))``. Deterministic for a recipe (default
    :data:`PRETRAINING`)."""
    recipe = recipe or PRETRAINING
    rng = np.random.default_rng(recipe.seed)
    excluded = _protocol_identity_keys()
    identities = []
    while len(identities) < recipe.identities:
        identity = synthetic._draw_identity(rng)
        key = _identity_key(identity)
        if key not in excluded:
            excluded.add(key)
            identities.append(identity)
    height, width = recipe.input_size
    images, labels, attributes = [], [], []
    for label, identity in enumerate(identities):
        for _ in range(recipe.images_per_identity):
            image = synthetic.render(identity, 0, rng, camera=_random_camera(rng))
            images.append(np.asarray(image.resize((width, height), resample=2)))  # bilinear, as the loaders
            labels.append(label)
            attributes.append(attribute_labels(identity))
    images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels), torch.tensor(attributes)


def build_backbone(arch):
    """``(backbone, feature_dim)``: torchvision's ``arch`` from scratch (residual blocks starting as the
    identity), its classifier replaced by the identity so that it returns pooled features."""
    if arch in ("resnet50", "resnet101"):
        net = zero_init_residuals(getattr(torchvision.models, arch)(weights=None))
        dim = net.fc.in_features
        net.fc = nn.Identity()
    elif arch == "googlenet":
        net = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False, init_weights=True)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        net.dropout = nn.Identity()
    else:
        raise ValueError(f"no synthetic pretraining for {arch!r}; expected resnet50, resnet101 or googlenet")
    return net, dim


class PretrainingNet(nn.Module):
    """The backbone with an identity classifier and one classifier per attribute on its pooled feature."""

    def __init__(self, arch, num_identities):
        super().__init__()
        self.backbone, dim = build_backbone(arch)
        self.neck = nn.BatchNorm1d(dim)
        self.identity = nn.Linear(dim, num_identities)
        self.attributes = nn.ModuleDict({name: nn.Linear(dim, n) for name, n in ATTRIBUTES.items()})

    def forward(self, images):
        feature = self.neck(self.backbone(images))
        return self.identity(feature), {name: head(feature) for name, head in self.attributes.items()}


def _augment(images, generator, padding):
    """Random horizontal flip and zero-pad + random crop of a uint8 batch, returned normalised."""
    batch, _, height, width = images.shape
    flip = torch.rand(batch, generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
    padded = nn.functional.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (batch, 2), generator=generator)
    crops = torch.stack([padded[i, :, y:y + height, x:x + width] for i, (y, x) in enumerate(offsets.tolist())])
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (crops.float() / 255.0 - mean) / std


def pretrain(arch, recipe=None, log=print):
    """Pretrain ``arch`` on :func:`pretraining_set`; returns ``(state_dict, stats)``, the state dict with
    torchvision's key names and no classifier. ``recipe`` defaults to :data:`PRETRAINING`."""
    recipe = recipe or PRETRAINING
    started = time.perf_counter()
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    images, labels, attributes = pretraining_set(recipe)
    model = PretrainingNet(arch, recipe.identities).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=recipe.iterations)
    order = torch.randperm(len(labels), generator=generator)
    position, correct, seen = 0, 0, 0
    for step in range(recipe.iterations):
        if position + recipe.batch_size > len(order):
            order, position = torch.randperm(len(labels), generator=generator), 0
        index = order[position:position + recipe.batch_size]
        position += recipe.batch_size
        identity_logits, attribute_logits = model(_augment(images[index], generator, recipe.padding))
        loss = nn.functional.cross_entropy(identity_logits, labels[index], label_smoothing=recipe.label_smooth)
        for column, logits in enumerate(attribute_logits.values()):
            loss = loss + nn.functional.cross_entropy(logits, attributes[index, column]) / len(ATTRIBUTES)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step >= recipe.iterations - 50:  # training accuracy over the last 50 iterations
            correct += int((identity_logits.argmax(1) == labels[index]).sum())
            seen += len(index)
        if (step + 1) % 100 == 0:
            log(f"synthetic pretraining {arch}: iteration {step + 1}/{recipe.iterations}, loss {loss.item():.3f}")
    state = {key: value for key, value in model.backbone.state_dict().items() if not key.startswith("fc.")}
    stats = {"arch": arch, "recipe": asdict(recipe), "train_identity_accuracy": correct / max(seen, 1),
             "final_loss": loss.item(), "wall_s": time.perf_counter() - started,
             "images": int(len(labels)), "torch": torch.__version__}
    return state, stats


def cache_dir():
    """``$REID_BENCH_CACHE/pretrained`` (default ``~/.cache/reid_bench/pretrained``)."""
    return os.path.join(cache_base(), "pretrained")


def synthetic_weights(arch, recipe=None, log=print):
    """Path of the cached synthetic-pretrained weights of ``arch``, pretraining them first if they are
    not cached (one process at a time; the others wait and then read the same file). ``recipe``
    defaults to :data:`PRETRAINING`."""
    recipe = recipe or PRETRAINING
    folder = cache_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"synthetic-{arch}-{recipe.fingerprint(arch)}.pth")
    if os.path.isfile(path):
        return path
    with exclusive_lock(path + ".lock"):
        if os.path.isfile(path):
            return path
        log(f"synthetic pretraining of {arch} ({recipe.iterations} iterations of {recipe.batch_size} images; "
            f"once, cached in {folder})")
        state, stats = pretrain(arch, recipe, log)
        write_text_atomic(os.path.splitext(path)[0] + ".json", json.dumps(stats, indent=2))
        save_torch_atomic(state, path)
        log(f"synthetic pretraining of {arch} done in {stats['wall_s']:.0f} s "
            f"(identity accuracy {100 * stats['train_identity_accuracy']:.1f}% on its own training set)")
    return path
