"""Tiny copies of the benchmark datasets in their real on-disk formats, for tests.

Each ``make_*(root, ...)`` writes under ``root`` exactly what the official archive unpacks to (file
naming, list files, MATLAB files, pickles), only with a few identities and tiny images, and returns
the split sizes the protocol's loader must find. Load them with ``allow_partial=True``: they are
deliberate subsets. Other tests import these builders to run plugins on real-format data.
"""
import itertools
import os
import pickle
import shutil
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGE_SIZE = (16, 8)  # height, width of the written person crops


@dataclass(frozen=True)
class Counts:
    """Split sizes of a re-id fixture, as the loader reports them (junk images excluded)."""

    train_ids: int
    train_images: int
    query_ids: int
    query_images: int
    gallery_images: int


def forbid_downloads(monkeypatch):
    """Make any download attempt by torchreid fail the test: its dataset classes download a dataset
    whose folder is missing, and the loaders must never let them get that far."""

    def refuse(url, dst):
        raise AssertionError(f"torchreid tried to download {url} to {dst}")

    monkeypatch.setattr("torchreid.reid.data.datasets.dataset.download_url", refuse)


def person_image(pid, index, size=IMAGE_SIZE):
    """A ``(H, W, 3)`` uint8 crop: the identity's colour plus per-image noise, deterministic."""
    rng = np.random.default_rng([abs(pid), index])
    colour = np.random.default_rng(abs(pid) + 7).integers(0, 256, 3)
    noise = rng.integers(-20, 21, (size[0], size[1], 3))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def _save_jpg(path, pid, index, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(person_image(pid, index, size)).save(path, quality=95)


# --- Market-1501 and DukeMTMC-reID: bounding_box_train / query / bounding_box_test --------------

def _bounding_box_dataset(data_dir, file_name, num_train_ids, num_test_ids, num_cameras, images_per_camera,
                          gallery_only_ids, size):
    """Write the three split folders; ``file_name(pid, camera, frame)`` gives the dataset's naming.
    Train ids are even, test ids odd (disjoint, not contiguous, as in the real sets);
    ``gallery_only_ids`` are extra gallery identities (distractors), given as pids."""
    frame = itertools.count(1)
    for pid in range(2, 2 * num_train_ids + 1, 2):
        for camera in range(1, num_cameras + 1):
            for _ in range(images_per_camera):
                index = next(frame)
                _save_jpg(os.path.join(data_dir, "bounding_box_train", file_name(pid, camera, index)), pid, index, size)
    for pid in range(1, 2 * num_test_ids, 2):
        for camera in range(1, num_cameras + 1):
            index = next(frame)
            _save_jpg(os.path.join(data_dir, "query", file_name(pid, camera, index)), pid, index, size)
            for _ in range(images_per_camera):
                index = next(frame)
                _save_jpg(os.path.join(data_dir, "bounding_box_test", file_name(pid, camera, index)), pid, index, size)
    for pid in gallery_only_ids:
        index = next(frame)
        _save_jpg(os.path.join(data_dir, "bounding_box_test", file_name(pid, 1, index)), pid, index, size)


def make_market1501(root, num_train_ids=3, num_test_ids=2, num_cameras=2, images_per_camera=2, num_distractors=2,
                    num_junk=2, version_folder=True, size=IMAGE_SIZE, gt_bbox_per_query=None):
    """Market-1501 under ``root/market1501/Market-1501-v15.09.15`` (or, with ``version_folder=False``,
    the older layout straight under ``root/market1501``): files ``PPPP_cCs1_FFFFFF_00.jpg``, with
    ``num_distractors`` pid-0 and ``num_junk`` pid -1 images in the gallery (junk is not counted).
    With ``gt_bbox_per_query`` (multi-query) it also writes ``gt_bbox/``: a copy of every query and that
    many more boxes of its id from its camera, plus one box of each train id (which multi-query ignores)."""
    data_dir = os.path.join(root, "market1501", "Market-1501-v15.09.15" if version_folder else "")

    def file_name(pid, camera, frame):
        return f"{pid:04d}_c{camera}s1_{frame:06d}_00.jpg" if pid >= 0 else f"-1_c{camera}s1_{frame:06d}_00.jpg"

    _bounding_box_dataset(data_dir, file_name, num_train_ids, num_test_ids, num_cameras, images_per_camera,
                          [0] * num_distractors + [-1] * num_junk, size)
    if gt_bbox_per_query is not None:
        gt_bbox = os.path.join(data_dir, "gt_bbox")
        os.makedirs(gt_bbox)
        frame = 900000
        for name in sorted(os.listdir(os.path.join(data_dir, "query"))):
            shutil.copy(os.path.join(data_dir, "query", name), gt_bbox)
            pid, camera = int(name[:4]), int(name[6])
            for _ in range(gt_bbox_per_query):
                frame += 1
                _save_jpg(os.path.join(gt_bbox, file_name(pid, camera, frame)), pid, frame, size)
        for pid in range(2, 2 * num_train_ids + 1, 2):
            frame += 1
            _save_jpg(os.path.join(gt_bbox, file_name(pid, 1, frame)), pid, frame, size)
    return Counts(train_ids=num_train_ids, train_images=num_train_ids * num_cameras * images_per_camera,
                  query_ids=num_test_ids, query_images=num_test_ids * num_cameras,
                  gallery_images=num_test_ids * num_cameras * images_per_camera + num_distractors)


def make_dukemtmcreid(root, num_train_ids=3, num_test_ids=2, num_cameras=2, images_per_camera=2, num_distractor_ids=2,
                      size=IMAGE_SIZE):
    """DukeMTMC-reID under ``root/dukemtmc-reid/DukeMTMC-reID``: files ``PPPP_cC_fFFFFFFF.jpg``, with
    ``num_distractor_ids`` identities seen in the gallery only."""
    data_dir = os.path.join(root, "dukemtmc-reid", "DukeMTMC-reID")

    def file_name(pid, camera, frame):
        return f"{pid:04d}_c{camera}_f{frame:07d}.jpg"

    distractors = [5000 + index for index in range(num_distractor_ids)]
    _bounding_box_dataset(data_dir, file_name, num_train_ids, num_test_ids, num_cameras, images_per_camera,
                          distractors, size)
    return Counts(train_ids=num_train_ids, train_images=num_train_ids * num_cameras * images_per_camera,
                  query_ids=num_test_ids, query_images=num_test_ids * num_cameras,
                  gallery_images=num_test_ids * num_cameras * images_per_camera + num_distractor_ids)


# --- MSMT17: V1 (train/, test/) and V2 (mask_train_v2/, mask_test_v2/) with list files ------------

MSMT17_FOLDERS = {1: ("MSMT17_V1", "train", "test"), 2: ("MSMT17_V2", "mask_train_v2", "mask_test_v2")}


def make_msmt17(root, version=1, num_train_ids=3, num_test_ids=2, num_cameras=2, images_per_camera=2,
                size=IMAGE_SIZE):
    """MSMT17 under ``root/msmt17/MSMT17_V{version}``: images ``PPPP/PPPP_SSS_CC_0303morning_FFFF_0.jpg``
    in one folder per pid, listed in ``list_{train,val,query,gallery}.txt`` as ``path pid``. The last
    image of every train id goes to the validation list; test pids restart at 0, as in the real
    lists. The returned train counts include the validation images (the protocol trains on both)."""
    version_name, train_folder, test_folder = MSMT17_FOLDERS[version]
    version_dir = os.path.join(root, "msmt17", version_name)
    frame = itertools.count(1)
    lines = {name: [] for name in ("train", "val", "query", "gallery")}

    def add(list_name, folder, pid, camera, sequence):
        index = next(frame)
        relative = f"{pid:04d}/{pid:04d}_{sequence:03d}_{camera:02d}_0303morning_{index:04d}_0.jpg"
        _save_jpg(os.path.join(version_dir, folder, relative), pid, index + 1000 * (folder == test_folder), size)
        lines[list_name].append(f"{relative} {pid}\n")

    for pid in range(num_train_ids):
        images = [(camera, sequence) for camera in range(1, num_cameras + 1) for sequence in range(images_per_camera)]
        for number, (camera, sequence) in enumerate(images):
            add("val" if number == len(images) - 1 else "train", train_folder, pid, camera, sequence)
    for pid in range(num_test_ids):
        for camera in range(1, num_cameras + 1):
            add("query", test_folder, pid, camera, 0)
            for sequence in range(1, images_per_camera + 1):
                add("gallery", test_folder, pid, camera, sequence)
    for name, content in lines.items():
        with open(os.path.join(version_dir, f"list_{name}.txt"), "w") as handle:
            handle.writelines(content)
    return Counts(train_ids=num_train_ids, train_images=num_train_ids * num_cameras * images_per_camera,
                  query_ids=num_test_ids, query_images=num_test_ids * num_cameras,
                  gallery_images=num_test_ids * num_cameras * images_per_camera)


# --- CUHK03: cuhk03_release/cuhk-03.mat (MATLAB v7.3) + CUHK03-NP new-protocol .mat files --------

@dataclass(frozen=True)
class Cuhk03Counts:
    """What the CUHK03 fixture holds: CUHK03-NP counts per box type, and the classic split's."""

    new: dict  # "labeled" / "detected" -> Counts
    classic_train_ids: int
    classic_test_ids: int
    trials: int


def _missing_slots(kind, person):
    """The image slots (0-9) left empty for a person, different for the two box types as in the real
    file (some persons lack images in some views)."""
    if kind == "labeled":
        return {4} if person % 2 else set()
    return {9} if person % 3 == 2 else set()


def _matlab_header(path):
    """Write the 128-byte MATLAB 7.3 text header into the file's 512-byte HDF5 user block."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2015 HDF5 schema 1.00 ."
    with open(path, "r+b") as handle:
        handle.write(text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def _write_cuhk03_mat(path, persons_per_pair, test_sets, size):
    """``cuhk-03.mat`` as MATLAB v7.3 writes it: cell arrays are HDF5 datasets of object references
    into ``#refs#``, every array stored transposed (a MATLAB ``M x 10`` cell is a ``(10, M)``
    dataset, an ``H x W x 3`` image a ``(3, W, H)`` one), empty cells as ``uint64 [0, 0]`` with
    ``MATLAB_empty``."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as mat:
        refs = mat.create_group("#refs#")
        names = (f"r{index}" for index in itertools.count())

        def store(matlab_array, matlab_class, parent=refs, name=None):
            dtype = h5py.ref_dtype if matlab_class == "cell" else None
            dataset = parent.create_dataset(name or next(names), data=np.asarray(matlab_array).T, dtype=dtype)
            dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
            return dataset.ref

        def empty():
            dataset = refs.create_dataset(next(names), data=np.zeros(2, np.uint64))
            dataset.attrs["MATLAB_class"] = np.bytes_("double")
            dataset.attrs["MATLAB_empty"] = np.uint8(1)
            return dataset.ref

        for kind in ("detected", "labeled"):
            pairs, person = [], 0
            for count in persons_per_pair:
                camp = np.empty((count, 10), dtype=object)
                for pid in range(count):
                    for slot in range(10):
                        camp[pid, slot] = (empty() if slot in _missing_slots(kind, person)
                                           else store(person_image(person, slot, size), "uint8"))
                    person += 1
                pairs.append(store(camp, "cell"))
            store(np.array(pairs, dtype=object).reshape(-1, 1), "cell", parent=mat, name=kind)
        sets = [store(np.array(test_set, dtype=np.float64), "double") for test_set in test_sets]
        store(np.array(sets, dtype=object).reshape(-1, 1), "cell", parent=mat, name="testsets")
    _matlab_header(path)


def _write_new_protocol(path, kind, persons_per_pair, num_test_ids):
    """``cuhk03_new_protocol_config_<kind>.mat`` as Zhong et al. saved it (MATLAB v5): ``filelist``
    (cell of ``P_III_V_NN.png`` names), ``labels`` (person), ``camId`` (view), 1-based
    ``train_idx``/``query_idx``/``gallery_idx`` column vectors, all integer arrays (torchreid indexes
    with the ``*_idx`` arrays directly, as with the real files). The last ``num_test_ids`` persons
    are the test ids: the first image of each view is a query, the rest the gallery."""
    from scipy.io import savemat

    filelist, labels, cameras = [], [], []
    person = 0
    for pair, count in enumerate(persons_per_pair, 1):
        for pid in range(1, count + 1):
            for slot in sorted(set(range(10)) - _missing_slots(kind, person)):
                view = 1 if slot < 5 else 2
                filelist.append(f"{pair}_{pid:03d}_{view}_{slot + 1:02d}.png")
                labels.append(person + 1)
                cameras.append(view)
            person += 1
    test_labels = set(range(person - num_test_ids + 1, person + 1))
    train_idx, query_idx, gallery_idx, seen = [], [], [], set()
    for index, (label, view) in enumerate(zip(labels, cameras), 1):
        if label not in test_labels:
            train_idx.append(index)
        elif (label, view) in seen:
            gallery_idx.append(index)
        else:
            seen.add((label, view))
            query_idx.append(index)

    def column(values):
        return np.array(values, dtype=np.int32).reshape(-1, 1)

    cells = np.empty((len(filelist), 1), dtype=object)
    cells[:, 0] = filelist
    savemat(path, {"labels": column(labels), "camId": column(cameras), "train_idx": column(train_idx),
                   "query_idx": column(query_idx), "gallery_idx": column(gallery_idx), "filelist": cells})
    train_labels = {labels[index - 1] for index in train_idx}
    return Counts(train_ids=len(train_labels), train_images=len(train_idx), query_ids=num_test_ids,
                  query_images=len(query_idx), gallery_images=len(gallery_idx))


def make_cuhk03(root, persons_per_pair=(4, 3), num_test_ids=3, trials=20, classic_test_ids=2, size=IMAGE_SIZE):
    """CUHK03 under ``root/cuhk03``: ``cuhk03_release/cuhk-03.mat`` with ``persons_per_pair`` persons
    in each camera pair (the real file: 843, 440, 77, 58, 49), ``trials`` classic test sets of
    ``classic_test_ids`` (pair, person) rows each, and both CUHK03-NP config files. torchreid
    converts them on first load, as it would the real files."""
    base = os.path.join(root, "cuhk03")
    os.makedirs(os.path.join(base, "cuhk03_release"))
    everyone = [(pair, pid) for pair, count in enumerate(persons_per_pair, 1) for pid in range(1, count + 1)]
    test_sets = [[everyone[(trial * classic_test_ids + k) % len(everyone)] for k in range(classic_test_ids)]
                 for trial in range(trials)]
    _write_cuhk03_mat(os.path.join(base, "cuhk03_release", "cuhk-03.mat"), persons_per_pair, test_sets, size)
    new = {kind: _write_new_protocol(os.path.join(base, f"cuhk03_new_protocol_config_{kind}.mat"), kind,
                                     persons_per_pair, num_test_ids) for kind in ("labeled", "detected")}
    return Cuhk03Counts(new=new, classic_train_ids=len(everyone) - classic_test_ids,
                        classic_test_ids=classic_test_ids, trials=trials)


# --- CIFAR-100: cifar-100-python/{train,test,meta} pickles -------------------------------------

CIFAR100_CLASSES = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can "
    "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin "
    "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster "
    "man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck "
    "pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk "
    "skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger "
    "tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split()


class _Python2Pickler(pickle._Pickler):
    """Pickles the way the official files were written (Python 2 cPickle, protocol 2): byte strings
    as Python 2 ``str`` opcodes and numpy arrays through ``numpy.core.multiarray._reconstruct``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def _pickle(path, content):
    with open(path, "wb") as handle:
        _Python2Pickler(handle, protocol=2).dump(content)


def cifar_pixel(label, row, column):
    """The fixture's pixel value at ``(row, column)`` of an image of class ``label``, as ``(R, G, B)``:
    distinct per plane, so a test can tell whether the planes were unpacked in order."""
    return (2 * label, 8 * row, 8 * column)


def _cifar_split(num_images, batch_label):
    labels = [index % 100 for index in range(num_images)]
    rows, columns = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    data = np.stack([
        np.concatenate([plane.ravel() for plane in np.broadcast_arrays(*cifar_pixel(label, rows, columns))])
        for label in labels
    ]).astype(np.uint8)
    filenames = [f"{CIFAR100_CLASSES[label]}_s_{index:06d}.png".encode() for index, label in enumerate(labels)]
    return {b"filenames": filenames, b"batch_label": batch_label, b"fine_labels": labels, b"data": data}


def make_cifar100(root, n_train=200, n_test=100):
    """CIFAR-100's python archive unpacked under ``root/cifar-100-python``: ``train`` and ``test``
    dicts with ``b"data"`` (N, 3072) uint8 rows (R, G, B planes of 32x32), ``b"fine_labels"``
    (``index % 100``), ``b"filenames"`` and ``b"batch_label"``; ``meta`` with the 100
    ``b"fine_label_names"``. (The coarse labels are left out: the loader does not read them.)
    Pixel values follow :func:`cifar_pixel`. Returns ``(n_train, n_test)``."""
    base = os.path.join(root, "cifar-100-python")
    os.makedirs(base)
    _pickle(os.path.join(base, "train"), _cifar_split(n_train, b"training batch 1 of 1"))
    _pickle(os.path.join(base, "test"), _cifar_split(n_test, b"testing batch 1 of 1"))
    _pickle(os.path.join(base, "meta"), {b"fine_label_names": [name.encode() for name in CIFAR100_CLASSES]})
    return n_train, n_test


#: a run of seconds on a tiny Market-1501 copy (with ``--plugin P --root R --output O``)
TINY_RUN = ["--dataset", "market1501", "--allow-partial", "--epochs", "1", "--max-iters", "2", "--batch-size", "16",
            "--input-size", "32", "16", "--no-pretrained", "--workers", "0", "--no-progress", "--no-rerank"]
