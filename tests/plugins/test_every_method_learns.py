"""Every built-in method can learn: its loss terms start on comparable scales, and a few dozen steps of
the engine's own training step on one tiny fixed batch drive its loss down and separate the batch's
identities.

This catches a method that cannot learn even when its equations match the paper (a penalty 1,000x the
metric loss, dropout inside the compared features, a collapsing embedding). The batch is 4 identities x
4 images of the synthetic protocol at 64x32, from scratch, with the harness's uniform recipe (Adam) at
lr 1e-3; each step is ``Trainer._step``, the engine's own.
"""
import math
from dataclasses import replace

import pytest
import torch

from reid_bench.engine.trainer import Trainer
from reid_bench.plugin_manager import load_plugins
from reid_bench.recipes import resolve_recipe
from reid_bench import Recipe
from reid_bench.data.transforms import build_test_transform

IDENTITIES, IMAGES_PER_IDENTITY, STEPS = 4, 4, 25
METHODS = ("baseline", "ccan", "self_attention", "mutual_attention", "sharp_attention", "msreid")


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


@pytest.fixture(scope="module")
def splits(plugins):
    return plugins.datasets.get("synthetic").load()


def _pair_layout(pids):
    """Order a P x K batch (K = 4) as consecutive pairs, alternately positive and negative (the layout of
    the ``mutual_attention_pairs`` sampler): each identity's images 0 and 1 form a positive pair, its
    image 2 and the next identity's image 3 a negative one."""
    by_pid = {}
    for index, pid in enumerate(pids):
        by_pid.setdefault(pid, []).append(index)
    people = sorted(by_pid)
    order = []
    for offset, pid in enumerate(people):
        order += [by_pid[pid][0], by_pid[pid][1]]
        order += [by_pid[pid][2], by_pid[people[(offset + 1) % len(people)]][3]]
    return order


def fixed_batch(splits, input_size, pairs):
    """4 identities x 4 training images, test-transformed (no augmentation), labels 0..3."""
    transform = build_test_transform(Recipe("test", ()), input_size)
    chosen, per_pid = [], {}
    for path, pid, _camid, *_ in splits.train:
        if len(per_pid) < IDENTITIES or pid in per_pid:
            if len(per_pid.setdefault(pid, [])) < IMAGES_PER_IDENTITY:
                per_pid[pid].append(path)
        if len(per_pid) == IDENTITIES and all(len(v) == IMAGES_PER_IDENTITY for v in per_pid.values()):
            break
    from PIL import Image

    for label, paths in enumerate(per_pid.values()):
        chosen += [(transform(Image.open(path).convert("RGB")), label) for path in paths]
    images, labels = torch.stack([c[0] for c in chosen]), torch.tensor([c[1] for c in chosen])
    if pairs:
        order = _pair_layout(labels.tolist())
        images, labels = images[order], labels[order]
    return {"img": images, "pid": labels}


def make_trainer(plugins, splits, name, tmp_path, variant=None):
    method = plugins.method_for_plugin(name)
    variant = variant or method.default_variant
    protocol = plugins.datasets.get("synthetic")
    recipe = resolve_recipe(method, protocol, "uniform")
    stage = recipe.stages[-1]
    stage = replace(stage, optimizer=replace(stage.optimizer, lr=1e-3), batch_size=IDENTITIES * IMAGES_PER_IDENTITY)
    recipe = replace(recipe, stages=(stage,))
    torch.manual_seed(0)
    builder = plugins.models.get(method.model)
    model = builder(IDENTITIES, task="reid", input_size=tuple(recipe.input_size), pretrained=False,
                    **method.model_kwargs_for(variant))
    trainer = Trainer(model=model, method=method, variant=variant, recipe=recipe, plugins=plugins, splits=splits,
                      num_classes=IDENTITIES, device="cpu", run_dir=str(tmp_path), workers=0, progress=False,
                      log=lambda *_: None)
    trainer._enter_stage(0, stage)
    if method.on_epoch_start is not None:
        method.on_epoch_start(model, 0, recipe)
    return trainer, method, recipe


def initial_losses(trainer, batch):
    """Each active term's weighted value at initialisation (train-mode forward, no step)."""
    trainer.model.train()
    with torch.no_grad():
        losses = trainer._losses(trainer.model(batch["img"]), batch["pid"])
    return {name: trainer.terms[name].weight * value.item() for name, value in losses.items()}


def refresh_batchnorm_statistics(model, batch):
    """Set every BatchNorm layer's running statistics to ``batch``'s under the current weights (one
    train-mode forward, cumulative average), as precise-BN does before testing: after the steps at lr 1e-3
    from scratch the running averages (momentum 0.1) still mix in the statistics of earlier weights, and
    an eval-mode forward through a deep BN network (ccan's GoogLeNet) then maps every image of the batch to
    nearly the same feature although the train-mode embeddings separate the identities."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    model.train()
    with torch.no_grad():
        model(batch["img"])
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def retrieval_rank1(model, batch):
    """Share of the batch's images whose nearest other image (eval-mode embeddings) is of their identity."""
    model.eval()
    with torch.no_grad():
        features = model(batch["img"])
    distances = torch.cdist(features, features)
    distances.fill_diagonal_(float("inf"))
    nearest = distances.argmin(dim=1)
    return (batch["pid"][nearest] == batch["pid"]).float().mean().item()


@pytest.mark.parametrize("name", METHODS)
def test_loss_terms_start_on_comparable_scales(plugins, splits, name, tmp_path):
    trainer, method, recipe = make_trainer(plugins, splits, name, tmp_path)
    batch = fixed_batch(splits, recipe.input_size, pairs=method.sampler_is_method)
    values = initial_losses(trainer, batch)
    assert all(math.isfinite(v) for v in values.values()), values
    positive = [abs(v) for v in values.values() if abs(v) > 1e-6]
    assert max(positive) < 100 * min(positive), values


def test_literal_sharp_attention_tv_dominates_its_triplet(plugins, splits, tmp_path):
    """Eq. 6 summed as written (variant ``sab+cu+tv-literal``) is over 100x the triplet loss at
    initialisation: the reason the method's default averages it (plugin docstring)."""
    trainer, method, recipe = make_trainer(plugins, splits, "sharp_attention", tmp_path, variant="sab+cu+tv-literal")
    values = initial_losses(trainer, fixed_batch(splits, recipe.input_size, pairs=False))
    assert set(values) == {"triplet", "tv_sum"}
    assert values["tv_sum"] > 100 * values["triplet"], values


@pytest.mark.parametrize("name", METHODS)
def test_a_few_dozen_steps_fit_a_fixed_batch(plugins, splits, name, tmp_path):
    trainer, method, recipe = make_trainer(plugins, splits, name, tmp_path)
    batch = fixed_batch(splits, recipe.input_size, pairs=method.sampler_is_method)
    before = retrieval_rank1(trainer.model, batch)
    trainer.model.train()
    totals = [trainer._step(batch)[0] for _ in range(STEPS)]
    first, last = sum(totals[:5]) / 5, sum(totals[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    refresh_batchnorm_statistics(trainer.model, batch)
    after = retrieval_rank1(trainer.model, batch)
    # chance is 3 of the 15 other images: 0.2
    assert after >= 0.5 and after > before, (before, after)
