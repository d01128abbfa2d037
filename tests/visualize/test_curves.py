"""``--eval-every``: metrics during training go to the record's history and TensorBoard without
changing the trained weights; ``reid-bench visualize curves`` plots them with the losses and the rate."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from reid_bench.cli import main
from reid_bench.visualize.curves import epoch_positions, read_scalars

RUN = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--epochs", "2", "--max-iters", "2",
       "--batch-size", "16", "--input-size", "32", "16", "--no-pretrained", "--no-rerank", "--workers", "0",
       "--no-progress"]


def _run(output, *extra):
    assert main([*RUN, "--output", output, *extra]) == 0
    [record] = glob.glob(os.path.join(output, "results", "*.json"))
    with open(record) as handle:
        record = json.load(handle)
    return record, record["run_dir"]


def test_eval_every_keeps_a_history_without_changing_training(tmp_path, capsys):
    record, run_dir = _run(str(tmp_path / "watched"), "--eval-every", "1")
    assert [entry["epoch"] for entry in record["history"]] == [1, 2]
    assert record["history"][-1]["metrics"] == pytest.approx(record["metrics"])  # epoch 2 is the final model
    scalars = read_scalars(os.path.join(run_dir, "tensorboard"))
    assert sorted(scalars["eval/mAP"]) == [1, 2] and sorted(scalars["train/iterations"].values()) == [2, 4]

    plain, plain_dir = _run(str(tmp_path / "plain"))
    assert plain["history"] == []
    watched = torch.load(os.path.join(run_dir, "model.pt"), weights_only=True)
    unwatched = torch.load(os.path.join(plain_dir, "model.pt"), weights_only=True)
    assert all(torch.equal(watched[name], unwatched[name]) for name in watched)

    capsys.readouterr()
    assert main(["visualize", "curves", run_dir]) == 0
    [path] = capsys.readouterr().out.split()
    assert path == os.path.join(run_dir, "visualize", "curves.png")
    assert Image.open(path).size == (700, 800)


def test_iterations_are_placed_within_their_epochs():
    # epochs of 2, 2 and 4 iterations (0-based epoch -> iterations done at its end)
    x = epoch_positions([1, 2, 3, 4, 5, 8, 9], {0: 2, 1: 4, 2: 8})
    assert x[:6] == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.25, 3.0]) and np.isnan(x[6])


def test_curves_of_a_folder_without_logs_is_one_error_line(tmp_path, capsys):
    assert main(["visualize", "curves", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
