"""Optimizers from :class:`reid_bench.spec.OptimizerSpec` and per-epoch learning rates.

Each optimizer name is a builder in :data:`OPTIMIZERS`, ``builder(params, **fields)``: its keyword
arguments are the ``OptimizerSpec`` fields it reads (``reid-bench list --components`` lists them with
``OptimizerSpec``'s defaults). torch is imported by the builders, not with the module: config checks
read :data:`OPTIMIZERS` without it.
"""
import inspect


def adam(params, *, lr, weight_decay, betas):
    """``torch.optim.Adam`` (L2 weight decay in the gradient)."""
    import torch

    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


def adamw(params, *, lr, weight_decay, betas):
    """``torch.optim.AdamW`` (decoupled weight decay)."""
    import torch

    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


def sgd(params, *, lr, weight_decay, momentum, nesterov):
    """``torch.optim.SGD`` with momentum."""
    import torch

    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov)


OPTIMIZERS = {builder.__name__: builder for builder in (adam, adamw, sgd)}


def build_optimizer(spec, params):
    """``torch.optim`` optimizer named by ``spec`` over ``params`` (those that require a gradient)."""
    if spec.name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec.name!r}; expected {', '.join(OPTIMIZERS)}")
    builder = OPTIMIZERS[spec.name]
    fields = list(inspect.signature(builder).parameters)[1:]
    return builder([p for p in params if p.requires_grad], **{name: getattr(spec, name) for name in fields})


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


def learning_rate(stage, epoch_in_stage):
    """The stage's learning rate at an epoch of the stage: base lr times the schedule's factor."""
    return stage.optimizer.lr * stage.schedule.factor(epoch_in_stage)
