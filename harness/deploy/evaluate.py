"""``reid-bench eval``: a finished run's ``model.pt`` (:func:`evaluate_checkpoint`) or saved query and
gallery features (:func:`evaluate_feature_files`) evaluated on protocols."""
import os

import numpy as np
import torch

from ..data.loaders import default_workers
from ..engine.device import resolve_device
from ..errors import UserError
from ..evaluation.evaluate import evaluate_reid_features
from ..evaluation.test_time import TestTimeOptions
from ..experiment.config import RunConfig, resolved_loss_terms
from ..experiment.cross_domain import checkpoint_record, record_on, results_dir_of
from ..experiment.runs import check_output_writable, evaluate_model
from ..models.building import model_complexity
from ..results.records import utc_now
from ..run_folder import run_folder_parts
from .inference import load_features, load_model


def evaluate_checkpoint(checkpoint, plugins, *, datasets, root=None, device="auto", workers=None,
                        evaluator="reid_bench", rerank=False, allow_partial=False, eval_batch_size=128,
                        test_time=None, output=None, command=()):
    """Evaluate a run's ``model.pt`` on each protocol of ``datasets`` (``reid-bench eval``); returns
    ``[(protocol name, evaluation, record path or None)]``. The model is rebuilt from the ``run.json``
    beside the checkpoint (:func:`reid_bench.deploy.inference.load_model`); the test-time features follow the
    run's recipe. Each re-id evaluation writes a result record (:mod:`reid_bench.experiment.cross_domain`) under
    ``output``/results, by default the results folder of the run's own output; ``command``: the command line
    for the records (``reid-bench eval ...``)."""
    loaded = load_model(checkpoint, device=device, plugins=plugins)
    method, info, recipe, model, device = loaded.method, loaded.info, loaded.recipe, loaded.network, loaded.device
    protocols = [plugins.datasets.get(name) for name in dict.fromkeys(datasets)]
    started_at = utc_now()
    folder = os.path.dirname(os.path.abspath(loaded.checkpoint))
    results_dir = None
    if any(protocol.task == "reid" for protocol in protocols):
        parts = run_folder_parts(info["method"], info["variant"], info["protocol"], info["recipe_name"], info["seed"],
                                 info.get("overrides"))
        results_dir = results_dir_of(folder, parts, output)
        check_output_writable(os.path.dirname(results_dir))
        params, flops = model_complexity(model, recipe.input_size, device)
        run_id = f"{'-'.join(parts[:-1])}-seed{info['seed']}-eval-{started_at.replace(':', '').replace('+0000', 'Z')}"
        base = checkpoint_record(folder, info, recipe, started_at, run_id=run_id, command=list(command),
                                 plugin=plugins.methods.owner(method.name), plugins=plugins.loaded_versions(),
                                 loss_terms=resolved_loss_terms(method, info["variant"], recipe, plugins.losses),
                                 plugin_distribution=plugins.distributions.get(plugins.methods.owner(method.name)),
                                 backbone=method.backbone_for(info["variant"]),
                                 params=params, flops=flops, device=str(device))
    config = RunConfig(plugin=method.name, dataset=protocols[0].name,
                       workers=default_workers() if workers is None else workers, evaluator=evaluator,
                       rerank=rerank, eval_batch_size=eval_batch_size, test_time=test_time)
    done = []
    for protocol in protocols:
        splits = protocol.load(root, allow_partial=allow_partial, trial=0)
        evaluation = evaluate_model(model, method, recipe, protocol, splits, config, device)
        path = None
        if protocol.task == "reid":
            _, path = record_on(base, protocol, splits, evaluation, plugins.datasets.get(info["protocol"]),
                                results_dir)
        done.append((protocol.name, evaluation, path))
    return done


def _labels(paths, items, split, path, protocol):
    """``(rows, pids, camids)``: the rows of a features file whose ``paths`` are images of the split ``items``
    (torchreid tuples) and their identities and cameras. Paths are matched in full, or by file name where the
    split's file names are unique (features made on another copy of the dataset); other rows (e.g. the junk
    images a protocol drops from its folder) are left out. Every image of the split needs one feature."""
    by_path = {os.path.realpath(item[0]): index for index, item in enumerate(items)}
    by_name = {}
    for index, item in enumerate(items):
        name = os.path.basename(item[0])
        by_name[name] = -1 if name in by_name else index  # -1: a name the split holds more than once
    rows, matched = [], []
    for row, entry in enumerate(paths):
        index = by_path.get(os.path.realpath(entry), by_name.get(os.path.basename(entry), -1))
        if index >= 0:
            rows.append(row)
            matched.append(index)
    seen = set(matched)
    problems = []
    if len(seen) < len(items):
        example = next(item[0] for index, item in enumerate(items) if index not in seen)
        problems.append(f"{len(items) - len(seen)} of its {len(items)} {split} images have no feature "
                        f"(e.g. {example})")
    if len(matched) > len(seen):
        problems.append(f"{len(matched) - len(seen)} of them have more than one")
    if problems:
        raise UserError(f"{path} does not hold the {split} split of {protocol}: {'; '.join(problems)}; expected "
                        f"one feature per {split} image (e.g. `reid-bench extract` on its {split} folder)")
    return (np.asarray(rows), np.asarray([items[index][1] for index in matched]),
            np.asarray([items[index][2] for index in matched]))


def evaluate_feature_files(query_file, gallery_file, plugins, *, dataset, root=None, allow_partial=False,
                           evaluator="reid_bench", options=None, device="auto"):
    """Retrieval metrics of saved query and gallery features on ``dataset``'s split (``reid-bench eval
    --features``) under the test-time ``options`` (:class:`~reid_bench.evaluation.test_time.TestTimeOptions`;
    default: no re-ranking): each feature is matched to its image's identity and camera by path (see
    :func:`_labels`)."""
    options = TestTimeOptions(rerank=None) if options is None else options
    if options.flip:
        raise UserError("--flip needs the model (it averages each image's and its mirror's features); saved "
                        "features cannot be flipped: extract them again, or leave --flip off with --features")
    protocol = plugins.datasets.get(dataset)
    if protocol.task != "reid":
        raise UserError(f"--features evaluates re-id retrieval; {protocol.name} is a {protocol.task} protocol")
    qf, q_paths, _ = load_features(query_file)
    gf, g_paths, _ = load_features(gallery_file)
    if qf.shape[1] != gf.shape[1]:
        raise UserError(f"{query_file} holds {qf.shape[1]}-d features and {gallery_file} {gf.shape[1]}-d ones; "
                        "expected features of one model")
    splits = protocol.load(root, allow_partial=allow_partial, trial=0)
    q_rows, q_pids, q_camids = _labels(q_paths, splits.query, "query", query_file, protocol.name)
    g_rows, g_pids, g_camids = _labels(g_paths, splits.gallery, "gallery", gallery_file, protocol.name)
    evaluation = evaluate_reid_features(torch.from_numpy(qf[q_rows]), torch.from_numpy(gf[g_rows]), q_pids, g_pids,
                                        q_camids, g_camids, evaluator, options, resolve_device(device))
    evaluation.details.update(query_features=os.fspath(query_file), gallery_features=os.fspath(gallery_file),
                              features_not_in_split=len(q_paths) - len(q_rows) + len(g_paths) - len(g_rows))
    return evaluation
