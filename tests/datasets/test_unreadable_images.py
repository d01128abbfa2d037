"""An image that cannot be decoded stops a run with one ``error:`` line naming the file (torchreid's
``read_image`` retries such a file forever), in training and in evaluation, with and without worker
processes; ``reid-bench check`` lists every such image of a dataset."""
import glob
import os
import signal

import pytest
from PIL import Image

from reid_bench.cli import main
from reid_bench.data.loaders import decode_image, read_image
from reid_bench.errors import UnreadableImageError

from .fixtures import forbid_downloads, make_market1501

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
RUN = ["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "market1501", "--allow-partial",
       "--epochs", "1", "--no-progress", "--no-rerank"]
DEADLINE_S = 30  # a hang (the old behaviour) fails the test instead of filling the disk with retries


class Hung(Exception):
    pass


@pytest.fixture(autouse=True)
def setup(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)
    forbid_downloads(monkeypatch)

    def give_up(signum, frame):
        raise Hung(f"still running after {DEADLINE_S} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(DEADLINE_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _damage(path, kind):
    """Turn the image at ``path`` into an unreadable one of kind ``kind``."""
    if kind == "empty":
        open(path, "wb").close()
    elif kind == "truncated":
        with open(path, "rb") as handle:
            data = handle.read()
        with open(path, "wb") as handle:
            handle.write(data[: len(data) // 2])
    elif kind == "text":
        with open(path, "w") as handle:
            handle.write("this is not a JPEG\n")
    elif kind == "directory":
        os.remove(path)
        os.mkdir(path)
    elif kind == "looping_link":
        os.remove(path)
        os.symlink(os.path.basename(path), path)
    elif kind == "broken_link":
        os.remove(path)
        os.symlink(path + ".missing", path)
    else:
        raise ValueError(kind)


KINDS = ["empty", "truncated", "text", "directory", "looping_link", "broken_link"]


@pytest.mark.parametrize("kind", KINDS)
def test_read_image_names_the_file_and_never_retries(tmp_path, kind):
    path = str(tmp_path / "0002_c1s1_000001_00.jpg")
    Image.new("RGB", (64, 128), (200, 30, 30)).save(path, quality=95)
    assert read_image(path).size == (64, 128)
    _damage(path, kind)
    with pytest.raises(UnreadableImageError, match="cannot read image") as caught:
        read_image(path)
    assert path in str(caught.value) and "\n" not in str(caught.value)
    image, reason = decode_image(path)
    assert image is None and reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_read_image_refuses_a_file_without_read_permission(tmp_path):
    path = str(tmp_path / "0002_c1s1_000001_00.jpg")
    Image.new("RGB", (8, 16)).save(path)
    os.chmod(path, 0)
    with pytest.raises(UnreadableImageError, match="PermissionError"):
        read_image(path)


def _dataset_with_bad_image(tmp_path, split, kind="truncated"):
    root = str(tmp_path / "data")
    make_market1501(root, num_train_ids=4)
    (bad,) = sorted(glob.glob(os.path.join(root, "market1501", "*", split, "*.jpg")))[:1]
    _damage(bad, kind)
    return root, bad


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("split,extra", [("bounding_box_train", []), ("query", ["--epochs", "0"])],
                         ids=["training", "evaluation"])
def test_run_stops_with_one_error_naming_the_bad_image(tmp_path, capsys, workers, split, extra):
    root, bad = _dataset_with_bad_image(tmp_path, split)
    status = main(RUN + ["--root", root, "--output", str(tmp_path / "runs"), "--workers", str(workers), *extra])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "retry" not in err.lower() and "Will redo" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: cannot read image {bad} (")
    assert not glob.glob(str(tmp_path / "runs" / "results" / "*.json"))


def test_check_lists_every_unreadable_image(tmp_path, capsys):
    root = str(tmp_path / "data")
    counts = make_market1501(root, num_train_ids=4)
    total = counts.train_images + counts.query_images + counts.gallery_images  # junk (pid -1) is not loaded
    assert main(["check", "--dataset", "market1501", "--root", root, "--allow-partial", "--no-progress"]) == 0
    assert f"all {total} images decode" in capsys.readouterr().out

    images = sorted(path for path in glob.glob(os.path.join(root, "market1501", "*", "*", "*.jpg"))
                    if not os.path.basename(path).startswith("-1_"))
    bad = {images[0]: "empty", images[17]: "text", images[-1]: "truncated"}
    for path, kind in bad.items():
        _damage(path, kind)
    assert main(["check", "--dataset", "market1501", "--root", root, "--allow-partial", "--no-progress"]) == 2
    captured = capsys.readouterr()
    listed = [line for line in captured.out.splitlines() if line.startswith("unreadable: ")]
    assert sorted(line.split()[1] for line in listed) == sorted(bad)
    (line,) = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert f"3 of {total} images" in line


def test_a_split_folder_that_cannot_be_listed_is_one_error(tmp_path, capsys, monkeypatch):
    """Issue 22 item 8: a split folder without read permission (simulated: the tests run as root)."""
    make_market1501(str(tmp_path / "data"))
    locked = os.path.join(str(tmp_path / "data"), "market1501", "Market-1501-v15.09.15", "query")
    real_listdir = os.listdir

    def listdir(path="."):
        if os.path.abspath(path) == os.path.abspath(locked):
            raise PermissionError(13, "Permission denied", path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    code = main(["run", "--plugin", "baseline", "--dataset", "market1501", "--root", str(tmp_path / "data"),
                 "--allow-partial", "--output", str(tmp_path / "runs"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    assert f"cannot list {locked} (Permission denied)" in err
