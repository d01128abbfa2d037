"""``reid-bench check``: decode every image of a protocol's splits, before a long run finds a bad one.

A run stops at the first image that cannot be decoded (:func:`reid_bench.data.loaders.read_image`); this
lists them all at once. Re-id protocols are checked over every trial's splits; protocols held in arrays
(CIFAR-100) are checked by loading them.
"""
import sys

from ..errors import UserError
from ..spec import ReidSplits
from .loaders import decode_image


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, help="protocol name (see `reid-bench list`)")
    parser.add_argument("--root", help="folder holding the dataset (synthetic: defaults to the cache folder)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept a dataset copy whose split sizes differ from the published ones")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


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


def command(args, plugins, out=None):
    """Print one line per unreadable image and raise a :class:`UserError` if there is any."""
    out = out or sys.stdout
    protocol = plugins.datasets.get(args.dataset)
    paths = image_paths(protocol, args.root, args.allow_partial)
    if paths is None:
        print(f"{protocol.name}: images are held in arrays and loaded fine; no image files to decode", file=out)
        return 0
    bad = unreadable_images(paths, progress=args.progress)
    for path, reason in bad:
        print(f"unreadable: {path} ({reason})", file=out)
    if bad:
        raise UserError(f"{len(bad)} of {len(paths)} images of {protocol.name} cannot be decoded (listed above); "
                        "replace them (or remove them and pass --allow-partial) before a run")
    print(f"{protocol.name}: all {len(paths)} images decode", file=out)
    return 0
