"""The ``msmt17`` protocol: MSMT17 (Wei et al., CVPR 2018), V1 or V2 (faces blurred) folder layout.

Read by torchreid's ``MSMT17`` class after this module checked the folder and its list files.
Which version is used follows torchreid: ``MSMT17_V1`` when present, else ``MSMT17_V2``.

Decision: the training set is ``list_train.txt`` plus ``list_val.txt``, i.e. the dataset paper's
training set of 32,621 images of 1,041 identities. torchreid trains on ``list_train.txt`` alone
unless ``combineall`` is set, which would also merge query and gallery into training; so the
validation list is read with torchreid's own ``process_dir`` and added here.
"""
import os

from ..spec import ProtocolSpec
from . import torchreid_reader
from .layout import Layout, check_trial, quoted

FOLDER = "msmt17"
LISTS = ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt")
NUM_CAMERAS = 15

PUBLISHED = {
    "train identities": 1041,
    "train images": 32621,
    "query identities": 3060,
    "query images": 11659,
    "gallery images": 82161,
}

LAYOUT = Layout(
    title="MSMT17",
    description=(
        f"<root>/{FOLDER}/MSMT17_V1/{{train,test}}/ or <root>/{FOLDER}/MSMT17_V2/{{mask_train_v2,mask_test_v2}}/ "
        "(images in one folder per pid, e.g. 0000/0000_000_01_0303morning_0015_0.jpg, camera in the third field) "
        "and, in the same MSMT17_V* folder, list_train.txt, list_val.txt, list_query.txt, list_gallery.txt with one "
        "'path pid' per line, paths relative to the train folder (train, val) or the test folder (query, gallery)"
    ),
    url="http://www.pkuvmc.com/publications/msmt17.html",
)


def version_folders(root):
    """``(version_dir, train_dir, test_dir)`` the way torchreid picks them, or ``None``."""
    from torchreid.reid.data.datasets.image.msmt17 import TEST_DIR_KEY, TRAIN_DIR_KEY, VERSION_DICT

    for version, folders in VERSION_DICT.items():
        version_dir = os.path.join(root, FOLDER, version)
        if os.path.exists(version_dir):
            return (version_dir, os.path.join(version_dir, folders[TRAIN_DIR_KEY]),
                    os.path.join(version_dir, folders[TEST_DIR_KEY]))
    return None


def list_problems(list_path, image_dir):
    """Malformed lines of one list file and listed images that are not on disk."""
    malformed, missing = [], []
    with open(list_path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\r\n").split(" ")
            parts = fields[0].split("_")
            if (len(fields) != 2 or not fields[1].isdigit() or len(parts) < 3 or not parts[2].isdigit()
                    or not 1 <= int(parts[2]) <= NUM_CAMERAS):
                malformed.append(f"line {number}: {line.strip()}")
            elif not os.path.isfile(os.path.join(image_dir, fields[0])):
                missing.append(fields[0])
    problems = []
    if malformed:
        problems.append(f"{len(malformed)} malformed line(s) in {list_path}: {quoted(malformed)}")
    if missing:
        problems.append(f"{len(missing)} image(s) listed in {list_path} are not in {image_dir}: {quoted(missing)}")
    return problems


def check_layout(root):
    """Raise unless a V1 or V2 folder with its image folders and well-formed lists is there."""
    LAYOUT.require(root, folders=[os.path.join(root, FOLDER)])
    folders = version_folders(root)
    if folders is None:
        raise LAYOUT.error(root, [f"neither MSMT17_V1 nor MSMT17_V2 in {os.path.join(root, FOLDER)}"])
    version_dir, train_dir, test_dir = folders
    lists = [os.path.join(version_dir, name) for name in LISTS]
    LAYOUT.require(root, folders=[train_dir, test_dir], files=lists)
    problems = []
    for list_path, image_dir in zip(lists, (train_dir, train_dir, test_dir, test_dir)):
        problems += list_problems(list_path, image_dir)
    if problems:
        raise LAYOUT.error(root, problems)


def load(root, allow_partial=False, trial=0):
    """Train (+ validation)/query/gallery of MSMT17 under ``root``; see :data:`LAYOUT`."""
    check_trial("msmt17", trial, 1)
    check_layout(root)
    dataset = torchreid_reader.read("msmt17", root)
    validation = dataset.process_dir(dataset.train_dir, dataset.list_val_path)
    train = dataset.train + [(path, pid, camid, 0) for path, pid, camid in validation]
    splits = torchreid_reader.to_splits(train, dataset.query, dataset.gallery)
    LAYOUT.check_sizes(root, torchreid_reader.counts(splits), PUBLISHED, allow_partial)
    return splits


PROTOCOL = ProtocolSpec(
    name="msmt17",
    task="reid",
    title="MSMT17 (V1 or V2 layout)",
    split="1,041 train ids (32,621 images, train + val lists) / 11,659 query / 82,161 gallery images (3,060 test ids)",
    load=load,
    layout=LAYOUT.description,
    url=LAYOUT.url,
)
