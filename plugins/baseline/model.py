"""torchreid's ResNet-50 (last stride 1) with a BNNeck head (Luo et al., "Bag of Tricks", CVPR-W 2019).

Feature path: layer4 -> global average pooling -> ``f_t`` (2048-d, read by the triplet term) ->
BatchNorm1d with frozen bias (the BNNeck) -> ``f_i`` -> bias-free linear identity classifier.
The retrieval embedding is ``f_i``; with ``task="classification"`` eval mode returns the logits.
The baseline has no attention module; ``attention_maps["activation_layer4"]`` holds, after every
forward, its layer4 activation map (the channel mean of the squared activations, the attention of
Zagoruyko and Komodakis that torchreid's activation-map tool draws), so it can be drawn beside the
attention methods' maps.
"""
import torch
from torch import nn
from torchreid.reid.models.resnet import Bottleneck, ResNet

from reid_bench import load_imagenet_weights


class BaselineNet(nn.Module):
    def __init__(self, num_classes, task="reid", pretrained=False, last_stride=1):
        super().__init__()
        self.task = task
        backbone = ResNet(num_classes, loss="softmax", block=Bottleneck, layers=[3, 4, 6, 3], last_stride=last_stride)
        self.backbone = load_imagenet_weights(backbone, "resnet50", pretrained, strict=False)
        self.backbone.classifier = nn.Identity()  # torchreid's own head is replaced by the BNNeck below
        self.bnneck = nn.BatchNorm1d(2048)
        self.bnneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(2048, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)
        self.attention_maps = {}

    def forward(self, images):
        features = self.backbone.featuremaps(images)
        self.attention_maps = {"activation_layer4": features.detach().pow(2).mean(dim=1)}
        f_t = torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1)
        f_i = self.bnneck(f_t)
        if not self.training:
            return self.classifier(f_i) if self.task == "classification" else f_i
        return {"logits": self.classifier(f_i), "embedding": f_t, "bn_embedding": f_i}


def build_baseline(num_classes, *, task="reid", input_size=(256, 128), pretrained=False, last_stride=1):
    return BaselineNet(num_classes, task=task, pretrained=pretrained, last_stride=last_stride)
