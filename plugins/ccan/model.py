"""The Cross-Correlated Attention Network (Sec. 3.2, Fig. 3) on torchvision's GoogLeNet (BN).

Global branch G: stem (conv1 .. maxpool2), ``I_1^G`` = inception3a+3b (480 ch), SSA ``SS_1^G`` on its
output (``Z_1``), ``I_2^G`` = maxpool3 + inception4a..4e (832 ch, output ``Z_2``), ``I_3^G`` =
maxpool4 + inception5a+5b (1024 ch), GAP, ``FC_1^G`` (``d``-dim embedding), ``FC_2^G`` (identities).
The backbone's own max-pools open ``I_2`` and ``I_3``, so ``Z_1`` and ``Z_2`` are the input and output
of ``I_2^G`` as in the paper, at strides 8 and 16 (32x16 and 16x8 at 256x128).

Local branch L: ``k_p`` part streams. Stream ``s`` takes stripe ``s`` of ``Z_1`` and of ``Z_2`` (each
resized back to its map's size), runs ``I_{2,s}^L`` on the first, ``CC_{2,s}^L`` between that and the
second (``q`` = the stream's map, ``q'`` = the ``Z_2`` stripe), ``I_{3,s}^L`` and GAP; the ``k_p``
1024-d vectors are concatenated and go through ``FC_1^L`` and ``FC_2^L``. The part streams' inception
blocks are ``copy.deepcopy`` of the backbone's ``I_2``/``I_3`` taken right after the ImageNet weights
are loaded: ImageNet-initialised like the global ones, but unshared (Sec. 4.1: "none of the Inception
and FC layers share weights").

``FC_1`` is a linear layer followed by BatchNorm (decided here; the paper names no normalisation, and
torchreid's HA-CNN, whose global branch and four-stripe local branch CCAN's resemble, uses FC + BN too).
The GAP features that ``FC_1`` reads are non-negative, so a plain linear ``FC_1`` gives embeddings that
share a large offset (63% of their energy at initialisation on ``synthetic``): the classifiers then stay
near chance for most of a short run (cross-entropy 4.0-4.5 of ln 120 = 4.79 until epoch 12 of 16 on
the synthetic board) and where each run ends varies. On the synthetic board (uniform recipe, 16 epochs,
seeds 0-2, one pretrained weights file) plain ``FC_1`` gave mAP 40.35 / 34.26 / 39.97 (seeds 3, 4:
35.47 / 39.76) and ``FC_1`` + BN 52.64 / 48.97 / 50.04 (seed 3: 51.36). The BN's output is the
embedding: the triplet term, ``FC_2`` and the test feature read it. BN needs the triplet on l2-normalised
embeddings (:mod:`.losses`): on raw ones, squared distances between unit-variance dimensions (~2000 at
``d`` = 1024) dwarf the margin 1, and variant ``G`` with BN gave 3.3 mAP at seed 0.

``W_alpha`` depends on the number of positions of the maps it attends over, so both attention sizes
are derived from ``input_size`` by shape propagation through the backbone (at 256x128: SSA over
32*16 = 512 positions, ``W_alpha`` 1024 -> 512; each part CCA over 16*8 = 128, ``W_alpha`` 256 -> 128).

Switches for the ablations of Table 6: ``global_branch``, ``local_branch``, ``self_attention`` (SSA
after ``I_1^G``), ``cross_attention`` (CCA in every part stream); ``parts`` (``k_p``) and
``embedding_dim`` (``d``) of Sec. 5.1-5.2. Only the blocks a setting uses are built, so every
parameter receives a gradient (``I_2^G`` is skipped when neither G nor the part CCAs read ``Z_2``).

Outputs. Train mode: ``embedding_global``/``logits_global`` and/or ``embedding_local``/
``logits_local``. Eval mode, re-id (Sec. 3.4): the concatenation of the separately l2-normalised
embeddings of the branches built (``2d`` for the full model, ``d`` for a single branch). Eval mode,
classification: the branches' ``FC_2`` heads are the class heads and the mean of their logits is
returned. ``attention_maps`` holds, per attention module, ``(B, M, N)``: the mean over query
positions ``i`` of ``A_ij`` (Eq. 1), i.e. how much each position ``j`` is attended to
(``ss1_global``, ``cc2_part1`` .. ``cc2_part{k_p}``).
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from reid_bench import googlenet

from .attention import CrossCorrelatedAttention
from .stripes import horizontal_stripes

#: the ImageNet normalisation the harness applies, and the (x - 0.5) / 0.5 one the GoogLeNet
#: ImageNet weights were trained with (torchvision's ``GoogLeNet._transform_input``)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _googlenet_input(images):
    """Re-normalise ImageNet-normalised images for torchvision's pretrained GoogLeNet weights."""
    mean = images.new_tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(_IMAGENET_STD).view(1, 3, 1, 1)
    return images * (std / 0.5) + (mean - 0.5) / 0.5


def _output_size(module, channels, input_size):
    """Spatial size of ``module``'s output for a ``channels x input_size`` input, found by running a
    meta-device copy (no arithmetic, and the module's BN statistics stay untouched)."""
    probe = copy.deepcopy(module).to("meta")
    return tuple(probe(torch.empty(1, channels, *input_size, device="meta")).shape[2:])


def _attended(attention, height, width):
    """``(B, M, N)``: mean over query positions of ``A`` ``(B, MN, MN)``, detached for drawing."""
    return attention.detach().mean(dim=1).view(-1, height, width)


class EmbeddingHead(nn.Module):
    """``FC_1`` with BatchNorm (the ``d``-dim embedding) followed by ``FC_2`` (class logits)."""

    def __init__(self, in_features, embedding_dim, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(in_features, embedding_dim)
        self.bn = nn.BatchNorm1d(embedding_dim)
        self.fc2 = nn.Linear(embedding_dim, num_classes)

    def forward(self, features):
        embedding = self.bn(self.fc1(features))
        return embedding, self.fc2(embedding)


class PartStream(nn.Module):
    """Sub-branch ``s`` of the local branch: ``I_{2,s}^L``, optional ``CC_{2,s}^L``, ``I_{3,s}^L``, GAP."""

    def __init__(self, inception2, inception3, attention=None):
        super().__init__()
        self.inception2 = inception2
        self.attention = attention
        self.inception3 = inception3

    def forward(self, stripe1, stripe2=None):
        """GAP feature ``(B, 1024)`` and the CCA attention (``None`` without CCA)."""
        q = self.inception2(stripe1)
        attention = None
        if self.attention is not None:
            q, attention = self.attention(q, stripe2)
        return self.inception3(q).mean(dim=(2, 3)), attention


class CCAN(nn.Module):
    """CCAN and its Table 6 ablations; see the module docstring for the structure and outputs."""

    def __init__(self, num_classes, task="reid", input_size=(256, 128), pretrained=False,
                 global_branch=True, local_branch=True, self_attention=True, cross_attention=True,
                 parts=4, embedding_dim=1024):
        super().__init__()
        if not (global_branch or local_branch):
            raise ValueError("CCAN needs at least one of global_branch and local_branch")
        if cross_attention and not local_branch:
            raise ValueError("cross_attention sits in the part streams: it needs local_branch=True")
        self.task = task
        self.cross_attention = cross_attention
        net = googlenet(pretrained)
        self.transform_input = net.transform_input
        self.stem = nn.Sequential(net.conv1, net.maxpool1, net.conv2, net.conv3, net.maxpool2)
        self.inception1 = nn.Sequential(net.inception3a, net.inception3b)
        inception2 = nn.Sequential(net.maxpool3, net.inception4a, net.inception4b, net.inception4c,
                                   net.inception4d, net.inception4e)
        inception3 = nn.Sequential(net.maxpool4, net.inception5a, net.inception5b)

        z1_size = _output_size(nn.Sequential(self.stem, self.inception1), 3, input_size)
        z2_size = _output_size(inception2, 480, z1_size)
        self.ss1 = CrossCorrelatedAttention(480, z1_size[0] * z1_size[1]) if self_attention else None
        self.inception2 = inception2 if (global_branch or cross_attention) else None
        self.inception3 = inception3 if global_branch else None
        self.global_head = EmbeddingHead(1024, embedding_dim, num_classes) if global_branch else None

        self.parts = None
        self.local_head = None
        if local_branch:
            self.parts = nn.ModuleList(
                PartStream(
                    copy.deepcopy(inception2),
                    copy.deepcopy(inception3),
                    CrossCorrelatedAttention(832, z2_size[0] * z2_size[1]) if cross_attention else None,
                )
                for _ in range(parts)
            )
            self.local_head = EmbeddingHead(1024 * parts, embedding_dim, num_classes)
        self.attention_maps = {}

    def forward(self, images):
        x = _googlenet_input(images) if self.transform_input else images
        z1 = self.inception1(self.stem(x))
        maps = {}
        if self.ss1 is not None:
            z1, attention = self.ss1(z1)
            maps["ss1_global"] = _attended(attention, *z1.shape[2:])
        z2 = self.inception2(z1) if self.inception2 is not None else None

        outputs = {}
        if self.global_head is not None:
            pooled = self.inception3(z2).mean(dim=(2, 3))
            outputs["embedding_global"], outputs["logits_global"] = self.global_head(pooled)
        if self.parts is not None:
            count = len(self.parts)
            stripes1 = horizontal_stripes(z1, count)
            stripes2 = horizontal_stripes(z2, count) if self.cross_attention else [None] * count
            pooled = []
            for index, (part, stripe1, stripe2) in enumerate(zip(self.parts, stripes1, stripes2), start=1):
                feature, attention = part(stripe1, stripe2)
                pooled.append(feature)
                if attention is not None:
                    maps[f"cc2_part{index}"] = _attended(attention, *z2.shape[2:])
            outputs["embedding_local"], outputs["logits_local"] = self.local_head(torch.cat(pooled, dim=1))
        self.attention_maps = maps

        if self.training:
            return outputs
        branches = [name for name in ("global", "local") if f"embedding_{name}" in outputs]
        if self.task == "classification":
            return torch.stack([outputs[f"logits_{name}"] for name in branches]).mean(dim=0)
        return torch.cat([F.normalize(outputs[f"embedding_{name}"], dim=1) for name in branches], dim=1)


def build_ccan(num_classes, *, task="reid", input_size=(256, 128), pretrained=False, **kwargs):
    """Model builder registered as ``ccan`` (keyword switches: see :class:`CCAN`)."""
    return CCAN(num_classes, task=task, input_size=tuple(input_size), pretrained=pretrained, **kwargs)
