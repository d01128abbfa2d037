"""Which protocol pages the leaderboards have, and which records belong on each.

There is a page for every registered protocol (the real ones show the papers' reported numbers until
runs exist), for every pair of training and test protocols a model was tested on across domains
(``synthetic->synthetic-shift``), for every protocol a record was run on (a protocol from a plugin that is no longer
installed keeps its page) and for every protocol a method reports numbers on. A page's task comes
from the registered protocol, else from its records, else from the reported metric names; a record
whose task disagrees with its page's is skipped, since its metrics do not fit the page's columns.
"""
from dataclasses import dataclass

from ..registry import NAME
from .records import PAIR, SkippedRecord, TASK_METRICS


@dataclass(frozen=True)
class ProtocolPage:
    """A protocol as its leaderboard page shows it."""

    name: str
    task: str
    title: str
    split: str = ""
    overrides: str = ""


def page_stem(name):
    """What the page's files are named (``<stem>.md``, ``<stem>.html``, ``<stem>.csv`` and the figures
    ``<stem>-<figure>.svg``): the protocol's name, or ``<source>-to-<target>`` for a cross-domain page."""
    return name.replace(PAIR, "-to-")


def page_filename(name):
    """The page's markdown file name, ``<stem>.md``."""
    return f"{page_stem(name)}.md"


def _pair_page(name, task, protocols):
    """The page of models trained on one protocol and tested on another."""
    source, target = name.split(PAIR)
    titles = [protocols[p].title if p in protocols and protocols[p].title else p for p in (source, target)]
    split = protocols[target].split if target in protocols else ""
    return ProtocolPage(name, task, f"{source} -> {target}: trained on {titles[0]}, tested on {titles[1]}",
                        f"tested on {target}'s test split ({split})" if split else f"tested on {target}'s test split")


def _reported_task(metric_names):
    return "classification" if set(metric_names) <= set(TASK_METRICS["classification"]) else "reid"


def protocol_pages(records, methods, protocols):
    """``(pages, records_by_protocol, skipped)``.

    ``methods`` and ``protocols`` map names to the registered :class:`reid_bench.MethodSpec` and
    :class:`reid_bench.ProtocolSpec` objects; ``pages`` is sorted by protocol name.
    """
    pages = {
        name: ProtocolPage(name, spec.task, spec.title or name, spec.split, spec.overrides)
        for name, spec in protocols.items()
    }
    by_protocol, skipped = {}, []
    for record in sorted(records, key=lambda record: record.path):
        name = record.group.protocol
        page = pages.setdefault(name, _pair_page(name, record.task, protocols) if PAIR in name
                                else ProtocolPage(name, record.task, name))
        if record.task != page.task:
            skipped.append(SkippedRecord(
                record.path, f"task {record.task!r} differs from the {page.task!r} task of protocol {name!r}"
            ))
            continue
        by_protocol.setdefault(name, []).append(record)
    for method in methods.values():
        for entry in method.reported:
            if entry.protocol not in pages and NAME.match(entry.protocol):
                pages[entry.protocol] = ProtocolPage(entry.protocol, _reported_task(entry.metrics), entry.protocol)
    return [pages[name] for name in sorted(pages)], by_protocol, skipped
