"""Market-1501 and DukeMTMC-reID: tiny copies in the real layout load through torchreid's readers;
a wrong layout gets a clear error before torchreid could download anything."""
import os
import re
import shutil

import pytest

from reid_bench.datasets import dukemtmcreid, market1501
from reid_bench.errors import DatasetLayoutError

from .fixtures import forbid_downloads, make_dukemtmcreid, make_market1501

DATASETS = {
    "market1501": (market1501, make_market1501, ("market1501", "Market-1501-v15.09.15")),
    "dukemtmcreid": (dukemtmcreid, make_dukemtmcreid, ("dukemtmc-reid", "DukeMTMC-reID")),
}


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


@pytest.fixture(params=sorted(DATASETS))
def dataset(request, tmp_path):
    """``(module, root, data_dir, counts)`` for a freshly written fixture."""
    module, make, folders = DATASETS[request.param]
    counts = make(str(tmp_path))
    return module, str(tmp_path), os.path.join(str(tmp_path), *folders), counts


def test_fixture_loads_with_its_counts(dataset):
    module, root, _, counts = dataset
    splits = module.load(root, allow_partial=True)
    assert splits.num_train_pids == counts.train_ids
    assert sorted({item[1] for item in splits.train}) == list(range(counts.train_ids))
    assert len(splits.train) == counts.train_images
    assert len(splits.query) == counts.query_images
    assert len({item[1] for item in splits.query}) == counts.query_ids
    assert len(splits.gallery) == counts.gallery_images
    assert all(os.path.isfile(item[0]) for item in splits.train + splits.query + splits.gallery)
    assert splits.train == sorted(splits.train)


def test_market1501_keeps_distractors_and_drops_junk(tmp_path):
    make_market1501(str(tmp_path), num_distractors=2, num_junk=3)
    gallery_pids = [item[1] for item in market1501.load(str(tmp_path), allow_partial=True).gallery]
    assert gallery_pids.count(0) == 2
    assert -1 not in gallery_pids


def test_market1501_reads_the_layout_without_version_folder(tmp_path):
    counts = make_market1501(str(tmp_path), version_folder=False)
    with pytest.warns(UserWarning, match="deprecated"):  # torchreid's own note on this layout
        splits = market1501.load(str(tmp_path), allow_partial=True)
    assert len(splits.train) == counts.train_images


def test_published_sizes_are_required_without_allow_partial(dataset):
    module, root, _, counts = dataset
    with pytest.raises(DatasetLayoutError) as error:
        module.load(root)
    message = str(error.value)
    published = module.PUBLISHED["train identities"]
    missing = published - counts.train_ids
    assert f"train identities: {counts.train_ids} found, {published} expected ({missing} missing)" in message
    assert f"gallery images: {counts.gallery_images} found, {module.PUBLISHED['gallery images']:,} expected" in message
    assert "--allow-partial" in message


def test_missing_split_folder_is_named(dataset):
    module, root, data_dir, _ = dataset
    shutil.rmtree(os.path.join(data_dir, "query"))
    with pytest.raises(DatasetLayoutError) as error:
        module.load(root, allow_partial=True)
    message = str(error.value)
    assert f"missing folder {os.path.join(data_dir, 'query')}" in message
    assert f"expected layout: {module.LAYOUT.description}" in message
    assert "Nothing is downloaded" in message


def test_missing_dataset_folder_is_an_error_not_a_download(tmp_path):
    for module, _, folders in DATASETS.values():
        with pytest.raises(DatasetLayoutError, match=re.escape(f"missing folder {tmp_path / folders[0]}")):
            module.load(str(tmp_path))
    assert os.listdir(tmp_path) == []  # torchreid would have created the folder before downloading


def test_misnamed_image_is_named(dataset):
    module, root, data_dir, _ = dataset
    open(os.path.join(data_dir, "bounding_box_train", "holiday.jpg"), "wb").close()
    with pytest.raises(DatasetLayoutError, match=r"1 file\(s\) in .*bounding_box_train do not follow .*'holiday.jpg'"):
        module.load(root, allow_partial=True)


def test_empty_split_folder_is_named(dataset):
    module, root, data_dir, _ = dataset
    for name in os.listdir(os.path.join(data_dir, "bounding_box_test")):
        os.remove(os.path.join(data_dir, "bounding_box_test", name))
    with pytest.raises(DatasetLayoutError, match="no .jpg images in .*bounding_box_test"):
        module.load(root, allow_partial=True)


def test_path_that_torchreid_would_misread_is_refused(tmp_path):
    root = str(tmp_path / "runs_2019_c1")  # torchreid would read pid 2019, camera 1 from every image path
    make_market1501(root)
    with pytest.raises(DatasetLayoutError, match="contains '2019_c1'"):
        market1501.load(root, allow_partial=True)


# -- market1501-multi-query --------------------------------------------------------------------------

def test_multi_query_pools_each_querys_gt_bbox_boxes_from_its_camera(tmp_path):
    make_market1501(str(tmp_path), num_test_ids=2, num_cameras=2, gt_bbox_per_query=3)
    splits = market1501.load_multi_query(str(tmp_path), allow_partial=True)
    assert splits.query == market1501.load(str(tmp_path), allow_partial=True).query
    # every query once (from query/, not its gt_bbox copy) plus its 3 other boxes; train ids' boxes left out
    assert len(splits.query_pool) == len(splits.query) * 4
    assert set(splits.query) <= set(splits.query_pool)
    pool_keys = {(pid, camid) for _, pid, camid, _ in splits.query_pool}
    assert pool_keys == {(pid, camid) for _, pid, camid, _ in splits.query}
    for pid, camid in pool_keys:
        group = [item for item in splits.query_pool if item[1:3] == (pid, camid)]
        assert len(group) == 4 and all(f"{pid:04d}_c{camid + 1}s1_" in os.path.basename(p) for p, *_ in group)


def test_multi_query_without_gt_bbox_says_what_is_needed(tmp_path):
    make_market1501(str(tmp_path))
    with pytest.raises(DatasetLayoutError) as error:
        market1501.load_multi_query(str(tmp_path), allow_partial=True)
    message = str(error.value)
    gt_bbox = os.path.join(str(tmp_path), "market1501", "Market-1501-v15.09.15", "gt_bbox")
    assert f"missing folder {gt_bbox}" in message
    assert "25,259 hand-drawn boxes" in message and "torchreid's reader does not read" in message


def test_multi_query_checks_the_published_gt_bbox_size(tmp_path):
    make_market1501(str(tmp_path), gt_bbox_per_query=1)
    with pytest.raises(DatasetLayoutError, match=r"gt_bbox images: 11 found, 25,259 expected"):
        market1501.load_multi_query(str(tmp_path), allow_partial=False)
