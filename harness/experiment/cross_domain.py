"""Cross-domain evaluation: a model trained on one protocol, tested on others.

``reid-bench run ... --test-on D1 D2`` evaluates the trained model on its own protocol and then on each
listed one; ``reid-bench eval --checkpoint .../model.pt --dataset D1 D2`` evaluates a finished run's
model on each listed protocol. Every evaluation writes a result record (and its per-query file): the
record's ``protocol`` and ``tested_on`` name the protocol the metrics were measured on, ``trained_on``
the one the weights were trained on; the leaderboards put runs whose two differ on a page of their own,
``<trained_on>-><tested_on>`` (e.g. ``synthetic->synthetic-shift``).

Test images are prepared as the training recipe prepares its own protocol's (input size, normalisation),
as torchreid's and fast-reid's cross-dataset tests do.
"""
import copy
import json
import os

from ..errors import UserError
from ..results.per_query import per_query_filename, save_per_query
from ..results.records import build_record, data_fingerprint, pretrained_field, utc_now, write_record
from ..run_folder import MODEL_FILE, RECIPE_FILE, RESULTS_FOLDER, SETTINGS_FILE, file_in


def check_targets(source, names, datasets):
    """The :class:`reid_bench.ProtocolSpec` of each protocol in ``names`` a model trained on ``source``
    can be tested on (re-id protocols, not ``source`` itself, each once); :class:`UserError` otherwise."""
    targets = []
    for name in dict.fromkeys(names):
        target = datasets.get(name)  # unknown names: an error listing the known ones
        if name == source.name:
            raise UserError(f"--test-on {name}: the run is trained on {name} and always tested on it; list the "
                            "other protocols to test on")
        if source.task != "reid" or target.task != "reid":
            raise UserError(f"--test-on {name}: cross-domain tests are for re-id protocols; {source.name} is "
                            f"{source.task}, {name} is {target.task}")
        targets.append(target)
    if targets and source.trials > 1:
        raise UserError(f"--test-on: {source.name} has {source.trials} trials, each with its own model; train on a "
                        "single-trial protocol to test on others")
    return targets


def record_on(base, protocol, splits, evaluation, source, results_dir):
    """Write and return (record, path) of ``evaluation`` on ``protocol`` (its ``splits``) of a model trained on
    ``source`` (a protocol): ``base`` (a record of the same weights) with the test protocol, its data
    fingerprint, metrics, evaluation block and per-query file replaced. A model trained on the training split
    ``protocol`` uses (``ProtocolSpec.trains_as``: a ``market1501`` model tested on ``market1501-multi-query``)
    is in domain there, and its record says so (``trained_on`` is ``protocol``)."""
    record = copy.deepcopy(base)
    trained_on = protocol.name if source.training_split == protocol.training_split else source.name
    record.update(
        run_id=f"{base['run_id']}-on-{protocol.name}",
        protocol=protocol.name, task=protocol.task, trained_on=trained_on, tested_on=protocol.name,
        data_fingerprint=data_fingerprint([splits]),
        metrics=evaluation.metrics, metrics_reranked=evaluation.metrics_reranked,
        evaluation={**evaluation.details, "trials": 1, "test_features": base["evaluation"].get("test_features")},
        eval_wall_s=evaluation.details.get("wall_s"), finished_at=utc_now(),
    )
    record["per_query"] = per_query_filename(record["run_id"])
    save_per_query(file_in(results_dir, record["per_query"]), [evaluation.per_query])
    return record, write_record(results_dir, record)


def _read_json(path):
    try:
        with open(path) as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def checkpoint_record(run_folder, info, recipe, started_at, **fields):
    """A record describing a finished run's weights for ``reid-bench eval``, from its ``run.json``
    (``info``), ``recipe.json`` and ``settings.json`` (training statistics are in the run's own record;
    ``weights_fingerprint`` is null for a run folder written before settings held it), plus ``fields``
    (run_id, command, plugin, plugins, loss_terms, backbone, params, flops, device). ``record_on`` completes
    it per protocol."""
    recipe_dict = _read_json(os.path.join(run_folder, RECIPE_FILE)) or recipe.to_dict()
    settings = _read_json(os.path.join(run_folder, SETTINGS_FILE)) or {}
    epochs = sum(stage.get("epochs", 0) for stage in recipe_dict.get("stages", []))
    train = {"epochs": epochs, "iterations": None, "max_iters": settings.get("max_iters"), "images_per_s": None,
             "wall_s": None}
    distributed = {"world_size": settings.get("world_size", 1), "sync_bn": settings.get("sync_bn", False)}
    return build_record(
        method=info["method"], variant=info["variant"], recipe_name=info["recipe_name"], recipe=recipe_dict,
        seed=info["seed"], evaluation={"test_features": recipe.test_features}, input_size=list(recipe.input_size),
        train=train, pretrained=pretrained_field(settings.get("pretrained", False), settings.get("pretrained_tensors")),
        pretrained_tensors=settings.get("pretrained_tensors"),
        weights_fingerprint=settings.get("weights_fingerprint"), amp=settings.get("amp", False),
        distributed=distributed, started_at=started_at, resumed=False, run_dir=run_folder,
        evaluated_checkpoint=os.path.join(run_folder, MODEL_FILE), overrides=info.get("overrides") or {}, **fields)


def results_dir_of(run_folder, expected_parts, output=None):
    """Where ``reid-bench eval`` writes records: ``<output>/results``; by default the results folder of
    the ``reid-bench run`` output the run folder is in, when its path ends with ``expected_parts``
    (method, variant, protocol, recipe, seed<N> as ``reid-bench run`` names the folders)."""
    if output:
        return os.path.join(output, RESULTS_FOLDER)
    parts = os.path.normpath(os.path.abspath(run_folder)).split(os.sep)
    if parts[-len(expected_parts):] != list(expected_parts):
        raise UserError(f"{run_folder} is not inside a `reid-bench run` output folder "
                        f"(<output>/{'/'.join(expected_parts)}); pass --output to say where the records go")
    return os.path.join(os.sep.join(parts[:-len(expected_parts)]) or os.sep, RESULTS_FOLDER)
