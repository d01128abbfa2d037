"""The ``market1501`` protocol: Market-1501 (Zheng et al., ICCV 2015), its standard single-query split.

Read by torchreid's ``Market1501`` class after this module checked the folder. Junk images (pid
-1) are dropped by torchreid; distractors (pid 0) stay in the gallery, as in the official
evaluation.
"""
import os
import re

from ..spec import ProtocolSpec
from . import bounding_box
from .layout import Layout

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


PROTOCOL = ProtocolSpec(
    name="market1501",
    task="reid",
    title="Market-1501",
    split="751 train ids (12,936 images) / 3,368 query / 15,913 gallery images (750 test ids + distractors)",
    load=load,
    layout=LAYOUT.description,
    url=LAYOUT.url,
)
