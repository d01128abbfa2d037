"""Run folders on disk, the one place for their names: where ``reid-bench run`` puts a run and what it
writes there, read back by ``eval``, ``compare``, ``sweep``, ``visualize`` and :func:`reid_bench.load_model`.

A run's folder is ``<output>/<method>/<variant>/<protocol>/<recipe>/seed<N>`` (:func:`run_folder_parts`;
``trial<K>`` below it for multi-trial protocols); its records go to ``<output>/results``.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import re

from .errors import UserError

CHECKPOINT_FILE = "checkpoint.pt"  # written every epoch until the run finishes (kept with --keep-checkpoint)
MODEL_FILE = "model.pt"  # the trained weights, a state dict
RUN_INFO_FILE = "run.json"  # what the model is: method, variant, protocol, recipe, classes, input size
RECIPE_FILE = "recipe.json"  # the resolved recipe the run was started with
SETTINGS_FILE = "settings.json"  # --max-iters, weights (and their fingerprint), AMP, workers, world size
CONFIG_FILE = "config.yaml"  # the run's experiment config (`reid-bench run --config` runs it again)
LOCK_FILE = ".lock"  # held by the process training in the folder (:func:`run_folder_lock`), removed after
RESULTS_FOLDER = "results"  # beside the run folders under <output>: records and per-query files
#: a run folder's last part, and how many parts lie below ``<output>``
SEED_FOLDER = re.compile(r"seed\d+\Z")
RUN_FOLDER_DEPTH = 5  # method / variant / protocol / recipe / seed<N>


def slug(text):
    """``text`` as one file name: runs of other characters than letters, digits and ``_ . = -`` become
    ``_``, and so does a leading dot, so no name (``..`` included) leaves or hides in its folder."""
    return re.sub(r"^\.", "_", re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)) or "_"


def run_folder_parts(method_name, variant, protocol, recipe_name, seed, overrides=None):
    """The slugged folder names of a run under its output, ``[method, variant, protocol, recipe, seed<N>]``;
    a recipe with overrides (a config's or ``--set``'s, :mod:`reid_bench.experiment.config`) is
    ``<recipe>-set-<hash of the overrides>``, so it never shares the stock recipe's folder (or another
    override's)."""
    if overrides:
        recipe_name += "-set-" + hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    return [slug(part) for part in (method_name, variant, protocol, recipe_name, f"seed{seed}")]


def file_in(folder, name):
    """``folder/name`` for a file we write, where ``name`` comes from data (a record's ``run_id``, a run.json):
    :class:`UserError` unless it is one plain file name, so no name read from a file can write elsewhere."""
    if (not isinstance(name, str) or name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name)
            or any(ord(char) < 32 for char in name)):
        raise UserError(f"refusing to write {name!r} into {folder}: expected one plain file name (no folders, "
                        "no line breaks); the run.json or record it comes from is damaged or crafted")
    return os.path.join(folder, name)


@contextlib.contextmanager
def run_folder_lock(folder):
    """Hold ``folder``'s lock (an ``flock`` on ``folder/.lock`` holding our pid) for the block; a
    :class:`UserError` naming the holder when another process trains there, so two runs never mix their
    checkpoints, records and TensorBoard events. The kernel drops the lock when its process dies."""
    path = os.path.join(folder, LOCK_FILE)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise UserError(f"{folder} is in use by process {holder} (another `reid-bench run` training there); wait "
                        "for it to finish or stop it, or pass another --output") from None
    try:
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        os.unlink(path)
        handle.close()
