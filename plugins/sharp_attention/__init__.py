"""Sharp Attention Network (Shen, Qi, Jiang, Jin, Yong, Chen, Hua; IEEE TCSVT 2019, arXiv:1805.02336).

What is implemented (seed 003; ``shared/PAPERS.md``, section sharp_attention):

- ``attention.py``: the sharp attention mask generator (Sec. III-A, Eq. 3-5), the context-aware unit
  (Sec. III-D, Fig. 4, p = q = 1) and the block ``F = A + T = (1 + M) * T`` (Eq. 1-2, Sec. III-C).
- ``model.py``: ResNet-50 (ImageNet weights when given; last stride 2 as in the paper) with any subset
  of its four stages made sharp attention blocks, and the head of Sec. IV-B: FC 2048 -> 1024, BN,
  ReLU, FC 1024 -> 128 (the re-id feature). Registered as model ``sharp_attention``.
- ``losses.py``: the TV penalty (Eq. 6) on every block's attention-aware features, summed over blocks
  (Eq. 8). Registered as loss ``sharp_attention_tv``; the triplet term is the harness's ``triplet``.
- ``ten_crop.py``: 10-crop test features (Sec. IV-B), feature extractor ``ten_crop``.
- ``method.py``: the method ``sharp_attention``: Eq. 8's terms, Eq. 9's temperature schedule run by
  ``on_epoch_start``, the recipe of Sec. IV-B, the variants of Table I and Fig. 5 and the numbers of
  Tables I-VI.

Decisions (PAPERS.md, or taken here where the paper and the digest are silent):

- Eq. 3 normalises X per sample and per channel over all (h, w); a constant channel maps to 0. The
  Bernoulli probabilities are clamped to [1e-6, 1 - 1e-6] so their logarithms are finite.
- Eq. 5 is computed in its two-class closed form ``sigmoid((log pi1 + g1 - log pi0 - g0) / tau)``,
  identical to the softmax over j. Its mean tends to pi1 only as tau -> 0; ``P(M > 1/2) = pi1`` at
  every tau.
- Evaluation (PAPERS.md): no Gumbel noise, ``M = sigmoid((log pi1 - log pi0) / tau)`` at the
  temperature the schedule reached; tau is a buffer, so a checkpoint carries it.
- Eq. 9, ``tau = max(0.5, exp(-0.008 t))``, set on every block before each epoch, with t counted in
  epochs of the paper's 150-epoch schedule: ``t = epoch x 150 / recipe epochs`` (decision; the paper's
  recipe is unchanged, and a 16-epoch budget reaches tau = 0.5 at the same fraction of training
  instead of ending at 0.89).
- At small inputs (64x32) block 4's map is 2x1 and Eq. 3's per-channel min-max makes its mask
  nearly binary (0 and 1 per channel); this is Eq. 3 on such a map, kept as is.
- Context-aware unit: "the architecture of the backbone residual units (with 2 stride)" is read as the
  downsampling unit of the next stage (stage i's unit is a copy of ``layer{i+1}[0]``, C -> 2C, stride
  2, with its own parameters initialised from that unit's weights), then a 1x1 transposed convolution
  2C -> C with stride 2 back to the stage's size. This reproduces Table IV's extra parameters
  (0.51M / 2.03M / 8.13M for blocks 1-3); the stage's own widths would give about 40% of that.
  The 1x1 map has no bias (Eq. 3 removes any per-channel constant, so a bias would never be
  trained). Decision: the map runs as a 1x1 convolution followed by nearest-neighbour x2 upsampling
  (``context_upsampling="nearest"``), the same parameters as the paper's 1x1 stride-2 transposed
  convolution, which leaves 3 of every 2x2 outputs exactly 0 (a checkerboard mask source that also
  inflates TV); ``context_upsampling="transposed"`` (variant ``sab+cu+tv-literal``) is the paper's layer.
  Only blocks 1-3 get a unit (Sec. IV-C: "block4 is the highest-level features already").
- TV (Eq. 6): squared vertical and horizontal neighbour differences over channels and positions,
  averaged over the batch, summed over the blocks, weighted by mu (Eq. 8: mu = 0.1). Decision: the
  method's ``tv`` term divides each sample's sum by the entries of A (C x H x W), a per-element mean,
  and its weight mu is set by measurement (``benchmarks/sharp_attention_tv.py``: the L2 norm of each
  term's gradient on the backbone, from the synthetic protocol's pretrained weights, uniform recipe).
  The paper states no normalisation, and neither reading of mu = 0.1 is its balance: summed as written
  (the ``tv_sum`` term, variant ``sab+cu+tv-literal``) the penalty is about 1.9e4 at 64x32 from
  initialisation and its gradient 81x the triplet's, so flattening the attention is the cheapest way
  down (on the synthetic protocol it cost ~14 mAP); averaged with mu = 0.1 it is 0.56% of the
  triplet's, inert. mu = 2.0 on the average (``method.TV_WEIGHT``) makes it about a tenth (0.11), the
  share mu = 0.1 gives two terms of equal size: a regulariser that shapes the attention without
  outweighing the metric loss. The mean also keeps the balance across input sizes and blocks.
  Trained on the synthetic protocol (64x32, uniform recipe, 16 epochs, seed 0) the weight is not confirmed:
  mAP 9.2 without TV (``sab+cu``), 8.8 at mu = 0.5, 7.1 at mu = 2.0 (0.5 - 2.0: +1.7, 95% interval
  [+0.5, +3.0] over queries, one seed). At 64x32 the context-aware units TV acts through are crippled
  (``benchmarks/sharp_attention_geometry.py``: block 3's unit sees 2x1 maps, its mask saturates and it
  gets no gradient; ``sab`` 19.1 > ``sab+cu`` 9.2), so that protocol cannot judge the penalty; the gradient
  balance stays the decision until an input with room for the units is measured.
- Variants: ``baseline``, ``sab`` (four lazy blocks), ``sab+cu``, ``sab+cu+tv`` (the full method,
  default) from Table I, and ``sab+cu+tv-literal`` (the full method with TV summed as written and the
  transposed-convolution context units); Fig. 5's block sets ``blocks=1`` ... ``blocks=1,2,3,4`` use lazy masks and no
  TV penalty, the setting Sec. IV-C states for that study (the context-aware unit and the TV penalty
  are studied after it), so ``blocks=1,2,3,4`` is the same model as ``sab``.
- Recipe (Sec. IV-B) for every protocol: P x K 64 x 4, Adam 2e-4, weight decay 5e-4, 150 epochs,
  Hermans et al.'s exponential decay from epoch 100 to 0.001x at 150, random crop of area [0.64, 1]
  and aspect ratio (h/w) [2, 3] resized to 256x128, flip; the paper's per-pixel mean subtraction is
  the harness's ImageNet normalisation. Test features: ``ten_crop``. The uniform recipe uses the
  plain single forward.
- 10-crop: four corners and the centre at 0.875 of each side (224/256, as in the standard ImageNet
  10-crop) of the already-resized test image, plus their horizontal flips, each resized back to the
  input size with bilinear interpolation; the eval-mode outputs are averaged (not normalised first).
- Classification (CIFAR-100 track): the paper has no classifier; with ``task="classification"`` a
  linear classifier on the 128-d feature gives the logits, trained with cross-entropy plus the TV
  penalty, on random (not P x K) batches, and tested on the plain forward (the harness scores
  classification on the eval-mode logits). Re-id models have no classifier.
- Attention maps: ``model.attention_maps["block{i}"]`` is the channel mean of block i's mask (B, H, W);
  the full masks are the train-mode outputs ``mask/block{i}``.
- Reported numbers: Table I for the four Table I variants on all four datasets, with R5/R10 of Tables
  II, III and V for the full method; Fig. 5's four-block numbers as stated in Sec. IV-C. The CUHK03
  numbers were measured on the classic split (1,367/100 ids, 20 trials), not CUHK03-NP: they are
  registered on ``cuhk03-*-classic`` and, marked ``measured_on`` the classic protocol, on
  ``cuhk03-labeled`` / ``cuhk03-detected``. Table IV repeats the full method's CUHK03-labeled R1/mAP.
"""
from reid_bench import hookimpl

from . import losses, method, model


@hookimpl
def reid_bench_register_models(registry):
    registry.add("sharp_attention", model.build_sharp_attention_net)


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("sharp_attention_tv", losses.AttentionTVPenalty)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("sharp_attention", method.sharp_attention_method())
