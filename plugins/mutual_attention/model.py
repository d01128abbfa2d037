"""The Siamese deep mutual-attention network (Sec. 3-4, Fig. 2).

One ResNet-50 (both Siamese branches share its weights) runs on the whole batch. In ``train()`` mode
the batch is a sequence of pairs, images ``2i`` and ``2i + 1`` forming pair ``i`` (the layout of the
``mutual_attention_pairs`` sampler), and two paths are computed:

- identification (Sec. 4, Eq. 9): every image alone through layer4, global average pooling, the
  512-d "sequential layer" (Linear + BN + ReLU), dropout and the identity classifier;
- verification (Sec. 3.4 and 4, Eq. 5-8, 11): mutual attention on the pair's layer3 and/or layer4
  maps (``F = f * MA + f``), pooling and the same 512-d sequential layer, then
  ``f_d = (f1 - f2) ** 2`` of these dropout-free features -> a 512-d sequential layer -> dropout ->
  2-way classifier (different / same).

Dropout sits right before each classifier (Sec. 5.1: dropout "for the fully connected layer"), never
inside the 512-d features f1, f2 that the test uses and that ``f_d`` is built from: with dropout 0.75
inside them, one image under two dropout draws lies farther from itself (``||f_d||`` ~1500) than two
different identities do (~415), and verification cannot learn. The verification path's second run
of layer4 and of the 512-d layer (on the attended maps) normalises with its own batch statistics but
does not update the running statistics, which stay those of the identification path that the test
uses (:func:`batch_statistics_only`).

In ``eval()`` mode only the identification path runs: each image's 512-d feature (or its class
logits for ``task="classification"``) depends on that image alone.
"""
import contextlib

import torch
from torch import nn

from reid_bench import resnet

from .attention import MutualAttention

#: output channels of the ResNet-50 stages that can carry mutual attention (Sec. 3.1, Fig. 1)
STAGE_CHANNELS = {"layer3": 1024, "layer4": 2048}


def kaiming_linear(in_features, out_features):
    """A linear layer with Kaiming-normal weights and zero bias (Sec. 5.1)."""
    linear = nn.Linear(in_features, out_features)
    nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
    nn.init.zeros_(linear.bias)
    return linear


def classifier_linear(in_features, out_features):
    """An output layer with normal(0, 0.001) weights and zero bias (torchreid's classifiers): Kaiming
    weights on a classifier start the 2-way and N-way cross-entropies far above ``ln N``."""
    linear = nn.Linear(in_features, out_features)
    nn.init.normal_(linear.weight, std=0.001)
    nn.init.zeros_(linear.bias)
    return linear


def sequential_layer(in_features, out_features):
    """The paper's "sequential layer" (Sec. 4, Sec. 5.1): Linear + BatchNorm + ReLU (its dropout
    sits before the classifier that follows, see the module docstring)."""
    return nn.Sequential(kaiming_linear(in_features, out_features), nn.BatchNorm1d(out_features), nn.ReLU(inplace=True))


@contextlib.contextmanager
def batch_statistics_only(module):
    """Within the block, ``module``'s train-mode BatchNorms normalise with the batch's statistics but
    leave their running statistics alone, so a second pass of shared layers does not mix its
    statistics into the ones used at test time. Eval-mode BatchNorms are left as they are."""
    norms = [m for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats]
    for norm in norms:
        norm.track_running_stats = False
    try:
        yield
    finally:
        for norm in norms:
            norm.track_running_stats = True


class MutualAttentionNet(nn.Module):
    """ResNet-50 with identification and mutual-attention verification heads.

    ``mutual_attention_layers``: the stages whose outputs get a mutual-attention layer (the paper:
    both). ``verification``: build the verification path (off for the identification-only
    baseline). ``sigmoid_attention``: close the self- and mutual-attention maps with a sigmoid
    (:mod:`.attention`; off = Eq. 4 and 6 as written).

    After every forward ``attention_maps`` holds, per stage with mutual attention, the channel mean
    of the learned mutual map ``MA`` (Eq. 6) of each pair, ``(P, H, W)``, under ``"mutual_layer3"``
    / ``"mutual_layer4"``; it is empty after an eval-mode ``forward`` (no pairs there).
    """

    def __init__(self, num_classes, *, task="reid", pretrained=False,
                 mutual_attention_layers=("layer3", "layer4"), verification=True,
                 sigmoid_attention=True, feature_dim=512, dropout=0.75):
        super().__init__()
        unknown = set(mutual_attention_layers) - set(STAGE_CHANNELS)
        if unknown:
            raise ValueError(f"mutual attention can sit after {sorted(STAGE_CHANNELS)}, not {sorted(unknown)}")
        if mutual_attention_layers and not verification:
            raise ValueError("mutual attention only feeds the verification path; enable verification")
        self.task = task
        backbone = resnet(50, pretrained)
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool,
                                  backbone.layer1, backbone.layer2)
        self.layer3 = backbone.layer3
        self.layer4 = backbone.layer4
        self.mutual_attention = nn.ModuleDict(
            {name: MutualAttention(STAGE_CHANNELS[name], sigmoid_attention)
             for name in STAGE_CHANNELS if name in mutual_attention_layers}
        )
        self.embedding = sequential_layer(STAGE_CHANNELS["layer4"], feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = classifier_linear(feature_dim, num_classes)
        self.verifier = (
            nn.Sequential(sequential_layer(feature_dim, feature_dim), nn.Dropout(dropout),
                          classifier_linear(feature_dim, 2))
            if verification else None
        )
        self.attention_maps = {}

    def forward(self, images):
        if self.training:
            return self.forward_pairs(images)
        self.attention_maps = {}
        embedding = self._embed(self.layer4(self.layer3(self.stem(images))))
        return self.classifier(self.dropout(embedding)) if self.task == "classification" else embedding

    def forward_pairs(self, images):
        """Both paths on a batch of pairs ``(2i, 2i + 1)``: ``logits`` and ``embedding`` of every
        image, and with verification ``verification_logits`` (P, 2) of every pair. Runs in either
        mode (``forward`` calls it in train mode; call it in eval mode to draw the mutual maps)."""
        if self.verifier is not None and images.size(0) % 2:
            raise ValueError(
                f"the verification path pairs images (2i, 2i + 1) of the batch, so the batch size must be "
                f"even; got {images.size(0)}"
            )
        self.attention_maps = {}
        middle = self.layer3(self.stem(images))
        top = self.layer4(middle)
        embedding = self._embed(top)
        outputs = {"logits": self.classifier(self.dropout(embedding)), "embedding": embedding}
        if self.verifier is not None:
            pair_embedding = embedding
            if self.mutual_attention:
                with batch_statistics_only(self.layer4), batch_statistics_only(self.embedding):
                    pair_embedding = self._embed(self._mutually_attended(middle, top))
            difference = (pair_embedding[0::2] - pair_embedding[1::2]).pow(2)  # f_d, Sec. 4
            outputs["verification_logits"] = self.verifier(difference)  # Eq. 11
        return outputs

    def _embed(self, feature_map):
        """Global average pooling and the 512-d sequential layer (Sec. 4)."""
        return self.embedding(feature_map.mean(dim=(2, 3)))

    def _mutually_attended(self, middle, top):
        """layer4 output of the verification path: mutual attention after layer3 (then layer4 runs
        again on the attended maps) and/or after layer4 (Sec. 3.4: "inserted at Layer 3 and Layer 4")."""
        if "layer3" in self.mutual_attention:
            top = self.layer4(self._attend("layer3", middle))
        if "layer4" in self.mutual_attention:
            top = self._attend("layer4", top)
        return top

    def _attend(self, stage, features):
        """Eq. 5-8 on the pairs (2i, 2i + 1) of ``features``, returned in the batch's own order."""
        first, second, mutual = self.mutual_attention[stage](features[0::2], features[1::2])
        self.attention_maps[f"mutual_{stage}"] = mutual.detach().mean(dim=1)
        return torch.stack([first, second], dim=1).flatten(0, 1)


def build_mutual_attention(num_classes, *, task="reid", input_size=(256, 188), pretrained=False, **kwargs):
    """Model builder registered as ``mutual_attention``. No layer depends on the input size (all
    pooling is global), so ``input_size`` is accepted for the contract and not needed."""
    return MutualAttentionNet(num_classes, task=task, pretrained=pretrained, **kwargs)
