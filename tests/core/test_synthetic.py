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
