"""CUHK03: a tiny ``cuhk-03.mat`` (MATLAB v7.3) and CUHK03-NP config files go through torchreid's own
conversion (PNG images, split json files) and load as the new protocol and the 20-trial classic
split; broken or moved copies get a clear error."""
import os
import shutil

import h5py
import pytest
from scipy.io import savemat

from reid_bench.datasets import cuhk03
from reid_bench.errors import DatasetLayoutError, UserError

from .fixtures import forbid_downloads, make_cuhk03

PROTOCOLS = {protocol.name: protocol for protocol in cuhk03.PROTOCOLS}


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """One fixture shared by the read-only tests: ``(root, counts)``, converted by a first load."""
    root = str(tmp_path_factory.mktemp("cuhk03"))
    counts = make_cuhk03(root)
    return root, counts


@pytest.mark.parametrize("kind", ["labeled", "detected"])
def test_new_protocol_loads_with_its_counts(converted, kind):
    root, counts = converted
    expected = counts.new[kind]
    splits = PROTOCOLS[f"cuhk03-{kind}"].load(root, allow_partial=True)
    assert splits.num_train_pids == expected.train_ids
    assert len(splits.train) == expected.train_images
    assert len(splits.query) == expected.query_images
    assert len({item[1] for item in splits.query}) == expected.query_ids
    assert len(splits.gallery) == expected.gallery_images
    assert {item[2] for item in splits.query} == {0, 1}  # one query per view and test id
    folder = os.path.join(root, "cuhk03", f"images_{kind}")
    assert all(item[0].startswith(folder) and os.path.isfile(item[0]) for item in splits.train + splits.query)


@pytest.mark.parametrize("kind", ["labeled", "detected"])
def test_classic_split_has_twenty_trials_of_its_own_test_ids(converted, kind):
    root, counts = converted
    protocol = PROTOCOLS[f"cuhk03-{kind}-classic"]
    assert protocol.trials == counts.trials == 20
    first, second = (protocol.load(root, allow_partial=True, trial=trial) for trial in (0, 1))
    for splits in (first, second):
        assert splits.num_train_pids == counts.classic_train_ids
        assert len({item[1] for item in splits.query}) == counts.classic_test_ids
        assert splits.query == splits.gallery  # the classic protocol searches the test images among themselves
    assert {item[0] for item in first.query}.isdisjoint({item[0] for item in second.query})


def test_trial_outside_the_protocol_is_refused(converted):
    root, _ = converted
    with pytest.raises(UserError, match="numbered 0 to 19; got trial 20"):
        PROTOCOLS["cuhk03-labeled-classic"].load(root, allow_partial=True, trial=20)
    with pytest.raises(UserError, match="numbered 0 to 0; got trial 1"):
        PROTOCOLS["cuhk03-labeled"].load(root, allow_partial=True, trial=1)


def test_published_sizes_are_required_without_allow_partial(converted):
    root, counts = converted
    with pytest.raises(DatasetLayoutError) as error:
        PROTOCOLS["cuhk03-detected"].load(root)
    message = str(error.value)
    assert f"train identities: {counts.new['detected'].train_ids} found, 767 expected" in message
    assert f"gallery images: {counts.new['detected'].gallery_images} found, 5,332 expected" in message
    with pytest.raises(DatasetLayoutError, match=f"train identities: {counts.classic_train_ids} found, 1,367 expected"):
        PROTOCOLS["cuhk03-labeled-classic"].load(root, trial=3)


def test_too_few_classic_test_sets(tmp_path):
    make_cuhk03(str(tmp_path), trials=5)
    with pytest.raises(DatasetLayoutError, match="classic test sets: 5 found, 20 expected"):
        PROTOCOLS["cuhk03-labeled-classic"].load(str(tmp_path))
    with pytest.raises(DatasetLayoutError, match="holds 5 classic test set"):
        PROTOCOLS["cuhk03-labeled-classic"].load(str(tmp_path), allow_partial=True, trial=7)


def test_missing_new_protocol_file_is_named(tmp_path):
    make_cuhk03(str(tmp_path))
    missing = os.path.join(str(tmp_path), "cuhk03", "cuhk03_new_protocol_config_detected.mat")
    os.remove(missing)
    with pytest.raises(DatasetLayoutError) as error:
        PROTOCOLS["cuhk03-labeled"].load(str(tmp_path), allow_partial=True)
    assert f"missing file {missing}" in str(error.value)
    assert "Nothing is downloaded" in str(error.value)
    assert not os.path.exists(os.path.join(str(tmp_path), "cuhk03", "images_labeled"))  # torchreid never ran


def test_raw_file_that_is_not_matlab_v73(tmp_path):
    make_cuhk03(str(tmp_path))
    with open(os.path.join(str(tmp_path), "cuhk03", "cuhk03_release", "cuhk-03.mat"), "wb") as handle:
        handle.write(b"MATLAB 5.0 MAT-file")
    with pytest.raises(DatasetLayoutError, match=r"cuhk-03.mat is not a MATLAB v7.3 \(HDF5\) file"):
        PROTOCOLS["cuhk03-detected"].load(str(tmp_path), allow_partial=True)


def test_raw_file_without_test_sets(tmp_path):
    make_cuhk03(str(tmp_path))
    with h5py.File(os.path.join(str(tmp_path), "cuhk03", "cuhk03_release", "cuhk-03.mat"), "a") as mat:
        del mat["testsets"]
    with pytest.raises(DatasetLayoutError, match="lacks the variable\\(s\\) testsets"):
        PROTOCOLS["cuhk03-detected"].load(str(tmp_path), allow_partial=True)


def test_new_protocol_file_without_its_variables(tmp_path):
    make_cuhk03(str(tmp_path))
    savemat(os.path.join(str(tmp_path), "cuhk03", "cuhk03_new_protocol_config_labeled.mat"), {"labels": [[1]]})
    expected = r"lacks the variable\(s\) filelist, train_idx, query_idx, gallery_idx"
    with pytest.raises(DatasetLayoutError, match=expected):
        PROTOCOLS["cuhk03-labeled"].load(str(tmp_path), allow_partial=True)


def test_moved_dataset_names_the_fix(tmp_path):
    make_cuhk03(str(tmp_path / "before"))
    PROTOCOLS["cuhk03-labeled"].load(str(tmp_path / "before"), allow_partial=True)  # writes the split files
    shutil.move(str(tmp_path / "before"), str(tmp_path / "after"))
    with pytest.raises(DatasetLayoutError) as error:
        PROTOCOLS["cuhk03-labeled"].load(str(tmp_path / "after"), allow_partial=True)
    assert "named by the split files" in str(error.value)
    assert f"Delete {tmp_path / 'after' / 'cuhk03'}/splits_*.json" in str(error.value)
