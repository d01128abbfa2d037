"""Issue 22 item 5: runs are averaged into one row only when everything that changed their training
agrees (batch size, input size, --max-iters, amp, plugin, every recipe setting), and smoke
runs (--max-iters) are left off the pages unless asked for."""
import copy
import re

from records_factory import make_record, reid_metrics, write_records

from reid_bench.cli import main as reid_bench
from reid_bench.leaderboard import write_leaderboards
from reid_bench.leaderboard.records import load_records


def _variant(seed, change=None, **kwargs):
    record = make_record(seed=seed, metrics=reid_metrics(50.0 + seed, 70.0), **kwargs)
    if change:
        change(record)
        record["run_id"] += change.__name__
    return record


def _batch_64(record):
    record["recipe"]["stages"][0]["batch_size"] = 64


def _input_256(record):
    record["recipe"]["input_size"] = record["input_size"] = [256, 128]


def _amp(record):
    record["amp"] = True


def _other_plugin(record):
    record["plugin"] = "someone_elses_alpha"


def _other_lr(record):
    record["recipe"]["stages"][0]["optimizer"] = {"name": "adam", "lr": 1e-3}


def _table_rows(page):
    return [line for line in page.splitlines() if line.startswith("| [alpha]") or line.startswith("| alpha")]


def test_each_training_difference_makes_its_own_row(tmp_path, plugin_set):
    changes = [None, _batch_64, _input_256, _amp, _other_plugin, _other_lr]
    records = [_variant(seed, change) for change in changes for seed in (0, 1)]
    write_records(tmp_path / "results", records)

    report = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)

    assert report.skipped == [] and report.records_used == 12
    rows = _table_rows((tmp_path / "out" / "synthetic.md").read_text())
    assert len(rows) == len(changes)  # six groups of two seeds, none merged
    assert all("| 2 " in row for row in rows)
    text = "\n".join(rows)
    assert "uniform (12 ep, batch 64, 128x64)" in text
    assert "uniform (12 ep, batch 32, 256x128)" in text
    assert "uniform (12 ep, batch 32, 128x64, amp)" in text
    assert "(plugin someone_elses_alpha)" in text
    # the stock run and the one with another learning rate read alike: they name their recipes
    assert text.count("(12 ep, batch 32, 128x64, recipe ") == 2


def test_seeds_whose_epochs_differ_in_length_share_a_row(tmp_path, plugin_set):
    """A P x K sampler's epoch length varies with the seed: iterations alone never split a row."""
    first, second = _variant(0), _variant(1)
    second["train"]["iterations"] = 97
    write_records(tmp_path / "results", [first, second])
    write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)
    rows = _table_rows((tmp_path / "out" / "synthetic.md").read_text())
    assert len(rows) == 1 and "| 2 " in rows[0]


def test_smoke_runs_are_left_off_unless_asked_for(tmp_path, plugin_set, capsys):
    def smoke(record):
        record["train"]["max_iters"] = 3

    full, quick = _variant(0), _variant(0, smoke)
    paths = write_records(tmp_path / "results", [full, quick])

    records, skipped, _ = load_records([str(tmp_path / "results")])
    assert [record.run_id for record in records] == [full["run_id"]]
    assert skipped[0].path == paths[1] and "smoke run (--max-iters 3)" in skipped[0].reason

    assert reid_bench(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out"),
                       "--include-smoke"]) == 0
    rows = _table_rows((tmp_path / "out" / "synthetic.md").read_text())
    assert len(rows) == 2 and sum("max 3 it/ep" in row for row in rows) == 1


def test_records_without_the_new_keys_still_group(tmp_path):
    """Records written before max_iters was recorded read as full runs."""
    old = copy.deepcopy(make_record(seed=0))
    del old["train"]["iterations"]
    write_records(tmp_path, [old])
    records, skipped, _ = load_records([str(tmp_path)])
    assert skipped == [] and records[0].group.max_iters is None


def test_the_records_plugin_is_part_of_the_row_and_a_line_break_stays_in_its_cell(tmp_path, plugin_set):
    own = make_record(method="alpha", seed=0)
    other = make_record(method="alpha", seed=0, finished_at="2026-03-01T00:00:00+00:00")
    other["plugin"], other["variant"] = "impostor", "full"
    odd = make_record(method="alpha", variant="two\nlines|x", seed=0)
    write_records(tmp_path / "results", [own, other, odd])

    report = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)

    page = (tmp_path / "out" / "synthetic.md").read_text()
    rows = [line for line in page.splitlines() if "alpha" in line and line.startswith("|")]
    assert report.skipped == [] and len(rows) == 3  # the impostor's seed 0 is not merged or dropped
    assert sum("(plugin impostor)" in row for row in rows) == 1
    assert any("two lines\\|x" in row for row in rows)
    header = next(line for line in page.splitlines() if line.startswith("| method"))
    assert all(len(re.findall(r"(?<!\\)\|", line)) == header.count("|") for line in rows)  # same columns


def _two_processes(record):
    record["distributed"] = {"world_size": 2, "backend": "nccl", "sync_bn": False, "global_batch_size": [32],
                             "per_rank_batch_size": [16], "parameters_identical": True}


def _two_processes_sync_bn(record):
    _two_processes(record)
    record["distributed"]["sync_bn"] = True


def test_runs_on_another_number_of_processes_get_their_own_row_saying_so(tmp_path, plugin_set):
    """Issue 17: the same recipe trained by one process, by two torchrun processes and by two with
    --sync-bn are three rows; the world size shows where it is not 1."""
    records = [_variant(seed, change) for change in (None, _two_processes, _two_processes_sync_bn) for seed in (0, 1)]
    write_records(tmp_path / "results", records)
    report = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)
    assert report.skipped == [] and report.records_used == 6
    rows = _table_rows((tmp_path / "out" / "synthetic.md").read_text())
    assert len(rows) == 3 and all("| 2 " in row for row in rows)
    cells = sorted(row.split("|")[4].strip() for row in rows)
    assert cells == ["uniform (12 ep, batch 32, 128x64)", "uniform (12 ep, batch 32, 128x64, world size 2 sync-bn)",
                     "uniform (12 ep, batch 32, 128x64, world size 2)"]


def test_a_record_with_a_bad_world_size_is_skipped_saying_why(tmp_path, plugin_set):
    record = _variant(0, _two_processes)
    record["distributed"]["world_size"] = 0
    write_records(tmp_path / "results", [record])
    report = write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)
    assert len(report.skipped) == 1 and "expected an object with world_size >= 1" in report.skipped[0].reason
