"""``reid-bench export --format onnx``: the baseline and an attention plugin export with a free batch size,
onnxruntime gives PyTorch's features within 1e-4 (printed), and a model with an operator the exporter
cannot convert gets one error naming it."""
import glob
import os
import re

import numpy as np
import pytest
import torch

import reid_bench
import reid_bench.deploy.inference
from reid_bench.cli import main
from reid_bench.errors import UserError
from reid_bench.deploy.export import export_onnx

from .fixtures import TINY_RUN, forbid_downloads, make_market1501

onnxruntime = pytest.importorskip("onnxruntime")  # the `test` extra installs it; CI runs these

@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("market"))
    make_market1501(root, num_train_ids=8, num_test_ids=4)
    return root


@pytest.mark.parametrize("plugin", ["baseline", "mutual_attention"])
def test_export_runs_in_onnxruntime_with_pytorchs_features(plugin, market, tmp_path, capsys):
    output = str(tmp_path / "runs")
    assert main(["run", "--plugin", plugin, *TINY_RUN, "--root", market, "--output", output]) == 0
    (checkpoint,) = glob.glob(os.path.join(output, "**", "model.pt"), recursive=True)
    images = os.path.join(market, "market1501", "Market-1501-v15.09.15", "query")
    out = str(tmp_path / "model.onnx")
    capsys.readouterr()
    assert main(["export", "--checkpoint", checkpoint, "--format", "onnx", "--dynamic-batch", "--out", out,
                 "--images", images]) == 0
    printed = capsys.readouterr().out
    difference = float(re.search(r"max abs difference (\S+) on random inputs and 8 real images", printed).group(1))
    assert difference <= 1e-4

    # the file on its own: a batch size the export never saw, real images read by the API
    model = reid_bench.load_model(checkpoint, device="cpu")
    paths = sorted(glob.glob(os.path.join(images, "*.jpg")))[:5]
    session = onnxruntime.InferenceSession(out, providers=["CPUExecutionProvider"])
    batch = torch.stack([model.transform(reid_bench.deploy.inference.read_image(path)) for path in paths]).numpy()
    onnx_features = session.run(["features"], {"images": batch})[0]
    assert np.abs(onnx_features - reid_bench.extract_features(model, paths)).max() <= 1e-4


def test_an_unconvertible_operator_is_named(tmp_path):
    class MedianHead(torch.nn.Module):
        """A network whose features use ``median`` (no ONNX conversion in torch.onnx)."""

        def forward(self, images):
            return images.flatten(2).median(dim=2).values

    with pytest.raises(UserError) as info:
        export_onnx(_model_around(MedianHead()), str(tmp_path / "median.onnx"))
    assert "operator aten.median" in str(info.value) and "cannot be exported to ONNX" in str(info.value)


def _model_around(network):
    """A :class:`ReidModel` of the baseline's method and recipe around another network."""
    from reid_bench.plugin_manager import load_plugins
    from reid_bench.recipes import resolve_recipe

    plugins = load_plugins()
    method = plugins.methods.get("baseline")
    recipe = resolve_recipe(method, plugins.datasets.get("market1501"), "paper", input_size=(32, 16))
    return reid_bench.ReidModel(network, method, method.default_variant, recipe, {}, "model.pt", torch.device("cpu"))
