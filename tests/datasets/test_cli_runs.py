"""``reid-bench run`` trains and evaluates for one short epoch on a re-id and the CIFAR-100
real-format fixture (``--root`` with ``--allow-partial``), writing a result record. The other
protocols share this path once loaded; their loaders are tested in their own files."""
import glob
import json
import os

import pytest

from reid_bench.cli import main

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


def test_a_market1501_model_tested_on_multi_query_is_in_domain_there(tmp_path, short_run_options):
    root, output = str(tmp_path / "data"), str(tmp_path / "runs")
    make_market1501(root, num_train_ids=8, gt_bbox_per_query=2)
    assert main(["run", "--plugin", "baseline", "--dataset", "market1501", *short_run_options, "--root", root,
                 "--allow-partial", "--output", output, "--test-on", "market1501-multi-query"]) == 0
    records = {}
    for path in glob.glob(os.path.join(output, "results", "*.json")):
        with open(path) as handle:
            record = json.load(handle)
        records[record["protocol"]] = record
    assert sorted(records) == ["market1501", "market1501-multi-query"]
    multi_query = records["market1501-multi-query"]
    # the same training split: in domain on the multi-query page, not a market1501->... pair page
    assert multi_query["trained_on"] == multi_query["tested_on"] == "market1501-multi-query"
    assert multi_query["evaluation"]["query_pooling"]["pool_images"] == 12
    assert main(["leaderboard", "--results", os.path.join(output, "results"), "--out", str(tmp_path / "lb"),
                 "--include-smoke"]) == 0
    pages = sorted(os.listdir(tmp_path / "lb"))
    assert "market1501-multi-query.md" in pages and not [page for page in pages if "-to-" in page]
