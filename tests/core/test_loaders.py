"""The training loader: persistent workers draw the augmentations of a loader rebuilt every epoch."""
import numpy as np
import torch
from torchreid.reid.data.transforms import Random2DTranslation
from torchvision import transforms as T

from reid_bench.data import loaders
from reid_bench.data.transforms import EpochAwareCompose


def _dataset():
    images = np.random.default_rng(0).integers(0, 256, size=(12, 8, 6, 3), dtype=np.uint8)
    transform = EpochAwareCompose([
        (Random2DTranslation(8, 6), 0),  # python's random
        (T.RandomCrop((8, 6), padding=2), 0),  # torch's RNG
        (T.ToTensor(), 0),
        (T.RandomErasing(p=1.0), 1),  # switched on from epoch 1: the workers must learn the epoch
    ])
    return loaders.ArrayImageDataset(images, range(12), transform)


def _epochs(loader, dataset, epochs, steps):
    """Each epoch's batches, reading at most ``steps`` batches (an epoch cut short by --max-iters)."""
    seen = []
    for epoch in range(epochs):
        dataset.transform.set_epoch(epoch)
        loaders.seed_epoch(loader, seed=3, epoch=epoch)
        batches = []
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            batches.append(batch["img"])
        seen.append(torch.cat(batches))
    return seen


def test_persistent_workers_match_a_loader_rebuilt_every_epoch():
    dataset = _dataset()
    persistent = loaders.build_train_loader(dataset, range(12), 3, workers=2, pin_memory=False, seed=3)
    assert persistent.persistent_workers
    ours = _epochs(persistent, dataset, epochs=3, steps=3)
    fresh = loaders._loader(dataset, 3, 2, False, sampler=range(12), drop_last=True, seed=3)  # the former loader
    assert not fresh.persistent_workers
    reference = _epochs(fresh, dataset, epochs=3, steps=3)
    for epoch, (a, b) in enumerate(zip(ours, reference)):
        assert torch.equal(a, b), f"epoch {epoch} differs"
    assert not torch.equal(reference[0], reference[1])  # epochs draw different augmentations
    assert (reference[1] == 0).any() and not (reference[0] == 0).all()


def test_default_workers_fit_the_machine(monkeypatch):
    for cpus, expected in [(1, 0), (2, 0), (3, 2), (8, 7), (64, loaders.MAX_DEFAULT_WORKERS)]:
        monkeypatch.setattr(loaders.os, "sched_getaffinity", lambda pid, cpus=cpus: set(range(cpus)))
        assert loaders.default_workers() == expected
