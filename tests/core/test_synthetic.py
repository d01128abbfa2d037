"""The embedded synthetic dataset: deterministic, Market-1501 layout, read by torchreid's own code."""
import hashlib
import os
import re

from reid_bench.datasets import synthetic


def folder_digest(folder):
    digest = hashlib.sha1()
    for dirpath, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            digest.update(name.encode())
            with open(os.path.join(dirpath, name), "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def test_generation_is_deterministic(tmp_path):
    first = synthetic.ensure_generated(str(tmp_path / "a"))
    second = synthetic.ensure_generated(str(tmp_path / "b"))
    assert folder_digest(first) == folder_digest(second)
    assert synthetic.ensure_generated(str(tmp_path / "a")) == first  # cached, not regenerated


def test_market_layout_and_counts(tmp_path):
    splits = synthetic.load(str(tmp_path))
    market = os.path.join(str(tmp_path), "synthetic", synthetic.MARKET_FOLDER)
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        names = os.listdir(os.path.join(market, folder))
        assert names and all(re.fullmatch(r"(-1|\d{4})_c[1-6]s1_\d{6}_00\.jpg", n) for n in names)
    assert splits.num_train_pids == synthetic.NUM_TRAIN_IDS
    assert sorted({item[1] for item in splits.train}) == list(range(synthetic.NUM_TRAIN_IDS))  # relabelled
    query_ids = {item[1] for item in splits.query}
    assert len(query_ids) == synthetic.NUM_TEST_IDS
    gallery_ids = [item[1] for item in splits.gallery]
    assert gallery_ids.count(0) == synthetic.NUM_DISTRACTORS and -1 not in gallery_ids  # junk dropped
    assert len({item[2] for item in splits.train}) == synthetic.NUM_CAMERAS
    # every query identity is seen by at least one other camera in the gallery: a cross-camera problem
    for pid in query_ids:
        query_cams = {c for _, p, c, _ in splits.query if p == pid}
        gallery_cams = {c for _, p, c, _ in splits.gallery if p == pid}
        assert len(query_cams | gallery_cams) >= 2


def test_cameras_change_colour_and_brightness():
    """The same identity rendered by two cameras differs in mean colour by the cameras' response."""
    import numpy as np

    identity = synthetic._draw_identity(np.random.default_rng(0))
    bright = [np.asarray(synthetic.render(identity, 2, np.random.default_rng(s))).mean() for s in range(8)]
    dark = [np.asarray(synthetic.render(identity, 4, np.random.default_rng(s))).mean() for s in range(8)]
    assert np.mean(bright) > 1.5 * np.mean(dark)


def test_every_recipe_on_synthetic_runs_under_its_cpu_budget():
    """Paper and uniform recipes alike: 64x32 input, 16 epochs, 32-image batches rounded down to whole
    identities, one warm-up epoch and x0.1 for the last two; each method keeps its own optimizer."""
    from reid_bench.plugin_manager import load_plugins
    from reid_bench.recipes import resolve_recipe

    plugins = load_plugins()
    protocol = plugins.datasets.get("synthetic")
    baseline = resolve_recipe(plugins.methods.get("baseline"), protocol, "paper")
    assert baseline.input_size == (64, 32) and baseline.epochs == 16
    (stage,) = baseline.stages
    assert stage.batch_size == 32 and stage.optimizer.lr == 3.5e-4
    assert [stage.schedule.factor(e) for e in (0, 1, 13, 14, 15)] == [0.1, 1.0, 1.0, 0.1, 0.1]
    msreid = resolve_recipe(plugins.methods.get("msreid"), protocol, "paper")
    assert msreid.stages[0].batch_size == 30 and msreid.stages[0].optimizer.lr == 1.5e-3  # 10 ids x 3
    self_attention = resolve_recipe(plugins.methods.get("self_attention"), protocol, "uniform")
    assert self_attention.epochs == 16 and self_attention.stages[0].batch_size == 32
