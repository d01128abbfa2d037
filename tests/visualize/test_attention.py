"""Attention pictures for every built-in method: the model's ``attention_maps`` after a forward (pairs
for mutual attention) become one overlaid panel per map name, titled, with a colour bar, at the picture's
layout size."""
import numpy as np
import pytest
import torch
from PIL import Image

from reid_bench.data.transforms import build_test_transform
from reid_bench.plugin_manager import load_plugins
from reid_bench.recipes import resolve_recipe
from reid_bench.models.building import build_model
from reid_bench.visualize.attention import (attention_figure, attention_maps, figure_size, title_lines,
                                            write_attention)

METHODS = ("baseline", "ccan", "self_attention", "mutual_attention", "sharp_attention", "msreid")
INPUT, SHOWN = (64, 32), (128, 64)  # shown upsampled


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


@pytest.mark.parametrize("name", METHODS)
def test_every_method_draws_its_attention_maps(plugins, name, tmp_path):
    torch.manual_seed(0)
    method = plugins.methods.get(name)
    protocol = plugins.datasets.get("synthetic")
    recipe = resolve_recipe(method, protocol, "uniform", input_size=INPUT)
    model = build_model(plugins, method, method.default_variant, protocol, recipe, 4, pretrained=False).eval()
    paths = []
    for index, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        image = np.zeros((INPUT[0], INPUT[1], 3), dtype=np.uint8)
        image[:] = colour
        image[INPUT[0] // 4: INPUT[0] // 2, :, :] = 255  # a bright band, so maps are not flat
        paths.append(str(tmp_path / f"image{index}.png"))
        Image.fromarray(image).save(paths[-1])
    transform = build_test_transform(recipe, INPUT)
    maps = attention_maps(model, torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[:2]]))
    assert maps, f"{name} filled no attention maps"
    assert all(value.dim() == 3 and value.size(0) == 2 for value in maps.values())

    written = write_attention(model, paths, transform, torch.device("cpu"), str(tmp_path / "out"), SHOWN)
    assert len(written) == 3  # an odd count works for the pairwise model too
    panels = 1 + len(maps)
    for path in written:
        assert Image.open(path).size == figure_size(panels, SHOWN)

    figure = attention_figure(Image.open(paths[0]), maps, 0, SHOWN, "image0")
    *shown, bar = figure.axes
    assert [axes.get_title().replace("\n", "") for axes in shown] == ["image0", *sorted(maps)]
    assert all(axes.images[0].get_array().shape == (*SHOWN, 3) for axes in shown)  # upsampled, one pixel each
    width, height = figure_size(panels, SHOWN)
    assert tuple(figure.get_size_inches() * figure.dpi) == pytest.approx((width, height))
    assert all(axes.get_window_extent().height == pytest.approx(SHOWN[0]) for axes in figure.axes)
    image = np.asarray(shown[0].images[0].get_array(), dtype=int)
    for axes in shown[1:]:  # each map changes the picture: it is overlaid, not flat
        assert np.abs(np.asarray(axes.images[0].get_array(), dtype=int) - image).max() > 20, axes.get_title()
    assert bar.get_ylabel() == "attention, per map" and bar.collections  # the colour bar of the jet scale
    assert bar.get_ylim() == (0.0, 1.0) and bar.get_position().x0 > shown[-1].get_position().x1


def test_titles_break_after_an_underscore_and_never_run_on():
    assert title_lines("layer4", 64) == "layer4"
    assert title_lines("soft_attention_layer1", 136) == "soft_attention_\nlayer1"  # 128-pixel panels and a gap
    assert title_lines("abcdefghijklmnopqrstuvwxyz", 64) == "abcdefghi\njklmnopq…"
