"""Decode every image of a protocol's splits, before a long run finds a bad one.

A run stops at the first image that cannot be decoded (:func:`reid_bench.data.loaders.read_image`); this
lists them all at once. Re-id protocols are checked over every trial's splits; protocols held in arrays
(CIFAR-100) are checked by loading them.
"""
from ..spec import ReidSplits
from .loaders import decode_image


def image_paths(protocol, root, allow_partial=False):
    """Every image file of ``protocol``'s splits (all trials), sorted; ``None`` for array protocols."""
    paths = set()
    for trial in range(protocol.trials):
        splits = protocol.load(root, allow_partial=allow_partial, trial=trial)
        if not isinstance(splits, ReidSplits):
            return None
        for items in (splits.train, splits.query, splits.gallery):
            paths.update(item[0] for item in items)
    return sorted(paths)


def unreadable_images(paths, progress=True):
    """``[(path, reason), ...]`` for the images in ``paths`` that cannot be decoded."""
    from tqdm import tqdm

    bad = []
    for path in tqdm(paths, desc="decoding images", unit="img", disable=not progress, dynamic_ncols=True):
        image, reason = decode_image(path)
        if image is None:
            bad.append((path, reason))
    return bad
