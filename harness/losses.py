"""Generic loss terms shared by methods, built on torchreid's losses.

Every loss term follows the contract of :func:`reid_bench.hookspecs.reid_bench_register_losses`:
``forward(outputs, targets)`` reads named entries of the model's output dict.
"""
import torch
from torch import nn
from torchreid.reid.losses import CrossEntropyLoss, TripletLoss


class CrossEntropyTerm(nn.Module):
    """Softmax cross-entropy on ``outputs[output]`` with optional label smoothing (Szegedy et al.
    2016), computed by torchreid's :class:`CrossEntropyLoss`: targets ``(1 - eps) y + eps / K``."""

    def __init__(self, output="logits", label_smooth=0.0):
        super().__init__()
        self.output = output
        self.label_smooth = label_smooth

    def forward(self, outputs, targets):
        logits = outputs[self.output]
        loss = CrossEntropyLoss(
            logits.size(1), eps=self.label_smooth, use_gpu=logits.is_cuda, label_smooth=self.label_smooth > 0
        )
        return loss(logits.float(), targets)


class BatchHardTripletTerm(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017) on ``outputs[output]`` by torchreid's
    :class:`TripletLoss`: for each anchor the farthest positive and the nearest negative, Euclidean
    distance, hinge with ``margin``, mean over anchors."""

    def __init__(self, output="embedding", margin=0.3):
        super().__init__()
        self.output = output
        self.margin = margin
        self.triplet = TripletLoss(margin=margin)

    def forward(self, outputs, targets):
        return self.triplet(outputs[self.output].float(), targets)


def pairwise_distances(embeddings, squared=False):
    """Euclidean distance matrix ``(B, B)`` of a batch, clamped for a stable gradient at zero."""
    squared_norms = embeddings.pow(2).sum(dim=1, keepdim=True)
    dist = (squared_norms + squared_norms.t() - 2.0 * embeddings @ embeddings.t()).clamp(min=1e-12)
    return dist if squared else dist.sqrt()


def same_identity_mask(targets):
    """``(B, B)`` boolean matrix, True where two samples share an identity."""
    return targets.unsqueeze(0) == targets.unsqueeze(1)

