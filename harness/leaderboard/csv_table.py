"""Every row of a protocol page as CSV, for reading into a spreadsheet or a data frame.

One header row, then the page's rows in the page's order. The columns are the same on every page of a
task (:func:`columns`): what a row is (method, variant, backbone, plugin, recipe and how it was trained,
pretrained weights and the weight files its seeds started from, test-time options, seeds), each metric's
mean and sample standard deviation over the seeds, re-ranked (over the seeds run with re-ranking,
``n_seeds_reranked``), the untrained start and the two mAP comparisons with their 95% intervals (re-id),
model size and speed, and the paper's numbers with our difference to them. Numbers are written plain
(ten significant digits, metrics in percent, params and FLOPs as counts), a missing value as an empty
cell; a flag is 1 or 0. Rows are the same :class:`.aggregate.Row` objects the markdown page shows.
"""
import csv
import io

from .aggregate import mean_of
from .records import TASK_METRICS

DESCRIPTION = ("method", "variant", "backbone", "plugin", "recipe", "epochs", "batch_size", "input_size",
               "max_iters", "amp", "world_size", "sync_bn", "overrides", "recipe_fingerprint", "pretrained",
               "weight_files", "test_time", "n_seeds", "seeds")
REID_COMPARISONS = ("is_baseline", "mAP_vs_baseline", "mAP_vs_baseline_low", "mAP_vs_baseline_high",
                    "untrained_mAP_mean", "untrained_mAP_std", "mAP_vs_untrained", "mAP_vs_untrained_low",
                    "mAP_vs_untrained_high")
COST = ("params", "flops", "train_images_per_s")
SOURCES = ("reported_in", "reported_measured_on", "reported_notes")


def columns(task):
    """The header row of a page of ``task``."""
    metrics = TASK_METRICS[task]
    stats = [f"{name}_{part}" for name in metrics for part in ("mean", "std")]
    reid = task == "reid"
    reranked = ([f"{name}_reranked_{part}" for name in metrics for part in ("mean", "std")] + ["n_seeds_reranked"]
                if reid else [])
    paper = [f"paper_{name}" for name in metrics] + ([f"paper_{name}_reranked" for name in metrics] if reid else [])
    differences = [f"{name}_minus_paper" for name in metrics]
    return (DESCRIPTION + tuple(stats) + (REID_COMPARISONS if reid else ()) + tuple(reranked) + COST
            + tuple(paper) + tuple(differences) + SOURCES)


def _number(value):
    """A number as a cell: plain, ten significant digits; ``""`` for ``None``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value) if isinstance(value, int) else f"{value:.10g}"


def _stat(prefix, stat):
    return {f"{prefix}_mean": mean_of(stat), f"{prefix}_std": None if stat is None else stat.std}


def _comparison(name, comparison):
    if comparison is None:
        return {}
    return {name: comparison.difference, f"{name}_low": comparison.low, f"{name}_high": comparison.high}


def _values(row, task):
    """``{column: value}`` of one row (columns left out are empty)."""
    group = row.group
    values = {"method": row.method, "variant": row.variant, "backbone": row.backbone, "n_seeds": len(row.seeds),
              "seeds": " ".join(str(seed) for seed in row.seeds), "weight_files": " ".join(row.weight_files)}
    if group is not None:
        values.update(
            plugin=group.plugin, recipe=group.recipe_name, epochs=group.epochs,
            batch_size="/".join(str(size) for size in group.batch_size),
            input_size="x".join(str(size) for size in group.input_size), max_iters=group.max_iters,
            amp=group.amp, world_size=group.world_size, sync_bn=group.sync_bn, overrides="; ".join(group.overrides),
            recipe_fingerprint=group.recipe_fingerprint, pretrained=row.pretrained,
            test_time=row.test_time or "default", params=mean_of(row.params), flops=mean_of(row.flops),
            train_images_per_s=mean_of(row.images_per_s))
    for name in TASK_METRICS[task]:
        values.update(_stat(name, row.metrics.get(name)))
        values.update(_stat(f"{name}_reranked", row.reranked.get(name)))
        values[f"{name}_minus_paper"] = row.difference(name)
    values["n_seeds_reranked"] = next(iter(row.reranked.values())).n if row.reranked else 0
    if task == "reid" and row.measured:
        values["is_baseline"] = row.is_baseline
        values.update(_comparison("mAP_vs_baseline", row.vs_baseline))
        values.update(_stat("untrained_mAP", row.untrained_map))
        values.update(_comparison("mAP_vs_untrained", row.vs_untrained))
    if row.reported is not None:
        values.update({f"paper_{name}": value for name, value in row.reported.metrics.items()})
        values.update({f"paper_{name}_reranked": value for name, value in row.reported.reranked.items()})
        values.update(reported_in="; ".join(row.reported.sources), reported_measured_on=row.reported.measured_on,
                      reported_notes="; ".join(row.reported.notes))
    return values


def render_csv(page, rows):
    """The CSV text of one protocol page's ``rows`` (header row only when there are none)."""
    header = columns(page.task)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        values = _values(row, page.task)
        writer.writerow([value if isinstance(value, str) else _number(value)
                         for value in (values.get(name) for name in header)])
    return stream.getvalue()
