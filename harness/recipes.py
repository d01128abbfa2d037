"""Recipe resolution: the paper's recipe or the harness's uniform one, then protocol and user overrides.

``uniform`` is the shared schedule that makes a leaderboard compare methods at equal budget: every
method gets the same optimizer, epochs, batch composition (P x K), input size and augmentation, and
keeps its own model, loss terms (those of its paper recipe's last stage) and per-protocol loss
settings. A method whose loss needs a particular batch layout (``sampler_is_method``, e.g. pairs)
keeps its sampler, at the uniform batch size.
"""
from dataclasses import replace

from .errors import UserError
from .spec import Augment, LRSchedule, OptimizerSpec, Recipe, SamplerSpec, Stage

RECIPES = ("paper", "uniform")

UNIFORM_REID_STAGE = Stage(
    name="uniform",
    epochs=120,
    batch_size=64,
    sampler=SamplerSpec("identity", {"num_instances": 4}),
    optimizer=OptimizerSpec("adam", lr=3.5e-4, weight_decay=5e-4),
    schedule=LRSchedule(warmup_epochs=10, warmup_start=0.1, milestones=(40, 70)),
)
#: Bag of Tricks' augmentation, its padding (10 px at 256x128) in proportion to the input width
UNIFORM_REID_TRANSFORMS = (Augment("random_flip"), Augment("pad_crop", {"padding": 10, "reference_width": 128}),
                           Augment("random_erase"))

UNIFORM_CLASSIFICATION_STAGE = Stage(
    name="uniform",
    epochs=60,
    batch_size=128,
    sampler=SamplerSpec("random"),
    optimizer=OptimizerSpec("sgd", lr=0.1, weight_decay=5e-4, momentum=0.9),
    schedule=LRSchedule(milestones=(30, 45)),
)
UNIFORM_CLASSIFICATION_TRANSFORMS = (Augment("random_flip"), Augment("pad_crop", {"padding": 4}))


def uniform_recipe(method, protocol):
    """The harness's shared recipe for ``method`` on ``protocol``."""
    paper = method.paper_recipe(protocol)
    last = paper.stages[-1]
    if protocol.task == "classification":
        stage, transforms, input_size = UNIFORM_CLASSIFICATION_STAGE, UNIFORM_CLASSIFICATION_TRANSFORMS, paper.input_size
    else:
        stage, transforms, input_size = UNIFORM_REID_STAGE, UNIFORM_REID_TRANSFORMS, (256, 128)
    stage = replace(stage, loss_terms=last.loss_terms)
    if method.sampler_is_method:
        stage = replace(stage, sampler=last.sampler)
    return Recipe(name="uniform", stages=(stage,), input_size=input_size, train_transforms=transforms,
                  loss_kwargs=dict(paper.loss_kwargs), test_features="single", amp=False)


def resolve_recipe(method, protocol, recipe_name="paper", *, epochs=None, batch_size=None, input_size=None):
    """The recipe a run uses: chosen by name, then the protocol's input size and budget, then
    the user's ``--epochs`` / ``--batch-size`` / ``--input-size``."""
    if recipe_name == "paper":
        recipe = method.paper_recipe(protocol)
    elif recipe_name == "uniform":
        recipe = uniform_recipe(method, protocol)
    else:
        raise UserError(f"unknown recipe {recipe_name!r}; expected one of {', '.join(RECIPES)}")
    if protocol.input_size:
        recipe = replace(recipe, input_size=tuple(protocol.input_size))
    if protocol.budget:
        recipe = recipe.with_budget(protocol.budget)
    if input_size:
        recipe = replace(recipe, input_size=tuple(input_size))
    if epochs is not None and epochs < 0:
        raise UserError(f"--epochs {epochs}: expected a whole number of at least 0")
    if input_size is not None and (len(input_size) != 2 or min(input_size) < 1):
        raise UserError(f"--input-size {' '.join(map(str, input_size))}: expected a height and a width of at "
                        "least 1 pixel each")
    if epochs == 0:  # evaluate the untrained model: a chance-level reference
        recipe = replace(recipe, stages=tuple(replace(stage, epochs=0) for stage in recipe.stages))
    elif epochs:
        recipe = recipe.with_epochs(epochs)
    if batch_size is not None:
        if batch_size < 1:
            raise UserError(f"--batch-size {batch_size}: expected a whole number of at least 1")
        for stage in recipe.stages:
            per_identity = stage.sampler.kwargs.get("num_instances")
            if per_identity and batch_size % per_identity:
                lower = max(per_identity, batch_size // per_identity * per_identity)
                raise UserError(
                    f"--batch-size {batch_size}: stage {stage.name!r} samples P x K batches of {per_identity} "
                    f"images per identity (sampler {stage.sampler.name!r}), so the batch size must be a multiple "
                    f"of {per_identity}, e.g. {lower} or {lower + per_identity}")
        recipe = replace(recipe, stages=tuple(replace(stage, batch_size=batch_size) for stage in recipe.stages))
    return recipe
