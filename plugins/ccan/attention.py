"""Cross-Correlated Attention (CCA) and its symmetric self-attention form (SSA), Sec. 3.1.

With the positional matrices ``q, q' in R^{MN x C}`` of two feature maps of the same size (batch
dimension in front, everything vectorised):

- ``g(q) = ReLU(q W_g)``, ``f(q') = ReLU(q' W_f)``, ``h(q) = ReLU(q W_h)``, each ``C -> K = C / 8``
  (1x1 convolutions without bias, the equations have none);
- Eq. 1: ``A' = g(q) f(q')^T`` (MN x MN) and ``A = ReLU([A', A'^T] W_alpha)``, ``W_alpha`` a linear
  layer ``2MN -> MN`` over the concatenated rows; it depends on the map size, so the module is built
  for a fixed number of positions MN (derived from the recipe's input size by the model);
- Eq. 2: ``y_i = (1/MN) sum_j A_ij h(q_j)`` (``h`` already ends in ReLU, so the ``phi`` of Eq. 2
  changes nothing);
- Eq. 3: ``z_i = ReLU(y_i W_w) + q_i`` with ``W_w: K -> C``, reshaped back to ``Q``'s shape.

Remark 2: with ``Q = Q'`` the module is SSA. Initialisation is PyTorch's default for the layers
(the paper does not give one).
"""
import torch
import torch.nn.functional as F
from torch import nn


class CrossCorrelatedAttention(nn.Module):
    """CCA between a map ``Q`` and a map ``Q'`` of the same size, ``channels`` channels each and
    ``positions = M * N`` spatial positions; ``forward(q)`` alone is SSA (Remark 2)."""

    def __init__(self, channels, positions, reduction=8):
        super().__init__()
        reduced = channels // reduction
        self.positions = positions
        self.g = nn.Conv2d(channels, reduced, 1, bias=False)
        self.f = nn.Conv2d(channels, reduced, 1, bias=False)
        self.h = nn.Conv2d(channels, reduced, 1, bias=False)
        self.w = nn.Conv2d(reduced, channels, 1, bias=False)
        self.alpha = nn.Linear(2 * positions, positions, bias=False)

    def forward(self, q, q_prime=None):
        """``z`` (same shape as ``q``) and the attention ``A`` ``(B, MN, MN)``; row ``i`` weighs the
        positions ``j`` whose ``h(q_j)`` are gathered into ``y_i`` (Eq. 2)."""
        q_prime = q if q_prime is None else q_prime
        batch, _, height, width = q.shape
        if height * width != self.positions or q_prime.shape != q.shape:
            raise ValueError(
                f"this attention layer was built for maps of {self.positions} positions (W_alpha depends "
                f"on the input size), got q {tuple(q.shape)} and q' {tuple(q_prime.shape)}"
            )
        g = F.relu(self.g(q)).flatten(2).transpose(1, 2)  # (B, MN, K)
        f = F.relu(self.f(q_prime)).flatten(2).transpose(1, 2)  # (B, MN, K)
        h = F.relu(self.h(q)).flatten(2).transpose(1, 2)  # (B, MN, K)
        a_prime = g @ f.transpose(1, 2)  # (B, MN, MN), Eq. 1
        attention = F.relu(self.alpha(torch.cat([a_prime, a_prime.transpose(1, 2)], dim=2)))
        y = attention @ h / self.positions  # (B, MN, K), Eq. 2
        y = y.transpose(1, 2).reshape(batch, -1, height, width)
        return F.relu(self.w(y)) + q, attention  # Eq. 3
