"""Deep Mutual-Attention Siamese model: Jamal, Zhengang and Ming, "An Improved Deep Mutual-Attention
Learning Model for Person Re-Identification", Symmetry 2020 (seed 002).

Implemented:

- a shared-weight (Siamese) ResNet-50 run on batches of pairs, images ``2i`` and ``2i + 1`` forming
  pair ``i`` (:mod:`.model`);
- the self-attention map, spatial (channel mean, Eq. 1) x channel (1x1 conv on the pooled feature,
  Eq. 2-3), fused by a 1x1 conv (Eq. 4), and the mutual-attention layer ``MA = conv1x1(SA1 * SA2)``,
  ``F = f * MA + f`` (Eq. 5-8), after layer3 and layer4 (:mod:`.attention`);
- identification head: global pooling, the 512-d sequential layer (Linear + BN + ReLU), dropout 0.75
  and the identity classifier (Eq. 9-10); verification head: ``f_d = (f1 - f2) ** 2`` -> 512-d
  sequential layer -> dropout 0.75 -> 2-way classifier (Eq. 11-12) (:mod:`.model`, :mod:`.losses`);
- loss ``ID + 0.5 x V`` (Eq. 13); the pair sampler ``mutual_attention_pairs`` (:mod:`.sampler`);
  the recipe of Sec. 5.1, variants ``full``, ``baseline``, ``ma_layer3``, ``ma_layer4`` and the
  numbers of Tables 1-3 (:mod:`.method`).

Decisions (PAPERS.md's, and where both it and the paper are silent, ours):

- Paths (PAPERS.md, Sec. 6.3): the identification path uses each image alone; the verification path
  uses the mutually attended maps. With mutual attention after layer3, layer4 runs a second time on
  the attended layer3 maps for the verification path (the identification path's layer4 input is
  unattended). Both paths share every weight, the 512-d sequential layer included (the verification
  path's "512-dimensional feature embedding f1 and f2", Sec. 4); ``f_d`` is the element-wise squared
  difference (PAPERS.md) of these features. Eval mode runs the identification path only, so an
  image's feature does not depend on the rest of the batch; test descriptor = its 512-d feature.
- Attention convolutions all map C -> C channels (a full-resolution, per-channel mutual map).
- A sigmoid closes SA (Eq. 4) and MA (Eq. 6), so ``F = f * (1 + MA)`` lies between ``f`` and ``2 f``
  (residual attention with a bounded mask). The paper names no activation; as written SA grows like
  ``|f| ** 2`` and MA like ``|f| ** 4``, and chained at layer3 and layer4 the features overflow
  (1e28, then NaN, on an untrained ResNet-50). ``sigmoid_attention=False`` gives Eq. 4 and 6 as
  written.
- Kaiming-normal (ReLU gain, fan-in) weights and zero biases for every new conv and hidden linear
  layer (Sec. 5.1); the two output layers (identity and same/different classifiers) get normal(0,
  0.001) weights and zero biases, as torchreid's classifiers: with Kaiming weights they start at a
  cross-entropy of 6.4 for 120 classes (ln 120 = 4.8) and 1.26 for two (ln 2 = 0.69), and a short
  warm-up spends its budget recovering. torchvision's own initialisation for the ResNet-50 when it is
  not pretrained.
- Dropout 0.75 (Sec. 5.1, "for the fully connected layer") right before each classifier, not inside
  the 512-d features: verification is built from the dropout-free f1, f2 (the test features). With the
  dropout inside them the same image under two dropout draws was farther from itself than different
  identities were, and verification could not learn.
- Layer4 and the 512-d layer run twice per training step (plain and mutually attended); the attended
  pass normalises with its batch's statistics without updating the running ones, so the statistics
  used at test time are the identification path's alone (``model.batch_statistics_only``).
- Verification classes: index 1 = same identity, 0 = different (the paper's one-hot is the
  reverse order; the labelling is immaterial). Eq. 12's sum is taken as a mean over the pairs.
- Pair sampler (PAPERS.md): 32 pairs per batch (batch 64), half positive, pairs consecutive;
  positives from different cameras where the identity has them; an epoch = every training image
  anchors (is the first element of) at least one pair, a whole number of batches.
- An odd batch size in train mode is an error (pairs cannot be formed) unless the verification path
  is off (``baseline``).
- SGD momentum 0.9, weight decay 5e-4, random-erasing probability 0.5 (paper silent); ImageNet
  normalisation stands in for the paper's mean-image subtraction.
- CIFAR-100 (``task="classification"``): the identity classifier becomes the 100-way classifier and
  eval returns its logits. The mutual attention and the verification term stay: the pair sampler works
  on the class labels (``data_source``'s pids), so positive pairs are two images of one class.
- Reported: Market-1501 R5 is 96.36 (Table 1 prints 90.36, below R1; the text's +0.66 over DCC gives
  96.36). The multi-query Market-1501 numbers are listed on the ``market1501-multi-query``
  protocol (Market-1501's multiple-query setting, which reid-bench evaluates too).
"""
from reid_bench import hookimpl

from .losses import VerificationLoss
from .method import METHOD
from .model import build_mutual_attention
from .sampler import build_pair_sampler


@hookimpl
def reid_bench_register_models(registry):
    registry.add("mutual_attention", build_mutual_attention)


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("mutual_attention_verification", VerificationLoss)


@hookimpl
def reid_bench_register_samplers(registry):
    registry.add("mutual_attention_pairs", build_pair_sampler)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("mutual_attention", METHOD)
