"""Checkpoints written every epoch (atomically) and read back by ``--resume``.

A checkpoint holds the model, the loss modules (class centres ...), every optimizer, the position in
the schedule (next epoch, stage), the running statistics and the RNG states of Python, NumPy and torch,
so a resumed run continues where the interrupted one stopped.
"""
import os
import random

import numpy as np
import torch

CHECKPOINT_NAME = "checkpoint.pt"


def rng_state():
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir, payload):
    """Write ``payload`` to ``run_dir/checkpoint.pt`` through a temporary file and a rename."""
    path = os.path.join(run_dir, CHECKPOINT_NAME)
    tmp_path = path + ".tmp"
    torch.save(payload, tmp_path)
    os.replace(tmp_path, path)
    return path


def load_checkpoint(run_dir):
    """The checkpoint in ``run_dir`` or ``None``."""
    path = os.path.join(run_dir, CHECKPOINT_NAME)
    if not os.path.isfile(path):
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
