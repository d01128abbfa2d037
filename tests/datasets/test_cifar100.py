"""CIFAR-100: a tiny copy of the official python-pickle archive loads as (N, 32, 32, 3) uint8 images
with fine labels and class names; broken or foreign files get a clear error."""
import os
import pickle

import numpy as np
import pytest

from reid_bench.datasets import cifar100
from reid_bench.errors import DatasetLayoutError

from .fixtures import CIFAR100_CLASSES, cifar_pixel, make_cifar100


def base(root):
    return os.path.join(str(root), "cifar-100-python")


def test_fixture_loads_as_images_and_labels(tmp_path):
    n_train, n_test = make_cifar100(str(tmp_path), n_train=150, n_test=40)
    splits = cifar100.load(str(tmp_path), allow_partial=True)
    assert splits.train_images.shape == (n_train, 32, 32, 3) and splits.train_images.dtype == np.uint8
    assert splits.test_images.shape == (n_test, 32, 32, 3)
    assert splits.train_labels == [index % 100 for index in range(n_train)]
    assert splits.test_labels == [index % 100 for index in range(n_test)]
    assert splits.class_names == CIFAR100_CLASSES and splits.num_classes == 100


def test_colour_planes_become_rgb_pixels(tmp_path):
    make_cifar100(str(tmp_path), n_train=120, n_test=10)
    images = cifar100.load(str(tmp_path), allow_partial=True).train_images
    for index, row, column in [(0, 0, 0), (7, 3, 30), (105, 31, 2), (119, 16, 17)]:
        assert tuple(images[index, row, column]) == cifar_pixel(index % 100, row, column)


def test_published_sizes_are_required_without_allow_partial(tmp_path):
    make_cifar100(str(tmp_path), n_train=200, n_test=100)
    with pytest.raises(DatasetLayoutError) as error:
        cifar100.load(str(tmp_path))
    assert "train images: 200 found, 50,000 expected (49,800 missing)" in str(error.value)
    assert "test images: 100 found, 10,000 expected (9,900 missing)" in str(error.value)


def test_missing_file_is_named(tmp_path):
    make_cifar100(str(tmp_path))
    os.remove(os.path.join(base(tmp_path), "meta"))
    with pytest.raises(DatasetLayoutError) as error:
        cifar100.load(str(tmp_path), allow_partial=True)
    assert f"missing file {os.path.join(base(tmp_path), 'meta')}" in str(error.value)
    assert "cifar-100-python/{train,test,meta}" in str(error.value)
    assert "Nothing is downloaded" in str(error.value)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DatasetLayoutError, match=f"missing folder {base(tmp_path)}"):
        cifar100.load(str(tmp_path))


def test_truncated_pickle(tmp_path):
    make_cifar100(str(tmp_path))
    path = os.path.join(base(tmp_path), "test")
    with open(path, "rb") as handle:
        content = handle.read()
    with open(path, "wb") as handle:
        handle.write(content[: len(content) // 2])
    with pytest.raises(DatasetLayoutError, match="test is not a CIFAR-100 python pickle"):
        cifar100.load(str(tmp_path), allow_partial=True)


def test_pickle_that_would_run_code_is_refused(tmp_path):
    class Trap:
        def __reduce__(self):
            return os.remove, (str(tmp_path / "sentinel"),)

    make_cifar100(str(tmp_path))
    (tmp_path / "sentinel").touch()
    with open(os.path.join(base(tmp_path), "train"), "wb") as handle:
        pickle.dump({b"data": Trap(), b"fine_labels": [0]}, handle, protocol=4)
    with pytest.raises(DatasetLayoutError, match=r"refusing to load \w+\.remove"):
        cifar100.load(str(tmp_path), allow_partial=True)
    assert (tmp_path / "sentinel").exists()


def test_missing_key_is_named(tmp_path):
    make_cifar100(str(tmp_path))
    with open(os.path.join(base(tmp_path), "train"), "wb") as handle:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"coarse_labels": [0]}, handle, protocol=4)
    with pytest.raises(DatasetLayoutError, match="train lacks the key\\(s\\) fine_labels"):
        cifar100.load(str(tmp_path), allow_partial=True)


def test_wrong_image_rows(tmp_path):
    make_cifar100(str(tmp_path))
    with open(os.path.join(base(tmp_path), "train"), "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 1024), np.uint8), b"fine_labels": [0, 1]}, handle, protocol=4)
    expected = r"b'data' is uint8 \(2, 1024\) with 2 labels; expected uint8 \(N, 3072\)"
    with pytest.raises(DatasetLayoutError, match=expected):
        cifar100.load(str(tmp_path), allow_partial=True)
