"""The component catalogue: every name a plugin's specs can use, with the plugin that owns it and its keyword
arguments and defaults, read from the signatures (``reid-bench list --components``).

Registered by plugins (the harness's own generic ones under the plugin ``reid_bench``): model builders,
loss terms, samplers and protocols. Provided by the harness itself: augmentations
(:data:`reid_bench.data.transforms.AUGMENTATIONS`), optimizers (:data:`reid_bench.engine.optim.OPTIMIZERS`,
with :class:`~reid_bench.spec.OptimizerSpec`'s defaults), the learning-rate schedule
(:class:`~reid_bench.spec.LRSchedule`) and the spec objects a method is written with. Arguments the harness
passes itself (a model builder's ``num_classes``, a sampler's ``data_source``, ...) are the kind's contract
and are not listed per component.
"""
import dataclasses
import inspect
from dataclasses import dataclass

from . import spec
from .data.transforms import AUGMENTATIONS
from .engine.optim import OPTIMIZERS
from .plugin_manager import CORE_PLUGIN_NAME

#: a parameter without a default
REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Kind:
    """A kind of component: its heading, how a spec names one, and the arguments the harness passes."""

    name: str
    title: str
    usage: str
    contract: tuple = ()


KINDS = (
    Kind("model", "Models", "MethodSpec(model=NAME, model_kwargs={...}); Variant(model_kwargs={...}). The harness "
         "calls builder(num_classes, *, task, input_size, pretrained, **model_kwargs)",
         ("num_classes", "task", "input_size", "pretrained")),
    Kind("loss", "Loss terms", "LossTerm(TERM, NAME, weight, kwargs={...}). The harness calls builder(**kwargs), "
         "with num_classes when the builder takes it; the module's forward(outputs, targets) returns a scalar",
         ("num_classes",)),
    Kind("sampler", "Samplers", "Stage(sampler=SamplerSpec(NAME, {...})). The harness calls "
         "builder(data_source, batch_size, **kwargs)", ("data_source", "batch_size")),
    Kind("augmentation", "Augmentations", "Recipe(train_transforms=(Augment(NAME, {...}, start_epoch=0), ...))",
         ("height", "width", "norm_mean")),
    Kind("optimizer", "Optimizers", "Stage(optimizer=OptimizerSpec(NAME, lr=..., ...)); defaults are "
         "OptimizerSpec's", ("params",)),
    Kind("schedule", "Learning-rate schedule", "Stage(schedule=LRSchedule(...)); the factor of each part multiplies"),
    Kind("protocol", "Protocols", "--dataset NAME; paper_recipe(protocol) reads protocol.name and protocol.task"),
    Kind("spec", "Spec objects", "from reid_bench import NAME"),
)

#: the spec objects a method is written with (LRSchedule is the schedule above)
SPEC_OBJECTS = (spec.MethodSpec, spec.Variant, spec.Recipe, spec.Stage, spec.SamplerSpec, spec.Augment,
                spec.LossTerm, spec.OptimizerSpec, spec.Reported)


@dataclass(frozen=True)
class Component:
    """One named component: its kind, name, owning plugin and that plugin's distribution
    (``{"name", "version"}`` or ``None``), its arguments as ``(name, default)`` pairs (:data:`REQUIRED`
    for none; ``("**kwargs", REQUIRED)`` when it takes any) and the first line of its docstring."""

    kind: str
    name: str
    owner: str
    distribution: dict
    arguments: tuple
    summary: str


def arguments(obj, contract=(), defaults=None):
    """``((name, default), ...)`` of ``obj``'s signature without the ``contract`` parameters; ``defaults``
    fills in those the signature leaves without one (a dataclass's factory defaults are made). ``None``
    when the signature cannot be read."""
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    if dataclasses.is_dataclass(obj):
        defaults = {field.name: field.default_factory() for field in dataclasses.fields(obj)
                    if field.default_factory is not dataclasses.MISSING}
    found = []
    for parameter in parameters:
        if parameter.name in contract or parameter.kind == parameter.VAR_POSITIONAL:
            continue
        if parameter.kind == parameter.VAR_KEYWORD:
            found.append((f"**{parameter.name}", REQUIRED))
        elif defaults and parameter.name in defaults:
            found.append((parameter.name, defaults[parameter.name]))
        else:
            found.append((parameter.name, parameter.default))
    return tuple(found)


def _summary(obj):
    """The first paragraph of ``obj``'s own docstring (a class's, not one it inherits), on one line."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else ""


def catalogue(plugins):
    """Every :class:`Component` of a loaded :class:`reid_bench.plugin_manager.PluginSet`, by kind as in
    :data:`KINDS`, then by name."""
    kinds = {kind.name: kind for kind in KINDS}
    core = (CORE_PLUGIN_NAME, plugins.distributions.get(CORE_PLUGIN_NAME))
    found = []

    def add(kind, name, obj, owner, defaults=None):
        found.append(Component(kind, name, owner[0], owner[1], arguments(obj, kinds[kind].contract, defaults),
                               _summary(obj)))

    for kind, registry in (("model", plugins.models), ("loss", plugins.losses), ("sampler", plugins.samplers)):
        for name, builder in registry.items():
            owner = registry.owner(name)
            add(kind, name, builder, (owner, plugins.distributions.get(owner)))
    for name in sorted(AUGMENTATIONS):
        add("augmentation", name, AUGMENTATIONS[name], core)
    optimizer_defaults = {field.name: field.default for field in dataclasses.fields(spec.OptimizerSpec)}
    for name in sorted(OPTIMIZERS):
        add("optimizer", name, OPTIMIZERS[name], core, optimizer_defaults)
    add("schedule", "LRSchedule", spec.LRSchedule, core)
    for name, protocol in plugins.datasets.items():
        owner = plugins.datasets.owner(name)
        found.append(Component("protocol", name, owner, plugins.distributions.get(owner), (),
                               f"{protocol.title} ({protocol.task}): {protocol.split}"))
    for obj in SPEC_OBJECTS:
        add("spec", obj.__name__, obj, core)
    return found


def format_arguments(component):
    """``a, b=1, **kwargs`` (``(signature not readable)`` when it could not be read)."""
    if component.arguments is None:
        return "(signature not readable)"
    return ", ".join(name if default is REQUIRED else f"{name}={default!r}" for name, default in component.arguments)
