"""The MSReID network (Sec. 3.1-3.4, Fig. 2): ResNet-50 with soft attention and mask-separated features.

- Backbone (Sec. 3.1): torchvision ResNet-50, last stride 1 (16x8 maps at 256x128).
- Soft attention (Sec. 3.2): one :class:`SoftAttention` after each of layer1..layer4 (none after the
  stem); the stage's output is multiplied by it.
- Mask (Sec. 3.3): ``m = sigmoid(ResidualReduction(layer4))``, one channel ``(B, 1, H, W)`` in [0, 1].
- Global feature: layer4 -> :class:`ResidualReduction` to ``feature_dim`` (1536) channels, times ``m``,
  GAP + GMP. Local feature: layer3 -> 1024 -> 256 -> 1536 channels, times ``1 - m``, GAP + GMP
  (layer3 and layer4 have the same size because of the last stride 1). Both reductions read the
  attended maps, as in the authors' repository.
- Each feature goes through its own :class:`BNNeck` to identity logits (Sec. 3.4).

Switches (the ablation of Sec. 4.4 / Fig. 5): ``attention`` (A), ``local`` (L), ``mask`` (M). Without
M the maps are pooled unmasked; without L there is no local feature.

Outputs. ``train()``: ``global_embedding`` / ``local_embedding`` (pre-BN, for triplet and center
losses), ``global_logits`` / ``local_logits`` (post-BNNeck, for cross-entropy) and ``mask``.
``eval()`` with ``task="reid"``: the pre-BN features concatenated, ``(B, 1536)`` or with L ``(B, 3072)``
(as the authors' evaluator). ``eval()`` with ``task="classification"``: the branch logits summed
(decision; the classifiers are then ``num_classes``-way, 100 on CIFAR-100). ``attention_maps`` after each
forward (detached): ``soft_attention_layer1..4`` (the attention averaged over channels, ``(B, 1, h, w)``,
for drawing) and ``mask``.
"""
import torch
from reid_bench import resnet
from torch import nn

from .attention import SoftAttention
from .heads import BNNeck, MaskedPooling, ResidualReduction

STAGE_CHANNELS = (256, 512, 1024, 2048)
TASKS = ("reid", "classification")


class MSReID(nn.Module):
    """ResNet-50 (last stride 1) with optional soft attention, local branch and separating mask."""

    def __init__(self, num_classes, task="reid", pretrained=False, attention=True, local=True, mask=True,
                 feature_dim=1536):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
        self.task = task
        backbone = resnet(50, pretrained, last_stride=1)
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.stages = nn.ModuleList([backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4])
        self.soft_attention = nn.ModuleList(SoftAttention(c) for c in STAGE_CHANNELS) if attention else None

        self.mask_head = ResidualReduction(STAGE_CHANNELS[3], 1, activation=torch.sigmoid) if mask else None
        self.global_reduction = ResidualReduction(STAGE_CHANNELS[3], feature_dim)
        self.global_pool = MaskedPooling()
        self.global_neck = BNNeck(feature_dim, num_classes)
        if local:
            self.local_reduction = ResidualReduction(STAGE_CHANNELS[2], feature_dim)
            self.local_pool = MaskedPooling()
            self.local_neck = BNNeck(feature_dim, num_classes)
        self.local = local
        self.embedding_dim = feature_dim * (2 if local else 1)
        self.attention_maps = {}

    def backbone_maps(self, images):
        """Attended layer3 and layer4 maps; records the channel-averaged soft attentions."""
        x = self.stem(images)
        maps = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if self.soft_attention is not None:
                attention = self.soft_attention[index](x)
                self.attention_maps[f"soft_attention_layer{index + 1}"] = attention.detach().mean(1, keepdim=True)
                x = x * attention
            maps.append(x)
        return maps[2], maps[3]

    def forward(self, images):
        self.attention_maps = {}
        layer3, layer4 = self.backbone_maps(images)
        outputs = {}
        mask = None
        if self.mask_head is not None:
            mask = outputs["mask"] = self.mask_head(layer4)
            self.attention_maps["mask"] = mask.detach()

        outputs["global_embedding"] = self.global_pool(self.global_reduction(layer4), mask)
        outputs["global_logits"] = self.global_neck(outputs["global_embedding"])
        if self.local:
            local_mask = None if mask is None else 1 - mask
            outputs["local_embedding"] = self.local_pool(self.local_reduction(layer3), local_mask)
            outputs["local_logits"] = self.local_neck(outputs["local_embedding"])

        if self.training:
            return outputs
        branches = ("global", "local") if self.local else ("global",)
        if self.task == "classification":
            return sum(outputs[f"{branch}_logits"] for branch in branches)
        return torch.cat([outputs[f"{branch}_embedding"] for branch in branches], dim=1)


def build_msreid(num_classes, *, task="reid", input_size=(256, 128), pretrained=False, **kwargs):
    """Model builder of the ``msreid`` entry (``kwargs``: ``attention``, ``local``, ``mask``,
    ``feature_dim``). ``input_size`` is not needed: no layer depends on the map size."""
    return MSReID(num_classes, task=task, pretrained=pretrained, **kwargs)
