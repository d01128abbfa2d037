"""``reid-bench visualize ranks|attention|curves``: pictures of a trained run (:mod:`reid_bench.visualize`)."""
from . import options

NAME = "visualize"


def _model_options(parser, height):
    """The options of a picture of a trained model on a protocol's images; ``height``: the default rows an
    image is shown at."""
    options.add_checkpoint(parser)
    parser.add_argument("--dataset", required=True, help="protocol whose test images are used")
    options.add_dataset_location(parser)
    options.add_device(parser)
    options.add_workers(parser, default=0, help="data loading processes (default 0)")
    parser.add_argument("--height", type=options.POSITIVE, default=height,
                        help=f"rows each image is shown at (default {height}; the width keeps the run's aspect "
                             "ratio)")
    options.add_output(parser, metavar="DIR", help="folder for the pictures (default: visualize/<picture> in the run folder)")


def add_parser(commands, common):
    parser = commands.add_parser(NAME, help="pictures of a run: ranked results, attention maps, curves",
                                 description="Draw a trained run's ranked results, attention maps or training "
                                             "curves.")
    kinds = parser.add_subparsers(dest="picture", required=True, metavar="PICTURE")
    ranks = kinds.add_parser("ranks", parents=[common], help="ranked gallery images of queries",
                             description="For each chosen query, the query then its top-k gallery images, "
                                         "framed green (same identity) or red (another), with rank and "
                                         "distance; one PNG per query.")
    _model_options(ranks, height=128)
    which = ranks.add_mutually_exclusive_group()
    which.add_argument("--queries", type=options.POSITIVE, default=8,
                       help="this many queries spread over the query list (default 8)")
    which.add_argument("--query-ids", type=int, nargs="+", metavar="PID", help="every query of these identities")
    which.add_argument("--worst", type=options.POSITIVE, metavar="N",
                       help="the N queries with the lowest average precision")
    ranks.add_argument("--topk", type=options.POSITIVE, default=10, help="gallery images per query (default 10)")
    options.add_progress(ranks, help="no progress bars")

    attention = kinds.add_parser("attention", parents=[common], help="attention maps overlaid on images",
                                 description="The model's attention_maps after a forward, upsampled and "
                                             "overlaid on each image, one panel per map name titled with it, the "
                                             "image titled with its file name, and a colour bar of the attention "
                                             "scale (0 to 1 per map); one PNG per image.")
    _model_options(attention, height=256)
    attention.add_argument("--images", nargs="+", metavar="IMAGE",
                           help="image files (default: --count query images of the dataset, spread over it)")
    attention.add_argument("--count", type=options.POSITIVE, default=4,
                           help="query images drawn without --images (default 4)")

    curves = kinds.add_parser("curves", parents=[common], help="loss terms, learning rate and metrics against epochs",
                              description="Plot run folders' loss terms, learning rate and the metrics evaluated "
                                          "during training (run --eval-every N) against epochs, from their "
                                          "TensorBoard logs. One run: curves.png, three panels. Several runs: "
                                          "overlaid, one figure per quantity (curves-loss.png, curves-lr.png, "
                                          "curves-metrics.png), the legend naming each run by what differs "
                                          "(method [variant], protocol, recipe, seed).")
    curves.add_argument("run", nargs="+", metavar="RUN",
                        help="a run folder (or a file in it, e.g. its model.pt), or a folder above seed<N> folders "
                             "(every seed); several are overlaid")
    options.add_output(curves, metavar="DIR", help="folder for the figures (default: visualize in the run folder, or "
                                                   "in the folder holding all the runs)")
    return parser


def command(args, plugins):
    """Draw the picture; prints the paths written."""
    from .. import visualize

    if args.picture == "curves":
        paths = visualize.draw_curves(args.run, args.output)
    else:
        trained = visualize.PictureSource.load(args.checkpoint, args.dataset, plugins, root=args.root,
                                            allow_partial=args.allow_partial, device=args.device,
                                            picture=args.picture, out=args.output)
        if args.picture == "ranks":
            paths = visualize.draw_ranks(trained, height=args.height, workers=args.workers, progress=args.progress,
                                         topk=args.topk, count=args.queries, pids=args.query_ids, worst=args.worst)
        else:
            paths = visualize.draw_attention(trained, height=args.height, paths=args.images, count=args.count)
    for path in paths:
        print(path)
    return 0
