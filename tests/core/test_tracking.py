"""``reid-bench run --tracker``: MLflow gets the run's parameters, per-epoch losses and rate, the
--eval-every metrics, the final metrics and the record (read back with MlflowClient from the local store
under --output); ``none`` writes no logs; without MLflow installed ``--tracker mlflow`` is one error line."""
import glob
import json
import os
import sys

import pytest

from reid_bench.cli import main

TINY = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--max-iters", "2", "--batch-size", "16",
        "--input-size", "32", "16", "--no-pretrained", "--workers", "0", "--no-progress"]


def _record(output):
    [path] = glob.glob(os.path.join(output, "results", "*.json"))
    with open(path) as handle:
        return path, json.load(handle)


def test_mlflow_tracker_logs_params_losses_metrics_and_the_record(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")  # the `test` extra installs it (mlflow-skinny); CI runs this
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # the tracker sets it; put back after the test
    output = str(tmp_path / "out")
    assert main([*TINY, "--epochs", "2", "--eval-every", "1", "--tracker", "mlflow", "--rerank",
                 "--output", output]) == 0
    path, record = _record(output)

    client = mlflow.tracking.MlflowClient(tracking_uri=(tmp_path / "out" / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("synthetic")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "baseline-full-synthetic-paper-seed0"
    assert run.data.tags["reid_bench.run_dir"] == record["run_dir"]
    params = run.data.params
    assert (params["method"], params["variant"], params["protocol"], params["seed"]) == ("baseline", "full",
                                                                                         "synthetic", "0")
    assert params["recipe.name"] == "paper" and params["recipe.input_size.0"] == "32"
    assert params["recipe.stages.0.optimizer.lr"] == str(record["recipe"]["stages"][0]["optimizer"]["lr"])
    assert params["overrides"] == "{}" and params["max_iters"] == "2"

    metrics = run.data.metrics
    assert metrics["mAP"] == record["metrics"]["mAP"] and metrics["R1"] == record["metrics"]["R1"]
    assert metrics["reranked/mAP"] == record["metrics_reranked"]["mAP"]
    for name in ("loss/total", "loss/softmax", "loss/triplet", "train/lr", "eval/mAP"):
        assert [point.step for point in client.get_metric_history(run.info.run_id, name)] == [1, 2], name
    assert [point.value for point in client.get_metric_history(run.info.run_id, "eval/mAP")] == [
        entry["metrics"]["mAP"] for entry in record["history"]]
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert artifacts == {os.path.basename(path), "config.yaml"}
    assert os.path.isdir(os.path.join(record["run_dir"], "tensorboard")) is False  # MLflow instead of TensorBoard


def test_tracker_none_writes_no_logs_and_an_unknown_one_is_one_error_line(tmp_path, capsys):
    output = str(tmp_path / "out")
    assert main([*TINY, "--epochs", "1", "--no-rerank", "--tracker", "none", "--output", output]) == 0
    _, record = _record(output)
    assert not os.path.exists(os.path.join(record["run_dir"], "tensorboard"))
    capsys.readouterr()
    assert main([*TINY, "--epochs", "1", "--set", "tracker=wandb", "--output", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "tensorboard, mlflow, none" in err


def test_mlflow_tracker_without_mlflow_is_one_error_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    output = tmp_path / "out"
    assert main([*TINY, "--epochs", "1", "--tracker", "mlflow", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and 'pip install "reid-bench[mlflow]"' in err
    assert not os.path.exists(output / "baseline")  # refused before any run folder is made
