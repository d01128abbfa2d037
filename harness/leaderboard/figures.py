"""Figures of a leaderboard page, written beside its markdown and embedded in it.

- ``<protocol>-cmc.svg`` (re-id pages): the CMC curve, ranks 1-50, of every row with runs, the mean over
  its seeds. Records written before the full curve was recorded (``evaluation.cmc``) give only R1, R5,
  R10 and R20; such a row is drawn as those four points, dashed, and says so in the legend.
- ``<protocol>-<metric>.svg``: the primary metric (mAP; top-1 error on classification pages) of every
  row with runs as a bar, mean over the seeds, with the sample standard deviation as its error bar and
  the number of seeds beside it.

Rows come in the page's order (best first). The files are byte-identical for the same rows: SVG with
a fixed hash salt (the ids matplotlib gives clip paths), text as paths (no dependence on installed
fonts beyond matplotlib's own DejaVu Sans) and no date or creator metadata.
"""
import os

from ..atomic import write_atomic
from ..spec import CMC_RANKS
from .aggregate import PRIMARY_METRIC

SVG_RC = {"svg.hashsalt": "reid-bench leaderboard", "svg.fonttype": "path", "font.family": "DejaVu Sans",
          "font.size": 9}
METADATA = {"Date": None, "Creator": None}
METRIC_LABELS = {"mAP": "mAP (%)", "top1_err": "top-1 error (%)"}
MAX_RANK = 50


def row_label(row):
    """What a row is, in one line: method, variant, recipe, epochs and starting weights."""
    return f"{row.method} [{row.variant}] {row.recipe_name} {row.epochs} ep, {row.pretrained}"


def figure_names(protocol, task):
    """The figure files of a page, in the order they are embedded (named like the page's file)."""
    from .protocols import page_filename

    stem, metric = page_filename(protocol)[:-len(".md")], PRIMARY_METRIC[task][0]
    return ([f"{stem}-cmc.svg"] if task == "reid" else []) + [f"{stem}-{metric}.svg"]


def _cmc_figure(rows, plt):
    figure, axes = plt.subplots(figsize=(10, 4.2), constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for index, row in enumerate(rows):
        colour = colours(index % 10)
        if row.cmc:
            ranks = list(range(1, min(MAX_RANK, len(row.cmc)) + 1))
            axes.plot(ranks, row.cmc[:len(ranks)], color=colour, linewidth=1.4, label=row_label(row))
        else:
            points = [(rank, row.metrics[f"R{rank}"].mean) for rank in CMC_RANKS if row.metrics.get(f"R{rank}")]
            axes.plot([r for r, _ in points], [v for _, v in points], "o--", color=colour, markersize=3,
                      linewidth=1.0, label=f"{row_label(row)} (R{'/'.join(map(str, CMC_RANKS))} only)")
    axes.set_xlim(1, MAX_RANK)
    axes.set_ylim(0, 100)
    axes.set_xlabel("rank")
    axes.set_ylabel("matching rate (%)")
    axes.grid(True, linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, never on them
    axes.set_title("CMC, mean over seeds")
    return figure


def _bar_figure(rows, metric, plt):
    figure, axes = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(rows)), constrained_layout=True)
    positions = list(range(len(rows)))
    means = [row.metrics[metric].mean for row in rows]
    spreads = [row.metrics[metric].std or 0.0 for row in rows]
    axes.barh(positions, means, xerr=spreads, color="#4878a8", error_kw={"elinewidth": 1.0, "capsize": 3})
    for position, row, mean, spread in zip(positions, rows, means, spreads):
        seeds = len(row.seeds)
        axes.text(mean + spread + 0.5, position, f"{mean:.2f} ({seeds} seed{'s' if seeds > 1 else ''})",
                  va="center", fontsize=7)
    axes.set_yticks(positions, [row_label(row) for row in rows], fontsize=7)
    axes.invert_yaxis()  # the page's first row on top
    axes.set_xlim(0, max(m + s for m, s in zip(means, spreads)) * 1.25 + 1.0)
    axes.set_xlabel(f"{METRIC_LABELS.get(metric, metric)}, mean ± std over seeds")
    return figure


def write_page_figures(page, rows, out_dir):
    """Write the figures of ``page`` (rows with runs only) into ``out_dir``; returns their paths. A
    page without runs gets none, and figures left from an earlier run of such a page are removed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    measured = [row for row in rows if row.measured]
    names = figure_names(page.name, page.task)
    if not measured:
        for name in names:
            if os.path.isfile(os.path.join(out_dir, name)):
                os.remove(os.path.join(out_dir, name))
        return []
    metric = PRIMARY_METRIC[page.task][0]
    written = []
    with matplotlib.rc_context(SVG_RC):
        figures = ([_cmc_figure(measured, plt)] if page.task == "reid" else []) + [_bar_figure(measured, metric, plt)]
        for name, figure in zip(names, figures):
            path = write_atomic(os.path.join(out_dir, name),  # replaces a symlink there, never writes through it
                                lambda stream: figure.savefig(stream, format="svg", metadata=METADATA))
            plt.close(figure)
            written.append(path)
    return written
