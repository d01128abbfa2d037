"""Attention maps overlaid on the input images: one row per image, the image then one panel per name
in the model's ``attention_maps``.

The contract is the one every built-in plugin follows (:mod:`reid_bench.hookspecs`): after a forward,
``model.attention_maps`` maps names to detached tensors whose first dimension is the batch, either
``(B, h, w)`` or ``(B, C, h, w)`` (channels are averaged). A model whose maps exist only for pairs of
images (mutual attention: one map per pair, shared by both members) exposes ``forward_pairs(images)``;
when an eval-mode forward leaves ``attention_maps`` empty and the model has it, the images are fed in
consecutive pairs (the last one doubled when their number is odd) and a map of ``B / 2`` entries is
drawn on both images of its pair.

Each map is resized bilinearly to the image, scaled to ``[0, 1]`` per image (maps are relative: their
scales differ from method to method) and blended half and half with the image in matplotlib's ``jet``
colours. The picture is composed with Pillow at exact pixel positions, like the ranked results.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..data.loaders import read_image
from ..errors import UserError

TITLE = 26  # text strip above each panel: two lines of Pillow's default font
GAP = 4


@torch.no_grad()
def attention_maps(model, images):
    """``{name: (B, h, w) float tensor}`` of ``model`` on the normalised ``images`` (B, 3, H, W)."""
    model.eval()
    model(images)
    maps, pairs = dict(getattr(model, "attention_maps", {}) or {}), False
    if not maps and hasattr(model, "forward_pairs"):
        model.forward_pairs(images)
        maps, pairs = dict(model.attention_maps), True
    batch = images.size(0)
    out = {}
    for name, value in maps.items():
        value = value.detach().float().cpu()
        if value.dim() == 4:
            value = value.mean(dim=1)
        if pairs and value.size(0) * 2 == batch:
            value = value.repeat_interleave(2, dim=0)
        if value.dim() != 3 or value.size(0) != batch:
            raise ValueError(f"attention map {name!r} has shape {tuple(maps[name].shape)}; expected (B, h, w) or "
                             f"(B, C, h, w) with B = {batch}")
        out[name] = value
    return out


def overlay(image, heat):
    """``image`` (PIL, RGB) blended with the ``jet`` colours of ``heat`` (h, w) resized to it."""
    from matplotlib import colormaps

    resized = F.interpolate(heat[None, None], size=(image.height, image.width), mode="bilinear",
                            align_corners=False)[0, 0].numpy()
    low, high = float(resized.min()), float(resized.max())
    scaled = (resized - low) / (high - low) if high > low else np.zeros_like(resized)
    colours = colormaps["jet"](scaled)[..., :3] * 255.0
    blended = 0.5 * np.asarray(image, dtype=np.float64) + 0.5 * colours
    return Image.fromarray(np.round(blended).astype(np.uint8))


def panel_origin(column, size):
    """Top-left pixel of panel ``column`` (0: the image, then one per map) of an attention picture."""
    return column * (size[1] + GAP), TITLE


def _title_lines(draw, name, width):
    """``name`` in at most two lines that fit ``width`` pixels, broken after an ``_`` when the rest then
    fits on the second line, else where the first line is full."""
    fits = [end for end in range(1, len(name) + 1) if draw.textlength(name[:end]) <= width]
    full = max(fits, default=1)
    if full == len(name):
        return [name]
    breaks = [end for end in fits if name[end - 1] == "_" and draw.textlength(name[end:]) <= width]
    cut = max(breaks, default=full)
    rest = name[cut:]
    while rest and draw.textlength(rest) > width:
        rest = rest[:-1]
    return [name[:cut], rest]


def draw_attention(image, maps, index, size):
    """One picture: ``image`` (PIL) then each map of batch entry ``index`` overlaid, ``size`` (h, w)."""
    shown = image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
    panels = [("input", shown)] + [(name, overlay(shown, value[index])) for name, value in sorted(maps.items())]
    width = panel_origin(len(panels) - 1, size)[0] + size[1]
    canvas = Image.new("RGB", (width, size[0] + TITLE), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for column, (name, panel) in enumerate(panels):
        x, y = panel_origin(column, size)
        canvas.paste(panel, (x, y))
        for line, text in enumerate(_title_lines(draw, name, size[1] - 2)):
            draw.text((x + 1, 1 + 12 * line), text, fill=(0, 0, 0))
    return canvas


def write_attention(model, paths, transform, device, out_dir, size):
    """Write one PNG per image path into ``out_dir`` (named after the image); returns the paths. A model
    without any attention map is a :class:`UserError`."""
    if not paths:
        raise UserError("no images to draw attention on")
    originals = [read_image(path) for path in paths]
    batch = [transform(image) for image in originals]
    if len(batch) % 2 and hasattr(model, "forward_pairs"):
        batch.append(batch[-1])  # pairs need an even batch; the extra image is not drawn
    maps = attention_maps(model, torch.stack(batch).to(device))
    if not maps:
        raise UserError(f"{type(model).__name__} filled no attention_maps on a forward; there is nothing to draw")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for index, (path, image) in enumerate(zip(paths, originals)):
        target = os.path.join(out_dir, f"{index:03d}_{os.path.splitext(os.path.basename(path))[0]}.png")
        draw_attention(image, maps, index, size).save(target)
        written.append(target)
    return written
