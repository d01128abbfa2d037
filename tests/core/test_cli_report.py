"""What `run` and `eval` print: the per-epoch loss line (weighted terms that sum to the total), the metrics
table at the end, `--json` (the records and nothing else on stdout), and re-ranking off by default in both."""
import contextlib
import glob
import io
import json
import os
import re

import pytest

from reid_bench.cli import main

TINY = ["--plugin", "baseline", "--dataset", "synthetic", "--epochs", "1", "--max-iters", "2", "--no-pretrained",
        "--input-size", "32", "16", "--workers", "0", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run: its output folder and what it printed."""
    output = str(tmp_path_factory.mktemp("report") / "runs")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["run", *TINY, "--output", output]) == 0
    return output, out.getvalue()


def test_the_epoch_line_shows_weighted_terms_that_sum_to_the_total(trained):
    _, out = trained
    match = re.search(r"mean loss (\S+) = (.*?)  [\d.]+ img/s", out)
    terms = re.findall(r"(\w+) (\S+) \(x(\S+)\)", match.group(2))
    assert [name for name, _, _ in terms] == ["softmax", "triplet"]
    assert sum(float(value) for _, value, _ in terms) == pytest.approx(float(match.group(1)), abs=2e-4)


def test_run_ends_with_a_metrics_table_without_reranking_by_default(trained):
    output, out = trained
    [path] = glob.glob(os.path.join(output, "results", "*.json"))
    with open(path) as handle:
        record = json.load(handle)
    assert record["metrics_reranked"] is None and record["evaluation"]["test_time"]["rerank"] is None
    header, rule, row = out.splitlines()[-3:]
    assert header.split() == ["protocol", "seed", "test", "time", "mAP", "R1", "R5", "R10", "mINP"]
    assert row.split()[:3] == ["synthetic", "0", "default"]
    assert float(row.split()[3]) == pytest.approx(record["metrics"]["mAP"], abs=0.005)


def test_eval_json_prints_the_records_alone_and_rerank_adds_columns(trained, capsys):
    output, _ = trained
    [checkpoint] = glob.glob(os.path.join(output, "**", "model.pt"), recursive=True)
    capsys.readouterr()
    args = ["eval", "--checkpoint", checkpoint, "--dataset", "synthetic", "--workers", "0", "--rerank"]
    assert main([*args, "--json"]) == 0
    [document] = json.loads(capsys.readouterr().out)  # stdout is the JSON and nothing else
    assert document["tested_on"] == "synthetic" and document["metrics_reranked"]["mAP"] is not None
    with open(os.path.join(output, "results", f"{document['run_id']}.json")) as handle:
        assert json.load(handle) == document
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mAP re-ranked" in out and "R1 re-ranked" in out and "result record:" in out


def test_eval_features_refuses_output(tmp_path, capsys):
    assert main(["eval", "--features", "q.npz", "g.npz", "--dataset", "synthetic", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output is where --checkpoint's records go") and "Traceback" not in err
