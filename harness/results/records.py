"""Result records: one JSON file per run, written atomically.

Schema version 2 (every key always present; ``null`` where not applicable)::

    schema_version   2
    run_id           "<method>-<variant>-<protocol>-<recipe>-seed<seed>-<UTC timestamp>"
    command          the command line the record came from, as a list: ``["reid-bench", "run", ...]`` as
                     ``reid-bench run`` (or ``eval``) received it, ``--config FILE`` and ``--set``s included
                     (one command with several ``--seeds`` writes one record per seed; ``seed`` says which);
                     [] where no command line is known (the Python API)
    plugin, method, variant, protocol, task ("reid" | "classification"), recipe_name ("paper" | "uniform")
    plugin_distribution  {"name", "version"} of the installed package the plugin comes from ("reid-bench" for
                     the built-in ones), so a missing plugin names what to install; null for a module imported
                     from a folder; absent from records written before it existed
    plugins          {plugin name: {"distribution", "version"}} of every plugin loaded (the harness's own
                     "core" included); both null for a module imported from a folder
    recipe           the fully resolved Recipe as a dict (stages, optimizer, schedule, input size ...)
    overrides        {path: value}: where the recipe differs from the stock one of its name (a config's
                     recipe / loss_terms sections, ``--set``; :mod:`reid_bench.experiment.config`); {} for none
    loss_terms       {term: {"loss", "weight", "kwargs", "optimizer"}}: every loss term a stage of the recipe
                     trains with, as resolved (the method's terms, the variant's and recipe's weights and
                     arguments, the loss builder's defaults for the arguments left out: margins, label
                     smoothing ...; :func:`reid_bench.experiment.config.resolved_loss_terms`)
    seed             int
    metrics          reid: {"mAP","mINP","R1","R5","R10","R20"} in percent (trial mean for multi-trial
                     protocols); classification: {"top1_err","top5_err"} in percent
    metrics_reranked same keys as metrics after k-reciprocal re-ranking, or null
    evaluation       {"evaluator", "num_query", "num_gallery", "num_skipped_queries", "trials", "test_features",
                      "test_time": {"flip", "distance", "aqe": null | {"k", "alpha", "times"},
                                    "rerank": null | {"k1", "k2", "lambda"}}} (re-id; see
                     reid_bench.evaluation.test_time)
    data_fingerprint 16 hex digits of sha256 over the tested protocol's split lists (every trial's train,
                     query, gallery and multi-query pool: sorted image paths relative to the split's common
                     folder, with identity and camera; :func:`data_fingerprint`): the same number means the
                     same split wherever the dataset lives; null for classification (image arrays)
    params, flops    ints (FLOPs of one forward at the recipe's input size; null if not measurable)
    backbone         e.g. "resnet50": the method's label for it, else its registered model's name
    input_size       [height, width]
    train            {"epochs", "iterations", "max_iters", "images_per_s", "wall_s"}; max_iters: the
                     ``--max-iters`` cap on iterations per epoch (a smoke run), or null
    eval_wall_s      float
    pretrained       false or a description of where the pretrained weights came from (false when the model loaded
                     none of the weights it was given)
    pretrained_tensors  how many tensors (parameters and buffers) the model took from its pretrained weight
                     files, 0 from scratch; null in eval records of run folders written before it existed
    weights_fingerprint  16 hex digits of sha256 of the pretrained weight file the backbone was loaded from
                     (ImageNet's or the cached synthetic pretraining; several files' joined by "+"), null from
                     scratch (:func:`weights_fingerprint`)
    device, amp      "cpu" / "cuda:0", bool
    environment      {"host", "platform", "cpu" (model name or null), "cpu_count", "torch_threads", "gpu" (the
                     name of the run's CUDA device, null on the CPU), "cuda" (torch's CUDA version, null on
                     the CPU)} (:func:`environment`)
    versions         {"python", "torch", "torchvision", "torchreid", "reid_bench"}
    git              {"commit", "dirty"}: the commit of the git checkout reid_bench runs from and whether its
                     tracked files had uncommitted changes; both null when it is no git checkout (an installed
                     copy) (:func:`git_state`). Version 1 records hold ``git_commit`` (the commit or null)
                     instead; version 2 has ``git.commit`` only (nothing reads either key)
    started_at, finished_at   ISO 8601 UTC
    resumed          bool: the run continued from a checkpoint
    run_dir          where the run's model.pt, TensorBoard logs and (until it finished, or with
                     ``--keep-checkpoint``) checkpoint.pt are
    per_query        re-id: the file beside the record with each query's AP, first-match rank and true
                     matches ("<run_id>.queries.npz", reid_bench.results.per_query); classification: null

Records of :data:`READABLE_SCHEMA_VERSIONS` are read (version 1 lacks ``command``, ``plugins``,
``loss_terms``, ``data_fingerprint``, ``weights_fingerprint``, ``pretrained_tensors``, ``environment`` and ``git``).

:func:`build_record` is the one place a record is made (``reid-bench run``'s and ``reid-bench eval``'s,
:mod:`reid_bench.experiment`), :func:`write_record` writes it, and :func:`read_record` /
:func:`find_record_files` are the one reader (``compare``, ``sweep`` and the leaderboards).
"""
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess

from ..atomic import write_text_atomic
from ..run_folder import file_in
from ..spec import ReidSplits

SCHEMA_VERSION = 2
#: the schema versions the readers (leaderboard, compare, sweep) take: every later version only adds keys
READABLE_SCHEMA_VERSIONS = (1, 2)
#: the keys a record may hold besides ``schema_version``, ``versions``, ``git`` and ``environment`` (filled in by
#: :func:`build_record`); ``evaluated_checkpoint`` only in the records of ``reid-bench eval``
FIELDS = (
    "run_id", "command", "plugin", "plugin_distribution", "plugins", "method", "variant", "protocol", "task",
    "recipe_name", "recipe", "overrides", "loss_terms", "seed", "metrics", "metrics_reranked", "evaluation",
    "data_fingerprint", "params", "flops", "backbone", "input_size", "train", "eval_wall_s", "pretrained",
    "pretrained_tensors", "weights_fingerprint", "device", "amp", "channels_last", "compile", "started_at",
    "finished_at", "wall_s", "resumed", "history", "run_dir", "distributed", "per_query", "trained_on", "tested_on",
    "evaluated_checkpoint",
)
#: hex digits kept of a sha256 fingerprint: 64 bits, enough to tell files and splits apart
FINGERPRINT_DIGITS = 16


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


def source_folder():
    """The folder reid_bench's code runs from (``harness/`` of a git checkout, or an installed copy)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*arguments):
    """The output of ``git ARGUMENTS`` run in :func:`source_folder`, or ``None`` when git fails there."""
    try:
        out = subprocess.run(["git", *arguments], cwd=source_folder(), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state():
    """``{"commit", "dirty"}`` of the git checkout reid_bench runs from: its ``HEAD`` commit, and whether its
    tracked files differ from it (staged or not; untracked files do not count); both ``None`` when the code
    is not in a git checkout (an installed copy)."""
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    changes = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if changes is None else bool(changes.strip())}


def _cpu_model():
    """The CPU's model name (Linux's ``/proc/cpuinfo``, else what Python's platform module knows), or ``None``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def environment(device):
    """Where a run on ``device`` (``"cpu"``, ``"cuda:0"`` ...) ran: host name, operating system, CPU model and
    count, torch's intra-op threads, and for a CUDA device its name and torch's CUDA version (``None`` on
    the CPU): what decides speed, and on the CPU the order of float sums."""
    import torch

    gpu = str(device).startswith("cuda")
    return {"host": platform.node() or None, "platform": platform.platform(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(torch.device(device)) if gpu else None,
            "cuda": torch.version.cuda if gpu else None}


def data_fingerprint(trials):
    """The record's ``data_fingerprint`` of a protocol's re-id splits (one :class:`~reid_bench.spec.ReidSplits`
    per trial): sha256 over each split list (train, query, gallery, the multi-query pool where there is one)
    as sorted ``(image path relative to the folder all the split's images share, pid, camid)``, no image
    read; ``None`` for classification splits (images held as arrays)."""
    digest = hashlib.sha256()
    for splits in trials:
        if not isinstance(splits, ReidSplits):
            return None
        lists = {name: getattr(splits, name) for name in ("train", "query", "gallery", "query_pool")
                 if getattr(splits, name) is not None}
        paths = [item[0] for items in lists.values() for item in items]
        common = os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths]) if paths else ""
        document = {name: sorted([os.path.relpath(os.path.abspath(item[0]), common), int(item[1]), int(item[2])]
                                 for item in items) for name, items in lists.items()}
        digest.update(json.dumps(document, sort_keys=True).encode())
    return digest.hexdigest()[:FINGERPRINT_DIGITS]


def weights_fingerprint(paths):
    """The record's ``weights_fingerprint`` of the pretrained weight files a model was loaded from (in
    loading order, each once): each file's sha256, joined by ``+``; ``None`` for none (from scratch)."""
    fingerprints = []
    for path in dict.fromkeys(paths):
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        fingerprints.append(digest.hexdigest()[:FINGERPRINT_DIGITS])
    return "+".join(fingerprints) or None


def pretrained_field(described, tensors):
    """The record's ``pretrained``: ``described`` (where the weights training was given came from, ``False``
    for none) unless the model took none of their tensors (``tensors`` 0: its builder ignored them); ``None``
    tensors (a run folder written before they were counted) keeps ``described``."""
    return described if tensors != 0 else False


def write_json_atomic(path, payload):
    """Write ``payload`` as JSON to ``path`` atomically (:mod:`reid_bench.atomic`): a crash never leaves a
    half-written file."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def build_record(**fields):
    """A result record of ``fields`` (keys of :data:`FIELDS`, ``device`` among them), with the schema
    version, the library versions, the git state of the code and the environment filled in."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise TypeError(f"not result record fields: {', '.join(unknown)} (schema version {SCHEMA_VERSION})")
    return {"schema_version": SCHEMA_VERSION, "versions": library_versions(), "git": git_state(),
            "environment": environment(fields["device"]), **fields}


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


def format_metrics(metrics):
    """``metrics`` (name -> number or None) on one line, e.g. ``mAP 61.2, R1 80.5``, for logs and listings."""
    return ", ".join(f"{name} {'-' if value is None else format(value, 'g')}" for name, value in metrics.items())


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
