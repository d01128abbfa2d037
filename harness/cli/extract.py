"""``reid-bench extract``: a trained model's test-time features of your own images, into an ``.npz``."""
import sys

from . import options

NAME = "extract"


def add_model_options(parser):
    """How a model runs over image files (``extract``, ``search``)."""
    options.add_device(parser)
    parser.add_argument("--batch-size", type=options.POSITIVE, default=128, help="images per forward pass (default 128)")
    options.add_workers(parser, default=2, help="image reading processes (default 2)")
    options.add_progress(parser)


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="write the features of your own images",
                                 description="Extract a trained model's test-time features for a folder or glob "
                                             "of images into an .npz (features, paths).")
    options.add_checkpoint(parser)
    parser.add_argument("--images", required=True, metavar="DIR_OR_GLOB",
                        help="a folder (searched recursively), a quoted glob pattern or an image file")
    options.add_output(parser, required=True, metavar="FILE", help="features file to write (.npz: features, paths)")
    add_model_options(parser)
    return parser


def command(args, plugins, out=None):
    """Features of every image of ``--images`` into ``--output``."""
    from ..deploy.inference import extract_features, image_paths, load_model, save_features

    out = out or sys.stdout
    model = load_model(args.checkpoint, device=args.device, plugins=plugins)
    paths = image_paths(args.images)
    features = extract_features(model, paths, batch_size=args.batch_size, workers=args.workers,
                                progress=args.progress)
    save_features(args.output, features, paths, model)
    print(f"{args.output}: {features.shape[0]} images, {features.shape[1]}-d features of {model.method.name} "
          f"[{model.variant}] ({model.recipe.test_features} test features)", file=out)
    return 0
