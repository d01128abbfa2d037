"""Optimizers from :class:`reid_bench.spec.OptimizerSpec` and per-epoch learning rates."""
import torch


def build_optimizer(spec, params):
    """``torch.optim`` optimizer named by ``spec`` over ``params``."""
    params = [p for p in params if p.requires_grad]
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay, betas=tuple(spec.betas))
    if spec.name == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay, betas=tuple(spec.betas))
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, weight_decay=spec.weight_decay, momentum=spec.momentum,
                               nesterov=spec.nesterov)
    raise ValueError(f"unknown optimizer {spec.name!r}; expected adam, adamw or sgd")


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


def learning_rate(stage, epoch_in_stage):
    """The stage's learning rate at an epoch of the stage: base lr times the schedule's factor."""
    return stage.optimizer.lr * stage.schedule.factor(epoch_in_stage)
