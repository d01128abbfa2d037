"""Training curves of a run folder, from its TensorBoard logs: the loss terms (every iteration, faint,
and their mean per epoch; unweighted, as logged, on a log scale when all are positive), the learning rate, and the metrics evaluated during training
(``reid-bench run --eval-every N``), all against epochs.

The trainer logs ``loss/<term>`` per iteration, ``train/lr`` and ``train/iterations`` (the iteration
count at the epoch's end) per epoch and ``eval/<metric>`` after the evaluated epochs; the iteration
counts place every iteration within its epoch. A resumed run's logs are read file after file and a
step logged twice keeps its last value, so a repeated epoch is drawn once.
"""
import os

import numpy as np

from ..errors import UserError


def read_scalars(log_dir):
    """``{tag: {step: value}}`` of every scalar under ``log_dir`` (later event files win)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: {event.step: event.value for event in accumulator.Scalars(tag)}
            for tag in accumulator.Tags()["scalars"]}


def epoch_positions(iterations, epoch_ends):
    """Fractional epochs (``e + k / n``: the k-th of the n iterations of epoch e, 0-based, ends at
    ``e + 1``) of the 1-based ``iterations``; ``nan`` for an iteration after the last finished epoch."""
    ends = np.asarray([epoch_ends[epoch] for epoch in sorted(epoch_ends)], dtype=float)
    starts = np.concatenate([[0.0], ends[:-1]])
    out = np.full(len(iterations), np.nan)
    for index, iteration in enumerate(iterations):
        epoch = int(np.searchsorted(ends, iteration))  # first epoch whose end is >= iteration
        if epoch < len(ends):
            out[index] = epoch + (iteration - starts[epoch]) / max(ends[epoch] - starts[epoch], 1.0)
    return out


def plot_curves(scalars, path, title):
    """Write the three panels (losses, learning rate, evaluated metrics) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epoch_ends = {int(step): value for step, value in scalars.get("train/iterations", {}).items()}
    if not epoch_ends:
        raise UserError(f"{title}: the TensorBoard logs hold no finished epoch (train/iterations); nothing to plot")
    figure, (losses, rate, metrics) = plt.subplots(3, 1, figsize=(7, 8), sharex=True, constrained_layout=True)
    for tag in sorted(tag for tag in scalars if tag.startswith("loss/")):
        steps = sorted(scalars[tag])
        x = epoch_positions(steps, epoch_ends)
        y = np.asarray([scalars[tag][step] for step in steps])
        line, = losses.plot(x, y, alpha=0.25, linewidth=0.8)
        epoch = np.ceil(x)  # the epoch an iteration belongs to, counted as epochs done at its end
        means = [(e, y[epoch == e].mean()) for e in np.unique(epoch[~np.isnan(epoch)])]
        losses.plot([e for e, _ in means], [m for _, m in means], "o-", color=line.get_color(), markersize=3,
                    label=tag[len("loss/"):])
    positive = all(value > 0 for tag in scalars if tag.startswith("loss/") for value in scalars[tag].values())
    if positive:  # terms are logged before their weights: a center loss can be 1000x a softmax term
        losses.set_yscale("log")
    losses.set_ylabel("loss term (unweighted)" + (", log scale" if positive else ""))
    losses.legend(fontsize="small", ncol=2)
    lr = scalars.get("train/lr", {})
    steps = sorted(lr)
    if steps:  # epoch e's rate holds from e to e + 1
        rate.step(steps + [steps[-1] + 1], [lr[step] for step in steps] + [lr[steps[-1]]], where="post")
    rate.set_ylabel("learning rate")
    evaluated = sorted(tag for tag in scalars if tag.startswith("eval/"))
    for tag in evaluated:
        steps = sorted(scalars[tag])
        metrics.plot(steps, [scalars[tag][step] for step in steps], "o-", markersize=3, label=tag[len("eval/"):])
    if evaluated:
        metrics.legend(fontsize="small", ncol=3)
    else:
        metrics.text(0.5, 0.5, "not evaluated during training (reid-bench run --eval-every N)",
                     ha="center", va="center", transform=metrics.transAxes)
    metrics.set_ylabel("metric (%)")
    metrics.set_xlabel("epoch")
    figure.suptitle(title, fontsize="medium")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_curves(run, out=None):
    """Plot the curves of the run folder ``run`` (or a file in it) to ``<out>/curves.png`` (default
    ``<run>/visualize``); returns ``[path]``."""
    run_dir = run if os.path.isdir(run) else os.path.dirname(os.path.abspath(run))
    log_dir = os.path.join(run_dir, "tensorboard")
    if not os.path.isdir(log_dir):
        raise UserError(f"{run} is not a run folder with TensorBoard logs (expected {log_dir}, which "
                        "`reid-bench run` writes)")
    out = out or os.path.join(run_dir, "visualize")
    os.makedirs(out, exist_ok=True)
    return [plot_curves(read_scalars(log_dir), os.path.join(out, "curves.png"), os.path.normpath(run_dir))]
