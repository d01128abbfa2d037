"""The msreid plugin: soft attention, mask separation, center loss, variants, recipe and a CLI run."""
import pytest
import torch

from reid_bench import ProtocolSpec
from reid_bench.engine.trainer import build_loss_module
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.msreid.attention import SoftAttention
from reid_bench.plugins.msreid.losses import CenterLoss
from reid_bench.plugins.msreid.method import METHOD
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
