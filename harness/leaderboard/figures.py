"""Figures of a leaderboard page, written beside its markdown and shown in it and in its HTML page.

- ``<protocol>-cmc.svg`` (re-id pages): the CMC curve, ranks 1-50, of every row with runs, the mean over
  its seeds. Records written before the full curve was recorded (``evaluation.cmc``) give only R1, R5,
  R10 and R20; such a row is drawn as those four points, dashed, and says so in the legend. Colours
  repeat after ten rows, each time with another line style (solid, dash-dot, dotted).
- ``<protocol>-<metric>.svg``: the primary metric (mAP; top-1 error on classification pages) of every
  row with runs as a bar, mean over the seeds, with the sample standard deviation as its error bar and
  the number of seeds beside it.

Rows come in the page's order (best first), each labelled by :func:`row_labels`: the method and variant,
and what else tells the plotted rows apart. The files are byte-identical for the same rows: SVG with
a fixed hash salt (the ids matplotlib gives clip paths), text as paths (no dependence on installed
fonts beyond matplotlib's own DejaVu Sans) and no date or creator metadata.
"""
import io

from ..spec import CMC_RANKS
from .aggregate import PRIMARY_METRIC
from .protocols import page_stem
from .render import training_parts

SVG_RC = {"svg.hashsalt": "reid-bench leaderboard", "svg.fonttype": "path", "font.family": "DejaVu Sans",
          "font.size": 9}
METADATA = {"Date": None, "Creator": None}
METRIC_LABELS = {"mAP": "mAP (%)", "top1_err": "top-1 error (%)"}
MAX_RANK = 50
CURVE_STYLES = ("-", "-.", ":")  # the full curves' line style, by which round of the ten colours


def _aspects(row):
    """``{aspect: text}`` of what a row with runs was trained and tested with, in the page's words
    (:func:`.render.training_parts` for the training); ``""`` for an aspect the row does not use."""
    group = row.group
    return {
        "plugin": f"plugin {group.plugin}" if group.plugin and group.plugin != row.method else "",
        "backbone": row.backbone,
        "recipe": row.recipe_name,
        **training_parts(group),
        "pretrained": "from scratch" if row.pretrained == "no" else f"{row.pretrained} weights",
        "test_time": row.test_time or "default test-time",
    }


#: aspects that come with the method: named only where rows of one method variant differ in them
METHOD_ASPECTS = ("plugin", "backbone")


def _differs(name, rows, aspects):
    """Whether aspect ``name`` tells some plotted rows apart: it is not the same for all of them (for
    :data:`METHOD_ASPECTS`: for all rows of some method variant)."""
    if name not in METHOD_ASPECTS:
        return len({row_aspects[name] for row_aspects in aspects}) > 1
    by_variant = {}
    for row, row_aspects in zip(rows, aspects):
        by_variant.setdefault((row.method, row.variant), set()).add(row_aspects[name])
    return any(len(values) > 1 for values in by_variant.values())


def row_labels(rows):
    """One legend label per row with runs: ``method [variant]``, then each aspect of :func:`_aspects`
    that differs among the rows plotted (:func:`_differs`; a page of one recipe does not repeat it on
    every line); rows that still read alike add their recipe's fingerprint."""
    aspects = [_aspects(row) for row in rows]
    varying = [name for name in aspects[0] if _differs(name, rows, aspects)]
    labels = []
    for row, row_aspects in zip(rows, aspects):
        parts = [row_aspects[name] for name in varying if row_aspects[name]]
        labels.append(f"{row.method} [{row.variant}]" + (f" {', '.join(parts)}" if parts else ""))
    alike = {label for label in labels if labels.count(label) > 1}
    return [f"{label}, recipe {row.group.recipe_fingerprint}" if label in alike else label
            for row, label in zip(rows, labels)]


def figure_names(protocol, task):
    """The figure files of a page, in the order they are shown (named like the page's files)."""
    stem, metric = page_stem(protocol), PRIMARY_METRIC[task][0]
    return ([f"{stem}-cmc.svg"] if task == "reid" else []) + [f"{stem}-{metric}.svg"]


def _cmc_figure(rows, labels, plt):
    figure, axes = plt.subplots(figsize=(10, 4.2), constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for index, (row, label) in enumerate(zip(rows, labels)):
        colour = colours(index % 10)
        if row.cmc:
            ranks = list(range(1, min(MAX_RANK, len(row.cmc)) + 1))
            axes.plot(ranks, row.cmc[:len(ranks)], color=colour, linestyle=CURVE_STYLES[index // 10 % 3],
                      linewidth=1.4, label=label)
        else:
            points = [(rank, row.metrics[f"R{rank}"].mean) for rank in CMC_RANKS if row.metrics.get(f"R{rank}")]
            axes.plot([r for r, _ in points], [v for _, v in points], "o--", color=colour, markersize=3,
                      linewidth=1.0, label=f"{label} (R{'/'.join(map(str, CMC_RANKS))} only)")
    axes.set_xlim(1, MAX_RANK)
    axes.set_ylim(0, 100)
    axes.set_xlabel("rank")
    axes.set_ylabel("matching rate (%)")
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, never on them
    axes.set_title("CMC, mean over seeds")
    return figure


def _bar_figure(rows, labels, metric, plt):
    figure, axes = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(rows)), constrained_layout=True)
    positions = list(range(len(rows)))
    means = [row.metrics[metric].mean for row in rows]
    spreads = [row.metrics[metric].std or 0.0 for row in rows]
    axes.barh(positions, means, xerr=spreads, color="#4878a8", error_kw={"elinewidth": 1.0, "capsize": 3})
    for position, row, mean, spread in zip(positions, rows, means, spreads):
        seeds = len(row.seeds)
        axes.text(mean + spread + 0.5, position, f"{mean:.2f} ({seeds} seed{'s' if seeds > 1 else ''})",
                  va="center", fontsize=7)
    axes.set_yticks(positions, labels, fontsize=7)
    axes.invert_yaxis()  # the page's first row on top
    axes.set_xlim(0, max(m + s for m, s in zip(means, spreads)) * 1.25 + 1.0)
    axes.set_xlabel(f"{METRIC_LABELS.get(metric, metric)}, mean ± std over seeds")
    return figure


def page_figures(page, rows):
    """The figures of ``page`` (rows with runs only) as ``{file name: SVG text}``, in the order they are
    shown; none for a page without runs. Nothing is written: the caller writes every page's files once
    all are computed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    measured = [row for row in rows if row.measured]
    if not measured:
        return {}
    metric = PRIMARY_METRIC[page.task][0]
    labels = row_labels(measured)
    svgs = {}
    with matplotlib.rc_context(SVG_RC):
        figures = (([_cmc_figure(measured, labels, plt)] if page.task == "reid" else [])
                   + [_bar_figure(measured, labels, metric, plt)])
        for name, figure in zip(figure_names(page.name, page.task), figures):
            stream = io.StringIO()
            figure.savefig(stream, format="svg", metadata=METADATA)
            plt.close(figure)
            svgs[name] = stream.getvalue()
    return svgs
