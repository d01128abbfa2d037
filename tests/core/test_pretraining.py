"""Synthetic pretraining (reid_bench.models.pretraining): generic dead-leaves images, deterministic weights
per backbone geometry, cached once, loaded where ImageNet weights would be, and named in the record. Tiny
recipes keep it cheap."""
import json
import os

import numpy as np
import pytest
import torch
import torchvision

from reid_bench.datasets import leaves
from reid_bench.models import pretraining
from reid_bench.models.backbones import resnet_geometry, set_last_stride
from reid_bench.models.weights import Pretrained

TINY = pretraining.PretrainingRecipe(classes=6, images_per_class=2, held_out_per_class=1, iterations=2,
                                     batch_size=4, seed=7)


@pytest.fixture
def tiny_recipe(monkeypatch):
    """Every default use of the pretraining recipe gets the tiny one."""
    monkeypatch.setattr(pretraining, "PRETRAINING", TINY)
    return TINY


def test_textures_are_the_patterns_they_name():
    ys, xs = np.mgrid[0:4, 0:4].astype(np.float32)
    stripes = leaves._texture("hstripes", ys, xs, 2, (0, 0))
    assert stripes[:, 0].tolist() == [False, False, True, True] and stripes[0].tolist() == [False] * 4
    assert leaves._texture("vstripes", ys, xs, 2, (0, 0)).T.tolist() == stripes.tolist()
    checks = leaves._texture("checks", ys, xs, 1, (0, 0))
    assert checks.tolist() == [[(row + column) % 2 == 1 for column in range(4)] for row in range(4)]
    assert not leaves._texture("solid", ys, xs, 2, (0, 0)).any()


def test_an_ellipse_leaf_covers_its_area():
    ys, xs = np.mgrid[0:200, 0:200].astype(np.float32)
    leaf = dict(shape=leaves.SHAPES.index("ellipse"), cy=100.0, cx=100.0, ry=40.0, rx=60.0, angle=0.0)
    assert leaves._leaf_mask(leaf, ys, xs, []).sum() == pytest.approx(np.pi * 40 * 60, rel=0.01)
    leaf["shape"] = leaves.SHAPES.index("rectangle")  # half-sides 0.8 r
    assert leaves._leaf_mask(leaf, ys, xs, []).sum() == pytest.approx(1.6 * 40 * 1.6 * 60, rel=0.03)


def test_leaves_set_is_deterministic_with_consistent_labels():
    images, labels, colours, textures = leaves.leaves_set(5, 3, (16, 8), seed=3)
    assert images.shape == (15, 3, 16, 8) and images.dtype == np.uint8
    assert labels.tolist() == [i // 3 for i in range(15)]
    assert colours.shape == (15, len(leaves.PALETTE)) and set(np.unique(colours)) <= {0.0, 1.0}
    assert textures.shape == (15, len(leaves.TEXTURES)) and (colours.sum(1) >= 1).all()
    again = leaves.leaves_set(5, 3, (16, 8), seed=3)
    assert np.array_equal(images, again[0]) and np.array_equal(colours, again[2])
    assert not np.array_equal(images, leaves.leaves_set(5, 3, (16, 8), seed=4)[0])


def test_pretraining_set_holds_out_renderings_of_every_class():
    (images, labels, _, _), (held_images, held_labels, _, _) = pretraining.pretraining_set(TINY)
    assert images.shape == (12, 3, *TINY.input_size) and images.dtype == torch.uint8
    assert labels.tolist() == [i // 2 for i in range(12)] and held_labels.tolist() == list(range(6))


@pytest.mark.parametrize("geometry,layer4_stride", [({}, 2), ({"last_stride": 1}, 1)])
def test_pretrained_weights_are_deterministic_torchvision_shaped_and_in_their_geometry(geometry, layer4_stride):
    first, stats = pretraining.pretrain("resnet50", TINY, log=lambda *_: None, **geometry)
    second, _ = pretraining.pretrain("resnet50", TINY, log=lambda *_: None, **geometry)
    reference = torchvision.models.resnet50(weights=None).state_dict()
    assert set(first) == {key for key in reference if not key.startswith("fc.")}
    assert all(first[key].shape == reference[key].shape for key in first)
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    assert stats["arch"] == "resnet50" and stats["images"] == 12 and stats["geometry"] == geometry
    assert 0.0 <= stats["held_out_accuracy"]["class"] <= 1.0
    backbone, _ = pretraining.build_backbone("resnet50", **geometry)
    assert backbone.layer4[0].conv2.stride == (layer4_stride, layer4_stride)
    assert resnet_geometry(backbone) == geometry


@pytest.mark.parametrize("threads", [1, 3])
def test_the_weights_do_not_depend_on_the_callers_thread_count(threads):
    """At another thread count a reduction sums in another order; pretraining always runs at the recipe's
    (the board's seeds 1 and 2 had started from different weights, built at different thread counts)."""
    reference, _ = pretraining.pretrain("resnet18", TINY, log=lambda *_: None)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        state, _ = pretraining.pretrain("resnet18", TINY, log=lambda *_: None)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(state[key], reference[key]) for key in reference)


def test_the_geometry_weights_are_made_for():
    from torchreid.reid.models.resnet import Bottleneck, ResNet

    def torchvision_resnet(**kwargs):
        return torchvision.models.resnet50(weights=None, **kwargs)

    assert resnet_geometry(torchvision_resnet()) == {}
    assert resnet_geometry(set_last_stride(torchvision_resnet(), 1)) == {"last_stride": 1}
    # dilated layers compute the strided network's function densely: they take torchvision's weights
    assert resnet_geometry(torchvision_resnet(replace_stride_with_dilation=[False, True, True])) == {}
    assert resnet_geometry(torchvision_resnet(replace_stride_with_dilation=[False, False, True])) == {}
    torchreid_net = ResNet(4, loss="softmax", block=Bottleneck, layers=[3, 4, 6, 3], last_stride=1)
    assert resnet_geometry(torchreid_net) == {"last_stride": 1}
    assert resnet_geometry(torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)) == {}


def test_weights_are_made_once_per_geometry_and_cached(tiny_recipe, monkeypatch):
    path = pretraining.synthetic_weights("resnet50", log=lambda *_: None)
    assert os.path.dirname(path) == pretraining.cache_dir() and tiny_recipe.fingerprint("resnet50") in path
    with open(os.path.splitext(path)[0] + ".json") as handle:
        assert json.load(handle)["recipe"]["iterations"] == 2
    # torchvision's geometry spelled out is the same file; another is another file
    assert pretraining.synthetic_weights("resnet50", {"last_stride": 2}) == path
    stride_one = pretraining.synthetic_weights("resnet50", {"last_stride": 1}, log=lambda *_: None)
    assert stride_one != path and "-s1-" in os.path.basename(stride_one)

    def no_second_pretraining(*args, **kwargs):
        raise AssertionError("pretrained twice")

    monkeypatch.setattr(pretraining, "pretrain", no_second_pretraining)
    assert pretraining.synthetic_weights("resnet50") == path
    assert pretraining.synthetic_weights("resnet50", {"last_stride": 1}) == stride_one
    state = torch.load(path, weights_only=True)
    assert "conv1.weight" in state and "fc.weight" not in state
    # another recipe is another file
    assert pretraining.PretrainingRecipe(iterations=3).fingerprint("resnet50") != tiny_recipe.fingerprint("resnet50")


def test_a_truncated_cached_weights_file_is_made_again(tiny_recipe, capsys):
    """Reliability issue, defect 7: a truncated cache file was a traceback on every later run, never rebuilt."""
    from reid_bench import resnet

    path = pretraining.synthetic_weights("resnet50", log=lambda *_: None)
    whole = torch.load(path, weights_only=True)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    net = resnet(50, Pretrained(source="synthetic"))
    assert "cannot be read" in capsys.readouterr().out
    torch.testing.assert_close(net.conv1.weight, whole["conv1.weight"])  # the pretraining is deterministic
    torch.testing.assert_close(torch.load(path, weights_only=True)["conv1.weight"], whole["conv1.weight"])


def test_every_backbone_builder_loads_the_weights_of_its_geometry(tiny_recipe):
    from reid_bench import googlenet, resnet
    from reid_bench.plugins.baseline.model import build_baseline

    weights = Pretrained(source="synthetic")

    def state_of(geometry):
        return torch.load(pretraining.synthetic_weights("resnet50", geometry, log=lambda *_: None), weights_only=True)

    dilated = resnet(50, weights, replace_stride_with_dilation=[False, True, True])
    torch.testing.assert_close(dilated.layer3[0].conv2.weight, state_of({})["layer3.0.conv2.weight"])
    baseline = build_baseline(4, pretrained=weights)  # torchreid's ResNet at last stride 1
    torch.testing.assert_close(baseline.backbone.conv1.weight, state_of({"last_stride": 1})["conv1.weight"])
    plain = resnet(50, weights)
    torch.testing.assert_close(plain.conv1.weight, state_of({})["conv1.weight"])
    assert not torch.equal(plain.conv1.weight, baseline.backbone.conv1.weight)
    inception = googlenet(weights)
    assert inception.transform_input is False  # trained on the harness's normalisation, not ImageNet's
    assert weights.describe() == f"synthetic (reid_bench.models.pretraining v{pretraining.PRETRAINING.version})"


def test_a_synthetic_run_starts_from_the_synthetic_weights_and_says_so(tiny_recipe, tmp_path):
    import glob

    from reid_bench.cli import main
    from tests.conftest import SHORT_RUN

    args = [arg for arg in SHORT_RUN if arg != "--no-pretrained"]  # the protocol's default weights
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", *args, "--no-rerank",
                 "--output", str(tmp_path)]) == 0
    (path,) = glob.glob(str(tmp_path / "results" / "*.json"))
    with open(path) as handle:
        assert json.load(handle)["pretrained"] == "synthetic (reid_bench.models.pretraining v2)"
