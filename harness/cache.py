"""The harness's cache folder (generated datasets, synthetic-pretrained weights) and a file lock so
that parallel runs make each cached item once."""
import contextlib
import fcntl
import os


def cache_base():
    """``$REID_BENCH_CACHE``, or ``~/.cache/reid_bench``."""
    return os.environ.get("REID_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "reid_bench")


@contextlib.contextmanager
def exclusive_lock(path, waiting=None, log=print):
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block; other processes
    asking for it wait, saying so with ``log`` first ("waiting for another process making ``waiting``")
    when ``waiting`` is given."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log(f"waiting for another process making {waiting} (it holds {path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
