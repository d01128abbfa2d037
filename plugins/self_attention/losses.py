"""Loss terms of Self-attention Learning: the self-attention constraint (Sec. 3.2, Eq. 2) and the
quadruplet-hard loss (Sec. 3.3, Eq. 5). Softmax (Eq. 3) and the batch-hard triplet of Table 1 row 3(T)
(Eq. 4) are the harness's ``cross_entropy`` and ``triplet`` terms.
"""
import torch
from torch import nn
from torch.nn import functional as F

from reid_bench import pairwise_distances, same_identity_mask


class SelfAttentionConstraint(nn.Module):
    """Self-attention constraint (Eq. 2): ``||att_s6 - att_s5||_2^2 + ||att_s6 - att_s4||_2^2`` per
    image, summed over spatial points, mean over the batch.

    ``deep`` names the output holding ``att_s6`` and ``shallow`` the maps pulled towards it. Without
    dilation (the ``no_dil`` variant) a shallower map is larger than ``att_s6``; it is then average-pooled
    to ``att_s6``'s size and l2-normalised again (equal to Eq. 1 on the pooled squared mean), a decision
    of this project: the paper only applies the constraint to equal-size maps.
    """

    def __init__(self, deep="attention_stage6", shallow=("attention_stage5", "attention_stage4")):
        super().__init__()
        self.deep = deep
        self.shallow = tuple(shallow)

    def forward(self, outputs, targets):
        missing = [name for name in (self.deep, *self.shallow) if name not in outputs]
        if missing:
            raise ValueError(
                f"the self-attention constraint needs the model outputs {missing}; a single-level model "
                "(multi=False) has no stage6 and cannot be trained with the constraint"
            )
        deep = outputs[self.deep].float()
        loss = deep.new_zeros(deep.size(0))
        for name in self.shallow:
            shallow = outputs[name].float()
            if shallow.shape[-2:] != deep.shape[-2:]:
                pooled = F.adaptive_avg_pool2d(shallow.unsqueeze(1), deep.shape[-2:]).flatten(1)
                shallow = F.normalize(pooled, p=2, dim=1).view_as(deep)
            loss = loss + (deep - shallow).pow(2).flatten(1).sum(dim=1)
        return loss.mean()


def mine_quadruplets(dist, targets):
    """Hard quadruplet mining of Sec. 3.3 on a ``(B, B)`` distance matrix.

    For every anchor ``i``: ``j`` the hardest (farthest) positive and ``k`` the hardest (nearest)
    negative, as in batch-hard triplet mining; ``h`` the sample nearest to ``k`` whose identity differs
    from both ``y_i`` and ``y_k``. Returns index tensors ``(j, k, h)``, each ``(B,)``.
    """
    same = same_identity_mask(targets)
    if len(torch.unique(targets)) < 3:
        raise ValueError("quadruplet-hard mining needs at least three identities in every batch")
    j = dist.masked_fill(~same, float("-inf")).argmax(dim=1)
    k = dist.masked_fill(same, float("inf")).argmin(dim=1)
    differs_from_both = ~same & ~same[k]
    h = dist[k].masked_fill(~differs_from_both, float("inf")).argmin(dim=1)
    return j, k, h


class QuadrupletHardLoss(nn.Module):
    """Quadruplet-hard loss (Eq. 5) on ``outputs[output]`` with Euclidean distance ``d``, for every
    sample ``i`` of the batch with its mined ``(j, k, h)`` (:func:`mine_quadruplets`)::

        [d(i, j) - d(i, k) + margin1]_+ + [d(i, j) - d(k, h) + margin2]_+

    averaged over the batch; ``margin1`` = 0.5 and ``margin2`` = 0.2 as in all the paper's experiments.
    """

    def __init__(self, output="embedding", margin1=0.5, margin2=0.2):
        super().__init__()
        self.output = output
        self.margin1 = margin1
        self.margin2 = margin2

    def forward(self, outputs, targets):
        dist = pairwise_distances(outputs[self.output].float())
        j, k, h = mine_quadruplets(dist.detach(), targets)
        anchors = torch.arange(dist.size(0), device=dist.device)
        positive = dist[anchors, j]
        loss = F.relu(positive - dist[anchors, k] + self.margin1) + F.relu(positive - dist[k, h] + self.margin2)
        return loss.mean()
