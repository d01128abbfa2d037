"""The embedded ``synthetic-shift`` domain: other identities, cameras and backgrounds than ``synthetic``,
made by the same generator; ``synthetic`` itself is unchanged by it."""
import os

import numpy as np

from reid_bench.datasets import synthetic


def test_synthetic_is_unchanged():
    # the fingerprint of the committed synthetic leaderboard's data (its GENERATOR marker)
    assert synthetic._config_fingerprint() == "c2d068afb0e7"
    assert synthetic._config_fingerprint(synthetic.SHIFT) != "c2d068afb0e7"


def test_shift_identities_are_disjoint_from_synthetic():
    identities = synthetic._draw_identities(np.random.default_rng(synthetic.SHIFT.seed), synthetic.SHIFT,
                                            synthetic.NUM_TRAIN_IDS + synthetic.NUM_TEST_IDS)
    keys = [synthetic.identity_key(identity) for identity in identities]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & synthetic.synthetic_identity_keys()


def test_shift_protocol_loads_with_its_own_cameras(tmp_path):
    splits = synthetic.SHIFT_PROTOCOL.load(str(tmp_path))
    assert os.path.isdir(os.path.join(str(tmp_path), "synthetic-shift", synthetic.MARKET_FOLDER))
    assert splits.num_train_pids == synthetic.NUM_TRAIN_IDS
    assert len({item[1] for item in splits.query}) == synthetic.NUM_TEST_IDS
    assert {item[2] for item in splits.train} == set(range(len(synthetic.SHIFT_CAMERAS)))


def test_low_resolution_and_blur_remove_detail():
    identity = synthetic._draw_identity(np.random.default_rng(0))
    camera = {**synthetic.CAMERAS[0], "noise": 0.0}

    def sharpness(**extra):
        image = synthetic.render(identity, 0, np.random.default_rng(1), camera={**camera, **extra}, background="tiles")
        return np.abs(np.diff(np.asarray(image, dtype=float), axis=1)).mean()

    # the same frame (same draws) at 0.4 of the resolution, or blurred, has weaker pixel-to-pixel edges
    assert sharpness(scale=0.4) < 0.8 * sharpness()
    assert sharpness(blur=1.2) < 0.8 * sharpness()
