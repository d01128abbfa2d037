"""Training throughput of every method: the full trainer against its model-only step, and the baseline
against torchreid's own engine, on the embedded synthetic data, in one run.

For each method (its paper recipe resolved on ``synthetic`` at ``--batch-size`` and ``--input-size``):

- trainer: reid-bench's :class:`~reid_bench.engine.Trainer` as ``reid-bench run`` uses it (sampler, loader
  workers, augmentation, TensorBoard logging, every loss term), images/s of its second epoch (the first
  warms up), data loading included;
- model-only: the trainer's own training step (forward, weighted loss terms, backward, optimizer steps)
  repeated on one batch already in memory: the ceiling the data pipeline can reach;
- pipeline efficiency: trainer / model-only.

For the baseline also: torchreid's :class:`ImageTripletEngine` training the same ResNet-50 baseline
(same model, optimizer, losses and weights, batch and P x K sampling) from torchreid's own data manager on
the same images (the peer anchor), and the batch-hard triplet loss at batch 256 x 2048 (forward and
backward), reid-bench's batched one against torchreid's ``TripletLoss``. Parameters and FLOPs of one
eval-mode forward come from torchreid's counter. The baseline's measurements, the summary's figures,
are repeated ``--rounds`` times, interleaved, and the best is kept (other processes on a shared machine
only ever slow a round down); the other methods are measured once.

    python benchmarks/train_throughput.py --input-size 64 32 --batch-size 32
    python benchmarks/train_throughput.py --methods baseline ccan --device cuda --amp bf16 --channels-last

The last line printed is one JSON object with every figure; ``baseline`` holds ``pipeline_efficiency``,
``torchreid_ratio`` (reid-bench trainer / torchreid engine) and ``triplet_speedup``; on CUDA each row has
its peak GPU memory (``peak_gpu_mib``).
"""
import argparse
import itertools
import json
import statistics
import tempfile
import time

import torch

from reid_bench.data.loaders import default_workers, seed_epoch
from reid_bench.engine import Trainer
from reid_bench.engine.optim import build_optimizer
from reid_bench.engine.tracking import TensorBoardTracker
from reid_bench.models.losses import batch_hard_triplet
from reid_bench.plugin_manager import load_plugins
from reid_bench.recipes import resolve_recipe
from reid_bench.models.building import model_complexity


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class Setup:
    """A method's model, recipe and trainer on the synthetic splits, as ``reid-bench run`` builds them."""

    def __init__(self, plugins, name, splits, args, device, run_dir, max_iters):
        self.method = plugins.method_for_plugin(name)
        self.variant = self.method.default_variant
        protocol = plugins.datasets.get("synthetic")
        stock = resolve_recipe(self.method, protocol, "paper", epochs=2, input_size=tuple(args.input_size))
        # the largest batch up to --batch-size that the method's P x K (or pair) sampler can serve
        unit = max(int(stage.sampler.kwargs.get("num_instances", 1)) for stage in stock.stages)
        self.batch_size = max(unit, args.batch_size // unit * unit)
        self.recipe = resolve_recipe(self.method, protocol, "paper", epochs=2, batch_size=self.batch_size,
                                     input_size=tuple(args.input_size))
        self.model = plugins.models.get(self.method.model)(
            splits.num_train_pids, task="reid", input_size=tuple(self.recipe.input_size), pretrained=False,
            **self.method.model_kwargs_for(self.variant)).to(device)
        self.trainer = Trainer(model=self.model, method=self.method, variant=self.variant, recipe=self.recipe,
                               plugins=plugins, splits=splits, num_classes=splits.num_train_pids, device=device,
                               run_dir=run_dir, amp=args.amp, channels_last=args.channels_last,
                               compile=args.compile, workers=args.workers, max_iters=max_iters, progress=False,
                               log=lambda *_: None)


def trainer_images_per_s(plugins, name, splits, args, device):
    """The full trainer's images/s over its second epoch of ``--iters`` iterations."""
    with tempfile.TemporaryDirectory() as run_dir:
        # with TensorBoard logging, as `reid-bench run` trains by default
        stats = Setup(plugins, name, splits, args, device, run_dir, max_iters=args.iters).trainer.fit(
            tracker=TensorBoardTracker())
    return stats.epoch_images_per_s[-1]


def model_only_images_per_s(plugins, name, splits, args, device):
    """The trainer's step on one in-memory batch, ``--warmup`` then ``--iters`` timed steps; also
    ``(params, flops)``."""
    with tempfile.TemporaryDirectory() as run_dir:
        setup = Setup(plugins, name, splits, args, device, run_dir, max_iters=None)
        trainer = setup.trainer
        # the trainer's own stage set-up and step (Trainer.fit without the loop over the loader)
        trainer.forward = trainer.acceleration.prepare_model(setup.model)
        trainer._enter_stage(0, setup.recipe.stages[0])
        seed_epoch(trainer.loader, 0, 0)
        batch = next(iter(trainer.loader))
        trainer.loader = None
        batch = {key: value.to(device) if torch.is_tensor(value) else value for key, value in batch.items()}
        setup.model.train()
        if setup.method.on_epoch_start is not None:
            setup.method.on_epoch_start(setup.model, 0, setup.recipe)
        for _ in range(args.warmup):
            trainer._step(batch)
        _sync(device)
        start = time.perf_counter()
        for _ in range(args.iters):
            trainer._step(batch)
        _sync(device)
        speed = batch["img"].size(0) * args.iters / (time.perf_counter() - start)
        return speed, model_complexity(setup.model, setup.recipe.input_size, device), setup.variant


class _TrainOutputs(torch.nn.Module):
    """The baseline as torchreid's triplet engine calls it: ``(logits, features)`` in train mode."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images):
        outputs = self.model(images)
        return (outputs["logits"], outputs["embedding"]) if self.training else outputs


class _Limited:
    """The first ``iters`` batches of a loader (a fresh iterator each epoch, like the loader)."""

    def __init__(self, loader, iters):
        self.loader, self.iters = loader, iters

    def __len__(self):
        return min(self.iters, len(self.loader))

    def __iter__(self):
        return itertools.islice(iter(self.loader), len(self))


def torchreid_images_per_s(plugins, splits, args, device):
    """torchreid's ``ImageTripletEngine`` on the baseline: its own data manager (RandomIdentitySampler,
    flip and random erasing, as many workers), its losses (label-smoothed softmax + batch-hard triplet,
    weights 1 and 1, margin 0.3, as the baseline's terms); the second epoch of ``--iters`` is timed."""
    import torchreid

    from reid_bench.datasets.synthetic import default_root

    with tempfile.TemporaryDirectory() as run_dir:
        setup = Setup(plugins, "baseline", splits, args, device, run_dir, max_iters=None)
    stage = setup.recipe.stages[0]
    manager = torchreid.data.ImageDataManager(
        root=default_root(), sources="synthetic", height=args.input_size[0], width=args.input_size[1],
        transforms=["random_flip", "random_erase"], batch_size_train=args.batch_size, workers=args.workers,
        train_sampler="RandomIdentitySampler", num_instances=stage.sampler.kwargs.get("num_instances", 4),
        use_gpu=device.type == "cuda")
    terms = {term.name: term for term in setup.method.loss_terms_for(setup.variant, setup.recipe)}
    engine = torchreid.engine.ImageTripletEngine(
        manager, _TrainOutputs(setup.model), build_optimizer(stage.optimizer, list(setup.model.parameters())),
        margin=terms["triplet"].kwargs["margin"], weight_t=terms["triplet"].weight,
        weight_x=terms["softmax"].weight, use_gpu=device.type == "cuda",
        label_smooth=terms["softmax"].kwargs.get("label_smooth", 0) > 0)
    engine.train_loader = _Limited(manager.train_loader, args.iters)
    engine.max_epoch = 2
    engine.train(print_freq=10**9)  # warm-up epoch
    _sync(device)
    start = time.perf_counter()
    engine.train(print_freq=10**9)
    _sync(device)
    return args.batch_size * len(engine.train_loader) / (time.perf_counter() - start)


def triplet_speedup(device, batch=256, dim=2048, reps=10):
    """Forward + backward time of torchreid's ``TripletLoss`` over the batched loss, and their values."""
    from torchreid.reid.losses import TripletLoss

    torch.manual_seed(0)
    embeddings = torch.randn(batch, dim, device=device)
    targets = torch.arange(batch // 4, device=device).repeat_interleave(4)
    reference = TripletLoss(margin=0.3)

    def timed(loss_fn):
        inputs = embeddings.clone().requires_grad_()
        times, value = [], None
        for rep in range(reps + 2):
            _sync(device)
            start = time.perf_counter()
            value = loss_fn(inputs, targets)
            value.backward()
            _sync(device)
            if rep >= 2:
                times.append(time.perf_counter() - start)
        return statistics.median(times), value.item()

    theirs, their_value = timed(reference)
    ours, our_value = timed(lambda x, t: batch_hard_triplet(x, t, 0.3))
    return {"batch": batch, "dim": dim, "torchreid_ms": theirs * 1e3, "batched_ms": ours * 1e3,
            "speedup": theirs / ours, "torchreid_value": their_value, "batched_value": our_value}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", help="plugins or methods (default: every registered method)")
    parser.add_argument("--batch-size", type=int, default=32, help="a multiple of 4 (P x 4)")
    parser.add_argument("--input-size", type=int, nargs=2, default=[64, 32])
    parser.add_argument("--iters", type=int, default=16,
                        help="timed iterations (an epoch of the trainer; 16: fewer vary by 10%% run to run)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed model-only steps first")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved repetitions of the baseline's measurements; the best is kept")
    parser.add_argument("--workers", type=int, default=default_workers(), help="loader processes (default: the "
                        "harness's default for this machine)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", choices=["fp16", "bf16"], help="mixed precision (CUDA)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-torchreid", dest="torchreid", action="store_false", help="skip torchreid's engine")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.amp = args.amp or False
    plugins = load_plugins()
    protocol = plugins.datasets.get("synthetic")
    splits = protocol.load(None)
    device = torch.device(args.device)
    names = args.methods or list(plugins.methods.names())
    started = time.perf_counter()

    rows = []
    for name in names:
        measured = {"model_only": [], "trainer": [], "torchreid": []}
        complexity = variant = None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.rounds if name == "baseline" else 1):
            speed, complexity, variant = model_only_images_per_s(plugins, name, splits, args, device)
            measured["model_only"].append(speed)
            measured["trainer"].append(trainer_images_per_s(plugins, name, splits, args, device))
            if name == "baseline" and args.torchreid:
                measured["torchreid"].append(torchreid_images_per_s(plugins, splits, args, device))
        row = {"method": plugins.method_for_plugin(name).name, "variant": variant, "params": complexity[0],
               "flops": complexity[1], "model_only_images_per_s": max(measured["model_only"]),
               "trainer_images_per_s": max(measured["trainer"]), "rounds": measured}
        row["pipeline_efficiency"] = row["trainer_images_per_s"] / row["model_only_images_per_s"]
        # the method's peak (torchreid's engine on the same model included, for the baseline)
        row["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        if measured["torchreid"]:
            row["torchreid_images_per_s"] = max(measured["torchreid"])
            row["torchreid_ratio"] = row["trainer_images_per_s"] / row["torchreid_images_per_s"]
        rows.append(row)
        flops = f"{row['flops'] / 1e9:.2f} GFLOPs" if row["flops"] else "FLOPs n/a"
        peer = (f", torchreid engine {row['torchreid_images_per_s']:.1f} img/s (ratio {row['torchreid_ratio']:.2f})"
                if "torchreid_ratio" in row else "")
        print(f"{row['method']:>16} [{row['variant']}]: trainer {row['trainer_images_per_s']:.1f} img/s, model-only "
              f"{row['model_only_images_per_s']:.1f} img/s, efficiency {row['pipeline_efficiency']:.2f}{peer}; "
              f"{row['params'] / 1e6:.2f} M params, {flops}", flush=True)

    triplet = triplet_speedup(device)
    print(f"batch-hard triplet at {triplet['batch']} x {triplet['dim']}: torchreid {triplet['torchreid_ms']:.1f} ms, "
          f"batched {triplet['batched_ms']:.1f} ms, speed-up {triplet['speedup']:.1f}x, values "
          f"{triplet['torchreid_value']:.6f} / {triplet['batched_value']:.6f}")
    baseline = next((row for row in rows if row["method"] == "baseline"), None)
    summary = {"pipeline_efficiency": baseline and baseline["pipeline_efficiency"],
               "torchreid_ratio": baseline and baseline.get("torchreid_ratio"),
               "triplet_speedup": triplet["speedup"]}
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(), "workers": args.workers,
                      "batch_size": args.batch_size, "input_size": args.input_size, "iters": args.iters,
                      "rounds": args.rounds, "amp": args.amp, "channels_last": args.channels_last,
                      "compile": args.compile, "wall_s": time.perf_counter() - started, "rows": rows,
                      "triplet": triplet, "baseline": summary}))


if __name__ == "__main__":
    main()
