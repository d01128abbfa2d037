"""The pair sampler of the Siamese model (Sec. 5.1: "Positive and negative pairs were randomly chosen
and shuffled in each mini-batch").

The index stream is a sequence of pairs: positions ``2i`` and ``2i + 1`` of every batch hold pair
``i`` (the first element, the *anchor*, then its partner), which is the layout the model pairs.

- Batch composition: ``batch_size / 2`` pairs, of which ``positive_fraction * batch_size / 2``
  (rounded half up) are positive (same identity) and the rest negative (different identities), in
  random order.
- Positives come from different cameras whenever the identity was seen by more than one camera;
  otherwise from another image of the same camera.
- Negative partners are drawn uniformly among the images of the other identities.
- Epoch: every training image is the anchor of at least one pair. Anchors are a random permutation
  of the training set split between the positive and negative roles (images whose identity has no
  other image can only be negative anchors), the last batch filled with extra random anchors, so the
  epoch is a whole number of batches and the loader's ``drop_last`` drops nothing.

Randomness comes from numpy's global generator, which the harness seeds for every run.
"""
import math

import numpy as np
from torch.utils.data import Sampler


class PairSampler(Sampler):
    """Batches of consecutive (anchor, partner) pairs with a fixed share of positive pairs."""

    #: a pair's two indices stay together when a batch is shared among torchrun processes
    batch_unit = 2

    def __init__(self, data_source, batch_size, positive_fraction=0.5):
        if batch_size < 2 or batch_size % 2:
            raise ValueError(f"a batch of pairs needs an even batch size of at least 2; got {batch_size}")
        if not 0.0 <= positive_fraction <= 1.0:
            raise ValueError(f"positive_fraction must lie in [0, 1]; got {positive_fraction}")
        self.batch_size = batch_size
        self.pairs_per_batch = batch_size // 2
        self.positives_per_batch = math.floor(positive_fraction * self.pairs_per_batch + 0.5)  # half up
        self.negatives_per_batch = self.pairs_per_batch - self.positives_per_batch

        self.pids = np.array([item[1] for item in data_source])
        self.camids = np.array([item[2] for item in data_source])
        # Images grouped by identity: ``self.by_pid[start[g]:start[g] + size[g]]`` are group g's.
        unique_pids, self.group, self.group_size = np.unique(self.pids, return_inverse=True, return_counts=True)
        self.by_pid = np.argsort(self.group, kind="stable")
        self.group_start = np.concatenate([[0], np.cumsum(self.group_size)[:-1]])
        self.rank_in_group = np.empty(len(self.pids), dtype=np.int64)
        self.rank_in_group[self.by_pid] = np.arange(len(self.pids)) - self.group_start[self.group[self.by_pid]]
        group_cameras = np.unique(np.stack([self.group, self.camids], axis=1), axis=0)
        self.multi_camera = np.bincount(group_cameras[:, 0], minlength=len(unique_pids)) > 1

        with_partner = self.group_size[self.group] > 1
        self.positive_capable = np.flatnonzero(with_partner)
        self.singletons = np.flatnonzero(~with_partner)
        if self.positives_per_batch and not len(self.positive_capable):
            raise ValueError("positive pairs need an identity with at least two images")
        if self.negatives_per_batch and len(unique_pids) < 2:
            raise ValueError("negative pairs need at least two identities")
        if len(self.singletons) and not self.negatives_per_batch:
            raise ValueError(
                f"{len(self.singletons)} images are the only image of their identity and can only anchor "
                "negative pairs; lower positive_fraction below 1"
            )
        self.num_batches = math.ceil(len(self.pids) / self.pairs_per_batch)
        if len(self.singletons):
            self.num_batches = max(self.num_batches, math.ceil(len(self.singletons) / self.negatives_per_batch))

    def __len__(self):
        return self.num_batches * self.batch_size

    def __iter__(self):
        positive_anchors, negative_anchors = self._anchors()
        positives = self._positive_partners(positive_anchors)
        negatives = self._negative_partners(negative_anchors)
        anchors = np.concatenate([positive_anchors.reshape(self.num_batches, -1),
                                  negative_anchors.reshape(self.num_batches, -1)], axis=1)
        partners = np.concatenate([positives.reshape(self.num_batches, -1),
                                   negatives.reshape(self.num_batches, -1)], axis=1)
        order = np.argsort(np.random.random(anchors.shape), axis=1)  # shuffle pairs within each batch
        pairs = np.stack([np.take_along_axis(anchors, order, 1), np.take_along_axis(partners, order, 1)], axis=2)
        return iter(pairs.reshape(-1).tolist())

    def _anchors(self):
        """Anchors of the positive and the negative pairs of one epoch; together they hold every image."""
        num_positive = self.num_batches * self.positives_per_batch
        num_negative = self.num_batches * self.negatives_per_batch
        capable = np.random.permutation(self.positive_capable)
        positive = capable[:num_positive]
        if len(positive) < num_positive:
            extra = np.random.choice(self.positive_capable, num_positive - len(positive))
            positive = np.concatenate([positive, extra])
        negative = np.random.permutation(np.concatenate([capable[num_positive:], self.singletons]))
        negative = np.concatenate([negative, np.random.choice(len(self.pids), num_negative - len(negative))])
        return positive, negative

    def _positive_partners(self, anchors):
        """For each anchor another image of its identity, from another camera where there is one."""
        partners = np.empty(len(anchors), dtype=np.int64)
        pending = np.arange(len(anchors))
        while len(pending):
            anchor = anchors[pending]
            group = self.group[anchor]
            offset = np.floor(np.random.random(len(pending)) * (self.group_size[group] - 1)).astype(np.int64)
            offset += offset >= self.rank_in_group[anchor]  # skip the anchor itself
            candidate = self.by_pid[self.group_start[group] + offset]
            accepted = ~self.multi_camera[group] | (self.camids[candidate] != self.camids[anchor])
            partners[pending[accepted]] = candidate[accepted]
            pending = pending[~accepted]
        return partners

    def _negative_partners(self, anchors):
        """For each anchor a uniformly drawn image of another identity."""
        partners = np.empty(len(anchors), dtype=np.int64)
        pending = np.arange(len(anchors))
        while len(pending):
            candidate = np.random.randint(len(self.pids), size=len(pending))
            accepted = self.pids[candidate] != self.pids[anchors[pending]]
            partners[pending[accepted]] = candidate[accepted]
            pending = pending[~accepted]
        return partners


def build_pair_sampler(data_source, batch_size, positive_fraction=0.5):
    """Sampler builder registered as ``mutual_attention_pairs``."""
    return PairSampler(data_source, batch_size, positive_fraction=positive_fraction)
