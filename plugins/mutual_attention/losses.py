"""The verification loss (Sec. 4, Eq. 11-12); the identification loss (Eq. 9-10) is the harness's
generic ``cross_entropy`` term, and the weighting ``L = ID + alpha * V`` (Eq. 13) is the method's."""
import torch
import torch.nn.functional as F
from torch import nn

#: verification classes: index 1 = "same identity", index 0 = "different identities"
SAME, DIFFERENT = 1, 0


def pair_targets(targets):
    """Verification labels of the pairs ``(2i, 2i + 1)`` of a batch of identity labels ``(2P,)``:
    ``SAME`` where both images share an identity, else ``DIFFERENT``; ``LongTensor (P,)``."""
    if targets.size(0) % 2:
        raise ValueError(f"a batch of pairs has an even number of labels; got {targets.size(0)}")
    return torch.where(targets[0::2] == targets[1::2], SAME, DIFFERENT)


class VerificationLoss(nn.Module):
    """Binary (2-way softmax) cross-entropy of the pair classifier (Eq. 11-12), mean over the pairs.

    Reads ``outputs[output]`` (P, 2) and derives each pair's target from the identity labels of its
    two images with :func:`pair_targets`. The paper writes Eq. 12 as a sum; the mean keeps it on the
    scale of the identification term's mean, which ``alpha = 0.5`` (Eq. 13) is set against.
    """

    def __init__(self, output="verification_logits"):
        super().__init__()
        self.output = output

    def forward(self, outputs, targets):
        logits = outputs[self.output]
        labels = pair_targets(targets)
        if logits.size(0) != labels.size(0):
            raise ValueError(f"{logits.size(0)} pair logits for a batch of {targets.size(0)} images "
                             f"({labels.size(0)} pairs)")
        return F.cross_entropy(logits.float(), labels)
