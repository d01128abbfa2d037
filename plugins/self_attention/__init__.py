"""Self-attention Learning for Person Re-identification (Jiang, Yuan and Wang, BMVC 2018; seed 001).

Implemented:

- model ``self_attention`` (:mod:`.model`, Sec. 3.1): ResNet-50/101 whose stage4-5 strides become
  dilations (``dil``), an extra stage6 (stage5's bottleneck design, half the channels, 1024 out), the
  multi-level stage4+5+6 feature (``multi``), global average pooling, FC to the 1024-d retrieval
  feature, identity classifier (100-way on CIFAR-100). Attention maps of stage4-6 (Eq. 1,
  :mod:`.attention`) are outputs ``attention_stage4/5/6`` and kept in ``model.attention_maps``.
- loss ``self_attention_sac``: the self-attention constraint (Eq. 2); loss
  ``self_attention_quadruplet``: the quadruplet-hard loss with its mining (Eq. 5, Sec. 3.3), margins
  0.5 and 0.2. Softmax (Eq. 3) and the batch-hard triplet of Table 1 row 3(T) (Eq. 4, margin
  eps_1 = 0.5) are the harness's ``cross_entropy`` and ``triplet``.
- method ``self_attention`` (:mod:`.method`): the two-stage recipe of Sec. 4.1, the CIFAR-100 recipe,
  variants by switch and the reported numbers of Tables 1-4.

Decisions (PAPERS.md unless marked "ours"):

- stage6's 3x3 convolutions are dilated by 2 (``stage6_dilation``), by 1 when ``dil`` is off (ours).
- Global average pooling is applied per stage before concatenating (ours): identical to pooling the
  concatenated maps when they share a resolution, and defined without ``dil``. The FC layer is a plain
  linear map 4096 (2048 single-level) -> 1024 (ours: the paper names no normalisation or activation).
- SAC needs stage6: single-level variants (``multi`` off) build no stage6 and keep no SAC term; the
  term raises a clear error if a single-level model is trained with it (ours).
- Without ``dil`` stage4's map is twice the size of stage5/6's; SAC average-pools it to stage6's size
  and l2-normalises it again before comparing (ours).
- Quadruplet mining runs on the batch's Euclidean distances of the raw 1024-d feature; an anchor whose
  only positive is itself takes itself as hardest positive; a batch needs three identities (ours).
- Recipes (SGD momentum 0.9 / weight decay 5e-4, 150 + 150 epochs, flip; CIFAR-100 input and
  schedule) are described in :mod:`.method`.
- Table 1 settings 2 and 7 (quadruplet loss without softmax) are not variants: a recipe depends on the
  protocol only and the paper's stage 1 trains softmax (+ SAC), so such a variant would have no stage 1
  of its own (ours).
- Table 1 setting 4 (72.7 / 85.6) is the ``no_dil`` variant (ours): the seed text lost the row's label
  and check marks, but Sec. 4.3 reads "As we can see from Table 1 setting(6) and 4(8), changing the
  way of convolution can improve mAP by a large margin", i.e. setting 4 differs from setting 8 (the
  full method, 81.6 / 92.8) in DIL alone; the row's position (between 3(T) and 5) agrees.
- ResNet-101 variants (``resnet101_softmax``, Table 4) declare ``backbone="resnet101"``, so their
  records name the backbone they build.
- CIFAR-100 input (Sec. 4.5 / Table 4 state none; ours): the network upsamples classification inputs
  7x (bilinear, ``classification_upsample=7``), CIFAR's 32x32 to 224x224, the resolution torchvision's
  ImageNet weights were trained at (Sec. 4.5: "the pretrained network is provided by torchvision").
  At the native 32x32 the stride-32 ResNet of the softmax rows ends on 1x1 maps and, with DIL,
  stage4-6 on 4x4 ones; an Eq. 1 map over a single position is the constant 1, so Table 4's comparison
  could not be reproduced there. At 224x224 stage5 is 7x7 (plain) and stage4-6 28x28 (DIL). The
  harness's ``cifar100`` protocol fixes the input size at 32x32 for every method, so the upsampling is
  the network's first step (re-id inputs are never resized); FLOPs in records are those at 224x224.
"""
from reid_bench import hookimpl

from .losses import QuadrupletHardLoss, SelfAttentionConstraint
from .method import METHOD
from .model import build_self_attention_net


@hookimpl
def reid_bench_register_models(registry):
    registry.add("self_attention", build_self_attention_net)


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("self_attention_sac", SelfAttentionConstraint)
    registry.add("self_attention_quadruplet", QuadrupletHardLoss)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("self_attention", METHOD)
