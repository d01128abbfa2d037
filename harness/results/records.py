"""Result records: one JSON file per run, written atomically.

Schema version 1 (every key always present; ``null`` where not applicable)::

    schema_version   1
    run_id           "<method>-<variant>-<protocol>-<recipe>-seed<seed>-<UTC timestamp>"
    plugin, method, variant, protocol, task ("reid" | "classification"), recipe_name ("paper" | "uniform")
    plugin_distribution  {"name", "version"} of the installed package the plugin comes from ("reid-bench" for
                     the built-in ones), so a missing plugin names what to install; null for a module imported
                     from a folder; absent from records written before it existed
    recipe           the fully resolved Recipe as a dict (stages, optimizer, schedule, input size ...)
    overrides        {path: value}: where the recipe differs from the stock one of its name (a config's
                     recipe / loss_terms sections, ``--set``; :mod:`reid_bench.experiment.config`); {} for none
    seed             int
    metrics          reid: {"mAP","mINP","R1","R5","R10","R20"} in percent (trial mean for multi-trial
                     protocols); classification: {"top1_err","top5_err"} in percent
    metrics_reranked same keys as metrics after k-reciprocal re-ranking, or null
    evaluation       {"evaluator", "num_query", "num_gallery", "num_skipped_queries", "trials", "test_features",
                      "test_time": {"flip", "distance", "aqe": null | {"k", "alpha", "times"},
                                    "rerank": null | {"k1", "k2", "lambda"}}} (re-id; see
                     reid_bench.evaluation.test_time)
    params, flops    ints (FLOPs of one forward at the recipe's input size; null if not measurable)
    backbone         e.g. "resnet50": the method's label for it, else its registered model's name
    input_size       [height, width]
    train            {"epochs", "iterations", "max_iters", "images_per_s", "wall_s"}; max_iters: the
                     ``--max-iters`` cap on iterations per epoch (a smoke run), or null
    eval_wall_s      float
    pretrained       false or a description of where the ImageNet weights came from
    device, amp      "cpu" / "cuda:0", bool
    versions         {"python", "torch", "torchvision", "torchreid", "reid_bench"}
    git_commit       the project's commit or null
    started_at, finished_at   ISO 8601 UTC
    resumed          bool: the run continued from a checkpoint
    run_dir          where checkpoints and TensorBoard logs are
    per_query        re-id: the file beside the record with each query's AP, first-match rank and true
                     matches ("<run_id>.queries.npz", reid_bench.results.per_query); classification: null

:func:`build_record` is the one place a record is made (``reid-bench run``'s and ``reid-bench eval``'s,
:mod:`reid_bench.experiment`), :func:`write_record` writes it, and :func:`read_record` /
:func:`find_record_files` are the one reader (``compare``, ``sweep`` and the leaderboards).
"""
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess

from ..atomic import write_text_atomic
from ..run_folder import file_in

SCHEMA_VERSION = 1
#: the keys a record may hold besides ``schema_version``, ``versions`` and ``git_commit`` (filled in by
#: :func:`build_record`); ``evaluated_checkpoint`` only in the records of ``reid-bench eval``
FIELDS = (
    "run_id", "plugin", "plugin_distribution", "method", "variant", "protocol", "task", "recipe_name", "recipe",
    "overrides", "seed", "metrics", "metrics_reranked", "evaluation", "params", "flops", "backbone", "input_size",
    "train", "eval_wall_s", "pretrained", "device", "amp", "channels_last", "compile", "started_at", "finished_at",
    "wall_s", "resumed", "history", "run_dir", "distributed", "per_query", "trained_on", "tested_on",
    "evaluated_checkpoint",
)


class InvalidRecord(ValueError):
    """A file that is not a usable result record; the message says why."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def library_versions():
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torchreid": _installed_version("torchreid"),
        "reid_bench": _installed_version("reid-bench"),
    }


def _installed_version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit():
    """The commit of the reid-bench checkout this code runs from, or ``None`` (installed copy)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_json_atomic(path, payload):
    """Write ``payload`` as JSON to ``path`` atomically (:mod:`reid_bench.atomic`): a crash never leaves a
    half-written file."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def build_record(**fields):
    """A result record of ``fields`` (keys of :data:`FIELDS`), with the schema version, the library
    versions and the project's git commit filled in."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise TypeError(f"not result record fields: {', '.join(unknown)} (schema version {SCHEMA_VERSION})")
    return {"schema_version": SCHEMA_VERSION, "versions": library_versions(), "git_commit": git_commit(), **fields}


def write_record(results_dir, record):
    """Write a result record as ``<results_dir>/<run_id>.json`` and return the path."""
    record = {"schema_version": SCHEMA_VERSION, **record}
    return write_json_atomic(file_in(results_dir, f"{record['run_id']}.json"), record)


def read_record(path):
    """The JSON document of a record file (checked no further); :class:`InvalidRecord` if it cannot be
    read or is not JSON."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRecord(f"cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRecord("nested too deeply to be a result record") from None


def find_record_files(result_dirs):
    """``(files, missing_dirs)``: the candidate record files (``*.json``, dot-files such as the atomic
    writer's temporary files left out) under ``result_dirs``, recursively, in a stable order (a file
    reached through two overlapping folders is listed once), and the folders that do not exist."""
    files, seen, missing = [], set(), []
    for folder in result_dirs:
        if not os.path.isdir(folder):
            missing.append(folder)
            continue
        for parent, subfolders, names in os.walk(folder):
            subfolders.sort()
            for name in sorted(names):
                path = os.path.join(parent, name)
                if name.startswith(".") or not name.endswith(".json") or os.path.realpath(path) in seen:
                    continue
                seen.add(os.path.realpath(path))
                files.append(path)
    return files, missing


def records_in(folder):
    """``[(path, record)]`` of the readable records (JSON objects) under ``folder``; other files are
    passed over."""
    found = []
    for path in find_record_files([folder])[0]:
        try:
            record = read_record(path)
        except InvalidRecord:
            continue
        if isinstance(record, dict):
            found.append((path, record))
    return found


def evaluation_label(evaluation):
    """How a record was tested, as part of its row's key: ``""`` for the default options (features as
    they are, Euclidean distance, no query expansion, re-ranking with k1 20, k2 6, lambda 0.3 or none:
    the plain metrics do not depend on it), else the options that differ, e.g. ``"flip, cosine, AQE
    k5 alpha3"``. Records written before test-time options were recorded were tested the default way."""
    options = evaluation.get("test_time") if isinstance(evaluation, dict) else None
    if options is None:
        return ""
    if not isinstance(options, dict):
        raise InvalidRecord(f"evaluation.test_time is {options!r}, expected an object")
    parts = []
    if options.get("flip"):
        parts.append("flip")
    if options.get("distance", "euclidean") != "euclidean":
        parts.append(str(options["distance"]))
    aqe = options.get("aqe")
    if isinstance(aqe, dict):
        times = aqe.get("times", 1)
        parts.append(f"AQE k{_text(aqe.get('k'))} alpha{_text(aqe.get('alpha'))}" + (f" x{_text(times)}" if times != 1
                                                                                    else ""))
    rerank = options.get("rerank")
    if isinstance(rerank, dict) and (rerank.get("k1"), rerank.get("k2"), rerank.get("lambda")) != (20, 6, 0.3):
        parts.append(f"re-rank k1 {_text(rerank.get('k1'))} k2 {_text(rerank.get('k2'))} "
                     f"lambda {_text(rerank.get('lambda'))}")
    return ", ".join(parts)


def _text(value):
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
