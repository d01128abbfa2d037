"""Reading result records for the leaderboards: find them, check them, keep one run per seed.

Every ``*.json`` file under the given folders is a candidate (recursively; dot-files such as the
atomic writer's temporary files are not records). A file is used only when it is a result record of a
schema version this reid-bench reads (:data:`~reid_bench.results.records.READABLE_SCHEMA_VERSIONS`)
holding every key the leaderboards read, with values of the right kinds. Anything else (not JSON, a JSON
file of some other tool, another schema version, a record missing keys) is skipped with a reason, never
mixed in.

Runs are grouped by :attr:`Record.group`: everything that changes what was trained (protocol, or
``<trained on>-><tested on>`` for a model tested on another protocol than its training one, plugin,
method, variant, backbone, pretrained weights: none, ImageNet's or the synthetic ones, and the whole
resolved recipe: its name, epochs, batch sizes, input size and a fingerprint of everything else, the
``--max-iters`` cap, mixed precision, and the number of torchrun processes with --sync-bn; a run whose recipe was
overridden by a config or ``--set`` names its overrides) and how it was
tested (the test-time options), so a shortened, resized or from-scratch run never averages with a full
pretrained one, and runs tested differently never do. The number of iterations is not part of it: it
follows from the recipe and the data, up to the P x K sampler's epoch length, which varies a little with
the seed. Smoke runs (any ``--max-iters``) are left off unless asked for. Inside a group each seed counts
once: when several records share a seed (a rerun, or one record copied into two result folders), the run
that finished last is used and the others are reported.
"""
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from typing import NamedTuple, Optional

from ..results.records import (READABLE_SCHEMA_VERSIONS, InvalidRecord, evaluation_label, find_record_files,
                               read_record)
from ..registry import NAME  # protocol names become file names of the pages: registered names only
from ..spec import CLASSIFICATION_METRICS, REID_METRICS

TASK_METRICS = {"reid": REID_METRICS, "classification": CLASSIFICATION_METRICS}
#: metrics every record must have as numbers (the rest may be null)
HEADLINE_METRICS = {"reid": ("mAP", "R1"), "classification": ("top1_err",)}

#: keys of a record (every schema version) that the leaderboards read
REQUIRED_KEYS = (
    "run_id", "method", "variant", "protocol", "task", "recipe_name", "recipe", "seed", "metrics",
    "metrics_reranked", "params", "flops", "backbone", "pretrained", "train", "finished_at",
)

#: the version at the end of a synthetic pretraining's description, "synthetic (... v2)"
SYNTHETIC_VERSION = re.compile(r" v(\d+)\)$")
#: a cross-domain page is named ``<trained on>-><tested on>`` (">" is in no protocol name)
PAIR = "->"


def weights_kind(pretrained):
    """What a record's ``pretrained`` says the run started from: ``"no"`` (false), ``"synthetic vN"``
    (a description starting with ``synthetic`` and ending in the pretraining's version,
    :mod:`reid_bench.models.pretraining`; weights of another version are another starting point) or
    ``"imagenet"`` (any other description, and ``true`` in records older than the synthetic weights)."""
    if pretrained is False:
        return "no"
    if isinstance(pretrained, str) and pretrained.startswith("synthetic"):
        version = SYNTHETIC_VERSION.search(pretrained)
        return f"synthetic v{version.group(1)}" if version else "synthetic"
    return "imagenet"


class SkippedRecord(NamedTuple):
    """A record file left out of the leaderboards and why (unpacks as ``path, reason``)."""

    path: str
    reason: str

    def __str__(self):
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Group:
    """What runs must share to be averaged into one leaderboard row."""

    protocol: str
    method: str
    variant: str
    recipe_name: str
    epochs: int
    backbone: str
    pretrained: str  # "no", "imagenet" or "synthetic vN" (:func:`weights_kind`)
    plugin: str = ""
    batch_size: tuple = ()  # per stage
    input_size: tuple = ()  # (height, width)
    max_iters: Optional[int] = None  # --max-iters: a smoke run
    amp: str = ""  # mixed precision: "", "fp16" or "bf16"
    recipe_fingerprint: str = ""  # of the whole resolved recipe (:func:`recipe_fingerprint`)
    world_size: int = 1  # torchrun processes sharing each batch (:mod:`reid_bench.engine.distributed`)
    sync_bn: bool = False
    test_time: str = ""  # :func:`evaluation_label`: "" for the default test-time options
    overrides: tuple = ()  # ("path=value", ...): where the recipe differs from the stock one


@dataclass(frozen=True)
class Record:
    """The parts of a checked result record the leaderboards use."""

    path: str
    run_id: str
    task: str
    group: Group
    seed: int
    finished_at: str
    metrics: dict
    metrics_reranked: Optional[dict]
    params: Optional[int]
    flops: Optional[int]
    images_per_s: Optional[float]
    cmc: Optional[tuple] = None  # evaluation.cmc: percent at ranks 1, 2, ... (records before it: None)
    per_query: Optional[str] = None  # path of the per-query file beside the record, when it exists
    weights_fingerprint: Optional[str] = None  # of the pretrained weight file (records before it, scratch: None)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metrics(key, metrics, task):
    """The task's metrics as floats; the leaderboard's headline metrics must be numbers, the others
    may be ``null`` (an evaluator without mINP, a gallery too small for R20)."""
    if not isinstance(metrics, dict):
        raise InvalidRecord(f"{key} is {type(metrics).__name__}, expected an object")
    missing = [name for name in TASK_METRICS[task] if name not in metrics]
    if missing:
        raise InvalidRecord(f"{key} lacks {', '.join(missing)} (required for task {task!r})")
    for name in TASK_METRICS[task]:
        value = metrics[name]
        if value is None and name not in HEADLINE_METRICS[task]:
            continue
        if not _is_number(value) or not math.isfinite(value):
            raise InvalidRecord(f"{key}.{name} is {value!r}, expected a finite number")
    return {name: None if metrics[name] is None else float(metrics[name]) for name in TASK_METRICS[task]}


def _check_text(data, key):
    value = data[key]
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{key} is {value!r}, expected a non-empty string")
    return value


def _optional_number(value, key, kind=(int, float)):
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidRecord(f"{key} is {value!r}, expected a number or null")
    return value


def _per_query_path(path, data):
    name = data.get("per_query")
    if not isinstance(name, str) or not name:
        return None
    found = os.path.join(os.path.dirname(os.path.abspath(path)), name)
    return found if os.path.isfile(found) else None


def _recipe_epochs(recipe):
    stages = recipe.get("stages") if isinstance(recipe, dict) else None
    if not isinstance(stages, list) or not stages or not all(
        isinstance(stage, dict) and isinstance(stage.get("epochs"), int) for stage in stages
    ):
        raise InvalidRecord("recipe has no list of stages with integer epochs")
    return sum(stage["epochs"] for stage in stages)


def recipe_fingerprint(recipe):
    """A short hash of a resolved recipe (as a record stores it): equal for equal recipes. Top-level
    settings left empty (``{}``) are not part of it, so a setting added later with an empty default
    (``loss_weights``) keeps the fingerprints of the records written before it."""
    settings = {key: value for key, value in recipe.items() if value != {}}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def _stage_batch_sizes(recipe):
    sizes = tuple(stage.get("batch_size") for stage in recipe["stages"])
    if not all(isinstance(size, int) and not isinstance(size, bool) for size in sizes):
        raise InvalidRecord("recipe has a stage without an integer batch_size")
    return sizes


def _input_size(data):
    size = data.get("input_size", data["recipe"].get("input_size"))
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise InvalidRecord(f"input_size is {size!r}, expected [height, width]")
    return tuple(size)


def _distributed(data):
    """``(world size, sync-bn)`` of a record's ``distributed`` entry (``(1, False)`` in records without one)."""
    entry = data.get("distributed") or {}
    if isinstance(entry, dict):
        world_size, sync_bn = entry.get("world_size", 1), entry.get("sync_bn", False)
        if isinstance(world_size, int) and not isinstance(world_size, bool) and world_size >= 1 \
                and isinstance(sync_bn, bool):
            return world_size, sync_bn
    raise InvalidRecord(f"distributed is {entry!r}, expected an object with world_size >= 1 and sync_bn true or false")


def parse_record(path, data):
    """Check a decoded JSON document and return it as a :class:`Record`; raise
    :class:`InvalidRecord` saying what is wrong otherwise."""
    if not isinstance(data, dict):
        raise InvalidRecord(f"a JSON {type(data).__name__}, not a reid-bench result record")
    if "schema_version" not in data:
        raise InvalidRecord("no schema_version key: not a reid-bench result record")
    version = data["schema_version"]
    if version not in READABLE_SCHEMA_VERSIONS or isinstance(version, bool):
        age = ""
        if _is_number(version):
            age = (" (newer than this reid-bench)" if version > max(READABLE_SCHEMA_VERSIONS)
                   else " (older than this reid-bench)")
        raise InvalidRecord(
            f"schema_version {version!r}{age}: this reid-bench reads schema versions "
            f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))} only; rerun the run or read it with the reid-bench "
            "version that wrote it"
        )
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise InvalidRecord(f"missing keys {', '.join(missing)} (schema version {version} requires them)")
    task = data["task"]
    if task not in TASK_METRICS:
        raise InvalidRecord(f"task is {task!r}, expected one of {', '.join(TASK_METRICS)}")
    protocol = _check_text(data, "protocol")
    if not NAME.match(protocol):
        raise InvalidRecord(f"protocol {protocol!r} is not a protocol name")
    trained_on = data.get("trained_on", protocol)  # records before cross-domain tests: trained where tested
    if not isinstance(trained_on, str) or not NAME.match(trained_on):
        raise InvalidRecord(f"trained_on {trained_on!r} is not a protocol name")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidRecord(f"seed is {seed!r}, expected an integer")
    pretrained = data["pretrained"]
    if not isinstance(pretrained, (bool, str)):
        raise InvalidRecord(f"pretrained is {pretrained!r}, expected false or a description")
    train = data["train"]
    if not isinstance(train, dict) or "images_per_s" not in train:
        raise InvalidRecord("train is not an object with images_per_s")
    max_iters = _optional_number(train.get("max_iters"), "train.max_iters", int)
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise InvalidRecord(f"overrides is {overrides!r}, expected an object of recipe paths and values")
    amp = data.get("amp", False)
    if amp not in (False, True, "fp16", "bf16"):
        raise InvalidRecord(f"amp is {amp!r}, expected false, \"fp16\" or \"bf16\"")
    reranked = data["metrics_reranked"]
    epochs = _recipe_epochs(data["recipe"])
    world_size, sync_bn = _distributed(data)
    weights = data.get("weights_fingerprint")
    if weights is not None and not isinstance(weights, str):
        raise InvalidRecord(f"weights_fingerprint is {weights!r}, expected null or the weight file's hex digest")
    return Record(
        path=path,
        run_id=_check_text(data, "run_id"),
        task=task,
        group=Group(
            protocol=protocol if trained_on == protocol else f"{trained_on}{PAIR}{protocol}",
            method=_check_text(data, "method"),
            variant=_check_text(data, "variant"),
            recipe_name=_check_text(data, "recipe_name"),
            epochs=epochs,
            backbone=_check_text(data, "backbone"),
            pretrained=weights_kind(pretrained),
            plugin=_check_text(data, "plugin") if "plugin" in data else "",
            batch_size=_stage_batch_sizes(data["recipe"]),
            input_size=_input_size(data),
            max_iters=max_iters,
            amp="fp16" if amp is True else (amp or ""),
            recipe_fingerprint=recipe_fingerprint(data["recipe"]),
            world_size=world_size,
            sync_bn=sync_bn,
            test_time=evaluation_label(data.get("evaluation")),
            overrides=tuple(f"{path}={json.dumps(value)}" for path, value in sorted(overrides.items())),
        ),
        seed=seed,
        finished_at=_check_text(data, "finished_at"),
        metrics=_check_metrics("metrics", data["metrics"], task),
        metrics_reranked=None if reranked is None else _check_metrics("metrics_reranked", reranked, task),
        params=_optional_number(data["params"], "params", int),
        flops=_optional_number(data["flops"], "flops", int),
        images_per_s=_optional_number(train["images_per_s"], "train.images_per_s"),
        cmc=_cmc(data.get("evaluation")),
        per_query=_per_query_path(path, data),
        weights_fingerprint=weights,
    )


def _cmc(evaluation):
    """``evaluation.cmc`` as a tuple of floats, ``None`` where the record has none."""
    curve = evaluation.get("cmc") if isinstance(evaluation, dict) else None
    if curve is None:
        return None
    if not isinstance(curve, list) or not all(_is_number(v) and math.isfinite(v) for v in curve):
        raise InvalidRecord("evaluation.cmc is not a list of finite numbers")
    return tuple(float(value) for value in curve)


def one_per_seed(records):
    """``(kept, skipped)``: per group and seed, the run that finished last (then the greatest
    run id) is kept; every other run of that seed is skipped with the reason."""
    chosen = {}
    for record in records:
        key = (record.group, record.seed)
        if key not in chosen or (record.finished_at, record.run_id) > (chosen[key].finished_at, chosen[key].run_id):
            chosen[key] = record
    kept, skipped = [], []
    for record in records:
        winner = chosen[(record.group, record.seed)]
        if record is winner:
            kept.append(record)
        elif record.run_id == winner.run_id:
            skipped.append(SkippedRecord(record.path, f"duplicate of {winner.path} (same run_id)"))
        else:
            skipped.append(SkippedRecord(
                record.path,
                f"seed {record.seed} of this method, variant and recipe is already counted from "
                f"{winner.path}, a run that finished later; one run per seed",
            ))
    return kept, skipped


def load_records(result_dirs, include_smoke=False):
    """``(records, skipped, missing_dirs)`` for the result folders: the usable records (one per
    group and seed), the files left out with their reasons, and the folders that do not exist.
    Smoke runs (``--max-iters``) are left out unless ``include_smoke``."""
    files, missing = find_record_files(result_dirs)
    records, skipped = [], []
    for path in files:
        try:
            record = parse_record(path, read_record(path))
        except InvalidRecord as exc:
            skipped.append(SkippedRecord(path, str(exc)))
            continue
        if record.group.max_iters is not None and not include_smoke:
            skipped.append(SkippedRecord(path, f"a smoke run (--max-iters {record.group.max_iters}), left off the "
                                               "pages unless `reid-bench leaderboard --include-smoke`"))
        else:
            records.append(record)
    records, superseded = one_per_seed(records)
    return records, skipped + superseded, missing
