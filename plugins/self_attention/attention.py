"""Activation-based spatial attention maps of Self-attention Learning (Sec. 3.2, Eq. 1).

The map of a stage is one channel per image: at each spatial point ``i`` the mean over the ``C``
channels of the squared activations, ``a_i = 1/C sum_j v_ij^2`` (Eq. 1, the attention of Zagoruyko and
Komodakis), then l2-normalised over all spatial points of the image, giving ``att_s4``, ``att_s5`` and
``att_s6``.
"""
from torch.nn import functional as F


def attention_map(features):
    """The l2-normalised attention map ``(B, H, W)`` of a feature map ``(B, C, H, W)`` (Eq. 1)."""
    squared_mean = features.pow(2).mean(dim=1)
    return F.normalize(squared_mean.flatten(1), p=2, dim=1).view_as(squared_mean)
