"""Tests of the ``self_attention`` plugin (Self-attention Learning, seed 001)."""
import math
import os
import pickle

import numpy as np
import pytest
import torch

from reid_bench import ProtocolSpec
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.self_attention.attention import attention_map
from reid_bench.plugins.self_attention.losses import QuadrupletHardLoss, SelfAttentionConstraint, mine_quadruplets
from reid_bench.plugins.self_attention.method import METHOD
from reid_bench.plugins.self_attention.model import build_self_attention_net
from paper_numbers import reported_for


def protocol(name, task):
    return ProtocolSpec(name=name, task=task, title=name, split="", load=lambda root: None)


def meta_model(**kwargs):
    """A model with parameters on the meta device: shapes without computation."""
    with torch.device("meta"):
        return build_self_attention_net(10, **kwargs)


# -- Eq. 1: attention maps -----------------------------------------------------------------------------------
def test_attention_map_is_the_normalised_channel_mean_of_squares():
    features = torch.tensor([[[[1.0, 2.0], [0.0, 1.0]],
                              [[3.0, 0.0], [0.0, 1.0]]]])  # (1, C=2, 2, 2)
    # a_i = (v_i1^2 + v_i2^2) / 2 = [(1 + 9) / 2, (4 + 0) / 2, 0, (1 + 1) / 2] = [5, 2, 0, 1]; ||a|| = sqrt(30)
    expected = torch.tensor([[[5.0, 2.0], [0.0, 1.0]]]) / math.sqrt(30.0)
    assert torch.allclose(attention_map(features), expected)


# -- Eq. 2: self-attention constraint ------------------------------------------------------------------------
def sac_outputs(att6, att5, att4):
    return {"attention_stage6": att6, "attention_stage5": att5, "attention_stage4": att4}


def test_sac_is_zero_for_identical_maps():
    att = attention_map(torch.rand(3, 4, 5, 2))
    assert SelfAttentionConstraint()(sac_outputs(att, att.clone(), att.clone()), None).item() == 0.0


def test_sac_equals_hand_value():
    att6 = torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[0.6, 0.8], [0.0, 0.0]]])
    att5 = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.8, 0.6], [0.0, 0.0]]])
    att4 = torch.tensor([[[0.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.0, 0.0]]])
    # image 1: ||att6 - att5||^2 = 4 * 0.25 = 1, ||att6 - att4||^2 = 1 -> 2
    # image 2: ||att6 - att5||^2 = 0.2^2 + 0.2^2 = 0.08, ||att6 - att4||^2 = 0 -> 0.08; batch mean 1.04
    loss = SelfAttentionConstraint()(sac_outputs(att6, att5, att4), None)
    assert loss.item() == pytest.approx(1.04)


def test_sac_pools_a_larger_shallow_map_to_the_deep_size():
    att6 = torch.tensor([[[1.0, 0.0]]])  # (1, 1, 2)
    att4 = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]])  # (1, 2, 4)
    # 2x2 means: (1 + 2 + 5 + 6) / 4 = 3.5 and (3 + 4 + 7 + 8) / 4 = 5.5, l2-normalised by sqrt(42.5)
    norm = math.sqrt(42.5)
    expected = (1.0 - 3.5 / norm) ** 2 + (5.5 / norm) ** 2
    loss = SelfAttentionConstraint()(sac_outputs(att6, att6.clone(), att4), None)
    assert loss.item() == pytest.approx(expected)


def test_sac_refuses_a_single_level_model():
    att = torch.rand(2, 4, 2)
    with pytest.raises(ValueError, match="multi=False"):
        SelfAttentionConstraint()({"attention_stage4": att, "attention_stage5": att}, None)


# -- Eq. 5: quadruplet-hard loss -----------------------------------------------------------------------------
# 1-d features x with identities y = 0, 0, 1, 1, 2, 2, chosen so that no two candidate distances tie.
HAND_X = torch.tensor([[0.0], [2.0], [1.2], [5.2], [3.5], [4.4]])
HAND_Y = torch.tensor([0, 0, 1, 1, 2, 2])
# anchor i: hardest positive j, nearest negative k, h = nearest to k among ids not y_i, y_k
# i=0: j=1 (d 2),   k=2 (d 1.2), h=4 (|3.5-1.2| 2.3 < 3.2)  -> [2-1.2+.5]+ + [2-2.3+.2]+ = 1.3 + 0
# i=1: j=0 (d 2),   k=2 (d 0.8), h=4 (2.3)                   -> [2-0.8+.5]+ + [2-2.3+.2]+ = 1.7 + 0
# i=2: j=3 (d 4),   k=1 (d 0.8), h=4 (|3.5-2| 1.5 < 2.4)      -> [4-0.8+.5]+ + [4-1.5+.2]+ = 3.7 + 2.7
# i=3: j=2 (d 4),   k=5 (d 0.8), h=1 (|2-4.4| 2.4 < 4.4)      -> [4-0.8+.5]+ + [4-2.4+.2]+ = 3.7 + 1.8
# i=4: j=5 (d 0.9), k=1 (d 1.5), h=2 (|1.2-2| 0.8 < 3.2)      -> [.9-1.5+.5]+ + [.9-.8+.2]+ = 0 + 0.3
# i=5: j=4 (d 0.9), k=3 (d 0.8), h=1 (|2-5.2| 3.2 < 5.2)      -> [.9-.8+.5]+ + [.9-3.2+.2]+ = 0.6 + 0
HAND_J, HAND_K, HAND_H = [1, 0, 3, 2, 5, 4], [2, 2, 1, 5, 1, 3], [4, 4, 4, 1, 2, 1]
HAND_LOSS = (1.3 + 1.7 + 6.4 + 5.5 + 0.3 + 0.6) / 6


def test_quadruplet_mining_on_a_hand_built_batch():
    j, k, h = mine_quadruplets(torch.cdist(HAND_X, HAND_X), HAND_Y)
    assert (j.tolist(), k.tolist(), h.tolist()) == (HAND_J, HAND_K, HAND_H)


def test_quadruplet_loss_on_a_hand_built_batch():
    loss = QuadrupletHardLoss()({"embedding": HAND_X}, HAND_Y)
    assert loss.item() == pytest.approx(HAND_LOSS, abs=1e-5)


def loop_quadruplet_loss(x, y, margin1=0.5, margin2=0.2):
    """Straightforward per-anchor implementation of Sec. 3.3 mining and Eq. 5; returns loss and h's."""
    n = len(y)
    d = [[float(torch.dist(x[a], x[b])) for b in range(n)] for a in range(n)]
    total, hs = 0.0, []
    for i in range(n):
        j = max((b for b in range(n) if y[b] == y[i]), key=lambda b: d[i][b])
        k = min((b for b in range(n) if y[b] != y[i]), key=lambda b: d[i][b])
        h = min((b for b in range(n) if y[b] not in (y[i], y[k])), key=lambda b: d[k][b])
        hs.append((i, k, h))
        total += max(0.0, d[i][j] - d[i][k] + margin1) + max(0.0, d[i][j] - d[k][h] + margin2)
    return total / n, hs


def test_quadruplet_loss_matches_a_loop_implementation_and_h_is_a_third_identity():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=generator)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    expected, quadruplets = loop_quadruplet_loss(x, y.tolist())
    assert QuadrupletHardLoss()({"embedding": x}, y).item() == pytest.approx(expected, rel=1e-5)
    _, k, h = mine_quadruplets(torch.cdist(x, x), y)
    assert [(i, ki, hi) for i, (ki, hi) in enumerate(zip(k.tolist(), h.tolist()))] == quadruplets
    assert not (y[h] == y).any() and not (y[h] == y[k]).any()


def test_quadruplet_mining_needs_three_identities():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="three identities"):
        QuadrupletHardLoss()({"embedding": x}, torch.tensor([0, 0, 1, 1]))


# -- model ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dil, sizes", [
    (True, {"stage4": (32, 16), "stage5": (32, 16), "stage6": (32, 16)}),
    (False, {"stage4": (16, 8), "stage5": (8, 4), "stage6": (8, 4)}),
])
def test_dilation_keeps_stage4_to_6_at_output_stride_8(dil, sizes):
    model = meta_model(dil=dil).eval()
    embedding = model(torch.empty(2, 3, 256, 128, device="meta"))
    assert embedding.shape == (2, 1024)
    assert {name: tuple(att.shape[1:]) for name, att in model.attention_maps.items()} == sizes


def test_stage6_is_layer4_design_at_half_width():
    model = meta_model(stage6_dilation=3)
    blocks = list(model.stage6)
    assert len(blocks) == len(model.stage5) == 3
    assert blocks[0].conv1.in_channels == 2048 and blocks[-1].conv3.out_channels == 1024
    assert blocks[0].conv2.out_channels * 2 == model.stage5[0].conv2.out_channels
    assert all(block.conv2.dilation == (3, 3) and block.conv2.stride == (1, 1) for block in blocks)
    assert model.fc.in_features == 1024 + 2048 + 1024


def test_single_level_model_has_no_stage6():
    model = meta_model(multi=False)
    assert model.stage6 is None and model.fc.in_features == 2048
    outputs = model.train()(torch.empty(2, 3, 64, 32, device="meta"))
    assert set(outputs) == {"logits", "embedding", "attention_stage4", "attention_stage5"}


def test_depth_101_backbone():
    model = meta_model(depth=101)
    assert len(model.stage4) == 23 and len(model.stage6) == 3


@pytest.mark.parametrize("kwargs, sizes", [
    ({}, {"stage4": (28, 28), "stage5": (28, 28), "stage6": (28, 28)}),
    ({"dil": False, "multi": False}, {"stage4": (14, 14), "stage5": (7, 7)}),
])
def test_classification_input_is_upsampled_7x_to_224(kwargs, sizes):
    """Decision (Table 4): CIFAR's 32x32 reaches the ResNet as 224x224, so stage5 is 7x7 (not 1x1)."""
    model = meta_model(task="classification", **{**METHOD.model_kwargs, **kwargs}).eval()
    assert model(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
    assert {name: tuple(att.shape[1:]) for name, att in model.attention_maps.items()} == sizes


def test_reid_input_is_never_upsampled():
    model = meta_model(task="reid", **METHOD.model_kwargs).eval()
    model(torch.empty(2, 3, 64, 32, device="meta"))
    assert {name: tuple(att.shape[1:]) for name, att in model.attention_maps.items()} == {
        "stage4": (8, 4), "stage5": (8, 4), "stage6": (8, 4)}


def test_classification_upsampling_is_bilinear_and_gives_attention_room():
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    seen = {}
    native = build_self_attention_net(10, task="classification", dil=False, multi=False).eval()
    upsampled = build_self_attention_net(10, task="classification", dil=False, multi=False,
                                         classification_upsample=2).eval()
    upsampled.stage1.register_forward_pre_hook(lambda module, args: seen.update(input=args[0]))
    with torch.no_grad():
        native(images)
        # at the native size stage5 is one position: its l2-normalised attention map is the constant 1
        assert native.attention_maps["stage5"].shape == (2, 1, 1)
        torch.testing.assert_close(native.attention_maps["stage5"], torch.ones(2, 1, 1), atol=1e-6, rtol=0)
        upsampled(images)
    expected = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False)
    torch.testing.assert_close(seen["input"], expected, atol=1e-6, rtol=0)
    # hand check of one interpolated pixel: output row/col 1 sits at source 0.25 between pixels 0 and 1
    a = images[0, 0]
    hand = 0.75 * 0.75 * a[0, 0] + 0.75 * 0.25 * a[0, 1] + 0.25 * 0.75 * a[1, 0] + 0.25 * 0.25 * a[1, 1]
    assert seen["input"][0, 0, 1, 1].item() == pytest.approx(hand.item(), abs=1e-5)
    att = upsampled.attention_maps["stage5"]
    assert att.shape == (2, 2, 2)
    torch.testing.assert_close(att.flatten(1).norm(dim=1), torch.ones(2), atol=1e-5, rtol=0)
    assert (att.flatten(1).max(dim=1).values < 0.999).all()  # more than one position carries weight


def test_classification_upsample_must_not_shrink():
    with pytest.raises(ValueError, match="classification_upsample"):
        meta_model(task="classification", classification_upsample=0.5)


@pytest.fixture(scope="module")
def full_model(live_residuals):
    torch.manual_seed(0)
    return live_residuals(build_self_attention_net(6, input_size=(64, 32)))


def test_train_outputs_and_gradients_reach_every_parameter(full_model):
    images, targets = torch.randn(8, 3, 64, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    outputs = full_model.train()(images)
    assert outputs["logits"].shape == (8, 6) and outputs["embedding"].shape == (8, 1024)
    assert all(outputs[f"attention_stage{s}"].shape == (8, 8, 4) for s in (4, 5, 6))
    assert set(full_model.attention_maps) == {"stage4", "stage5", "stage6"}
    assert not any(att.requires_grad for att in full_model.attention_maps.values())
    full_model.zero_grad()
    loss = (torch.nn.functional.cross_entropy(outputs["logits"], targets)
            + QuadrupletHardLoss()(outputs, targets) + SelfAttentionConstraint()(outputs, targets))
    loss.backward()
    no_grad = [name for name, p in full_model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


def test_eval_returns_the_1024_d_embedding(full_model):
    with torch.no_grad():
        assert full_model.eval()(torch.randn(2, 3, 64, 32)).shape == (2, 1024)


# -- method: recipes, variants, reported numbers -------------------------------------------------------------
def stage_summary(recipe, epoch, variant="full"):
    _, stage, epoch_in_stage = recipe.stage_at(epoch)
    terms = {term.name for term in METHOD.loss_terms_for(variant, recipe, stage)}
    lr = stage.optimizer.lr * stage.schedule.factor(epoch_in_stage)
    return terms, stage.sampler.name, stage.sampler.kwargs, stage.batch_size, lr


def test_the_two_stages_switch_losses_sampler_and_lr_at_epoch_150():
    recipe = METHOD.paper_recipe(protocol("market1501", "reid"))
    assert recipe.epochs == 300 and recipe.input_size == (256, 128)
    assert all(stage.optimizer.name == "sgd" and stage.optimizer.momentum == 0.9 for stage in recipe.stages)
    softmax = ({"softmax", "sac"}, "random", {}, 128)
    joint = ({"softmax", "quadruplet", "sac"}, "identity", {"num_instances": 4}, 72)
    for epoch, expected, lr in [(0, softmax, 0.1), (49, softmax, 0.1), (50, softmax, 0.01), (149, softmax, 1e-3),
                                (150, joint, 1e-4), (200, joint, 1e-5), (299, joint, 1e-6)]:
        *summary, actual_lr = stage_summary(recipe, epoch)
        assert tuple(summary) == expected, epoch
        assert actual_lr == pytest.approx(lr), epoch
    assert stage_summary(recipe, 150, "full_triplet")[0] == {"softmax", "triplet", "sac"}


def test_cifar100_recipe_trains_softmax_and_sac_at_32x32_upsampled_by_the_network():
    recipe = METHOD.paper_recipe(protocol("cifar100", "classification"))
    assert len(recipe.stages) == 1 and recipe.input_size == (32, 32)
    assert stage_summary(recipe, 0)[0] == {"softmax", "sac"}
    assert stage_summary(recipe, 0, "resnet50_softmax")[0] == {"softmax"}
    for variant in ("full", "resnet50_softmax", "resnet101_softmax"):
        assert METHOD.model_kwargs_for(variant)["classification_upsample"] == 7
    notes = [r.note for r in METHOD.reported if r.protocol == "cifar100"]
    assert len(notes) == 3 and all("224x224" in note for note in notes)


def test_resnet101_variants_declare_their_backbone():
    depth = {name: METHOD.model_kwargs_for(name)["depth"] for name in METHOD.variants}
    assert depth["resnet101_softmax"] == 101
    for name, variant in METHOD.variants.items():
        assert (variant.backbone or METHOD.backbone) == f"resnet{depth[name]}", name


def test_table1_setting4_is_the_full_method_without_dilation():
    (setting4,) = reported_for(METHOD, "market1501", "no_dil")
    assert setting4.metrics == {"mAP": 72.7, "R1": 85.6} and setting4.source == "Table 1 setting 4"
    (setting8,) = [r for r in reported_for(METHOD, "market1501", "full") if not r.reranked]
    assert setting8.metrics == {"mAP": 81.6, "R1": 92.8}
    no_dil, full = METHOD.model_kwargs_for("no_dil"), METHOD.model_kwargs_for("full")
    assert {k for k in full if full[k] != no_dil[k]} == {"dil"} and no_dil["dil"] is False
    assert set(METHOD.variant("no_dil").loss_terms) == set(METHOD.variant("full").loss_terms)


def test_registration_variants_and_reported_numbers():
    plugins = load_plugins()
    assert not [problem for problem in plugins.problems if problem.plugin == "self_attention"]
    assert plugins.methods.get("self_attention") is METHOD
    assert plugins.models.owner("self_attention") == "self_attention"
    term_names = {term.name for term in METHOD.loss_terms}
    for term in METHOD.loss_terms:
        assert term.loss in plugins.losses
    for name, variant in METHOD.variants.items():
        assert set(variant.loss_terms) <= term_names, name
        if variant.model_kwargs.get("multi") is False:
            assert "sac" not in variant.loss_terms, name
    for reported in METHOD.reported:
        assert reported.protocol in plugins.datasets and METHOD.variant(reported.variant)
    reranked = {r.protocol: r.metrics for r in METHOD.reported if r.reranked}
    assert reranked == {"market1501": {"mAP": 91.2, "R1": 93.3}, "dukemtmcreid": {"mAP": 72.9, "R1": 85.1}}
    cifar = {r.variant: r.metrics["top1_err"] for r in METHOD.reported if r.protocol == "cifar100"}
    assert cifar == {"resnet50_softmax": 22.02, None: 21.75, "resnet101_softmax": 21.95}


# -- command line --------------------------------------------------------------------------------------------
def test_cli_short_run_on_synthetic(short_run):
    """Both stages (softmax + SAC, then all three terms) for two iterations each, at 32x16: the dilated
    model costs about seven ResNet-50s per image, so the smaller input keeps evaluation short."""
    record = short_run("self_attention", "--input-size", "32", "16")
    assert record["plugin"] == "self_attention" and record["variant"] == "full"
    assert math.isfinite(record["metrics"]["mAP"]) and math.isfinite(record["metrics"]["R1"])


def write_tiny_cifar100(root, train_size=48, test_size=20):
    """A tiny set in CIFAR-100's python-pickle layout: ``<root>/cifar-100-python/{train,test,meta}``."""
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for split, size in (("train", train_size), ("test", test_size)):
        fine = rng.integers(0, 100, size)
        content = {b"batch_label": f"{split} batch".encode(), b"fine_labels": fine.tolist(),
                   b"coarse_labels": (fine // 5).tolist(),
                   b"filenames": [f"{split}_{index}.png".encode() for index in range(size)],
                   b"data": rng.integers(0, 256, (size, 3072), dtype=np.uint8)}
        with open(os.path.join(folder, split), "wb") as handle:
            pickle.dump(content, handle)
    meta = {b"fine_label_names": [f"fine_{index}".encode() for index in range(100)],
            b"coarse_label_names": [f"coarse_{index}".encode() for index in range(20)]}
    with open(os.path.join(folder, "meta"), "wb") as handle:
        pickle.dump(meta, handle)


def test_cli_short_run_on_a_tiny_cifar100(short_run, tmp_path):
    """At 8x8 (the network upsamples 7x, to 56x56): 32x32 would run the dilated model at 224x224."""
    root = str(tmp_path / "cifar")
    write_tiny_cifar100(root)
    record = short_run("self_attention", "--root", root, "--allow-partial", "--input-size", "8", "8",
                       dataset="cifar100")
    assert record["protocol"] == "cifar100" and record["input_size"] == [8, 8]
    assert 0.0 <= record["metrics"]["top1_err"] <= 100.0
