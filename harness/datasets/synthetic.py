"""The embedded ``synthetic`` protocol: a small, real re-identification problem made on first use.

Pedestrians are drawn procedurally and written in Market-1501's on-disk layout and file naming
(``<root>/synthetic/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/
0001_c1s1_000151_00.jpg``), then read by torchreid's own ``Market1501`` parsing code through
``register_image_dataset``. Generation is deterministic (fixed seed) and versioned: a changed
generator regenerates the cache.

What makes it a re-id problem rather than a toy:

- an identity is a *combination* of attributes drawn from small pools (top and bottom colours, top
  pattern, shoe and hair colour, accessory, build), so identities share most single attributes;
- six cameras differ in illumination gain, colour cast, contrast, sensor noise and background
  palette, so the same clothes look different across cameras;
- every image has its own pose (facing front/back/side, walking phase), scale and crop jitter,
  background clutter, and a share of images is partially occluded;
- the gallery holds distractor images (pid 0: clutter and partial people) and junk (pid -1).

A second domain, ``synthetic-shift`` (:data:`SHIFT`), is made by the same generator with another seed,
identities whose attribute combinations are none of ``synthetic``'s, five other cameras (warm, cool,
green and magenta casts, other exposure, contrast and background colours, half the resolution or blur) and
tiled indoor backgrounds instead of street clutter: training on ``synthetic`` and testing on ``synthetic-shift`` is a
domain-generalisation protocol, as Market-1501 -> DukeMTMC-reID is on real data.
"""
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..cache import cache_base, exclusive_lock
from ..errors import DatasetLayoutError
from ..spec import Budget, LRSchedule, ProtocolSpec, ReidSplits

GENERATOR_VERSION = 1
IMAGE_SIZE = (128, 64)  # height, width of the written crops
INPUT_SIZE = (64, 32)  # height, width the networks see: a CPU-sized input
#: Every recipe on ``synthetic`` trains from scratch for 16 epochs of 32-image batches (~540
#: iterations), its learning rate warmed up over the first epoch and cut x0.1 for the last two.
CPU_BUDGET = Budget(epochs=16, batch_size=32, schedule=LRSchedule(warmup_epochs=1, warmup_start=0.1, milestones=(14,)))
NUM_CAMERAS = 6
NUM_TRAIN_IDS = 120
NUM_TEST_IDS = 100
NUM_DISTRACTORS = 120
NUM_JUNK = 30
SEED = 20261122
MARKET_FOLDER = "Market-1501-v15.09.15"

TOP_COLOURS = [(200, 30, 30), (30, 60, 190), (230, 220, 60), (40, 150, 60), (240, 240, 240),
               (35, 35, 35), (140, 70, 160), (240, 130, 30), (120, 120, 125), (90, 180, 210)]
BOTTOM_COLOURS = [(30, 40, 90), (35, 35, 35), (150, 120, 80), (110, 110, 115), (220, 215, 200),
                  (90, 60, 40), (60, 90, 60), (150, 30, 40)]
SHOE_COLOURS = [(20, 20, 20), (235, 235, 235), (120, 70, 30), (180, 40, 40)]
HAIR_COLOURS = [(25, 20, 15), (110, 70, 30), (200, 170, 90), (150, 150, 150)]
SKIN_TONES = [(240, 200, 170), (200, 150, 110), (140, 95, 65), (90, 60, 45)]
PATTERNS = ["solid", "hstripes", "vstripes", "checks", "logo"]
ACCESSORIES = ["none", "backpack", "hat", "handbag", "scarf"]

#: per camera: illumination gain, RGB colour cast, contrast, noise sigma, background base colour
CAMERAS = [
    dict(gain=1.00, cast=(1.00, 1.00, 1.00), contrast=1.00, noise=3.0, background=(150, 150, 140)),
    dict(gain=0.70, cast=(0.90, 0.95, 1.15), contrast=0.85, noise=6.0, background=(70, 80, 95)),
    dict(gain=1.20, cast=(1.15, 1.05, 0.85), contrast=1.10, noise=4.0, background=(190, 175, 140)),
    dict(gain=0.90, cast=(0.95, 1.12, 0.95), contrast=0.95, noise=5.0, background=(100, 130, 95)),
    dict(gain=0.55, cast=(1.05, 0.95, 1.05), contrast=0.75, noise=8.0, background=(55, 50, 60)),
    dict(gain=1.05, cast=(1.00, 0.92, 1.10), contrast=1.20, noise=3.0, background=(170, 170, 185)),
]

LAYOUT = (
    "<root>/synthetic/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/ with "
    "Market-1501 file names PPPP_cCsS_FFFFFF_BB.jpg (made automatically; delete the folder to rebuild)"
)


#: the shifted domain's cameras: other lighting, colour casts and background colours (each a third of the
#: way from one of ``synthetic``'s to a new one: whole new colours leave a model fine-tuned on ``synthetic``
#: barely above an untrained one, the same ones give no shift at all; measured in the README), and two keys
#: ``synthetic``'s cameras lack: ``scale`` (the crop is taken at this fraction of the resolution and scaled
#: back up) and ``blur`` (a Gaussian blur of this radius on every frame)
SHIFT_CAMERAS = [
    dict(gain=0.85, cast=(1.08, 1.0, 0.92), contrast=0.9, noise=3.0, background=(122, 117, 105), blur=0.8),
    dict(gain=1.1, cast=(0.95, 1.0, 1.08), contrast=0.9, noise=6.0, background=(116, 126, 142), scale=0.5),
    dict(gain=0.95, cast=(0.96, 1.06, 0.96), contrast=1.1, noise=4.0, background=(155, 156, 116)),
    dict(gain=0.8, cast=(1.06, 0.94, 1.06), contrast=0.85, noise=5.0, background=(107, 106, 100), scale=0.6),
    dict(gain=1.05, cast=(1.0, 1.0, 1.0), contrast=1.15, noise=8.0, background=(50, 46, 55)),
]


@dataclass(frozen=True)
class Domain:
    """What the generator draws for one embedded protocol: its name (the folder under the root and the
    torchreid dataset name), seed, cameras, background style (``"street"``: clutter of walls, cars and
    poles; ``"tiles"``: an indoor tiled wall) and whether its identities must differ from
    ``synthetic``'s."""

    name: str
    seed: int
    cameras: tuple
    background: str = "street"
    disjoint_from_synthetic: bool = False


SYNTHETIC = Domain("synthetic", SEED, tuple(CAMERAS))
SHIFT = Domain("synthetic-shift", SEED + 1, tuple(SHIFT_CAMERAS), background="tiles", disjoint_from_synthetic=True)


def default_root():
    """The cache folder: ``$REID_BENCH_CACHE`` or ``~/.cache/reid_bench``, then ``datasets``."""
    return os.path.join(cache_base(), "datasets")


def _config_fingerprint(domain=SYNTHETIC):
    config = dict(version=GENERATOR_VERSION, size=IMAGE_SIZE, cams=NUM_CAMERAS, train=NUM_TRAIN_IDS,
                  test=NUM_TEST_IDS, distractors=NUM_DISTRACTORS, junk=NUM_JUNK, seed=SEED)
    if domain != SYNTHETIC:
        config.update(domain=domain.name, seed=domain.seed, cams=[sorted(c.items()) for c in domain.cameras],
                      background=domain.background, disjoint=domain.disjoint_from_synthetic)
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def identity_key(identity):
    """The discrete attributes that make an identity (continuous build and height left out)."""
    return tuple(sorted((k, v) for k, v in identity.items() if not isinstance(v, float)))


def synthetic_identity_keys():
    """Attribute combinations of every identity of ``synthetic`` (train and test): its generator draws
    them first from its seeded stream, so replaying those draws gives them all."""
    rng = np.random.default_rng(SEED)
    return {identity_key(_draw_identity(rng)) for _ in range(NUM_TRAIN_IDS + NUM_TEST_IDS)}


def _draw_identities(rng, domain, count):
    """``count`` identities; for a domain disjoint from ``synthetic`` none of its attribute combinations
    (nor a repeated one)."""
    if not domain.disjoint_from_synthetic:
        return [_draw_identity(rng) for _ in range(count)]
    excluded, identities = synthetic_identity_keys(), []
    while len(identities) < count:
        identity = _draw_identity(rng)
        if identity_key(identity) not in excluded:
            excluded.add(identity_key(identity))
            identities.append(identity)
    return identities


def _draw_identity(rng):
    return dict(
        top=int(rng.integers(len(TOP_COLOURS))),
        bottom=int(rng.integers(len(BOTTOM_COLOURS))),
        pattern=int(rng.integers(len(PATTERNS))),
        pattern_colour=int(rng.integers(len(TOP_COLOURS))),
        shoes=int(rng.integers(len(SHOE_COLOURS))),
        hair=int(rng.integers(len(HAIR_COLOURS))),
        skin=int(rng.integers(len(SKIN_TONES))),
        accessory=int(rng.integers(len(ACCESSORIES))),
        accessory_colour=int(rng.integers(len(TOP_COLOURS))),
        build=float(rng.uniform(0.85, 1.15)),
        height=float(rng.uniform(0.9, 1.05)),
        shorts=bool(rng.random() < 0.25),
    )


def _tiled_background(draw, rng, base, height, width):
    """An indoor wall of tiles (size and grout colour drawn per frame) over a darker floor."""
    tile = int(rng.integers(6, 14))
    grout = tuple(int(c) for c in np.clip(base * rng.uniform(0.5, 0.8), 0, 255))
    draw.rectangle([0, 0, width, height], fill=tuple(int(c) for c in base))
    for y in range(int(rng.integers(0, tile)), height, tile):
        draw.line([0, y, width, y], fill=grout)
    for x in range(int(rng.integers(0, tile)), width, tile):
        draw.line([x, 0, x, height], fill=grout)
    draw.rectangle([0, int(height * rng.uniform(0.75, 0.9)), width, height],
                   fill=tuple(int(c) for c in base * 0.6))


def _background(draw, rng, camera, height, width, style="street"):
    base = np.array(camera["background"], dtype=float)
    if style == "tiles":
        _tiled_background(draw, rng, base, height, width)
        return
    draw.rectangle([0, 0, width, height], fill=tuple(int(c) for c in base))
    draw.rectangle([0, int(height * rng.uniform(0.7, 0.85)), width, height],
                   fill=tuple(int(c) for c in base * 0.8))  # floor
    for _ in range(int(rng.integers(2, 7))):  # clutter: walls, signs, cars, poles
        colour = tuple(int(c) for c in np.clip(base + rng.normal(0, 45, 3), 0, 255))
        x0, y0 = rng.integers(-10, width), rng.integers(-10, height)
        w, h = rng.integers(4, width // 2), rng.integers(4, height // 2)
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)


def _torso_pattern(draw, box, identity, rng):
    x0, y0, x1, y1 = box
    colour = TOP_COLOURS[identity["pattern_colour"]]
    pattern = PATTERNS[identity["pattern"]]
    if pattern == "hstripes":
        for y in range(y0 + 2, y1, 5):
            draw.rectangle([x0, y, x1, y + 1], fill=colour)
    elif pattern == "vstripes":
        for x in range(x0 + 2, x1, 5):
            draw.rectangle([x, y0, x + 1, y1], fill=colour)
    elif pattern == "checks":
        for y in range(y0, y1, 6):
            for x in range(x0 + ((y - y0) // 6 % 2) * 3, x1, 6):
                draw.rectangle([x, y, x + 2, y + 2], fill=colour)
    elif pattern == "logo":
        cx, cy = (x0 + x1) // 2, y0 + (y1 - y0) // 3
        draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=colour)


def _person(draw, identity, rng, height, width, view, scale=1.0, dx=0.0, dy=0.0):
    """Draw a pedestrian; ``view`` is 'front', 'back' or 'side'."""
    s = scale * identity["height"]
    cx = width / 2 + dx
    top = height * 0.06 + dy + (1 - s) * height * 0.5
    unit = height * s / 8.0  # a figure is eight heads tall
    half_w = unit * 0.95 * identity["build"] * (0.6 if view == "side" else 1.0)
    phase = rng.uniform(-1, 1)  # walking stride
    skin, hair = SKIN_TONES[identity["skin"]], HAIR_COLOURS[identity["hair"]]
    top_colour, bottom_colour = TOP_COLOURS[identity["top"]], BOTTOM_COLOURS[identity["bottom"]]
    shoes = SHOE_COLOURS[identity["shoes"]]
    accessory = ACCESSORIES[identity["accessory"]]
    accessory_colour = TOP_COLOURS[identity["accessory_colour"]]

    head = [cx - unit * 0.45, top, cx + unit * 0.45, top + unit]
    torso = [int(cx - half_w), int(top + unit * 1.1), int(cx + half_w), int(top + unit * 4.0)]
    hip = torso[3]
    leg_len = unit * 3.6
    if accessory == "backpack" and view != "front":  # seen behind or beside the torso
        offset = half_w * (0.2 if view == "back" else 0.9)
        draw.rectangle([cx - half_w * 0.8 + offset, torso[1] + 2, cx + half_w * 0.8 + offset, torso[1] + unit * 2.2],
                       fill=accessory_colour)
    # legs with the stride
    for side in (-1, 1):
        x = cx + side * half_w * 0.45
        foot_x = x + side * phase * unit * 0.6 * (1.6 if view == "side" else 0.4)
        draw.line([x, hip, foot_x, hip + leg_len], fill=bottom_colour, width=max(2, int(half_w * 0.8)))
        if identity["shorts"]:
            draw.line([x + (foot_x - x) * 0.45, hip + leg_len * 0.45, foot_x, hip + leg_len], fill=skin,
                      width=max(2, int(half_w * 0.6)))
        draw.ellipse([foot_x - unit * 0.35, hip + leg_len - 2, foot_x + unit * 0.35, hip + leg_len + unit * 0.3],
                     fill=shoes)
    draw.rectangle(torso, fill=top_colour)
    if view != "back" or PATTERNS[identity["pattern"]] in ("hstripes", "vstripes", "checks"):
        _torso_pattern(draw, torso, identity, rng)
    # arms
    for side in (-1, 1):
        shoulder = (cx + side * half_w, torso[1] + 3)
        hand = (shoulder[0] + side * unit * 0.25 - side * phase * unit * 0.5 * (view == "side"), torso[1] + unit * 2.9)
        draw.line([shoulder, hand], fill=top_colour, width=max(2, int(unit * 0.35)))
        draw.ellipse([hand[0] - 2, hand[1] - 2, hand[0] + 2, hand[1] + 2], fill=skin)
    if accessory == "handbag":
        hx = cx + half_w + unit * 0.3
        draw.rectangle([hx - unit * 0.4, torso[1] + unit * 2.4, hx + unit * 0.4, torso[1] + unit * 3.2],
                       fill=accessory_colour)
    if accessory == "scarf":
        draw.rectangle([cx - half_w * 0.9, torso[1], cx + half_w * 0.9, torso[1] + unit * 0.5], fill=accessory_colour)
    if accessory == "backpack" and view == "front":  # straps only
        for side in (-1, 1):
            draw.line([cx + side * half_w * 0.6, torso[1], cx + side * half_w * 0.6, torso[1] + unit * 1.8],
                      fill=accessory_colour, width=2)
    draw.ellipse(head, fill=hair if view == "back" else skin)
    draw.chord([head[0], head[1] - 1, head[2], head[3]], 180, 360, fill=hair)
    if accessory == "hat":
        draw.rectangle([head[0] - 2, head[1] - unit * 0.15, head[2] + 2, head[1] + unit * 0.3], fill=accessory_colour)


def _camera_response(image, camera, rng):
    """Apply the camera's resolution and blur (where it has them), illumination, colour cast, contrast and
    noise, plus per-frame flicker."""
    if "scale" in camera:
        width, height = image.size
        small = (max(1, round(width * camera["scale"])), max(1, round(height * camera["scale"])))
        image = image.resize(small, resample=Image.BILINEAR).resize((width, height), resample=Image.BILINEAR)
    if "blur" in camera:
        image = image.filter(ImageFilter.GaussianBlur(camera["blur"]))
    array = np.asarray(image, dtype=np.float32)
    gain = camera["gain"] * rng.uniform(0.85, 1.15)
    array = array * gain * np.asarray(camera["cast"], dtype=np.float32)
    mean = array.mean()
    array = (array - mean) * camera["contrast"] + mean
    array += rng.normal(0, camera["noise"], array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def render(identity, camera_index, rng, distractor=False, camera=None, background="street"):
    """One ``IMAGE_SIZE`` crop of ``identity`` seen by camera ``camera_index`` (0-based), or by
    ``camera`` (a dict shaped like :data:`CAMERAS`' entries) when given, in front of a ``background``
    of the given style."""
    height, width = IMAGE_SIZE
    camera = camera or CAMERAS[camera_index]
    canvas = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(canvas)
    _background(draw, rng, camera, height, width, background)
    if identity is not None:
        view = ["front", "back", "side"][int(rng.integers(3))]
        scale = rng.uniform(0.8, 1.05)
        dx, dy = rng.normal(0, width * 0.06), rng.normal(0, height * 0.03)
        if distractor:  # a badly cropped partial person
            dy += rng.choice([-1, 1]) * height * rng.uniform(0.3, 0.5)
        _person(draw, identity, rng, height, width, view, scale, dx, dy)
    if rng.random() < 0.3:  # partial occlusion by a pole, a car or a passer-by
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            x = int(rng.integers(0, width))
            draw.rectangle([x, 0, x + int(rng.integers(6, 20)), height], fill=colour)
        else:
            y = int(rng.integers(height // 2, height))
            draw.rectangle([0, y, width, height], fill=colour)
    if rng.random() < 0.3:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
    return _camera_response(canvas, camera, rng)


def _write(folder, pid, camera_index, frame, image):
    name = f"{pid:04d}_c{camera_index + 1}s1_{frame:06d}_00.jpg" if pid >= 0 else f"-1_c{camera_index + 1}s1_{frame:06d}_00.jpg"
    image.save(os.path.join(folder, name), quality=90)


def generate(target, domain=SYNTHETIC):
    """Write the whole dataset of ``domain`` into ``target`` (a Market-1501 version folder). Deterministic."""
    rng = np.random.default_rng(domain.seed)
    num_cameras = len(domain.cameras)

    def draw(identity, cam, distractor=False):
        return render(identity, cam, rng, distractor=distractor, camera=domain.cameras[cam],
                      background=domain.background)

    folders = {split: os.path.join(target, split) for split in ("bounding_box_train", "query", "bounding_box_test")}
    for folder in folders.values():
        os.makedirs(folder)
    identities = _draw_identities(rng, domain, NUM_TRAIN_IDS + NUM_TEST_IDS)
    frame = 0
    for index, identity in enumerate(identities):
        pid = index + 1
        cameras = rng.choice(num_cameras, size=int(rng.integers(2, 5)), replace=False)
        if index < NUM_TRAIN_IDS:
            for cam in cameras:
                for _ in range(int(rng.integers(2, 5))):
                    frame += 1
                    _write(folders["bounding_box_train"], pid, int(cam), frame, draw(identity, int(cam)))
        else:
            for cam in cameras:  # one query per camera, the gallery gets the rest
                frame += 1
                _write(folders["query"], pid, int(cam), frame, draw(identity, int(cam)))
                for _ in range(int(rng.integers(1, 4))):
                    frame += 1
                    _write(folders["bounding_box_test"], pid, int(cam), frame, draw(identity, int(cam)))
    for _ in range(NUM_DISTRACTORS):  # pid 0: clutter and partial people
        frame += 1
        cam = int(rng.integers(num_cameras))
        person = _draw_identity(rng) if rng.random() < 0.6 else None
        _write(folders["bounding_box_test"], 0, cam, frame, draw(person, cam, distractor=True))
    for _ in range(NUM_JUNK):  # pid -1: junk, ignored by the evaluation as in Market-1501
        frame += 1
        cam = int(rng.integers(num_cameras))
        _write(folders["bounding_box_test"], -1, cam, frame, draw(None, cam))


def _is_current(marker, fingerprint):
    if not os.path.isfile(marker):
        return False
    with open(marker) as handle:
        return handle.read().strip() == fingerprint


def ensure_generated(root, domain=SYNTHETIC):
    """Generate ``domain``'s dataset under ``root/<domain name>`` unless an up-to-date copy is there.
    Returns the dataset folder. Written to a temporary folder first and renamed, so an interrupted
    generation never leaves a half-written dataset behind; a lock makes parallel runs generate it once."""
    dataset_dir = os.path.join(root, domain.name)
    marker = os.path.join(dataset_dir, "GENERATOR")
    fingerprint = _config_fingerprint(domain)
    if _is_current(marker, fingerprint):
        return dataset_dir
    os.makedirs(root, exist_ok=True)
    with exclusive_lock(os.path.join(root, f".{domain.name}.lock"), waiting=f"the {domain.name} dataset"):
        if _is_current(marker, fingerprint):
            return dataset_dir
        staging = tempfile.mkdtemp(prefix=f".{domain.name}-", dir=root)
        try:
            generate(os.path.join(staging, MARKET_FOLDER), domain)
            with open(os.path.join(staging, "GENERATOR"), "w") as handle:
                handle.write(fingerprint + "\n")
            if os.path.isdir(dataset_dir):
                shutil.rmtree(dataset_dir)
            os.replace(staging, dataset_dir)
        finally:
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)
    return dataset_dir


def _torchreid_dataset_class(domain):
    from torchreid.reid.data.datasets.image.market1501 import Market1501

    class SyntheticMarket(Market1501):
        """torchreid's Market-1501 reader pointed at the generated folder."""

        dataset_dir = domain.name
        dataset_url = None

    return SyntheticMarket


def register_with_torchreid(domain=SYNTHETIC):
    """Make ``domain`` a torchreid image dataset (``init_image_dataset('synthetic', ...)``)."""
    from torchreid.reid.data import datasets

    if domain.name not in getattr(datasets, "__image_datasets"):
        datasets.register_image_dataset(domain.name, _torchreid_dataset_class(domain))


def load(root=None, allow_partial=False, trial=0, domain=SYNTHETIC):
    """Train/query/gallery lists of ``domain``'s set, generated under ``root`` on first use."""
    from torchreid.reid.data.datasets import init_image_dataset

    root = root or default_root()
    try:
        ensure_generated(root, domain)
    except OSError as exc:
        raise DatasetLayoutError(f"cannot create the {domain.name} dataset under {root}: {exc}") from exc
    register_with_torchreid(domain)
    dataset = init_image_dataset(domain.name, root=root, mode="train", verbose=False)
    return ReidSplits(train=dataset.train, query=dataset.query, gallery=dataset.gallery)


def load_shift(root=None, allow_partial=False, trial=0):
    """Train/query/gallery lists of ``synthetic-shift``, generated under ``root`` on first use."""
    return load(root, allow_partial, trial, domain=SHIFT)


PROTOCOL = ProtocolSpec(
    name="synthetic",
    task="reid",
    title="Synthetic pedestrians (embedded, generated on first use)",
    split=f"{NUM_TRAIN_IDS} train ids / {NUM_TEST_IDS} test ids, {NUM_CAMERAS} cameras, distractors",
    load=load,
    layout=LAYOUT,
    input_size=INPUT_SIZE,
    budget=CPU_BUDGET,
    pretrained_default=True,
    pretrained_source="synthetic",
)

SHIFT_PROTOCOL = ProtocolSpec(
    name=SHIFT.name,
    task="reid",
    title="Synthetic pedestrians, shifted domain (embedded, generated on first use)",
    split=f"{NUM_TRAIN_IDS} train ids / {NUM_TEST_IDS} test ids, none of synthetic's, {len(SHIFT_CAMERAS)} other "
          "cameras (lighting, colour casts, low resolution, blur), indoor backgrounds, distractors",
    load=load_shift,
    layout=LAYOUT.replace("<root>/synthetic/", f"<root>/{SHIFT.name}/"),
    input_size=INPUT_SIZE,
    budget=CPU_BUDGET,
    pretrained_default=True,
    pretrained_source="synthetic",
)
