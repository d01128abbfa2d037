"""Files written whole or not at all: checkpoints, weights, records, leaderboard pages.

:func:`write_atomic` writes through a temporary file with a unique name in the destination folder
(two runs writing the same path never share it), flushes it to disk (``fsync``) and renames it over
the destination, so a crash, a kill or a full disk leaves either the old file or the new one, never
a half-written one. The new file gets the permissions an ordinary ``open(path, "w")`` would give it
(``0666`` less the umask), not the ``0600`` of the temporary file.
"""
import os
import tempfile


def _umask():
    """The process's umask, read without changing it where Linux allows (``os.umask`` sets it, for an
    instant, for every thread)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, write, binary=False):
    """Call ``write(stream)`` on a temporary file beside ``path``, then move it to ``path``.

    ``stream`` is opened for text (UTF-8, ``\\n`` line ends) or, with ``binary``, for bytes. The
    temporary file is removed if ``write`` raises. Returns ``path``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with (os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8", newline="\n")) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    return path


def write_text_atomic(path, text):
    """:func:`write_atomic` of a string."""
    return write_atomic(path, lambda stream: stream.write(text))


def save_torch_atomic(obj, path):
    """``torch.save(obj, path)`` through :func:`write_atomic`."""
    import torch

    return write_atomic(path, lambda stream: torch.save(obj, stream), binary=True)
