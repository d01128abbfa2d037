"""Cross-domain tests: ``run --test-on`` and ``eval --dataset D1 D2`` write one record per test protocol,
and the leaderboard gives each training -> test pair a page of its own."""
import glob
import json
import os

import pytest

from reid_bench.cli import main
from reid_bench.results.per_query import load_per_query, mean_ap

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
#: the small third-party example plugin: a run and four evaluations in a few seconds
TOY = ["--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs", "1",
       "--max-iters", "1", "--no-pretrained", "--workers", "0", "--no-progress", "--no-rerank"]


@pytest.fixture
def toy_plugin(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)


def records(folder):
    found = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as stream:
            record = json.load(stream)
        found[(record["trained_on"], record["tested_on"], "evaluated_checkpoint" in record)] = record
    return found


def test_run_test_on_eval_and_leaderboard_pages(tmp_path, capsys, toy_plugin):
    output = str(tmp_path / "runs")
    assert main(["run", *TOY, "--output", output, "--test-on", "synthetic-shift"]) == 0
    results = os.path.join(output, "results")
    written = records(results)
    assert sorted(written) == [("synthetic", "synthetic", False), ("synthetic", "synthetic-shift", False)]
    shifted = written[("synthetic", "synthetic-shift", False)]
    assert shifted["protocol"] == "synthetic-shift" and shifted["seed"] == 0
    assert shifted["evaluation"]["num_query"] != written[("synthetic", "synthetic", False)]["evaluation"]["num_query"]
    assert mean_ap(load_per_query(os.path.join(results, shifted["per_query"]))) == shifted["metrics"]["mAP"]

    # eval of the same weights on both protocols: two more records, in the run's own results folder
    checkpoint = os.path.join(output, "toy", "full", "synthetic", "paper", "seed0", "model.pt")
    capsys.readouterr()
    assert main(["eval", "--plugin-module", "reid_bench_toy", "--checkpoint", checkpoint, "--dataset", "synthetic",
                 "synthetic-shift", "--workers", "0", "--flip", "--json"]) == 0
    assert [document["tested_on"] for document in json.loads(capsys.readouterr().out)] == ["synthetic",
                                                                                           "synthetic-shift"]
    written = records(results)
    assert len(written) == 4
    evaluated = written[("synthetic", "synthetic-shift", True)]
    assert evaluated["evaluation"]["test_time"]["flip"] is True
    assert evaluated["train"]["epochs"] == 1 and evaluated["plugin"] == "reid_bench_toy"

    out = tmp_path / "leaderboards"
    assert main(["leaderboard", "--results", results, "--out", str(out), "--include-smoke"]) == 0
    page = (out / "synthetic-to-synthetic-shift.md").read_text()
    assert page.startswith("# synthetic -> synthetic-shift: trained on Synthetic pedestrians")
    assert page.count("| toy ") == 2  # plain and flipped features: two rows
    assert "[synthetic->synthetic-shift](synthetic-to-synthetic-shift.md)" in (out / "README.md").read_text()
    assert "| toy " not in (out / "synthetic-shift.md").read_text()  # no model trained on it


@pytest.mark.parametrize("extra, expected", [
    (["--test-on", "synthetic"], "always tested on it"),
    (["--test-on", "cifar100"], "cross-domain tests are for re-id protocols"),
    (["--test-on", "nope"], "unknown dataset 'nope'"),
])
def test_bad_test_on_is_refused_before_training(tmp_path, capsys, short_run_options, extra, expected):
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", *short_run_options,
                 "--output", str(tmp_path / "runs"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert not (tmp_path / "runs" / "baseline").exists()


def test_eval_outside_a_run_output_needs_output(tmp_path, capsys):
    folder = tmp_path / "moved"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"method": "baseline", "variant": "full", "protocol": "synthetic",
                                                 "recipe_name": "paper", "num_classes": 120, "input_size": [64, 32],
                                                 "seed": 0}))
    import torch

    from reid_bench.plugin_manager import load_plugins
    from reid_bench.recipes import resolve_recipe
    from reid_bench.models.building import build_model

    plugins = load_plugins([])
    method, protocol = plugins.methods.get("baseline"), plugins.datasets.get("synthetic")
    model = build_model(plugins, method, "full", protocol, resolve_recipe(method, protocol, "paper"), 120, False)
    torch.save(model.state_dict(), folder / "model.pt")
    assert main(["eval", "--checkpoint", str(folder / "model.pt"), "--dataset", "synthetic", "--workers", "0"]) == 2
    assert "pass --output" in capsys.readouterr().err
