"""Use a trained model outside the benchmark: rebuild it from its run folder, extract features for your own
images, search a gallery, evaluate saved features.

The Python API (exported from ``reid_bench``)::

    from reid_bench import load_model, extract_features
    model = load_model("runs/baseline/full/synthetic/paper/seed0")      # or that folder's model.pt
    features = extract_features(model, ["a.jpg", "b.jpg"])              # (2, D) float32 numpy array

:func:`load_model` reads the ``run.json`` that ``reid-bench run`` writes beside ``model.pt`` (method,
variant, protocol, recipe, number of classes, input size) and rebuilds the model exactly as ``reid-bench
eval`` does; :func:`extract_features` reads images the way the evaluation does (same decoder, same test
transform, same test-time features: sharp_attention's 10-crop included), so its features are the ones
the benchmark's metrics were computed from.

The command line: ``reid-bench extract`` writes a features file, ``reid-bench search`` ranks a gallery's
features for query images, and ``reid-bench eval --features`` computes a protocol's metrics from two
features files. A features file is a NumPy ``.npz`` of plain arrays (read with ``allow_pickle=False``):
``features`` (N, D) float32, ``paths`` (N,) strings and, when written by ``extract``, the ``checkpoint``,
``method``, ``variant`` and ``test_features`` they come from.
"""
import glob
import json
import os

import numpy as np
import torch

from ..data.loaders import read_image
from ..data.transforms import build_test_transform
from ..engine.device import resolve_device
from ..errors import UserError
from ..evaluation.evaluate import test_feature_extractor
from ..experiment.config import recipe_of_document
from ..models.building import build_model
from ..plugin_manager import load_plugins
from ..recipes import resolve_recipe
from ..registry import NAME
from ..run_folder import MODEL_FILE, RECIPE_FILE, RUN_INFO_FILE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
RUN_INFO_KEYS = {"method": str, "variant": str, "protocol": str, "recipe_name": str, "num_classes": int,
                 "input_size": list, "seed": int}


def _read_json(path, expected):
    """The JSON value in ``path``; :class:`UserError` saying it was ``expected`` if it cannot be read."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} ({type(exc).__name__}: {exc}); expected {expected}") from None


def read_run_info(path):
    """A run folder's ``run.json``, checked; :class:`UserError` naming what is wrong."""
    info = _read_json(path, "the run.json that `reid-bench run` wrote")
    if not isinstance(info, dict):
        raise UserError(f"{path} is not a JSON object; expected the run.json that `reid-bench run` wrote")
    wrong = [key for key, kind in RUN_INFO_KEYS.items()
             if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool)]
    if not wrong and (info["num_classes"] < 1 or len(info["input_size"]) != 2
                      or not all(isinstance(v, int) and v >= 1 for v in info["input_size"])):
        wrong = ["num_classes" if info["num_classes"] < 1 else "input_size"]
    wrong += [key for key in ("method", "variant", "protocol", "recipe_name")
              if key not in wrong and not NAME.match(info[key])]
    if "seed" not in wrong and info["seed"] < 0:  # the seed names the run's records
        wrong.append("seed")
    if not isinstance(info.get("overrides") or {}, dict):
        wrong.append("overrides")
    if wrong:
        expected = ", ".join(f"{key} ({kind.__name__})" for key, kind in RUN_INFO_KEYS.items())
        expected += " (names of letters, digits and _ . , + = -; a seed of 0 or more), overrides (object)"
        raise UserError(f"{path} has a missing or bad {', '.join(wrong)}; expected {expected} as `reid-bench run` "
                        "writes them")
    return info


class ReidModel(torch.nn.Module):
    """A trained network with what is needed to use it: ``forward(images)`` gives the test-time features
    of a batch of test-transformed images (B, 3, H, W) -> (B, D), the way the evaluation computes them.

    ``network`` is the plugin's model (eval mode), ``transform`` the test transform (PIL image -> tensor),
    ``input_size`` (H, W); ``method``, ``variant``, ``recipe`` and ``info`` (the run.json) say what it is.
    """

    def __init__(self, network, method, variant, recipe, info, checkpoint, device):
        super().__init__()
        self.network = network
        self.method, self.variant, self.recipe, self.info = method, variant, recipe, info
        self.checkpoint, self.device = checkpoint, device
        self.extractor = test_feature_extractor(method, recipe)
        self.transform = build_test_transform(recipe, recipe.input_size)
        self.eval()

    @property
    def input_size(self):
        return tuple(self.recipe.input_size)

    def forward(self, images):
        return self.extractor(self.network, images)


def _load_state(checkpoint):
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # empty, truncated, not a torch file, or holding more than tensors
        line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(f"cannot read {checkpoint} as a model's weights ({type(exc).__name__}: {line}); expected "
                        "the model.pt that `reid-bench run` wrote") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{checkpoint} is not a model's state dict (names to tensors); expected the model.pt "
                        "that `reid-bench run` wrote")
    return state


def load_model(run_dir_or_model_pt, *, device="auto", plugins=None):
    """The :class:`ReidModel` of a run folder (or of its ``model.pt``), rebuilt from the ``run.json`` beside
    the weights, in eval mode on ``device`` (``cpu``, ``cuda``, ``auto``). ``plugins`` (a loaded plugin set)
    defaults to the installed plugins."""
    if plugins is None:
        plugins = load_plugins()
    path = str(run_dir_or_model_pt)
    checkpoint = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
    info_path = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), RUN_INFO_FILE)
    if not os.path.isfile(checkpoint) or not os.path.isfile(info_path):
        missing = checkpoint if not os.path.isfile(checkpoint) else info_path
        raise UserError(f"{path} is not a run folder or a run's model.pt: {missing} does not exist (expected "
                        "model.pt and run.json side by side, as `reid-bench run` writes them)")
    info = read_run_info(info_path)
    method = plugins.method_of_run(info)
    method.variant(info["variant"])
    trained_on = plugins.datasets.get(info["protocol"])
    recipe = resolve_recipe(method, trained_on, info["recipe_name"], input_size=tuple(info["input_size"]))
    if info.get("overrides"):  # trained with a config's or --set's changes: the recipe.json beside it says which
        document = _read_json(os.path.join(os.path.dirname(info_path), RECIPE_FILE),
                              "the run's recipe.json: run.json says its recipe was overridden, and it holds how")
        recipe = recipe_of_document(recipe, document)
    device = resolve_device(device)
    state = _load_state(checkpoint)
    network = build_model(plugins, method, info["variant"], trained_on, recipe, info["num_classes"],
                          pretrained=False)
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise UserError(f"{checkpoint} does not hold the weights of {method.name} [{info['variant']}] with "
                        f"{info['num_classes']} classes that {info_path} describes ({detail}); expected the "
                        "model.pt of that run") from None
    return ReidModel(network, method, info["variant"], recipe, info, checkpoint, device).to(device)


def image_paths(spec):
    """The image files ``spec`` names: a folder (every image below it, recursively), a glob pattern or one
    file; sorted. :class:`UserError` if there is none."""
    spec = os.path.expanduser(str(spec))
    if os.path.isdir(spec):
        found = [os.path.join(folder, name) for folder, _, names in os.walk(spec) for name in names
                 if name.lower().endswith(IMAGE_EXTENSIONS)]
        where = f"folder {spec}"
    elif os.path.isfile(spec):
        return [spec]
    else:
        found = [path for path in glob.glob(spec, recursive=True) if os.path.isfile(path)]
        where = f"pattern {spec}" if glob.has_magic(spec) else f"{spec} (no such file or folder)"
    if not found:
        raise UserError(f"no images in {where}; expected a folder holding images "
                        f"({', '.join(IMAGE_EXTENSIONS)}), a glob pattern or an image file")
    return sorted(found)


class ImageList(torch.utils.data.Dataset):
    """Paths or PIL images, test-transformed as the evaluation's loaders do."""

    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        image = read_image(os.fspath(item)) if isinstance(item, (str, os.PathLike)) else item.convert("RGB")
        return self.transform(image)


@torch.no_grad()
def extract_features(model, images_or_paths, batch_size=128, device=None, workers=0, progress=False):
    """The (N, D) float32 features of images, as a NumPy array in their order.

    ``images_or_paths``: a folder, a glob pattern or one path (see :func:`image_paths`), or a list of
    paths and PIL images. ``model`` is a :class:`ReidModel` (from :func:`load_model`); ``device`` (``cpu``,
    ``cuda``, ``auto``) moves it there (default: where it is). An image that cannot be decoded raises a
    :class:`UserError` naming it.
    """
    if isinstance(images_or_paths, (str, os.PathLike)):
        items = image_paths(images_or_paths)
    else:
        items = list(images_or_paths)
    if not items:
        raise UserError("no images to extract features from")
    if device is not None:
        model.device = resolve_device(str(device))
        model.to(model.device)
    model.eval()
    loader = torch.utils.data.DataLoader(ImageList(items, model.transform), batch_size=batch_size, shuffle=False,
                                         num_workers=workers, pin_memory=model.device.type == "cuda")
    from tqdm import tqdm

    features = []
    with tqdm(total=len(items), desc="extracting features", unit="img", disable=not progress,
              dynamic_ncols=True) as bar:
        for batch in loader:
            features.append(model(batch.to(model.device)).float().cpu())
            bar.update(len(batch))
    return torch.cat(features).numpy()


def save_features(path, features, paths, model=None):
    """Write a features file (see the module docstring); ``model`` adds where the features come from."""
    extra = {}
    if model is not None:
        extra = {"checkpoint": os.path.abspath(model.checkpoint), "method": model.method.name,
                 "variant": model.variant, "test_features": model.recipe.test_features}
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez(handle, features=np.asarray(features, dtype=np.float32),
                     paths=np.asarray([os.fspath(p) for p in paths], dtype=str),
                     **{key: np.asarray(value, dtype=str) for key, value in extra.items()})
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc}); expected a writable file path") from None


def load_features(path):
    """``(features (N, D) float32, paths (N,) str array, metadata dict)`` of a features file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # missing, not a zip, damaged, or holding pickled objects
        line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(f"cannot read {path} as a features file ({type(exc).__name__}: {line}); expected an .npz "
                        "with `features` (N, D) and `paths` (N,), as `reid-bench extract` writes it") from None
    features, paths = arrays.get("features"), arrays.get("paths")
    if (features is None or paths is None or features.ndim != 2 or paths.ndim != 1 or len(features) != len(paths)
            or len(features) == 0 or not np.issubdtype(features.dtype, np.number) or paths.dtype.kind != "U"):
        raise UserError(f"{path} is not a features file: expected an .npz with `features` (N, D numbers) and "
                        "`paths` (N strings), N >= 1, as `reid-bench extract` writes it")
    metadata = {key: str(value) for key, value in arrays.items() if key not in ("features", "paths")}
    return features.astype(np.float32), paths, metadata


# ----------------------------------------------------------------------------------------------
# searching a gallery's saved features


def query_features(query, checkpoint, plugins, *, gallery_file, device="auto", batch_size=128, workers=2,
                   progress=False):
    """``(features, paths)`` of the query images ``query`` (files, folders or glob patterns, extracted with
    the model of ``checkpoint``, which the features of ``gallery_file`` came from) or of the one features
    file it names (``[".../query.npz"]``, no model needed)."""
    if len(query) == 1 and query[0].endswith(".npz"):
        features, paths, _ = load_features(query[0])
        return features, list(paths)
    if not checkpoint:
        raise UserError(f"{gallery_file} does not say which model made it; pass --checkpoint with that model")
    model = load_model(checkpoint, device=device, plugins=plugins)
    paths = [path for spec in query for path in image_paths(spec)]
    return extract_features(model, paths, batch_size=batch_size, workers=workers, progress=progress), paths


def search(query_features, gallery_features, top=10):
    """``(distances, indices)`` (Q, k) of the ``top`` nearest gallery features of each query: Euclidean
    distance, as the evaluation ranks (torchreid's squared-distance formula, then the square root)."""
    from ..evaluation.ranking import iter_distance_chunks

    k = min(top, len(gallery_features))
    distances, indices = [], []
    for _, _, dist in iter_distance_chunks(torch.as_tensor(query_features), torch.as_tensor(gallery_features),
                                           device="cpu"):
        values, where = dist.topk(k, dim=1, largest=False, sorted=True)
        distances.append(values.clamp_(min=0).sqrt_())
        indices.append(where)
    return torch.cat(distances).numpy(), torch.cat(indices).numpy()
