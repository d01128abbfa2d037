"""The declarative objects plugins register: methods, their recipes and variants, and protocols.

A :class:`MethodSpec` is everything the generic engine needs to train and evaluate a paper's method:
which registered model to build, which weighted loss terms read which of the model's named outputs,
the recipe (optimizer, schedule, sampler, augmentation, input size) per protocol, named variants,
test-time feature options, the numbers the paper reports and its citation.
"""
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: the CMC ranks a re-id record reports (``R1`` ...), the one list of them
CMC_RANKS = (1, 5, 10, 20)
REID_METRICS = ("mAP", "mINP", *(f"R{rank}" for rank in CMC_RANKS))
CLASSIFICATION_METRICS = ("top1_err", "top5_err")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name (``"adam"``, ``"adamw"`` or ``"sgd"``) and its hyper-parameters."""

    name: str = "adam"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple = (0.9, 0.999)


@dataclass(frozen=True)
class LRSchedule:
    """Learning-rate factor per epoch of a stage (epochs counted from 0 inside the stage).

    The factor is the product of up to three parts:

    - linear warm-up from ``warmup_start`` to 1 over ``warmup_epochs`` epochs;
    - step decay: ``gamma`` at each of ``milestones`` and/or every ``step_every`` epochs;
    - exponential decay (Hermans et al. 2017): constant until ``exp_decay_start``, then
      ``exp_decay_final ** ((epoch - start) / (end - start))``, reaching ``exp_decay_final`` at
      ``exp_decay_end``.
    """

    warmup_epochs: int = 0
    warmup_start: float = 1.0
    milestones: tuple = ()
    step_every: Optional[int] = None
    gamma: float = 0.1
    exp_decay_start: Optional[int] = None
    exp_decay_end: Optional[int] = None
    exp_decay_final: float = 1e-3

    def factor(self, epoch):
        factor = 1.0
        if self.warmup_epochs and epoch < self.warmup_epochs:
            factor *= self.warmup_start + (1.0 - self.warmup_start) * epoch / self.warmup_epochs
        steps = sum(1 for milestone in self.milestones if epoch >= milestone)
        if self.step_every:
            steps += epoch // self.step_every
        factor *= self.gamma**steps
        if self.exp_decay_start is not None and epoch >= self.exp_decay_start:
            span = max(1, self.exp_decay_end - self.exp_decay_start)
            progress = min(1.0, (epoch - self.exp_decay_start) / span)
            factor *= self.exp_decay_final**progress
        return factor

    def scaled(self, ratio):
        """The same schedule for a stage ``ratio`` times as long (short CPU runs keep its shape)."""

        def scale(epoch):
            return None if epoch is None else max(1, round(epoch * ratio))

        return replace(
            self,
            warmup_epochs=scale(self.warmup_epochs) if self.warmup_epochs else 0,
            milestones=tuple(scale(m) for m in self.milestones),
            step_every=scale(self.step_every),
            exp_decay_start=scale(self.exp_decay_start),
            exp_decay_end=scale(self.exp_decay_end),
        )


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler by name with its keyword arguments (e.g. ``num_instances=4``)."""

    name: str = "identity"
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One training stage: its length, batch composition, optimizer, schedule and active terms.

    ``loss_terms`` names the method's loss terms used in this stage (``None``: all of the variant's).
    Most recipes have one stage; Self-attention Learning trains in two.
    """

    epochs: int
    batch_size: int
    sampler: SamplerSpec = SamplerSpec("identity", {"num_instances": 4})
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: LRSchedule = LRSchedule()
    loss_terms: Optional[tuple] = None
    name: str = "train"

    def with_batch_size(self, batch_size):
        """The stage with batches of ``batch_size`` images, rounded down to whole identities when
        its sampler takes a ``num_instances`` argument (P x K)."""
        per_identity = self.sampler.kwargs.get("num_instances", 1)
        return replace(self, batch_size=max(per_identity, batch_size // per_identity * per_identity))


@dataclass(frozen=True)
class Budget:
    """A protocol's fixed training budget, imposed on every recipe run on it (the embedded
    ``synthetic`` protocol's CPU-sized one).

    The recipe keeps its optimizer and learning rate, loss terms, samplers and augmentations; its
    stages are scaled to ``epochs`` in total (:meth:`Recipe.with_epochs`), each stage's batches
    hold ``batch_size`` images (:meth:`Stage.with_batch_size`) and its learning rate follows
    ``schedule``, written for ``epochs`` and scaled to the stage's length. The paper's own schedule
    is not kept: compressed from 120 epochs to a dozen it would cut the learning rate after a few
    hundred iterations, before a network trained from scratch has learnt anything.
    """

    epochs: int
    batch_size: int
    schedule: LRSchedule


@dataclass(frozen=True)
class Augment:
    """A training augmentation by name and its parameters (``reid-bench list --components`` lists them;
    :mod:`reid_bench.data.transforms`).

    ``start_epoch`` switches it on from that epoch (CCAN applies random erasing from epoch 50).
    """

    name: str
    params: dict = field(default_factory=dict)
    start_epoch: int = 0


@dataclass(frozen=True)
class Recipe:
    """How a method is trained and tested on one protocol.

    ``loss_kwargs`` overrides the keyword arguments of named loss terms on this protocol (triplet
    margins that differ per dataset), ``loss_weights`` their weights (a config's ``loss_terms`` section,
    :mod:`reid_bench.experiment.config`). ``test_features`` names one of the method's feature extractors
    (``"single"`` is the plain forward). ``amp`` turns mixed precision on where the device supports it.
    """

    name: str
    stages: tuple
    input_size: tuple = (256, 128)
    train_transforms: tuple = (Augment("random_flip"),)
    loss_kwargs: dict = field(default_factory=dict)
    loss_weights: dict = field(default_factory=dict)
    test_features: str = "single"
    amp: bool = False
    norm_mean: tuple = IMAGENET_MEAN
    norm_std: tuple = IMAGENET_STD

    @property
    def epochs(self):
        return sum(stage.epochs for stage in self.stages)

    def stage_at(self, epoch):
        """``(stage_index, stage, epoch_within_stage)`` for a global 0-based epoch."""
        start = 0
        for index, stage in enumerate(self.stages):
            if epoch < start + stage.epochs:
                return index, stage, epoch - start
            start += stage.epochs
        raise ValueError(f"epoch {epoch} is past the recipe's {self.epochs} epochs")

    def with_epochs(self, epochs):
        """The same recipe cut or stretched to ``epochs`` in total: stages, their schedules and
        augmentation start epochs scaled in proportion (each stage keeps at least one epoch). Used
        for short runs (``--epochs``) and a protocol's :class:`Budget`."""
        total = self.epochs
        ratio = epochs / total
        scaled = [max(1, round(stage.epochs * ratio)) for stage in self.stages]
        while sum(scaled) > epochs and max(scaled) > 1:
            scaled[scaled.index(max(scaled))] -= 1
        stages = tuple(
            replace(stage, epochs=n, schedule=stage.schedule.scaled(n / stage.epochs))
            for stage, n in zip(self.stages, scaled)
        )
        transforms = tuple(replace(a, start_epoch=round(a.start_epoch * ratio)) for a in self.train_transforms)
        return replace(self, stages=stages, train_transforms=transforms)

    def with_budget(self, budget):
        """The recipe run under a protocol's :class:`Budget`."""
        recipe = self.with_epochs(budget.epochs)
        stages = tuple(
            replace(stage.with_batch_size(budget.batch_size),
                    schedule=budget.schedule.scaled(stage.epochs / budget.epochs))
            for stage in recipe.stages
        )
        return replace(recipe, stages=stages)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class LossTerm:
    """One weighted term of a method's objective.

    ``loss`` is a registered loss name, ``kwargs`` its constructor arguments (which model outputs it
    reads, margins ...). ``optimizer``, when given, optimizes the loss module's own parameters
    separately (center loss's centres), without the main schedule.
    """

    name: str
    loss: str
    weight: float = 1.0
    kwargs: dict = field(default_factory=dict)
    optimizer: Optional[OptimizerSpec] = None


@dataclass(frozen=True)
class Variant:
    """A named ablation switch set: model keyword arguments, the loss terms it keeps, their weights,
    and the backbone when the variant changes it (e.g. ResNet-101)."""

    description: str = ""
    model_kwargs: dict = field(default_factory=dict)
    loss_terms: Optional[tuple] = None
    loss_weights: dict = field(default_factory=dict)
    backbone: Optional[str] = None


@dataclass(frozen=True)
class Reported:
    """A number set reported by the paper.

    ``protocol`` is the harness protocol the numbers are shown on; ``measured_on`` names the protocol
    they were really measured on when it differs (e.g. CUHK03's classic 1,367/100 split);
    ``reranked`` marks re-ranked numbers.
    """

    protocol: str
    metrics: dict
    source: str
    variant: Optional[str] = None
    measured_on: Optional[str] = None
    reranked: bool = False
    note: str = ""


@dataclass
class MethodSpec:
    """A method: model, loss terms, recipes per protocol, variants, test-time options, reported numbers.

    ``paper_recipe(protocol)`` returns the paper's :class:`Recipe` for a :class:`ProtocolSpec`.
    ``feature_extractors`` maps names to ``fn(model, images) -> (B, D)`` used at test time
    (``"single"`` is always available). ``on_epoch_start(model, epoch, recipe)`` runs before every
    epoch (temperature annealing). ``sampler_is_method`` keeps the method's sampler under the
    uniform recipe, for methods whose loss needs a particular batch layout (pairs). ``backbone`` is the
    label records and leaderboards show (``"resnet50"``); without one the label is the registered model's
    name (:meth:`backbone_for`), never a guess.
    """

    name: str
    model: str
    loss_terms: tuple
    paper_recipe: Callable
    title: str = ""
    citation: str = ""
    url: str = ""
    backbone: Optional[str] = None
    model_kwargs: dict = field(default_factory=dict)
    variants: dict = field(default_factory=lambda: {"full": Variant("the paper's full method")})
    default_variant: str = "full"
    feature_extractors: dict = field(default_factory=dict)
    on_epoch_start: Optional[Callable] = None
    reported: tuple = ()
    sampler_is_method: bool = False

    def __post_init__(self):
        from .registry import check_name

        for variant in self.variants:
            check_name(f"{self.name} variant", variant)

    def variant(self, name=None):
        """The :class:`Variant` called ``name`` (default: the full method)."""
        from .errors import UnknownNameError

        name = name or self.default_variant
        if name not in self.variants:
            raise UnknownNameError(f"{self.name} variant", name, self.variants)
        return self.variants[name]

    def backbone_for(self, variant=None):
        """The backbone label of a variant's runs: the variant's, else the method's, else its model's name."""
        return self.variant(variant).backbone or self.backbone or self.model

    def model_kwargs_for(self, variant=None):
        return {**self.model_kwargs, **self.variant(variant).model_kwargs}

    def loss_terms_for(self, variant=None, recipe=None, stage=None):
        """The active :class:`LossTerm` objects for a variant, on a recipe and stage."""
        chosen = self.variant(variant)
        terms = [t for t in self.loss_terms if chosen.loss_terms is None or t.name in chosen.loss_terms]
        if stage is not None and stage.loss_terms is not None:
            terms = [t for t in terms if t.name in stage.loss_terms]
        result = []
        for term in terms:
            kwargs = {**term.kwargs, **((recipe.loss_kwargs if recipe else {}).get(term.name, {}))}
            weight = (recipe.loss_weights if recipe else {}).get(term.name,
                                                                 chosen.loss_weights.get(term.name, term.weight))
            result.append(replace(term, kwargs=kwargs, weight=weight))
        return result


@dataclass
class ReidSplits:
    """Train/query/gallery lists of ``(img_path, pid, camid, dsetid)`` (torchreid's format; train
    pids relabelled to ``0..n-1``).

    ``query_pool`` (multi-query protocols only, e.g. ``market1501-multi-query``): more images of the query
    identities in the same format; a query's feature is then the mean of the features of every pool image
    with its pid and camera (:func:`reid_bench.evaluation.evaluate.pool_query_features`)."""

    train: list
    query: list
    gallery: list
    query_pool: list = None

    @property
    def num_train_pids(self):
        return len({item[1] for item in self.train})


@dataclass
class ClassificationSplits:
    """Images as ``uint8`` arrays ``(N, H, W, 3)`` with integer labels."""

    train_images: object
    train_labels: list
    test_images: object
    test_labels: list
    class_names: list

    @property
    def num_classes(self):
        return len(self.class_names)


@dataclass
class ProtocolSpec:
    """A dataset and its evaluation protocol.

    ``load(root, allow_partial=False, trial=0)`` returns :class:`ReidSplits` or
    :class:`ClassificationSplits`; it never downloads and raises
    :class:`reid_bench.errors.DatasetLayoutError` naming ``layout`` when the folder is not as expected.
    ``root=None`` means the protocol's default location (only the embedded ``synthetic`` has one).
    ``trials`` > 1 averages metrics over that many splits (CUHK03 classic). ``input_size`` and
    ``budget``, when set, override every recipe on this protocol (small images; a CPU-sized
    :class:`Budget`). ``pretrained_default`` is whether runs start from pretrained weights unless told
    otherwise, and ``pretrained_source`` which ones: ``"imagenet"``, or ``"synthetic"`` (the harness's
    own synthetic pretraining, :mod:`reid_bench.models.pretraining`). ``trains_as`` names the protocol whose
    training split this one uses unchanged (``market1501-multi-query``: ``market1501``): a model trained on
    either is tested in domain on both (:attr:`training_split`, :func:`reid_bench.experiment.cross_domain.record_on`).
    """

    name: str
    task: str
    title: str
    split: str
    load: Callable
    layout: str = ""
    url: str = ""
    trials: int = 1
    input_size: Optional[tuple] = None
    budget: Optional[Budget] = None
    pretrained_default: bool = True
    pretrained_source: str = "imagenet"
    trains_as: Optional[str] = None

    @property
    def training_split(self):
        """The name of the protocol whose training split this one trains on (its own name or ``trains_as``)."""
        return self.trains_as or self.name

    @property
    def metrics(self):
        return REID_METRICS if self.task == "reid" else CLASSIFICATION_METRICS

    @property
    def overrides(self):
        """What this protocol imposes on every recipe, in words (``""`` when nothing)."""
        parts = []
        if self.budget:
            parts.append(f"{self.budget.epochs} epochs, batch {self.budget.batch_size}")
        if self.input_size:
            parts.append(f"input {self.input_size[0]}x{self.input_size[1]}")
        if self.pretrained_source != "imagenet":
            parts.append(f"{self.pretrained_source}-pretrained weights")
        return ", ".join(parts)
