"""Pictures of a trained run: ``reid-bench visualize ranks|attention|curves``.

- ``ranks`` (:mod:`.ranks`): each chosen query and its top-k gallery images, framed green (same
  identity) or red, with rank and distance; ``--worst N`` picks the queries with the lowest AP.
- ``attention`` (:mod:`.attention`): the model's ``attention_maps`` overlaid on input images, one panel
  per map name.
- ``curves`` (:mod:`.curves`): loss terms, learning rate and the metrics evaluated during training
  (``reid-bench run --eval-every N``) against epochs, from the run folder's TensorBoard logs.

The leaderboard's figures are drawn by :mod:`.leaderboard`. Pictures are written under ``--out``
(default: ``visualize/<command>`` in the run folder) and their paths printed.
"""
import os

from ..errors import UserError


def _display_size(input_size, height):
    """``(height, width)`` to show images at: ``height`` rows, the run's input aspect ratio."""
    return height, max(8, round(height * input_size[1] / input_size[0]))


def add_arguments(parser, common):
    """The ``visualize`` sub-commands on ``parser`` (``common``: the parent parser of every command)."""
    from ..cli import NON_NEGATIVE, POSITIVE

    kinds = parser.add_subparsers(dest="picture", required=True, metavar="PICTURE")

    def model_arguments(sub):
        sub.add_argument("--checkpoint", required=True, help="a run folder or its model.pt (run.json beside it)")
        sub.add_argument("--dataset", required=True, help="protocol whose test images are used")
        sub.add_argument("--root", help="folder holding the dataset (synthetic: defaults to the cache folder)")
        sub.add_argument("--allow-partial", action="store_true",
                         help="accept a dataset copy whose split sizes differ from the published ones")
        sub.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
        sub.add_argument("--workers", type=NON_NEGATIVE, default=0, help="data loading processes (default 0)")
        sub.add_argument("--height", type=POSITIVE, default=128,
                         help="rows each image is shown at (default 128; the width keeps the run's aspect ratio)")
        sub.add_argument("--out", help="folder for the pictures (default: visualize/<picture> in the run folder)")

    ranks = kinds.add_parser("ranks", parents=[common], help="ranked gallery images of queries",
                             description="For each chosen query, the query then its top-k gallery images, "
                                         "framed green (same identity) or red (another), with rank and "
                                         "distance; one PNG per query.")
    model_arguments(ranks)
    which = ranks.add_mutually_exclusive_group()
    which.add_argument("--queries", type=POSITIVE, default=8, help="this many queries spread over the query list "
                                                                   "(default 8)")
    which.add_argument("--query-ids", type=int, nargs="+", metavar="PID", help="every query of these identities")
    which.add_argument("--worst", type=POSITIVE, metavar="N", help="the N queries with the lowest average precision")
    ranks.add_argument("--topk", type=POSITIVE, default=10, help="gallery images per query (default 10)")
    ranks.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")

    attention = kinds.add_parser("attention", parents=[common], help="attention maps overlaid on images",
                                 description="The model's attention_maps after a forward, upsampled and "
                                             "overlaid on each image, one panel per map name; one PNG per image.")
    model_arguments(attention)
    attention.add_argument("--images", nargs="+", metavar="IMAGE",
                           help="image files (default: --count query images of the dataset, spread over it)")
    attention.add_argument("--count", type=POSITIVE, default=4, help="query images drawn without --images (default 4)")

    curves = kinds.add_parser("curves", parents=[common], help="loss terms, learning rate and metrics against epochs",
                              description="Plot a run folder's loss terms, learning rate and the metrics evaluated "
                                          "during training (run --eval-every N) against epochs, from its "
                                          "TensorBoard logs.")
    curves.add_argument("run", metavar="RUN", help="a run folder (or a file in it, e.g. its model.pt)")
    curves.add_argument("--out", help="folder for curves.png (default: visualize in the run folder)")


def _load(args, plugins):
    """``(trained run, protocol, splits, out folder)`` for a model-based picture."""
    from ..deploy.inference import load_model
    from ..spec import ReidSplits

    trained = load_model(args.checkpoint, device=args.device, plugins=plugins)
    protocol = plugins.datasets.get(args.dataset)
    splits = protocol.load(args.root, allow_partial=args.allow_partial, trial=0)
    if not isinstance(splits, ReidSplits):
        raise UserError(f"visualize {args.picture} draws re-id test images; {args.dataset} is a {protocol.task} "
                        "protocol")
    run_dir = os.path.dirname(os.path.abspath(trained.checkpoint))
    out = args.out or os.path.join(run_dir, "visualize", args.picture)
    return trained, splits, out


def command_ranks(args, plugins):
    from ..data.transforms import build_test_transform
    from .ranks import extract, write_ranked_results

    trained, splits, out = _load(args, plugins)
    recipe = trained.recipe
    features = extract(trained.network, splits, build_test_transform(recipe, recipe.input_size),
                       trained.extractor, trained.device, workers=args.workers,
                       progress=args.progress)
    return write_ranked_results(features, splits, out, size=_display_size(recipe.input_size, args.height),
                                topk=args.topk, count=args.queries, pids=args.query_ids, worst=args.worst)


def command_attention(args, plugins):
    import numpy as np

    from ..data.transforms import build_test_transform
    from .attention import write_attention

    trained, splits, out = _load(args, plugins)
    recipe = trained.recipe
    paths = args.images
    if not paths:
        chosen = np.linspace(0, len(splits.query) - 1, min(args.count, len(splits.query)))
        paths = [splits.query[int(i)][0] for i in sorted(set(np.round(chosen).astype(int)))]
    return write_attention(trained.network, paths, build_test_transform(recipe, recipe.input_size), trained.device,
                           out, _display_size(recipe.input_size, args.height))


def command_curves(args, plugins):
    from .curves import write_curves

    return write_curves(args.run, args.out)


PICTURES = {"ranks": command_ranks, "attention": command_attention, "curves": command_curves}


def command(args, plugins):
    """Run ``reid-bench visualize <picture>``; prints the paths written."""
    for path in PICTURES[args.picture](args, plugins):
        print(path)
    return 0
