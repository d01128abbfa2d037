"""Bad values on the command line: one ``error:`` line saying what was expected, exit 2, no traceback, and
before any training (issue 22, items 4, 7 and 8)."""
import json
import os

import pytest
import torch

from reid_bench.cli import main
from reid_bench.engine import Trainer

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")
TOY = ["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic", "--epochs", "1",
       "--max-iters", "1", "--no-pretrained", "--workers", "0", "--no-progress", "--no-rerank"]
BASELINE = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--epochs", "1", "--max-iters", "1",
            "--input-size", "64", "32", "--no-pretrained", "--workers", "0", "--no-progress", "--no-rerank"]
TOY_RUN_DIR = os.path.join("toy", "full", "synthetic", "paper", "seed0")


@pytest.fixture(autouse=True)
def toy_plugin(monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)


@pytest.fixture
def no_training(monkeypatch):
    """Any training step fails the test: validation must come first."""
    def step(self, batch):
        raise AssertionError("training started before the bad value was refused")

    monkeypatch.setattr(Trainer, "_step", step)


def one_error_line(capsys, *expected):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("extra, expected", [
    (["--epochs", "-1"], ["--epochs", "at least 0", "'-1'"]),
    (["--epochs", "two"], ["--epochs", "whole number"]),
    (["--batch-size", "0"], ["--batch-size", "at least 1", "'0'"]),
    (["--input-size", "0", "0"], ["--input-size", "at least 1"]),
    (["--workers", "-1"], ["--workers", "at least 0"]),
    (["--max-iters", "0"], ["--max-iters", "at least 1"]),
    (["--seeds", "-1"], ["--seeds", "at least 0"]),
])
def test_out_of_range_numbers_are_refused_when_parsing(tmp_path, capsys, no_training, extra, expected):
    with pytest.raises(SystemExit) as info:
        main(BASELINE + ["--output", str(tmp_path / "runs")] + extra)
    assert info.value.code == 2
    one_error_line(capsys, *expected)
    assert not (tmp_path / "runs").exists()


def test_eval_workers_and_batch_size_are_checked_too(tmp_path, capsys):
    for extra in (["--workers", "-1"], ["--eval-batch-size", "0"]):
        with pytest.raises(SystemExit) as info:
            main(["eval", "--checkpoint", str(tmp_path / "model.pt"), "--dataset", "synthetic", *extra])
        assert info.value.code == 2
        one_error_line(capsys, extra[0])


def test_batch_size_not_a_multiple_of_the_samplers_k(tmp_path, capsys, no_training):
    assert main(BASELINE + ["--output", str(tmp_path / "runs"), "--batch-size", "3"]) == 2
    one_error_line(capsys, "--batch-size 3", "multiple of 4", "e.g. 4 or 8")


def test_batch_size_larger_than_the_training_set(tmp_path, capsys, no_training):
    assert main(BASELINE + ["--output", str(tmp_path / "runs"), "--batch-size", "100000"]) == 2
    one_error_line(capsys, "batch size 100000", "identities")


def test_output_that_is_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    output = tmp_path / "runs"
    output.write_text("a file")
    assert main(TOY + ["--output", str(output)]) == 2
    one_error_line(capsys, f"--output {output}", "is a file", "expected a folder")
    inside = output / "sub"
    assert main(TOY + ["--output", str(inside)]) == 2
    one_error_line(capsys, f"--output {inside}")


def test_results_folder_that_is_a_file_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "results").write_text("a file")
    assert main(TOY + ["--output", str(tmp_path / "runs")]) == 2
    one_error_line(capsys, "results is a file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes in any folder")
def test_unwritable_output_is_refused_before_training(tmp_path, capsys, no_training):
    output = tmp_path / "runs"
    output.mkdir()
    output.chmod(0o500)
    try:
        assert main(TOY + ["--output", str(output)]) == 2
    finally:
        output.chmod(0o700)
    one_error_line(capsys, "cannot", "writable folder")


def test_unwritable_results_folder_is_refused_before_training(tmp_path, capsys, monkeypatch, no_training):
    """Simulated with a failing temporary file (the tests may run as root, who can write anywhere)."""
    import tempfile

    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):
        if dir and os.path.basename(dir) == "results":
            raise PermissionError(13, "Permission denied", dir)
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert main(TOY + ["--output", str(tmp_path / "runs")]) == 2
    one_error_line(capsys, "cannot write in", "Permission denied", "writable folder")


# -- --plugin-module before the command (item 7) ----------------------------------------------------------

def test_plugin_module_before_the_command_is_used(tmp_path, capsys):
    args = ["--plugin-module", "reid_bench_toy"] + [a for a in TOY if a not in ("--plugin-module", "reid_bench_toy")]
    assert main(args + ["--output", str(tmp_path / "runs")]) == 0
    assert os.path.isfile(tmp_path / "runs" / TOY_RUN_DIR / "model.pt")
    assert main(["--plugin-module", "reid_bench_toy", "list"]) == 0
    assert "method toy" in capsys.readouterr().out


def test_plugin_module_before_and_after_the_command_both_count(capsys):
    assert main(["--plugin-module", "reid_bench_toy", "list", "--plugin-module", "reid_bench_toy"]) == 0
    out = capsys.readouterr().out
    assert "method toy" in out and "already loaded" not in out


# -- --resume with another configuration (item 4) --------------------------------------------------------

@pytest.fixture
def interrupted_toy_run(tmp_path, monkeypatch):
    """A toy run of 2 epochs killed in its second epoch: its checkpoint says next epoch 1."""
    output = str(tmp_path / "runs")
    args = TOY[:TOY.index("--epochs")] + ["--epochs", "2"] + TOY[TOY.index("--epochs") + 2:] + ["--output", output]
    original_step, calls = Trainer._step, {"n": 0}

    def step_then_die(self, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original_step(self, batch)

    monkeypatch.setattr(Trainer, "_step", step_then_die)
    assert main(args) == 130
    monkeypatch.setattr(Trainer, "_step", original_step)
    return args, os.path.join(output, TOY_RUN_DIR)


def _with(args, option, *values):
    if option in args:
        i = args.index(option)
        count = 2 if option == "--input-size" else 1
        return args[:i] + [option, *values] + args[i + 1 + count:]
    return args + [option, *values]


@pytest.mark.parametrize("option, values, expected", [
    ("--epochs", ["3"], "epochs 2 there, 3 now (--epochs)"),
    ("--batch-size", ["4"], "batch size [32] there, [4] now (--batch-size)"),
    ("--input-size", ["16", "8"], "input size [64, 32] there, [16, 8] now (--input-size)"),
])
def test_resume_with_another_configuration_is_refused(interrupted_toy_run, capsys, no_training, option, values,
                                                      expected):
    args, run_dir = interrupted_toy_run
    with open(os.path.join(run_dir, "recipe.json")) as handle:
        before = handle.read()
    capsys.readouterr()
    assert main(_with(args, option, *values) + ["--resume"]) == 2
    one_error_line(capsys, "--resume:", run_dir, expected, "--overwrite")
    with open(os.path.join(run_dir, "recipe.json")) as handle:
        assert handle.read() == before  # the run folder still describes the interrupted run


@pytest.mark.parametrize("extra, expected", [
    (["--max-iters", "2"], "max iters 1 there, 2 now (--max-iters)"),
    (["--pretrained"], "pretrained False there, synthetic"),
])
def test_resume_with_other_training_settings_is_refused(interrupted_toy_run, capsys, no_training, extra, expected):
    args, run_dir = interrupted_toy_run
    args = [a for a in args if a != "--no-pretrained"] if extra == ["--pretrained"] else args
    capsys.readouterr()
    assert main(_with(args, *extra) + ["--resume"]) == 2
    one_error_line(capsys, "--resume:", expected, "--overwrite")


def test_resume_with_the_same_configuration_finishes(interrupted_toy_run, capsys):
    args, run_dir = interrupted_toy_run
    assert main(args + ["--resume"]) == 0


def test_resume_with_a_changed_recipe_file_names_the_differing_field(interrupted_toy_run, capsys, no_training):
    args, run_dir = interrupted_toy_run
    path = os.path.join(run_dir, "recipe.json")
    with open(path) as handle:
        recipe = json.load(handle)
    recipe["stages"][0]["optimizer"]["lr"] = 0.5
    with open(path, "w") as handle:
        json.dump(recipe, handle)
    capsys.readouterr()
    assert main(args + ["--resume"]) == 2
    one_error_line(capsys, "stages[0].optimizer.lr 0.5 there, 0.01 now")
    os.remove(path)
    assert main(args + ["--resume"]) == 2
    one_error_line(capsys, "recipe.json is missing or unreadable", "--overwrite")


# -- reid-bench eval with bad files (item 8) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_run_folder(tmp_path_factory):
    import sys

    sys.path.insert(0, THIRD_PARTY)
    try:
        output = str(tmp_path_factory.mktemp("eval") / "runs")
        assert main(TOY + ["--output", output]) == 0
    finally:
        sys.path.remove(THIRD_PARTY)
    return os.path.join(output, TOY_RUN_DIR)


def _eval(model_path):
    return main(["eval", "--plugin-module", "reid_bench_toy", "--checkpoint", str(model_path), "--dataset",
                 "synthetic", "--workers", "0"])


def test_eval_of_a_good_run_works(toy_run_folder, capsys):
    assert _eval(os.path.join(toy_run_folder, "model.pt")) == 0
    assert "mAP" in capsys.readouterr().out.split()  # a column of the metrics table


@pytest.mark.parametrize("content, expected", [
    (b"", "cannot read"),
    (b"garbage, not a torch file", "cannot read"),
    ("truncated", "cannot read"),
    ("not a dict", "not a model's state dict"),
    ("another model", "does not hold the weights of toy [full]"),
])
def test_eval_with_a_bad_model_file(toy_run_folder, tmp_path, capsys, content, expected):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(open(os.path.join(toy_run_folder, "run.json")).read())
    good = open(os.path.join(toy_run_folder, "model.pt"), "rb").read()
    model = folder / "model.pt"
    if content == "truncated":
        model.write_bytes(good[: len(good) // 2])
    elif content == "not a dict":
        torch.save([torch.zeros(1)], model)
    elif content == "another model":  # another method's weights: a torchvision ResNet-18's
        import torchvision

        torch.save(torchvision.models.resnet18(num_classes=5).state_dict(), model)
    else:
        model.write_bytes(content)
    assert _eval(model) == 2
    one_error_line(capsys, str(model), expected)


@pytest.mark.parametrize("content, expected", [
    ("{not json", "cannot read"),
    ("[1, 2]", "not a JSON object"),
    ('{"method": "toy"}', "missing or bad variant, protocol, recipe_name, num_classes, input_size"),
    ("num_classes -3", "missing or bad num_classes"),
    ("method nope", "unknown method 'nope'"),
])
def test_eval_with_a_bad_run_json(toy_run_folder, tmp_path, capsys, content, expected):
    folder = tmp_path / "run"
    folder.mkdir()
    info = json.load(open(os.path.join(toy_run_folder, "run.json")))
    if content == "num_classes -3":
        content = json.dumps({**info, "num_classes": -3})
    elif content == "method nope":
        content = json.dumps({**info, "method": "nope"})
    (folder / "run.json").write_text(content)
    (folder / "model.pt").write_bytes(open(os.path.join(toy_run_folder, "model.pt"), "rb").read())
    assert _eval(folder / "model.pt") == 2
    one_error_line(capsys, expected)


def test_a_run_folder_in_use_is_refused_naming_its_process(tmp_path, capsys, no_training):
    """Reliability issue, defect 3: two runs into one folder both trained there and one record overwrote
    the other; now the second says which process holds the folder, and the lock goes with its holder."""
    from reid_bench.run_folder import LOCK_FILE, run_folder_lock

    folder = tmp_path / TOY_RUN_DIR
    folder.mkdir(parents=True)
    with run_folder_lock(str(folder)):
        assert main(TOY + ["--output", str(tmp_path)]) == 2
        one_error_line(capsys, str(folder), f"in use by process {os.getpid()}")
    assert not (folder / LOCK_FILE).exists()


@pytest.mark.parametrize("extra, expected", [
    (["--set", "eval_batch_size=0"], ["eval_batch_size", "at least 1"]),
    (["--set", "evaluator=foo"], ["evaluator", "reid_bench, torchreid", "'foo'"]),
    (["--set", "input_size=[a,b]"], ["input_size", "[height, width]"]),
    (["--set", "input_size=[0,0]"], ["input_size", "[height, width]"]),
    (["--device", "foo"], ["device", "auto, cpu, cuda or cuda:N", "'foo'"]),
    (["--seeds", "99999999999999999999"], ["seeds", "4294967295"]),
    (["--set", "eval_every=0"], ["eval_every", "at least 1"]),
    (["--set", "recipe.stages.0.optimizer.name=foo"], ["optimizer.name", "adam, adamw, sgd", "'foo'"]),
    (["--set", "recipe.stages.0.optimizer.lr=-1"], ["optimizer.lr", "above 0"]),
    (["--set", "loss_terms.softmax.weight=.nan"], ["loss_terms.softmax.weight", "finite"]),
    (["--set", "recipe.input_size=[0,0]"], ["recipe.input_size", "[height, width]"]),
    (["--set", "recipe.norm_std=[0,0,0]"], ["recipe.norm_std", "non-zero"]),
])
def test_bad_values_stop_the_run_before_any_folder(tmp_path, capsys, no_training, extra, expected):
    """Reliability issue, defect 6: these failed after model.pt was written, or with a traceback."""
    assert main(BASELINE + ["--output", str(tmp_path / "runs")] + extra) == 2
    one_error_line(capsys, *expected)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra, expected", [
    (["--set", "recipe.stages.0.sampler.kwargs.num_instances=0"], ["num_instances", "at least 1", "got 0"]),
    (["--set", "recipe.stages.0.sampler.kwargs.foo=1"], ["sampler.kwargs", "'foo'", "takes num_instances"]),
    (["--set", "recipe.stages.0.sampler.name=foo"], ["unknown sampler 'foo'", "identity"]),
    (["--set", "recipe.stages.0.loss_terms.softmax.kwargs.output=nope"], ["stages.0.loss_terms", "softmax, triplet"]),
    (["--set", "loss_terms.softmax.kwargs.foo=1"], ["loss_terms.softmax.kwargs.foo", "label_smooth"]),
    (["--set", "recipe.loss_kwargs.softmax.foo=1"], ["loss_terms.softmax.kwargs", "'foo'", "label_smooth"]),
    (["--set", "recipe.train_transforms=[{name: foo}]"], ["unknown augmentation(s) ['foo']", "pad_crop"]),
])
def test_bad_components_stop_the_run_before_its_folder(tmp_path, capsys, no_training, extra, expected):
    """Reliability issue, defect 6: sampler and loss arguments are checked against their builders (and the
    sampler against the data) before the run folder is made; they failed at the first step with a traceback."""
    assert main(BASELINE + ["--output", str(tmp_path / "runs")] + extra) == 2
    one_error_line(capsys, *expected)
    assert not (tmp_path / "runs" / "baseline").exists()


def test_a_loss_reading_an_output_the_model_lacks_names_the_outputs(tmp_path, capsys):
    """Reliability issue, defect 6: ``loss_terms.softmax.kwargs.output=nope`` was a KeyError traceback."""
    assert main(BASELINE + ["--output", str(tmp_path), "--set", "loss_terms.softmax.kwargs.output=nope"]) == 2
    one_error_line(capsys, "model output 'nope'", "logits")


def test_every_shipped_method_variant_protocol_and_recipe_passes_the_component_checks():
    """The checks refuse only bad values: every stock recipe of every built-in method passes them."""
    from reid_bench.engine.trainer import check_components
    from reid_bench.experiment.config import stock_recipe
    from reid_bench.plugin_manager import load_plugins

    plugins = load_plugins()
    checked = 0
    for name in plugins.methods.names():
        method = plugins.methods.get(name)
        for variant in method.variants:
            for protocol in plugins.datasets.names():
                for recipe_name in ("paper", "uniform"):
                    options = {"plugin": plugins.methods.owner(name), "dataset": protocol, "variant": variant,
                               "recipe_name": recipe_name}
                    check_components(method, variant, stock_recipe(options, plugins)[3], plugins)
                    checked += 1
    assert checked >= 6 * 2 * 2


def test_a_run_config_made_in_python_is_checked_like_the_command_line(tmp_path):
    """The bounds of the command line and config files hold for a RunConfig built in Python too (one check,
    :func:`~reid_bench.experiment.config.check_run_config`; runs.py had its own copy for two of them)."""
    from reid_bench.errors import UserError
    from reid_bench.experiment.config import RunConfig
    from reid_bench.experiment.runs import run
    from reid_bench.plugin_manager import load_plugins

    plugins = load_plugins()
    for bad, expected in ((dict(workers=-1), "workers: expected at least 0"),
                          (dict(eval_batch_size=0), "eval_batch_size: expected at least 1"),
                          (dict(seed=-1), "seeds: expected a list of whole numbers")):
        with pytest.raises(UserError, match=expected):
            run(RunConfig("baseline", "synthetic", output=str(tmp_path), pretrained=False, **bad), plugins)
    assert not any(tmp_path.iterdir())
