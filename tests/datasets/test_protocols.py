"""The shipped protocols: registered through the datasets hook, described for ``reid-bench list``
with their published split sizes, and never downloading."""
import re

import pytest

from reid_bench.datasets import cifar100, cuhk03, dukemtmcreid, market1501, msmt17
from reid_bench.errors import DatasetLayoutError
from reid_bench.plugin_manager import load_plugins

from .fixtures import forbid_downloads

REAL_PROTOCOLS = ["market1501", "market1501-multi-query", "dukemtmcreid", "cuhk03-labeled", "cuhk03-detected",
                  "cuhk03-labeled-classic", "cuhk03-detected-classic", "msmt17", "cifar100"]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(use_entry_points=False).datasets


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


def test_every_protocol_is_registered(registry):
    assert set(REAL_PROTOCOLS) | {"synthetic", "synthetic-shift"} == set(registry.names())
    assert registry.owner("market1501") == "reid_bench"


@pytest.mark.parametrize("name", REAL_PROTOCOLS)
def test_protocol_is_described(registry, name):
    protocol = registry.get(name)
    assert protocol.name == name
    assert protocol.title and protocol.split and protocol.layout.startswith("<root>/")
    assert protocol.url.startswith("http")
    assert protocol.task == ("classification" if name == "cifar100" else "reid")
    assert protocol.trials == (20 if name.endswith("-classic") else 1)


@pytest.mark.parametrize("name, published", [
    ("market1501", market1501.PUBLISHED),
    ("market1501-multi-query", {**market1501.PUBLISHED, **market1501.PUBLISHED_MULTI_QUERY}),
    ("dukemtmcreid", dukemtmcreid.PUBLISHED),
    ("cuhk03-labeled", cuhk03.PUBLISHED_NEW["labeled"]),
    ("cuhk03-detected", cuhk03.PUBLISHED_NEW["detected"]),
    ("msmt17", msmt17.PUBLISHED),
    ("cifar100", cifar100.PUBLISHED),
])
def test_split_shows_the_sizes_the_loader_checks(registry, name, published):
    split = registry.get(name).split
    for key, size in published.items():
        assert f"{size:,}" in split, (key, split)


def test_cifar100_keeps_its_native_size(registry):
    assert registry.get("cifar100").input_size == (32, 32)


@pytest.mark.parametrize("name", REAL_PROTOCOLS)
def test_empty_root_is_an_error_that_names_the_layout(registry, tmp_path, name):
    protocol = registry.get(name)
    with pytest.raises(DatasetLayoutError) as error:
        protocol.load(str(tmp_path))
    message = str(error.value)
    assert message.splitlines()[0].endswith(f" under {tmp_path} is not as expected:")
    assert "missing folder" in message
    assert f"expected layout: {protocol.layout}" in message
    assert "Nothing is downloaded" in message and protocol.url.split(" ")[0] in message


def test_torchreid_alone_would_download_into_an_empty_root(tmp_path):
    """Why the loaders check first: torchreid's own class starts a download (refused here)."""
    from torchreid.reid.data.datasets.image.market1501 import Market1501

    with pytest.raises(AssertionError, match=re.escape("torchreid tried to download http")):
        Market1501(root=str(tmp_path))
