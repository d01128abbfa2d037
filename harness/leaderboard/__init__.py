"""Leaderboards: result records and reported numbers rendered as one markdown page per protocol.

``reid-bench leaderboard [--results DIR ...] [--out DIR]`` reads every result record under the
result folders (:mod:`.records`: unusable files are skipped and reported), groups the runs per
protocol by everything that changed their training (:class:`.records.Group`; smoke runs with
``--max-iters`` are left off unless ``--include-smoke``), averages them over seeds
(:mod:`.aggregate`), puts each paper's reported numbers beside them and writes, with tabulate,
``<out>/<protocol>.md`` for every protocol (:mod:`.protocols`) and ``<out>/README.md`` linking them
(:mod:`.render`), with each page's figures beside it (:mod:`.figures`: the CMC
curve and the primary metric's bars, SVG). Files are rewritten in full; the same records and methods
give the same bytes.
"""
import os
from dataclasses import dataclass, field

from ..atomic import write_text_atomic
from .aggregate import build_rows
from .protocols import page_filename, protocol_pages
from .records import SkippedRecord, load_records
from .render import render_index, render_page

DEFAULT_RESULT_DIRS = ("leaderboards/results", "runs/results")
DEFAULT_OUT_DIR = "leaderboards"
INDEX_FILE = "README.md"


@dataclass
class LeaderboardReport:
    """What :func:`write_leaderboards` did: the files written (pages, then the index), the record
    files left out with the reason for each, the result folders that do not exist, and how many
    records were used."""

    written: list = field(default_factory=list)
    figures: list = field(default_factory=list)  # the pages' SVG figures
    skipped: list = field(default_factory=list)  # SkippedRecord
    missing_dirs: list = field(default_factory=list)
    records_used: int = 0


def write_leaderboards(result_dirs, out_dir, plugin_set, include_smoke=False):
    """Regenerate the leaderboards in ``out_dir`` from the records under ``result_dirs`` and the
    methods and protocols registered in ``plugin_set`` (a :class:`reid_bench.plugin_manager.PluginSet`
    or anything with ``methods`` and ``datasets`` registries); smoke runs only with ``include_smoke``.
    Every file is written atomically. Returns a :class:`LeaderboardReport`."""
    from .figures import write_page_figures

    records, skipped, missing = load_records(result_dirs, include_smoke)
    methods = dict(plugin_set.methods.items())
    protocols = dict(plugin_set.datasets.items())
    pages, records_by_protocol, mismatched = protocol_pages(records, methods, protocols)
    report = LeaderboardReport(skipped=sorted(skipped + mismatched, key=lambda item: item.path),
                               missing_dirs=list(missing))
    # every page is computed before any is written: a failure leaves the old pages, not half new ones
    computed = [(page, build_rows(page.name, page.task, records_by_protocol.get(page.name, []), methods))
                for page in pages]
    os.makedirs(out_dir, exist_ok=True)
    index = []
    for page, rows in computed:
        page_records = records_by_protocol.get(page.name, [])
        filename = page_filename(page.name)
        figures = write_page_figures(page, rows, out_dir)
        report.figures += figures
        page_text = render_page(page, rows, protocols, [os.path.basename(path) for path in figures])
        report.written.append(write_text_atomic(os.path.join(out_dir, filename), page_text))
        report.records_used += len(page_records)
        index.append((page, rows, filename))
    report.written.append(write_text_atomic(os.path.join(out_dir, INDEX_FILE), render_index(index)))
    return report


__all__ = ["LeaderboardReport", "SkippedRecord", "write_leaderboards"]
