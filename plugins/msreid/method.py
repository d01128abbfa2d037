"""MSReID as a :class:`MethodSpec`: loss terms (Eq. 1-4), the paper's recipe (Sec. 4.2), the eight
ablation variants (Sec. 4.4, Fig. 5) and the numbers of Table 1."""
from reid_bench import (
    Augment,
    LossTerm,
    LRSchedule,
    MethodSpec,
    OptimizerSpec,
    Recipe,
    Reported,
    SamplerSpec,
    Stage,
    Variant,
)

FEATURE_DIM = 1536
LABEL_SMOOTH = 0.1
MARGIN = 0.3
CUHK03_MARGIN = 1.2
CENTER_WEIGHT = 5e-4
CENTER_OPTIMIZER = OptimizerSpec(name="sgd", lr=0.5, weight_decay=0.0, momentum=0.0)

BRANCHES = ("global", "local")


def branch_terms(branch):
    """Eq. 4 for one branch: label-smoothed CE on the BNNeck logits, batch-hard triplet (Eq. 1) and
    ``5e-4`` x center loss (Eq. 2) on the pre-BN feature."""
    embedding = f"{branch}_embedding"
    return (
        LossTerm(f"{branch}_ce", "cross_entropy", 1.0, {"output": f"{branch}_logits", "label_smooth": LABEL_SMOOTH}),
        LossTerm(f"{branch}_triplet", "triplet", 1.0, {"output": embedding, "margin": MARGIN}),
        LossTerm(f"{branch}_center", "msreid_center", CENTER_WEIGHT,
                 {"output": embedding, "feature_dim": FEATURE_DIM}, optimizer=CENTER_OPTIMIZER),
    )


LOSS_TERMS = tuple(term for branch in BRANCHES for term in branch_terms(branch))
GLOBAL_TERM_NAMES = tuple(term.name for term in branch_terms("global"))

#: variant name -> (soft attention, local feature, mask); "base" is the plain ResNet-50 + BNNeck
VARIANT_SWITCHES = {
    "ALM": (True, True, True),
    "AL": (True, True, False),
    "AM": (True, False, True),
    "LM": (False, True, True),
    "A": (True, False, False),
    "L": (False, True, False),
    "M": (False, False, True),
    "base": (False, False, False),
}


def make_variant(attention, local, mask):
    """A :class:`Variant` from the three switches; without L the local loss terms are dropped."""
    parts = [name for name, on in (("soft attention", attention), ("local feature", local), ("mask", mask)) if on]
    dim = FEATURE_DIM * (2 if local else 1)
    description = f"{' + '.join(parts) or 'no module'}; test feature {dim}-d"
    return Variant(
        description=description,
        model_kwargs={"attention": attention, "local": local, "mask": mask},
        loss_terms=None if local else GLOBAL_TERM_NAMES,
    )


def paper_recipe(protocol):
    """Sec. 4.2: P x K = 32 x 3, Adam lr 1.5e-3 with linear warm-up from 1.5e-4 over 10 epochs, x0.1 at
    epochs 60 and 120, 180 epochs; flip, pad 10 + random crop, random erasing; mixed precision. Triplet
    margin 1.2 on CUHK03 (decision: every ``cuhk03*`` protocol), 0.3 elsewhere; protocols the paper does
    not cover (MSMT17, CIFAR-100, synthetic) use the Market-1501 recipe."""
    stage = Stage(
        epochs=180,
        batch_size=96,
        sampler=SamplerSpec("identity", {"num_instances": 3}),
        optimizer=OptimizerSpec(name="adam", lr=1.5e-3, weight_decay=5e-4),
        schedule=LRSchedule(warmup_epochs=10, warmup_start=0.1, milestones=(60, 120)),
    )
    loss_kwargs = {}
    if protocol.name.startswith("cuhk03"):
        loss_kwargs = {f"{branch}_triplet": {"margin": CUHK03_MARGIN} for branch in BRANCHES}
    return Recipe(
        name="paper",
        stages=(stage,),
        input_size=(256, 128),
        train_transforms=(Augment("random_flip"), Augment("pad_crop", {"padding": 10, "reference_width": 128}), Augment("random_erase")),
        loss_kwargs=loss_kwargs,
        amp=True,
    )


TABLE_1 = "Table 1, mean of 8 runs"

METHOD = MethodSpec(
    name="msreid",
    model="msreid",
    loss_terms=LOSS_TERMS,
    paper_recipe=paper_recipe,
    title="Mask Separated Feature Learning for Person Re-Identification",
    citation="Jinbeom Kim and GyeongHwan Kim. Mask Separated Feature Learning for Person Re-Identification. "
    "Sogang University.",
    url="https://github.com/rubai1597/Mask-Separated-feature-learning-for-person-re-identification",
    backbone="resnet50",
    model_kwargs={"feature_dim": FEATURE_DIM},
    variants={name: make_variant(*switches) for name, switches in VARIANT_SWITCHES.items()},
    default_variant="ALM",
    reported=(
        Reported("market1501", {"R1": 95.8, "mAP": 88.8}, TABLE_1, note="best run: R1 96.0, mAP 89.6 (Sec. 4.3)"),
        Reported("dukemtmcreid", {"R1": 90.2, "mAP": 80.6}, TABLE_1, note="best run: R1 90.7 (Sec. 4.3)"),
        Reported("cuhk03-labeled", {"R1": 84.6, "mAP": 81.9}, TABLE_1),
        Reported("cuhk03-detected", {"R1": 82.7, "mAP": 79.5}, TABLE_1),
    ),
)
