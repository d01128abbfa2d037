"""Named registries filled by the plugins' registration hooks (see :mod:`reid_bench.hookspecs`)."""
import re

from .errors import DuplicateRegistrationError, UnknownNameError

#: names of plugins' registrations (and of methods' variants): they become folder names, file names and
#: table cells, so a letter or digit first (no ``..``, no hidden folder) and no separators or line breaks
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,+=-]*\Z")


def check_name(kind, name):
    """Raise :class:`ValueError` unless ``name`` is a valid :data:`NAME`."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"{kind} names start with a letter or digit and use only letters, digits and _ . , + = - "
                         f"(they name run folders and table cells); got {name!r}")


class Registry:
    """A mapping from names to entries that remembers which plugin registered each name.

    The plugin manager sets :attr:`current_plugin` before calling a plugin's hook, so ``add`` can
    name both plugins when a name is registered twice.
    """

    def __init__(self, kind):
        self.kind = kind
        self.current_plugin = None
        self._entries = {}
        self._owners = {}

    def add(self, name, entry):
        """Register ``entry`` under ``name``; a name already taken raises
        :class:`DuplicateRegistrationError` naming both plugins."""
        check_name(self.kind, name)
        if name in self._entries:
            raise DuplicateRegistrationError(self.kind, name, self._owners[name], self.current_plugin)
        self._entries[name] = entry
        self._owners[name] = self.current_plugin
        return entry

    def remove_owned_by(self, plugin):
        """Forget every name ``plugin`` registered (a plugin skipped after a failing hook)."""
        for name in [name for name, owner in self._owners.items() if owner == plugin]:
            del self._entries[name], self._owners[name]

    def get(self, name):
        """The entry registered under ``name``; an unknown name lists the available ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def owner(self, name):
        """The plugin that registered ``name``."""
        self.get(name)
        return self._owners[name]

    def names(self):
        return sorted(self._entries)

    def items(self):
        return [(name, self._entries[name]) for name in self.names()]

    def __contains__(self, name):
        return name in self._entries

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"Registry({self.kind!r}, {self.names()})"
