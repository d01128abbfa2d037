"""Names read from files never choose where we write (reliability issue, defect 1 and the trailing-newline
case of defect 9): a crafted run.json seed or a record's run_id cannot leave the results folder."""
import json

import pytest

from reid_bench.deploy.inference import read_run_info
from reid_bench.errors import UserError
from reid_bench.registry import check_name
from reid_bench.results.records import write_record
from reid_bench.run_folder import file_in

GOOD = {"method": "baseline", "variant": "full", "protocol": "synthetic", "recipe_name": "uniform",
        "num_classes": 10, "input_size": [64, 32], "seed": 0}


def _info(tmp_path, **changes):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**GOOD, **changes}))
    return path


def test_a_good_run_json_is_read(tmp_path):
    assert read_run_info(_info(tmp_path))["seed"] == 0


@pytest.mark.parametrize("changes", [{"seed": "/../../../../tmp/ESCAPED"}, {"seed": -1}, {"seed": True},
                                     {"protocol": "synthetic\n"}, {"method": "../x"}, {"overrides": [1]}])
def test_a_crafted_run_json_is_refused(tmp_path, changes):
    with pytest.raises(UserError, match="missing or bad"):
        read_run_info(_info(tmp_path, **changes))


@pytest.mark.parametrize("name", ["../escaped.json", "/tmp/x.json", "..", "a\nb.json", ""])
def test_file_in_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(UserError, match="refusing to write"):
        file_in(str(tmp_path), name)


def test_write_record_stays_in_its_folder(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    with pytest.raises(UserError):
        write_record(str(results), {"run_id": "/../../ESCAPED"})
    assert not list(tmp_path.rglob("*ESCAPED*"))
    assert write_record(str(results), {"run_id": "ok"}).endswith("ok.json")


def test_names_with_a_trailing_newline_are_refused():
    with pytest.raises(ValueError):
        check_name("protocol", "synthetic\n")
