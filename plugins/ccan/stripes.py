"""Horizontal part stripes that feed CCAN's local branch (Sec. 3.2).

A feature map is sliced into ``k_p`` horizontal stripes and each stripe is resized back to the map's
own size by bilinear interpolation. Stripe ``s`` holds the rows ``[floor(s H / k_p),
ceil((s + 1) H / k_p))``: when ``k_p`` divides the map height (every re-id input size, e.g. 32 and 16
rows at 256x128) these are the paper's equal, disjoint stripes; on smaller maps (CIFAR's 32x32 gives
2-row maps) neighbouring stripes share a boundary row instead of failing.
"""
import math

import torch.nn.functional as F


def stripe_bounds(height, parts):
    """``[(start, stop), ...]`` row ranges of the ``parts`` stripes of a map ``height`` rows high."""
    return [(math.floor(s * height / parts), math.ceil((s + 1) * height / parts)) for s in range(parts)]


def horizontal_stripes(feature_map, parts):
    """The ``parts`` stripes of ``feature_map`` ``(B, C, H, W)``, each resized back to ``H x W``."""
    size = feature_map.shape[2:]
    return [
        F.interpolate(feature_map[:, :, start:stop], size=size, mode="bilinear", align_corners=False)
        for start, stop in stripe_bounds(size[0], parts)
    ]
