"""Self-attention map (Sec. 3.3, Eq. 1-4) and mutual-attention layer (Sec. 3.4, Eq. 5-8).

Both keep the feature map's shape ``(C, H, W)``: the three 1x1 convolutions (channel attention, the
fusion of Eq. 4 and the learnable mutual map of Eq. 6) map ``C -> C`` channels, so the mutual map
re-weights every channel at every position (the paper: "feature activation at different spatial and
channel locations across the two branches were re-emphasized").

Decision, ``sigmoid=True`` (default): a sigmoid closes Eq. 4 and Eq. 6, so SA and MA lie in (0, 1)
and ``F = f * (1 + MA)`` lies between ``f`` and ``2 f``: the residual attention form of Eq. 7-8 with a
bounded mask. The paper names no activation, and as written (``sigmoid=False``) SA grows like
``|f| ** 2`` and MA like ``|f| ** 4``; chained at layer3 and layer4 the verification features of an
untrained ResNet-50 reach 1e28 and then overflow.
"""
import torch
from torch import nn


def kaiming_conv1x1(channels):
    """A ``channels -> channels`` 1x1 convolution, Kaiming-normal weights and zero bias (Sec. 5.1)."""
    conv = nn.Conv2d(channels, channels, kernel_size=1)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    nn.init.zeros_(conv.bias)
    return conv


class SelfAttention(nn.Module):
    """Self-attention map of one feature map ``f`` (B, C, H, W) -> SA (B, C, H, W).

    - Eq. 1, spatial attention: ``SPA(i, j) = 1/C sum_c f_c(i, j)`` (B, 1, H, W);
    - Eq. 2, channel feature: ``Q = AP(f)``, global average pooling (B, C, 1, 1);
    - Eq. 3, channel attention: ``CA = conv1x1(Q)`` (B, C, 1, 1);
    - Eq. 4, fusion: ``SA = conv1x1(SPA * CA)``, the product broadcast to (B, C, H, W), then a
      sigmoid when ``sigmoid`` (module docstring).
    """

    def __init__(self, channels, sigmoid=True):
        super().__init__()
        self.channel_attention = kaiming_conv1x1(channels)
        self.fusion = kaiming_conv1x1(channels)
        self.sigmoid = sigmoid

    def forward(self, features):
        spatial = features.mean(dim=1, keepdim=True)  # Eq. 1
        pooled = features.mean(dim=(2, 3), keepdim=True)  # Eq. 2
        channel = self.channel_attention(pooled)  # Eq. 3
        attention = self.fusion(spatial * channel)  # Eq. 4
        return attention.sigmoid() if self.sigmoid else attention


class MutualAttention(nn.Module):
    """Mutual attention of a pair of feature maps ``f1``, ``f2`` (P, C, H, W), one pair per row.

    - Eq. 5: ``MA = SA1 * SA2`` (element-wise), SA by the shared :class:`SelfAttention`;
    - Eq. 6: ``MA = conv1x1(MA)``, the learnable mutual map (then a sigmoid when ``sigmoid``);
    - Eq. 7-8: ``F1 = f1 * MA + f1``, ``F2 = f2 * MA + f2``.

    Symmetric in its two inputs: swapping them swaps ``F1`` and ``F2`` and leaves ``MA`` unchanged.
    Returns ``(F1, F2, MA)``.
    """

    def __init__(self, channels, sigmoid=True):
        super().__init__()
        self.self_attention = SelfAttention(channels, sigmoid)
        self.mutual = kaiming_conv1x1(channels)
        self.sigmoid = sigmoid

    def forward(self, first, second):
        # One call of the shared self-attention for both members of every pair (Siamese weights).
        first_sa, second_sa = self.self_attention(torch.cat([first, second])).chunk(2)
        mutual = self.mutual(first_sa * second_sa)  # Eq. 5-6
        if self.sigmoid:
            mutual = mutual.sigmoid()
        return first * mutual + first, second * mutual + second, mutual  # Eq. 7-8

