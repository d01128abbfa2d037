"""Hand-made result records, methods and protocols for the leaderboard tests (no real plugin)."""
import pytest

from reid_bench import MethodSpec, ProtocolSpec, Reported, Variant
from reid_bench.plugin_manager import PluginSet


def _no_data(root=None, allow_partial=False, trial=0):
    raise AssertionError("the leaderboards never load a dataset")


PROTOCOLS = [
    ProtocolSpec("synthetic", "reid", "Synthetic pedestrians", "120 train ids / 100 test ids", _no_data),
    ProtocolSpec("market1501", "reid", "Market-1501", "751 train ids / 3,368 query / 15,913 gallery", _no_data),
    ProtocolSpec("cuhk03-labeled", "reid", "CUHK03-NP labeled", "767 / 700 ids", _no_data),
    ProtocolSpec("cuhk03-labeled-classic", "reid", "CUHK03 labeled, classic split", "1,367 / 100 ids, 20 trials",
                 _no_data, trials=20),
    ProtocolSpec("cifar100", "classification", "CIFAR-100", "50,000 / 10,000 images", _no_data),
]


def _recipe(protocol):
    raise AssertionError("the leaderboards never build a recipe")


METHODS = [
    MethodSpec(
        name="alpha", model="alpha", loss_terms=(), paper_recipe=_recipe, title="Alpha attention", backbone="resnet50",
        url="https://example.org/alpha",
        variants={"full": Variant("everything"), "lite": Variant("half of it")},
        reported=(
            Reported("market1501", {"mAP": 80.0, "R1": 92.0, "R5": 97.0}, "Table 2"),
            Reported("market1501", {"mAP": 90.0, "R1": 93.0}, "Table 2", reranked=True),
            Reported("market1501", {"mAP": 75.0, "R1": 90.0}, "Table 5", variant="lite"),
            Reported("cifar100", {"top1_err": 22.0}, "Table 4"),
        ),
    ),
    MethodSpec(
        name="beta", model="beta", loss_terms=(), paper_recipe=_recipe, title="Beta network", backbone="resnet50",
        url="https://example.org/beta",
        reported=(
            Reported("cuhk03-labeled", {"mAP": 85.9, "R1": 88.3}, "Table I", measured_on="cuhk03-labeled-classic"),
            Reported("market1501", {"mAP": 70.1, "R1": 85.9}, "Table III", note="R5 as printed in the table"),
        ),
    ),
    MethodSpec(name="baseline", model="baseline", loss_terms=(), paper_recipe=_recipe, backbone="resnet50"),
]


@pytest.fixture
def plugin_set():
    """A :class:`PluginSet` holding only the hand-made methods and protocols above."""
    plugins = PluginSet()
    for protocol in PROTOCOLS:
        plugins.datasets.add(protocol.name, protocol)
    for method in METHODS:
        plugins.methods.add(method.name, method)
    return plugins
