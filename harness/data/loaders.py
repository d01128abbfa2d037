"""Data loaders for a protocol's splits: the method's sampler drives the training loader.

Re-id images are served by :class:`ReidImageDataset`, torchreid's :class:`ImageDataset` (its items are
dicts with ``img``, ``pid``, ``camid``, ``impath``, ``dsetid``) with one change: an image that cannot be
decoded stops the run with :class:`~reid_bench.errors.UnreadableImageError` naming the file, where
torchreid's ``read_image`` retries forever. Classification arrays get a dataset with the same item
layout, so the engine and the samplers treat both tasks alike.

The training loader's randomness (the seeds of its worker processes, hence of their augmentations) is
set per epoch from ``(seed, epoch)`` by :func:`seed_epoch`, so an epoch draws the same augmentations
whether the run went straight through or was resumed, for any number of workers.

Loader workers default to :func:`default_workers` (sized to the CPUs this process may use), and the
training loader's workers persist across epochs (no process start-up per epoch): its items are tagged
with their epoch (:class:`EpochTaggedSampler`), and a worker reseeds itself and sets its transform's
epoch on the first item of each epoch (:class:`EpochSeededDataset`) exactly as a fresh worker of that
epoch would be seeded, so the augmentations are those of a loader rebuilt every epoch.
"""
import os
import random

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchreid.reid.data.datasets.dataset import ImageDataset

from ..errors import UnreadableImageError
from ..spec import ReidSplits


def _reason(exc, path):
    """A one-line reason, without the path that the error message names anyway."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image format PIL reads: empty, damaged or another kind of file"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    lines = str(exc).replace(repr(path), "the file").replace(str(path), "the file").strip().splitlines()
    text = lines[0].strip() if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_image(path):
    """``(image, None)``: the image at ``path`` as RGB, fully decoded; or ``(None, reason)`` if it is
    missing, unreadable, empty, truncated or not an image."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB"), None
    except Exception as exc:  # OSError, PIL.UnidentifiedImageError, decoder errors, ...
        if isinstance(exc, OSError) and not os.path.exists(path):
            return None, "no such file, or a broken or looping link"
        return None, _reason(exc, path)


def read_image(path):
    """The image at ``path`` as RGB; :class:`UnreadableImageError` naming the file if it cannot be
    decoded (never retried, unlike torchreid's ``read_image``)."""
    image, reason = decode_image(path)
    if image is None:
        raise UnreadableImageError(
            f"cannot read image {path} ({reason}); replace it, or remove it and pass --allow-partial "
            "(`reid-bench check` lists every unreadable image of a dataset)"
        )
    return image


class ReidImageDataset(ImageDataset):
    """torchreid's :class:`ImageDataset`, reading images with :func:`read_image`."""

    def __getitem__(self, index):
        img_path, pid, camid, dsetid = self.data[index]
        img = read_image(img_path)
        if self.transform is not None:
            img = self._transform_image(self.transform, self.k_tfm, img)
        return {"img": img, "pid": pid, "camid": camid, "impath": img_path, "dsetid": dsetid}


class ArrayImageDataset(torch.utils.data.Dataset):
    """Classification images held as a ``uint8`` array ``(N, H, W, 3)`` with integer labels, served in
    torchreid's item layout (the label is the ``pid``; camera and dataset ids are 0)."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, list(labels), transform
        self.data = [(index, label, 0, 0) for index, label in enumerate(self.labels)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        img = Image.fromarray(np.asarray(self.images[index]))
        if self.transform is not None:
            img = self.transform(img)
        return {"img": img, "pid": self.labels[index], "camid": 0, "impath": "", "dsetid": 0}


#: most loader workers chosen by default; more rarely pays for the memory of each one's dataset copy
MAX_DEFAULT_WORKERS = 16


def default_workers():
    """Loader processes when ``--workers`` is not given: one per CPU this process may use, less one
    for the main process, at most :data:`MAX_DEFAULT_WORKERS`; none on one or two CPUs, where images are
    read in the main process. There a loader process only takes a core from the training step's threads:
    on 2 cores at 64x32, batch 32, self_attention trains at 59 img/s without one and 43 with 2 (ccan 95
    and 81, the baseline 137 and 128; ``benchmarks/train_throughput.py``)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cpus <= 2 else min(cpus - 1, MAX_DEFAULT_WORKERS)


def _seed_worker(worker_id):
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def _worker_base_seed(seed, epoch):
    """The base seed a fresh loader iterator of epoch ``epoch`` draws from its generator (seeded by
    :func:`seed_epoch`); worker ``i`` is seeded with ``base + i``."""
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    return torch.empty((), dtype=torch.int64).random_(generator=generator).item()


class EpochTaggedSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` for every index of ``sampler``; :func:`seed_epoch` sets ``epoch``."""

    def __init__(self, sampler):
        self.sampler, self.epoch = sampler, 0

    def __iter__(self):
        return ((self.epoch, index) for index in self.sampler)

    def __len__(self):
        return len(self.sampler)


class EpochSeededDataset(torch.utils.data.Dataset):
    """``dataset`` read with ``(epoch, index)`` keys. In a loader worker, the first key of a new epoch
    seeds ``torch``, ``random`` and ``numpy`` as a fresh worker of that epoch is seeded, and sets the
    transform's epoch (a persistent worker keeps the copy of the transform it started with)."""

    def __init__(self, dataset, seed):
        self.dataset, self.seed, self.epoch = dataset, seed, None

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        worker = torch.utils.data.get_worker_info()
        if worker is not None and epoch != self.epoch:
            self.epoch = epoch
            torch.manual_seed(_worker_base_seed(self.seed, epoch) + worker.id)
            _seed_worker(worker.id)
            if hasattr(self.dataset.transform, "set_epoch"):
                self.dataset.transform.set_epoch(epoch)
        return self.dataset[index]


def epoch_seed(seed, epoch):
    """The seed of epoch ``epoch``'s training loader in a run with ``seed`` (a 64-bit mix of both)."""
    return int(np.random.SeedSequence([seed % 2**64, epoch]).generate_state(1, dtype=np.uint64)[0])


def seed_epoch(loader, seed, epoch):
    """Seed ``loader``'s generator for epoch ``epoch`` before its iterator is created: the iterator draws
    its workers' base seed from it, so worker ``i`` of that epoch gets the same seed on every run; a
    training loader's persistent workers reseed themselves alike from the epoch its items carry."""
    loader.generator.manual_seed(epoch_seed(seed, epoch))
    if isinstance(loader.sampler, EpochTaggedSampler):
        loader.sampler.epoch = epoch


def _loader(dataset, batch_size, workers, pin_memory, sampler=None, drop_last=False, seed=None,
            persistent=False):
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        worker_init_fn=_seed_worker,
        generator=generator,
        persistent_workers=persistent and workers > 0,
    )


def train_dataset(splits, transform):
    """The training dataset of ``splits`` with ``transform``; its ``data`` is the sampler's source."""
    if isinstance(splits, ReidSplits):
        return ReidImageDataset(splits.train, splits.query, splits.gallery, transform=transform, mode="train",
                                verbose=False)
    return ArrayImageDataset(splits.train_images, splits.train_labels, transform)


def build_train_loader(dataset, sampler, batch_size, workers, pin_memory, seed):
    """Batches of ``batch_size`` cut from ``sampler``'s index stream, last partial batch dropped; call
    :func:`seed_epoch` before each epoch. With workers, they persist across epochs (see the module's
    docstring)."""
    if workers == 0:
        return _loader(dataset, batch_size, workers, pin_memory, sampler=sampler, drop_last=True, seed=seed)
    return _loader(EpochSeededDataset(dataset, seed), batch_size, workers, pin_memory,
                   sampler=EpochTaggedSampler(sampler), drop_last=True, seed=seed, persistent=True)


def build_test_loaders(splits, transform, batch_size, workers, pin_memory):
    """``{"query": ..., "gallery": ...}`` for re-id (plus ``"query_pool"`` on a multi-query protocol: the
    images pooled into the query features), ``{"test": ...}`` for classification."""
    if isinstance(splits, ReidSplits):
        loaders = {}
        for mode in ("query", "gallery"):
            dataset = ReidImageDataset(splits.train, splits.query, splits.gallery, transform=transform, mode=mode,
                                       verbose=False)
            loaders[mode] = _loader(dataset, batch_size, workers, pin_memory)
        if splits.query_pool is not None:
            dataset = ReidImageDataset(splits.train, splits.query_pool, splits.gallery, transform=transform,
                                       mode="query", verbose=False)
            loaders["query_pool"] = _loader(dataset, batch_size, workers, pin_memory)
        return loaders
    return {"test": _loader(ArrayImageDataset(splits.test_images, splits.test_labels, transform), batch_size,
                            workers, pin_memory)}
