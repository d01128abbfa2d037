"""``reid-bench new-plugin NAME``: write a pip-installable plugin package to start from
(:mod:`reid_bench.scaffold`)."""
from .. import __version__
from ..scaffold import write_plugin

NAME = "new-plugin"


def add_parser(commands, common):
    parser = commands.add_parser(
        NAME, parents=[common], help="write a new plugin package (model, method, variant, test) to start from",
        description="Write DIR/reid-bench-NAME/: a pip-installable plugin package with the reid_bench entry point, "
                    "the model NAME (ResNet-18 + BNNeck), the method NAME with a variant, a README with the "
                    "citation fields and a test; it installs (pip install -e) and passes its test as written. "
                    "See docs/plugin-authors.md.")
    parser.add_argument("name", metavar="NAME", help="the plugin's name, a Python identifier (e.g. my_method)")
    parser.add_argument("--output", default=".", metavar="DIR", help="where the package folder goes (default: .)")
    return parser


def command(args, plugins):
    taken = set(plugins.plugins) | set(plugins.methods.names()) | set(plugins.models.names())
    folder = write_plugin(args.name, args.output, version=__version__, taken=taken)
    print(f"wrote {folder}\nnext: pip install -e \"{folder}[test]\" && pytest {folder} && reid-bench list")
    return 0
