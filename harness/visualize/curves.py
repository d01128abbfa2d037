"""Training curves of run folders, from their TensorBoard logs: the loss terms (every iteration, faint,
and their mean per epoch; unweighted, as logged, on a log scale when all are positive), the learning rate,
and the metrics evaluated during training (``reid-bench run --eval-every N``), all against epochs.

One run gives ``curves.png``, its three panels. Several runs (or a folder above a configuration's
``seed<N>`` folders: every seed) are overlaid, one figure per quantity: ``curves-loss.png`` (a panel per
loss term), ``curves-lr.png`` and ``curves-metrics.png`` (a panel per metric, when a run was evaluated
during training), each run in its own colour and named in the legend by what tells the runs apart among
method [variant], protocol, recipe and seed (their folder paths when none does).

The trainer logs ``loss/<term>`` per iteration, ``train/lr`` and ``train/iterations`` (the iteration
count at the epoch's end) per epoch and ``eval/<metric>`` after the evaluated epochs; the iteration
counts place every iteration within its epoch. A resumed run's logs are read file after file and a
step logged twice keeps its last value, so a repeated epoch is drawn once.
"""
import json
import os

import numpy as np

from ..errors import UserError
from ..run_folder import RUN_INFO_FILE, SEED_FOLDER


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


def _pyplot():
    """pyplot on the Agg backend: figures go to files, never to a display."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _epoch_ends(scalars, title):
    """``{0-based epoch: iterations done at its end}`` of a run's scalars; :class:`UserError` when none ended."""
    epoch_ends = {int(step): value for step, value in scalars.get("train/iterations", {}).items()}
    if not epoch_ends:
        raise UserError(f"{title}: the TensorBoard logs hold no finished epoch (train/iterations); nothing to plot")
    return epoch_ends


def _loss_terms(scalars):
    return sorted(tag for tag in scalars if tag.startswith("loss/"))


def _metric_tags(tags):
    """The ``eval/`` tags among ``tags``: mAP, mINP and the like by name, then the CMC ranks ``R<k>`` by k."""
    def order(tag):
        name = tag[len("eval/"):]
        rank = name[1:].isdigit() and name[0] == "R"
        return rank, int(name[1:]) if rank else 0, name

    return sorted((tag for tag in tags if tag.startswith("eval/")), key=order)


def _draw_loss(axes, values, epoch_ends, label, color=None, linestyle="-"):
    """One loss tag's ``values`` (``{iteration: value}``): every iteration faint, the epoch means marked."""
    steps = sorted(values)
    x = epoch_positions(steps, epoch_ends)
    y = np.asarray([values[step] for step in steps])
    line, = axes.plot(x, y, alpha=0.25, linewidth=0.8, color=color, linestyle=linestyle)
    epoch = np.ceil(x)  # the epoch an iteration belongs to, counted as epochs done at its end
    means = [(e, y[epoch == e].mean()) for e in np.unique(epoch[~np.isnan(epoch)])]
    axes.plot([e for e, _ in means], [m for _, m in means], marker="o", color=line.get_color(), markersize=3,
              label=label, linestyle=linestyle)


def _loss_axes(axes, runs_scalars, tags):
    """Log scale when every value of ``tags`` is positive (terms are logged before their weights: a center
    loss can be 1000x a softmax term); the y label says which."""
    positive = all(value > 0 for scalars in runs_scalars for tag in tags for value in scalars.get(tag, {}).values())
    if positive:
        axes.set_yscale("log")
    axes.set_ylabel("loss term (unweighted)" + (", log scale" if positive else ""))


def _draw_rate(axes, lr, label=None, color=None, linestyle="-"):
    """The learning rate ``{0-based epoch: rate}``: epoch e's rate holds from e to e + 1."""
    steps = sorted(lr)
    if steps:
        axes.step(steps + [steps[-1] + 1], [lr[step] for step in steps] + [lr[steps[-1]]], where="post", label=label,
                  color=color, linestyle=linestyle)


def _draw_metric(axes, values, label, color=None, linestyle="-"):
    """One metric's ``values`` (``{epochs done: value}``), a marker per evaluation."""
    steps = sorted(values)
    axes.plot(steps, [values[step] for step in steps], marker="o", markersize=3, label=label, color=color,
              linestyle=linestyle)


def plot_curves(scalars, path, title):
    """Write the three panels (losses, learning rate, evaluated metrics) of one run to ``path`` (PNG)."""
    plt = _pyplot()
    epoch_ends = _epoch_ends(scalars, title)
    figure, (losses, rate, metrics) = plt.subplots(3, 1, figsize=(7, 8), sharex=True, constrained_layout=True)
    for tag in _loss_terms(scalars):
        _draw_loss(losses, scalars[tag], epoch_ends, tag[len("loss/"):])
    _loss_axes(losses, [scalars], _loss_terms(scalars))
    losses.legend(fontsize="small", ncol=2)
    _draw_rate(rate, scalars.get("train/lr", {}))
    rate.set_ylabel("learning rate")
    evaluated = _metric_tags(scalars)
    for tag in evaluated:
        _draw_metric(metrics, scalars[tag], tag[len("eval/"):])
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


def _panels(plt, count, title):
    """A figure of ``count`` panels stacked, sharing the epoch axis; returns ``(figure, [axes])``."""
    figure, axes = plt.subplots(count, 1, figsize=(7, 1 + 2.6 * count), sharex=True, constrained_layout=True,
                                squeeze=False)
    figure.suptitle(title, fontsize="medium")
    axes[-1][0].set_xlabel("epoch")
    return figure, [row[0] for row in axes]


def overlay_figures(runs):
    """Figures overlaying several runs, ``[(label, scalars)]``, one per quantity: ``{file name: figure}``
    of the losses (a panel per term), the learning rate and, when a run was evaluated during training, the
    metrics (a panel per metric); each run in one colour, named in each panel's legend."""
    plt = _pyplot()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ends = [_epoch_ends(scalars, label) for label, scalars in runs]
    # past the colour cycle (ten runs) the colours repeat dashed
    styles = [(colours[index % len(colours)], "-" if index < len(colours) else "--") for index in range(len(runs))]
    figures = {}

    terms = sorted({tag for _, scalars in runs for tag in _loss_terms(scalars)})
    figures["curves-loss.png"], panels = _panels(plt, len(terms), "loss terms (each iteration faint, the epoch "
                                                                  "means marked)")
    for tag, axes in zip(terms, panels):
        for (label, scalars), epoch_ends, (colour, style) in zip(runs, ends, styles):
            if tag in scalars:
                _draw_loss(axes, scalars[tag], epoch_ends, label, colour, style)
        _loss_axes(axes, [scalars for _, scalars in runs], [tag])
        axes.set_title(tag[len("loss/"):], fontsize="medium")

    figures["curves-lr.png"], [axes] = _panels(plt, 1, "learning rate")
    for (label, scalars), (colour, style) in zip(runs, styles):
        _draw_rate(axes, scalars.get("train/lr", {}), label, colour, style)
    axes.set_ylabel("learning rate")

    evaluated = _metric_tags({tag for _, scalars in runs for tag in scalars})
    if evaluated:
        figures["curves-metrics.png"], panels = _panels(plt, len(evaluated), "metrics evaluated during training (%)")
        for tag, axes in zip(evaluated, panels):
            for (label, scalars), (colour, style) in zip(runs, styles):
                if tag in scalars:
                    _draw_metric(axes, scalars[tag], label, colour, style)
            axes.set_title(tag[len("eval/"):], fontsize="medium")
    for figure in figures.values():
        for axes in figure.axes:
            axes.legend(fontsize="small")
    return figures


def plot_overlay(runs, out):
    """Write :func:`overlay_figures` of ``runs`` into folder ``out`` (PNG); returns the paths written."""
    plt = _pyplot()
    written = []
    for name, figure in overlay_figures(runs).items():
        written.append(os.path.join(out, name))
        figure.savefig(written[-1], dpi=100)
        plt.close(figure)
    return written


def run_folders(paths):
    """The run folders ``paths`` name, in order and each once: a run folder, a file in one (its ``model.pt``),
    or a folder above ``seed<N>`` folders (each of them, by seed); :class:`UserError` for anything else."""
    found = {}  # absolute path: the path as given
    for path in paths:
        if os.path.isfile(path):
            path = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(path):
            raise UserError(f"{path} does not exist; expected a run folder (or a file in it) or a folder holding "
                            "seed<N> folders")
        seeds = sorted((name for name in os.listdir(path) if SEED_FOLDER.match(name)
                        and os.path.isdir(os.path.join(path, name))), key=lambda name: int(name[len("seed"):]))
        for run_dir in ([path] if os.path.isdir(os.path.join(path, "tensorboard")) or not seeds else
                        [os.path.join(path, name) for name in seeds]):
            found.setdefault(os.path.abspath(run_dir), os.path.normpath(run_dir))
    return list(found.values())


def _log_dir(run_dir):
    log_dir = os.path.join(run_dir, "tensorboard")
    if not os.path.isdir(log_dir):
        raise UserError(f"{run_dir} is not a run folder with TensorBoard logs (expected {log_dir}, which `reid-bench "
                        "run` writes with its default --tracker tensorboard)")
    return log_dir


def run_labels(run_dirs):
    """A legend label per run folder: the parts among ``method [variant]``, protocol, recipe (its folder
    name, which names overrides) and ``seed<N>`` that differ between the runs (from each ``run.json``); the
    folders' paths below their common parent when those do not tell every run apart."""
    described = []
    for run_dir in run_dirs:
        try:
            with open(os.path.join(run_dir, RUN_INFO_FILE)) as handle:
                info = json.load(handle)
            described.append((f"{info['method']} [{info['variant']}]", info["protocol"],
                              os.path.basename(os.path.dirname(run_dir)), f"seed{info['seed']}"))
        except (OSError, ValueError, KeyError, TypeError):
            described.append(None)
    if None not in described:
        varying = [index for index in range(4) if len({parts[index] for parts in described}) > 1]
        labels = [" ".join(parts[index] for index in varying) for parts in described]
        if varying and len(set(labels)) == len(labels):
            return labels
    common = os.path.commonpath([os.path.abspath(run_dir) for run_dir in run_dirs])
    return [os.path.relpath(os.path.abspath(run_dir), common) for run_dir in run_dirs]


def write_curves(runs, out=None):
    """Plot the curves of ``runs`` (paths, see :func:`run_folders`): one run's three panels to
    ``<out>/curves.png`` (default ``<run>/visualize``), several runs overlaid (:func:`plot_overlay`; default
    ``out``: ``visualize`` in the folder holding them all); returns the paths written."""
    run_dirs = run_folders(runs)
    log_dirs = [_log_dir(run_dir) for run_dir in run_dirs]
    holder = run_dirs[0] if len(run_dirs) == 1 else os.path.commonpath([os.path.abspath(d) for d in run_dirs])
    out = out or os.path.join(holder, "visualize")
    os.makedirs(out, exist_ok=True)
    if len(run_dirs) == 1:
        return [plot_curves(read_scalars(log_dirs[0]), os.path.join(out, "curves.png"), run_dirs[0])]
    return plot_overlay([(label, read_scalars(log_dir)) for label, log_dir in zip(run_labels(run_dirs), log_dirs)],
                        out)
