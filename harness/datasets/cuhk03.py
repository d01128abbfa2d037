"""The CUHK03 protocols (Li et al., CVPR 2014), labeled or detected bounding boxes:

- ``cuhk03-labeled`` / ``cuhk03-detected``: CUHK03-NP, the new protocol of Zhong et al. (CVPR
  2017, "Re-ranking person re-identification with k-reciprocal encoding"): 767 train ids / 700
  test ids, one query per camera and test id;
- ``cuhk03-labeled-classic`` / ``cuhk03-detected-classic``: the original 1,367/100 split, 20
  trials given by the ``testsets`` of ``cuhk-03.mat`` (query and gallery are the same 100 test ids'
  images; the engine averages over the trials).

All four are read by torchreid's ``CUHK03`` class. On first use it converts ``cuhk-03.mat``
(MATLAB v7.3, i.e. HDF5) into ``images_labeled/`` and ``images_detected/`` PNGs and writes the
split files ``splits_{classic,new}_{labeled,detected}.json`` next to the data (so the folder must
be writable once); the split files hold absolute image paths, so a moved dataset is caught here and
the fix is named.
"""
import os
from functools import partial

from ..spec import ProtocolSpec
from . import torchreid_reader
from .layout import Layout, check_trial

FOLDER = "cuhk03"
RAW_MAT = os.path.join("cuhk03_release", "cuhk-03.mat")
RAW_MAT_KEYS = ("detected", "labeled", "testsets")
NEW_PROTOCOL_MAT = "cuhk03_new_protocol_config_{}.mat"
NEW_PROTOCOL_KEYS = ("filelist", "labels", "train_idx", "query_idx", "gallery_idx")
CLASSIC_TRIALS = 20

PUBLISHED_NEW = {
    "labeled": {"train identities": 767, "train images": 7368, "query identities": 700, "query images": 1400,
                "gallery images": 5328},
    "detected": {"train identities": 767, "train images": 7365, "query identities": 700, "query images": 1400,
                 "gallery images": 5332},
}
PUBLISHED_CLASSIC = {"train identities": 1367, "query identities": 100}

LAYOUT = Layout(
    title="CUHK03",
    description=(
        f"<root>/{FOLDER}/{RAW_MAT} (the MATLAB v7.3 file of cuhk03_release.zip) and "
        f"<root>/{FOLDER}/cuhk03_new_protocol_config_{{labeled,detected}}.mat (CUHK03-NP split files); "
        "torchreid writes images_{labeled,detected}/ and splits_*.json beside them on first use"
    ),
    url="https://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html (new-protocol files: "
    "https://github.com/zhunzhong07/person-re-ranking/tree/master/evaluation/data/CUHK03)",
)


def _raw_mat_problems(path):
    """Problems with ``cuhk-03.mat``, and the number of classic test sets it holds."""
    import h5py

    if not h5py.is_hdf5(path):
        return [f"{path} is not a MATLAB v7.3 (HDF5) file"], 0
    with h5py.File(path, "r") as mat:
        missing = [key for key in RAW_MAT_KEYS if key not in mat]
        if missing:
            return [f"{path} lacks the variable(s) {', '.join(missing)}"], 0
        return [], mat["testsets"].size


def _new_protocol_problems(path):
    from scipy.io import matlab

    try:
        names = {name for name, _, _ in matlab.whosmat(path)}
    except (ValueError, TypeError, OSError, matlab.MatReadError) as exc:
        return [f"{path} is not a MATLAB .mat file ({exc})"]
    missing = [key for key in NEW_PROTOCOL_KEYS if key not in names]
    return [f"{path} lacks the variable(s) {', '.join(missing)}"] if missing else []


def check_layout(root, classic, trial, allow_partial):
    """Raise unless the three .mat files are there and readable, with ``trial``'s classic test set."""
    base = os.path.join(root, FOLDER)
    new_protocol = [os.path.join(base, NEW_PROTOCOL_MAT.format(kind)) for kind in ("labeled", "detected")]
    LAYOUT.require(root, folders=[base], files=[os.path.join(base, RAW_MAT)] + new_protocol)
    problems, test_sets = _raw_mat_problems(os.path.join(base, RAW_MAT))
    for path in new_protocol:
        problems += _new_protocol_problems(path)
    if problems:
        raise LAYOUT.error(root, problems)
    if classic and trial >= test_sets:
        raise LAYOUT.error(root, [f"cuhk-03.mat holds {test_sets} classic test set(s); trial {trial} was asked for"])
    if classic:
        LAYOUT.check_sizes(root, {"classic test sets": test_sets}, {"classic test sets": CLASSIC_TRIALS}, allow_partial)


def _check_split_paths(root, splits):
    missing = [item[0] for item in splits.train + splits.query + splits.gallery if not os.path.isfile(item[0])]
    if missing:
        base = os.path.join(root, FOLDER)
        raise LAYOUT.error(root, [
            f"{len(missing)} image(s) named by the split files in {base} do not exist, e.g. {missing[0]} "
            "(the dataset was moved after torchreid wrote them, or the conversion was interrupted)"
        ], advice=f"Delete {base}/splits_*.json and {base}/images_*/ to have them rebuilt from the .mat files.")


def load(root, allow_partial=False, trial=0, *, kind, classic):
    """One CUHK03 protocol under ``root``: ``kind`` is "labeled" or "detected", ``classic`` picks the
    1,367/100 split (``trial`` 0-19) over CUHK03-NP."""
    check_trial(f"cuhk03-{kind}{'-classic' if classic else ''}", trial, CLASSIC_TRIALS if classic else 1)
    check_layout(root, classic, trial, allow_partial)
    try:
        dataset = torchreid_reader.read("cuhk03", root, cuhk03_labeled=kind == "labeled",
                                        cuhk03_classic_split=classic, split_id=trial)
    except OSError as exc:
        raise LAYOUT.error(root, [f"torchreid could not convert the .mat files in {os.path.join(root, FOLDER)}: {exc}"],
                           advice="The first use writes images and split files there: it must be writable.") from exc
    splits = torchreid_reader.to_splits(dataset.train, dataset.query, dataset.gallery)
    _check_split_paths(root, splits)
    published = PUBLISHED_CLASSIC if classic else PUBLISHED_NEW[kind]
    found = torchreid_reader.counts(splits)
    LAYOUT.check_sizes(root, {name: found[name] for name in published}, published, allow_partial)
    return splits


def _protocol(kind, classic):
    if classic:
        name, trials = f"cuhk03-{kind}-classic", CLASSIC_TRIALS
        title = f"CUHK03 {kind}, classic split (Li et al. 2014)"
        split = "1,367 train ids / 100 test ids per trial (query = gallery), metrics averaged over the trials"
    else:
        name, trials = f"cuhk03-{kind}", 1
        title = f"CUHK03-NP {kind} (new protocol, Zhong et al. 2017)"
        sizes = PUBLISHED_NEW[kind]
        split = (f"767 train ids ({sizes['train images']:,} images) / 700 test ids: "
                 f"{sizes['query images']:,} query / {sizes['gallery images']:,} gallery images")
    return ProtocolSpec(name=name, task="reid", title=title, split=split,
                        load=partial(load, kind=kind, classic=classic), layout=LAYOUT.description, url=LAYOUT.url,
                        trials=trials)


PROTOCOLS = [_protocol(kind, classic) for classic in (False, True) for kind in ("labeled", "detected")]
