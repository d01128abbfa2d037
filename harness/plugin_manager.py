"""Plugin discovery and the registries the plugins fill.

Plugins come from three places, loaded in this order:

1. the harness's own registrations (:mod:`reid_bench.builtin`: generic losses, samplers, protocols),
2. installed packages with an entry point in the group ``reid_bench``: the built-in paper plugins
   first (they are declared this way too, exactly as a third party would declare theirs), then the
   others by entry point name,
3. modules named on the command line with ``--plugin-module``, imported as ``python -m`` would import
   them: the current folder comes first on ``sys.path``, so a plugin's own folder needs no PYTHONPATH.

Names are first come, first served, so the built-in plugins and their methods keep their names: a
third-party plugin named like one, or registering a name already taken, is refused.

A plugin that fails to import, or whose registration hook raises (a duplicate name included), is
recorded in :attr:`PluginSet.problems` and skipped as a whole: whatever it registered before the
failure, in that hook or an earlier one, is removed again. The others still load. A module given with
``--plugin-module`` that is already loaded (installed, under its entry point's name) is loaded once.

Each plugin's distribution (the installed package it comes from, with its version) is kept in
:attr:`PluginSet.distributions`: records name it, so a run whose plugin is missing later says what to
install (:meth:`PluginSet.method_of_run`).
"""
import importlib
import importlib.metadata
import os
import sys
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
    #: plugin name -> {"name", "version"} of the installed distribution it comes from, or None (a module
    #: imported from a folder with --plugin-module that no installed package provides)
    distributions: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def registry(self, kind):
        return {
            "model": self.models,
            "loss": self.losses,
            "sampler": self.samplers,
            "method": self.methods,
            "dataset": self.datasets,
        }[kind]

    def loaded_versions(self):
        """``{plugin: {"distribution", "version"}}`` of every loaded plugin (records' ``plugins``): the installed
        package each comes from and its version, both ``None`` for a module imported from a folder."""
        return {name: {"distribution": (self.distributions.get(name) or {}).get("name"),
                       "version": (self.distributions.get(name) or {}).get("version")} for name in self.plugins}

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

    def method_of_run(self, info):
        """The method a run folder's ``run.json`` or a record (``info``) names. When no plugin registers it
        and ``info`` names the plugin and its distribution, the :class:`UserError` says what to install."""
        from .errors import UnknownNameError, UserError

        try:
            return self.methods.get(info["method"])
        except UnknownNameError:
            distribution = info.get("plugin_distribution")
            if not isinstance(distribution, dict) or not distribution.get("name"):
                raise
            version = distribution.get("version")
            named = f"{distribution['name']} {version}" if version else distribution["name"]
            wanted = f"{distribution['name']}=={version}" if version else distribution["name"]
            raise UserError(f"method {info['method']!r} is not registered: it comes from plugin "
                            f"{info.get('plugin')!r} of the distribution {named}, which is not installed (or failed "
                            f"to load: see `reid-bench list`); install it with `pip install '{wanted}'`") from None


BUILTIN_PLUGIN_PACKAGE = "reid_bench.plugins."


def _entry_points():
    """The ``reid_bench`` entry points: the built-in plugins first, then by name."""
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                  key=lambda ep: (not ep.value.startswith(BUILTIN_PLUGIN_PACKAGE), ep.name, ep.value))


def _distribution(dist):
    """``{"name", "version"}`` of an ``importlib.metadata.Distribution`` (``None`` for none)."""
    if dist is None or not dist.metadata["Name"]:
        return None
    return {"name": dist.metadata["Name"], "version": dist.version}


def _module_distribution(module_name):
    """The installed distribution providing the top-level package of ``module_name``, or ``None``."""
    names = importlib.metadata.packages_distributions().get(module_name.split(".")[0], [])
    if not names:
        return None
    try:
        return _distribution(importlib.metadata.distribution(names[0]))
    except importlib.metadata.PackageNotFoundError:
        return None


def _import_from_current_folder(name):
    """Import module ``name`` as ``python -m`` would: with the current folder first on ``sys.path``."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(name)


def _skip_plugin(result, pm, name):
    """Remove plugin ``name`` and everything it registered."""
    for kind in REGISTRATION_HOOKS:
        result.registry(kind).remove_owned_by(name)
    pm.unregister(name=name)
    result.plugins.pop(name, None)
    result.sources.pop(name, None)
    result.distributions.pop(name, None)


def load_plugins(plugin_modules=(), use_entry_points=True):
    """Discover plugins, call their registration hooks and return the filled :class:`PluginSet`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    result = PluginSet()

    from . import builtin

    candidates = [(CORE_PLUGIN_NAME, "harness", lambda: builtin, lambda: _module_distribution(__name__))]
    if use_entry_points:
        candidates += [(ep.name, f"entry point {ep.value}", ep.load, lambda ep=ep: _distribution(ep.dist))
                       for ep in _entry_points()]
    candidates += [
        (name, f"--plugin-module {name}", lambda name=name: _import_from_current_folder(name),
         lambda name=name: _module_distribution(name))
        for name in plugin_modules
    ]

    for name, source, load, distribution in candidates:
        if name in result.plugins:
            result.problems.append(
                PluginProblem(name, "import", f"a plugin named {name!r} is already loaded "
                              f"(from {result.sources[name]}); {source} ignored")
            )
            continue
        try:
            module = load()
            loaded_as = pm.get_name(module)
            if loaded_as is not None:  # installed and also given with --plugin-module: the one module once
                result.problems.append(
                    PluginProblem(name, "import", f"the module is already loaded as plugin {loaded_as!r} "
                                  f"(from {result.sources[loaded_as]}); {source} ignored"))
                continue
            pm.register(module, name=name)
        except Exception as exc:  # a broken third-party plugin must not take the others down
            result.problems.append(
                PluginProblem(name, "import", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            )
            continue
        result.plugins[name] = module
        result.sources[name] = source
        result.distributions[name] = distribution()

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
