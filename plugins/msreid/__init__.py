"""MSReID: Mask Separated Feature Learning for Person Re-Identification (Kim & Kim; seed 004).

What is implemented (the paper's section numbers; details the paper leaves open follow PAPERS.md,
which takes them from the authors' repository):

- ``model.py``: ResNet-50 with last stride 1 (Sec. 3.1), the soft attention of ``attention.py`` after
  each of layer1..layer4 (Sec. 3.2), a one-channel sigmoid mask from layer4 separating a global feature
  (layer4, masked by ``m``) from a local one (layer3, masked by ``1 - m``), each reduced to 1536
  channels, pooled by GAP + GMP and classified behind a BNNeck (Sec. 3.3-3.4, ``heads.py``); test
  feature: both concatenated, 3072-d.
- ``losses.py``: center loss (Eq. 2), registered as ``msreid_center``; cross-entropy with label
  smoothing (Eq. 3) and batch-hard triplet (Eq. 1) are the harness's ``cross_entropy`` and ``triplet``.
- ``method.py``: Eq. 4 per branch (``{global,local}_{ce,triplet,center}``, center weight 5e-4 with its
  own SGD optimizer, lr 0.5), the recipe of Sec. 4.2, the eight A/L/M variants of Fig. 5 and Table 1.

Decisions (each also stated where it is implemented):

- Soft attention: the weighted channel average is a bias-free 1x1 conv C -> 1 initialised to the plain
  average; final spatial conv 3x3; fusion 1x1 conv + BN + sigmoid without HA-CNN's ReLU; upsampling
  back to the pre-stride size (works for odd map sizes). torchreid's ``ChannelAttn`` and ``ConvBlock``
  are reused.
- Mask and reductions: residual bottleneck blocks (middle width in/4) without convolution biases; the
  reductions read the attended maps.
- Initialisation: BNNeck classifiers N(0, 0.001^2), the weighted channel average as above, the other
  new layers PyTorch's defaults (the repository uses Kaiming-normal for them).
- Attention maps for drawing: ``soft_attention_layer1..4`` (each attention averaged over channels) and
  ``mask``.
- Loss per branch with equal weights for the two branches. Each branch has its own centre table
  (the authors' repository shares one table between the branches; the paper trains the two features
  separately, Sec. 3.4). Center loss is the batch mean of Eq. 2's squared distances (the repository's
  normalisation, which ``lambda_c`` was tuned with); triplet and CE are batch means (torchreid).
- Centre gradients: the centre optimizer's lr 0.5 applies to the gradient of the *unweighted* center
  loss, as in the authors' repository and Bag of Tricks (they multiply the centre gradients by
  ``1 / lambda_c`` before the centre step). This relies on the engine dividing the gradients of a loss
  module that has its own optimizer by the term's weight before that optimizer steps.
- Test feature: the pre-BN features concatenated (Euclidean distance), as the authors' evaluator.
- Classification (CIFAR-100): both BNNeck classifiers become 100-way; the eval output is the sum of the
  global and local logits. Soft attention, mask and losses stay.
- Variants are named by their modules: ``ALM`` (full, default), ``AL``, ``AM``, ``LM``, ``A``, ``L``,
  ``M`` and ``base`` (none); a variant without L has a 1536-d test feature and only the global terms.
- Triplet margin 1.2 on every ``cuhk03*`` protocol, 0.3 elsewhere; protocols the paper does not cover
  use the Market-1501 recipe. Mixed precision is on (the engine uses it only on CUDA).
- Reported numbers are Table 1's means of 8 runs; Fig. 5 (the ablation) gives box plots only, so the
  variants have no reported numbers.
"""
from reid_bench import hookimpl

from .losses import CenterLoss
from .method import METHOD
from .model import build_msreid


@hookimpl
def reid_bench_register_models(registry):
    registry.add("msreid", build_msreid)


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("msreid_center", CenterLoss)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("msreid", METHOD)
