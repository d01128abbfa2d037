"""CCAN's method: loss terms (Eq. 4), paper recipe per protocol (Sec. 4.1), Table 6 variants,
reported numbers (Tables 2-6) and citation."""
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

GLOBAL_TERMS = ("ce_global", "triplet_global")
LOCAL_TERMS = ("ce_local", "triplet_local")

#: Eq. 4: L = CE_LSR^G + tri^G + CE_LSR^L + tri^L (eps = 0.1; tau = 1, 1.5 on CUHK03 via the recipe)
LOSS_TERMS = tuple(
    term
    for branch in ("global", "local")
    for term in (
        LossTerm(f"ce_{branch}", "cross_entropy", 1.0, {"output": f"logits_{branch}", "label_smooth": 0.1}),
        LossTerm(f"triplet_{branch}", "ccan_semi_hard_triplet", 1.0,
                 {"output": f"embedding_{branch}", "margin": 1.0, "negatives": 10}),
    )
)


def paper_recipe(protocol):
    """Sec. 4.1. CUHK03 (labeled and detected; the classic split too) gets lr 1e-3 and margin 1.5;
    every other protocol (MSMT17, synthetic and CIFAR-100 included) the Market-1501/Duke settings.

    The paper keeps the lr constant for 150 epochs and then multiplies it by 0.1 every 50 epochs; over
    its 200 epochs that is a single step, at epoch 150. Random erasing starts at epoch 50.
    Training images are resized to 288x144 and always randomly cropped to 256x128 (``resize_crop``,
    factor 1.125 of the input size, so a 64x32 protocol gets 72x36 -> 64x32), then flipped; test
    images are resized to 256x128 only.
    """
    cuhk03 = protocol.name.startswith("cuhk03")
    margin = 1.5 if cuhk03 else 1.0
    stage = Stage(
        epochs=200,
        batch_size=64,
        sampler=SamplerSpec("identity", {"num_instances": 4}),
        optimizer=OptimizerSpec("adam", lr=1e-3 if cuhk03 else 5e-4, weight_decay=1e-4, betas=(0.9, 0.99)),
        schedule=LRSchedule(milestones=(150,), gamma=0.1),
    )
    return Recipe(
        name="paper",
        stages=(stage,),
        input_size=(256, 128),
        train_transforms=(
            Augment("resize_crop", {"factor": 1.125}),  # 288x144 -> random 256x128, every image
            Augment("random_flip"),
            Augment("random_erase", {"probability": 0.5}, start_epoch=50),
        ),
        loss_kwargs={"triplet_global": {"margin": margin}, "triplet_local": {"margin": margin}},
    )


def _switches(global_branch, local_branch, self_attention, cross_attention):
    return dict(global_branch=global_branch, local_branch=local_branch, self_attention=self_attention,
                cross_attention=cross_attention)


VARIANTS = {
    "G": Variant("global branch only, no attention (Table 6, Id 1)",
                 _switches(True, False, False, False), loss_terms=GLOBAL_TERMS),
    "L": Variant("local branch only, no attention (Table 6, Id 2)",
                 _switches(False, True, False, False), loss_terms=LOCAL_TERMS),
    "G+L": Variant("global and local branches, no attention (Table 6, Id 3)",
                   _switches(True, True, False, False)),
    "G+SS": Variant("global branch with SSA after I_1^G (Table 6, Id 4)",
                    _switches(True, False, True, False), loss_terms=GLOBAL_TERMS),
    "G+L+CC": Variant("both branches, CCA in every part stream, no SSA (Table 6, Id 5)",
                      _switches(True, True, False, True)),
    "ccan": Variant("the full CCAN: both branches, SSA and the part CCAs (Table 6, Id 6)",
                    _switches(True, True, True, True)),
}

REPORTED = (
    Reported("market1501", {"mAP": 87.0, "R1": 94.6}, "Table 2; Table 6, Id 6"),
    Reported("dukemtmcreid", {"mAP": 76.8, "R1": 87.2}, "Table 3"),
    Reported("cuhk03-labeled", {"mAP": 72.9, "R1": 75.2}, "Table 4"),
    Reported("cuhk03-detected", {"mAP": 70.7, "R1": 73.0}, "Table 4"),
    Reported("msmt17", {"mAP": 53.6, "R1": 76.3, "R5": 86.9, "R10": 90.2}, "Table 5"),
    Reported("market1501", {"mAP": 81.7, "R1": 92.7}, "Table 6, Id 1", variant="G"),
    Reported("market1501", {"mAP": 79.5, "R1": 92.1}, "Table 6, Id 2", variant="L"),
    Reported("market1501", {"mAP": 83.6, "R1": 93.3}, "Table 6, Id 3", variant="G+L"),
    Reported("market1501", {"mAP": 83.3, "R1": 92.9}, "Table 6, Id 4", variant="G+SS"),
    Reported("market1501", {"mAP": 85.6, "R1": 94.3}, "Table 6, Id 5", variant="G+L+CC"),
)

METHOD = MethodSpec(
    name="ccan",
    model="ccan",
    loss_terms=LOSS_TERMS,
    paper_recipe=paper_recipe,
    title="Cross-Correlated Attention Networks for Person Re-Identification",
    citation=(
        "J. Zhou, S. K. Roy, P. Fang, M. Harandi, L. Petersson. Cross-Correlated Attention Networks for "
        "Person Re-Identification. Image and Vision Computing, 2020."
    ),
    url="https://arxiv.org/abs/2006.09597",
    backbone="googlenet",
    model_kwargs={"parts": 4, "embedding_dim": 1024},
    variants=VARIANTS,
    default_variant="ccan",
    reported=REPORTED,
)
