"""Attention-aware feature continuity (Sec. III-B): the total-variation penalty of Eq. 6 and Eq. 8."""
import torch
from torch import nn


def total_variation(features):
    """Eq. 6 per sample: ``sum_c ||D1 A_c||_2^2 + ||A_c D2||_2^2`` for ``features`` (B, C, H, W).

    ``D1 A_c`` holds the differences of vertically adjacent entries and ``A_c D2`` those of
    horizontally adjacent ones, so the penalty is the sum of their squares. Returns shape (B,).
    """
    vertical = features[:, :, 1:, :] - features[:, :, :-1, :]
    horizontal = features[:, :, :, 1:] - features[:, :, :, :-1]
    return vertical.pow(2).sum(dim=(1, 2, 3)) + horizontal.pow(2).sum(dim=(1, 2, 3))


class AttentionTVPenalty(nn.Module):
    """``sum_i L_TV(A_i)`` of Eq. 8 over every sharp attention block's attention-aware features.

    Reads every model output whose name starts with ``prefix`` (one per block). Each block's Eq. 6 is
    summed over channels and positions as written, then averaged over the batch (PAPERS.md). The
    weight ``mu = 0.1`` of Eq. 8 is the loss term's weight.
    """

    def __init__(self, prefix="attention_aware/"):
        super().__init__()
        self.prefix = prefix

    def forward(self, outputs, targets):
        features = [value for name, value in outputs.items() if name.startswith(self.prefix)]
        if not features:
            raise ValueError(
                f"the TV penalty found no model output named {self.prefix}*; the model has no sharp "
                "attention block (use a variant without the 'tv' term)"
            )
        return torch.stack([total_variation(a.float()).mean() for a in features]).sum()
