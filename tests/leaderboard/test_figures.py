"""Leaderboard figures: each page with runs gets its CMC curve (re-id) and its primary metric's bars
beside the markdown, embedded in it, and two runs of the leaderboard give the same bytes, figures
included."""
import filecmp
import os
import xml.etree.ElementTree as ElementTree

from records_factory import make_record, reid_metrics, write_records

from reid_bench.cli import main
from reid_bench.leaderboard import write_leaderboards
from reid_bench.leaderboard.records import InvalidRecord, parse_record

import pytest


def _records():
    curve = [min(100.0, 60.0 + rank) for rank in range(50)]
    with_curve = make_record(seed=0, metrics=reid_metrics(60.0, 60.0))
    with_curve["evaluation"]["cmc"] = curve
    return [
        with_curve,
        make_record(seed=1, metrics=reid_metrics(62.0, 61.0)),  # an older record: no curve, R1/5/10/20 drawn
        make_record(method="beta", seed=0, metrics=reid_metrics(58.0, 79.0)),
        make_record(seed=0, task="classification", protocol="cifar100", metrics={"top1_err": 24.5, "top5_err": 7.0}),
    ]


def test_pages_embed_their_figures_and_two_runs_give_the_same_bytes(tmp_path, plugin_set):
    write_records(tmp_path / "results", _records())
    first = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "first"), plugin_set)
    second = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "second"), plugin_set)
    names = sorted(os.path.basename(path) for path in first.figures)
    assert names == ["cifar100-top1_err.svg", "synthetic-cmc.svg", "synthetic-mAP.svg"]
    assert sorted(os.listdir(tmp_path / "first")) == sorted(os.listdir(tmp_path / "second"))
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "first", tmp_path / "second",
                                               sorted(os.listdir(tmp_path / "first")), shallow=False)
    assert mismatch == [] and errors == []
    page = (tmp_path / "first" / "synthetic.md").read_text()
    assert "![cmc](synthetic-cmc.svg)" in page and "![mAP](synthetic-mAP.svg)" in page
    assert "synthetic-" not in (tmp_path / "first" / "market1501.md").read_text()  # no runs there, no figure
    for name in names:
        svg = (tmp_path / "first" / name).read_text()
        ElementTree.fromstring(svg.encode())  # well-formed
        assert "<dc:date>" not in svg and "Matplotlib v" not in svg


def test_a_page_that_loses_its_runs_loses_its_figures(tmp_path, plugin_set, capsys):
    write_records(tmp_path / "results", _records())
    out = tmp_path / "out"
    assert main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(out)]) == 0
    assert str(out / "synthetic-cmc.svg") in capsys.readouterr().out
    write_records(tmp_path / "other", _records()[3:])
    write_leaderboards([str(tmp_path / "other")], str(out), plugin_set)
    assert not (out / "synthetic-cmc.svg").exists() and (out / "cifar100-top1_err.svg").exists()


def test_a_record_with_a_bad_cmc_is_skipped():
    record = make_record()
    record["evaluation"]["cmc"] = [50.0, "x"]
    with pytest.raises(InvalidRecord, match="evaluation.cmc"):
        parse_record("r.json", record)


def test_a_figure_replaces_a_symlink_instead_of_writing_through_it(tmp_path, plugin_set):
    """Reliability issue, defect 2: a ``synthetic-cmc.svg`` symlink in the output overwrote its target."""
    write_records(tmp_path / "results", _records())
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    os.symlink(target, out / "synthetic-cmc.svg")
    write_leaderboards([str(tmp_path / "results")], str(out), plugin_set)
    assert target.read_text() == "keep me"
    assert not os.path.islink(out / "synthetic-cmc.svg")
    ElementTree.fromstring((out / "synthetic-cmc.svg").read_bytes())
