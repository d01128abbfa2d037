"""Layout checks shared by the dataset loaders, and the messages they give.

Every loader checks the folder itself before any third-party reader touches it (torchreid's dataset
classes download a dataset whose folder is missing), and every failure is a
:class:`~reid_bench.errors.DatasetLayoutError` that says what is missing or extra, the layout that
was expected, where the official copy comes from and that nothing is downloaded.
"""
import os
from dataclasses import dataclass

from ..errors import DatasetLayoutError, UserError

#: at most this many offending names are quoted in one message
SHOWN = 3


@dataclass(frozen=True)
class Layout:
    """What a dataset looks like on disk: its name, the expected folder layout (relative to
    ``--root``) and the page of the official copy."""

    title: str
    description: str
    url: str

    def error(self, root, problems, advice=None):
        """A :class:`DatasetLayoutError` listing ``problems`` (a list of short sentences)."""
        lines = [f"{self.title} under {root} is not as expected:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append(f"expected layout: {self.description}")
        if advice:
            lines.append(advice)
        lines.append(
            f"Nothing is downloaded: get the official copy from {self.url} and unpack it under --root "
            "as shown."
        )
        return DatasetLayoutError("\n".join(lines))

    def require(self, root, folders=(), files=()):
        """Raise unless every path in ``folders`` is a folder and every path in ``files`` a file."""
        problems = [f"missing folder {path}" for path in folders if not os.path.isdir(path)]
        problems += [f"missing file {path}" for path in files if not os.path.isfile(path)]
        if problems:
            raise self.error(root, problems)

    def check_sizes(self, root, found, expected, allow_partial):
        """Compare the counts ``found`` with the published ``expected`` ones (same keys, e.g.
        ``"train identities"``); raise naming every count that differs, unless ``allow_partial``."""
        if allow_partial:
            return
        problems = []
        for name, published in expected.items():
            count = found[name]
            if count != published:
                gap = f"{published - count:,} missing" if count < published else f"{count - published:,} extra"
                problems.append(f"{name}: {count:,} found, {published:,} expected ({gap})")
        if problems:
            raise self.error(
                root,
                problems,
                advice="These are the published split sizes. For a deliberate subset pass --allow-partial "
                "(allow_partial=True when calling the protocol's load).",
            )


def quoted(items):
    """``'a', 'b', 'c' and 4 more`` for a message."""
    items = list(items)
    shown = ", ".join(repr(str(item)) for item in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def check_images(folder, name_is_valid, suffix=".jpg"):
    """Problems with one image folder: none of its ``suffix`` files, or files whose names do not
    follow the dataset's naming (``name_is_valid(name)`` is False). Other file types are ignored,
    as the dataset readers ignore them."""
    try:
        names = [name for name in os.listdir(folder) if name.endswith(suffix)]
    except OSError as exc:
        return [f"cannot list {folder} ({exc.strerror or exc}); expected a folder this user can read"]
    if not names:
        return [f"no {suffix} images in {folder}"]
    misnamed = sorted(name for name in names if not name_is_valid(name))
    if misnamed:
        return [f"{len(misnamed)} file(s) in {folder} do not follow the dataset's file naming: {quoted(misnamed)}"]
    return []


def check_trial(name, trial, trials):
    """Raise unless ``trial`` is one of the protocol's ``trials`` splits."""
    if not 0 <= trial < trials:
        raise UserError(f"protocol {name!r} has {trials} trial split(s), numbered 0 to {trials - 1}; got trial {trial}")
