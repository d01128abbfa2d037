"""``reid-bench list``: the plugins with their methods, variants and reported numbers; the protocols."""
import textwrap

from ..plugin_manager import CORE_PLUGIN_NAME
from ..recipes import RECIPES

NAME = "list"


def add_parser(commands, common):
    return commands.add_parser(NAME, parents=[common], help="show plugins, methods, variants and protocols",
                               description="Show the plugins (built-in and third-party) with their methods, "
                                           "variants and reported numbers, and the protocols with their splits.")


def _format_metrics(metrics):
    return ", ".join(f"{k} {v:g}" for k, v in metrics.items())


def command(args, plugins):
    print("Plugins")
    for name in sorted(set(plugins.plugins) - {CORE_PLUGIN_NAME}):
        print(f"  {name}  ({plugins.sources[name]})")
        for method_name in plugins.methods_of(name):
            method = plugins.methods.get(method_name)
            print(f"    method {method.name}: {method.title}" + (f"  <{method.url}>" if method.url else ""))
            variants = [f"{v} (default)" if v == method.default_variant else v for v in method.variants]
            print(textwrap.fill("variants: " + ", ".join(variants), width=100, initial_indent=" " * 6,
                                subsequent_indent=" " * 16))
            for reported in method.reported:
                where = f" measured on {reported.measured_on}" if reported.measured_on else ""
                what = f"{reported.variant or method.default_variant}{' re-ranked' if reported.reranked else ''}"
                print(f"      reported {reported.protocol} [{what}]{where}: {_format_metrics(reported.metrics)} "
                      f"({reported.source})")
    print("\nProtocols")
    for name, protocol in plugins.datasets.items():
        trials = f", {protocol.trials} trials" if protocol.trials > 1 else ""
        if protocol.overrides:
            trials += f"; every recipe: {protocol.overrides}"
        print(f"  {name:<26} {protocol.task:<15} {protocol.split}{trials}")
    print(f"\nRecipes: {', '.join(RECIPES)}")
    if plugins.problems:
        print("\nProblems")
        for problem in plugins.problems:
            print(f"  {problem}")
    return 0
