"""Ranked results: on a tiny hand-made gallery whose ranking is known, every frame has the colour of
its identity (green: the query's, red: another), the right image sits in the right slot and the
picture has the size of its layout; then the command end to end on a synthetic run."""
import glob
import os

import numpy as np
import pytest
import torch
from PIL import Image

from reid_bench.cli import main
from reid_bench.spec import ReidSplits
from reid_bench.visualize.ranks import (FRAME, GAP, LABEL, MATCH, MISMATCH, QUERY, QUERY_GAP, cell_origin,
                                        average_precisions, choose_queries, write_ranked_results)

SIZE = (40, 20)  # shown height, width
# gallery: (pid, camid, feature value); the query is pid 1 seen by camera 0 with feature 0
GALLERY = [(1, 0, 0.0), (2, 1, 1.0), (1, 1, 2.0), (3, 2, 3.0), (1, 2, 4.0), (0, 3, 5.0)]
COLOURS = [(10, 20, 30), (200, 200, 0), (0, 200, 200), (120, 60, 200), (250, 130, 0), (90, 90, 90)]


@pytest.fixture
def tiny(tmp_path):
    def image(name, colour):
        path = str(tmp_path / f"{name}.png")
        Image.new("RGB", (8, 16), colour).save(path)
        return path

    query = [(image("query", (255, 255, 255)), 1, 0, 0)]
    gallery = [(image(f"g{i}", colour), pid, cam, 0) for i, ((pid, cam, _), colour) in enumerate(zip(GALLERY, COLOURS))]
    features = (torch.zeros(1, 2), np.array([1]), np.array([0]),
                torch.tensor([[value, 0.0] for _, _, value in GALLERY]), np.array([g[0] for g in GALLERY]),
                np.array([g[1] for g in GALLERY]))
    return ReidSplits(train=[], query=query, gallery=gallery), features


def test_frames_follow_the_identities_and_the_slots_hold_the_ranked_images(tiny, tmp_path):
    splits, features = tiny
    [path] = write_ranked_results(features, splits, str(tmp_path / "out"), size=SIZE, topk=5, count=1)
    picture = np.asarray(Image.open(path).convert("RGB"))
    cell_width = SIZE[1] + 2 * FRAME
    assert picture.shape == (SIZE[0] + 2 * FRAME + LABEL, 6 * cell_width + QUERY_GAP + 4 * GAP, 3)
    # gallery 0 shares the query's identity and camera: removed; the others rank by distance 1..5
    expected = [(1, MISMATCH), (2, MATCH), (3, MISMATCH), (4, MATCH), (5, MISMATCH)]
    x, y = cell_origin(0, SIZE)
    assert tuple(picture[y + 1, x + 1]) == QUERY
    assert tuple(picture[y + FRAME + SIZE[0] // 2, x + FRAME + SIZE[1] // 2]) == (255, 255, 255)
    for slot, (gallery_index, frame) in enumerate(expected, 1):
        x, y = cell_origin(slot, SIZE)
        for corner in ((y + 1, x + 1), (y + SIZE[0] + 2 * FRAME - 2, x + cell_width - 2)):
            assert tuple(picture[corner]) == frame, (slot, corner)
        centre = picture[y + FRAME + SIZE[0] // 2, x + FRAME + SIZE[1] // 2]
        assert tuple(centre) == COLOURS[gallery_index], slot


def test_worst_queries_are_those_with_the_lowest_average_precision(tiny):
    _, (qf, q_pids, q_camids, gf, g_pids, g_camids) = tiny
    # true matches at ranks 2 and 4 of the kept gallery: AP = (1/2 + 2/4) / 2
    assert average_precisions(qf, gf, q_pids, g_pids, q_camids, g_camids)[0] == pytest.approx(0.5)
    aps = np.array([0.9, np.nan, 0.2, 0.5])
    assert choose_queries(np.array([1, 2, 3, 4]), worst=2, aps=aps) == [2, 3]
    assert choose_queries(np.array([1, 2, 2, 4]), pids=[2]) == [1, 2]
    assert choose_queries(np.arange(10), count=3) == [0, 4, 9]


def test_unknown_query_identity_is_one_error_line(tiny):
    from reid_bench.errors import UserError

    with pytest.raises(UserError, match="no query image of identity 7"):
        choose_queries(np.array([1, 2]), pids=[7])


def test_visualize_ranks_on_a_synthetic_run(tmp_path, capsys):
    output = str(tmp_path / "runs")
    assert main(["run", "--plugin", "baseline", "--dataset", "synthetic", "--epochs", "0", "--no-pretrained",
                 "--input-size", "32", "16", "--no-rerank", "--workers", "0", "--no-progress",
                 "--output", output]) == 0
    [checkpoint] = glob.glob(os.path.join(output, "**", "model.pt"), recursive=True)
    capsys.readouterr()
    assert main(["visualize", "ranks", "--checkpoint", checkpoint, "--dataset", "synthetic", "--worst", "2",
                 "--topk", "3", "--height", "32", "--no-progress"]) == 0
    paths = capsys.readouterr().out.split()
    assert [os.path.basename(p)[:9] for p in paths] == ["worst001_", "worst002_"]
    for path in paths:
        picture = np.asarray(Image.open(path).convert("RGB"))
        assert picture.shape == (32 + 2 * FRAME + LABEL, 4 * (16 + 2 * FRAME) + QUERY_GAP + 2 * GAP, 3)
        frames = [tuple(picture[1, cell_origin(slot, (32, 16))[0] + 1]) for slot in range(4)]
        assert frames[0] == QUERY and all(frame in (MATCH, MISMATCH) for frame in frames[1:])


def test_visualize_ranks_refuses_a_file_that_is_not_a_run(tmp_path, capsys):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"nothing")
    assert main(["visualize", "ranks", "--checkpoint", str(bogus), "--dataset", "synthetic"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
