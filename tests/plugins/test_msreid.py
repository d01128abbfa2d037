"""The msreid plugin: soft attention, mask separation, center loss, variants, recipe, the shared triplet and
label-smoothed cross-entropy terms by hand, the engine's centre step, and a CLI run."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from reid_bench import ClassificationSplits, ProtocolSpec
from reid_bench.engine import Trainer
from reid_bench.engine.trainer import build_loss_module
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.msreid.attention import SoftAttention
from reid_bench.plugins.msreid.losses import CenterLoss
from reid_bench.plugins.msreid.method import CENTER_WEIGHT, FEATURE_DIM, METHOD
from reid_bench.plugins.msreid.model import build_msreid

NUM_CLASSES = 4
TARGETS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def inert_at_init(module, cancelled_biases):
    """Names of the parameters whose gradient is zero by construction at initialisation, not by a
    broken path: the biases torchreid's ``ConvBlock`` keeps right before its BatchNorm, and the spatial
    branch's stride-2 block scale ``spatial.down.bn.weight``: with the BN bias at its initial 0,
    ``relu(w * x_hat)`` is ``w * relu(x_hat)``, and the next block's convolution and train-mode BatchNorm
    remove that scale, so its gradient is zero up to BN's eps (float noise of about 1e-7).
    """
    down_scales = {name for name, _ in module.named_parameters() if name.endswith("spatial.down.bn.weight")}
    return cancelled_biases(module) | down_scales


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(["reid_bench.plugins.msreid"], use_entry_points=False)


def method_loss(plugins, outputs, targets, variant=None):
    """The variant's weighted objective (Eq. 4 per branch), loss modules built as the engine does."""
    terms = METHOD.loss_terms_for(variant)
    return sum(
        term.weight * build_loss_module(plugins.losses.get(term.loss), dict(term.kwargs), NUM_CLASSES)(outputs, targets)
        for term in terms
    )


@pytest.fixture(scope="module")
def trained_step(plugins):
    """The full model (ALM) after one forward/backward through its loss terms at 64x32, with the
    arguments its two masked poolings received."""
    torch.manual_seed(0)
    model = build_msreid(NUM_CLASSES, **METHOD.model_kwargs_for())
    pooled = {}
    hooks = [model.global_pool.register_forward_hook(lambda module, args, out: pooled.update(global_args=args)),
             model.local_pool.register_forward_hook(lambda module, args, out: pooled.update(local_args=args))]
    outputs = model(torch.randn(len(TARGETS), 3, 64, 32))
    for hook in hooks:
        hook.remove()
    method_loss(plugins, outputs, TARGETS).backward()
    return model, outputs, pooled


def test_registration(plugins):
    assert plugins.models.get("msreid") is build_msreid
    assert plugins.losses.get("msreid_center") is CenterLoss
    method = plugins.methods.get("msreid")
    assert method.default_variant == "ALM"
    assert set(method.variants) == {"ALM", "AL", "AM", "LM", "A", "L", "M", "base"}
    assert {r.protocol: (r.metrics["R1"], r.metrics["mAP"]) for r in method.reported} == {
        "market1501": (95.8, 88.8), "dukemtmcreid": (90.2, 80.6),
        "cuhk03-labeled": (84.6, 81.9), "cuhk03-detected": (82.7, 79.5),
    }
    assert not plugins.problems


def test_soft_attention_is_in_unit_interval_and_reaches_every_parameter(cancelled_biases):
    torch.manual_seed(0)
    attention = SoftAttention(32)
    x = torch.randn(3, 32, 7, 5)  # odd sizes: the upsampling returns to 7x5
    y = attention(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert y.min() < 0.5  # no ReLU before the sigmoid (torchreid's SoftAttn stays in [0.5, 1])
    # the learned weighted channel average starts as HA-CNN's plain average
    assert torch.allclose(attention.spatial.channel_pool(x), x.mean(1, keepdim=True), atol=1e-6)
    (y * torch.randn_like(y)).sum().backward()
    assert all(p.grad is not None for p in attention.parameters())
    inert = inert_at_init(attention, cancelled_biases)
    assert inert == {"spatial.down.conv.bias", "spatial.down.bn.weight", "spatial.refine.conv.bias",
                     "channel.conv1.conv.bias", "channel.conv2.conv.bias"}
    assert all(p.grad.abs().sum() > 0 for name, p in attention.named_parameters() if name not in inert)


def test_gradients_reach_every_new_parameter(trained_step, cancelled_biases):
    model = trained_step[0]
    new = [(n, p) for n, p in model.named_parameters()
           if p.requires_grad and not n.startswith(("stem.", "stages."))]
    assert len(new) > 50
    assert [n for n, p in new if p.grad is None] == []
    inert = inert_at_init(model, cancelled_biases)
    assert [n for n, p in new if n not in inert and not p.grad.abs().sum() > 0] == []
    assert not model.global_neck.bn.bias.requires_grad and not model.local_neck.bn.bias.requires_grad


def test_mask_is_one_channel_in_unit_interval_and_the_local_branch_sees_its_complement(trained_step):
    model, outputs, pooled = trained_step
    mask = outputs["mask"]
    assert mask.shape == (len(TARGETS), 1, 4, 2) and mask.min() >= 0 and mask.max() <= 1
    assert pooled["global_args"][1] is mask
    local_map, local_mask = pooled["local_args"]
    assert torch.equal(local_mask, 1 - mask)
    masked = local_map * (1 - mask)
    expected = masked.mean(dim=(2, 3)) + masked.flatten(2).max(dim=2).values
    assert torch.allclose(outputs["local_embedding"], expected)
    assert set(model.attention_maps) == {f"soft_attention_layer{i}" for i in range(1, 5)} | {"mask"}
    assert torch.equal(model.attention_maps["mask"], mask.detach())


def test_center_loss_matches_a_hand_computed_value():
    loss = CenterLoss(num_classes=2, feature_dim=2, output="f")
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    # squared distances to the own centre: (1 + 1), (4 + 9), (0 + 1); batch mean
    assert loss({"f": features}, torch.tensor([0, 1, 0])).item() == pytest.approx(16 / 3)


def test_centers_move_only_under_their_own_optimizer():
    torch.manual_seed(0)
    features = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]))
    targets = torch.tensor([0, 1, 0])
    loss = CenterLoss(num_classes=3, feature_dim=2, output="f")
    main = torch.optim.Adam([features], lr=0.1)
    own_term = next(t for t in METHOD.loss_terms if t.name == "global_center")
    own = torch.optim.SGD(loss.parameters(), lr=own_term.optimizer.lr, momentum=own_term.optimizer.momentum)
    centers = loss.centers.detach().clone()
    loss({"f": features}, targets).backward()
    main.step()
    assert torch.equal(loss.centers, centers)
    own.step()
    # dL/dc_k = (2 / B) * sum over the batch's samples of class k of (c_k - f_i); class 2 is absent
    grad = torch.stack([2 / 3 * ((centers[0] - torch.tensor([1.0, 2.0])) + (centers[0] - torch.tensor([0.0, 0.0]))),
                        2 / 3 * (centers[1] - torch.tensor([3.0, 4.0])),
                        torch.zeros(2)])
    assert torch.allclose(loss.centers, centers - 0.5 * grad)


VARIANT_FEATURE_DIMS = {"ALM": 3072, "AL": 3072, "LM": 3072, "L": 3072, "AM": 1536, "A": 1536, "M": 1536, "base": 1536}


@pytest.mark.parametrize("variant", sorted(VARIANT_FEATURE_DIMS))
def test_variant_builds_trains_and_has_its_feature_size(plugins, variant):
    torch.manual_seed(0)
    model = build_msreid(NUM_CLASSES, **METHOD.model_kwargs_for(variant))
    outputs = model(torch.randn(len(TARGETS), 3, 32, 16))
    assert ("mask" in outputs) == ("M" in variant) and ("local_embedding" in outputs) == ("L" in variant)
    assert ("soft_attention_layer1" in model.attention_maps) == ("A" in variant)
    method_loss(plugins, outputs, TARGETS, variant).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        embedding = model(torch.randn(2, 3, 32, 16))
    assert embedding.shape == (2, VARIANT_FEATURE_DIMS[variant]) == (2, model.embedding_dim)
    assert f"{VARIANT_FEATURE_DIMS[variant]}-d" in METHOD.variants[variant].description


def test_reid_eval_returns_the_concatenated_pre_bn_features(trained_step):
    model = trained_step[0]
    seen = {}
    hooks = [model.global_pool.register_forward_hook(lambda module, args, out: seen.update(g=out)),
             model.local_pool.register_forward_hook(lambda module, args, out: seen.update(l=out))]
    model.eval()
    with torch.no_grad():
        embedding = model(torch.randn(2, 3, 64, 32))
    for hook in hooks:
        hook.remove()
    assert torch.equal(embedding, torch.cat([seen["g"], seen["l"]], dim=1))


def test_classification_eval_sums_the_branch_logits():
    torch.manual_seed(0)
    model = build_msreid(100, task="classification", **METHOD.model_kwargs_for()).eval()
    seen = {}
    model.global_neck.register_forward_hook(lambda module, args, out: seen.update(g=out))
    model.local_neck.register_forward_hook(lambda module, args, out: seen.update(l=out))
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 100) and torch.equal(logits, seen["g"] + seen["l"])


def protocol(name):
    return ProtocolSpec(name=name, task="reid", title=name, split="", load=None)


def test_paper_recipe():
    recipe = METHOD.paper_recipe(protocol("market1501"))
    (stage,) = recipe.stages
    assert recipe.amp and recipe.epochs == 180 and recipe.input_size == (256, 128)
    assert stage.batch_size == 96 and stage.sampler.kwargs == {"num_instances": 3}
    assert stage.optimizer.name == "adam"
    lr = {epoch: stage.optimizer.lr * stage.schedule.factor(epoch) for epoch in (0, 5, 10, 59, 60, 120, 179)}
    assert lr == pytest.approx({0: 1.5e-4, 5: 8.25e-4, 10: 1.5e-3, 59: 1.5e-3, 60: 1.5e-4, 120: 1.5e-5, 179: 1.5e-5})
    assert [a.name for a in recipe.train_transforms] == ["random_flip", "pad_crop", "random_erase"]
    margins = {t.name: t.kwargs["margin"] for t in METHOD.loss_terms_for(None, recipe) if t.loss == "triplet"}
    assert margins == {"global_triplet": 0.3, "local_triplet": 0.3}
    cuhk03 = METHOD.paper_recipe(protocol("cuhk03-detected"))
    margins = {t.name: t.kwargs["margin"] for t in METHOD.loss_terms_for(None, cuhk03) if t.loss == "triplet"}
    assert margins == {"global_triplet": 1.2, "local_triplet": 1.2}
    centers = [t for t in METHOD.loss_terms if t.loss == "msreid_center"]
    assert [(t.weight, t.optimizer.name, t.optimizer.lr) for t in centers] == [(5e-4, "sgd", 0.5)] * 2


def test_cli_run_writes_a_record(short_run):
    # P x K = 4 x 3 (the batch size must be a multiple of the recipe's 3 instances per identity);
    # 32x16 images keep the evaluation of the synthetic gallery cheap
    record = short_run("msreid", "--batch-size", "12", "--input-size", "32", "16")
    assert record["method"] == "msreid" and record["variant"] == "ALM" and record["protocol"] == "synthetic"
    assert record["input_size"] == [32, 16] and record["params"] > 40e6
    assert record["metrics"]["mAP"] is not None


# -- the shared loss terms as msreid configures them, by hand -----------------------------------------------
def configured_term(plugins, name, recipe=None):
    """Loss module ``name`` of the full method, built from its :class:`LossTerm` as the engine builds it."""
    (term,) = [t for t in METHOD.loss_terms_for(None, recipe) if t.name == name]
    return term, build_loss_module(plugins.losses.get(term.loss), dict(term.kwargs), 2)


# 2-d embeddings on the line t * (0.6, 0.8): identity 0 at t = 0 and 1, identity 1 at t = 1.5 and 4.
# Euclidean distances |t_i - t_j|: d(0,1) = 1, d(0,1.5) = 1.5, d(0,4) = 4, d(1,1.5) = 0.5, d(1,4) = 3,
# d(1.5,4) = 2.5. Batch order mixes the identities.
TRIPLET_T = torch.tensor([0.0, 1.5, 1.0, 4.0])
TRIPLET_EMBEDDINGS = TRIPLET_T.unsqueeze(1) * torch.tensor([[0.6, 0.8]])
TRIPLET_TARGETS = torch.tensor([0, 1, 0, 1])


@pytest.mark.parametrize("dataset, margin, expected", [
    # hardest positive - hardest negative + m per anchor (t = 0, 1.5, 1, 4):
    # m = 0.3: [1 - 1.5 + .3]_+ = 0, [2.5 - .5 + .3] = 2.3, [1 - .5 + .3] = .8, [2.5 - 3 + .3]_+ = 0 -> 3.1 / 4
    ("market1501", 0.3, 0.775),
    # m = 1.2 (CUHK03): .7, 3.2, 1.7, .7 -> 6.3 / 4
    ("cuhk03-labeled", 1.2, 1.575),
])
def test_batch_hard_triplet_term_equals_the_hand_value(plugins, dataset, margin, expected):
    for branch in ("global", "local"):
        term, module = configured_term(plugins, f"{branch}_triplet", METHOD.paper_recipe(protocol(dataset)))
        assert term.loss == "triplet" and term.weight == 1.0 and module.margin == margin
        value = module({f"{branch}_embedding": TRIPLET_EMBEDDINGS}, TRIPLET_TARGETS)
        assert value.item() == pytest.approx(expected, abs=1e-5)


# logits over 2 identities with softmax p = (3/4, 1/4), (3/4, 1/4), (1/2, 1/2), (1/10, 9/10)
CE_LOGITS = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0], [0.0, 0.0], [0.0, math.log(9.0)]])
CE_TARGETS = torch.tensor([0, 1, 0, 1])


def test_label_smoothed_cross_entropy_term_equals_the_hand_value(plugins):
    # eps = 0.1, K = 2: target distribution 0.95 on the label, 0.05 on the other identity
    #   -(.95 ln .75 + .05 ln .25) = .342613    -(.05 ln .75 + .95 ln .25) = 1.331364
    #   -(.95 ln .5 + .05 ln .5)   = .693147    -(.05 ln .1 + .95 ln .9)   = .215222   mean .645587
    # (without smoothing: (ln 4/3 + ln 4 + ln 2 + ln 10/9) / 4 = .618121)
    for branch in ("global", "local"):
        term, module = configured_term(plugins, f"{branch}_ce")
        assert term.loss == "cross_entropy" and term.weight == 1.0 and module.label_smooth == 0.1
        value = module({f"{branch}_logits": CE_LOGITS}, CE_TARGETS)
        assert value.item() == pytest.approx(0.645587, abs=1e-5)


# -- the engine steps the class centres on the unweighted centre-loss gradient ------------------------------
class FourOutputs(torch.nn.Module):
    """A stand-in for the msreid network: the four named train outputs from a linear map of the image."""

    def __init__(self, in_features, num_classes, feature_dim):
        super().__init__()
        self.embed = torch.nn.Linear(in_features, 2 * feature_dim)
        self.classify = torch.nn.Linear(feature_dim, num_classes)

    def forward(self, images):
        global_embedding, local_embedding = self.embed(images.flatten(1)).chunk(2, dim=1)
        return {"global_embedding": global_embedding, "global_logits": self.classify(global_embedding),
                "local_embedding": local_embedding, "local_logits": self.classify(local_embedding)}


def test_trainer_step_moves_the_centres_by_lr_times_the_unweighted_gradient(plugins, tmp_path):
    torch.manual_seed(0)
    recipe = METHOD.paper_recipe(protocol("market1501"))
    recipe = replace(recipe, amp=False, input_size=(4, 4),
                     stages=tuple(replace(stage, batch_size=6) for stage in recipe.stages))
    labels = [0, 0, 0, 1, 1, 1]
    splits = ClassificationSplits(np.zeros((6, 4, 4, 3), dtype=np.uint8), labels, None, None, ["a", "b"])
    model = FourOutputs(3 * 4 * 4, 2, FEATURE_DIM)
    trainer = Trainer(model=model, method=METHOD, variant="ALM", recipe=recipe, plugins=plugins, splits=splits,
                      num_classes=2, device="cpu", run_dir=str(tmp_path), workers=0, progress=False,
                      log=lambda *args: None)
    trainer._enter_stage(0, recipe.stages[0])
    assert set(trainer.loss_optimizers) == {"global_center", "local_center"}
    assert trainer.terms["global_center"].weight == CENTER_WEIGHT == 5e-4
    images, targets = torch.randn(6, 3, 4, 4), torch.tensor(labels)
    with torch.no_grad():
        features = model(images)
    before = {name: trainer.loss_modules[name].centers.detach().clone() for name in trainer.loss_optimizers}
    trainer._step({"img": images, "pid": targets})
    for name, centers in before.items():
        f = features[name.replace("center", "embedding")]
        # unweighted L = mean_i ||f_i - c_{y_i}||^2, B = 6: dL/dc_k = (2 / 6) sum_{i: y_i = k} (c_k - f_i)
        grad = torch.stack([2 / 6 * (centers[k] - f[targets == k]).sum(dim=0) for k in (0, 1)])
        moved = before[name] - trainer.loss_modules[name].centers.detach()
        assert grad.abs().max() > 1.0  # a real gradient: 5e-4 x it would be a visibly smaller step
        torch.testing.assert_close(moved, 0.5 * grad, rtol=1e-4, atol=1e-5)
