"""``reid-bench export``: a run's model with its test-time features as an ONNX file, checked by onnxruntime."""
from ..choices import EXPORT_CHECK_IMAGES, EXPORT_FORMATS, EXPORT_TOLERANCE
from . import options

NAME = "export"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="export a trained model to ONNX",
                                 description="Export a run's model (its test-time features) to ONNX and check "
                                             "the file with onnxruntime against PyTorch.")
    options.add_checkpoint(parser)
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="export format (default onnx)")
    options.add_output(parser, required=True, metavar="FILE", help="file to write, e.g. model.onnx")
    parser.add_argument("--dynamic-batch", action="store_true", help="leave the batch size free in the graph")
    parser.add_argument("--batch-size", type=options.POSITIVE, default=1,
                        help="the graph's batch size without --dynamic-batch (default 1)")
    parser.add_argument("--opset", type=options.POSITIVE, help="ONNX opset version (default: the exporter's)")
    parser.add_argument("--images", metavar="DIR_OR_GLOB",
                        help="real images to check the export on (default: the first "
                             f"{EXPORT_CHECK_IMAGES} query images of the embedded synthetic dataset)")
    parser.add_argument("--tolerance", type=float, default=EXPORT_TOLERANCE,
                        help=f"largest absolute feature difference accepted (default {EXPORT_TOLERANCE:g})")
    return parser


def command(args, plugins, out=None):
    from ..deploy.export import export_checked

    export_checked(args.checkpoint, args.output, plugins, images=args.images, dynamic_batch=args.dynamic_batch,
                   batch_size=args.batch_size, opset=args.opset, tolerance=args.tolerance, out=out)
    return 0
