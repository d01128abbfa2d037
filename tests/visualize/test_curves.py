"""``--eval-every``: metrics during training go to the record's history and TensorBoard without
changing the trained weights; ``reid-bench visualize curves`` plots them with the losses and the rate, one
run or several overlaid (every seed of a configuration), each named by what tells it apart."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from reid_bench.cli import main
from reid_bench.visualize.curves import epoch_positions, overlay_figures, read_scalars, run_labels

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
    # the TensorBoard tracker's tags: losses per iteration, rate, speed and iterations per 0-based epoch
    assert {tag for tag in scalars if not tag.startswith("eval/")} == {
        "loss/softmax", "loss/triplet", "loss/total", "train/lr", "train/images_per_s", "train/iterations"}
    assert sorted(scalars["loss/total"]) == [1, 2, 3, 4] and sorted(scalars["train/lr"]) == [0, 1]

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


def test_several_runs_are_overlaid_one_figure_per_quantity(tmp_path, capsys):
    output = str(tmp_path / "seeds")
    assert main([*RUN, "--output", output, "--seeds", "0", "1", "--epochs", "1", "--eval-every", "1"]) == 0
    configuration = os.path.join(output, "baseline", "full", "synthetic", "paper")
    capsys.readouterr()
    assert main(["visualize", "curves", configuration]) == 0  # the folder above the seed folders: every seed
    paths = capsys.readouterr().out.split()
    assert paths == [os.path.join(configuration, "visualize", name)
                     for name in ("curves-loss.png", "curves-lr.png", "curves-metrics.png")]
    assert all(Image.open(path).size[0] == 700 for path in paths)

    runs = [(label, read_scalars(os.path.join(configuration, seed, "tensorboard")))
            for label, seed in zip(run_labels([os.path.join(configuration, "seed0"),
                                               os.path.join(configuration, "seed1")]), ("seed0", "seed1"))]
    figures = overlay_figures(runs)
    titles = [axes.get_title() for axes in figures["curves-loss.png"].axes]
    assert titles == ["softmax", "total", "triplet"]
    for figure in figures.values():
        for axes in figure.axes:
            assert [text.get_text() for text in axes.get_legend().get_texts()] == ["seed0", "seed1"]
    assert [axes.get_title() for axes in figures["curves-metrics.png"].axes] == ["mAP", "mINP", "R1", "R5", "R10",
                                                                                 "R20"]


def _run_folder(root, method, variant, seed, output="runs"):
    folder = root / output / method / variant / "synthetic" / "paper" / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"method": method, "variant": variant, "protocol": "synthetic",
                                                 "recipe_name": "paper", "seed": seed}))
    return str(folder)


def test_run_labels_name_only_what_differs(tmp_path):
    runs = [_run_folder(tmp_path, "baseline", "full", 0), _run_folder(tmp_path, "baseline", "full", 1),
            _run_folder(tmp_path, "ccan", "G+L", 0)]
    assert run_labels(runs) == ["baseline [full] seed0", "baseline [full] seed1", "ccan [G+L] seed0"]
    assert run_labels(runs[:2]) == ["seed0", "seed1"]
    twin = _run_folder(tmp_path, "baseline", "full", 0, output="other")  # the same configuration elsewhere
    assert run_labels([runs[0], twin]) == [os.path.join("runs", "baseline", "full", "synthetic", "paper", "seed0"),
                                           os.path.join("other", "baseline", "full", "synthetic", "paper", "seed0")]


def test_curves_of_a_missing_run_is_one_error_line(tmp_path, capsys):
    assert main(["visualize", "curves", str(tmp_path), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing does not exist" in err
