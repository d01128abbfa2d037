"""Synthetic pretraining (reid_bench.models.pretraining): its own identities, deterministic weights, cached
once, loaded where ImageNet weights would be, and named in the record. Tiny recipes keep it cheap."""
import json
import os

import pytest
import torch
import torchvision

from reid_bench.models import pretraining
from reid_bench.models.weights import Pretrained
from reid_bench.datasets import synthetic

TINY = pretraining.PretrainingRecipe(identities=6, images_per_identity=2, iterations=2, batch_size=4, seed=7)


@pytest.fixture
def tiny_recipe(monkeypatch):
    """Every default use of the pretraining recipe gets the tiny one."""
    monkeypatch.setattr(pretraining, "PRETRAINING", TINY)
    return TINY


def test_pretraining_set_has_its_own_identities_and_random_cameras():
    recipe = pretraining.PretrainingRecipe(identities=300, images_per_identity=2)
    images, labels, attributes = pretraining.pretraining_set(recipe)
    assert images.shape == (600, 3, *synthetic.INPUT_SIZE) and images.dtype == torch.uint8
    assert labels.tolist() == [i // 2 for i in range(600)]
    assert attributes.shape == (600, len(pretraining.ATTRIBUTES))
    for column, classes in enumerate(pretraining.ATTRIBUTES.values()):
        assert 0 <= attributes[:, column].min() and attributes[:, column].max() < classes
    # No identity's attribute combination is one of the re-id protocol's 220 (train and test).
    protocol = pretraining._protocol_identity_keys()
    assert len(protocol) == synthetic.NUM_TRAIN_IDS + synthetic.NUM_TEST_IDS
    rng = __import__("numpy").random.default_rng(recipe.seed)
    drawn = [pretraining._identity_key(synthetic._draw_identity(rng)) for _ in range(5)]
    assert not protocol & set(drawn)
    again, _, _ = pretraining.pretraining_set(recipe)
    assert torch.equal(images, again)


def test_pretrained_weights_are_deterministic_and_torchvision_shaped():
    first, stats = pretraining.pretrain("resnet50", TINY, log=lambda *_: None)
    second, _ = pretraining.pretrain("resnet50", TINY, log=lambda *_: None)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    assert set(first) == {key for key in reference if not key.startswith("fc.")}
    assert all(first[key].shape == reference[key].shape for key in first)
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    assert stats["arch"] == "resnet50" and stats["images"] == 12 and 0.0 <= stats["train_identity_accuracy"] <= 1.0


def test_weights_are_made_once_and_cached(tiny_recipe, monkeypatch):
    path = pretraining.synthetic_weights("resnet50", log=lambda *_: None)
    assert os.path.dirname(path) == pretraining.cache_dir() and tiny_recipe.fingerprint("resnet50") in path
    with open(os.path.splitext(path)[0] + ".json") as handle:
        assert json.load(handle)["recipe"]["iterations"] == 2

    def no_second_pretraining(*args, **kwargs):
        raise AssertionError("pretrained twice")

    monkeypatch.setattr(pretraining, "pretrain", no_second_pretraining)
    assert pretraining.synthetic_weights("resnet50") == path
    state = torch.load(path, weights_only=True)
    assert "conv1.weight" in state and "fc.weight" not in state
    # another recipe is another file
    assert pretraining.PretrainingRecipe(iterations=3).fingerprint("resnet50") != tiny_recipe.fingerprint("resnet50")


def test_synthetic_weights_load_into_every_backbone_builder(tiny_recipe):
    from reid_bench import googlenet, resnet
    from reid_bench.plugins.baseline.model import build_baseline

    weights = Pretrained(source="synthetic")
    state = torch.load(pretraining.synthetic_weights("resnet50", log=lambda *_: None), weights_only=True)
    net = resnet(50, weights, replace_stride_with_dilation=[False, True, True])
    torch.testing.assert_close(net.layer3[0].conv2.weight, state["layer3.0.conv2.weight"])
    baseline = build_baseline(4, pretrained=weights)
    torch.testing.assert_close(baseline.backbone.conv1.weight, state["conv1.weight"])
    inception = googlenet(weights)
    assert inception.transform_input is False  # trained on the harness's normalisation, not ImageNet's
    assert weights.describe().startswith("synthetic")


def test_a_synthetic_run_starts_from_the_synthetic_weights_and_says_so(tiny_recipe, tmp_path):
    import glob

    from reid_bench.cli import main
    from tests.conftest import SHORT_RUN

    args = [arg for arg in SHORT_RUN if arg != "--no-pretrained"]  # the protocol's default weights
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", *args, "--no-rerank",
                 "--output", str(tmp_path)]) == 0
    (path,) = glob.glob(str(tmp_path / "results" / "*.json"))
    with open(path) as handle:
        assert json.load(handle)["pretrained"] == "synthetic (reid_bench.pretraining v1)"
