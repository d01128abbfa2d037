"""``reid-bench search``: the nearest gallery images (saved features) of each query image."""
import sys

from ..errors import UserError
from . import options
from .extract import add_model_options

NAME = "search"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="rank a gallery's saved features for query images",
                                 description="Print the nearest gallery images (Euclidean distance on the "
                                             "model's test features) of each query image.")
    parser.add_argument("--features", required=True, help="the gallery's features file (from `reid-bench extract`)")
    parser.add_argument("--query", required=True, nargs="+", metavar="IMAGES",
                        help="query images: files, folders or glob patterns; or a features file (.npz)")
    options.add_checkpoint(parser, required=False, help="model for the query images (default: the one the "
                                                        "gallery's features were extracted with)")
    parser.add_argument("--top", type=options.POSITIVE, default=10, help="matches shown per query (default 10)")
    add_model_options(parser)
    return parser


def command(args, plugins, out=None):
    """The nearest gallery images of each query image, one block per query."""
    from ..deploy.inference import load_features, query_features, search

    out = out or sys.stdout
    gallery, gallery_paths, metadata = load_features(args.features)
    queries, query_paths = query_features(args.query, args.checkpoint or metadata.get("checkpoint"), plugins,
                                          gallery_file=args.features, device=args.device,
                                          batch_size=args.batch_size, workers=args.workers, progress=args.progress)
    if queries.shape[1] != gallery.shape[1]:
        raise UserError(f"query features are {queries.shape[1]}-d but {args.features} holds {gallery.shape[1]}-d "
                        "ones; expected the model the gallery was extracted with")
    distances, indices = search(queries, gallery, args.top)
    for query_path, row_distances, row_indices in zip(query_paths, distances, indices):
        print(f"query {query_path}", file=out)
        for rank, (distance, index) in enumerate(zip(row_distances, row_indices), start=1):
            print(f"  {rank:>3}  {distance:10.4f}  {gallery_paths[index]}", file=out)
    return 0
