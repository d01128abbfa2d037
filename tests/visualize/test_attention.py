"""Attention pictures for every built-in method: the model's ``attention_maps`` after a forward (pairs
for mutual attention) become one overlaid panel per map name, at the picture's layout size."""
import numpy as np
import pytest
import torch
from PIL import Image

from reid_bench.data.transforms import build_test_transform
from reid_bench.plugin_manager import load_plugins
from reid_bench.recipes import resolve_recipe
from reid_bench.models.building import build_model
from reid_bench.visualize.attention import GAP, TITLE, attention_maps, panel_origin, write_attention

METHODS = ("baseline", "ccan", "self_attention", "mutual_attention", "sharp_attention", "msreid")
INPUT, SHOWN = (64, 32), (48, 24)


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
    for path in written:
        picture = np.asarray(Image.open(path).convert("RGB"))
        panels = 1 + len(maps)
        assert picture.shape == (SHOWN[0] + TITLE, panels * SHOWN[1] + (panels - 1) * GAP, 3)
        x, y = panel_origin(0, SHOWN)
        shown = picture[y:y + SHOWN[0], x:x + SHOWN[1]].astype(int)
        for column in range(1, panels):
            x, y = panel_origin(column, SHOWN)
            assert np.abs(picture[y:y + SHOWN[0], x:x + SHOWN[1]].astype(int) - shown).max() > 20, column
