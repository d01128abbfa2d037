"""The ``cifar100`` protocol: CIFAR-100 (Krizhevsky, 2009) as 100-way classification, 50,000 train /
10,000 test images; metrics top-1 and top-5 error.

Reads the official "python version" archive as unpacked: ``cifar-100-python/{train,test,meta}``,
pickles (written by Python 2, so read with ``encoding="bytes"``) whose ``b"data"`` rows are 3,072
bytes, the red, green and blue 32x32 planes one after the other, with ``b"fine_labels"``; ``meta``
holds ``b"fine_label_names"``. Only numpy arrays may be rebuilt while unpickling: a file asking
for anything else is refused.

Decision, input size: the images keep their native 32x32 (``input_size=(32, 32)``). The
Self-Attention Learning paper's CIFAR-100 extension (seed 001, Sec. 4.5, Table 4) fine-tunes
torchvision's ImageNet-pretrained ResNet-50 but does not state the input size, and nothing else
in the seed papers does; the native size is the CIFAR convention and keeps the classification
track affordable. Stride-32 backbones then end on 1x1 maps, so spatial attention has little room:
``--input-size`` overrides it for a study at larger sizes.
"""
import os
import pickle

import numpy as np

from ..spec import ClassificationSplits, ProtocolSpec
from .layout import Layout, check_trial

FOLDER = "cifar-100-python"
NUM_CLASSES = 100
SIDE = 32
PUBLISHED = {"train images": 50000, "test images": 10000}

LAYOUT = Layout(
    title="CIFAR-100",
    description=(
        f"<root>/{FOLDER}/{{train,test,meta}}: the official python-pickle archive cifar-100-python.tar.gz unpacked "
        "(train/test: b'data' (N, 3072) uint8 and b'fine_labels'; meta: b'fine_label_names')"
    ),
    url="https://www.cs.toronto.edu/~kriz/cifar.html",
)

#: what the official pickles need rebuilt: numpy arrays (numpy 1 and numpy 2 module names)
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read(root, path, keys):
    """The pickled dict in ``path``, checked to hold ``keys``."""
    try:
        with open(path, "rb") as handle:
            content = _ArrayUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise LAYOUT.error(root, [f"{path} is not a CIFAR-100 python pickle ({exc})"]) from exc
    missing = [key.decode() for key in keys if not isinstance(content, dict) or key not in content]
    if missing:
        raise LAYOUT.error(root, [f"{path} lacks the key(s) {', '.join(missing)}"])
    return content


def _images_and_labels(root, path, num_classes):
    """``(N, 32, 32, 3)`` uint8 images and their fine labels from one split file."""
    content = _read(root, path, (b"data", b"fine_labels"))
    data, labels = np.asarray(content[b"data"]), [int(label) for label in content[b"fine_labels"]]
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(data) != len(labels):
        raise LAYOUT.error(root, [
            f"{path}: b'data' is {data.dtype} {data.shape} with {len(labels)} labels; expected uint8 (N, 3072) "
            "with N labels"
        ])
    if labels and not 0 <= min(labels) <= max(labels) < num_classes:
        raise LAYOUT.error(root, [f"{path}: fine labels outside 0-{num_classes - 1}"])
    images = data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)  # colour planes -> (H, W, RGB)
    return np.ascontiguousarray(images), labels


def load(root, allow_partial=False, trial=0):
    """CIFAR-100's train and test sets under ``root``; see :data:`LAYOUT`."""
    check_trial("cifar100", trial, 1)
    base = os.path.join(root, FOLDER)
    LAYOUT.require(root, folders=[base], files=[os.path.join(base, name) for name in ("train", "test", "meta")])
    meta = _read(root, os.path.join(base, "meta"), (b"fine_label_names",))
    names = [name.decode() for name in meta[b"fine_label_names"]]
    if len(names) != NUM_CLASSES:
        raise LAYOUT.error(root, [f"{os.path.join(base, 'meta')} names {len(names)} fine classes, not {NUM_CLASSES}"])
    train_images, train_labels = _images_and_labels(root, os.path.join(base, "train"), len(names))
    test_images, test_labels = _images_and_labels(root, os.path.join(base, "test"), len(names))
    LAYOUT.check_sizes(root, {"train images": len(train_labels), "test images": len(test_labels)}, PUBLISHED,
                       allow_partial)
    return ClassificationSplits(train_images=train_images, train_labels=train_labels, test_images=test_images,
                                test_labels=test_labels, class_names=names)


PROTOCOL = ProtocolSpec(
    name="cifar100",
    task="classification",
    title="CIFAR-100 (classification; the identity classifier becomes the 100-way head)",
    split="50,000 train / 10,000 test images, 100 classes, 32x32",
    load=load,
    layout=LAYOUT.description,
    url=LAYOUT.url,
    input_size=(SIDE, SIDE),
)
