"""Leaderboards: result records and reported numbers rendered as one page per protocol.

``reid-bench leaderboard [--results DIR ...] [--output DIR]`` reads every result record under the
result folders (:mod:`.records`: unusable files are skipped and reported), groups the runs per
protocol by everything that changed their training (:class:`.records.Group`; smoke runs with
``--max-iters`` are left off unless ``--include-smoke``), averages them over seeds
(:mod:`.aggregate`), puts each paper's reported numbers beside them and writes, for every protocol
(:mod:`.protocols`), from the same rows:

- ``<output>/<protocol>.md``, the page in markdown (:mod:`.render`, tables by tabulate);
- ``<output>/<protocol>.html``, the same page as static HTML whose columns sort on a click
  (:mod:`.html_page`);
- ``<output>/<protocol>.csv``, every row's numbers unformatted (:mod:`.csv_table`);
- the page's figures beside them (:mod:`.figures`: the CMC curve and the primary metric's bars, SVG);

and ``<output>/README.md`` linking them. Every file of every page is computed before the first is
written, and each is written atomically: a failure leaves the old files, not half new ones. Files are
rewritten in full; the same records and methods give the same bytes.
"""
import os
from dataclasses import dataclass, field

from ..atomic import write_text_atomic
from .aggregate import build_rows
from .csv_table import render_csv
from .figures import figure_names, page_figures
from .html_page import render_html
from .protocols import page_stem, protocol_pages
from .records import SkippedRecord, load_records
from .render import render_index, render_page

DEFAULT_RESULT_DIRS = ("leaderboards/results", "runs/results")
DEFAULT_OUT_DIR = "leaderboards"
INDEX_FILE = "README.md"


@dataclass
class LeaderboardReport:
    """What :func:`write_leaderboards` did: the files written (each page's markdown, HTML and CSV, then
    the index), the figures written, the record
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
    records, skipped, missing = load_records(result_dirs, include_smoke)
    methods = dict(plugin_set.methods.items())
    protocols = dict(plugin_set.datasets.items())
    pages, records_by_protocol, mismatched = protocol_pages(records, methods, protocols)
    report = LeaderboardReport(skipped=sorted(skipped + mismatched, key=lambda item: item.path),
                               missing_dirs=list(missing))
    # every file of every page is computed before any is written: a failure leaves the old files
    computed = []
    for page in pages:
        page_records = records_by_protocol.get(page.name, [])
        rows = build_rows(page.name, page.task, page_records, methods)
        figures = page_figures(page, rows)
        stem = page_stem(page.name)
        texts = {f"{stem}.md": render_page(page, rows, protocols, list(figures)),
                 f"{stem}.html": render_html(page, rows, protocols, list(figures)),
                 f"{stem}.csv": render_csv(page, rows)}
        computed.append((page, rows, figures, texts))
        report.records_used += len(page_records)
    index = render_index([(page, rows) for page, rows, _, _ in computed])
    os.makedirs(out_dir, exist_ok=True)
    for page, _, figures, texts in computed:
        for name in figure_names(page.name, page.task):
            path = os.path.join(out_dir, name)
            if name in figures:  # write_atomic replaces a symlink there, never writes through it
                report.figures.append(write_text_atomic(path, figures[name]))
            elif os.path.isfile(path):  # left from when the page had runs
                os.remove(path)
        report.written += [write_text_atomic(os.path.join(out_dir, name), text) for name, text in texts.items()]
    report.written.append(write_text_atomic(os.path.join(out_dir, INDEX_FILE), index))
    return report


__all__ = ["LeaderboardReport", "SkippedRecord", "write_leaderboards"]
