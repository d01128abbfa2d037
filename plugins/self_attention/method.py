"""The Self-attention Learning method: loss terms, paper recipes, variants and reported numbers.

Recipes (Sec. 4.1 and 4.5; decisions marked):

- re-id protocols (Market-1501's recipe for every protocol the paper does not cover): input 256x128,
  horizontal flip (decision, PAPERS.md), SGD with momentum 0.9 and weight decay 5e-4 (decision,
  PAPERS.md), two stages of 150 epochs each (decision, PAPERS.md), lr x0.1 every 50 epochs in each:
  stage 1 trains softmax + SAC at lr 0.1, batch 128 drawn at random; stage 2 trains every term the
  variant keeps (Eq. 6) at lr 1e-4, batch 72 = 18 identities x 4 images.
- ``cifar100`` (Sec. 4.5 only says the backbone is torchvision's ImageNet-pretrained ResNet and that the
  model trains with softmax, + DIL + SAC in the full row): one stage with softmax + SAC, the optimizer
  and schedule of the re-id softmax stage (SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128 at
  random, 150 epochs, lr x0.1 every 50; decision), CIFAR's native 32x32 images with the usual CIFAR
  augmentation, 4-pixel pad-and-crop and flip (decision). The network upsamples them 7x to 224x224
  (model keyword ``classification_upsample=7``, acting only on classification protocols; decision, see
  the plugin docstring): at 32x32 the stride-32 ResNet of Table 4's softmax rows ends on 1x1 maps.
  The harness's ``cifar100`` protocol fixes the recipe's input size at 32x32 for every method, so the
  upsampling sits in the network; records' ``input_size`` says 32x32 and their FLOPs are those at
  224x224. It applies under the ``uniform`` recipe too (it is part of the network built for CIFAR).
"""
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

STEP_SCHEDULE = LRSchedule(step_every=50, gamma=0.1)
STAGE_EPOCHS = 150


def sgd(lr):
    return OptimizerSpec(name="sgd", lr=lr, momentum=0.9, weight_decay=5e-4)


def softmax_stage():
    """Stage 1 (Sec. 4.1): softmax + self-attention constraint, lr 0.1, batch 128 random."""
    return Stage(epochs=STAGE_EPOCHS, batch_size=128, sampler=SamplerSpec("random"), optimizer=sgd(0.1),
                 schedule=STEP_SCHEDULE, loss_terms=("softmax", "sac"), name="softmax")


def joint_stage():
    """Stage 2 (Sec. 4.1): every term of the variant (Eq. 6), lr 1e-4, 18 identities x 4 images."""
    return Stage(epochs=STAGE_EPOCHS, batch_size=72, sampler=SamplerSpec("identity", {"num_instances": 4}),
                 optimizer=sgd(1e-4), schedule=STEP_SCHEDULE, loss_terms=None, name="joint")


def paper_recipe(protocol):
    """The paper's recipe on ``protocol`` (module docstring)."""
    if protocol.task == "classification":
        return Recipe(name="paper", stages=(softmax_stage(),), input_size=(32, 32),
                      train_transforms=(Augment("pad_crop", {"padding": 4}), Augment("random_flip")))
    return Recipe(name="paper", stages=(softmax_stage(), joint_stage()), input_size=(256, 128),
                  train_transforms=(Augment("random_flip"),))


LOSS_TERMS = (
    LossTerm("softmax", "cross_entropy", 1.0, {"output": "logits"}),
    LossTerm("quadruplet", "self_attention_quadruplet", 1.0,
             {"output": "embedding", "margin1": 0.5, "margin2": 0.2}),
    LossTerm("triplet", "triplet", 1.0, {"output": "embedding", "margin": 0.5}),
    LossTerm("sac", "self_attention_sac", 1.0),
)

PLAIN = {"dil": False, "multi": False}

VARIANTS = {
    "full": Variant("softmax + quadruplet-hard + DIL + SAC + multi-level (Table 1 setting 8)",
                    loss_terms=("softmax", "quadruplet", "sac")),
    "no_sac": Variant("full method without the self-attention constraint (Table 1 setting 5)",
                      loss_terms=("softmax", "quadruplet")),
    "no_dil": Variant("full method with strided instead of dilated stage4-6; SAC pools the larger maps "
                      "(Table 1 setting 4)",
                      model_kwargs={"dil": False}, loss_terms=("softmax", "quadruplet", "sac")),
    "no_multi": Variant("full method on the single-level stage5 feature (no stage6, so no SAC)",
                        model_kwargs={"multi": False}, loss_terms=("softmax", "quadruplet")),
    "softmax_dil_sac": Variant("softmax + DIL + SAC + multi-level, no metric loss (Table 1 setting 6)",
                               loss_terms=("softmax", "sac")),
    "full_triplet": Variant("full method with batch-hard triplet (margin 0.5) instead of quadruplet-hard",
                            loss_terms=("softmax", "triplet", "sac")),
    "resnet50_softmax": Variant("plain ResNet-50 (no DIL, single-level), softmax (Table 1 setting 1; "
                                "Table 4 'ResNet50 (Soft)')", model_kwargs=PLAIN, loss_terms=("softmax",)),
    "resnet50_softmax_quadruplet": Variant("plain ResNet-50, softmax + quadruplet-hard (Table 1 setting 3)",
                                           model_kwargs=PLAIN, loss_terms=("softmax", "quadruplet")),
    "resnet50_softmax_triplet": Variant("plain ResNet-50, softmax + batch-hard triplet (Table 1 setting 3(T))",
                                        model_kwargs=PLAIN, loss_terms=("softmax", "triplet")),
    "resnet101_softmax": Variant("plain ResNet-101, softmax (Table 4 'ResNet101 (Soft)')",
                                 model_kwargs={**PLAIN, "depth": 101}, loss_terms=("softmax",),
                                 backbone="resnet101"),
}

TABLE1_INFERRED = ("the seed text lost Table 1's check marks; switches inferred from Sec. 4.3, which "
                   "compares settings 1-3 and 3(T) as loss choices")

SETTING4_INFERRED = ("the seed text lost setting 4's label and check marks (its row, 72.7 / 85.6, sits between "
                     "3(T) and 5); Sec. 4.3 compares 'setting(6) and 4(8)' as 'changing the way of convolution', "
                     "so setting 4 is setting 8 (the full method) without DIL")

CIFAR_INPUT = "CIFAR's 32x32 upsampled 7x to 224x224 inside the network (the paper states no input size)"

REPORTED = (
    Reported("market1501", {"mAP": 81.6, "R1": 92.8}, "Table 2"),
    Reported("market1501", {"mAP": 91.2, "R1": 93.3}, "Table 2", reranked=True),
    Reported("dukemtmcreid", {"mAP": 65.4, "R1": 82.1}, "Table 3"),
    Reported("dukemtmcreid", {"mAP": 72.9, "R1": 85.1}, "Table 3", reranked=True),
    Reported("market1501", {"mAP": 78.4, "R1": 90.5}, "Table 1 setting 5", variant="no_sac"),
    Reported("market1501", {"mAP": 76.7, "R1": 88.2}, "Table 1 setting 6", variant="softmax_dil_sac"),
    Reported("market1501", {"mAP": 72.7, "R1": 85.6}, "Table 1 setting 4", variant="no_dil",
             note=SETTING4_INFERRED),
    Reported("market1501", {"mAP": 68.5, "R1": 83.7}, "Table 1 setting 1", variant="resnet50_softmax",
             note=TABLE1_INFERRED),
    Reported("market1501", {"mAP": 73.5, "R1": 87.3}, "Table 1 setting 3", variant="resnet50_softmax_quadruplet",
             note=TABLE1_INFERRED),
    Reported("market1501", {"mAP": 71.6, "R1": 84.3}, "Table 1 setting 3(T)", variant="resnet50_softmax_triplet",
             note=TABLE1_INFERRED),
    Reported("cifar100", {"top1_err": 22.02}, "Table 4", variant="resnet50_softmax",
             note="ImageNet-pretrained torchvision ResNet-50; " + CIFAR_INPUT),
    Reported("cifar100", {"top1_err": 21.75}, "Table 4",
             note="row 'ResNet50 (Soft+DIL+SAC)': the full model trained with softmax + SAC, the only terms "
                  "of the cifar100 recipe; multi-level assumed since SAC compares stage4-6; " + CIFAR_INPUT),
    Reported("cifar100", {"top1_err": 21.95}, "Table 4", variant="resnet101_softmax",
             note="ImageNet-pretrained torchvision ResNet-101; " + CIFAR_INPUT),
)

METHOD = MethodSpec(
    name="self_attention",
    model="self_attention",
    loss_terms=LOSS_TERMS,
    paper_recipe=paper_recipe,
    title="Self-attention Learning for Person Re-identification",
    citation="Minyue Jiang, Yuan Yuan, Qi Wang. Self-attention Learning for Person Re-identification. "
             "BMVC 2018.",
    url="https://pure.nwpu.edu.cn/en/publications/self-attention-learning-for-person-re-identification",
    backbone="resnet50",
    model_kwargs={"depth": 50, "dil": True, "multi": True, "stage6_dilation": 2, "classification_upsample": 7},
    variants=VARIANTS,
    reported=REPORTED,
)
