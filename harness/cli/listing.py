"""``reid-bench list``: the plugins with their methods, variants, reported numbers and what else they
register; the protocols. ``--components``: every model, loss term, sampler, augmentation, optimizer, schedule,
protocol and spec object with its plugin and keyword arguments (:mod:`reid_bench.components`)."""
import textwrap

from ..plugin_manager import CORE_PLUGIN_NAME
from ..recipes import RECIPES
from ..results.records import format_metrics

NAME = "list"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="show plugins, methods, variants and protocols",
                                 description="Show the plugins (built-in and third-party) with their methods, "
                                             "variants, reported numbers and the models, losses and samplers they "
                                             "register, and the protocols with their splits.")
    parser.add_argument("--components", action="store_true",
                        help="instead, every model, loss term, sampler, augmentation, optimizer, schedule, protocol "
                             "and spec object a plugin can name, with the plugin that owns it and its keyword "
                             "arguments and defaults")
    return parser


def _owned(registry, plugin):
    return [name for name in registry.names() if registry.owner(name) == plugin]


def _distribution(distribution):
    return f"{distribution['name']} {distribution['version'] or ''}".strip() if distribution else "not installed"


def _wrap(text, indent):
    return textwrap.fill(text, width=110, initial_indent=" " * indent, subsequent_indent=" " * indent)


def print_components(plugins):
    """Every component by kind: name, owner (plugin and distribution), arguments, docstring summary."""
    from ..components import KINDS, catalogue, format_arguments  # torch, torchreid: imported for --components only

    components = catalogue(plugins)
    for kind in KINDS:
        print(f"{kind.title}\n{_wrap(kind.usage, 2)}")
        for component in (c for c in components if c.kind == kind.name):
            print(f"  {component.name}  [plugin {component.owner}: {_distribution(component.distribution)}]")
            if kind.name != "protocol":
                print(_wrap(f"arguments: {format_arguments(component) or '(none)'}", 6))
            if component.summary:
                print(_wrap(component.summary, 6))
        print()
    return 0


def command(args, plugins):
    if args.components:
        return print_components(plugins)
    print("Plugins")
    for name in sorted(set(plugins.plugins) - {CORE_PLUGIN_NAME}):
        print(f"  {name}  ({plugins.sources[name]})  {_distribution(plugins.distributions.get(name))}")
        registered = [f"{kind} {', '.join(names)}" for kind, names in (
            ("models", _owned(plugins.models, name)), ("losses", _owned(plugins.losses, name)),
            ("samplers", _owned(plugins.samplers, name)), ("protocols", _owned(plugins.datasets, name))) if names]
        if registered:
            print(_wrap("registers " + "; ".join(registered), 4))
        for method_name in plugins.methods_of(name):
            method = plugins.methods.get(method_name)
            print(f"    method {method.name}: {method.title}" + (f"  <{method.url}>" if method.url else ""))
            variants = [f"{v} (default)" if v == method.default_variant else v for v in method.variants]
            print(textwrap.fill("variants: " + ", ".join(variants), width=100, initial_indent=" " * 6,
                                subsequent_indent=" " * 16))
            for reported in method.reported:
                where = f" measured on {reported.measured_on}" if reported.measured_on else ""
                what = f"{reported.variant or method.default_variant}{' re-ranked' if reported.reranked else ''}"
                print(f"      reported {reported.protocol} [{what}]{where}: {format_metrics(reported.metrics)} "
                      f"({reported.source})")
    print("\nProtocols")
    for name, protocol in plugins.datasets.items():
        trials = f", {protocol.trials} trials" if protocol.trials > 1 else ""
        if protocol.overrides:
            trials += f"; every recipe: {protocol.overrides}"
        print(f"  {name:<26} {protocol.task:<15} {protocol.split}{trials}")
    print(f"\nRecipes: {', '.join(RECIPES)}")
    print("\nEvery model, loss, sampler, augmentation and optimizer with its arguments: reid-bench list --components")
    if plugins.problems:
        print("\nProblems")
        for problem in plugins.problems:
            print(f"  {problem}")
    return 0
