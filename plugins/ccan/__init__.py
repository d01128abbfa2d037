"""CCAN: Cross-Correlated Attention Networks for Person Re-Identification (Zhou, Roy, Fang, Harandi,
Petersson; Image and Vision Computing 2020; seed 000).

Implemented:

- :mod:`.attention`: Cross-Correlated Attention (Sec. 3.1, Eq. 1-3) with ``K = C / 8``, the symmetric
  concatenation ``[A', A'^T]`` and the learned ``alpha`` layer (``W_alpha``: 2MN -> MN); SSA is the
  same module with ``Q = Q'`` (Remark 2).
- :mod:`.model`: the network of Sec. 3.2 / Fig. 3 on torchvision's GoogLeNet (BN): global branch
  with SSA after ``I_1^G``, local branch of ``k_p`` part streams with their own ``I_2``/CCA/``I_3``,
  GAP + ``FC_1`` (``d``) + ``FC_2`` on both; test feature of Sec. 3.4. Registered as ``ccan``.
- :mod:`.stripes`: the horizontal part stripes of ``Z_1`` and ``Z_2``, resized back (bilinear).
- :mod:`.losses`: the semi-hard triplet loss of Eq. 5 (``ccan_semi_hard_triplet``); the label-smoothed
  cross-entropy terms reuse the harness's ``cross_entropy``.
- :mod:`.method`: Eq. 4 as four loss terms, the Sec. 4.1 recipe, the Table 6 variants (``G``, ``L``,
  ``G+L``, ``G+SS``, ``G+L+CC``, ``ccan``) and the numbers of Tables 2-6.

Decisions (PAPERS.md unless marked "here"):

- SSA sits on the output of ``I_1^G``: ``Z_1 = SSA(I_1^G(x))`` is the input of ``I_2^G`` and ``Z_2`` its
  output. The backbone's own max-pools open ``I_2`` (maxpool3) and ``I_3`` (maxpool4), so ``Z_1`` is at
  stride 8 and ``Z_2`` at stride 16 and the part CCA's ``q`` and ``q'`` have the same size.
- ``W_alpha`` is sized from the builder's ``input_size`` (shape propagation through the backbone); a
  model built for one input size refuses maps of another with a clear error.
- Here: the attention layers have no biases (Eq. 1-3 have none) and PyTorch's default initialisation
  (the paper gives none).
- Here: ``FC_1`` is a linear layer followed by BatchNorm1d, whose output is the ``d``-dim embedding;
  ``FC_2`` is a plain linear layer (why, and the measurement: :mod:`.model`).
- Here: the part streams' inception blocks are deep copies of the backbone's ``I_2``/``I_3`` made after
  the ImageNet weights are loaded (ImageNet-initialised, unshared, Sec. 4.1).
- Here: stripe ``s`` covers rows ``[floor(s H / k_p), ceil((s + 1) H / k_p))``: the paper's equal
  disjoint stripes whenever ``k_p`` divides the map height, overlapping by a row on tiny maps (CIFAR).
- Semi-hard mining: for every anchor-positive pair, the ``r = 10`` nearest negatives farther than the
  positive, filled with the hardest remaining negatives; squared Euclidean distances; hinge averaged
  over all mined triplets. Margin 1 (1.5 on CUHK03, through ``Recipe.loss_kwargs``).
- Here: the triplet's distances are between l2-normalised embeddings, as in FaceNet [48] whose
  semi-hard mining Sec. 3.3 uses (``normalize=False`` for raw ``FC_1`` outputs; why and the
  measurement: :mod:`.losses`).
- LR: constant for 150 epochs then x0.1 every 50; with 200 epochs in all that is one step at epoch
  150 (``LRSchedule(milestones=(150,))``). lr 5e-4 on every protocol but CUHK03 (1e-3), MSMT17
  included. Random erasing from epoch 50 (``Augment(..., start_epoch=50)``).
- Crop augmentation (Sec. 4.1: "first resized to 288x144 and then randomly cropped to 256x128"): the
  harness's ``resize_crop`` with factor 1.125, applied to every training image (not torchreid's
  ``Random2DTranslation``, which crops only half of the images and upsamples a 256x128 resize). The
  factor is relative to the recipe's input size, so protocols with another input size keep the ratio
  (synthetic 64x32: 72x36 -> 64x32); test images are only resized to the input size.
- Here: on classification protocols (CIFAR-100) the ``FC_2`` heads of both branches become the
  class heads (all four loss terms stay) and eval returns the mean of the branches' logits; the recipe
  is the Market-1501 one. Variants with a single branch use that branch's terms and test feature.
"""
from reid_bench import hookimpl

from .losses import SemiHardTripletTerm
from .method import METHOD
from .model import build_ccan


@hookimpl
def reid_bench_register_models(registry):
    registry.add("ccan", build_ccan)


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("ccan_semi_hard_triplet", SemiHardTripletTerm)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("ccan", METHOD)
