"""The baseline method: label-smoothed softmax + batch-hard triplet, P x K sampling, BoT-style recipe."""
from reid_bench import (Augment, LossTerm, LRSchedule, MethodSpec, OptimizerSpec, Recipe, SamplerSpec, Stage,
                        Variant)

LOSS_TERMS = (
    LossTerm("softmax", "cross_entropy", 1.0, {"output": "logits", "label_smooth": 0.1}),
    LossTerm("triplet", "triplet", 1.0, {"output": "embedding", "margin": 0.3}),
)


def paper_recipe(protocol):
    """Adam 3.5e-4 with a 10-epoch warm-up, x0.1 at epochs 40 and 70, 120 epochs, 16 ids x 4, flip,
    pad + crop and random erasing (Luo et al. 2019). Classification: softmax only, random batches."""
    if protocol.task == "classification":
        stage = Stage(epochs=60, batch_size=128, sampler=SamplerSpec("random"),
                      optimizer=OptimizerSpec("sgd", lr=0.1, weight_decay=5e-4, momentum=0.9),
                      schedule=LRSchedule(milestones=(30, 45)), loss_terms=("softmax",))
        return Recipe("paper", (stage,), input_size=(32, 32),
                      train_transforms=(Augment("random_flip"), Augment("pad_crop", {"padding": 4})))
    stage = Stage(epochs=120, batch_size=64, sampler=SamplerSpec("identity", {"num_instances": 4}),
                  optimizer=OptimizerSpec("adam", lr=3.5e-4, weight_decay=5e-4),
                  schedule=LRSchedule(warmup_epochs=10, warmup_start=0.1, milestones=(40, 70)))
    return Recipe("paper", (stage,), input_size=(256, 128),
                  train_transforms=(Augment("random_flip"), Augment("pad_crop", {"padding": 10, "reference_width": 128}),
                                    Augment("random_erase")))


METHOD = MethodSpec(
    name="baseline",
    model="baseline",
    loss_terms=LOSS_TERMS,
    paper_recipe=paper_recipe,
    title="ResNet-50 + BNNeck, softmax + triplet (torchreid baseline)",
    citation="Luo et al., Bag of Tricks and a Strong Baseline for Deep Person Re-identification, CVPR-W 2019",
    url="https://arxiv.org/abs/1903.07071",
    backbone="resnet50",
    variants={
        "full": Variant("softmax (label smoothing 0.1) + batch-hard triplet (margin 0.3)"),
        "softmax": Variant("label-smoothed softmax only", loss_terms=("softmax",)),
    },
)
