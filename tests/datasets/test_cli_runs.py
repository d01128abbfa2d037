"""``reid-bench run`` trains and evaluates for one short epoch on a re-id and the CIFAR-100
real-format fixture (``--root`` with ``--allow-partial``), writing a result record. The other
protocols share this path once loaded; their loaders are tested in their own files."""
import pytest

from .fixtures import forbid_downloads, make_cifar100, make_market1501

FIXTURES = {  # big enough for two batches of 16 = 4 ids x 4 images
    "market1501": lambda root: make_market1501(root, num_train_ids=8),
    "market1501-multi-query": lambda root: make_market1501(root, num_train_ids=8, gt_bbox_per_query=2),
    "cifar100": lambda root: make_cifar100(root, n_train=64, n_test=20),
}


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


@pytest.mark.parametrize("protocol", sorted(FIXTURES))
def test_short_run_on_fixture(short_run, tmp_path, protocol):
    root = str(tmp_path / "data")
    FIXTURES[protocol](root)
    record = short_run("baseline", "--root", root, "--allow-partial", dataset=protocol)
    assert record["protocol"] == protocol
    expected = ("top1_err", "top5_err") if protocol == "cifar100" else ("mAP", "R1")
    assert all(record["metrics"][name] is not None for name in expected)
    if protocol == "market1501-multi-query":  # 2 test ids x 2 cameras, each query with its 2 more boxes
        assert record["evaluation"]["query_pooling"] == {"mode": "mean", "pool_images": 12}
        assert record["evaluation"]["num_query"] == 4
