"""Attention maps overlaid on the input images: one picture per image, the image (titled with its file
name) then one panel per name in the model's ``attention_maps`` (titled with it), and a colour bar of the
attention scale.

The contract is the one every built-in plugin follows (:mod:`reid_bench.hookspecs`): after a forward,
``model.attention_maps`` maps names to detached tensors whose first dimension is the batch, either
``(B, h, w)`` or ``(B, C, h, w)`` (channels are averaged). A model whose maps exist only for pairs of
images (mutual attention: one map per pair, shared by both members) exposes ``forward_pairs(images)``;
when an eval-mode forward leaves ``attention_maps`` empty and the model has it, the images are fed in
consecutive pairs (the last one doubled when their number is odd) and a map of ``B / 2`` entries is
drawn on both images of its pair.

The image is upsampled bilinearly to the display size (``reid-bench visualize attention --height``,
default 256 rows: a 64x32 input would be unreadable at its own size). Each map is resized bilinearly to it,
scaled to ``[0, 1]`` per image and map (maps are relative: their scales differ from method to method) and
blended half and half with the image in matplotlib's ``jet`` colours, whose scale the colour bar shows (0:
the map's lowest value on that image, 1: its highest). The picture is a matplotlib figure whose panels sit
at exact pixel positions (:func:`figure_size`), each pixel of a panel one pixel of the composed image.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.loaders import read_image
from ..errors import UserError

DPI = 100
FONT = 8  # points: titles
CHARACTER = 6.5  # pixels: a title character's mean width at FONT and DPI
TITLE = 34  # pixels above the panels: two lines of title
GAP = 8  # between panels
MARGIN = 4  # around the picture
BAR_GAP, BAR, BAR_LABELS = 10, 12, 40  # before the colour bar, its width, its tick labels and label


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


def figure_size(panels, size):
    """``(width, height)`` in pixels of a picture of ``panels`` panels of ``size`` (h, w) and its colour bar."""
    return (MARGIN + panels * size[1] + (panels - 1) * GAP + BAR_GAP + BAR + BAR_LABELS,
            TITLE + size[0] + MARGIN)


def title_lines(name, width):
    """``name`` in at most two lines of about ``width`` pixels: broken after an ``_`` or ``-`` when the rest
    then fits on the second line, else where the first line is full; a rest still too long ends in ``…``."""
    chars = max(4, int(width / CHARACTER))
    if len(name) <= chars:
        return name
    breaks = [end for end in range(1, chars + 1) if name[end - 1] in "_-" and len(name) - end <= chars]
    cut = max(breaks, default=chars)
    rest = name[cut:]
    return f"{name[:cut]}\n{rest if len(rest) <= chars else rest[:chars - 1] + '…'}"


def attention_figure(image, maps, index, size, title):
    """The picture of batch entry ``index``: ``image`` (PIL) titled ``title``, then each of ``maps`` overlaid
    and titled with its name, every panel ``size`` (h, w) pixels, and the colour bar; a matplotlib
    ``Figure`` (no pyplot state), :func:`figure_size` pixels at :data:`DPI`."""
    from matplotlib import cm, colors
    from matplotlib.figure import Figure

    shown = image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
    panels = [(title, np.asarray(shown))] + [(name, np.asarray(overlay(shown, value[index])))
                                             for name, value in sorted(maps.items())]
    width, height = figure_size(len(panels), size)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)

    def place(x, w):  # a rectangle x pixels from the left, w wide, beside the panels' rows
        return [x / width, MARGIN / height, w / width, size[0] / height]

    for column, (name, pixels) in enumerate(panels):
        axes = figure.add_axes(place(MARGIN + column * (size[1] + GAP), size[1]))
        axes.imshow(pixels, interpolation="nearest", aspect="auto")
        axes.set_axis_off()
        axes.set_title(title_lines(name, size[1] + GAP), fontsize=FONT, pad=3)
    bar = figure.add_axes(place(width - BAR_LABELS - BAR, BAR))
    figure.colorbar(cm.ScalarMappable(norm=colors.Normalize(0, 1), cmap="jet"), cax=bar, ticks=[0, 0.5, 1])
    bar.tick_params(labelsize=FONT - 1)
    bar.set_ylabel("attention, per map", fontsize=FONT - 1)
    return figure


def write_attention(model, paths, transform, device, out_dir, size):
    """Write one PNG per image path into ``out_dir`` (named after the image; :func:`attention_figure` with
    panels of ``size``); returns the paths. A model without any attention map is a :class:`UserError`."""
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
        name = os.path.splitext(os.path.basename(path))[0]
        target = os.path.join(out_dir, f"{index:03d}_{name}.png")
        attention_figure(image, maps, index, size, name).savefig(target, dpi=DPI)
        written.append(target)
    return written
