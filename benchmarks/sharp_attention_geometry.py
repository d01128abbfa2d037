"""Whether sharp_attention's blocks have room at an input size: mask saturation and context-unit gradients.

SAN's mask (Eq. 3) min-max normalises each channel over the block's (h, w) positions. On a map of two
positions every entry is its channel's minimum or maximum, so ``pi1`` is 0 or 1, clamped, and the mask
(Eq. 5) saturates: no gradient reaches what produced it. The context-aware unit of block i (Sec. III-D)
halves block i's map before upsampling it back, so at a small input block 3's unit sees as few positions
as block 4. This script builds the full model (sab+cu, four blocks) at each input size, runs one training
forward and backward on a batch of random images, and prints per block the map size, the share of mask
entries within 0.01 of 0 or 1 and the L1 norm of the gradient reaching the block's context-aware unit.

Usage::

    python benchmarks/sharp_attention_geometry.py                      # 64x32, 128x64 and 256x128
    python benchmarks/sharp_attention_geometry.py --sizes 64x32 96x48
"""
import argparse

import torch

from reid_bench.plugins.sharp_attention.model import ALL_BLOCKS, SharpAttentionNet

SATURATED = 0.01  # a mask entry this close to 0 or 1 passes (almost) no gradient


def measure(height, width, batch_size=8, seed=0):
    """``[(block, map size, saturated share, context-unit gradient L1 or None)]`` at ``height`` x ``width``."""
    torch.manual_seed(seed)
    model = SharpAttentionNet(num_classes=1, pretrained=False).train()
    outputs = model(torch.randn(batch_size, 3, height, width))
    outputs["embedding"].pow(2).sum().backward()
    rows = []
    for block in ALL_BLOCKS:
        mask = outputs[f"mask/block{block}"]
        saturated = ((mask < SATURATED) | (mask > 1 - SATURATED)).float().mean().item()
        unit = model.attention[f"block{block}"].context_unit
        gradient = None if unit is None else sum(
            p.grad.abs().sum().item() for p in unit.parameters() if p.grad is not None)
        rows.append((block, tuple(mask.shape[2:]), saturated, gradient))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["64x32", "128x64", "256x128"], help="HEIGHTxWIDTH inputs")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    print("| input | block | map | mask entries saturated | context-unit gradient (L1) |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        height, width = (int(side) for side in size.split("x"))
        for block, shape, saturated, gradient in measure(height, width, args.batch_size):
            print(f"| {size} | {block} | {shape[0]}x{shape[1]} | {100 * saturated:.0f}% | "
                  f"{'none (block 4 has no unit)' if gradient is None else f'{gradient:.2e}'} |")


if __name__ == "__main__":
    main()
