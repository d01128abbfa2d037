"""Dead-leaves compositions: the generic images of the embedded protocol's pretraining.

No image shows a person, a body part or a re-id attribute, by construction: an image is a background
texture overlaid with occluding "leaves" (ellipses, rectangles, triangles and iterated-function-system
fractals), each filled with a colour of :data:`PALETTE` and a texture of :data:`TEXTURES`, the dead-leaves
model of natural image statistics that Baradad et al. ("Learning to See by Looking at Noise", NeurIPS 2021)
pretrain on, with formula-driven shapes as in fractal pretraining (Kataoka et al., ACCV 2020; Anderson &
Farrell, "Improving Fractal Pre-training", WACV 2022). Nothing here draws on the pedestrian generator of
:mod:`.synthetic` except its camera model's kind of photometric change (gain, colour cast, contrast, noise).

The task (:func:`leaves_set`): ``classes`` compositions, each a fixed layout of a few large leaves
(shape, colour, texture, second colour, position, size); every image of a class renders that layout with
jittered positions, sizes and colours, random extra small leaves, a random background and a random
camera, so a class is recognised by its coloured, textured parts and their arrangement under photometric
change, which is what ImageNet features give a re-id backbone. Each image also carries which colours and
which textures cover a visible share of it (multi-label targets), so colour and texture stay informative.
Deterministic for a seed.
"""
import numpy as np

#: leaf colours (RGB): hues around the wheel, light and dark, and greys
PALETTE = np.array([
    (215, 40, 40), (240, 140, 30), (235, 215, 50), (140, 200, 50), (40, 150, 70), (40, 170, 160),
    (60, 200, 230), (50, 90, 200), (110, 60, 170), (200, 60, 170), (245, 160, 190), (120, 80, 45),
    (245, 245, 240), (150, 150, 150), (70, 70, 75), (20, 20, 25),
], dtype=np.float32)
TEXTURES = ("solid", "hstripes", "vstripes", "diagonal", "checks", "dots")
SHAPES = ("ellipse", "rectangle", "triangle", "fractal")
#: a colour or texture counts as present when it covers at least this share of the image
PRESENT_SHARE = 0.06


def _texture(name, ys, xs, period, phase):
    """Boolean pattern of ``name`` on the pixel grid (True: the leaf's second colour)."""
    y, x = ys + phase[0], xs + phase[1]
    if name == "solid":
        return np.zeros(ys.shape, bool)
    if name == "hstripes":
        return (y // period) % 2 == 1
    if name == "vstripes":
        return (x // period) % 2 == 1
    if name == "diagonal":
        return ((x + y) // period) % 2 == 1
    if name == "checks":
        return ((y // period) + (x // period)) % 2 == 1
    centre = period / 2.0  # dots
    return (y % period - centre) ** 2 + (x % period - centre) ** 2 < (period / 3.0) ** 2


def _fractal_mask(rng, height, width, points=1500):
    """Occupancy mask of a random 2-D iterated function system (3-4 contractive affine maps,
    the chaos game), scaled into a ``height x width`` box."""
    maps = []
    for _ in range(rng.integers(3, 5)):
        matrix = rng.uniform(-1, 1, (2, 2))
        matrix *= rng.uniform(0.35, 0.7) / max(np.linalg.norm(matrix, 2), 1e-6)
        maps.append((matrix, rng.uniform(-1, 1, 2)))
    point, cloud = np.zeros(2), np.empty((points, 2))
    choices = rng.integers(0, len(maps), points + 20)
    for step, choice in enumerate(choices):
        matrix, shift = maps[choice]
        point = matrix @ point + shift
        if step >= 20:
            cloud[step - 20] = point
    low, high = cloud.min(0), cloud.max(0)
    cloud = (cloud - low) / np.maximum(high - low, 1e-6)
    mask = np.zeros((height, width), bool)
    rows = np.clip((cloud[:, 0] * (height - 1)).round().astype(int), 0, height - 1)
    cols = np.clip((cloud[:, 1] * (width - 1)).round().astype(int), 0, width - 1)
    mask[rows, cols] = True
    # thicken the point cloud so that it survives downscaling
    mask[1:] |= mask[:-1].copy()
    mask[:, 1:] |= mask[:, :-1].copy()
    return mask


def draw_leaf(rng, height, width, fractal_cache):
    """A random leaf: its shape parameters, colours and texture (unrendered)."""
    return dict(shape=int(rng.integers(len(SHAPES))), colour=int(rng.integers(len(PALETTE))),
                second=int(rng.integers(len(PALETTE))), texture=int(rng.integers(len(TEXTURES))),
                cy=float(rng.uniform(0, height)), cx=float(rng.uniform(0, width)),
                ry=float(rng.uniform(0.18, 0.45) * height), rx=float(rng.uniform(0.25, 0.6) * width),
                angle=float(rng.uniform(0, np.pi)), period=int(rng.integers(3, 8)),
                fractal=int(rng.integers(len(fractal_cache))))


def _leaf_mask(leaf, ys, xs, fractal_cache):
    dy, dx = ys - leaf["cy"], xs - leaf["cx"]
    cos, sin = np.cos(leaf["angle"]), np.sin(leaf["angle"])
    u, v = (cos * dx + sin * dy) / leaf["rx"], (-sin * dx + cos * dy) / leaf["ry"]
    shape = SHAPES[leaf["shape"]]
    if shape == "ellipse":
        return u * u + v * v <= 1.0
    if shape == "rectangle":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "triangle":
        return (v >= -0.7) & (v <= 0.9 - 1.6 * np.abs(u))
    fractal = fractal_cache[leaf["fractal"]]  # a fractal's occupancy, stretched over the leaf's box
    size = fractal.shape[0]
    inside = (np.abs(u) < 1) & (np.abs(v) < 1)
    rows = np.clip(((v + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
    cols = np.clip(((u + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
    return inside & fractal[rows, cols]


def render(layout, rng, height, width, fractal_cache, clutter=(1, 4)):
    """One image of ``layout`` (a list of leaves) at ``height x width``: a random textured background,
    random small clutter leaves behind the layout's jittered leaves, then a random camera. Returns
    ``(uint8 image (H, W, 3), colour_present (len(PALETTE),), texture_present (len(TEXTURES),))``."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    colour_index = np.full((height, width), -1, np.int64)
    texture_index = np.zeros((height, width), np.int64)
    base, second = rng.integers(len(PALETTE), size=2)
    pattern = _texture(TEXTURES[rng.integers(len(TEXTURES))], ys, xs, int(rng.integers(4, 12)), rng.integers(0, 8, 2))
    image = np.where(pattern[..., None], PALETTE[second] * 0.6 + 40, PALETTE[base] * 0.6 + 40)
    clutter_leaves = []
    for _ in range(rng.integers(clutter[0], clutter[1] + 1)):
        leaf = draw_leaf(rng, height, width, fractal_cache)
        leaf["ry"] *= 0.5
        leaf["rx"] *= 0.5
        clutter_leaves.append(leaf)
    jittered = []
    for leaf in layout:
        leaf = dict(leaf)
        leaf["cy"] += rng.normal(0, 0.06 * height)
        leaf["cx"] += rng.normal(0, 0.06 * width)
        leaf["ry"] *= rng.uniform(0.85, 1.15)
        leaf["rx"] *= rng.uniform(0.85, 1.15)
        leaf["angle"] += rng.normal(0, 0.15)
        jittered.append(leaf)
    for leaf in clutter_leaves + jittered:
        mask = _leaf_mask(leaf, ys, xs, fractal_cache)
        texture = TEXTURES[leaf["texture"]]
        second_mask = _texture(texture, ys, xs, leaf["period"], (0, 0)) & mask
        shade = rng.uniform(0.9, 1.1)
        image[mask] = np.clip(PALETTE[leaf["colour"]] * shade + rng.normal(0, 6, 3), 0, 255)
        image[second_mask] = np.clip(PALETTE[leaf["second"]] * shade + rng.normal(0, 6, 3), 0, 255)
        colour_index[mask] = leaf["colour"]
        colour_index[second_mask] = leaf["second"]
        texture_index[mask] = leaf["texture"]
    # a random camera: gain, colour cast, contrast, sensor noise
    gain, contrast = rng.uniform(0.6, 1.3), rng.uniform(0.7, 1.25)
    cast = rng.uniform(0.85, 1.15, 3)
    image = (image * gain * cast - 128.0) * contrast + 128.0 + rng.normal(0, rng.uniform(2, 8), image.shape)
    pixels = float(height * width)
    colours = np.bincount(colour_index[colour_index >= 0], minlength=len(PALETTE)) / pixels >= PRESENT_SHARE
    covered = colour_index >= 0
    textures = np.bincount(texture_index[covered], minlength=len(TEXTURES)) / pixels >= PRESENT_SHARE
    return np.clip(image, 0, 255).astype(np.uint8), colours, textures


def leaves_set(classes, images_per_class, input_size, seed, supersample=2):
    """``(images, labels, colours, textures)``: uint8 ``(N, 3, H, W)`` at ``input_size``, the composition
    class ``(N,)`` and the multi-label colour and texture targets ``(N, len(PALETTE))`` and
    ``(N, len(TEXTURES))`` (float 0/1). Rendered at ``supersample`` times the input size and averaged
    down (anti-aliased). Deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    height, width = input_size[0] * supersample, input_size[1] * supersample
    fractal_cache = [_fractal_mask(rng, 64, 64) for _ in range(64)]
    layouts = [[draw_leaf(rng, height, width, fractal_cache) for _ in range(rng.integers(2, 5))]
               for _ in range(classes)]
    images, labels, colours, textures = [], [], [], []
    for label, layout in enumerate(layouts):
        for _ in range(images_per_class):
            image, colour, texture = render(layout, rng, height, width, fractal_cache)
            if rng.random() < 0.5:
                image = image[:, ::-1]
            image = image.reshape(input_size[0], supersample, input_size[1], supersample, 3).mean((1, 3))
            images.append(image.round().astype(np.uint8))
            labels.append(label)
            colours.append(colour)
            textures.append(texture)
    return (np.stack(images).transpose(0, 3, 1, 2).copy(), np.array(labels),
            np.stack(colours).astype(np.float32), np.stack(textures).astype(np.float32))
