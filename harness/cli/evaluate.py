"""``reid-bench eval``: evaluate a run's ``model.pt``, or saved query and gallery features, on protocols."""
import json

from ..errors import UserError
from . import options, report

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
                                         "folder of the run's own output); --features writes no record (there is "
                                         "no run to describe): --json prints its metrics")
    parser.add_argument("--eval-batch-size", type=options.POSITIVE, default=128)
    options.add_test_time_options(parser)
    report.add_json_option(parser)
    return parser


def command(args, plugins):
    """Evaluate on each protocol; end with the metrics table and the records written, or ``--json``."""
    test_time = options.test_time_options(args)
    if args.features and args.output:
        raise UserError("--output is where --checkpoint's records go; --features writes no record (no run to "
                        "describe): leave --output off, and use --json to keep the metrics")
    with report.quiet_stdout(args):
        done = _evaluate(args, plugins, test_time)
    rows, documents = [], []
    for protocol, evaluation, record_path in done:
        rows.append(report.row({"protocol": protocol}, evaluation.metrics, evaluation.metrics_reranked,
                               evaluation.details))
        if record_path:
            with open(record_path) as handle:
                documents.append(json.load(handle))
        else:  # saved features or a classification protocol: no record, the evaluation as a record holds it
            documents.append({"tested_on": protocol, "metrics": evaluation.metrics,
                              "metrics_reranked": evaluation.metrics_reranked, "evaluation": evaluation.details})
    report.print_results(args, rows, documents)
    if not args.json:
        for _, _, record_path in done:
            if record_path:
                print(f"result record: {record_path}")
    return 0


def _evaluate(args, plugins, test_time):
    """``[(protocol, evaluation, record path or None)]`` of the model or the saved features on each protocol."""
    from ..deploy.evaluate import evaluate_checkpoint, evaluate_feature_files

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
    return done
