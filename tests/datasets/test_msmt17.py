"""MSMT17: tiny V1 and V2 copies with their list files load through torchreid's reader (train and
validation lists together); broken lists and folders get a clear error."""
import os

import pytest

from reid_bench.datasets import msmt17
from reid_bench.errors import DatasetLayoutError

from .fixtures import MSMT17_FOLDERS, forbid_downloads, make_msmt17


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


def version_dir(root, version):
    return os.path.join(root, "msmt17", MSMT17_FOLDERS[version][0])


@pytest.mark.parametrize("version", [1, 2])
def test_fixture_loads_with_its_counts(tmp_path, version):
    counts = make_msmt17(str(tmp_path), version=version)
    splits = msmt17.load(str(tmp_path), allow_partial=True)
    assert splits.num_train_pids == counts.train_ids
    assert len(splits.train) == counts.train_images  # list_train.txt + list_val.txt
    assert len(splits.query) == counts.query_images
    assert len({item[1] for item in splits.query}) == counts.query_ids
    assert len(splits.gallery) == counts.gallery_images
    train_folder = os.path.join(version_dir(str(tmp_path), version), MSMT17_FOLDERS[version][1])
    assert all(item[0].startswith(train_folder) and os.path.isfile(item[0]) for item in splits.train)
    assert {item[2] for item in splits.query} == {0, 1}  # cameras 01 and 02, 0-based


def test_validation_images_are_trained_on(tmp_path):
    make_msmt17(str(tmp_path))
    with open(os.path.join(version_dir(str(tmp_path), 1), "list_val.txt")) as handle:
        validation = {line.split(" ")[0] for line in handle}
    train_paths = {os.path.relpath(item[0], os.path.join(version_dir(str(tmp_path), 1), "train"))
                   for item in msmt17.load(str(tmp_path), allow_partial=True).train}
    assert validation and validation <= train_paths


def test_v1_is_preferred_when_both_versions_are_there(tmp_path):
    make_msmt17(str(tmp_path), version=1, num_train_ids=2)
    make_msmt17(str(tmp_path), version=2, num_train_ids=4)
    assert msmt17.load(str(tmp_path), allow_partial=True).num_train_pids == 2


def test_published_sizes_are_required_without_allow_partial(tmp_path):
    make_msmt17(str(tmp_path))
    with pytest.raises(DatasetLayoutError) as error:
        msmt17.load(str(tmp_path))
    assert "train identities: 3 found, 1,041 expected (1,038 missing)" in str(error.value)
    assert "gallery images: 8 found, 82,161 expected (82,153 missing)" in str(error.value)


def test_neither_version_folder(tmp_path):
    os.makedirs(tmp_path / "msmt17" / "MSMT17")
    with pytest.raises(DatasetLayoutError, match="neither MSMT17_V1 nor MSMT17_V2 in"):
        msmt17.load(str(tmp_path), allow_partial=True)


def test_missing_list_file_is_named(tmp_path):
    make_msmt17(str(tmp_path), version=2)
    os.remove(os.path.join(version_dir(str(tmp_path), 2), "list_query.txt"))
    with pytest.raises(DatasetLayoutError) as error:
        msmt17.load(str(tmp_path), allow_partial=True)
    assert f"missing file {os.path.join(version_dir(str(tmp_path), 2), 'list_query.txt')}" in str(error.value)
    assert "Nothing is downloaded" in str(error.value)


def test_listed_image_that_is_missing_is_named(tmp_path):
    make_msmt17(str(tmp_path))
    gallery_list = os.path.join(version_dir(str(tmp_path), 1), "list_gallery.txt")
    with open(gallery_list) as handle:
        first = handle.readline().split(" ")[0]
    os.remove(os.path.join(version_dir(str(tmp_path), 1), "test", first))
    with pytest.raises(DatasetLayoutError, match=f"1 image\\(s\\) listed in {gallery_list} are not in .*'{first}'"):
        msmt17.load(str(tmp_path), allow_partial=True)


def test_malformed_list_line_is_named(tmp_path):
    make_msmt17(str(tmp_path))
    train_list = os.path.join(version_dir(str(tmp_path), 1), "list_train.txt")
    with open(train_list) as handle:
        number = len(handle.readlines()) + 1
    with open(train_list, "a") as handle:
        handle.write("0000/notes.txt\n")
    expected = rf"1 malformed line\(s\) in .*list_train.txt: 'line {number}: 0000/notes.txt'"
    with pytest.raises(DatasetLayoutError, match=expected):
        msmt17.load(str(tmp_path), allow_partial=True)
