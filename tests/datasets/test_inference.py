"""Using a trained model: ``load_model`` + ``extract_features`` give the evaluation's own features (the
run's test-time options included), ``reid-bench eval --features`` gives the run's metrics back, ``reid-bench
search`` ranks a gallery, and bad inputs get one ``error:`` line."""
import glob
import json
import os

import numpy as np
import pytest
import torch

import reid_bench
import reid_bench.deploy.inference
from reid_bench.cli import main
from reid_bench.evaluation import evaluate
from reid_bench.plugin_manager import load_plugins

from .fixtures import TINY_RUN, forbid_downloads, make_market1501

@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    forbid_downloads(monkeypatch)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A Market-1501 copy of 8 training and 4 test identities: ``(root, splits)``."""
    root = str(tmp_path_factory.mktemp("market"))
    make_market1501(root, num_train_ids=8, num_test_ids=4)
    return root, load_plugins().datasets.get("market1501").load(root, allow_partial=True)


def run_capturing_features(plugin, root, output, monkeypatch):
    """``reid-bench run`` of ``plugin`` for two iterations; returns ``(run folder, record, features)`` where
    ``features`` are the query and gallery features the run's evaluation computed."""
    captured = []
    real_extract = evaluate.extract_features

    def capture(*args, **kwargs):
        result = real_extract(*args, **kwargs)
        captured.append(result)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(evaluate, "extract_features", capture)
        assert main(["run", "--plugin", plugin, *TINY_RUN, "--root", root, "--output", output]) == 0
    (record_path,) = glob.glob(os.path.join(output, "results", "*.json"))
    with open(record_path) as handle:
        record = json.load(handle)
    (run_dir,) = {os.path.dirname(p) for p in glob.glob(os.path.join(output, "**", "model.pt"), recursive=True)}
    return run_dir, record, {"query": captured[0][0], "gallery": captured[1][0]}


@pytest.mark.parametrize("plugin, test_features", [("baseline", "single"), ("sharp_attention", "ten_crop")])
def test_api_features_equal_the_evaluation_path(plugin, test_features, market, tmp_path, monkeypatch, capsys):
    root, splits = market
    run_dir, record, evaluated = run_capturing_features(plugin, root, str(tmp_path / "runs"), monkeypatch)
    assert record["evaluation"]["test_features"] == test_features

    model = reid_bench.load_model(run_dir, device="cpu")
    assert model.recipe.test_features == test_features and model.input_size == (32, 16)
    query, gallery = splits.query, splits.gallery
    features = reid_bench.extract_features(model, [item[0] for item in query], batch_size=128)
    assert features.shape == tuple(evaluated["query"].shape) and features.dtype == np.float32
    assert np.abs(features - features[:1]).max() > 1e-3  # images get different features: the check means something
    # same images, same batches, same operations: the same numbers (to far below any ranking difference)
    assert np.allclose(features, evaluated["query"].numpy(), rtol=0, atol=1e-6)

    # saved features evaluate to the run's metrics, with no model
    q_file, g_file = str(tmp_path / "query.npz"), str(tmp_path / "gallery.npz")
    reid_bench.deploy.inference.save_features(q_file, evaluated["query"].numpy(), [item[0] for item in query], model)
    reid_bench.deploy.inference.save_features(g_file, evaluated["gallery"].numpy(), [item[0] for item in gallery])
    capsys.readouterr()
    assert main(["eval", "--features", q_file, g_file, "--dataset", "market1501", "--root", root,
                 "--allow-partial", "--json"]) == 0
    [document] = json.loads(capsys.readouterr().out)
    metrics = document["metrics"]
    for name, value in record["metrics"].items():
        assert metrics[name] == pytest.approx(value, abs=1e-9), name


@pytest.fixture(scope="module")
def baseline_run(market, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("inference") / "runs")
    assert main(["run", "--plugin", "baseline", *TINY_RUN, "--root", market[0], "--output", output]) == 0
    (model_path,) = glob.glob(os.path.join(output, "**", "model.pt"), recursive=True)
    return model_path


def test_extract_then_search_finds_the_query_itself_first(baseline_run, market, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for item in market[1].gallery[:6]:
        (images / os.path.basename(item[0])).write_bytes(open(item[0], "rb").read())
    out = str(tmp_path / "gallery.npz")
    assert main(["extract", "--checkpoint", baseline_run, "--images", str(images), "--out", out, "--workers", "0",
                 "--no-progress"]) == 0
    features, paths, metadata = reid_bench.deploy.inference.load_features(out)
    assert features.shape[0] == 6 and len(paths) == 6 and metadata["method"] == "baseline"

    capsys.readouterr()
    query = sorted(glob.glob(str(images / "*.jpg")))[2]
    assert main(["search", "--features", out, "--query", query, "--top", "3", "--workers", "0",
                 "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"query {query}" and len(lines) == 4
    rank, distance, path = lines[1].split()
    next_distance = float(lines[2].split()[1])
    # the image itself: its distance is rounding noise of the expanded squared distance, far below the next
    assert (rank, path) == ("1", query) and float(distance) < 0.01 * next_distance


@pytest.mark.parametrize("case, expected", [
    ("empty folder", "no images in folder"),
    ("unreadable image", "cannot read image"),
    ("no run.json", "run.json does not exist"),
])
def test_bad_inputs_get_one_error_line(case, expected, baseline_run, tmp_path, capsys):
    checkpoint, images = baseline_run, tmp_path / "images"
    images.mkdir()
    if case == "unreadable image":
        (images / "broken.jpg").write_bytes(b"not a jpeg")
    elif case == "no run.json":
        (images / "fine.png").write_bytes(b"")
        checkpoint = str(tmp_path / "model.pt")
        torch.save({}, checkpoint)
    status = main(["extract", "--checkpoint", checkpoint, "--images", str(images), "--out", str(tmp_path / "f.npz"),
                   "--workers", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    if case == "unreadable image":
        assert "broken.jpg" in err


def test_saved_features_must_cover_the_split(market, tmp_path, capsys):
    root, splits = market
    query = [item[0] for item in splits.query]
    gallery = [item[0] for item in splits.gallery]
    q_file, g_file, bogus = str(tmp_path / "q.npz"), str(tmp_path / "g.npz"), tmp_path / "bogus.npz"
    reid_bench.deploy.inference.save_features(q_file, np.ones((len(query), 4)), query)
    reid_bench.deploy.inference.save_features(g_file, np.ones((len(gallery) - 2, 4)), gallery[2:])
    bogus.write_bytes(b"not an npz")
    for files, expected in (([q_file, g_file], f"2 of its {len(gallery)} gallery images have no feature"),
                            ([q_file, str(bogus)], "cannot read")):
        assert main(["eval", "--features", *files, "--dataset", "market1501", "--root", root, "--allow-partial"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1
