"""One benchmark run, end to end: resolve method, variant, protocol and recipe; load the data; build the
model; train (resumable); evaluate; write the result record.

Run folders are deterministic, ``<output>/<method>/<variant>/<protocol>/<recipe>/seed<seed>``
(:mod:`reid_bench.run_folder`), so ``--resume`` finds the checkpoint of an interrupted run. Result records
go to ``<output>/results``. A finished run keeps ``model.pt`` and removes its ``checkpoint.pt`` (the model,
optimizer and RNG states, only needed to resume) once its records are written, unless ``--keep-checkpoint``;
an interrupted or failed run keeps it.
"""
import contextlib
import json
import os
import tempfile
import time
from dataclasses import replace

import numpy as np

from ..atomic import save_torch_atomic, write_text_atomic
from ..data.loaders import build_test_loaders, default_workers
from ..data.transforms import build_test_transform
from ..engine import Trainer, distributed
from ..engine.trainer import check_components
from ..engine.acceleration import Acceleration, amp_mode
from ..engine.checkpoint import check_existing_checkpoint, remove_checkpoint
from ..engine.device import resolve_device, seed_everything
from ..engine.tracking import check_installed, open_tracker
from ..errors import UserError
from ..evaluation.evaluate import evaluate_classification, evaluate_reid, test_feature_extractor
from ..evaluation.test_time import TestTimeOptions
from ..models.building import build_model, model_complexity
from ..models.weights import Pretrained
from ..results.per_query import per_query_filename, save_per_query
from ..results.records import (build_record, data_fingerprint, format_metrics, pretrained_field, utc_now,
                               weights_fingerprint, write_json_atomic, write_record)
from ..run_folder import (CHECKPOINT_FILE, CONFIG_FILE, MODEL_FILE, RECIPE_FILE, RESULTS_FOLDER, RUN_INFO_FILE,
                          SETTINGS_FILE, file_in, run_folder_lock, run_folder_parts, slug)
from ..spec import ReidSplits
from .config import (check_run_config, config_document, differences, dump, experiment_of_run, resolve_experiment,
                     resolved_loss_terms)
from .cross_domain import check_targets, record_on


def run_folder(config, method, variant, overrides=None):
    """``<output>/<method>/<variant>/<protocol>/<recipe>/seed<N>`` (:func:`run_folder_parts`)."""
    return os.path.join(config.output, *run_folder_parts(method.name, variant, config.dataset, config.recipe,
                                                         config.seed, overrides))


def _pretrained_choice(config, protocol):
    use = protocol.pretrained_default if config.pretrained is None else config.pretrained
    return Pretrained(config.weights_dir, config.pretrained_from or protocol.pretrained_source) if use else False


def evaluate_model(model, method, recipe, protocol, splits, config, device):
    """The evaluation of ``model`` on ``splits`` as ``config`` (a :class:`~.config.RunConfig`) says: its
    test loaders, evaluator, test-time options and re-ranking."""
    loaders = build_test_loaders(splits, build_test_transform(recipe, recipe.input_size), config.eval_batch_size,
                                 config.workers, pin_memory=device.type == "cuda")
    if protocol.task == "classification":
        return evaluate_classification(model, loaders, device)
    options = config.test_time or TestTimeOptions()
    if not config.rerank:
        options = replace(options, rerank=None)
    return evaluate_reid(model, loaders, test_feature_extractor(method, recipe), device, config.evaluator, options,
                         progress=config.progress)


def _mean_metrics(per_trial):
    if per_trial[0] is None:
        return None
    return {key: (None if any(m[key] is None for m in per_trial) else float(np.mean([m[key] for m in per_trial])))
            for key in per_trial[0]}


def check_output_writable(output):
    """Before any training: ``output`` and ``output/results`` are (or can be made) folders this process
    can write in, so a run never trains and evaluates only to fail writing its files."""
    for folder in (output, os.path.join(output, RESULTS_FOLDER)):
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UserError(f"--output {output}: {folder} is a file; expected a folder (or a path where one can "
                            "be created) for run folders and results/")
        try:
            os.makedirs(folder, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise UserError(f"--output {output}: cannot write in {folder} ({exc.strerror or exc}); expected a "
                            "writable folder for run folders and results/") from None


_OPTION_OF = {"epochs": "--epochs", "batch_size": "--batch-size", "input_size": "--input-size",
              "name": "--recipe"}


def _recipe_summary(recipe_dict):
    stages = recipe_dict.get("stages") or []
    return {"epochs": sum(stage.get("epochs", 0) for stage in stages),
            "batch_size": [stage.get("batch_size") for stage in stages],
            "input_size": recipe_dict.get("input_size"), "name": recipe_dict.get("name")}


def _training_settings(config, pretrained, amp):
    """What changes training besides the recipe (kept in the run folder's ``settings.json``, compared by
    ``--resume``); the number of loader workers decides which worker draws each image's augmentations."""
    return {"max_iters": config.max_iters, "pretrained": pretrained.describe() if pretrained else False,
            "amp": amp or False, "workers": config.workers, **_distributed_settings(config)}


def _distributed_settings(config):
    """The number of torchrun processes and --sync-bn: a run resumed with another world size would have
    trained on two batch layouts, which its record could not say."""
    world_size = int(os.environ["WORLD_SIZE"]) if distributed.launched_by_torchrun() else 1
    return {"world_size": world_size, "sync_bn": config.sync_bn}


_SETTING_OPTION = {"max_iters": "--max-iters", "pretrained": "--pretrained/--no-pretrained/--pretrained-from",
                   "amp": "--amp/--no-amp", "workers": "--workers",
                   "world_size": "torchrun --nproc_per_node/--nnodes", "sync_bn": "--sync-bn"}


def check_resume_matches(trial_dir, recipe, settings=None):
    """With ``--resume`` over an existing checkpoint: the recipe must be the one the run was started with
    (its ``recipe.json``), and so must ``settings`` (its ``settings.json``, where there is one), or the
    record would claim a configuration the weights were not trained with."""
    settings_path = os.path.join(trial_dir, SETTINGS_FILE)
    if settings is not None and os.path.isfile(settings_path):
        try:
            with open(settings_path) as handle:
                saved_settings = json.load(handle)
        except (OSError, ValueError):
            saved_settings = None
        if isinstance(saved_settings, dict):
            changed = [f"{key.replace('_', ' ')} {saved_settings.get(key)} there, {value} now "
                       f"({_SETTING_OPTION[key]})" for key, value in settings.items()
                       if key in saved_settings and saved_settings[key] != value]
            if changed:
                raise UserError(f"--resume: {trial_dir} was started with another configuration: "
                                f"{'; '.join(changed)}. Resume with the options the run was started with, or pass "
                                "--overwrite to start it again")
    path = os.path.join(trial_dir, RECIPE_FILE)
    try:
        with open(path) as handle:
            saved = json.load(handle)
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise UserError(f"--resume: cannot tell which configuration {trial_dir} was started with: {path} is "
                        f"missing or unreadable ({exc}); start the run again with --overwrite") from None
    now = json.loads(json.dumps(recipe.to_dict()))
    # a setting added to recipes later with an empty default is no difference from a recipe.json without it
    now = {key: value for key, value in now.items() if key in saved or value != {}}
    changed = differences(saved, now)
    if not changed:
        return
    old, new = _recipe_summary(saved), _recipe_summary(now)
    parts = [f"{key.replace('_', ' ')} {old[key]} there, {new[key]} now ({option})"
             for key, option in _OPTION_OF.items() if old[key] != new[key]]
    if not parts:
        parts = [f"{where} {a!r} there, {b!r} now" for where, a, b in changed[:4]]
        if len(changed) > 4:
            parts.append(f"and {len(changed) - 4} more")
    raise UserError(f"--resume: {trial_dir} was started with another configuration: {'; '.join(parts)}. Resume "
                    "with the options the run was started with, or pass --overwrite to start it again")


def _tracked_params(config, method, variant, protocol, recipe, overrides, pretrained):
    """What a tracker files a run under (MLflow's parameters): method, variant, protocol, seed, the resolved
    recipe (its name included; flattened by the tracker), the overrides of the stock recipe and what else
    changes training (``--max-iters``, the pretrained weights)."""
    return {"plugin": config.plugin, "method": method.name, "variant": variant, "protocol": protocol.name,
            "seed": config.seed, "recipe": recipe.to_dict(), "overrides": json.dumps(overrides or {}, sort_keys=True),
            "max_iters": config.max_iters, "pretrained": pretrained.describe() if pretrained else False}


def run(config, plugins, log=print):
    """Train and evaluate one seed; returns ``[(record, record_path)]``: the run's, then one per ``--test-on``
    protocol; ``[]`` on the ranks other than 0 of a torchrun launch (:mod:`reid_bench.engine.distributed`:
    rank 0 writes and evaluates; the ranks end together at a barrier once rank 0 has written its records,
    so none leaves the process group while another still runs). The run folder is locked from its making to
    the record (:func:`run_folder_lock`)."""
    with contextlib.ExitStack() as held:
        return _run(config, plugins, log, held)


def _run(config, plugins, log, held):
    method = plugins.method_for_plugin(config.plugin)
    variant = config.variant or method.default_variant
    method.variant(variant)  # unknown variants fail here, listing the known ones
    protocol = plugins.datasets.get(config.dataset)
    experiment = experiment_of_run(config)
    recipe, overrides = resolve_experiment(experiment, plugins)
    check_components(method, variant, recipe, plugins)
    device = resolve_device(config.device)
    ranks = distributed.setup(device, sync_bn=config.sync_bn)  # under torchrun: process group, this rank's GPU
    device, log = ranks.device, ranks.log(log)
    amp = amp_mode(config.amp, recipe.amp, device)
    acceleration = Acceleration(amp, config.channels_last, config.compile)
    pretrained = _pretrained_choice(config, protocol)
    if config.workers is None:
        config = replace(config, workers=default_workers())
    check_run_config(config)
    targets = check_targets(protocol, config.test_on, plugins.datasets)
    check_output_writable(config.output)
    check_installed(config.tracker)
    folder = run_folder(config, method, variant, overrides)
    started_at, started = utc_now(), time.perf_counter()

    trials, per_trial, per_trial_reranked, stats, evaluation = range(protocol.trials), [], [], None, None
    history, tracker = [], None  # the tracker: rank 0's, opened with the run folder
    per_trial_queries, trial_splits, trial_dirs = [], [], []
    for trial in trials:
        trial_dir = folder if protocol.trials == 1 else os.path.join(folder, f"trial{trial}")
        check_existing_checkpoint(trial_dir, resume=config.resume, overwrite=config.overwrite)
        if config.resume and os.path.isfile(os.path.join(trial_dir, CHECKPOINT_FILE)):
            check_resume_matches(trial_dir, recipe, _training_settings(config, pretrained, amp))
        elif config.resume:
            log(f"--resume: no checkpoint in {trial_dir}; training starts from the first epoch")
        seed_everything(config.seed)
        with ranks.main_first():  # rank 0 generates what goes to the cache (dataset, pretrained weights)
            splits = protocol.load(config.root, allow_partial=config.allow_partial, trial=trial)
            num_classes = splits.num_train_pids if isinstance(splits, ReidSplits) else splits.num_classes
            model = build_model(plugins, method, variant, protocol, recipe, num_classes, pretrained).to(device)
        trial_splits.append(splits)
        trial_dirs.append(trial_dir)
        if trial == 0:  # every trial starts from the same files
            weights = weights_fingerprint(pretrained.loaded if pretrained else [])
            tensors = sum(pretrained.tensors) if pretrained else 0
            if pretrained and not tensors:
                log(f"warning: {method.model!r} loaded none of the {pretrained.describe()} weights it was given (its "
                    "builder does not pass `pretrained` on to a backbone loader); the record says it trained from "
                    "scratch")
        # the trainer checks its stages' samplers against the data, before the run folder is made
        trainer = Trainer(model=model, method=method, variant=variant, recipe=recipe, plugins=plugins,
                          splits=splits, num_classes=num_classes, device=device, run_dir=trial_dir, amp=amp,
                          channels_last=config.channels_last, compile=config.compile,
                          workers=config.workers, seed=config.seed, max_iters=config.max_iters,
                          progress=config.progress and ranks.is_main, log=log, distributed=ranks,
                          eval_every=config.eval_every,
                          evaluate=lambda trained: evaluate_model(trained, method, recipe, protocol, splits, replace(
                              config, rerank=False, progress=False), device).metrics)
        # the run folder is made only once the data, the model and the trainer are there: a failed check leaves none
        if ranks.is_main:
            os.makedirs(trial_dir, exist_ok=True)
            if trial == 0:
                held.enter_context(run_folder_lock(folder))
                tracker = open_tracker(config.tracker, output=config.output, run_dir=folder, experiment=protocol.name,
                                       run_name="-".join(run_folder_parts(method.name, variant, protocol.name,
                                                                          recipe.name, config.seed, overrides)),
                                       params=_tracked_params(config, method, variant, protocol, recipe, overrides,
                                                              pretrained))
                held.push(lambda kind, value, traceback: tracker.close(failed=kind is not None))
                if tracker.describe():
                    log(f"tracked as {tracker.describe()}")
            write_json_atomic(os.path.join(trial_dir, RECIPE_FILE), recipe.to_dict())
            write_json_atomic(os.path.join(trial_dir, SETTINGS_FILE),
                              {**_training_settings(config, pretrained, amp), "weights_fingerprint": weights,
                               "pretrained_tensors": tensors})
            write_text_atomic(os.path.join(trial_dir, CONFIG_FILE),
                              dump(config_document(experiment.options, recipe, method, variant)))
        log(f"{method.name} [{variant}] on {protocol.name}"
            f"{f' trial {trial + 1}/{protocol.trials}' if protocol.trials > 1 else ''}: recipe {recipe.name}, "
            f"{recipe.epochs} epochs, input {recipe.input_size[0]}x{recipe.input_size[1]}, device {device}, "
            f"{pretrained.describe() + ' weights' if pretrained else 'from scratch'}; run folder {trial_dir}")
        stats = trainer.fit(resume=config.resume, tracker=tracker)
        replicas_identical = ranks.parameters_identical(model, trainer.loss_modules)
        if not ranks.is_main:
            ranks.barrier()  # while rank 0 writes the weights and evaluates them
            continue
        save_torch_atomic(model.state_dict(), os.path.join(trial_dir, MODEL_FILE))
        write_json_atomic(os.path.join(trial_dir, RUN_INFO_FILE), {
            "plugin": plugins.methods.owner(method.name),
            "plugin_distribution": plugins.distributions.get(plugins.methods.owner(method.name)),
            "method": method.name, "variant": variant, "protocol": protocol.name, "recipe_name": recipe.name,
            "num_classes": num_classes, "input_size": list(recipe.input_size), "seed": config.seed,
            "overrides": overrides})
        evaluation = evaluate_model(model, method, recipe, protocol, splits, config, device)
        per_trial.append(evaluation.metrics)
        history += [{**entry, "trial": trial} if protocol.trials > 1 else entry for entry in stats.history]
        per_trial_reranked.append(evaluation.metrics_reranked)
        per_trial_queries.append(evaluation.per_query)
        ranks.barrier()

    if not ranks.is_main:
        ranks.barrier()  # the ranks end together, once rank 0 has written the records
        return []
    params, flops = model_complexity(model, recipe.input_size, device)
    run_id = (f"{slug(method.name)}-{slug(variant)}-{slug(protocol.name)}-{slug(recipe.name)}-seed{config.seed}-"
              f"{started_at.replace(':', '').replace('+0000', 'Z')}")
    record = build_record(
        run_id=run_id, command=list(config.command), plugin=plugins.methods.owner(method.name),
        plugin_distribution=plugins.distributions.get(plugins.methods.owner(method.name)),
        plugins=plugins.loaded_versions(), method=method.name, variant=variant,
        protocol=protocol.name, task=protocol.task, recipe_name=recipe.name, recipe=recipe.to_dict(),
        overrides=overrides, loss_terms=resolved_loss_terms(method, variant, recipe, plugins.losses),
        data_fingerprint=data_fingerprint(trial_splits), seed=config.seed, metrics=_mean_metrics(per_trial),
        metrics_reranked=_mean_metrics(per_trial_reranked),
        evaluation={**evaluation.details, "trials": protocol.trials, "test_features": recipe.test_features},
        params=params, flops=flops, backbone=method.backbone_for(variant),
        input_size=list(recipe.input_size),
        train={"epochs": recipe.epochs, "iterations": stats.iterations, "max_iters": config.max_iters,
               "images_per_s": stats.images_per_s, "wall_s": stats.wall_s, "workers": config.workers},
        eval_wall_s=evaluation.details.get("wall_s"),
        pretrained=pretrained_field(pretrained.describe() if pretrained else False, tensors),
        pretrained_tensors=tensors,
        weights_fingerprint=weights, device=str(device), **acceleration.to_record(), started_at=started_at,
        finished_at=utc_now(),
        wall_s=time.perf_counter() - started, resumed=stats.resumed, history=history, run_dir=folder,
        distributed={**ranks.describe(recipe), "parameters_identical": replicas_identical},
        per_query=per_query_filename(run_id) if protocol.task == "reid" else None, trained_on=protocol.name,
        tested_on=protocol.name)
    log(f"metrics: {format_metrics(record['metrics'])}")  # shown before the record is written, which may fail
    if record["metrics_reranked"]:
        log(f"re-ranked: {format_metrics(record['metrics_reranked'])}")
    if record["per_query"]:  # written first: a record never names a missing file
        save_per_query(file_in(os.path.join(config.output, RESULTS_FOLDER), record["per_query"]), per_trial_queries)
    path = write_record(os.path.join(config.output, RESULTS_FOLDER), record)
    log(f"result record: {path}")
    tracker.log_result(record, path)
    done = [(record, path)]
    for target in targets:
        target_splits = target.load(config.root, allow_partial=config.allow_partial, trial=0)
        target_evaluation = evaluate_model(model, method, recipe, target, target_splits, config, device)
        log(f"tested on {target.name}: {format_metrics(target_evaluation.metrics)}")
        target_record, target_path = record_on(record, target, target_splits, target_evaluation, protocol,
                                               os.path.join(config.output, RESULTS_FOLDER))
        log(f"result record: {target_path}")
        tracker.log_result(target_record, target_path)
        done.append((target_record, target_path))
    if not config.keep_checkpoint:  # finished: model.pt and the records are what it leaves
        for trial_dir in trial_dirs:
            remove_checkpoint(trial_dir)
    ranks.barrier()  # the other ranks have waited here for the records
    return done
