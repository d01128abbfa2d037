"""Sharp Attention Network (Sec. III, Fig. 3; architecture of Sec. IV-B).

ResNet-50 whose residual stages ``blocks`` (any subset of 1-4) are expanded to sharp attention blocks,
followed by the paper's head: global average pooling, FC 2048 -> 1024, BatchNorm, ReLU, FC 1024 -> 128.
The 128-d output is the re-id feature. With ``context_unit=True`` blocks 1-3 sample their masks
through a context-aware unit; block 4 never has one (Sec. IV-C: "block4 is the highest-level features
already").
"""
import torch
from torch import nn

from reid_bench import resnet

from .attention import ContextAwareUnit, SharpAttentionBlock

STAGE_CHANNELS = (256, 512, 1024, 2048)
ALL_BLOCKS = (1, 2, 3, 4)


class SharpAttentionNet(nn.Module):
    """ResNet-50 with sharp attention blocks and the 2048-1024-128 embedding head.

    Train mode returns a dict: ``embedding`` (B, 128), for every attention block ``i`` its mask
    ``mask/block{i}`` and attention-aware features ``attention_aware/block{i}`` (B, C, H, W), and
    ``logits`` when ``task="classification"``. Eval mode returns the embedding, or the logits for
    classification. After every forward ``attention_maps["block{i}"]`` holds the channel mean of that
    block's mask (B, H, W), detached, for drawing.

    The paper has no classifier. For ``task="classification"`` (the CIFAR-100 track) a linear
    classifier on the 128-d feature produces the logits, so the whole paper head stays on the path.
    """

    def __init__(self, num_classes, task="reid", pretrained=False, blocks=ALL_BLOCKS, context_unit=True,
                 context_upsampling="nearest", tau=1.0, hidden_dim=1024, embedding_dim=128):
        super().__init__()
        unknown = set(blocks) - set(ALL_BLOCKS)
        if unknown:
            raise ValueError(f"sharp attention blocks must be among {ALL_BLOCKS}, got {sorted(unknown)}")
        if task not in ("reid", "classification"):
            raise ValueError(f"unknown task {task!r}; expected 'reid' or 'classification'")
        self.task = task
        backbone = resnet(50, pretrained)
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        stages = (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4)
        self.stages = nn.ModuleList(stages)
        self.attention = nn.ModuleDict()
        for index in sorted(blocks):
            unit = None
            if context_unit and index < 4:
                unit = ContextAwareUnit(stages[index][0], STAGE_CHANNELS[index - 1], context_upsampling)
            self.attention[f"block{index}"] = SharpAttentionBlock(unit, tau)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Linear(STAGE_CHANNELS[-1], hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, embedding_dim),
        )
        self.classifier = nn.Linear(embedding_dim, num_classes) if task == "classification" else None
        self.attention_maps = {}

    def forward(self, images):
        outputs = {}
        maps = {}
        x = self.stem(images)
        for index, stage in enumerate(self.stages, start=1):
            x = stage(x)
            name = f"block{index}"
            if name in self.attention:
                x, mask, attention_aware = self.attention[name](x)
                outputs[f"mask/{name}"] = mask
                outputs[f"attention_aware/{name}"] = attention_aware
                maps[name] = mask.detach().mean(dim=1)
        self.attention_maps = maps
        embedding = self.head(torch.flatten(self.pool(x), 1))
        logits = self.classifier(embedding) if self.classifier is not None else None
        if not self.training:
            return embedding if logits is None else logits
        outputs["embedding"] = embedding
        if logits is not None:
            outputs["logits"] = logits
        return outputs


def build_sharp_attention_net(num_classes, *, task="reid", input_size=(256, 128), pretrained=False,
                              blocks=ALL_BLOCKS, context_unit=True, context_upsampling="nearest", tau=1.0):
    """Model builder registered as ``sharp_attention``.

    ``num_classes`` sizes the classifier of the classification task only (re-id trains the embedding
    with the triplet loss and has no classifier). ``input_size`` is accepted for the builder contract;
    no layer depends on it (global pooling, and the context-aware unit restores any feature-map size).
    ``tau`` is the initial Gumbel-Softmax temperature (Eq. 9 starts at 1.0). ``context_upsampling``:
    see :class:`.attention.ContextAwareUnit`.
    """
    return SharpAttentionNet(num_classes, task=task, pretrained=pretrained, blocks=tuple(blocks),
                             context_unit=context_unit, context_upsampling=context_upsampling, tau=tau)
