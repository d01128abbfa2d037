"""Recipes, schedules and method resolution."""
import pytest

from reid_bench import Augment, Budget, LossTerm, LRSchedule, MethodSpec, OptimizerSpec, Recipe, SamplerSpec, Stage, Variant
from reid_bench.errors import UnknownNameError


def test_warmup_then_steps():
    schedule = LRSchedule(warmup_epochs=10, warmup_start=0.1, milestones=(60, 120))
    assert schedule.factor(0) == pytest.approx(0.1)
    assert schedule.factor(5) == pytest.approx(0.1 + 0.9 * 5 / 10)
    assert schedule.factor(10) == pytest.approx(1.0)
    assert schedule.factor(59) == pytest.approx(1.0)
    assert schedule.factor(60) == pytest.approx(0.1)
    assert schedule.factor(179) == pytest.approx(0.01)


def test_step_every_and_hermans_exponential_decay():
    assert LRSchedule(step_every=50).factor(149) == pytest.approx(0.01)
    hermans = LRSchedule(exp_decay_start=100, exp_decay_end=150, exp_decay_final=1e-3)
    assert hermans.factor(99) == 1.0
    assert hermans.factor(125) == pytest.approx(1e-3**0.5)
    assert hermans.factor(150) == pytest.approx(1e-3)


def two_stage_recipe():
    return Recipe("paper", (
        Stage(150, 128, SamplerSpec("random"), OptimizerSpec("sgd", lr=0.1), LRSchedule(step_every=50),
              loss_terms=("softmax",), name="one"),
        Stage(150, 72, SamplerSpec("identity", {"num_instances": 4}), OptimizerSpec("sgd", lr=1e-4), LRSchedule(step_every=50), name="two"),
    ), train_transforms=(Augment("random_flip"), Augment("random_erase", start_epoch=50)))


def test_stage_at_switches_at_the_boundary():
    recipe = two_stage_recipe()
    assert recipe.epochs == 300
    assert recipe.stage_at(149)[0] == 0 and recipe.stage_at(149)[2] == 149
    index, stage, local = recipe.stage_at(150)
    assert (index, stage.name, local) == (1, "two", 0)
    with pytest.raises(ValueError):
        recipe.stage_at(300)


def test_with_epochs_scales_stages_schedules_and_augmentations():
    short = two_stage_recipe().with_epochs(12)
    assert [s.epochs for s in short.stages] == [6, 6]
    assert short.stages[0].schedule.step_every == 2
    assert short.train_transforms[1].start_epoch == 2


def test_budget_replaces_length_batch_and_schedule_and_keeps_the_optimizer():
    budget = Budget(epochs=16, batch_size=30, schedule=LRSchedule(warmup_epochs=1, warmup_start=0.1, milestones=(14,)))
    short = two_stage_recipe().with_budget(budget)
    assert [s.epochs for s in short.stages] == [8, 8]
    # random batches take 30 images; P x K with K = 4 rounds down to 7 identities x 4 = 28
    assert [s.batch_size for s in short.stages] == [30, 28]
    assert [s.optimizer.lr for s in short.stages] == [0.1, 1e-4]
    # the budget's schedule, written for 16 epochs, scaled to each 8-epoch stage: warm-up 1, step at 7
    assert [short.stages[0].schedule.factor(e) for e in (0, 1, 6, 7)] == pytest.approx([0.1, 1.0, 1.0, 0.1])
    assert short.stages[1].schedule == short.stages[0].schedule
    assert short.train_transforms[1].start_epoch == round(50 * 16 / 300)


def test_stage_batch_size_never_drops_below_one_identity():
    stage = Stage(1, 64, SamplerSpec("identity", {"num_instances": 3}))
    assert stage.with_batch_size(32).batch_size == 30
    assert stage.with_batch_size(2).batch_size == 3


def test_variant_and_recipe_select_loss_terms():
    method = MethodSpec(
        name="m", model="net", paper_recipe=lambda protocol: None,
        loss_terms=(LossTerm("softmax", "cross_entropy"), LossTerm("triplet", "triplet", 1.0, {"margin": 0.3})),
        variants={"full": Variant(), "no_triplet": Variant(loss_terms=("softmax",)),
                  "heavy": Variant(loss_weights={"triplet": 2.0})},
    )
    recipe = Recipe("paper", (Stage(1, 8),), loss_kwargs={"triplet": {"margin": 1.2}})
    terms = {t.name: t for t in method.loss_terms_for("full", recipe)}
    assert terms["triplet"].kwargs == {"margin": 1.2}
    assert [t.name for t in method.loss_terms_for("no_triplet")] == ["softmax"]
    assert {t.name: t.weight for t in method.loss_terms_for("heavy")}["triplet"] == 2.0
    stage = Stage(1, 8, loss_terms=("triplet",))
    assert [t.name for t in method.loss_terms_for("full", recipe, stage)] == ["triplet"]
    with pytest.raises(UnknownNameError, match="available m variants: full, heavy, no_triplet"):
        method.variant("nope")


def test_protocol_overrides_in_words():
    from reid_bench import ProtocolSpec

    budget = Budget(epochs=16, batch_size=32, schedule=LRSchedule())
    spec = ProtocolSpec("p", "reid", "P", "split", load=None, input_size=(64, 32), budget=budget)
    assert spec.overrides == "16 epochs, batch 32, input 64x32"
    assert ProtocolSpec("q", "reid", "Q", "split", load=None).overrides == ""
