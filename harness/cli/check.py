"""``reid-bench check``: decode every image of a protocol's splits; list those that cannot be read."""
import sys

from ..errors import UserError
from . import options

NAME = "check"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="verify that every image of a dataset decodes",
                                 description="Decode every image of a protocol's splits and list those that "
                                             "cannot be read (a run stops at the first one).")
    parser.add_argument("--dataset", required=True, help="protocol name (see `reid-bench list`)")
    options.add_dataset_location(parser)
    options.add_progress(parser)
    return parser


def command(args, plugins, out=None):
    """Print one line per unreadable image and raise a :class:`UserError` if there is any."""
    from ..data.check import image_paths, unreadable_images

    out = out or sys.stdout
    protocol = plugins.datasets.get(args.dataset)
    paths = image_paths(protocol, args.root, args.allow_partial)
    if paths is None:
        print(f"{protocol.name}: images are held in arrays and loaded fine; no image files to decode", file=out)
        return 0
    bad = unreadable_images(paths, progress=args.progress)
    for path, reason in bad:
        print(f"unreadable: {path} ({reason})", file=out)
    if bad:
        raise UserError(f"{len(bad)} of {len(paths)} images of {protocol.name} cannot be decoded (listed above); "
                        "replace them (or remove them and pass --allow-partial) before a run")
    print(f"{protocol.name}: all {len(paths)} images decode", file=out)
    return 0
