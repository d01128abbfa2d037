"""Trains any registered method from its :class:`~reid_bench.spec.MethodSpec` and recipe.

Per epoch: pick the recipe's stage (its sampler, batch size, optimizer, schedule and active loss terms;
a new stage rebuilds loader and optimizer), set the epoch's learning rate, call the method's
``on_epoch_start``, then for every batch run the model in train mode, sum the weighted loss terms over
its named outputs, step the optimizers (mixed precision, channels-last and compilation when asked, see
:mod:`~reid_bench.engine.acceleration`), and finally write a checkpoint. ``fit(resume=True)`` continues
from the last checkpoint, exactly: the checkpoint restores the main process's RNGs and each epoch's
loader workers are seeded from ``(seed, epoch)``. Under torchrun
(``distributed``, :mod:`reid_bench.engine.distributed`) each rank trains on its share of every batch through DDP;
rank 0 writes the checkpoints, reports to the tracker and evaluates.

Losses, learning rate and metrics go to a ``tracker`` (:mod:`reid_bench.engine.tracking`: TensorBoard, MLflow,
or none), which the trainer calls and never a logging library itself.

With ``eval_every=N`` the model is also evaluated after every N-th epoch (``evaluate(model)`` returns
the metrics): the metrics go to the tracker (TensorBoard's ``eval/<metric>``) and to ``TrainStats.history``,
kept in the checkpoint. They are only watched, never used to pick a checkpoint, and the RNG states are put back
after each evaluation, so training takes the same course with or without it.
"""
import inspect
import math
import time
from dataclasses import asdict, dataclass, field

import torch

from ..data.loaders import build_train_loader, seed_epoch, train_dataset
from ..data.transforms import build_train_transform
from .distributed import Distributed
from ..errors import UserError
from .acceleration import Acceleration, amp_mode
from .checkpoint import load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from .optim import build_optimizer, learning_rate, set_learning_rate
from .tracking import Tracker


@dataclass
class TrainStats:
    """Running totals of a training run (kept across resumes)."""

    epochs_done: int = 0
    iterations: int = 0
    images: int = 0
    wall_s: float = 0.0
    resumed: bool = False
    last_losses: dict = field(default_factory=dict)
    epoch_images_per_s: list = field(default_factory=list)  # each epoch's speed, data loading included
    history: list = field(default_factory=list)  # {"epoch": epochs done, "metrics": {...}} per evaluation

    @property
    def images_per_s(self):
        return self.images / self.wall_s if self.wall_s > 0 else None


def _loss_arguments(builder, kwargs, num_classes):
    """A registered loss's keyword arguments: ``kwargs``, plus ``num_classes`` for builders that take it."""
    if "num_classes" in inspect.signature(builder).parameters and "num_classes" not in kwargs:
        return {**kwargs, "num_classes": num_classes}
    return dict(kwargs)


def build_loss_module(builder, kwargs, num_classes):
    """Instantiate a registered loss (:func:`_loss_arguments`)."""
    return builder(**_loss_arguments(builder, kwargs, num_classes))


def _check_call(builder, args, kwargs, where):
    """A :class:`UserError` naming ``where`` when ``builder`` cannot be called with these keyword arguments
    (an unknown or a missing one), before anything is built."""
    try:
        inspect.signature(builder).bind(*args, **kwargs)
    except TypeError as exc:
        accepted = [name for name, parameter in inspect.signature(builder).parameters.items()
                    if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)][len(args):]
        raise UserError(f"{where}: {exc}; {getattr(builder, '__name__', builder)} takes "
                        f"{', '.join(accepted) or 'no keyword arguments'}") from None


def check_components(method, variant, recipe, plugins):
    """Fail before any folder is made when a stage names an unknown sampler or loss term, or gives a sampler
    or loss builder keyword arguments it does not take (they failed at the first step, with a traceback)."""
    known = [term.name for term in method.loss_terms]
    for index, stage in enumerate(recipe.stages):
        where = f"recipe.stages.{index}"
        builder = plugins.samplers.get(stage.sampler.name)
        _check_call(builder, (None, stage.batch_size), dict(stage.sampler.kwargs), f"{where}.sampler.kwargs")
        if stage.loss_terms is not None and (not isinstance(stage.loss_terms, (list, tuple))
                                             or any(name not in known for name in stage.loss_terms)):
            raise UserError(f"{where}.loss_terms: expected null (all of the variant's) or a list of the method's "
                            f"terms ({', '.join(known)}), got {stage.loss_terms!r}")
    for term in method.loss_terms_for(variant, recipe):
        builder = plugins.losses.get(term.loss)
        _check_call(builder, (), _loss_arguments(builder, term.kwargs, 1), f"loss_terms.{term.name}.kwargs")


class Trainer:
    """Trains ``model`` with ``method``'s loss terms under ``recipe`` on a protocol's ``splits``."""

    def __init__(self, *, model, method, variant, recipe, plugins, splits, num_classes, device, run_dir,
                 amp=False, channels_last=False, compile=False, workers=2, seed=0, max_iters=None, progress=True,
                 log=print, eval_every=None, evaluate=None, distributed=None):
        self.distributed = distributed or Distributed(device=torch.device(device))
        model = self.distributed.prepare_model(model)
        self.model, self.method, self.variant, self.recipe = model, method, variant, recipe
        self.plugins, self.device, self.run_dir = plugins, torch.device(device), run_dir
        self.workers, self.seed, self.max_iters, self.progress, self.log = workers, seed, max_iters, progress, log
        # amp: False, True (fp16) or "fp16" / "bf16"; only fp16 needs loss scaling
        self.acceleration = Acceleration(amp_mode(amp, False, self.device), channels_last, compile)
        self.use_amp = self.acceleration.amp is not None
        self.forward = model  # what a step calls; fit() lays it out and compiles it as asked
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.acceleration.amp == "fp16")
        self.transform = build_train_transform(recipe, recipe.input_size)
        self.dataset = train_dataset(splits, self.transform)

        # Every loss term any stage uses, built once so stateful terms (class centres) persist.
        self.terms = {term.name: term for term in method.loss_terms_for(variant, recipe)}
        if not self.terms:
            raise ValueError(f"variant {variant!r} of {method.name} has no loss terms")
        self.loss_modules = torch.nn.ModuleDict({
            name: build_loss_module(plugins.losses.get(term.loss), dict(term.kwargs), num_classes)
            for name, term in self.terms.items()
        }).to(self.device)
        self.loss_optimizers = {
            name: build_optimizer(term.optimizer, self.loss_modules[name].parameters())
            for name, term in self.terms.items()
            if term.optimizer is not None and any(True for _ in self.loss_modules[name].parameters())
        }
        self.stage_index = None
        self.tracker = Tracker()  # fit()'s
        self.eval_every, self.evaluate = eval_every, evaluate
        self.check_stages()

    # -- stages -----------------------------------------------------------------------------------
    def _sampler(self, stage):
        """``(sampler, batch size)`` of the stage's loader (under torchrun this rank's share of both); a batch
        size it cannot serve (too many identities per batch, not a multiple of K, more images than an epoch
        has, not whole identities per rank) is a :class:`UserError`."""
        sampler_builder = self.plugins.samplers.get(stage.sampler.name)
        try:
            sampler = sampler_builder(self.dataset.data, stage.batch_size, **stage.sampler.kwargs)
        except ValueError as exc:
            raise UserError(f"stage {stage.name!r}, batch size {stage.batch_size}: {exc}") from None
        try:
            per_epoch = len(sampler)
        except TypeError:  # a plugin's sampler without a length: the loader finds out
            return self.distributed.share(sampler, stage.batch_size, self.seed)
        if per_epoch < stage.batch_size:
            raise UserError(
                f"stage {stage.name!r}: batch size {stage.batch_size} with sampler {stage.sampler.name!r} "
                f"yields no full batch from {len(self.dataset)} training images ({per_epoch} per epoch); "
                "lower --batch-size"
            )
        return self.distributed.share(sampler, stage.batch_size, self.seed)

    def check_stages(self):
        """Fail on construction, before the run folder is made, when a stage's batch size or sampler
        arguments do not fit its sampler and training set."""
        for stage in self.recipe.stages:
            if stage.epochs > 0:
                self._sampler(stage)

    def _enter_stage(self, index, stage):
        self.stage_index = index
        sampler, rank_batch_size = self._sampler(stage)
        self.loader = build_train_loader(self.dataset, sampler, rank_batch_size, self.workers,
                                         pin_memory=self.device.type == "cuda", seed=self.seed)
        active = [term.name for term in self.method.loss_terms_for(self.variant, self.recipe, stage)]
        self.active_terms = [name for name in active if name in self.terms]
        own = {id(p) for name in self.loss_optimizers for p in self.loss_modules[name].parameters()}
        shared_loss_params = [p for p in self.loss_modules.parameters() if id(p) not in own]
        self.optimizer = build_optimizer(stage.optimizer, list(self.model.parameters()) + shared_loss_params)
        # a stage that leaves some loss terms out leaves their heads (or loss parameters) without gradient
        self.objective = self.distributed.objective(self.forward, self.loss_modules, self._losses,
                                                    find_unused_parameters=set(self.active_terms) != set(self.terms))

    # -- one step ---------------------------------------------------------------------------------
    def _losses(self, outputs, targets):
        if not isinstance(outputs, dict):
            raise TypeError(
                f"model {self.method.model!r} returned {type(outputs).__name__} in train mode; the model "
                "contract is a dict of named outputs in train() mode"
            )
        try:
            return {name: self.loss_modules[name](outputs, targets) for name in self.active_terms}
        except KeyError as exc:
            if exc.args and exc.args[0] in outputs:
                raise
            raise UserError(f"a loss term reads the model output {exc.args[0]!r}, which {self.method.model!r} does "
                            f"not give in train mode (it gives {', '.join(outputs)}); check the terms' output "
                            "arguments (reid-bench config show)") from None

    def _step(self, batch):
        images = self.acceleration.prepare_images(batch["img"].to(self.device, non_blocking=True))
        targets = batch["pid"].to(self.device, non_blocking=True)
        with torch.autocast(device_type=self.device.type, dtype=self.acceleration.amp_dtype, enabled=self.use_amp):
            losses = self.objective(images, targets)
            total = sum(self.terms[name].weight * value.float() for name, value in losses.items())
        total_value, *values = self.distributed.average([total, *losses.values()])  # over the ranks
        reported = dict(zip(losses, values))
        if not math.isfinite(total_value):
            raise FloatingPointError(f"loss is {total_value} ({reported})")
        own_optimizers = [self.loss_optimizers[name] for name in self.active_terms if name in self.loss_optimizers]
        for optimizer in [self.optimizer, *own_optimizers]:
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        for name in self.active_terms:
            # A loss module with its own optimizer (class centres) steps on the gradient of its
            # *unweighted* term, as Bag of Tricks and MSReID's code do: undo the term's weight.
            if name in self.loss_optimizers and self.terms[name].weight != 0:
                self.scaler.unscale_(self.loss_optimizers[name])
                for parameter in self.loss_modules[name].parameters():
                    if parameter.grad is not None:
                        parameter.grad.div_(self.terms[name].weight)
        for optimizer in [self.optimizer, *own_optimizers]:
            self.scaler.step(optimizer)
        self.scaler.update()
        return total_value, reported, images.size(0) * self.distributed.world_size

    # -- epochs -----------------------------------------------------------------------------------
    def _checkpoint_payload(self, next_epoch, stats):
        return {
            "next_epoch": next_epoch,
            "stage_index": self.stage_index,
            "model": self.model.state_dict(),
            "loss_modules": self.loss_modules.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "loss_optimizers": {name: opt.state_dict() for name, opt in self.loss_optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "stats": asdict(stats),
            "rng": rng_state(),
        }

    def _save_checkpoint(self, next_epoch, stats):
        """Rank 0 writes the checkpoint, with every rank's RNG states under torchrun; the others wait."""
        rng_ranks = self.distributed.gather(rng_state()) if self.distributed.world_size > 1 else None
        if self.distributed.is_main:
            payload = self._checkpoint_payload(next_epoch, stats)
            if rng_ranks is not None:
                payload["rng_ranks"] = rng_ranks
            save_checkpoint(self.run_dir, payload)
        self.distributed.barrier()

    def _resume(self):
        state = self.distributed.from_main(load_checkpoint, self.run_dir)  # rank 0's, on every rank
        if state is None:
            return 0, TrainStats()
        self.model.load_state_dict(state["model"])
        self.loss_modules.load_state_dict(state["loss_modules"])
        for name, opt_state in state["loss_optimizers"].items():
            self.loss_optimizers[name].load_state_dict(opt_state)
        self.scaler.load_state_dict(state["scaler"])
        next_epoch = state["next_epoch"]
        if next_epoch < self.recipe.epochs:
            index, stage, _ = self.recipe.stage_at(next_epoch)
            self._enter_stage(index, stage)
            if index == state["stage_index"]:
                self.optimizer.load_state_dict(state["optimizer"])
        rng_ranks = state.get("rng_ranks") or []
        restore_rng_state(rng_ranks[self.distributed.rank] if len(rng_ranks) == self.distributed.world_size
                          else state["rng"])
        stats = TrainStats(**state["stats"])
        stats.resumed = True
        self.log(f"resumed from {self.run_dir}/checkpoint.pt at epoch {next_epoch}/{self.recipe.epochs}")
        return next_epoch, stats

    def fit(self, resume=False, tracker=None):
        """Train to the end of the recipe, reporting to ``tracker`` (a :class:`~.tracking.Tracker`; None: nothing
        is tracked; under torchrun only rank 0 reports); returns :class:`TrainStats`."""
        self.tracker = tracker if tracker is not None and self.distributed.is_main else Tracker()
        self.tracker.begin_training(self.run_dir)
        try:
            return self._fit(resume)
        finally:
            self.tracker.end_training()

    def _fit(self, resume):
        self.distributed.seed_rank(self.seed)
        self.forward = self.acceleration.prepare_model(self.model.to(self.device))  # before a resumed stage's objective
        start_epoch, stats = self._resume() if resume else (0, TrainStats())
        for epoch in range(start_epoch, self.recipe.epochs):
            index, stage, epoch_in_stage = self.recipe.stage_at(epoch)
            if index != self.stage_index:
                self._enter_stage(index, stage)
            lr = learning_rate(stage, epoch_in_stage)
            set_learning_rate(self.optimizer, lr)
            if self.method.on_epoch_start is not None:
                self.method.on_epoch_start(self.model, epoch, self.recipe)
            self.transform.set_epoch(epoch)
            # the epoch's worker seeds depend on (seed, epoch) only, so a resumed run draws the same
            # augmentations as an uninterrupted one (the main process's RNGs are in the checkpoint)
            seed_epoch(self.loader, self.distributed.rank_seed(self.seed), epoch)
            if hasattr(self.loader.sampler, "set_epoch"):  # a rank's share draws the epoch's global stream
                self.loader.sampler.set_epoch(epoch)
            self._train_epoch(epoch, stage, lr, stats)
            stats.epochs_done = epoch + 1
            if self.eval_every and self.evaluate is not None and (epoch + 1) % self.eval_every == 0:
                self._evaluate_during_training(epoch + 1, stats)
            self._save_checkpoint(epoch + 1, stats)
        self.loader, self.stage_index = None, None  # ends the loader's persistent workers before evaluation
        return stats

    def _evaluate_during_training(self, epochs_done, stats):
        """Evaluate after ``epochs_done`` epochs into the tracker and ``stats.history``; the RNG states
        are restored afterwards, so the evaluation leaves the training's random draws unchanged. Under
        torchrun rank 0 evaluates and the others wait."""
        if not self.distributed.is_main:
            self.distributed.barrier()
            return
        state = rng_state()
        metrics = self.evaluate(self.model)
        restore_rng_state(state)
        self.distributed.barrier()
        stats.history.append({"epoch": epochs_done, "metrics": metrics})
        self.tracker.log_evaluation(epochs_done, metrics)
        self.log(f"evaluated after epoch {epochs_done}: "
                 + ", ".join(f"{name} {value:.2f}" for name, value in metrics.items() if value is not None))

    def _train_epoch(self, epoch, stage, lr, stats):
        self.model.train()
        num_batches = len(self.loader) if self.max_iters is None else min(len(self.loader), self.max_iters)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=num_batches, desc=f"epoch {epoch + 1}/{self.recipe.epochs} [{stage.name}]",
                       leave=False, dynamic_ncols=True)
        start, images, running, sums, steps = time.perf_counter(), 0, None, {}, 0  # sums: each loss's, this epoch
        for step, batch in enumerate(self.loader):
            if step >= num_batches:
                break
            total, losses, batch_images = self._step(batch)
            images += batch_images
            running = total if running is None else 0.9 * running + 0.1 * total
            stats.iterations += 1
            steps += 1
            self.tracker.log_iteration(stats.iterations, total, losses)
            for name, value in {**losses, "total": total}.items():
                sums[name] = sums.get(name, 0.0) + value
            if bar is not None:
                bar.set_postfix(loss=f"{running:.3f}", img_s=f"{images / (time.perf_counter() - start):.1f}")
                bar.update()
            stats.last_losses = losses
        elapsed = time.perf_counter() - start
        if bar is not None:
            bar.close()
        stats.images += images
        stats.wall_s += elapsed
        speed = images / elapsed if elapsed > 0 else math.nan
        stats.epoch_images_per_s.append(speed)
        means = {name: value / steps for name, value in sums.items()}
        self.tracker.log_epoch(epoch, lr=lr, images_per_s=speed, iterations=stats.iterations, losses=means)
        # the epoch's mean total loss as the sum of its weighted terms (each term's epoch mean times its weight)
        terms = " + ".join(f"{name} {self.terms[name].weight * value:.4f} (x{self.terms[name].weight:g})"
                           for name, value in means.items() if name != "total")
        self.log(f"epoch {epoch + 1}/{self.recipe.epochs} [{stage.name}] lr {lr:.2e}  mean loss "
                 f"{means['total']:.4f} = {terms}  {speed:.1f} img/s")
