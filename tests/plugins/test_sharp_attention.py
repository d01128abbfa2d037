"""Tests of the sharp_attention plugin (Shen et al., Sharp Attention Network)."""
import math

import pytest
import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from reid_bench import ProtocolSpec
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.sharp_attention.attention import (
    ContextAwareUnit,
    SharpAttentionBlock,
    SharpAttentionMask,
    min_max_normalise,
)
from reid_bench.plugins.sharp_attention.losses import AttentionTVPenalty, total_variation
from reid_bench.plugins.sharp_attention.method import TV_WEIGHT, anneal_temperature, paper_recipe, temperature
from reid_bench.plugins.sharp_attention.model import build_sharp_attention_net
from reid_bench.plugins.sharp_attention.ten_crop import ten_crop_features
from paper_numbers import reported_for

INPUT = (64, 32)


def protocol(name="market1501", task="reid"):
    return ProtocolSpec(name=name, task=task, title=name, split="", load=None)


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


@pytest.fixture(scope="module")
def spec(plugins):
    return plugins.methods.get("sharp_attention")


@pytest.fixture(scope="module")
def full_model(live_residuals):
    """The full model (four blocks, context-aware units), shared by the tests that only run it."""
    torch.manual_seed(0)
    return live_residuals(build_sharp_attention_net(4, input_size=INPUT))


@pytest.fixture
def images():
    return torch.randn(4, 3, *INPUT, generator=torch.Generator().manual_seed(1))


def draw_mask(x, tau, seed=0):
    generator = SharpAttentionMask(tau).train()
    torch.manual_seed(seed)
    return generator(x)


# --- mask generator (Eq. 3-5) ---------------------------------------------------------------------

def test_min_max_normalisation_per_sample_and_channel_by_hand():
    x = torch.tensor([[[[2.0, 4.0, 7.0, 10.0]], [[-1.0, -1.0, -1.0, -1.0]]],
                      [[[5.0, 1.0, 3.0, 1.0]], [[0.0, 0.5, 2.0, 1.0]]]])
    expected = torch.tensor([[[[0.0, 0.25, 0.625, 1.0]], [[0.0, 0.0, 0.0, 0.0]]],
                             [[[1.0, 0.0, 0.5, 0.0]], [[0.0, 0.25, 1.0, 0.5]]]])
    torch.testing.assert_close(min_max_normalise(x), expected)


def test_eval_mask_is_the_noise_free_softmax_at_tau():
    # pi1 = [0, 0.25, 1]; at tau = 0.5 the middle entry is 0.25^2 / (0.25^2 + 0.75^2) = 0.1.
    x = torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64).view(1, 1, 1, 3)
    generator = SharpAttentionMask(0.5).eval()
    mask = generator(x).flatten()
    assert mask[1].item() == pytest.approx(0.1)
    assert mask[0].item() < 1e-11 and 1 - mask[2].item() < 1e-11
    assert torch.equal(generator(x), generator(x))


def test_masks_lie_between_zero_and_one():
    x = torch.randn(8, 16, 12, 6, dtype=torch.float64)
    mask = draw_mask(x, tau=1.0)
    assert mask.min() > 0 and mask.max() < 1
    # At low temperature the sigmoid of Eq. 5 rounds to exactly 0 or 1 in floating point.
    mask = draw_mask(x.float(), tau=0.1)
    assert mask.min() >= 0 and mask.max() <= 1


def test_lower_temperature_gives_sharper_masks():
    x = torch.randn(8, 16, 12, 6, dtype=torch.float64)
    shares = []
    for tau in (1.0, 0.5, 0.1):
        mask = draw_mask(x, tau)
        shares.append(((mask < 0.05) | (mask > 0.95)).double().mean().item())
    assert shares[0] < shares[1] < shares[2]


def test_mask_mean_over_draws_approaches_pi1():
    # Eq. 3 gives pi1 = [0, 0.2, 0.5, 0.7, 1] (ends clamped to 1e-6 and 1 - 1e-6) in every sample.
    pi1 = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0], dtype=torch.float64)
    x = (3.0 + 10.0 * pi1).expand(40000, 1, 1, 5)
    sharp = draw_mask(x, tau=0.05)
    torch.testing.assert_close(sharp.mean(dim=0).flatten(), pi1, atol=0.01, rtol=0)
    # At any temperature a draw exceeds 1/2 with probability pi1 exactly (Gumbel-Max, Eq. 4).
    soft = draw_mask(x, tau=1.0, seed=1)
    torch.testing.assert_close((soft > 0.5).double().mean(dim=0).flatten(), pi1, atol=0.01, rtol=0)


# --- block (Eq. 1-2) and context-aware unit ----------------------------------------------------------

def small_context_unit(channels=8, upsampling="nearest"):
    down = Bottleneck(channels, channels // 2, stride=2,
                      downsample=nn.Sequential(nn.Conv2d(channels, 2 * channels, 1, stride=2, bias=False),
                                               nn.BatchNorm2d(2 * channels)))
    return ContextAwareUnit(down, channels, upsampling)


@pytest.mark.parametrize("with_context_unit", [False, True])
def test_block_output_is_one_plus_mask_times_trunk(with_context_unit):
    torch.manual_seed(0)
    block = SharpAttentionBlock(small_context_unit() if with_context_unit else None).train()
    trunk = torch.relu(torch.randn(2, 8, 7, 5))
    output, mask, attention_aware = block(trunk)
    assert mask.shape == trunk.shape
    torch.testing.assert_close(attention_aware, mask * trunk)
    torch.testing.assert_close(output, (1 + mask) * trunk)


@pytest.mark.parametrize("upsampling", ["nearest", "transposed"])
def test_context_unit_restores_odd_and_even_sizes(upsampling):
    unit = small_context_unit(upsampling=upsampling)
    for size in ((7, 5), (8, 4)):
        assert unit(torch.randn(2, 8, *size)).shape == (2, 8, *size)


def test_context_unit_upsamplings_agree_where_the_transposed_one_writes():
    """Nearest upsampling copies each value of the 1x1 map to its whole 2x2 cell; the paper's
    transposed convolution writes it to the cell's top-left entry and leaves the other three at 0."""
    torch.manual_seed(0)
    nearest, transposed = small_context_unit(upsampling="nearest").eval(), small_context_unit(upsampling="transposed").eval()
    transposed.down.load_state_dict(nearest.down.state_dict())
    with torch.no_grad():
        transposed.up.weight.copy_(nearest.up.weight.transpose(0, 1))
        x = torch.randn(2, 8, 8, 4)
        near, trans = nearest(x), transposed(x)
    torch.testing.assert_close(trans[:, :, 0::2, 0::2], near[:, :, 0::2, 0::2])
    torch.testing.assert_close(near[:, :, 1::2, 1::2], near[:, :, 0::2, 0::2])
    assert trans[:, :, 1::2, :].abs().max().item() == 0.0 and trans[:, :, :, 1::2].abs().max().item() == 0.0
    assert sum(p.numel() for p in nearest.parameters()) == sum(p.numel() for p in transposed.parameters())


def test_context_unit_sizes_match_table_iv(full_model):
    # Table IV: 0.51M, 2.03M, 8.13M extra parameters in blocks 1-3 (truncated to 0.01M); none in block 4.
    counts = [sum(p.numel() for p in full_model.attention[f"block{i}"].parameters()) for i in (1, 2, 3)]
    assert [math.floor(count / 1e4) / 100 for count in counts] == [0.51, 2.03, 8.13]
    assert full_model.attention["block4"].context_unit is None


def test_gradients_reach_context_unit_and_backbone_through_the_mask(full_model):
    """At 128x64 every context unit works on a map of at least 4x2. (At 64x32 block 3's unit
    downsamples to 2x1; upsampled back, Eq. 3's min-max of any map made from two values is a fixed
    pattern, so that unit gets no gradient there: see the plugin docstring.)"""
    images = torch.randn(2, 3, 128, 64, generator=torch.Generator().manual_seed(1))
    full_model.train()
    full_model.zero_grad()
    outputs = full_model(images)
    sum(outputs[f"mask/block{i}"].pow(2).sum() for i in (1, 2, 3)).backward()
    for index in (1, 2, 3):
        for name, parameter in full_model.attention[f"block{index}"].named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"block{index}.{name}"
    for name, parameter in [*full_model.stem.named_parameters(), *full_model.stages[0].named_parameters()]:
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    full_model.zero_grad()


def test_every_parameter_gets_a_gradient_from_the_objective(full_model, cancelled_biases):
    images = torch.randn(2, 3, 128, 64, generator=torch.Generator().manual_seed(1))  # see the test above
    full_model.train()
    full_model.zero_grad()
    outputs = full_model(images)
    (outputs["embedding"].pow(2).sum() + 0.1 * AttentionTVPenalty()(outputs, None)).backward()
    assert [name for name, p in full_model.named_parameters() if p.grad is None] == []
    cancelled = cancelled_biases(full_model)
    assert cancelled == {"head.0.bias"}
    assert [name for name, p in full_model.named_parameters() if name not in cancelled and not p.grad.abs().sum() > 0] == []
    full_model.zero_grad()


# --- model outputs ----------------------------------------------------------------------------------

def test_train_outputs_and_attention_maps(full_model, images):
    full_model.train()
    outputs = full_model(images)
    assert outputs["embedding"].shape == (4, 128)
    assert "logits" not in outputs
    for index, (channels, height, width) in enumerate([(256, 16, 8), (512, 8, 4), (1024, 4, 2), (2048, 2, 1)], 1):
        assert outputs[f"mask/block{index}"].shape == (4, channels, height, width)
        assert outputs[f"attention_aware/block{index}"].shape == (4, channels, height, width)
        assert full_model.attention_maps[f"block{index}"].shape == (4, height, width)
        assert not full_model.attention_maps[f"block{index}"].requires_grad


def test_eval_is_deterministic_and_train_is_not(full_model, images):
    full_model.train()
    with torch.no_grad():
        first, second = full_model(images)["embedding"], full_model(images)["embedding"]
    assert not torch.allclose(first, second)
    full_model.eval()
    with torch.no_grad():
        first, second = full_model(images), full_model(images)
    assert first.shape == (4, 128)
    assert torch.equal(first, second)


def test_classification_task_returns_logits():
    model = build_sharp_attention_net(5, task="classification", input_size=INPUT, blocks=(1,))
    outputs = model.train()(torch.randn(4, 3, *INPUT))
    assert outputs["logits"].shape == (4, 5) and outputs["embedding"].shape == (4, 128)
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, *INPUT)).shape == (2, 5)


def test_unknown_block_is_rejected():
    with pytest.raises(ValueError, match="among"):
        build_sharp_attention_net(4, blocks=(0, 1))


# --- TV penalty (Eq. 6-8) ---------------------------------------------------------------------------

def test_total_variation_by_hand():
    # Vertical: (1-4)^2 + (2-8)^2 = 45; horizontal: (1-2)^2 + (4-8)^2 = 17.
    a = torch.tensor([[1.0, 2.0], [4.0, 8.0]]).view(1, 1, 2, 2)
    assert total_variation(a).tolist() == [62.0]
    # Two channels add up; a second, constant sample has none.
    b = torch.stack([torch.cat([a[0], 2 * a[0]]), torch.full((2, 2, 2), 3.0)])
    assert total_variation(b).tolist() == [62.0 + 4 * 62.0, 0.0]


def test_total_variation_matches_the_difference_matrices_of_eq6():
    a = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    height, width = a.shape[-2:]
    d1 = torch.eye(height, dtype=torch.float64)[:-1] - torch.eye(height, dtype=torch.float64)[1:]
    d2 = torch.eye(width, dtype=torch.float64)[:, :-1] - torch.eye(width, dtype=torch.float64)[:, 1:]
    expected = torch.zeros(2, dtype=torch.float64)
    for sample in range(2):
        for channel in range(3):
            a_c = a[sample, channel]
            expected[sample] += (d1 @ a_c).pow(2).sum() + (a_c @ d2).pow(2).sum()
    torch.testing.assert_close(total_variation(a), expected)
    # Eq. 7: dL/dA_c = 2 (D1^T D1 A_c + A_c D2 D2^T).
    total_variation(a).sum().backward()
    torch.testing.assert_close(a.grad, 2 * (d1.T @ d1 @ a.detach() + a.detach() @ d2 @ d2.T))


def test_tv_penalty_sums_blocks_and_averages_the_batch():
    a = torch.tensor([[1.0, 2.0], [4.0, 8.0]]).view(1, 1, 2, 2)
    outputs = {
        "attention_aware/block1": torch.cat([a, torch.zeros_like(a)]),  # TV 62 and 0: mean 31
        "attention_aware/block3": torch.cat([2 * a, 2 * a]),  # TV 248 each
        "embedding": torch.full((2, 4), 9.0),
    }
    assert AttentionTVPenalty()(outputs, torch.tensor([0, 1])).item() == 31.0 + 248.0
    with pytest.raises(ValueError, match="no sharp attention block"):
        AttentionTVPenalty()({"embedding": outputs["embedding"]}, torch.tensor([0, 1]))


# --- temperature schedule (Eq. 9) -------------------------------------------------------------------

def test_temperature_schedule_of_eq9():
    assert temperature(0) == 1.0
    assert temperature(50) == pytest.approx(math.exp(-0.4))
    assert temperature(86) == pytest.approx(math.exp(-0.688))  # 0.5026, still above tau_1
    assert temperature(87) == 0.5 and temperature(149) == 0.5


def test_on_epoch_start_sets_tau_on_every_block(spec):
    model = nn.ModuleList([SharpAttentionBlock(), nn.Sequential(SharpAttentionBlock(small_context_unit()))])
    assert spec.on_epoch_start is anneal_temperature
    spec.on_epoch_start(model, 50, paper_recipe(protocol()))
    taus = [m.tau.item() for m in model.modules() if isinstance(m, SharpAttentionMask)]
    assert taus == pytest.approx([math.exp(-0.4)] * 2)


# --- 10-crop test features --------------------------------------------------------------------------

class TopLeftPixel(nn.Module):
    """Stub model returning each view's top-left pixel (bilinear upsampling keeps it exactly)."""

    def forward(self, images):
        assert not self.training
        return images[:, 0, 0, :1]


def test_ten_crop_averages_the_ten_views_by_hand():
    # Pixel (r, c) = 100 r + c on 16 x 16; crops are 14 x 14. Top-left pixels of the ten views:
    # corners (0,0) (0,2) (2,0) (2,2), centre (1,1), and of the flipped crops (0,13) (0,15) (2,13)
    # (2,15) (1,14).
    rows = torch.arange(16.0).view(16, 1) * 100 + torch.arange(16.0).view(1, 16)
    images = rows.expand(2, 3, 16, 16)
    stub = TopLeftPixel().train()
    features = ten_crop_features(stub, images)
    expected = (0 + 2 + 200 + 202 + 101 + 13 + 15 + 213 + 215 + 114) / 10
    torch.testing.assert_close(features, torch.full((2, 1), expected))
    assert stub.training


def test_ten_crop_features_have_the_plain_feature_shape(full_model, images, spec):
    full_model.eval()
    with torch.no_grad():
        plain = full_model(images[:2])
    assert spec.feature_extractors["ten_crop"] is ten_crop_features
    assert ten_crop_features(full_model, images[:2]).shape == plain.shape == (2, 128)


# --- method: registration, recipe, variants, reported numbers ----------------------------------------

def test_registration(plugins, spec):
    assert not [p for p in plugins.problems if p.plugin == "sharp_attention"]
    assert plugins.models.owner("sharp_attention") == "sharp_attention"
    assert plugins.losses.owner("sharp_attention_tv") == "sharp_attention"
    assert spec.default_variant == "sab+cu+tv"
    assert set(spec.variants) == {
        "baseline", "sab", "sab+cu", "sab+cu+tv", "sab+cu+tv-literal",
        "blocks=1", "blocks=2", "blocks=3", "blocks=4", "blocks=1,2", "blocks=1,2,3", "blocks=1,2,3,4",
    }


def test_paper_recipe():
    recipe = paper_recipe(protocol("cuhk03-labeled"))
    (stage,) = recipe.stages
    assert (stage.epochs, stage.batch_size) == (150, 256)
    assert stage.sampler.name == "identity" and stage.sampler.kwargs == {"num_instances": 4}
    assert (stage.optimizer.name, stage.optimizer.lr, stage.optimizer.weight_decay) == ("adam", 2e-4, 5e-4)
    assert stage.schedule.factor(99) == 1.0
    assert stage.schedule.factor(125) == pytest.approx(1e-3 ** 0.5)
    assert stage.schedule.factor(149) == pytest.approx(1e-3 ** (49 / 50))
    assert stage.loss_terms == ("triplet", "tv", "tv_sum")  # the variant picks its TV term
    assert recipe.input_size == (256, 128) and recipe.test_features == "ten_crop"
    crop, flip = recipe.train_transforms
    assert crop.params == {"scale": (0.64, 1.0), "aspect": (2.0, 3.0)} and flip.name == "random_flip"
    classification = paper_recipe(protocol("cifar100", task="classification")).stages[0]
    assert classification.loss_terms == ("cross_entropy", "tv", "tv_sum") and classification.sampler.name == "random"


def test_loss_terms_of_eq8(spec):
    recipe = paper_recipe(protocol())
    terms = {t.name: t for t in spec.loss_terms_for(None, recipe, recipe.stages[0])}
    assert set(terms) == {"triplet", "tv"}
    assert terms["triplet"].kwargs["margin"] == 0.5 and terms["tv"].weight == TV_WEIGHT == 2.0
    literal = {t.name: t for t in spec.loss_terms_for("sab+cu+tv-literal", recipe, recipe.stages[0])}
    assert literal["tv_sum"].weight == 0.1  # Eq. 8's mu, with Eq. 6 summed as written
    without_tv = spec.loss_terms_for("sab+cu", recipe, recipe.stages[0])
    assert [t.name for t in without_tv] == ["triplet"]


@pytest.mark.parametrize("variant, blocks, context_units, tv", [
    ("baseline", [], [], False),
    ("sab", [1, 2, 3, 4], [], False),
    ("sab+cu", [1, 2, 3, 4], [1, 2, 3], False),
    ("sab+cu+tv", [1, 2, 3, 4], [1, 2, 3], True),
    ("blocks=1", [1], [], False),
    ("blocks=2", [2], [], False),
    ("blocks=3", [3], [], False),
    ("blocks=4", [4], [], False),
    ("blocks=1,2", [1, 2], [], False),
    ("blocks=1,2,3", [1, 2, 3], [], False),
    ("blocks=1,2,3,4", [1, 2, 3, 4], [], False),
])
def test_every_variant_builds_and_trains_a_step(plugins, spec, variant, blocks, context_units, tv):
    recipe = paper_recipe(protocol())
    torch.manual_seed(0)
    model = plugins.models.get(spec.model)(4, input_size=INPUT, **spec.model_kwargs_for(variant)).train()
    assert sorted(int(name[-1]) for name in model.attention) == blocks
    assert [i for i in blocks if model.attention[f"block{i}"].context_unit is not None] == context_units
    terms = spec.loss_terms_for(variant, recipe, recipe.stages[0])
    assert ("tv" in [t.name for t in terms]) == tv
    outputs = model(torch.randn(4, 3, *INPUT))
    targets = torch.tensor([0, 0, 1, 1])
    loss = sum(t.weight * plugins.losses.get(t.loss)(**t.kwargs)(outputs, targets) for t in terms)
    loss.backward()
    assert torch.isfinite(loss)
    assert model.head[0].weight.grad is not None


def test_reported_numbers(spec):
    full = reported_for(spec, "market1501")
    assert [(r.metrics, r.measured_on) for r in full] == [
        ({"R1": 85.9, "mAP": 70.1, "R5": 94.9, "R10": 97.0}, None)]
    labeled = reported_for(spec, "cuhk03-labeled")
    assert [(r.metrics["R1"], r.metrics["mAP"], r.measured_on) for r in labeled] == [
        (88.3, 85.9, "cuhk03-labeled-classic")]
    assert reported_for(spec, "cuhk03-detected-classic")[0].metrics == {
        "R1": 84.3, "mAP": 82.2, "R5": 97.4, "R10": 98.4}
    assert reported_for(spec, "dukemtmcreid", "baseline")[0].metrics == {"R1": 75.3, "mAP": 56.4}
    assert reported_for(spec, "cuhk03-labeled", "blocks=1,2,3,4")[0].metrics == {"R1": 87.8, "mAP": 85.0}
    for entry in spec.reported:
        assert ("cuhk03" in entry.protocol) == bool(entry.note)
        assert entry.variant in spec.variants


# --- command line -----------------------------------------------------------------------------------

def test_cli_run_writes_a_record(short_run):
    # The uniform recipe tests on one crop: the paper's 10-crop would make this run ten times longer.
    record = short_run("sharp_attention", "--recipe", "uniform")
    assert (record["method"], record["variant"], record["protocol"]) == ("sharp_attention", "sab+cu+tv", "synthetic")
    assert record["recipe"]["stages"][0]["loss_terms"] == ["triplet", "tv", "tv_sum"]
    assert record["params"] > 36e6 and record["metrics"]["mAP"] is not None


def test_the_geometry_benchmark_prints_a_row_per_block_and_size(capsys):
    """``benchmarks/sharp_attention_geometry.py`` (the figures of the input-size decision) runs, on tiny inputs."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks", "sharp_attention_geometry.py")
    spec = importlib.util.spec_from_file_location("sharp_attention_geometry", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--sizes", "32x16", "64x32", "--batch-size", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 32x16") or
            line.startswith("| 64x32")]
    assert len(rows) == 8
    assert rows[3].startswith("| 32x16 | 4 | 1x1 |") and rows[7].startswith("| 64x32 | 4 | 2x1 |")
