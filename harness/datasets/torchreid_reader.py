"""Re-id splits read through torchreid's own dataset classes (``init_image_dataset``).

Call :func:`read` only after the loader has checked the layout: torchreid's classes download a
dataset whose folder is missing.
"""
from ..spec import ReidSplits


def read(name, root, **kwargs):
    """torchreid's image dataset ``name`` under ``root`` (``kwargs`` go to its class)."""
    from torchreid.reid.data.datasets import init_image_dataset

    return init_image_dataset(name, root=root, mode="train", verbose=False, **kwargs)


def to_splits(train, query, gallery):
    """:class:`ReidSplits` from torchreid's ``(img_path, pid, camid, dsetid)`` lists.

    Each list is sorted by path, so a run does not depend on the order the file system lists
    files in; train pids are relabelled ``0..n-1`` in increasing order of the dataset's pid (a
    no-op where torchreid already did it, and needed for subsets of MSMT17, whose lists carry
    the dataset's own pids).
    """
    label = {pid: index for index, pid in enumerate(sorted({item[1] for item in train}))}
    train = sorted((path, label[pid], camid, dsetid) for path, pid, camid, dsetid in train)
    return ReidSplits(train=train, query=sorted(query), gallery=sorted(gallery))


def counts(splits):
    """The split sizes the layout checks compare with the published ones."""
    return {
        "train identities": splits.num_train_pids,
        "train images": len(splits.train),
        "query identities": len({item[1] for item in splits.query}),
        "query images": len(splits.query),
        "gallery images": len(splits.gallery),
    }
