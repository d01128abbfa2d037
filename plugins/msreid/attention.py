"""MSReID's soft attention module (Sec. 3.2, Fig. 3), built from HA-CNN's parts in torchreid.

HA-CNN's soft attention (Li et al. 2018; torchreid's ``hacnn.SoftAttn``) multiplies a spatial map
``(B, 1, H, W)`` by a channel map ``(B, C, 1, 1)``, fuses the product with a 1x1 convolution and squashes
it with a sigmoid into an attention ``(B, C, H, W)`` that multiplies the features. MSReID keeps that
structure and changes the spatial part; the details follow the authors' repository (PAPERS.md):

- spatial part: the cross-channel *average* becomes a learned weighted average, a bias-free 1x1
  convolution C -> 1 (Fig. 3: "a non-biased fully connected layer"); then, as in HA-CNN, a stride-2 3x3
  conv-BN-ReLU and bilinear upsampling, and a 3x3 conv-BN-ReLU (HA-CNN's is 1x1);
- channel part: torchreid's ``ChannelAttn`` unchanged (squeeze-excitation, reduction 16);
- fusion: 1x1 conv + BN, then the sigmoid. torchreid's ``SoftAttn`` has a ReLU before the sigmoid,
  which would confine the attention to [0.5, 1]; PAPERS.md and the authors' repository have none.

Decisions: the weighted average starts as the plain average (weights 1/C), i.e. the module starts as
HA-CNN's; the upsampling returns to the map's size before the strided conv (HA-CNN's "x2" for even
sizes), so maps of odd height or width work too. torchreid's ``ConvBlock`` keeps its convolution bias
before BN (constant per channel, hence cancelled by the BN in training and inert).
"""
import torch
from torch import nn
from torch.nn import functional as F
from torchreid.reid.models.hacnn import ChannelAttn, ConvBlock


class WeightedSpatialAttention(nn.Module):
    """Spatial attention ``(B, 1, H, W)`` from a learned cross-channel weighted average (Fig. 3, red)."""

    def __init__(self, in_channels):
        super().__init__()
        self.channel_pool = nn.Conv2d(in_channels, 1, kernel_size=1, bias=False)
        nn.init.constant_(self.channel_pool.weight, 1.0 / in_channels)
        self.down = ConvBlock(1, 1, 3, s=2, p=1)
        self.refine = ConvBlock(1, 1, 3, p=1)

    def forward(self, x):
        pooled = self.channel_pool(x)
        upsampled = F.interpolate(self.down(pooled), size=pooled.shape[-2:], mode="bilinear", align_corners=True)
        return self.refine(upsampled)


class SoftAttention(nn.Module):
    """Soft attention ``(B, C, H, W)`` in [0, 1]: sigmoid(BN(conv1x1(spatial x channel))) (Sec. 3.2)."""

    def __init__(self, in_channels, reduction=16):
        super().__init__()
        self.spatial = WeightedSpatialAttention(in_channels)
        self.channel = ChannelAttn(in_channels, reduction_rate=reduction)
        self.fuse = nn.Sequential(nn.Conv2d(in_channels, in_channels, 1, bias=False), nn.BatchNorm2d(in_channels))

    def forward(self, x):
        return torch.sigmoid(self.fuse(self.spatial(x) * self.channel(x)))
