"""``reid-bench eval``: evaluate a run's ``model.pt``, or saved query and gallery features, on protocols."""
import json

from . import options

NAME = "eval"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="evaluate a trained model or saved features",
                                 description="Evaluate the model.pt of a run folder, or saved query and gallery "
                                             "features, on one or more protocols.")
    source = parser.add_mutually_exclusive_group(required=True)
    options.add_checkpoint(source, required=False)
    source.add_argument("--features", nargs=2, metavar=("QUERY", "GALLERY"),
                        help="saved query and gallery features (.npz from `reid-bench extract` or another tool: "
                             "features, paths) instead of a model")
    options.add_data_options(parser, several=True)
    parser.add_argument("--output", help="with --checkpoint, records go to OUTPUT/results (default: the results "
                                         "folder of the run's own output)")
    parser.add_argument("--rerank", action="store_true", help="also report re-ranked metrics")
    parser.add_argument("--eval-batch-size", type=options.POSITIVE, default=128)
    options.add_test_time_options(parser)
    return parser


def command(args, plugins):
    from ..deploy.evaluate import evaluate_checkpoint, evaluate_feature_files

    test_time = options.test_time_options(args)
    if args.features:
        done = [(dataset, evaluate_feature_files(*args.features, plugins, dataset=dataset, root=args.root,
                                                 allow_partial=args.allow_partial, evaluator=args.evaluator,
                                                 options=test_time, device=args.device), None)
                for dataset in dict.fromkeys(args.dataset)]
    else:
        done = evaluate_checkpoint(args.checkpoint, plugins, datasets=args.dataset, root=args.root,
                                   device=args.device, workers=args.workers, evaluator=args.evaluator,
                                   rerank=args.rerank, allow_partial=args.allow_partial,
                                   eval_batch_size=args.eval_batch_size, test_time=test_time, output=args.output,
                                   command=args.command_line)
    for protocol, evaluation, record_path in done:
        print(json.dumps({"protocol": protocol, "metrics": evaluation.metrics,
                          "metrics_reranked": evaluation.metrics_reranked, "evaluation": evaluation.details,
                          "record": record_path}, indent=2))
    return 0
