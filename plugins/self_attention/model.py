"""The Self-attention Learning network (Sec. 3.1, Fig. 1): a dilated, multi-level ResNet.

Paper stages: stage1 = conv1 (+ max-pool), stage2..stage5 = torchvision's layer1..layer4, and a new
stage6. With ``dil`` the strides of stage4 and stage5 become dilations (torchvision's
``replace_stride_with_dilation=[False, True, True]``: dilation 2 in stage4, 4 in stage5), so stage4-6
share the output-stride-8 resolution (32x16 at 256x128). stage6 repeats stage5's design (three
torchvision bottlenecks) with half its channels (1024 out) and no stride.

With ``multi`` the outputs of stage4 (1024 ch), stage5 (2048) and stage6 (1024) are concatenated,
globally average-pooled and mapped by one fully connected layer to the 1024-d feature, followed by the
identity (or, on CIFAR-100, the 100-way) classifier. Global average pooling is taken per stage before
the concatenation: that equals pooling the concatenated map when the stages share a resolution, and
keeps the multi-level feature defined without ``dil`` (Table 1 has multi-level rows without DIL).
Without ``multi`` the feature comes from stage5 alone and stage6 is not built.

Classification input (decision, see the plugin docstring): with ``task="classification"`` the network
first upsamples its input ``classification_upsample`` times (bilinear; the method sets 7, so CIFAR-100's
32x32 becomes 224x224, the resolution torchvision's ImageNet weights were trained at). At the native
32x32 the plain ResNet's stage5 is a 1x1 map (4x4 for stage4-6 with ``dil``), on which the l2-normalised
attention map of Eq. 1 is the constant 1. Re-id inputs are never resized.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck

from reid_bench import resnet

from .attention import attention_map

FEATURE_DIM = 1024


def make_stage6(in_channels, dilation, blocks=3, planes=256):
    """stage6 (Sec. 3.1): ``blocks`` torchvision bottlenecks like stage5's but with ``planes`` = 256
    (half of stage5's 512, so 1024 channels out), stride 1, 3x3 convolutions dilated by ``dilation``.
    Initialised as torchvision initialises its ResNets (He normal, fan-out; BN weight 1, bias 0)."""
    out_channels = planes * Bottleneck.expansion
    downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
    stage = nn.Sequential(
        Bottleneck(in_channels, planes, downsample=downsample, dilation=dilation),
        *(Bottleneck(out_channels, planes, dilation=dilation) for _ in range(blocks - 1)),
    )
    for module in stage.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return stage


class SelfAttentionNet(nn.Module):
    """Dilated multi-level ResNet with stage4-6 attention maps (Sec. 3.1-3.2).

    ``forward(images)`` in ``train()`` mode returns ``{"logits", "embedding", "attention_stage4",
    "attention_stage5"[, "attention_stage6"]}``; in ``eval()`` mode the 1024-d embedding (``task="reid"``)
    or the class logits (``task="classification"``). After every forward the detached maps are kept in
    :attr:`attention_maps` by stage name.
    """

    def __init__(self, num_classes, task="reid", depth=50, pretrained=False, dil=True, multi=True,
                 stage6_dilation=2, classification_upsample=1):
        super().__init__()
        if task not in ("reid", "classification"):
            raise ValueError(f"task must be 'reid' or 'classification', got {task!r}")
        if classification_upsample < 1:
            raise ValueError(f"classification_upsample must be >= 1, got {classification_upsample}")
        self.task = task
        self.upsample = classification_upsample if task == "classification" else 1
        self.multi = multi
        backbone = resnet(depth, pretrained, replace_stride_with_dilation=[False, dil, dil])
        self.stage1 = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.stage2, self.stage3 = backbone.layer1, backbone.layer2
        self.stage4, self.stage5 = backbone.layer3, backbone.layer4
        self.stage6 = make_stage6(2048, dilation=stage6_dilation if dil else 1) if multi else None
        pooled_channels = 1024 + 2048 + 1024 if multi else 2048
        self.fc = nn.Linear(pooled_channels, FEATURE_DIM)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)
        self.attention_maps = {}

    def stage_outputs(self, images):
        """``{"stage4": ..., "stage5": ...[, "stage6": ...]}`` feature maps of a batch (classification
        inputs upsampled ``classification_upsample`` times first)."""
        if self.upsample != 1:
            height, width = images.shape[-2:]
            size = (round(height * self.upsample), round(width * self.upsample))
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        x = self.stage3(self.stage2(self.stage1(images)))
        outputs = {"stage4": self.stage4(x)}
        outputs["stage5"] = self.stage5(outputs["stage4"])
        if self.stage6 is not None:
            outputs["stage6"] = self.stage6(outputs["stage5"])
        return outputs

    def forward(self, images):
        stages = self.stage_outputs(images)
        maps = {name: attention_map(features) for name, features in stages.items()}
        self.attention_maps = {name: att.detach() for name, att in maps.items()}
        levels = stages.values() if self.multi else (stages["stage5"],)
        pooled = torch.cat([features.mean(dim=(2, 3)) for features in levels], dim=1)
        embedding = self.fc(pooled)
        if self.training:
            return {"logits": self.classifier(embedding), "embedding": embedding,
                    **{f"attention_{name}": att for name, att in maps.items()}}
        return self.classifier(embedding) if self.task == "classification" else embedding


def build_self_attention_net(num_classes, *, task="reid", input_size=(256, 128), pretrained=False, depth=50,
                             dil=True, multi=True, stage6_dilation=2, classification_upsample=1):
    """Model builder (registered as ``self_attention``). ``input_size`` is not needed: every layer
    after the convolutions is global-pooled, so any input size works. ``classification_upsample``
    (a factor, sides rounded) only acts when ``task="classification"``."""
    return SelfAttentionNet(num_classes, task=task, depth=depth, pretrained=pretrained, dil=dil, multi=multi,
                            stage6_dilation=stage6_dilation, classification_upsample=classification_upsample)
