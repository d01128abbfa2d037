"""The sharp attention block of Shen et al. (Sec. III, Fig. 3-4): mask generator, context-aware unit.

A block takes a residual stage's output ``T`` and returns ``F = (1 + M) * T`` (Eq. 1-2), where the mask
``M`` is a relaxed Bernoulli sample drawn by Gumbel-Softmax (Eq. 3-5) from ``X``: ``T`` itself (the
"lazy" generator) or the output of the optional context-aware unit (Sec. III-D).
"""
import copy

import torch
from torch import nn

#: keeps the Bernoulli probabilities away from 0 and 1 so that their logarithms stay finite
PROBABILITY_EPS = 1e-6


def min_max_normalise(x, eps=PROBABILITY_EPS):
    """Eq. 3: ``(X - min_c) / (max_c - min_c)`` per sample and channel over all (h, w) locations.

    A constant channel (``max_c == min_c``, e.g. all zero after a ReLU) maps to 0 instead of 0/0.
    """
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    return (x - low) / (high - low).clamp_min(eps)


def sample_gumbel(like):
    """Standard Gumbel(0, 1) noise shaped like ``like``: ``-log(E)`` with ``E ~ Exponential(1)``."""
    return -torch.empty_like(like).exponential_().log()


class SharpAttentionMask(nn.Module):
    """Sharp attention mask generator (Sec. III-A, Eq. 3-5).

    ``pi1 = f(X)`` (Eq. 3) is the probability of attending each entry, ``pi0 = 1 - pi1``; both are
    clamped to ``[eps, 1 - eps]``. In training the mask is the Gumbel-Softmax relaxation of a
    Bernoulli(pi1) draw at temperature ``tau`` (Eq. 5); for two classes the softmax over
    ``j in {0, 1}`` of ``(log pi_j + g_j) / tau`` is exactly
    ``sigmoid((log pi1 + g1 - log pi0 - g0) / tau)``, which is how it is computed. ``P(M > 1/2) = pi1``
    at every temperature and ``M`` tends to the Bernoulli sample (Eq. 4) as ``tau -> 0``.

    Evaluation (decision of PAPERS.md): no noise, ``M = sigmoid((log pi1 - log pi0) / tau)`` at the
    current (final) temperature, so test features are deterministic.

    ``tau`` is a buffer: the temperature schedule (Eq. 9) sets it every epoch and a checkpoint keeps
    the value reached, which evaluation uses. The mask is computed in at least float32 precision.
    """

    def __init__(self, tau=1.0):
        super().__init__()
        self.register_buffer("tau", torch.tensor(float(tau)))

    def forward(self, x):
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        pi1 = min_max_normalise(x).clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
        logit = pi1.log() - torch.log1p(-pi1)
        if self.training:
            logit = logit + sample_gumbel(logit) - sample_gumbel(logit)
        return torch.sigmoid(logit / self.tau)


#: how the context-aware unit returns to its input's size: ``"nearest"`` (the method's default: a
#: 1x1 convolution, then nearest-neighbour x2 upsampling) or ``"transposed"`` (the paper's 1x1
#: transposed convolution with stride 2, which leaves 3 of every 2x2 outputs at zero)
UPSAMPLING = ("nearest", "transposed")


class ContextAwareUnit(nn.Module):
    """Context-aware unit (Sec. III-D, Fig. 4, p = q = 1): a downsampling residual unit with its own
    parameters, then a 1x1 transposed convolution with stride 2 back to the input's size.

    The residual unit reuses the backbone's downsampling unit design (Sec. IV-B): for stage ``i`` it is
    a copy of the first bottleneck of stage ``i + 1`` (``C -> 2C`` channels, stride 2), so its
    parameters start from that unit's (ImageNet) weights and are trained separately. This reading
    reproduces Table IV's extra parameter counts: 0.51M, 2.03M and 8.13M for blocks 1-3.

    ``upsampling="transposed"`` is the paper's layer: a 1x1 kernel at stride 2 writes each input value
    to one of every 2x2 output positions and the other three receive zero, a checkerboard in which
    75% of the mask's source is exactly 0 (and which inflates the TV penalty). ``"nearest"``, the
    method's default (a decision, see the plugin docstring), applies the same 1x1 map as a
    convolution and copies each value to its whole 2x2 cell (nearest-neighbour upsampling): the same
    parameters (Table IV's counts hold), no holes. Either has no bias: Eq. 3 is invariant to a
    per-channel constant, so a bias could never change the mask nor receive a gradient. Odd
    feature-map sizes come back exactly to the input's size.
    """

    def __init__(self, downsampling_unit, in_channels, upsampling="nearest"):
        super().__init__()
        if upsampling not in UPSAMPLING:
            raise ValueError(f"unknown context-unit upsampling {upsampling!r}; expected one of {', '.join(UPSAMPLING)}")
        self.upsampling = upsampling
        self.down = copy.deepcopy(downsampling_unit)
        out_channels = self.down.conv3.out_channels
        if upsampling == "transposed":
            self.up = nn.ConvTranspose2d(out_channels, in_channels, kernel_size=1, stride=2, bias=False)
        else:
            self.up = nn.Conv2d(out_channels, in_channels, kernel_size=1, bias=False)

    def forward(self, x):
        if self.upsampling == "transposed":
            return self.up(self.down(x), output_size=x.shape[-2:])
        return nn.functional.interpolate(self.up(self.down(x)), size=x.shape[-2:], mode="nearest")


class SharpAttentionBlock(nn.Module):
    """Attention branch of one sharp attention block (Fig. 3).

    ``forward(T)`` returns ``(F, M, A)``: the block output ``F = A + T = (1 + M) * T`` (Eq. 2, the
    cross-feature interaction of Sec. III-C), the mask ``M`` and the attention-aware features
    ``A = M * T`` (Eq. 1) that the TV penalty (Eq. 6) reads. ``context_unit=None`` samples ``M``
    directly from ``T`` (the lazy generator).
    """

    def __init__(self, context_unit=None, tau=1.0):
        super().__init__()
        self.context_unit = context_unit
        self.mask = SharpAttentionMask(tau)

    def forward(self, trunk):
        source = trunk if self.context_unit is None else self.context_unit(trunk)
        mask = self.mask(source).to(trunk.dtype)
        attention_aware = mask * trunk
        return trunk + attention_aware, mask, attention_aware
