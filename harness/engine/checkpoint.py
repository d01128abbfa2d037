"""Checkpoints written every epoch (atomically) and read back by ``--resume``; a finished run removes its
own (:func:`remove_checkpoint`, unless ``--keep-checkpoint``) and keeps ``model.pt``.

A checkpoint holds the model, the loss modules (class centres ...), every optimizer, the position in
the schedule (next epoch, stage), the running statistics and the RNG states of Python, NumPy and torch,
so a resumed run continues where the interrupted one stopped.

Everything in it is a tensor or a plain Python value (dicts, lists, tuples, numbers, strings), so it is
read with ``torch.load(..., weights_only=True)``: a ``checkpoint.pt`` whose pickle would import or call
anything else (``os.system`` ...) is refused, never executed. A file that cannot be read that way
(damaged, truncated, written by another program or by an older reid-bench) raises
:class:`CheckpointError`, a :class:`~reid_bench.errors.UserError` that names the file and the ways out.
"""
import os
import random

import numpy as np
import torch

from ..atomic import save_torch_atomic
from ..errors import UserError
from ..run_folder import CHECKPOINT_FILE, MODEL_FILE

REQUIRED_KEYS = ("next_epoch", "stage_index", "model", "loss_modules", "optimizer", "loss_optimizers", "scaler",
                 "stats", "rng")


class CheckpointError(UserError):
    """A ``checkpoint.pt`` that cannot be (safely) read as a reid-bench checkpoint."""

    def __init__(self, path, reason):
        self.path, self.reason = path, reason
        super().__init__(
            f"cannot resume from {path}: {reason}; it was not loaded. Either start this run again with "
            f"--overwrite instead of --resume (the file is replaced after the first epoch), or move or delete "
            f"{path} (or put a good copy in its place)"
        )


def rng_state():
    """Python's, NumPy's and torch's (and CUDA's) global RNG states as plain values and tensors."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": random.getstate(),  # (version, tuple of ints, None or float)
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state):
    random.setstate(_as_tuples(state["python"]))
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    """``random.setstate`` wants tuples all the way down."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_checkpoint(run_dir, payload):
    """Write ``payload`` to ``run_dir/checkpoint.pt`` atomically (:mod:`reid_bench.atomic`)."""
    return save_torch_atomic(payload, os.path.join(run_dir, CHECKPOINT_FILE))


def remove_checkpoint(run_dir):
    """Remove ``run_dir/checkpoint.pt`` (if there) once the run has finished: its ``model.pt`` holds the
    weights; the optimizer, schedule and RNG states only served to resume."""
    path = os.path.join(run_dir, CHECKPOINT_FILE)
    if os.path.isfile(path):
        os.remove(path)


def _first_line(exc):
    text = str(exc).strip().splitlines()
    line = text[0].strip() if text else ""
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def load_checkpoint(run_dir):
    """The checkpoint in ``run_dir`` or ``None``; :class:`CheckpointError` if it cannot be read safely."""
    path = os.path.join(run_dir, CHECKPOINT_FILE)
    if not os.path.isfile(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file fails in many ways (zip reader, unpickler, EOF, OS errors)
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = ("it holds objects other than tensors and plain values, which are refused: a file from "
                      "another program or an older reid-bench, or an unsafe one")
        else:
            reason = f"it is damaged or not a checkpoint ({_first_line(exc)})"
        raise CheckpointError(path, reason) from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(path, f"it is not a reid-bench checkpoint (missing {', '.join(missing)})")
    return state


def check_existing_checkpoint(run_dir, *, resume, overwrite):
    """Before a run starts in ``run_dir``: with ``resume``, make sure its checkpoint (if any) can be read;
    with ``overwrite`` alone, never read it (it is replaced); with neither, refuse to start over it. A
    finished run (``model.pt`` without a checkpoint, removed when it finished) is refused unless
    ``overwrite``: ``--resume`` has nothing to continue, and a plain rerun would replace its weights."""
    path = os.path.join(run_dir, CHECKPOINT_FILE)
    if not os.path.isfile(path) and os.path.isfile(os.path.join(run_dir, MODEL_FILE)) and not overwrite:
        raise UserError(f"{run_dir} holds a finished run (its {MODEL_FILE}; the checkpoint goes when a run finishes, "
                        f"unless --keep-checkpoint){': nothing to resume' if resume else ''}; evaluate it again "
                        f"with `reid-bench eval --checkpoint {run_dir}`, or pass --overwrite to train it again")
    if not os.path.isfile(path) or (overwrite and not resume):
        return
    if resume:
        load_checkpoint(run_dir)
        return
    try:
        next_epoch = load_checkpoint(run_dir)["next_epoch"]
    except CheckpointError as exc:
        raise UserError(f"{path} is there but cannot be read ({exc.reason}); pass --overwrite to start this run "
                        "again, or move or delete the file") from None
    raise UserError(f"{run_dir} already holds a checkpoint (epoch {next_epoch}); pass --resume to continue that "
                    "run or --overwrite to start it again")
