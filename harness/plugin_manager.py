"""Plugin discovery and the registries the plugins fill.

Plugins come from three places, loaded in this order:

1. the harness's own registrations (:mod:`reid_bench.builtin`: generic losses, samplers, protocols),
2. installed packages with an entry point in the group ``reid_bench``: the built-in paper plugins
   first (they are declared this way too, exactly as a third party would declare theirs), then the
   others by entry point name,
3. modules named on the command line with ``--plugin-module``.

Names are first come, first served, so the built-in plugins and their methods keep their names: a
third-party plugin named like one, or registering a name already taken, is refused.

A plugin that fails to import, or whose registration hook raises (a duplicate name included), is
recorded in :attr:`PluginSet.problems` and skipped as a whole: whatever it registered before the
failure, in that hook or an earlier one, is removed again. The others still load.
"""
import importlib
import importlib.metadata
import traceback
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .registry import Registry

ENTRY_POINT_GROUP = "reid_bench"
CORE_PLUGIN_NAME = "reid_bench"

#: registry kind -> the hook that fills it
REGISTRATION_HOOKS = {
    "model": "reid_bench_register_models",
    "loss": "reid_bench_register_losses",
    "sampler": "reid_bench_register_samplers",
    "method": "reid_bench_register_methods",
    "dataset": "reid_bench_register_datasets",
}


@dataclass
class PluginProblem:
    """Why a plugin (or one of its hooks) was skipped."""

    plugin: str
    stage: str  # "import" or the hook name
    message: str
    detail: str = ""

    def __str__(self):
        return f"plugin {self.plugin!r} skipped at {self.stage}: {self.message}"


@dataclass
class PluginSet:
    """The loaded plugins and the registries they filled."""

    models: Registry = field(default_factory=lambda: Registry("model"))
    losses: Registry = field(default_factory=lambda: Registry("loss"))
    samplers: Registry = field(default_factory=lambda: Registry("sampler"))
    methods: Registry = field(default_factory=lambda: Registry("method"))
    datasets: Registry = field(default_factory=lambda: Registry("dataset"))
    plugins: dict = field(default_factory=dict)  # plugin name -> module
    sources: dict = field(default_factory=dict)  # plugin name -> where it came from
    problems: list = field(default_factory=list)

    def registry(self, kind):
        return {
            "model": self.models,
            "loss": self.losses,
            "sampler": self.samplers,
            "method": self.methods,
            "dataset": self.datasets,
        }[kind]

    def methods_of(self, plugin):
        """Names of the methods registered by ``plugin``."""
        return [name for name in self.methods.names() if self.methods.owner(name) == plugin]

    def method_for_plugin(self, plugin_or_method):
        """Resolve ``--plugin NAME``: a plugin with one method (or a method named like the plugin),
        or a method name directly."""
        if plugin_or_method in self.methods:
            return self.methods.get(plugin_or_method)
        owned = self.methods_of(plugin_or_method)
        if len(owned) == 1:
            return self.methods.get(owned[0])
        from .errors import UnknownNameError, UserError

        if owned:
            raise UserError(
                f"plugin {plugin_or_method!r} registers several methods ({', '.join(owned)}); "
                "pass one of them to --plugin"
            )
        raise UnknownNameError("plugin", plugin_or_method, set(self.plugins) - {CORE_PLUGIN_NAME})


BUILTIN_PLUGIN_PACKAGE = "reid_bench.plugins."


def _entry_points():
    """The ``reid_bench`` entry points: the built-in plugins first, then by name."""
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                  key=lambda ep: (not ep.value.startswith(BUILTIN_PLUGIN_PACKAGE), ep.name, ep.value))


def _skip_plugin(result, pm, name):
    """Remove plugin ``name`` and everything it registered."""
    for kind in REGISTRATION_HOOKS:
        result.registry(kind).remove_owned_by(name)
    pm.unregister(name=name)
    result.plugins.pop(name, None)
    result.sources.pop(name, None)


def load_plugins(plugin_modules=(), use_entry_points=True):
    """Discover plugins, call their registration hooks and return the filled :class:`PluginSet`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    result = PluginSet()

    from . import builtin

    candidates = [(CORE_PLUGIN_NAME, "harness", lambda: builtin)]
    if use_entry_points:
        candidates += [(ep.name, f"entry point {ep.value}", ep.load) for ep in _entry_points()]
    candidates += [
        (name, f"--plugin-module {name}", lambda name=name: importlib.import_module(name))
        for name in plugin_modules
    ]

    for name, source, load in candidates:
        if name in result.plugins:
            result.problems.append(
                PluginProblem(name, "import", f"a plugin named {name!r} is already loaded "
                              f"(from {result.sources[name]}); {source} ignored")
            )
            continue
        try:
            module = load()
            pm.register(module, name=name)
        except Exception as exc:  # a broken third-party plugin must not take the others down
            result.problems.append(
                PluginProblem(name, "import", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            )
            continue
        result.plugins[name] = module
        result.sources[name] = source

    for kind, hook_name in REGISTRATION_HOOKS.items():
        registry = result.registry(kind)
        hook_caller = getattr(pm.hook, hook_name)
        # Hook implementations are called one by one (not through pluggy's fan-out) so that each
        # registration is attributed to its plugin and one plugin's failure leaves the rest intact.
        for impl in list(hook_caller.get_hookimpls()):  # in registration order: core, entry points, modules
            registry.current_plugin = impl.plugin_name
            try:
                impl.function(registry=registry)
            except Exception as exc:
                result.problems.append(
                    PluginProblem(impl.plugin_name, hook_name, f"{type(exc).__name__}: {exc}",
                                  traceback.format_exc())
                )
                _skip_plugin(result, pm, impl.plugin_name)
        registry.current_plugin = None
    return result
