"""Attention-aware feature continuity (Sec. III-B): the total-variation penalty of Eq. 6 and Eq. 8."""
import torch
from torch import nn


#: how Eq. 6 is reduced over a sample's entries: ``"sum"`` as written, ``"mean"`` divided by C x H x W
REDUCTIONS = ("mean", "sum")


def total_variation(features, reduction="sum"):
    """Eq. 6 per sample: ``sum_c ||D1 A_c||_2^2 + ||A_c D2||_2^2`` for ``features`` (B, C, H, W).

    ``D1 A_c`` holds the differences of vertically adjacent entries and ``A_c D2`` those of
    horizontally adjacent ones, so the penalty is the sum of their squares. With
    ``reduction="mean"`` that sum is divided by the number of entries of ``A`` (C x H x W).
    Returns shape (B,).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown TV reduction {reduction!r}; expected one of {', '.join(REDUCTIONS)}")
    vertical = features[:, :, 1:, :] - features[:, :, :-1, :]
    horizontal = features[:, :, :, 1:] - features[:, :, :, :-1]
    total = vertical.pow(2).sum(dim=(1, 2, 3)) + horizontal.pow(2).sum(dim=(1, 2, 3))
    return total / features[0].numel() if reduction == "mean" else total


class AttentionTVPenalty(nn.Module):
    """``sum_i L_TV(A_i)`` of Eq. 8 over every sharp attention block's attention-aware features.

    Reads every model output whose name starts with ``prefix`` (one per block). Each block's Eq. 6 is
    reduced over channels and positions (``reduction``, see :func:`total_variation`), then averaged
    over the batch (PAPERS.md). The weight ``mu = 0.1`` of Eq. 8 is the loss term's weight.

    ``reduction="mean"`` is the method's default (a decision, see the plugin docstring): summed as
    written the penalty is ~2e4 at 64x32 from initialisation, ~1,000x a triplet loss near 2 even
    after mu, and flattening the attention becomes the cheapest way to lower the loss.
    ``reduction="sum"`` is Eq. 6 as written.
    """

    def __init__(self, prefix="attention_aware/", reduction="sum"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown TV reduction {reduction!r}; expected one of {', '.join(REDUCTIONS)}")
        self.prefix = prefix
        self.reduction = reduction

    def forward(self, outputs, targets):
        features = [value for name, value in outputs.items() if name.startswith(self.prefix)]
        if not features:
            raise ValueError(
                f"the TV penalty found no model output named {self.prefix}*; the model has no sharp "
                "attention block (use a variant without the 'tv' term)"
            )
        return torch.stack([total_variation(a.float(), self.reduction).mean() for a in features]).sum()
