"""Turning result records and the methods' reported numbers into leaderboard rows.

One :class:`Row` per group of runs (see :class:`reid_bench.leaderboard.records.Group`): each metric
as mean and sample standard deviation (denominator n - 1) over the seeds, beside the numbers the
paper reports for that method variant on that protocol, and on re-id pages the mAP difference to the
protocol's baseline row and to the row's own untrained start, each with its bootstrap interval
(:mod:`.significance`). A metric some seed lacks (``null`` in its
record) is left blank rather than averaged over the other seeds. A method variant with reported
numbers on a protocol but no run there gets a row of its own, "not yet reproduced".

Reported numbers that were measured on another protocol (``Reported.measured_on``: CUHK03's classic
split shown on CUHK03-NP) are kept apart from those measured on the page's protocol: runs are
compared with the latter when the paper gives them, else with the former (and the page marks it);
any further set gets a reported-only row of its own.

Rows are sorted by the protocol's primary metric (re-id: our mAP, descending; classification: our
top-1 error, ascending), rows without runs after those with runs (sorted by the reported number the
same way), ties broken by method, variant, backbone, recipe, epochs, pretrained and the protocol the
reported numbers were measured on, so the order never depends on the order the files were read in.
"""
import statistics
from dataclasses import dataclass, field, replace
from typing import Optional

from ..results.significance import Comparison
from .records import TASK_METRICS, Group
from .significance import against_baseline, against_untrained_start

#: task -> (metric the rows are sorted by, True when larger is better)
PRIMARY_METRIC = {"reid": ("mAP", True), "classification": ("top1_err", False)}


@dataclass(frozen=True)
class Stat:
    """Mean over seeds and the sample standard deviation (``None`` for a single seed)."""

    mean: float
    std: Optional[float]
    n: int


def mean_of(stat):
    """A :class:`Stat`'s mean, ``None`` for no stat."""
    return None if stat is None else stat.mean


def summarize(values):
    """The :class:`Stat` of a list of numbers; ``None`` when the list is empty or a value is
    missing (``None``): a mean over only some of the seeds would read as one over all of them."""
    if not values or any(value is None for value in values):
        return None
    values = [float(value) for value in values]
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stat(statistics.mean(values), std, len(values))


@dataclass(frozen=True)
class ReportedNumbers:
    """What a paper reports for one method variant on one protocol, as measured on one protocol.

    ``metrics`` and ``reranked`` merge the method's :class:`reid_bench.Reported` entries in the
    order they were registered (the first entry giving a metric wins). ``measured_on`` names the
    protocol the numbers were really measured on when it is not the page's (``None``: the page's
    own); ``notes`` are the entries' notes.
    """

    metrics: dict
    reranked: dict
    sources: tuple
    measured_on: Optional[str]
    notes: tuple


def _unique(items):
    return tuple(dict.fromkeys(item for item in items if item))


def reported_numbers(method, protocol):
    """``{variant: [ReportedNumbers, ...]}`` for a :class:`reid_bench.MethodSpec` on ``protocol``.

    Numbers measured on different protocols are never merged: each gets its own entry, the ones
    measured on ``protocol`` itself first (they are the ones our runs are compared with).
    """
    by_origin = {}
    for entry in method.reported:
        if entry.protocol == protocol:
            by_origin.setdefault((entry.variant or method.default_variant, entry.measured_on), []).append(entry)
    result = {}
    for (variant, measured_on), entries in by_origin.items():
        plain, reranked = {}, {}
        for entry in entries:
            target = reranked if entry.reranked else plain
            for name, value in entry.metrics.items():
                target.setdefault(name, float(value))
        result.setdefault(variant, []).append(ReportedNumbers(
            metrics=plain,
            reranked=reranked,
            sources=_unique(entry.source for entry in entries),
            measured_on=measured_on,
            notes=_unique(entry.note for entry in entries),
        ))
    return {variant: sorted(numbers, key=lambda n: n.measured_on is not None) for variant, numbers in result.items()}


@dataclass(frozen=True)
class Row:
    """One leaderboard row: a group of runs (``seeds`` non-empty) or a method variant that has
    reported numbers only (``seeds`` empty; ``group`` and what comes from it are then ``None``)."""

    method: str
    variant: str
    backbone: str
    title: str = ""
    url: str = ""
    recipe_name: Optional[str] = None
    epochs: Optional[int] = None
    pretrained: Optional[str] = None  # records.weights_kind
    seeds: tuple = ()
    metrics: dict = field(default_factory=dict)  # name -> Stat
    reranked: dict = field(default_factory=dict)  # name -> Stat over the re-ranked seeds, empty without any
    params: Optional[Stat] = None
    flops: Optional[Stat] = None
    images_per_s: Optional[Stat] = None
    reported: Optional[ReportedNumbers] = None
    group: Optional[Group] = None  # what the runs share (records.Group); None without runs
    cmc: tuple = ()  # mean CMC (percent, rank 1 first) over the seeds, when every seed's record has one
    test_time: str = ""  # records.evaluation_label
    is_baseline: bool = False  # the baseline row the significance column compares the others with
    vs_baseline: Optional[Comparison] = None  # mAP against that row, with its bootstrap interval
    untrained_map: Optional[Stat] = None  # mAP of the same network on the same weights at 0 epochs
    vs_untrained: Optional[Comparison] = None  # mAP against that untrained start, with its bootstrap interval
    weight_files: tuple = ()  # the distinct weights_fingerprint of the seeds' records, sorted (unknown ones left out)

    @property
    def measured(self):
        return bool(self.seeds)

    def difference(self, metric):
        """Our mean minus the reported number, or ``None`` when either is missing."""
        ours = self.metrics.get(metric)
        theirs = self.reported.metrics.get(metric) if self.reported else None
        if ours is None or theirs is None:
            return None
        return ours.mean - theirs


def _measured_row(group, records, method, reported):
    task_metrics = TASK_METRICS[records[0].task]
    records = sorted(records, key=lambda record: record.seed)
    reranked = [record.metrics_reranked for record in records if record.metrics_reranked is not None]
    return Row(
        method=group.method,
        variant=group.variant,
        backbone=group.backbone,
        title=method.title if method else "",
        url=method.url if method else "",
        recipe_name=group.recipe_name,
        epochs=group.epochs,
        pretrained=group.pretrained,
        test_time=group.test_time,
        seeds=tuple(record.seed for record in records),
        metrics={name: summarize([record.metrics[name] for record in records]) for name in task_metrics},
        # over the seeds run with re-ranking (``--rerank``), however many; the page says when not all were
        reranked=({name: summarize([metrics[name] for metrics in reranked]) for name in task_metrics}
                  if reranked else {}),
        params=summarize([record.params for record in records]),
        flops=summarize([record.flops for record in records]),
        images_per_s=summarize([record.images_per_s for record in records]),
        reported=reported,
        group=group,
        cmc=_mean_curve([record.cmc for record in records]),
        weight_files=tuple(sorted({record.weights_fingerprint for record in records} - {None})),
    )


def _mean_curve(curves):
    """Rank-wise mean of the seeds' CMC curves (as long as the shortest); ``()`` if a seed has none."""
    if not curves or any(not curve for curve in curves):
        return ()
    return tuple(statistics.mean(values) for values in zip(*curves))


def _sort_key(task):
    metric, larger_is_better = PRIMARY_METRIC[task]
    sign = -1.0 if larger_is_better else 1.0

    def key(row):
        if row.measured:
            rank = (0, sign * row.metrics[metric].mean)
        elif row.reported and metric in row.reported.metrics:
            rank = (1, sign * row.reported.metrics[metric])
        else:
            rank = (2, 0.0)
        pretrained = row.pretrained or ""
        measured_on = (row.reported.measured_on or "") if row.reported else ""
        group = row.group
        training = (() if group is None else
                    (group.plugin, group.batch_size, group.input_size, group.max_iters or 0,
                     group.amp, group.overrides, group.recipe_fingerprint, group.world_size, group.sync_bn))
        return rank + (row.method, row.variant, row.backbone, row.recipe_name or "", row.epochs or 0, pretrained,
                       measured_on, row.test_time, training)

    return key


def build_rows(protocol, task, records, methods):
    """The sorted rows of one protocol's page.

    ``records`` are the checked records of this protocol (one per group and seed), ``methods`` maps
    method names to their :class:`reid_bench.MethodSpec` (records of methods not registered are
    still shown, without a paper link or reported numbers).
    """
    groups = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    reported = {name: reported_numbers(method, protocol) for name, method in methods.items()}
    rows = []
    for group, members in groups.items():
        numbers = reported.get(group.method, {}).get(group.variant, [])
        row = _measured_row(group, members, methods.get(group.method), numbers[0] if numbers else None)
        if task == "reid":
            start, vs_untrained = against_untrained_start(group, groups)
            row = replace(row, **against_baseline(group, groups, methods), vs_untrained=vs_untrained,
                          untrained_map=summarize([record.metrics["mAP"] for record in start]))
        rows.append(row)
    measured_variants = {(group.method, group.variant) for group in groups}
    for name, by_variant in reported.items():
        method = methods[name]
        for variant, numbers in by_variant.items():
            shown_beside_runs = 1 if (name, variant) in measured_variants else 0
            rows += [Row(method=name, variant=variant, backbone=method.backbone_for(), title=method.title,
                         url=method.url, reported=entry) for entry in numbers[shown_beside_runs:]]
    return sorted(rows, key=_sort_key(task))
