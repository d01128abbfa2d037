"""Result records: one JSON file per run, written atomically.

Schema version 1 (every key always present; ``null`` where not applicable)::

    schema_version   1
    run_id           "<method>-<variant>-<protocol>-<recipe>-seed<seed>-<UTC timestamp>"
    plugin, method, variant, protocol, task ("reid" | "classification"), recipe_name ("paper" | "uniform")
    recipe           the fully resolved Recipe as a dict (stages, optimizer, schedule, input size ...)
    overrides        {path: value}: where the recipe differs from the stock one of its name (a config's
                     recipe / loss_terms sections, ``--set``; :mod:`reid_bench.config`); {} for none
    seed             int
    metrics          reid: {"mAP","mINP","R1","R5","R10","R20"} in percent (trial mean for multi-trial
                     protocols); classification: {"top1_err","top5_err"} in percent
    metrics_reranked same keys as metrics after k-reciprocal re-ranking, or null
    evaluation       {"evaluator", "num_query", "num_gallery", "num_skipped_queries", "trials", "test_features",
                      "test_time": {"flip", "distance", "aqe": null | {"k", "alpha", "times"},
                                    "rerank": null | {"k1", "k2", "lambda"}}} (re-id; see
                     reid_bench.evaluation.test_time)
    params, flops    ints (FLOPs of one forward at the recipe's input size; null if not measurable)
    backbone         e.g. "resnet50"
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
                     matches ("<run_id>.queries.npz", reid_bench.per_query); classification: null
"""
import datetime
import json
import os
import platform
import subprocess

from ..atomic import write_text_atomic

SCHEMA_VERSION = 1


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def library_versions():
    import torch
    import torchvision

    from .. import __version__

    try:
        import importlib.metadata

        torchreid_version = importlib.metadata.version("torchreid")
    except importlib.metadata.PackageNotFoundError:
        torchreid_version = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torchreid": torchreid_version,
        "reid_bench": __version__,
    }


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


def write_record(results_dir, record):
    """Write a result record as ``<results_dir>/<run_id>.json`` and return the path."""
    record = {"schema_version": SCHEMA_VERSION, **record}
    return write_json_atomic(os.path.join(results_dir, f"{record['run_id']}.json"), record)
