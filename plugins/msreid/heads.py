"""The mask, the feature reductions, the masked pooling and the BNNeck of MSReID (Sec. 3.3-3.4).

- :class:`ResidualReduction` is the "bottleneck block [5]" the paper uses both to generate the mask
  (Sec. 3.3, activation replaced by a sigmoid) and to bring the global and local maps to 1536 channels
  (Sec. 3.4). As in the authors' repository it is a ResNet bottleneck with a projection shortcut:
  ``act(BN(1x1)(x) + BN(1x1(ReLU(BN(3x3(ReLU(BN(1x1(x)))))))))`` with the middle width ``in / 4``.
  Decision: its convolutions have no bias (the repository's biases sit right before a BN).
- :class:`MaskedPooling` multiplies a map by a one-channel spatial mask and sums global average and
  global max pooling (Sec. 3.3-3.4: "GAP and GMP ... complement each other").
- :class:`BNNeck` is the bias-free classifier behind a BN with frozen bias (Sec. 3.4, after Luo et al.
  2019); the classifier weights start at N(0, 0.001^2) as there.
"""
import torch
from torch import nn


class ResidualReduction(nn.Module):
    """Residual bottleneck ``in -> in/4 -> out`` channels with a projection shortcut and ``activation``."""

    def __init__(self, in_channels, out_channels, activation=torch.relu):
        super().__init__()
        mid_channels = in_channels // 4
        self.bottleneck = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.activation = activation

    def forward(self, x):
        return self.activation(self.shortcut(x) + self.bottleneck(x))


class MaskedPooling(nn.Module):
    """``GAP(x * mask) + GMP(x * mask)`` -> ``(B, C)``; ``mask`` ``(B, 1, H, W)`` broadcasts over channels,
    ``None`` pools the map as it is."""

    def forward(self, feature_map, mask=None):
        if mask is not None:
            feature_map = feature_map * mask
        return feature_map.mean(dim=(2, 3)) + feature_map.amax(dim=(2, 3))


class BNNeck(nn.Module):
    """BatchNorm1d with a frozen (zero) bias followed by a bias-free linear classifier -> logits."""

    def __init__(self, feature_dim, num_classes):
        super().__init__()
        self.bn = nn.BatchNorm1d(feature_dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(feature_dim, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feature):
        return self.classifier(self.bn(feature))
