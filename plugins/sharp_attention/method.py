"""The Sharp Attention Network method: loss terms, temperature schedule, recipes, variants, reported
numbers (Shen et al., Sec. III-B, IV-B, IV-C, Tables I-VI, Fig. 5)."""
import math

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

from .attention import SharpAttentionMask
from .model import ALL_BLOCKS
from .ten_crop import ten_crop_features

TITLE = "Sharp Attention Network via Adaptive Sampling for Person Re-identification"
CITATION = (
    "C. Shen, G.-J. Qi, R. Jiang, Z. Jin, H. Yong, Y. Chen and X.-S. Hua, \"Sharp Attention Network via "
    "Adaptive Sampling for Person Re-identification\", IEEE Transactions on Circuits and Systems for "
    "Video Technology 29(10):3016-3027, 2019. doi:10.1109/TCSVT.2018.2872503"
)
URL = "https://arxiv.org/abs/1805.02336"

FULL = "sab+cu+tv"
LITERAL = "sab+cu+tv-literal"
WITHOUT_TV = ("triplet", "cross_entropy")

#: Eq. 8: triplet loss (Hermans et al. batch-hard, margin 0.5, Sec. IV-B) + mu * sum_i TV(A_i): Eq. 6
#: averaged over A's entries with mu = :data:`TV_WEIGHT` (``tv``, the method's decision, see the plugin
#: docstring) or summed as written with the paper's mu = 0.1 (``tv_sum``, the ``sab+cu+tv-literal``
#: variant). Cross-entropy trains the classifier of the classification track only (the paper has none).
#: mu for the averaged TV: its gradient on the backbone about a tenth of the triplet's at the start, the
#: share the paper's mu = 0.1 gives two terms of equal size (measured by benchmarks/sharp_attention_tv.py:
#: with mu = 0.1 the averaged TV makes 0.56% of the triplet's gradient, the summed one 81x)
TV_WEIGHT = 2.0
LOSS_TERMS = (
    LossTerm("triplet", "triplet", 1.0, {"output": "embedding", "margin": 0.5}),
    LossTerm("tv", "sharp_attention_tv", TV_WEIGHT, {"prefix": "attention_aware/", "reduction": "mean"}),
    LossTerm("tv_sum", "sharp_attention_tv", 0.1, {"prefix": "attention_aware/", "reduction": "sum"}),
    LossTerm("cross_entropy", "cross_entropy", 1.0, {"output": "logits"}),
)
WITH_TV = ("triplet", "tv", "cross_entropy")

#: the length of the paper's schedule (Sec. IV-B), which Eq. 9's epoch counter refers to
PAPER_EPOCHS = 150


def temperature(epoch, initial=1.0, rate=0.008, final=0.5):
    """Eq. 9: ``tau = initial * exp(-rate * t)`` until it falls to ``final``, then ``final``."""
    return max(final, initial * math.exp(-rate * epoch))


def anneal_temperature(model, epoch, recipe):
    """``MethodSpec.on_epoch_start``: set Eq. 9's temperature for ``epoch`` on every sharp attention
    block (found through ``modules()``, so a wrapped model works too).

    Eq. 9's ``t`` counts epochs of the paper's 150-epoch schedule, so a recipe of another length runs
    it on the same fraction of training: ``t = epoch x 150 / recipe.epochs`` (the paper's own recipe
    unchanged). Counted in raw epochs, a 16-epoch budget would end at tau = 0.89, far from the
    sharp masks (tau = 0.5 from 58% of training on) that the paper trains with."""
    tau = temperature(epoch * PAPER_EPOCHS / max(recipe.epochs, 1))
    for module in model.modules():
        if isinstance(module, SharpAttentionMask):
            module.tau.fill_(tau)


def paper_recipe(protocol):
    """Sec. IV-B, one setting for every dataset (so also for protocols the paper does not cover).

    P x K = 64 x 4 (batch 256), Adam lr 2e-4, weight decay 5e-4, 150 epochs, lr constant to epoch 100
    then decayed exponentially to 0.001x at epoch 150 (Hermans et al.); random crop of area
    [0.64, 1.0] and aspect ratio (h/w) [2, 3] resized to 256x128, horizontal flip; 10-crop test
    features. Classification trains the classifier with cross-entropy on plain random batches
    (P x K batches only serve the triplet's hard mining) and is tested on the plain forward (the
    harness scores classification on eval-mode logits); everything else stays as for re-id.
    """
    classification = protocol.task == "classification"
    stage = Stage(
        epochs=150,
        batch_size=256,
        sampler=SamplerSpec("random") if classification else SamplerSpec("identity", {"num_instances": 4}),
        optimizer=OptimizerSpec("adam", lr=2e-4, weight_decay=5e-4),
        schedule=LRSchedule(exp_decay_start=100, exp_decay_end=150, exp_decay_final=1e-3),
        loss_terms=("cross_entropy" if classification else "triplet", "tv", "tv_sum"),
    )
    return Recipe(
        name="paper",
        stages=(stage,),
        input_size=(256, 128),
        train_transforms=(
            Augment("random_resized_crop", {"scale": (0.64, 1.0), "aspect": (2.0, 3.0)}),
            Augment("random_flip"),
        ),
        test_features="single" if classification else "ten_crop",
    )


def block_set_name(blocks):
    return "blocks=" + ",".join(str(index) for index in blocks)


#: Fig. 5: sharp attention on these stages, lazy masks (no context-aware unit), no TV penalty.
BLOCK_SETS = ((1,), (2,), (3,), (4,), (1, 2), (1, 2, 3), (1, 2, 3, 4))

VARIANTS = {
    "baseline": Variant(
        "ResNet-50 + 2048-1024-128 head, batch-hard triplet only (Table I row 1)",
        {"blocks": (), "context_unit": False},
        WITHOUT_TV,
    ),
    "sab": Variant(
        "all four stages as sharp attention blocks, masks sampled from the stage output (Table I row 2)",
        {"blocks": ALL_BLOCKS, "context_unit": False},
        WITHOUT_TV,
    ),
    "sab+cu": Variant(
        "sab + context-aware units on blocks 1-3 (Table I row 3)",
        {"blocks": ALL_BLOCKS, "context_unit": True},
        WITHOUT_TV,
    ),
    FULL: Variant(
        f"the full method: sab + context-aware units + TV penalty (Table I row 4); TV averaged over the "
        f"attention's entries with mu = {TV_WEIGHT}, context units upsampling by nearest neighbour",
        loss_terms=WITH_TV,
    ),
    LITERAL: Variant(
        "the full method with Eq. 6 summed as written and the context units' 1x1 stride-2 transposed "
        "convolution (Table I row 4, literal)",
        {"blocks": ALL_BLOCKS, "context_unit": True, "context_upsampling": "transposed"},
        ("triplet", "tv_sum", "cross_entropy"),
    ),
    **{
        block_set_name(blocks): Variant(
            f"sharp attention on stage(s) {', '.join(map(str, blocks))} only, no context-aware unit, "
            "no TV (Fig. 5)" + ("; the same model as sab" if blocks == ALL_BLOCKS else ""),
            {"blocks": blocks, "context_unit": False},
            WITHOUT_TV,
        )
        for blocks in BLOCK_SETS
    },
}

#: Table I: (R1, mAP) per variant and dataset.
TABLE_I = {
    "baseline": {"cuhk03-labeled": (85.1, 82.1), "cuhk03-detected": (82.1, 79.7),
                 "market1501": (84.0, 67.9), "dukemtmcreid": (75.3, 56.4)},
    "sab": {"cuhk03-labeled": (87.8, 85.0), "cuhk03-detected": (82.5, 80.3),
            "market1501": (84.3, 68.3), "dukemtmcreid": (75.9, 57.1)},
    "sab+cu": {"cuhk03-labeled": (88.0, 85.4), "cuhk03-detected": (83.9, 81.6),
               "market1501": (85.6, 69.6), "dukemtmcreid": (77.5, 58.4)},
    FULL: {"cuhk03-labeled": (88.3, 85.9), "cuhk03-detected": (84.3, 82.2),
           "market1501": (85.9, 70.1), "dukemtmcreid": (77.9, 58.8)},
}

#: Tables II, III, V: the full method's R5 and R10 (Table VI, Duke, gives R1 and mAP only).
FULL_METHOD_RANKS = {
    "cuhk03-labeled": ("Table II", 98.8, 99.4),
    "cuhk03-detected": ("Table III", 97.4, 98.4),
    "market1501": ("Table V", 94.9, 97.0),
    "dukemtmcreid": ("Table VI", None, None),
}

CLASSIC_SPLIT = {"cuhk03-labeled": "cuhk03-labeled-classic", "cuhk03-detected": "cuhk03-detected-classic"}
CLASSIC_NOTE = (
    "CUHK03 classic split (Li et al. 2014: 1,367 train/val ids, 100 test ids), one probe and one "
    "gallery image per test id, mean of 20 trials; not CUHK03-NP"
)


def _reported_on(dataset, metrics, source, variant):
    """One :class:`Reported` per protocol the numbers belong on: CUHK03 numbers go on the classic
    protocol and, marked as measured there, on the CUHK03-NP protocol of the same name."""
    if dataset not in CLASSIC_SPLIT:
        return [Reported(dataset, metrics, source, variant=variant)]
    classic = CLASSIC_SPLIT[dataset]
    return [
        Reported(dataset, metrics, source, variant=variant, measured_on=classic, note=CLASSIC_NOTE),
        Reported(classic, metrics, source, variant=variant, note=CLASSIC_NOTE),
    ]


def reported_numbers():
    entries = []
    for variant, rows in TABLE_I.items():
        for dataset, (rank1, mean_ap) in rows.items():
            metrics = {"R1": rank1, "mAP": mean_ap}
            source = "Table I"
            if variant == FULL:
                table, rank5, rank10 = FULL_METHOD_RANKS[dataset]
                source = f"Table I, {table}"
                if rank5 is not None:
                    metrics.update(R5=rank5, R10=rank10)
            entries += _reported_on(dataset, metrics, source, variant)
    # Fig. 5 gives block sets only as bars; Sec. IV-C states the four-block numbers: +2.7 R1 and +2.9
    # mAP over the baseline, i.e. Table I's "sab" row.
    entries += _reported_on("cuhk03-labeled", dict(zip(("R1", "mAP"), TABLE_I["sab"]["cuhk03-labeled"])),
                            "Fig. 5, Sec. IV-C", block_set_name(ALL_BLOCKS))
    return tuple(entries)


def sharp_attention_method():
    """The :class:`MethodSpec` registered as ``sharp_attention``."""
    return MethodSpec(
        name="sharp_attention",
        model="sharp_attention",
        loss_terms=LOSS_TERMS,
        paper_recipe=paper_recipe,
        title=TITLE,
        citation=CITATION,
        url=URL,
        backbone="resnet50",
        model_kwargs={"blocks": ALL_BLOCKS, "context_unit": True},
        variants=VARIANTS,
        default_variant=FULL,
        feature_extractors={"ten_crop": ten_crop_features},
        on_epoch_start=anneal_temperature,
        reported=reported_numbers(),
    )
