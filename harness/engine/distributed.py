"""Training on several processes with DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc_per_node=N [--nnodes ...] -m reid_bench run ...`` starts N processes per node and
tells each its place through the environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). :func:`setup` reads it and joins the process group: NCCL when the run is on CUDA (one
GPU per local rank), gloo on the CPU. Without ``torchrun`` nothing changes: world size 1, no process
group, and every helper here does what the single process did.

What a distributed run changes, and why:

- The recipe's batch is the *global* batch. Every rank draws the same index stream (seeded from the
  run's seed and the epoch, whatever else each rank's random generators did), cuts it into global
  batches and keeps its own contiguous share of each (:class:`RankShare`). A sampler's stream is made of
  units that must stay together on one rank, its ``batch_unit`` (a P x K sampler's K images of one
  identity, a pair sampler's two images of a pair), so each rank gets whole identities or whole pairs;
  a batch that does not split that way is a :class:`~reid_bench.errors.UserError`.
- The model and the loss modules are wrapped together in DDP (:func:`Distributed.objective`), so the
  gradients of loss-owned parameters (MSReID's class centres) are averaged like the model's and every
  replica stays identical. ``find_unused_parameters`` is turned on only for a stage whose active loss
  terms are a subset of the method's, the case where a head or a loss module gets no gradient.
- Rank 0 writes (checkpoints, TensorBoard, ``model.pt``, the record) and evaluates; the other ranks wait
  at a barrier, so the metrics are those of one process on the final weights.
- ``--sync-bn`` converts BatchNorm to SyncBatchNorm (CUDA only); without it each rank's BatchNorm
  normalises its own share of the batch, and DDP copies rank 0's running statistics to the other ranks
  at every step.
"""
import atexit
import contextlib
import datetime
import hashlib
import os
import random
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from ..errors import UserError

#: How long a rank waits for the others at a collective: long enough for rank 0 to evaluate a large
#: protocol (MSMT17 with re-ranking) while the others wait at the barrier.
TIMEOUT = datetime.timedelta(hours=4)

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun(environ=os.environ):
    """Whether this process was started by ``torchrun`` (or another launcher setting its variables)."""
    return all(name in environ for name in TORCHRUN_VARIABLES)


@dataclass
class Distributed:
    """This process's place in the run: ``rank`` of ``world_size``, its ``device``, the ``backend``
    (``None`` outside torchrun) and whether BatchNorm is synchronised."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: Optional[str] = None
    sync_bn: bool = False
    device: torch.device = torch.device("cpu")

    @property
    def active(self):
        """A process group is up (under torchrun, even with world size 1)."""
        return self.backend is not None

    @property
    def is_main(self):
        """Rank 0: the process that writes and evaluates."""
        return self.rank == 0

    def log(self, log):
        """``log`` on rank 0; the other ranks stay quiet (their lines would repeat rank 0's)."""
        return log if self.is_main else _quiet

    def barrier(self):
        """Wait until every rank is here (nothing to wait for outside torchrun)."""
        if self.active:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first (generating a dataset, pretraining weights into the cache), then the
        other ranks do, finding its work done."""
        if not self.is_main:
            self.barrier()
        try:
            yield
        finally:
            if self.is_main:
                self.barrier()

    def from_main(self, function, *args):
        """``function(*args)`` computed on rank 0 and sent to every rank (a checkpoint read by rank 0)."""
        if not self.active:
            return function(*args)
        box = [function(*args) if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value):
        """``[value of rank 0, value of rank 1, ...]`` on every rank (picklable values)."""
        if not self.active:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def average(self, values):
        """The scalar tensors ``values`` as floats averaged over the ranks, so every rank logs and checks the
        same numbers (a non-finite loss on one rank stops them all, where one rank alone would leave the
        others waiting)."""
        if self.world_size == 1:
            return [value.item() for value in values]
        stacked = torch.stack([value.detach().double() for value in values])
        dist.all_reduce(stacked)
        return (stacked / self.world_size).tolist()

    def rank_seed(self, seed):
        """The seed of this rank's own randomness (augmentations, dropout) in a run with ``seed``: ``seed``
        on rank 0, a different one (a mix of both) on every other rank."""
        if self.rank == 0:
            return seed
        return int(np.random.SeedSequence([seed % 2**64, self.rank]).generate_state(1, dtype=np.uint64)[0])

    def seed_rank(self, seed):
        """Under torchrun with several ranks, seed this process's global generators with :meth:`rank_seed`,
        so the ranks draw different augmentations and dropout masks (the model was built, identically,
        before)."""
        if self.world_size > 1:
            value = self.rank_seed(seed)
            random.seed(value)
            np.random.seed(value % 2**32)
            torch.manual_seed(value)

    # -- the model ----------------------------------------------------------------------------------
    def prepare_model(self, model):
        """``model`` with SyncBatchNorm layers when ``--sync-bn`` (the same module object, its parameters
        kept, so optimizers and state dicts are unaffected)."""
        if self.sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return model

    def objective(self, model, loss_modules, losses, find_unused_parameters=False):
        """A callable ``(images, targets) -> {term: loss}`` running ``losses(model(images), targets)``; under
        torchrun the model and ``loss_modules`` are wrapped together in one DDP module, whose construction
        also copies rank 0's parameters and buffers to every rank."""
        if not self.active:
            return lambda images, targets: losses(model(images), targets)
        from torch.nn.parallel import DistributedDataParallel

        module = _ModelAndLosses(model, loss_modules, losses)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused_parameters)

    def parameters_identical(self, *modules):
        """Whether every rank holds bit-identical parameters in ``modules`` (``None`` outside torchrun)."""
        if not self.active:
            return None
        digest = hashlib.sha256()
        for module in modules:
            for name, parameter in module.named_parameters():
                digest.update(name.encode())
                digest.update(parameter.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return len(set(self.gather(digest.hexdigest()))) == 1

    # -- the data -----------------------------------------------------------------------------------
    def share(self, sampler, batch_size, seed):
        """``(sampler, per-rank batch size)``: outside torchrun ``sampler`` itself; under it this rank's
        :class:`RankShare` of it."""
        if not self.active:
            return sampler, batch_size
        shared = RankShare(sampler, batch_size, self.rank, self.world_size, seed)
        return shared, shared.per_rank

    def describe(self, recipe):
        """The record's ``distributed`` entry: world size, backend, sync-bn, global and per-rank batch of
        every stage."""
        sizes = [stage.batch_size for stage in recipe.stages]
        return {"world_size": self.world_size, "backend": self.backend, "sync_bn": self.sync_bn,
                "global_batch_size": sizes, "per_rank_batch_size": [size // self.world_size for size in sizes]}


def _quiet(*args, **kwargs):
    """The log of a rank other than 0."""


class _ModelAndLosses(torch.nn.Module):
    """The model and its loss modules as one module, so that DDP averages the gradients of both."""

    def __init__(self, model, loss_modules, losses):
        super().__init__()
        self.model, self.loss_modules, self.losses = model, loss_modules, losses

    def forward(self, images, targets):
        return self.losses(self.model(images), targets)


def batch_unit(sampler):
    """How many consecutive indices of ``sampler``'s stream belong together on one rank: its
    ``batch_unit`` attribute, else a P x K sampler's ``num_instances`` (torchreid's
    :class:`RandomIdentitySampler`), else 1."""
    return int(getattr(sampler, "batch_unit", getattr(sampler, "num_instances", 1)))


@contextlib.contextmanager
def seeded_generators(seed):
    """Python's, NumPy's and torch's global generators seeded with ``seed`` inside the block and given back
    their states after it, so the samplers, which draw from them, give every rank the same stream."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


class RankShare(Sampler):
    """Rank ``rank``'s share of every global batch of ``sampler``: the epoch's stream is drawn with the
    generators seeded from ``(seed, epoch)`` (the same on every rank), cut into batches of
    ``batch_size`` (the last partial one dropped) and each batch into ``world_size`` contiguous shares
    of ``batch_size / world_size`` indices, whole units (:func:`batch_unit`) each."""

    def __init__(self, sampler, batch_size, rank, world_size, seed):
        unit = batch_unit(sampler)
        if batch_size % world_size or (batch_size // world_size) % unit:
            what = {1: "images", 2: "pairs"}.get(unit, f"identities of {unit} images")
            raise UserError(
                f"batch size {batch_size} ({batch_size // unit} {what}) does not split into {world_size} equal "
                f"shares of whole {what.split(' of ')[0]} for {world_size} processes; use a global batch size "
                f"that is a multiple of {world_size * unit} (--batch-size) or another --nproc_per_node")
        self.sampler, self.batch_size, self.rank, self.world_size = sampler, batch_size, rank, world_size
        self.per_rank, self.seed, self.epoch = batch_size // world_size, seed, 0

    def set_epoch(self, epoch):
        """Draw epoch ``epoch``'s stream next (called before each epoch)."""
        self.epoch = epoch

    def global_batches(self):
        """The epoch's global batches, as every rank sees them."""
        from ..data.loaders import epoch_seed

        with seeded_generators(epoch_seed(self.seed, self.epoch)):
            stream = list(self.sampler)
        return [stream[start:start + self.batch_size]
                for start in range(0, len(stream) - self.batch_size + 1, self.batch_size)]

    def __iter__(self):
        start = self.rank * self.per_rank
        for batch in self.global_batches():
            yield from batch[start:start + self.per_rank]

    def __len__(self):
        return len(self.sampler) // self.batch_size * self.per_rank


def setup(device, sync_bn=False, environ=os.environ):
    """This process's :class:`Distributed`, joining the process group when launched by torchrun (once per
    process; :func:`leave` leaves it). ``device`` is the resolved ``--device``: on CUDA each rank takes the GPU of
    its local rank, NCCL; on the CPU, gloo. ``--sync-bn`` needs torchrun and CUDA."""
    if not launched_by_torchrun(environ):
        if sync_bn:
            raise UserError("--sync-bn synchronises BatchNorm across the processes of a torchrun launch; this run "
                            "is a single process (launch it with torchrun, or drop --sync-bn)")
        return Distributed(device=device)
    rank, local_rank, world_size = (int(environ[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"local rank {local_rank} has no GPU of its own ({torch.cuda.device_count()} visible); "
                            "start at most one process per GPU (--nproc_per_node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif sync_bn:
        raise UserError("--sync-bn needs CUDA (SyncBatchNorm has no CPU implementation); drop it on the CPU, where "
                        "each process's BatchNorm normalises its own share of the batch")
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=TIMEOUT,
                                device_id=device if device.type == "cuda" else None)
        atexit.register(leave)  # a run that fails or is interrupted leaves at exit
    return Distributed(rank=rank, local_rank=local_rank, world_size=world_size, backend=backend, sync_bn=sync_bn,
                       device=device)


def leave():
    """Leave the process group this process joined (nothing outside torchrun). Every rank calls it once its
    runs are done: each run ends with all ranks at one barrier after rank 0 wrote its records
    (:func:`reid_bench.experiment.runs.run`), so the ranks tear their gloo connections and threads down
    together, none while another still runs, and before the interpreter's own teardown (a process group
    left to interpreter exit can abort with ``terminate called without an active exception``)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def end_other_rank(environ=os.environ):
    """End this process now if it is a torchrun rank other than 0 (else return): called once its runs are
    done and it has left the process group. Its output is flushed and it exits with status 0 without the
    interpreter's teardown, where such a rank (never rank 0) aborted about one run in twenty on 2 loaded
    cores, after rank 0 had printed its results (``terminate called without an active exception``: a C++
    thread destroyed while joinable), so torchrun reported a finished run as failed. Nothing is left to
    write on these ranks."""
    if not launched_by_torchrun(environ) or int(environ["RANK"]) == 0:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
