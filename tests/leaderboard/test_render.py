"""Rendering: a fixed set of records gives exactly the golden pages (markdown, HTML, CSV), the same bytes
every time.

To accept a deliberate change of the output, rerun with ``REID_BENCH_UPDATE_GOLDEN=1`` and review
the diff of ``tests/leaderboard/golden/``.
"""
import os
import shutil

import numpy as np
import pytest
from records_factory import make_record, reid_metrics, write_records

from reid_bench.leaderboard import write_leaderboards
from reid_bench.leaderboard.render import Footnotes, format_difference, format_stat
from reid_bench.leaderboard.aggregate import Stat

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def golden_records():
    """Runs on every kind of page: measured synthetic rows (re-ranked, re-ranked on one seed of three, one
    seed, a null mINP, an untrained start, seeds from two pretrained weight files), a
    market1501 run beside reported numbers, a CUHK03-NP run compared with classic-split numbers and
    a CIFAR-100 classification run."""
    classification = {"task": "classification", "protocol": "cifar100"}
    return [
        make_record(seed=0, metrics=reid_metrics(60.0, 80.0), metrics_reranked=reid_metrics(70.0, 82.0)),
        make_record(seed=1, metrics=reid_metrics(62.0, 81.0), metrics_reranked=reid_metrics(72.0, 83.0)),
        make_record(variant="lite", seed=0, metrics=reid_metrics(55.0, 75.0)),
        make_record(method="beta", seed=0, metrics=reid_metrics(58.0, 79.0, mINP=None), images_per_s=20.0,
                    weights_fingerprint="00aa"),
        make_record(method="beta", seed=1, metrics=reid_metrics(59.0, 78.0), images_per_s=22.0,
                    metrics_reranked=reid_metrics(66.0, 84.0), weights_fingerprint="00aa"),  # the one re-ranked
        make_record(method="beta", seed=2, metrics=reid_metrics(60.0, 80.0), images_per_s=24.0,
                    weights_fingerprint="11bb"),  # from another weight file: the row says so
        make_record(method="beta", seed=0, epochs=0, metrics=reid_metrics(20.0, 10.0), images_per_s=None,
                    finished_at="2026-01-03T00:00:00+00:00"),  # beta's untrained start
        make_record(method="baseline", seed=0, metrics=reid_metrics(50.0, 70.0), params=23_500_000, flops=None),
        make_record(method="baseline", seed=1, metrics=reid_metrics(52.0, 71.0), params=23_500_000, flops=None),
        make_record(method="unregistered", seed=0, metrics=reid_metrics(50.0, 70.0)),
        make_record(recipe_name="paper", epochs=3, seed=0, metrics=reid_metrics(58.0, 77.0)),
        make_record(protocol="market1501", recipe_name="paper", epochs=120, pretrained="torch hub cache", seed=0,
                    metrics=reid_metrics(79.5, 91.0)),
        make_record(method="beta", protocol="cuhk03-labeled", recipe_name="paper", epochs=120, pretrained="x",
                    seed=0, metrics=reid_metrics(80.0, 85.0)),
        make_record(seed=0, metrics={"top1_err": 24.5, "top5_err": 7.0}, **classification),
        make_record(seed=1, metrics={"top1_err": 25.0, "top5_err": 7.5}, **classification),
        make_record(seed=0, metrics=reid_metrics(64.0, 83.0), test_time=FLIP_COSINE),
    ]


FLIP_COSINE = {"flip": True, "distance": "cosine", "aqe": {"k": 5, "alpha": 3.0, "times": 1}, "rerank": None}


def golden_per_query():
    """Per-query APs of some synthetic records (40 queries): alpha is 10 points above the baseline on
    every query (significant), beta is +5 and -5 points on alternate queries (mean 0, not significant);
    the other rows have no per-query file (blank significance cells)."""
    base = np.linspace(0.3, 0.7, 40)
    wobble = np.where(np.arange(40) % 2 == 0, 0.05, -0.05)
    by_run = {}
    for record in golden_records():
        if record["protocol"] != "synthetic" or record["recipe_name"] != "uniform" or "test_time" in record["evaluation"]:
            continue
        seed = record["seed"] * 0.01
        ap = {"baseline": base + seed, "alpha": base + 0.1 + seed, "beta": base + wobble + seed}.get(record["method"])
        if ap is not None and record["variant"] == "full":
            by_run[record["run_id"]] = ap
    return by_run


def _render(results, out, plugin_set):
    report = write_leaderboards([str(results)], str(out), plugin_set)
    assert report.skipped == []
    return {os.path.basename(path): open(path, encoding="utf-8").read() for path in report.written}


def test_fixed_records_render_to_the_golden_pages(tmp_path, plugin_set):
    write_records(tmp_path / "results", golden_records(), golden_per_query())
    pages = _render(tmp_path / "results", tmp_path / "out", plugin_set)

    stems = ["cifar100", "cuhk03-labeled-classic", "cuhk03-labeled", "market1501", "synthetic"]
    assert sorted(pages) == sorted(["README.md"] + [stem + kind for stem in stems for kind in (".md", ".html", ".csv")])
    if os.environ.get("REID_BENCH_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        # the figures' bytes depend on matplotlib's version; test_figures checks them run against run
        shutil.copytree(tmp_path / "out", GOLDEN, ignore=shutil.ignore_patterns("*.svg"))
    for name, text in pages.items():
        with open(os.path.join(GOLDEN, name), encoding="utf-8") as stream:
            assert text == stream.read(), f"{name} differs from tests/leaderboard/golden/{name}"


def test_rendering_is_byte_identical_whatever_the_file_order(tmp_path, plugin_set):
    write_records(tmp_path / "results", golden_records(), golden_per_query())
    first = _render(tmp_path / "results", tmp_path / "first", plugin_set)
    again = _render(tmp_path / "results", tmp_path / "first", plugin_set)
    # the same records under other file names and folders, written in the opposite order
    for index, record in enumerate(reversed(golden_records())):
        write_records(tmp_path / "shuffled" / f"batch{index % 3}", [{**record, "run_dir": f"elsewhere/{index}"}],
                      golden_per_query())
    shuffled = _render(tmp_path / "shuffled", tmp_path / "second", plugin_set)
    assert again == first
    assert shuffled == first


@pytest.mark.parametrize("stat, text", [
    (Stat(61.0, 1.4142135623730951, 2), "61.00 ± 1.41"),
    (Stat(58.0, None, 1), "58.00"),
    (None, ""),
])
def test_format_stat(stat, text):
    assert format_stat(stat) == text


def test_format_difference_is_signed_and_never_negative_zero():
    assert format_difference(0.25) == "+0.25"
    assert format_difference(-5.9) == "-5.90"
    assert format_difference(-0.001) == "+0.00"
    assert format_difference(None) == ""


def test_footnotes_share_numbers_for_equal_texts():
    notes = Footnotes()
    assert notes.markers(["a", "b"]) == " [1] [2]"
    assert notes.markers(["b"]) == " [2]"
    assert notes.markers([]) == ""
    assert Footnotes.paragraphs(notes.texts) == ["[1] a", "[2] b"]
