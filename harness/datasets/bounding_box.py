"""Checks for datasets in Market-1501's folder layout (``bounding_box_train``, ``query``,
``bounding_box_test``), shared by Market-1501 and DukeMTMC-reID."""
import os
import re

from . import torchreid_reader
from .layout import check_images, check_trial

SPLIT_FOLDERS = ("bounding_box_train", "query", "bounding_box_test")

#: what torchreid's Market1501 / DukeMTMCreID readers search the *whole* image path for
TORCHREID_PATTERN = re.compile(r"([-\d]+)_c(\d)")


def check_folders(layout, root, data_dir, name_is_valid):
    """Raise unless ``data_dir`` has the three split folders, each with correctly named images.

    torchreid reads a file's pid and camera by searching its whole path for ``<digits>_c<digit>``,
    so a folder path that already contains such a piece would mislabel every image: refused too.
    """
    layout.require(root, folders=[data_dir] + [os.path.join(data_dir, name) for name in SPLIT_FOLDERS])
    folder = os.path.abspath(data_dir)
    if TORCHREID_PATTERN.search(folder):
        raise layout.error(root, [
            f"the path {folder} contains {TORCHREID_PATTERN.search(folder).group(0)!r}, which torchreid's reader "
            "would take for an image's pid and camera; move the dataset to a path without it"
        ])
    problems = []
    for name in SPLIT_FOLDERS:
        problems += check_images(os.path.join(data_dir, name), name_is_valid)
    if problems:
        raise layout.error(root, problems)


def load(name, layout, root, data_dir, name_is_valid, published, allow_partial, trial):
    """Check the folders, read them with torchreid's reader registered as ``name``, and check the
    published split sizes: the whole load of a dataset in this layout."""
    check_trial(name, trial, 1)
    check_folders(layout, root, data_dir, name_is_valid)
    dataset = torchreid_reader.read(name, root)
    splits = torchreid_reader.to_splits(dataset.train, dataset.query, dataset.gallery)
    layout.check_sizes(root, torchreid_reader.counts(splits), published, allow_partial)
    return splits
