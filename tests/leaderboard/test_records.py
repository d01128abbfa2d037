"""Reading result records: unusable files are skipped with a reason, never mixed in."""
import json
import os
import re

import pytest
from records_factory import make_record, write_json, write_records

from reid_bench.cli import main as reid_bench
from reid_bench.leaderboard import write_leaderboards
from reid_bench.leaderboard.records import InvalidRecord, load_records, parse_record


def _reasons(skipped):
    return {os.path.basename(path): reason for path, reason in skipped}


def test_corrupt_foreign_and_other_schema_files_are_reported_and_skipped(tmp_path, plugin_set):
    results = tmp_path / "results"
    good = write_records(results, [make_record(seed=0), make_record(seed=1)])
    (results / "corrupt.json").write_text('{"schema_version": 1, "run_id": ')
    write_json(results / "foreign.json", {"hello": 1})
    write_json(results / "future.json", {**make_record(seed=2), "schema_version": 3})

    report = write_leaderboards([str(results)], str(tmp_path / "out"), plugin_set)

    reasons = _reasons(report.skipped)
    assert set(reasons) == {"corrupt.json", "foreign.json", "future.json"}
    assert reasons["corrupt.json"].startswith("not valid JSON")
    assert reasons["foreign.json"] == "no schema_version key: not a reid-bench result record"
    assert reasons["future.json"].startswith("schema_version 3 (newer than this reid-bench): this reid-bench "
                                             "reads schema versions 1, 2 only")
    assert report.records_used == len(good)
    synthetic = (tmp_path / "out" / "synthetic.md").read_text()
    assert re.search(r"\| uniform \(12 ep, batch 32, 128x64\) \| no +\| 2 +\|", synthetic)  # seeds 0 and 1; not the schema-3 seed 2


@pytest.mark.parametrize("change, reason", [
    (lambda r: [r], "a JSON list, not a reid-bench result record"),
    (lambda r: {**r, "schema_version": 0}, "schema_version 0 (older than this reid-bench)"),
    (lambda r: {k: v for k, v in r.items() if k not in ("metrics", "seed")}, "missing keys seed, metrics"),
    (lambda r: {**r, "task": "detection"}, "task is 'detection'"),
    (lambda r: {**r, "protocol": "../elsewhere"}, "protocol '../elsewhere' is not a protocol name"),
    (lambda r: {**r, "seed": "0"}, "seed is '0', expected an integer"),
    (lambda r: {**r, "metrics": {**r["metrics"], "mAP": float("nan")}}, "metrics.mAP is nan"),
    (lambda r: {**r, "metrics": {**r["metrics"], "R1": None}}, "metrics.R1 is None"),
    (lambda r: {**r, "metrics": {"top1_err": 1.0}}, "metrics lacks mAP, mINP, R1, R5, R10, R20"),
    (lambda r: {**r, "metrics_reranked": {"mAP": 1.0}}, "metrics_reranked lacks mINP"),
    (lambda r: {**r, "recipe": {"name": "uniform"}}, "recipe has no list of stages"),
    (lambda r: {**r, "train": {}}, "train is not an object with images_per_s"),
    (lambda r: {**r, "params": 1.5}, "params is 1.5"),
])
def test_malformed_records_are_rejected_with_the_reason(change, reason):
    with pytest.raises(InvalidRecord, match="^" + re.escape(reason)):
        parse_record("x.json", change(make_record()))


def test_optional_metrics_may_be_null():
    record = make_record(metrics={"mAP": 50.0, "mINP": None, "R1": 70.0, "R5": 80.0, "R10": 85.0, "R20": None})
    parsed = parse_record("x.json", record)
    assert parsed.metrics["mINP"] is None and parsed.metrics["mAP"] == 50.0


def test_records_are_found_in_nested_folders_and_temporary_files_are_ignored(tmp_path):
    write_records(tmp_path / "a" / "results", [make_record(seed=0)])
    write_records(tmp_path / "b", [make_record(seed=1)])
    write_json(tmp_path / "b" / ".tmp-abc.json", {"half": "written"})
    (tmp_path / "b" / "notes.txt").write_text("not a record")

    records, skipped, missing = load_records([str(tmp_path), str(tmp_path / "absent")])

    assert sorted(record.seed for record in records) == [0, 1]
    assert skipped == []
    assert missing == [str(tmp_path / "absent")]


def test_one_run_per_seed_the_latest_wins(tmp_path):
    old = make_record(seed=0, metrics=None, finished_at="2026-01-01T00:00:00+00:00")
    new = make_record(seed=0, finished_at="2026-02-01T00:00:00+00:00")
    old_path, new_path = write_records(tmp_path / "results", [old, new])
    copy_path = write_json(tmp_path / "copy" / "same-run.json", new)

    records, skipped, _ = load_records([str(tmp_path / "results"), str(tmp_path / "copy")])

    assert [record.path for record in records] == [new_path]
    reasons = dict(skipped)
    assert reasons[old_path].startswith(f"seed 0 of this method, variant and recipe is already counted from {new_path}")
    assert reasons[copy_path] == f"duplicate of {new_path} (same run_id)"


def test_same_folder_given_twice_reads_each_file_once(tmp_path):
    write_records(tmp_path, [make_record(seed=0)])
    records, skipped, _ = load_records([str(tmp_path), str(tmp_path)])
    assert len(records) == 1 and skipped == []


def test_cli_warns_about_skipped_records(tmp_path, capsys):
    results = tmp_path / "results"
    write_records(results, [make_record(method="my_method", seed=0)])
    write_json(results / "foreign.json", {"hello": 1})

    assert reid_bench(["leaderboard", "--results", str(results), "--out", str(tmp_path / "out")]) == 0

    captured = capsys.readouterr()
    assert f"skipped {results / 'foreign.json'}: no schema_version key" in captured.err
    assert str(tmp_path / "out" / "README.md") in captured.out
    assert "| my_method " in (tmp_path / "out" / "synthetic.md").read_text()
    assert json.loads((results / "foreign.json").read_text()) == {"hello": 1}  # reported, never touched


def test_a_deeply_nested_file_is_skipped_not_a_crash(tmp_path, plugin_set):
    """Reliability issue, defect 7: a 100,000-level nested JSON file stopped the leaderboard half-way."""
    results = tmp_path / "results"
    write_records(results, [make_record(seed=0)])
    (results / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    report = write_leaderboards([str(results)], str(tmp_path / "out"), plugin_set)
    assert _reasons(report.skipped) == {"nested.json": "nested too deeply to be a result record"}
    assert report.records_used == 1


def test_a_named_results_folder_that_does_not_exist_rewrites_nothing(tmp_path, capsys):
    """Reliability issue, defect 9: a mistyped --results only warned and rewrote every page without its runs."""
    results = tmp_path / "results"
    write_records(results, [make_record(method="my_method", seed=0)])
    out = tmp_path / "out"
    assert reid_bench(["leaderboard", "--results", str(results), "--out", str(out)]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert reid_bench(["leaderboard", "--results", str(results), "--results", str(tmp_path / "typo"),
                       "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: --results" in err and "typo" in err and "Traceback" not in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_pages_are_all_computed_before_any_is_written(tmp_path, plugin_set, monkeypatch):
    """Reliability issue, defect 7: a failure while computing one page left others rewritten."""
    import reid_bench.leaderboard as leaderboard

    results = tmp_path / "results"
    write_records(results, [make_record(seed=0)])
    out = tmp_path / "out"
    calls = []

    def failing_rows(name, *args):
        calls.append(name)
        if len(calls) == 3:
            raise RuntimeError("a page that cannot be computed")
        return []

    monkeypatch.setattr(leaderboard, "build_rows", failing_rows)
    with pytest.raises(RuntimeError):
        write_leaderboards([str(results)], str(out), plugin_set)
    assert not out.exists() or not any(out.iterdir())
