"""Named registries filled by the plugins' registration hooks (see :mod:`reid_bench.hookspecs`)."""
from .errors import DuplicateRegistrationError, UnknownNameError


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
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
        if name in self._entries:
            raise DuplicateRegistrationError(self.kind, name, self._owners[name], self.current_plugin)
        self._entries[name] = entry
        self._owners[name] = self.current_plugin
        return entry

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
