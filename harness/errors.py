"""Errors a user can act on. The command line prints their message (no traceback) and exits 2."""
import difflib


class UserError(Exception):
    """Bad input from the user or the environment, with a message that says what was expected."""


class UnknownNameError(UserError, KeyError):
    """A name that no plugin registered; the message lists the available names."""

    def __init__(self, kind, name, available):
        self.kind, self.name, self.available = kind, name, sorted(available)
        listing = ", ".join(self.available) if self.available else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; available {kind}s: {listing}")

    def __str__(self):
        return self.args[0]


class DuplicateRegistrationError(UserError):
    """Two plugins registered the same name in one registry."""

    def __init__(self, kind, name, first_plugin, second_plugin):
        self.kind, self.name = kind, name
        self.first_plugin, self.second_plugin = first_plugin, second_plugin
        super().__init__(
            f"{kind} {name!r} is registered twice: by plugin {first_plugin!r} and by plugin "
            f"{second_plugin!r}; rename one of them"
        )


class DatasetLayoutError(UserError):
    """A dataset folder is missing or does not have the expected on-disk layout."""


class MissingPretrainedWeightsError(UserError):
    """ImageNet weights were asked for but are not available offline."""


class UnreadableImageError(UserError):
    """An image file that cannot be decoded: missing, empty, truncated, not an image, or not readable.

    Raised in a data loader's worker process, it reaches the main process rebuilt from a message that
    holds the worker's traceback; the rebuilt error keeps only the original one-line message.
    """

    def __init__(self, message):
        if "Traceback" in message:
            marker = f"{type(self).__name__}: "
            lines = [line for line in message.splitlines() if marker in line]
            if lines:
                message = lines[-1].split(marker, 1)[1]
        super().__init__(message)


def did_you_mean(name, valid):
    """The end of an error about an unknown ``name``: the closest of the ``valid`` names, then all of them."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=3, cutoff=0.5)
    listing = ", ".join(str(v) for v in valid)
    return (f"did you mean {' or '.join(close)}? " if close else "") + f"valid keys there: {listing}"
