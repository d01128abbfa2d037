"""Center loss (Wen et al. 2016; MSReID Eq. 2), registered as ``msreid_center``.

Eq. 2: ``L_center = sum_i || f_i - c_{y_i} ||_2^2`` over the batch, with a learned centre ``c_k`` per
identity. Decision: the batch *mean* is taken instead of the sum, as in the authors' repository (and Bag
of Tricks), which the weight ``lambda_c = 5e-4`` of Eq. 4 was tuned with. The centres start as standard
normal vectors (as there) and are parameters of this module, so the method gives them their own SGD
optimizer (``LossTerm.optimizer``, lr 0.5, Sec. 4.2) outside the main optimizer and its warm-up.
Gradients flow into the features as well, which is what pulls each identity's features together.
"""
import torch
from torch import nn


class CenterLoss(nn.Module):
    """Mean squared Euclidean distance of ``outputs[output]`` ``(B, feature_dim)`` to its identity's centre.

    ``num_classes`` and ``feature_dim`` size the centre table ``(num_classes, feature_dim)``.
    """

    def __init__(self, num_classes, feature_dim, output="global_embedding"):
        super().__init__()
        self.output = output
        self.centers = nn.Parameter(torch.randn(num_classes, feature_dim))

    def forward(self, outputs, targets):
        features = outputs[self.output].float()
        return (features - self.centers[targets]).pow(2).sum(dim=1).mean()
