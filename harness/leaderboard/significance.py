"""The leaderboard's significance columns: each row's mAP against its protocol's baseline row, and each
trained row's mAP against its own untrained start.

A row's baseline row is the row of the ``baseline`` method (its default variant) on the same protocol
with the same recipe name, training epochs, batch and input sizes, pretrained weights, ``--max-iters``,
mixed precision, world size and test-time options, so the difference is the method's, not the
schedule's or the testing's. The difference and its interval come from
:func:`reid_bench.results.significance.paired_bootstrap` over the rows' per-query files (queries paired, seeds
of each row resampled), with a fixed number of resamples and a fixed seed so a page is the same bytes
every time it is generated. A row whose records (or whose baseline's) lack per-query files gets none.

A trained row's untrained start is the row of the same method, variant, plugin, backbone, recipe, batch
and input sizes, pretrained weights, precision, world size and test-time options at 0 epochs (``--epochs
0``): the same network on the same weights before any training. Its difference says what training added;
an interval above 0 means the method learns on the protocol rather than inheriting its pretraining.
"""
from dataclasses import replace
from typing import Optional

from ..errors import UserError
from ..results.per_query import load_per_query
from ..results.significance import Comparison, aligned_ap, paired_bootstrap

BASELINE_METHOD = "baseline"
RESAMPLES = 1000
SEED = 0


def _setting(group):
    """What a row and its baseline row share: everything but the method, its plugin and its recipe's
    method-specific details (the fingerprint)."""
    return (group.protocol, group.recipe_name, group.epochs, group.batch_size, group.input_size, group.pretrained,
            group.max_iters, group.amp, group.world_size, group.sync_bn, group.test_time)


def baseline_group(group, groups, methods):
    """The group of ``group``'s baseline row among ``groups``, or ``None``."""
    method = methods.get(BASELINE_METHOD)
    variant = method.default_variant if method is not None else None
    matches = [other for other in groups
               if other.method == BASELINE_METHOD and (variant is None or other.variant == variant)
               and _setting(other) == _setting(group)]
    return matches[0] if len(matches) == 1 else None


def compare_records(records, baseline_records) -> Optional[Comparison]:
    """mAP of ``records`` minus that of ``baseline_records`` (each one record per seed), or ``None``
    when a per-query file is missing or the two were not tested on the same queries."""
    if any(record.per_query is None for record in [*records, *baseline_records]):
        return None
    try:
        sides = [[(record.path, load_per_query(record.per_query)) for record in side]
                 for side in (records, baseline_records)]
        ours, theirs = aligned_ap(sides)
    except UserError:
        return None
    return paired_bootstrap(ours, theirs, resamples=RESAMPLES, seed=SEED)


def against_baseline(group, groups, methods):
    """``{"is_baseline", "vs_baseline"}`` for the row of ``group`` (``groups`` maps every group of the
    page to its records, sorted by seed)."""
    reference = baseline_group(group, groups, methods)
    if reference is None:
        return {"is_baseline": False, "vs_baseline": None}
    if reference == group:
        return {"is_baseline": True, "vs_baseline": None}
    ours, theirs = (sorted(groups[key], key=lambda record: record.seed) for key in (group, reference))
    return {"is_baseline": False, "vs_baseline": compare_records(ours, theirs)}


def _start_setting(group):
    """What a trained row shares with its untrained start: everything but the training length (the
    epochs, the ``--max-iters`` cap and the recipe fingerprint, which holds the epochs)."""
    return replace(group, epochs=0, max_iters=None, recipe_fingerprint="")


def untrained_start_group(group, groups):
    """The group of ``group``'s untrained start among ``groups`` (``None`` for an untrained row, or
    when there is none or more than one)."""
    if group.epochs == 0:
        return None
    matches = [other for other in groups if other.epochs == 0 and _start_setting(other) == _start_setting(group)]
    return matches[0] if len(matches) == 1 else None


def against_untrained_start(group, groups):
    """``(start_records, comparison)`` for the row of ``group``: the records of its untrained start
    (sorted by seed; empty without one) and the trained mAP minus the start's with its bootstrap
    interval (``None`` without one or without per-query files)."""
    start = untrained_start_group(group, groups)
    if start is None:
        return [], None
    ours, theirs = (sorted(groups[key], key=lambda record: record.seed) for key in (group, start))
    return theirs, compare_records(ours, theirs)
