"""Generic loss terms shared by methods: torchreid's softmax cross-entropy and batch-hard triplet,
computed without per-step Python loops or host-device copies.

Every loss term follows the contract of :func:`reid_bench.hookspecs.reid_bench_register_losses`:
``forward(outputs, targets)`` reads named entries of the model's output dict.

torchreid's :class:`~torchreid.reid.losses.TripletLoss` mines the hardest positive and negative of each
anchor in a Python loop over the batch (two masked reductions per image: hundreds of tiny kernels per
step on a GPU; ``benchmarks/train_throughput.py`` reports the speed-up at batch 256), and its
:class:`~torchreid.reid.losses.CrossEntropyLoss` builds one-hot targets on the CPU and copies them to the
device every step. The terms here compute the same values with batched tensor operations
(``tests/core/test_losses.py`` checks values and gradients against torchreid's modules).
"""
import torch
from torch import nn
from torch.nn import functional as F


class CrossEntropyTerm(nn.Module):
    """Softmax cross-entropy on ``outputs[output]`` with optional label smoothing (Szegedy et al.
    2016): targets ``(1 - eps) y + eps / K``, mean over the batch, as torchreid's
    :class:`CrossEntropyLoss`; computed by torch's ``cross_entropy(label_smoothing=eps)`` on the device."""

    def __init__(self, output="logits", label_smooth=0.0):
        super().__init__()
        self.output = output
        self.label_smooth = label_smooth

    def forward(self, outputs, targets):
        return F.cross_entropy(outputs[self.output].float(), targets, label_smoothing=self.label_smooth)


def batch_hard_triplet(embeddings, targets, margin):
    """Batch-hard triplet loss of ``embeddings`` ``(B, D)`` with identities ``targets`` ``(B,)``: for each
    anchor the farthest positive (the anchor itself included, as in torchreid) and the nearest negative,
    Euclidean distance, ``mean(max(0, d_ap - d_an + margin))``.

    Mining reads the distance matrix without a graph (one masked max and one masked min); the loss then
    recomputes only the ``2B`` mined distances from the embeddings, so the backward pass costs ``O(B D)``
    instead of two ``B x B x D`` products. Values and gradients are torchreid's :class:`TripletLoss`'s
    up to float rounding, except that a distance tied for hardest (two copies of one image in a batch)
    sends its gradient to one copy where torchreid splits it between them; copies of one image sum
    their gradients in the network, so the parameters' gradients are the same. An anchor without a
    negative in the batch (a one-identity batch, on which torchreid fails) contributes 0.
    """
    with torch.no_grad():
        dist = pairwise_distances(embeddings)
        same = same_identity_mask(targets)
        hardest_positive = dist.masked_fill(~same, float("-inf")).argmax(dim=1)
        hardest_negative = dist.masked_fill(same, float("inf")).argmin(dim=1)
        has_negative = (~same).any(dim=1)
    d_ap = _row_distances(embeddings, embeddings[hardest_positive])
    d_an = _row_distances(embeddings, embeddings[hardest_negative])
    return (F.relu(d_ap - d_an + margin) * has_negative).mean()


def _row_distances(a, b):
    """Euclidean distance of each row of ``a`` to the same row of ``b``, clamped like
    :func:`pairwise_distances` (a zero distance, an anchor with itself, passes no gradient)."""
    return (a - b).pow(2).sum(dim=1).clamp(min=1e-12).sqrt()


class BatchHardTripletTerm(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017) on ``outputs[output]`` with ``margin``: the value of
    torchreid's :class:`TripletLoss`, batched (:func:`batch_hard_triplet`)."""

    def __init__(self, output="embedding", margin=0.3):
        super().__init__()
        self.output = output
        self.margin = margin

    def forward(self, outputs, targets):
        return batch_hard_triplet(outputs[self.output].float(), targets, self.margin)


def pairwise_distances(embeddings, squared=False):
    """Euclidean distance matrix ``(B, B)`` of a batch, clamped for a stable gradient at zero."""
    squared_norms = embeddings.pow(2).sum(dim=1, keepdim=True)
    dist = (squared_norms + squared_norms.t() - 2.0 * embeddings @ embeddings.t()).clamp(min=1e-12)
    return dist if squared else dist.sqrt()


def same_identity_mask(targets):
    """``(B, B)`` boolean matrix, True where two samples share an identity."""
    return targets.unsqueeze(0) == targets.unsqueeze(1)

