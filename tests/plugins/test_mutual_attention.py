"""Tests of the ``mutual_attention`` plugin (Deep Mutual-Attention Siamese model, seed 002)."""
import math

import numpy as np
import pytest
import torch

from reid_bench import ProtocolSpec
from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.mutual_attention.attention import MutualAttention, SelfAttention
from reid_bench.plugins.mutual_attention.losses import DIFFERENT, SAME, VerificationLoss, pair_targets
from reid_bench.plugins.mutual_attention.method import METHOD
from reid_bench.plugins.mutual_attention.model import build_mutual_attention
from reid_bench.plugins.mutual_attention.sampler import PairSampler
from reid_bench.recipes import resolve_recipe


def protocol(name, task="reid"):
    return ProtocolSpec(name=name, task=task, title=name, split="", load=lambda root: None)


def set_conv(conv, weight, bias):
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weight).view_as(conv.weight))
        conv.bias.copy_(torch.tensor(bias))


# -- Eq. 1-4: self-attention map; Eq. 5-8: mutual attention ---------------------------------------------
def hand_self_attention(sigmoid=False):
    """C = 2 channels; channel attention W1 = [[1, 0], [1, -1]], b1 = [0, 1];
    fusion W2 = [[0.5, 2], [1, 1]], b2 = [1, 0]."""
    attention = SelfAttention(2, sigmoid=sigmoid)
    set_conv(attention.channel_attention, [[1.0, 0.0], [1.0, -1.0]], [0.0, 1.0])
    set_conv(attention.fusion, [[0.5, 2.0], [1.0, 1.0]], [1.0, 0.0])
    return attention


FIRST = torch.tensor([[[[1.0, 3.0]], [[3.0, 5.0]]]])  # (1, C=2, H=1, W=2)
SECOND = torch.tensor([[[[2.0, 0.0]], [[0.0, 2.0]]]])


def test_self_attention_equals_eq_1_to_4_by_hand():
    # Eq. 1: SPA = [(1 + 3) / 2, (3 + 5) / 2] = [2, 4]; Eq. 2: Q = [2, 4]
    # Eq. 3: CA = W1 Q + b1 = [2, 2 - 4 + 1] = [2, -1]; SPA * CA = [[4, 8], [-2, -4]]
    # Eq. 4: SA = W2 (SPA * CA) + b2 = [[2 - 4 + 1, 4 - 8 + 1], [4 - 2, 8 - 4]] = [[-1, -3], [2, 4]]
    expected = torch.tensor([[[[-1.0, -3.0]], [[2.0, 4.0]]]])
    assert torch.allclose(hand_self_attention()(FIRST), expected)
    sigmoid = [[[[1 / (1 + math.exp(1.0)), 1 / (1 + math.exp(3.0))]],
                [[1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(-4.0))]]]]
    assert torch.allclose(hand_self_attention(sigmoid=True)(FIRST), torch.tensor(sigmoid))


def test_mutual_attention_equals_eq_5_to_8_by_hand():
    mutual = MutualAttention(2, sigmoid=False)
    mutual.self_attention = hand_self_attention()
    set_conv(mutual.mutual, [[1.0, 0.0], [0.5, 0.25]], [0.0, -1.0])
    # SA1 = [[-1, -3], [2, 4]] (above). SECOND: SPA = [1, 1], Q = [1, 1], CA = [1, 1],
    # SA2 = [[0.5 + 2 + 1] * 2, [1 + 1] * 2] = [[3.5, 3.5], [2, 2]].
    # Eq. 5: SA1 * SA2 = [[-3.5, -10.5], [4, 8]]
    # Eq. 6: MA = W3 (SA1 * SA2) + b3 = [[-3.5, -10.5], [-1.75 + 1 - 1, -5.25 + 2 - 1]]
    #                                = [[-3.5, -10.5], [-1.75, -4.25]]
    # Eq. 7-8: F = f * MA + f = f * (1 + MA)
    first_out, second_out, ma = mutual(FIRST, SECOND)
    assert torch.allclose(ma, torch.tensor([[[[-3.5, -10.5]], [[-1.75, -4.25]]]]))
    assert torch.allclose(first_out, torch.tensor([[[[1 * -2.5, 3 * -9.5]], [[3 * -0.75, 5 * -3.25]]]]))
    assert torch.allclose(second_out, torch.tensor([[[[2 * -2.5, 0.0]], [[0.0, 2 * -3.25]]]]))


def test_sigmoid_mutual_attention_enhances_features_by_a_factor_between_1_and_2():
    torch.manual_seed(0)
    mutual = MutualAttention(8)  # sigmoid=True, the default
    first, second = 10 * torch.rand(2, 8, 4, 2), 10 * torch.rand(2, 8, 4, 2)
    f1, f2, ma = mutual(first, second)
    assert ((ma > 0) & (ma < 1)).all()
    assert torch.allclose(f1, first * (1 + ma)) and torch.allclose(f2, second * (1 + ma))


def test_mutual_attention_is_symmetric_in_its_inputs_and_pairs_row_by_row():
    torch.manual_seed(0)
    mutual = MutualAttention(8)
    first, second = torch.rand(3, 8, 4, 2), torch.rand(3, 8, 4, 2)
    f1, f2, ma = mutual(first, second)
    g2, g1, ma_swapped = mutual(second, first)
    assert torch.allclose(ma, ma_swapped) and torch.allclose(f1, g1) and torch.allclose(f2, g2)
    alone = mutual(first[1:2], second[1:2])  # a pair's result does not depend on the other pairs
    assert all(torch.allclose(batched[1:2], single, atol=1e-6) for batched, single in zip((f1, f2, ma), alone))


# -- losses: verification targets, Eq. 11-12, Eq. 13 -------------------------------------------------------
def test_pair_targets_mark_same_identity_pairs():
    assert pair_targets(torch.tensor([3, 3, 1, 2, 5, 5])).tolist() == [SAME, DIFFERENT, SAME]
    assert (SAME, DIFFERENT) == (1, 0)
    with pytest.raises(ValueError, match="even number"):
        pair_targets(torch.tensor([1, 1, 2]))


def test_verification_loss_equals_hand_value():
    outputs = {"verification_logits": torch.tensor([[0.0, 1.0], [2.0, 0.0]])}
    # pair 0 (7, 7) is "same" (class 1), pair 1 (1, 2) is "different" (class 0):
    # -log(e^1 / (e^0 + e^1)) = log(1 + e^-1); -log(e^2 / (e^2 + e^0)) = log(1 + e^-2); mean of the two
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-2))) / 2
    assert VerificationLoss()(outputs, torch.tensor([7, 7, 1, 2])).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="3 pair logits for a batch of 4 images"):
        VerificationLoss()({"verification_logits": torch.zeros(3, 2)}, torch.tensor([7, 7, 1, 2]))


def test_objective_is_identification_plus_half_verification():
    plugins = load_plugins()
    terms = METHOD.loss_terms_for("full", METHOD.paper_recipe(protocol("market1501")))
    assert {term.name: term.weight for term in terms} == {"identification": 1.0, "verification": 0.5}
    assert [term.name for term in METHOD.loss_terms_for("baseline")] == ["identification"]
    outputs = {"logits": torch.tensor([[2.0, 0.0], [0.0, 0.0]]),
               "verification_logits": torch.tensor([[0.0, 1.0]])}
    targets = torch.tensor([0, 0])  # one positive pair
    total = sum(term.weight * plugins.losses.get(term.loss)(**term.kwargs)(outputs, targets) for term in terms)
    identification = (math.log(1 + math.exp(-2)) + math.log(2)) / 2
    verification = math.log(1 + math.exp(-1))
    assert total.item() == pytest.approx(identification + 0.5 * verification)


# -- the pair sampler -----------------------------------------------------------------------------------
def data_source(pid_cams):
    """torchreid-style ``(img_path, pid, camid, dsetid)`` items from ``[(pid, camid), ...]``."""
    return [(f"img{index}.jpg", pid, cam, 0) for index, (pid, cam) in enumerate(pid_cams)]


# pid 0 and 4: several cameras; pid 1 and 3: one camera; pids 2 and 5: a single image each
MIXED = data_source([(0, 0), (0, 0), (0, 1), (0, 2), (1, 3), (1, 3), (1, 3), (2, 4), (3, 0), (3, 0),
                     (4, 2), (4, 2), (4, 0), (4, 1), (4, 1), (5, 5)])
MULTI_CAMERA_PIDS = {0, 4}


def epoch_batches(sampler):
    stream = list(sampler)
    assert len(stream) == len(sampler) and len(stream) % sampler.batch_size == 0
    return [stream[start:start + sampler.batch_size] for start in range(0, len(stream), sampler.batch_size)]


def check_pairs(batch, items, expected_positives):
    """Pairs (2i, 2i + 1) of one batch: the positive count, and identities and cameras per pair."""
    pairs = list(zip(batch[0::2], batch[1::2]))
    positives = 0
    for first, second in pairs:
        (_, pid1, cam1, _), (_, pid2, cam2, _) = items[first], items[second]
        if pid1 == pid2:
            positives += 1
            assert first != second
            if pid1 in MULTI_CAMERA_PIDS:
                assert cam1 != cam2, (first, second)
    assert positives == expected_positives
    return pairs


@pytest.mark.parametrize("fraction, positives", [(0.0, 0), (0.25, 1), (0.5, 2), (0.75, 3)])
def test_batches_hold_the_requested_pairs_and_positive_share(fraction, positives):
    np.random.seed(0)
    sampler = PairSampler(MIXED, 8, positive_fraction=fraction)
    for _ in range(3):
        for batch in epoch_batches(sampler):
            assert len(batch) == 8
            check_pairs(batch, MIXED, positives)


def test_all_positive_batches_when_every_identity_has_two_images():
    items = [item for item in MIXED if item[1] not in (2, 5)]
    np.random.seed(0)
    for batch in epoch_batches(PairSampler(items, 6, positive_fraction=1.0)):
        assert all(items[a][1] == items[b][1] for a, b in zip(batch[0::2], batch[1::2]))


def test_every_image_anchors_a_pair_in_every_epoch():
    np.random.seed(1)
    sampler = PairSampler(MIXED, 8)
    # 16 images, 4 pairs a batch, 2 single-image identities that can only anchor negatives: 4 batches
    assert len(sampler) == 4 * 8
    for _ in range(5):
        anchors = {batch[index] for batch in epoch_batches(sampler) for index in range(0, 8, 2)}
        assert anchors == set(range(len(MIXED)))


def test_single_image_identities_can_force_extra_batches():
    # 6 singletons and 2 two-image ids; 2 pairs a batch, 1 negative each: six batches hold the singletons
    items = data_source([(pid, 0) for pid in range(6)] + [(6, 0), (6, 1), (7, 0), (7, 1)])
    np.random.seed(0)
    sampler = PairSampler(items, 4, positive_fraction=0.5)
    assert len(sampler) == 6 * 4
    anchors = {batch[index] for batch in epoch_batches(sampler) for index in (0, 2)}
    assert anchors == set(range(len(items)))


def test_pairs_are_shuffled_within_batches_and_the_stream_is_seeded():
    np.random.seed(2)
    first = list(PairSampler(MIXED, 8))
    np.random.seed(2)
    sampler = PairSampler(MIXED, 8)
    assert list(sampler) == first and list(sampler) != first
    flags = [[MIXED[a][1] == MIXED[b][1] for a, b in zip(batch[0::2], batch[1::2])]
             for batch in epoch_batches(sampler)]
    assert any(flag != sorted(flag, reverse=True) for flag in flags)  # positives are not always first


def test_class_labels_make_pairs_of_one_class():
    """CIFAR-100: the loader's items are ``(index, label, 0, 0)``; one camera, positives share a class."""
    items = [(index, index % 10, 0, 0) for index in range(60)]
    np.random.seed(0)
    for batch in epoch_batches(PairSampler(items, 16)):
        same = [items[a][1] == items[b][1] for a, b in zip(batch[0::2], batch[1::2])]
        assert sum(same) == 4 and all(a != b for a, b in zip(batch[0::2], batch[1::2]))


@pytest.mark.parametrize("items, batch_size, fraction, message", [
    (MIXED, 7, 0.5, "even batch size"),
    (MIXED, 8, 1.5, r"positive_fraction must lie in \[0, 1\]"),
    (MIXED, 8, 1.0, "2 images are the only image of their identity"),
    (data_source([(0, 0), (0, 1)]), 4, 0.5, "at least two identities"),
    (data_source([(0, 0), (1, 1)]), 4, 0.5, "identity with at least two images"),
])
def test_impossible_layouts_are_refused(items, batch_size, fraction, message):
    with pytest.raises(ValueError, match=message):
        PairSampler(items, batch_size, positive_fraction=fraction)


def test_the_recipe_sampler_gives_32_pairs_half_positive():
    plugins = load_plugins()
    stage = METHOD.paper_recipe(protocol("market1501")).stages[0]
    items = data_source([(pid, index % 3) for pid in range(40) for index in range(4)])
    np.random.seed(0)
    sampler = plugins.samplers.get(stage.sampler.name)(items, stage.batch_size, **stage.sampler.kwargs)
    batches = epoch_batches(sampler)
    assert len(batches) == 5 and all(len(batch) == 64 for batch in batches)  # 160 anchors / 32 pairs
    for batch in batches:
        same = [items[a][1] == items[b][1] for a, b in zip(batch[0::2], batch[1::2])]
        assert sum(same) == 16
        assert all(items[a][2] != items[b][2] for (a, b), s in zip(zip(batch[0::2], batch[1::2]), same) if s)


# -- the model ------------------------------------------------------------------------------------------
NEW_MODULES = ("mutual_attention", "embedding", "classifier", "verifier")


@pytest.fixture(scope="module")
def model(live_residuals):
    torch.manual_seed(0)
    return live_residuals(build_mutual_attention(5, input_size=(64, 32)))


@pytest.fixture(scope="module")
def trained_step(model):
    """One train-mode forward and backward of the Eq. 13 objective on two pairs (one positive)."""
    torch.manual_seed(1)
    images, targets = torch.randn(4, 3, 64, 32), torch.tensor([0, 0, 1, 2])
    outputs = model.train()(images)
    loss = (torch.nn.functional.cross_entropy(outputs["logits"], targets)
            + 0.5 * VerificationLoss()(outputs, targets))
    model.zero_grad()
    loss.backward()
    return outputs, dict(model.attention_maps)


def test_train_outputs_attention_maps_and_gradients(model, trained_step, cancelled_biases):
    outputs, maps = trained_step
    assert outputs["logits"].shape == (4, 5) and outputs["embedding"].shape == (4, 512)
    assert outputs["verification_logits"].shape == (2, 2)
    shapes = {name: tuple(m.shape) for name, m in maps.items()}
    assert shapes == {"mutual_layer3": (2, 4, 2), "mutual_layer4": (2, 2, 1)}  # (pairs, H, W)
    assert not any(m.requires_grad for m in maps.values())
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
    cancelled = cancelled_biases(model)
    assert cancelled == {"embedding.0.bias", "verifier.0.0.bias"}
    assert [name for name, p in model.named_parameters() if name not in cancelled and not p.grad.abs().sum() > 0] == []


def test_new_layers_have_kaiming_weights_and_zero_biases(model):
    conv = model.mutual_attention["layer4"].mutual  # 2048 x 2048 weights: a tight estimate of the std
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 2048), rel=0.02)
    assert model.embedding[0].weight.std().item() == pytest.approx(math.sqrt(2 / 2048), rel=0.02)
    assert model.verifier[0][0].weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    new_layers = [module for name, module in model.named_modules()
                  if name.startswith(NEW_MODULES) and isinstance(module, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(new_layers) == 2 * 3 + 1 + 1 + 2  # attention convs, embedding, classifier, verifier
    assert all(module.bias.abs().sum() == 0 for module in new_layers)


def test_output_layers_start_small_so_cross_entropies_start_near_log_n(model):
    """Normal(0, 0.001) classifiers (torchreid's): the identity and same/different cross-entropies
    start at ln 5 and ln 2, not above them as with Kaiming weights."""
    assert model.classifier.weight.std().item() == pytest.approx(0.001, rel=0.1)
    assert model.verifier[2].weight.std().item() == pytest.approx(0.001, rel=0.2)
    torch.manual_seed(5)
    with torch.no_grad():
        outputs = model.train()(torch.randn(8, 3, 64, 32))
    identity = torch.nn.functional.cross_entropy(outputs["logits"], torch.tensor([0, 0, 1, 2, 3, 3, 4, 1]))
    verification = torch.nn.functional.cross_entropy(outputs["verification_logits"], torch.tensor([1, 0, 1, 0]))
    assert identity.item() == pytest.approx(math.log(5), abs=0.05)
    assert verification.item() == pytest.approx(math.log(2), abs=0.05)


def test_dropout_sits_before_the_classifiers_not_in_the_compared_features(model):
    """f1, f2 (and so f_d) are dropout-free: two train-mode passes of one pair give the same
    ``embedding`` and differ only after the dropout in front of each classifier."""
    assert model.dropout.p == 0.75 and model.verifier[1].p == 0.75
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.embedding.modules())
    images = torch.randn(4, 3, 64, 32, generator=torch.Generator().manual_seed(6))
    model.train()
    saved = {name: buffer.clone() for name, buffer in model.named_buffers()}
    with torch.no_grad():
        torch.manual_seed(7)
        first = model(images)
        torch.manual_seed(8)
        second = model(images)
    for name, buffer in model.named_buffers():  # undo the running-statistics updates
        buffer.copy_(saved[name])
    torch.testing.assert_close(first["embedding"], second["embedding"])
    assert not torch.allclose(first["logits"], second["logits"])


def test_attended_pass_leaves_running_statistics_to_the_identification_path(model):
    """One train step updates layer4's and the 512-d layer's running statistics exactly as the
    plain (identification) pass alone would."""
    images = torch.randn(4, 3, 64, 32, generator=torch.Generator().manual_seed(9))
    norm = model.embedding[1]
    saved = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.train()
    with torch.no_grad():
        model(images)
        after_step = norm.running_mean.clone(), model.layer4[0].bn1.running_var.clone()
        for name, buffer in model.named_buffers():
            buffer.copy_(saved[name])
        features = model.layer4(model.layer3(model.stem(images)))
        model.embedding(features.mean(dim=(2, 3)))
        plain_only = norm.running_mean.clone(), model.layer4[0].bn1.running_var.clone()
        for name, buffer in model.named_buffers():
            buffer.copy_(saved[name])
    torch.testing.assert_close(after_step[0], plain_only[0])
    torch.testing.assert_close(after_step[1], plain_only[1])


def test_eval_feature_of_an_image_does_not_depend_on_the_batch(model):
    torch.manual_seed(2)
    images = torch.randn(3, 3, 64, 32)
    with torch.no_grad():
        batched = model.eval()(images)
        alone = model(images[1:2])
    assert batched.shape == (3, 512)
    assert torch.allclose(batched[1:2], alone, atol=1e-5)
    assert model.attention_maps == {}


def test_verification_pairs_images_2i_and_2i_plus_1(model):
    torch.manual_seed(3)
    images = torch.randn(4, 3, 64, 32)
    with torch.no_grad():
        model.eval()
        together = model.forward_pairs(images)["verification_logits"]
        second_pair_swapped = model.forward_pairs(images[[3, 2]])["verification_logits"]
    assert together.shape == (2, 2)
    assert torch.allclose(together[1:2], second_pair_swapped, atol=1e-5)


def test_verification_reads_the_mutually_attended_features(model):
    """With MA = 0 (Eq. 6: zero weights, a bias of -1e4 before the sigmoid) F = f, so the
    verification head sees the identification features; with the learned MA it does not."""
    torch.manual_seed(4)
    images = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        model.eval()
        attended = model.forward_pairs(images)
        saved = {name: {key: value.clone() for key, value in module.mutual.state_dict().items()}
                 for name, module in model.mutual_attention.items()}
        for module in model.mutual_attention.values():
            module.mutual.weight.zero_()
            module.mutual.bias.fill_(-1e4)
        plain = model.forward_pairs(images)
        for name, module in model.mutual_attention.items():
            module.mutual.load_state_dict(saved[name])
        expected = model.verifier((plain["embedding"][0:1] - plain["embedding"][1:2]).pow(2))
    assert torch.allclose(plain["verification_logits"], expected, atol=1e-5)
    # the output layer starts with 0.001-scale weights, so logits are small: compare relatively
    assert not torch.allclose(attended["verification_logits"], expected, rtol=0.05, atol=1e-6)


def test_odd_batch_in_train_mode_is_a_clear_error(model):
    with pytest.raises(ValueError, match="batch size must be even; got 3"):
        model.train()(torch.randn(3, 3, 64, 32))


@pytest.mark.parametrize("variant, stages, verifier", [
    ("full", {"layer3", "layer4"}, True),
    ("baseline", set(), False),
    ("ma_layer3", {"layer3"}, True),
    ("ma_layer4", {"layer4"}, True),
])
def test_variants_build_their_mutual_attention_stages(variant, stages, verifier):
    with torch.device("meta"):
        net = build_mutual_attention(10, **METHOD.model_kwargs_for(variant))
    assert set(net.mutual_attention) == stages and (net.verifier is not None) == verifier


def test_model_refuses_unknown_stages_and_attention_without_verification():
    with torch.device("meta"):
        with pytest.raises(ValueError, match=r"not \['layer2'\]"):
            build_mutual_attention(10, mutual_attention_layers=("layer2",))
        with pytest.raises(ValueError, match="enable verification"):
            build_mutual_attention(10, verification=False)


@pytest.mark.parametrize("variant, batch, train_outputs", [
    ("full", 4, {"logits": (4, 100), "embedding": (4, 512), "verification_logits": (2, 2)}),
    ("baseline", 3, {"logits": (3, 100), "embedding": (3, 512)}),  # no pairs needed: an odd batch is fine
])
def test_classification_at_32x32_trains_on_pairs_and_evaluates_100_way_logits(variant, batch, train_outputs):
    """CIFAR-100: the identity classifier is the 100-way classifier (shapes on the meta device)."""
    with torch.device("meta"):
        net = build_mutual_attention(100, task="classification", input_size=(32, 32),
                                     **METHOD.model_kwargs_for(variant))
        outputs = net.train()(torch.empty(batch, 3, 32, 32))
        assert {name: tuple(value.shape) for name, value in outputs.items()} == train_outputs
        assert net.eval()(torch.empty(batch, 3, 32, 32)).shape == (batch, 100)


# -- method: recipe, variants, reported numbers, registration ----------------------------------------------
def test_paper_recipe_is_section_5_1():
    recipe = METHOD.paper_recipe(protocol("market1501"))
    (stage,) = recipe.stages
    assert recipe.input_size == (256, 188) and recipe.epochs == 60 and stage.batch_size == 64
    assert (stage.sampler.name, stage.sampler.kwargs) == ("mutual_attention_pairs", {"positive_fraction": 0.5})
    assert stage.optimizer.name == "sgd" and stage.optimizer.momentum == 0.9
    for epoch, lr in [(0, 1e-2), (39, 1e-2), (40, 1e-3), (59, 1e-3)]:
        assert stage.optimizer.lr * stage.schedule.factor(epoch) == pytest.approx(lr)
    assert [augment.name for augment in recipe.train_transforms] == ["random_flip", "random_erase"]
    assert METHOD.paper_recipe(protocol("cifar100", "classification")) == recipe


def test_uniform_recipe_keeps_the_pair_sampler():
    assert METHOD.sampler_is_method
    stage = resolve_recipe(METHOD, protocol("market1501"), "uniform").stages[0]
    assert stage.sampler.name == "mutual_attention_pairs" and stage.batch_size % 2 == 0


def test_registration_variants_and_reported_numbers():
    plugins = load_plugins()
    assert not [problem for problem in plugins.problems if problem.plugin == "mutual_attention"]
    assert plugins.methods.get("mutual_attention") is METHOD
    for kind, name in [("models", "mutual_attention"), ("losses", "mutual_attention_verification"),
                       ("samplers", "mutual_attention_pairs")]:
        assert getattr(plugins, kind).owner(name) == "mutual_attention"
    assert set(METHOD.variants) == {"full", "baseline", "ma_layer3", "ma_layer4"}
    for reported in METHOD.reported:
        assert reported.protocol in plugins.datasets and METHOD.variant(reported.variant)
    single = {(r.protocol, r.variant, r.reranked): r.metrics for r in METHOD.reported if r.measured_on is None}
    market = {"R1": 90.74, "R5": 96.36, "R10": 97.86, "R20": 98.57, "mAP": 76.92}
    assert single[("market1501", None, False)] == market
    assert single[("dukemtmcreid", None, True)]["mAP"] == 80.65
    assert single[("market1501", "baseline", False)] == {"R1": 87.97, "mAP": 72.46}
    assert single[("dukemtmcreid", "baseline", False)] == {"R1": 75.27, "mAP": 57.13}
    assert single[("market1501-multi-query", None, False)]["R1"] == 93.82


# -- command line ---------------------------------------------------------------------------------------
def test_cli_short_run_on_synthetic(short_run):
    record = short_run("mutual_attention")
    assert record["plugin"] == "mutual_attention" and record["variant"] == "full"
    assert math.isfinite(record["metrics"]["mAP"]) and math.isfinite(record["metrics"]["R1"])

