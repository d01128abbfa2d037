"""Data loaders for a protocol's splits: the method's sampler drives the training loader.

Re-id images are read by torchreid's :class:`ImageDataset` (its items are dicts with ``img``,
``pid``, ``camid``, ``impath``, ``dsetid``); classification arrays get a dataset with the same item
layout, so the engine and the samplers treat both tasks alike.
"""
import random

import numpy as np
import torch
from PIL import Image
from torchreid.reid.data.datasets.dataset import ImageDataset

from ..spec import ReidSplits


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


def _seed_worker(worker_id):
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def _loader(dataset, batch_size, workers, pin_memory, sampler=None, drop_last=False, seed=None):
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
    )


def train_dataset(splits, transform):
    """The training dataset of ``splits`` with ``transform``; its ``data`` is the sampler's source."""
    if isinstance(splits, ReidSplits):
        return ImageDataset(splits.train, splits.query, splits.gallery, transform=transform, mode="train", verbose=False)
    return ArrayImageDataset(splits.train_images, splits.train_labels, transform)


def build_train_loader(dataset, sampler, batch_size, workers, pin_memory, seed):
    """Batches of ``batch_size`` cut from ``sampler``'s index stream, last partial batch dropped."""
    return _loader(dataset, batch_size, workers, pin_memory, sampler=sampler, drop_last=True, seed=seed)


def build_test_loaders(splits, transform, batch_size, workers, pin_memory):
    """``{"query": ..., "gallery": ...}`` for re-id, ``{"test": ...}`` for classification."""
    if isinstance(splits, ReidSplits):
        loaders = {}
        for mode in ("query", "gallery"):
            dataset = ImageDataset(splits.train, splits.query, splits.gallery, transform=transform, mode=mode,
                                   verbose=False)
            loaders[mode] = _loader(dataset, batch_size, workers, pin_memory)
        return loaders
    return {"test": _loader(ArrayImageDataset(splits.test_images, splits.test_labels, transform), batch_size,
                            workers, pin_memory)}
