"""The ``market1501`` protocols: Market-1501 (Zheng et al., ICCV 2015), its standard single-query split,
and ``market1501-multi-query``, the paper's multiple-query setting (Sec. 5).

Read by torchreid's ``Market1501`` class after this module checked the folder. Junk images (pid
-1) are dropped by torchreid; distractors (pid 0) stay in the gallery, as in the official
evaluation.

Multi-query uses the same train, query and gallery lists; each query's feature becomes the mean of
the features of every hand-drawn box of its identity from its camera, read from the archive's
``gt_bbox`` folder (25,259 images, named like the others), which torchreid's reader does not read.
The query image is one of them. Ranking, junk and same-camera exclusion are the single-query ones.
"""
import os
import re

from ..spec import ProtocolSpec
from . import bounding_box, torchreid_reader
from .layout import Layout, check_images

FOLDER = "market1501"
VERSION_FOLDER = "Market-1501-v15.09.15"
NAME = re.compile(r"(-1|\d{4})_c(\d)s\d+_\d+_\d+\.jpg")

PUBLISHED = {
    "train identities": 751,
    "train images": 12936,
    "query identities": 750,
    "query images": 3368,
    "gallery images": 15913,
}

LAYOUT = Layout(
    title="Market-1501",
    description=(
        f"<root>/{FOLDER}/{VERSION_FOLDER}/{{bounding_box_train,query,bounding_box_test}}/*.jpg, files named "
        "PPPP_cCsS_FFFFFF_BB.jpg (pid PPPP, -1 for junk; camera C in 1-6); the three folders may also sit "
        f"directly in <root>/{FOLDER}/"
    ),
    url="http://www.liangzheng.org/Project/project_reid.html",
)


MULTI_QUERY_FOLDER = "gt_bbox"
PUBLISHED_MULTI_QUERY = {"gt_bbox images": 25259}

MULTI_QUERY_LAYOUT = Layout(
    title="Market-1501 (multi-query)",
    description=(
        f"{LAYOUT.description}; multi-query also needs the archive's {MULTI_QUERY_FOLDER}/ folder beside them "
        f"(<root>/{FOLDER}/{VERSION_FOLDER}/{MULTI_QUERY_FOLDER}/*.jpg: the 25,259 hand-drawn boxes, same file "
        "naming), which torchreid's reader does not read"
    ),
    url=LAYOUT.url,
)


def name_is_valid(name):
    """Market-1501's file naming, with the pid and camera ranges torchreid's reader accepts."""
    match = NAME.fullmatch(name)
    return bool(match) and -1 <= int(match.group(1)) <= 1501 and 1 <= int(match.group(2)) <= 6


def data_dir(root):
    """The folder holding the three split folders (the version folder when there is one, as
    torchreid decides)."""
    versioned = os.path.join(root, FOLDER, VERSION_FOLDER)
    return versioned if os.path.isdir(versioned) else os.path.join(root, FOLDER)


def load(root, allow_partial=False, trial=0):
    """Train/query/gallery of Market-1501 under ``root``; see :data:`LAYOUT`."""
    return bounding_box.load("market1501", LAYOUT, root, data_dir(root), name_is_valid, PUBLISHED, allow_partial,
                             trial)


def load_multi_query(root, allow_partial=False, trial=0):
    """:func:`load`'s splits plus the query pool of the multiple-query setting: every ``gt_bbox`` image
    whose pid and camera are a query's, and the queries themselves; see :data:`MULTI_QUERY_LAYOUT`."""
    folder = os.path.join(data_dir(root), MULTI_QUERY_FOLDER)
    MULTI_QUERY_LAYOUT.require(root, folders=[folder])
    problems = check_images(folder, name_is_valid)
    if problems:
        raise MULTI_QUERY_LAYOUT.error(root, problems)
    splits = load(root, allow_partial=True, trial=trial)
    names = sorted(name for name in os.listdir(folder) if name.endswith(".jpg"))
    MULTI_QUERY_LAYOUT.check_sizes(root, {**torchreid_reader.counts(splits), "gt_bbox images": len(names)},
                                   {**PUBLISHED, **PUBLISHED_MULTI_QUERY}, allow_partial)
    dataset_id = {(pid, camid): dsetid for _, pid, camid, dsetid in splits.query}
    query_names = {os.path.basename(path) for path, *_ in splits.query}
    pool = list(splits.query)
    for name in names:
        match = NAME.fullmatch(name)
        key = (int(match.group(1)), int(match.group(2)) - 1)  # torchreid's 0-based camera ids
        if key in dataset_id and name not in query_names:
            pool.append((os.path.join(folder, name), *key, dataset_id[key]))
    splits.query_pool = sorted(pool)
    return splits


PROTOCOL = ProtocolSpec(
    name="market1501",
    task="reid",
    title="Market-1501",
    split="751 train ids (12,936 images) / 3,368 query / 15,913 gallery images (750 test ids + distractors)",
    load=load,
    layout=LAYOUT.description,
    url=LAYOUT.url,
)

MULTI_QUERY_PROTOCOL = ProtocolSpec(
    name="market1501-multi-query",
    task="reid",
    title="Market-1501, multiple queries",
    split=f"{PROTOCOL.split}; each query's feature is the mean over its id's boxes from its camera among "
          "gt_bbox's 25,259",
    load=load_multi_query,
    layout=MULTI_QUERY_LAYOUT.description,
    url=LAYOUT.url,
    trains_as="market1501",
)
