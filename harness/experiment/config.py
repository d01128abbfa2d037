"""Experiment configs: ``reid-bench run --config FILE --set KEY=VALUE`` and ``reid-bench config show``.

A config is one YAML document (PyYAML, safe loading only) with three parts:

- the run options: the fields of :class:`RunConfig` a run is made of (``plugin``,
  ``dataset``, ``variant``, ``seeds``, ``epochs``, ``batch_size``, ``input_size``, ``device`` ...);
- ``recipe``: the fully resolved :class:`reid_bench.Recipe` (``recipe.name`` chooses ``paper`` or
  ``uniform``; the rest is the recipe that run trains with);
- ``loss_terms``: the method's active loss terms with their ``weight`` and ``kwargs``.

Options are merged in this order: the defaults, the config file, the options given on the command
line, then the ``--set`` overrides of options. The stock recipe of those options is resolved as
without a config (:func:`reid_bench.recipes.resolve_recipe`), and the file's ``recipe`` and
``loss_terms`` sections, then the ``--set`` overrides of them, are laid over it: a section may be
partial (what it leaves out keeps the stock value), a list given whole replaces the stock list (an
added element starts as a copy of the last stock element), a ``--set`` path such as
``recipe.stages.0.optimizer.lr=1e-3`` changes one value. Every key is checked against the stock
document and every value against the type of the value it replaces: an unknown key or a wrong type is
one :class:`~reid_bench.errors.UserError` naming the key and the valid ones.

A run's *overrides* are the differences between its recipe and the stock one (``{"stages[0].optimizer.lr":
0.001}``); records store them and the leaderboard gives such runs rows of their own that name them. Each
run folder holds the ``config.yaml`` it was run with, so ``reid-bench run --config RUN/config.yaml``
runs it again.

Why PyYAML and our own checks rather than OmegaConf or jsonargparse: the recipe is a tree of frozen
dataclasses with tuples, free-form ``kwargs`` dicts and plugin-defined loss terms; checking a value
against the stock value it replaces needs no second schema, and error messages stay in the
harness's one-line ``error:`` style.
"""
import dataclasses
import inspect
import json
import math
import typing
from typing import Optional

import yaml

from ..engine.optim import OPTIMIZERS
from ..engine.tracking import TRACKERS
from ..choices import EVALUATORS, WEIGHT_SOURCES
from ..errors import UserError, did_you_mean
from ..evaluation.test_time import QueryExpansion, Reranking, TestTimeOptions
from ..recipes import RECIPES, resolve_recipe

#: RunConfig fields that are not run options of a config: what one invocation does (resume ..., its command line),
#: the seed
#: (a config has ``seeds``) and the recipe (its own section)
NOT_OPTIONS = ("resume", "overwrite", "progress", "command", "seed", "recipe", "recipe_patches", "loss_patches")
SECTIONS = ("recipe", "loss_terms")
#: the least value of numeric run options, and the values a named option takes: checked before any folder is made
MINIMUM = {"epochs": 0, "max_iters": 1, "batch_size": 1, "workers": 0, "eval_batch_size": 1, "eval_every": 1}
CHOICES = {"evaluator": EVALUATORS, "pretrained_from": WEIGHT_SOURCES, "tracker": TRACKERS}
MAX_SEED = 2 ** 32 - 1  # numpy's and torch's seeding take 32 bits
HEADER = "# reid-bench run configuration: `reid-bench run --config THIS_FILE [--set KEY=VALUE ...]`\n"


@dataclasses.dataclass
class RunConfig:
    """What ``reid-bench run`` was asked to do (one seed)."""

    plugin: str
    dataset: str
    variant: Optional[str] = None
    root: Optional[str] = None
    recipe: str = "paper"
    seed: int = 0
    epochs: Optional[int] = None
    max_iters: Optional[int] = None
    batch_size: Optional[int] = None
    input_size: Optional[tuple] = None
    device: str = "auto"
    amp: Optional[object] = None  # None: the recipe's; False; True or "fp16"; "bf16"
    channels_last: bool = False
    compile: bool = False
    pretrained: Optional[bool] = None
    pretrained_from: Optional[str] = None
    weights_dir: Optional[str] = None
    workers: Optional[int] = None  # None: default_workers()
    output: str = "runs"
    resume: bool = False
    overwrite: bool = False
    rerank: bool = False  # re-ranked metrics too (--rerank); off: their cost grows with (queries + gallery)^2
    evaluator: str = "reid_bench"
    allow_partial: bool = False
    eval_batch_size: int = 128
    progress: bool = True
    eval_every: Optional[int] = None  # evaluate every N epochs while training (watched, never used to select)
    keep_checkpoint: bool = False  # a finished run keeps checkpoint.pt (else only model.pt)
    sync_bn: bool = False
    tracker: str = "tensorboard"  # where losses and metrics are reported (reid_bench.engine.tracking)
    test_time: Optional[TestTimeOptions] = None  # None: the defaults; ``rerank`` False turns re-ranking off
    test_on: tuple = ()  # protocols the trained model is also tested on (cross-domain)
    recipe_patches: tuple = ()  # a config's recipe section and --set recipe.* (reid_bench.experiment.config)
    loss_patches: tuple = ()  # a config's loss_terms section and --set loss_terms.*
    command: tuple = ()  # the command line (``reid-bench`` and its arguments) the run came from, for its record


def _run_config_fields():
    hints = typing.get_type_hints(RunConfig)
    return {field.name: (hints[field.name], field.default) for field in dataclasses.fields(RunConfig)
            if field.name not in NOT_OPTIONS}


def option_defaults():
    """The run options a config holds, with their defaults (``seeds`` for RunConfig's ``seed``)."""
    defaults = {name: default for name, (_, default) in _run_config_fields().items()
                if name not in ("plugin", "dataset")}  # required fields of RunConfig
    return {"plugin": None, "dataset": None, "seeds": [0], **defaults}


def _scalar_name(kind):
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(kind, kind.__name__)


def _check_leaf(template, value, path):
    """``value`` as the kind of ``template`` (a stock value): numbers written as strings (``1e-3``, which
    YAML reads as a string) are converted; anything else of another kind is refused naming ``path``."""
    if template is None:
        return value
    kind = type(template)
    if isinstance(value, str) and kind in (int, float):
        try:
            value = kind(value)
        except ValueError:
            pass
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in (list, tuple):
        kind = list
        if isinstance(value, tuple):
            value = list(value)
    if type(value) is not kind and not (kind is dict and isinstance(value, dict)):
        raise UserError(f"{path}: expected {_scalar_name(kind)} (like the stock value {json.dumps(_plain(template))}), "
                        f"got {value!r}")
    return value


def _plain(value):
    """Tuples as lists, dataclasses as dicts: what YAML and JSON can hold."""
    return json.loads(json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value))


def _element_template(template, index):
    return template[index] if index < len(template) else (template[-1] if template else None)


def _rebuild(template, patch, path, strict_dicts):
    """``template`` (a stock value: dataclass, tuple, dict or scalar) with ``patch`` laid over it.

    A mapping patch over a dataclass or dict changes the keys it names (unknown keys are refused, except
    in the free-form dicts of a dataclass, e.g. ``kwargs``, unless ``strict_dicts``); a mapping with whole
    numbers as keys over a tuple changes those elements; a list replaces a tuple (each element rebuilt
    from the stock element at its place, or the last one).
    """
    if dataclasses.is_dataclass(template):
        if not isinstance(patch, dict):
            raise UserError(f"{path}: expected a mapping of {', '.join(f.name for f in dataclasses.fields(template))}, "
                            f"got {patch!r}")
        names = [field.name for field in dataclasses.fields(template)]
        changes = {}
        for key, value in patch.items():
            if key not in names:
                raise UserError(f"unknown key {path}.{key}; {did_you_mean(key, names)}")
            current = getattr(template, key)
            changes[key] = _rebuild(current, value, f"{path}.{key}", strict_dicts=False)
        return dataclasses.replace(template, **changes)
    if isinstance(template, tuple) and isinstance(patch, dict):
        result = list(template)
        for key, value in patch.items():
            index = _index(key, len(result), path)
            result[index] = _rebuild(result[index], value, f"{path}.{index}", strict_dicts)
        return tuple(result)
    if isinstance(template, tuple) and template and any(dataclasses.is_dataclass(t) for t in template):
        if not isinstance(patch, (list, tuple)):
            raise UserError(f"{path}: expected a list, got {patch!r}")
        return tuple(_rebuild(_element_template(template, i), value, f"{path}.{i}", strict_dicts)
                     for i, value in enumerate(patch))
    if isinstance(template, dict) and isinstance(patch, dict):
        result = dict(template)
        for key, value in patch.items():
            if key in template:
                result[key] = _rebuild(template[key], value, f"{path}.{key}", strict_dicts)
            elif strict_dicts:
                raise UserError(f"unknown key {path}.{key}; {did_you_mean(key, list(template))}")
            else:
                result[key] = value
        return result
    value = _check_leaf(template, patch, path)
    return tuple(value) if isinstance(template, tuple) else value


def _index(key, length, path):
    try:
        index = int(key)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < length:
        raise UserError(f"unknown key {path}.{key}; {path} is a list of {length} (valid keys there: "
                        f"{', '.join(str(i) for i in range(length))})")
    return index


def parse_assignment(text):
    """``KEY=VALUE`` as ``(["key", ...], value)``; the value is read as YAML (``1e-3``, ``[256, 128]``,
    ``true``, ``{padding: 4}``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. recipe.stages.0.optimizer.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise UserError(f"--set {text!r}: the value is not valid YAML ({str(exc).splitlines()[0]})") from None
    return key.strip().split("."), value


def _merge(base, patch):
    """``patch`` laid over ``base``, mappings merged key by key (a mapping over ``None`` is the mapping)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{key: _merge(base.get(key), value) for key, value in patch.items()}}
    return patch


def _nest(parts, value):
    for part in reversed(parts):
        value = {part: value}
    return value


def read_config_file(path, what="--config"):
    """The mapping in a YAML config file; :class:`UserError` (naming ``what`` the file is) if it is unreadable
    or not a mapping."""
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} {path}: expected UTF-8 text, byte {exc.start} is not") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{what} {path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise UserError(f"{what} {path}: expected a mapping (see `reid-bench config show`), "
                        f"got {type(document).__name__}")
    return document


@dataclasses.dataclass
class ExperimentConfig:
    """Run options plus the patches laid over the stock recipe and loss terms."""

    options: dict
    recipe_patches: list  # mappings, in order
    loss_patches: list


def merge_options(file_document, given, assignments):
    """:class:`ExperimentConfig` from a config file's mapping, the options given on the command line
    (``{name: value}``, only those given) and ``--set`` assignments (``[(parts, value)]``)."""
    defaults = option_defaults()
    fields = _run_config_fields()
    options = dict(defaults)
    recipe_patches, loss_patches = [], []

    def set_option(name, value, where):
        if name not in defaults:
            raise UserError(f"{where}: unknown key {name}; {did_you_mean(name, list(defaults) + list(SECTIONS))}")
        options[name] = _check_option(name, value, fields, where)

    for key, value in file_document.items():
        if key == "recipe":
            recipe_patches.append(value if isinstance(value, dict) else {"name": value})
        elif key == "loss_terms":
            loss_patches.append(value)
        else:
            set_option(key, value, "config")
    for name, value in given.items():
        if name == "recipe":
            recipe_patches.append({"name": value})
        else:
            set_option(name, value, f"--{name.replace('_', '-')}")
    for parts, value in assignments:
        if parts[0] == "recipe":
            recipe_patches.append(_nest(parts[1:], value) if len(parts) > 1 else value)
        elif parts[0] == "loss_terms":
            loss_patches.append(_nest(parts[1:], value) if len(parts) > 1 else value)
        elif len(parts) == 1:
            set_option(parts[0], value, f"--set {parts[0]}")
        elif parts[0] == "test_time":
            current = _plain(options["test_time"] if options["test_time"] is not None else TestTimeOptions())
            set_option("test_time", _merge(current, _nest(parts[1:], value)), f"--set {'.'.join(parts)}")
        else:
            raise UserError(f"--set {'.'.join(parts)}: {parts[0]} is a run option without keys below it")
    return ExperimentConfig(options, recipe_patches, loss_patches)


def _check_option(name, value, fields, where):
    """A run option's value checked against RunConfig's annotation."""
    if name == "seeds":
        seeds = value if isinstance(value, list) else [value]
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds):
            raise UserError(f"{where}: seeds: expected a list of whole numbers from 0 to {MAX_SEED}, got {value!r}")
        return seeds
    if name == "test_time":
        return _test_time_option(value, where)
    if name == "amp":
        if value not in (None, False, True, "fp16", "bf16"):
            raise UserError(f"{where}: amp: expected null (the recipe's), false, true, fp16 or bf16, got {value!r}")
        return value
    if name in ("plugin", "dataset"):
        kind, optional = str, True
    else:
        kind, optional = fields[name][0], False
        if typing.get_origin(kind) is typing.Union:
            args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
            kind, optional = args[0], True
    if value is None and optional:
        return None
    if kind is tuple and isinstance(value, list):
        value = tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = _scalar_name(list if kind is tuple else kind) + (" or null" if optional else "")
        raise UserError(f"{where}: {name}: expected {expected}, got {value!r}")
    return _check_value(name, value, where)


def check_run_config(config):
    """A :class:`RunConfig` checked as a config file's or the command line's options are when read (type, range,
    name, seed), so one made in Python fails before any folder is made too."""
    fields = _run_config_fields()
    for name in fields:
        if name not in ("plugin", "dataset"):
            _check_option(name, getattr(config, name), fields, "run option")
    _check_option("seeds", config.seed, fields, "run option")


def _check_value(name, value, where):
    """A typed run option's value checked for range and name (:data:`MINIMUM`, :data:`CHOICES`, the input
    size, the device), so a bad value stops the run before any folder is made, never after training."""
    if name in MINIMUM and value < MINIMUM[name]:
        raise UserError(f"{where}: {name}: expected at least {MINIMUM[name]}, got {value!r}")
    if name in CHOICES and value not in CHOICES[name]:
        raise UserError(f"{where}: {name}: expected one of {', '.join(CHOICES[name])}, got {value!r}")
    if name == "input_size" and (len(value) != 2 or not all(
            isinstance(side, int) and not isinstance(side, bool) and side >= 1 for side in value)):
        raise UserError(f"{where}: input_size: expected [height, width], two whole numbers of at least 1, "
                        f"got {list(value)!r}")
    if name == "device" and value != "auto":
        import torch

        try:
            torch.device(value)
        except (RuntimeError, ValueError):
            raise UserError(f"{where}: device: expected auto, cpu, cuda or cuda:N, got {value!r}") from None
    return value


def _test_time_option(value, where):
    """``test_time``: null (the defaults), a :class:`~reid_bench.evaluation.test_time.TestTimeOptions`, or its
    mapping (``flip``, ``distance``, ``aqe``: null or ``{k, alpha, times}``, ``rerank``: null or ``{k1, k2,
    lambda_value}``) as ``config show`` writes it."""
    if value is None or isinstance(value, TestTimeOptions):
        return value
    if not isinstance(value, dict):
        raise UserError(f"{where}: test_time: expected null or a mapping of flip, distance, aqe, rerank, got {value!r}")
    nested = {}
    for key, kind in (("aqe", QueryExpansion), ("rerank", Reranking)):
        if key in value:
            part = value[key]
            nested[key] = None if part is None else _rebuild(kind(), part, f"test_time.{key}", strict_dicts=True)
    plain = {key: part for key, part in value.items() if key not in nested}
    return dataclasses.replace(_rebuild(TestTimeOptions(), plain, "test_time", strict_dicts=True), **nested)


def check_named(options):
    """The plugin and the dataset, which no default supplies, are given (on the command line or in the config)."""
    if not options.get("plugin") or not options.get("dataset"):
        missing = [name for name in ("plugin", "dataset") if not options.get(name)]
        raise UserError(f"no {' and no '.join(missing)} given: pass --{' and --'.join(missing)} or a --config that "
                        "names them")


def stock_recipe(options, plugins):
    """``(method, variant, protocol, recipe)``: the recipe of the options without any patch."""
    check_named(options)
    method = plugins.method_for_plugin(options["plugin"])
    variant = options.get("variant") or method.default_variant
    method.variant(variant)
    protocol = plugins.datasets.get(options["dataset"])
    name = options.get("recipe_name", "paper")
    recipe = resolve_recipe(method, protocol, name, epochs=options.get("epochs"), batch_size=options.get("batch_size"),
                            input_size=options.get("input_size"))
    return method, variant, protocol, recipe


def loss_terms_view(method, variant, recipe):
    """``{term: {"weight", "kwargs"}}`` of the terms active in any stage of ``recipe``."""
    view = {}
    for stage in recipe.stages:
        for term in method.loss_terms_for(variant, recipe, stage):
            view.setdefault(term.name, {"weight": float(term.weight), "kwargs": _plain(dict(term.kwargs))})
    return view


def resolved_loss_terms(method, variant, recipe, losses):
    """A record's ``loss_terms``: ``{term: {"loss", "weight", "kwargs", "optimizer"}}`` of every term active in
    a stage of ``recipe``, with its registered loss, weight and optimizer as resolved, and its builder's
    (from ``losses``, the loss registry) keyword arguments in full: those the method, variant and recipe give
    (:func:`loss_terms_view`), and the builder's defaults for the rest (a margin or label smoothing left
    out), as the trainer builds it (``num_classes`` follows from the data and is left out)."""
    resolved = {}
    for stage in recipe.stages:
        for term in method.loss_terms_for(variant, recipe, stage):
            if term.name in resolved:
                continue
            parameters = inspect.signature(losses.get(term.loss)).parameters.items()
            defaults = {name: parameter.default for name, parameter in parameters
                        if parameter.default is not inspect.Parameter.empty and name != "num_classes"}
            resolved[term.name] = json.loads(json.dumps({
                "loss": term.loss, "weight": float(term.weight), "kwargs": {**defaults, **term.kwargs},
                "optimizer": dataclasses.asdict(term.optimizer) if term.optimizer else None}, default=repr))
    return resolved


def _recipe_name(patches):
    names = [patch["name"] for patch in patches if isinstance(patch, dict) and "name" in patch]
    name = names[-1] if names else "paper"
    if name not in RECIPES:
        raise UserError(f"recipe.name: expected one of {', '.join(RECIPES)}, got {name!r}")
    return name


def resolve_experiment(experiment, plugins):
    """``(recipe, overrides)`` of an :class:`ExperimentConfig`: the stock recipe with the patches laid over
    it and the loss-term changes folded into its ``loss_weights`` / ``loss_kwargs``, and the differences
    from the stock recipe (``{path: value}``)."""
    options = dict(experiment.options, recipe_name=_recipe_name(experiment.recipe_patches))
    method, variant, _, stock = stock_recipe(options, plugins)
    recipe = stock
    for patch in experiment.recipe_patches:
        if not isinstance(patch, dict):
            raise UserError(f"recipe: expected a mapping (see `reid-bench config show`), got {patch!r}")
        recipe = _rebuild(recipe, {k: v for k, v in patch.items() if k != "name"}, "recipe", strict_dicts=False)
    stock_terms = loss_terms_view(method, variant, recipe)
    terms = stock_terms
    for patch in experiment.loss_patches:
        terms = _rebuild(terms, patch, "loss_terms", strict_dicts=True)
    weights, kwargs = dict(recipe.loss_weights), {name: dict(v) for name, v in recipe.loss_kwargs.items()}
    for name, term in terms.items():
        if term["weight"] != stock_terms[name]["weight"]:
            weights[name] = term["weight"]
        changed = {k: v for k, v in term["kwargs"].items() if stock_terms[name]["kwargs"].get(k) != v}
        if changed:
            kwargs[name] = {**kwargs.get(name, {}), **changed}
    recipe = dataclasses.replace(recipe, loss_weights=weights, loss_kwargs=kwargs)
    _check_recipe(recipe)
    return recipe, {path: value for path, _, value in differences(_plain(stock), _plain(recipe))}


def _check_recipe(recipe):
    """The values of a patched recipe that its types let through but training cannot use, refused before
    any folder is made (they failed after the first step or with a traceback)."""
    problems = []
    for index, stage in enumerate(recipe.stages):
        where = f"recipe.stages.{index}"
        if stage.epochs < 0 or stage.batch_size < 1:
            problems.append(f"{where}: expected epochs >= 0 and batch_size >= 1")
        if stage.optimizer.name not in OPTIMIZERS:
            problems.append(f"{where}.optimizer.name: expected one of {', '.join(OPTIMIZERS)}, got "
                            f"{stage.optimizer.name!r}")
        if not (math.isfinite(stage.optimizer.lr) and stage.optimizer.lr > 0):
            problems.append(f"{where}.optimizer.lr: expected a number above 0, got {stage.optimizer.lr!r}")
        if not (math.isfinite(stage.optimizer.weight_decay) and stage.optimizer.weight_decay >= 0):
            problems.append(f"{where}.optimizer.weight_decay: expected a number of at least 0, got "
                            f"{stage.optimizer.weight_decay!r}")
    if len(recipe.input_size) != 2 or not all(isinstance(side, int) and side >= 1 for side in recipe.input_size):
        problems.append(f"recipe.input_size: expected [height, width] of at least 1, got {list(recipe.input_size)!r}")
    if not all(math.isfinite(value) and value != 0 for value in recipe.norm_std):
        problems.append(f"recipe.norm_std: expected non-zero numbers, got {list(recipe.norm_std)!r}")
    problems += [f"loss_terms.{name}.weight: expected a finite number, got {weight!r}"
                 for name, weight in recipe.loss_weights.items() if not math.isfinite(weight)]
    if problems:
        raise UserError("; ".join(problems))


def recipe_of_document(stock, document):
    """The recipe a run folder's ``recipe.json`` (``document``, a resolved recipe as a dict) describes, built
    over ``stock`` (the recipe of the same name) and checked like a config's ``recipe`` section."""
    if not isinstance(document, dict):
        raise UserError(f"expected a recipe.json holding the run's resolved recipe, got {type(document).__name__}")
    return _rebuild(stock, {key: value for key, value in document.items() if key != "name"}, "recipe",
                    strict_dicts=False)


def differences(before, after, path=""):
    """``[(path, before value, after value)]`` where two JSON-like values differ, keys in sorted order
    (``stages[0].optimizer.lr``: dict keys joined by dots, list indices in brackets; lists of another
    length differ as a whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (a, b) in enumerate(zip(before, after)):
            found += differences(a, b, f"{path}[{index}]")
        return found
    return [] if before == after else [(path, before, after)]


def config_document(options, recipe, method, variant):
    """The YAML-ready document of one experiment (what ``config show`` prints and run folders keep)."""
    document = {key: _plain(value) for key, value in options.items() if key != "recipe_name"}
    document["recipe"] = _plain(recipe)
    document["loss_terms"] = loss_terms_view(method, variant, recipe)
    return document


def dump(document):
    return HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100)


def experiment_of_run(config):
    """The :class:`ExperimentConfig` of one :class:`RunConfig` (one seed)."""
    options = {name: getattr(config, name) for name in option_defaults() if name != "seeds"}
    return ExperimentConfig(dict(options, seeds=[config.seed]), [{"name": config.recipe}, *config.recipe_patches],
                            list(config.loss_patches))


def run_configs(experiment, **invocation):
    """One :class:`RunConfig` per seed of an :class:`ExperimentConfig`; ``invocation``
    adds resume, overwrite, progress and the command line."""
    check_named(experiment.options)
    options = {name: value for name, value in experiment.options.items() if name != "seeds"}
    if options.get("input_size") is not None:
        options["input_size"] = tuple(options["input_size"])
    return [RunConfig(**options, seed=seed, recipe=_recipe_name(experiment.recipe_patches),
                      recipe_patches=tuple(experiment.recipe_patches), loss_patches=tuple(experiment.loss_patches),
                      **invocation) for seed in experiment.options["seeds"]]


def resolved_config_text(experiment, plugins):
    """The fully resolved config of ``experiment`` as YAML (``reid-bench config show``)."""
    recipe, _ = resolve_experiment(experiment, plugins)
    method, variant, _, _ = stock_recipe(dict(experiment.options, recipe_name=recipe.name), plugins)
    return dump(config_document(experiment.options, recipe, method, variant))
