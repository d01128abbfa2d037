"""The ``dukemtmcreid`` protocol: DukeMTMC-reID (Ristani et al., ECCVW 2016; Zheng et al., ICCV 2017),
its standard single-query split.

Read by torchreid's ``DukeMTMCreID`` class after this module checked the folder. The gallery
includes the 408 distractor identities, as in the official evaluation.
"""
import os
import re

from ..spec import ProtocolSpec
from . import bounding_box
from .layout import Layout

FOLDER = "dukemtmc-reid"
DATA_FOLDER = "DukeMTMC-reID"
NAME = re.compile(r"\d{4}_c([1-8])_f\d+\.jpg")

PUBLISHED = {
    "train identities": 702,
    "train images": 16522,
    "query identities": 702,
    "query images": 2228,
    "gallery images": 17661,
}

LAYOUT = Layout(
    title="DukeMTMC-reID",
    description=(
        f"<root>/{FOLDER}/{DATA_FOLDER}/{{bounding_box_train,query,bounding_box_test}}/*.jpg, files named "
        "PPPP_cC_fFFFFFFF.jpg (pid PPPP, camera C in 1-8)"
    ),
    url="https://github.com/layumi/DukeMTMC-reID_evaluation",
)


def name_is_valid(name):
    return bool(NAME.fullmatch(name))


def load(root, allow_partial=False, trial=0):
    """Train/query/gallery of DukeMTMC-reID under ``root``; see :data:`LAYOUT`."""
    return bounding_box.load("dukemtmcreid", LAYOUT, root, os.path.join(root, FOLDER, DATA_FOLDER), name_is_valid,
                             PUBLISHED, allow_partial, trial)


PROTOCOL = ProtocolSpec(
    name="dukemtmcreid",
    task="reid",
    title="DukeMTMC-reID",
    split="702 train ids (16,522 images) / 2,228 query / 17,661 gallery images (702 test ids + 408 distractor ids)",
    load=load,
    layout=LAYOUT.description,
    url=LAYOUT.url,
)
