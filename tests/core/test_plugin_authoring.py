"""Writing a third-party plugin: ``reid-bench new-plugin``, ``reid-bench list --components``, ``--plugin-module``
from the current folder, the plugin's distribution in records and run folders, the backbone label, and the
author's guide (docs/plugin-authors.md), whose tested commands run here as written."""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

import reid_bench
from reid_bench.cli import main
from reid_bench.components import catalogue
from reid_bench.errors import UserError
from reid_bench.plugin_manager import load_plugins
from reid_bench.scaffold import write_plugin

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THIRD_PARTY = os.path.join(REPO, "tests", "third_party")
GUIDE = os.path.join(REPO, "docs", "plugin-authors.md")


@pytest.fixture
def isolated_imports():
    """sys.path without the current folder (as under the ``reid-bench`` script; a test adds what it needs),
    and sys.path and the plugin modules a test imports forgotten afterwards."""
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    yield
    sys.path[:] = saved
    for name in [name for name in sys.modules if name.startswith(("reid_bench_myplug", "reid_bench_toy"))]:
        del sys.modules[name]


def fake_install(site, distribution, version, entry_points):
    """What ``pip install`` leaves for reid-bench to find: a ``.dist-info`` with the metadata and the
    entry points (``{name: module}``) in ``site``."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[reid_bench]\n{lines}")


def test_new_plugin_writes_a_package_and_refuses_an_existing_folder_and_a_bad_name(tmp_path, capsys):
    assert main(["new-plugin", "myplug", "--output", str(tmp_path)]) == 0
    folder = tmp_path / "reid-bench-myplug"
    assert str(folder) in capsys.readouterr().out
    written = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert written == ["README.md", "pyproject.toml", "reid_bench_myplug/__init__.py", "reid_bench_myplug/method.py",
                       "reid_bench_myplug/model.py", "tests/test_myplug.py"]
    pyproject = (folder / "pyproject.toml").read_text()
    assert '[project.entry-points.reid_bench]\nmyplug = "reid_bench_myplug"' in pyproject
    assert 'name = "reid-bench-myplug"' in pyproject
    assert all(field in (folder / "README.md").read_text() for field in ("Title:", "Authors:", "BibTeX:"))
    for module in folder.rglob("*.py"):  # the public API only, as plugins/ (tests/core/test_layers.py)
        imports = re.findall(r"^\s*(?:from|import) (reid_bench[\w.]*)", module.read_text(), re.M)
        assert set(imports) <= {"reid_bench", "reid_bench_myplug", "reid_bench_myplug.method",
                                "reid_bench_myplug.model"}, (module, imports)
        compile(module.read_text(), str(module), "exec")

    assert main(["new-plugin", "myplug", "--output", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    for bad in ("my-plug", "2plug", "class", "_plug", "baseline"):
        assert main(["new-plugin", bad, "--output", str(tmp_path / "other")]) == 2, bad
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1, error
    assert not (tmp_path / "other").exists()


def test_plugin_module_is_imported_from_the_current_folder(tmp_path, monkeypatch, isolated_imports):
    folder = write_plugin("myplug", str(tmp_path))
    monkeypatch.chdir(folder)
    plugins = load_plugins(["reid_bench_myplug"])
    assert not plugins.problems
    assert plugins.methods.owner("myplug") == "reid_bench_myplug" and "myplug" in plugins.models
    assert plugins.distributions["reid_bench_myplug"] is None  # imported from a folder, installed by no package


def test_list_components_names_every_component_with_its_arguments_and_plugin(capsys):
    assert main(["list", "--components"]) == 0
    out = capsys.readouterr().out
    for heading in ("Models", "Loss terms", "Samplers", "Augmentations", "Optimizers", "Learning-rate schedule",
                    "Protocols", "Spec objects"):
        assert f"\n{heading}\n" in f"\n{out}", heading
    core = f"[plugin reid_bench: reid-bench {reid_bench.__version__}]"
    for name, arguments in (("cross_entropy", "output='logits', label_smooth=0.0"),
                            ("triplet", "output='embedding', margin=0.3"), ("identity", "num_instances=4"),
                            ("pad_crop", "padding=10, reference_width=None"), ("random_erase", "probability=0.5"),
                            ("resize_crop", "factor=1.125"), ("sgd", "lr=0.00035, weight_decay=0.0005, momentum=0.9, nesterov=False")):
        assert re.search(rf"^  {name}  {re.escape(core)}\n      arguments: {re.escape(arguments)}$", out, re.M), name
    assert re.search(r"^  baseline  \[plugin baseline: reid-bench .*\]\n      arguments: last_stride=1$", out, re.M)
    assert "warmup_epochs=0, warmup_start=1.0, milestones=()" in out

    components = catalogue(load_plugins())
    augmentations = {c.name for c in components if c.kind == "augmentation"}
    assert augmentations == {"random_flip", "random_crop", "resize_crop", "pad_crop", "random_resized_crop",
                             "color_jitter", "random_erase"}
    owners = {(c.kind, c.name): c.owner for c in components}
    assert owners[("loss", "ccan_semi_hard_triplet")] == "ccan" and owners[("sampler", "random")] == "reid_bench"

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "registers models ccan; losses ccan_semi_hard_triplet" in listing and "list --components" in listing


def test_an_unknown_augmentation_parameter_names_the_known_ones():
    from reid_bench import Augment, Recipe, Stage
    from reid_bench.data.transforms import build_train_transform

    recipe = Recipe("test", (Stage(1, 8),), input_size=(64, 32), train_transforms=(Augment("pad_crop", {"pading": 4}),))
    with pytest.raises(UserError, match="no parameter pading; its parameters: padding, reference_width"):
        build_train_transform(recipe, (64, 32))


def test_record_and_run_folder_name_the_plugin_distribution_and_a_missing_one_says_what_to_install(
        tmp_path, capsys, short_run, isolated_imports):
    site = tmp_path / "site"
    fake_install(site, "reid-bench-toy", "0.3.1", {"toy": "reid_bench_toy"})
    sys.path[:0] = [str(site), THIRD_PARTY]
    record = short_run("toy")
    assert record["plugin"] == "toy"
    assert record["plugin_distribution"] == {"name": "reid-bench-toy", "version": "0.3.1"}
    assert record["backbone"] == "toy_net"  # the toy method names no backbone: its model's name, no default
    with open(os.path.join(record["run_dir"], "run.json")) as handle:
        assert json.load(handle)["plugin_distribution"] == record["plugin_distribution"]

    # installed and also given with --plugin-module: loaded once, one plain problem line
    plugins = load_plugins(["reid_bench_toy"])
    assert [str(p) for p in plugins.problems] == [
        "plugin 'reid_bench_toy' skipped at import: the module is already loaded as plugin 'toy' (from entry point "
        "reid_bench_toy); --plugin-module reid_bench_toy ignored"]
    assert plugins.methods.owner("toy") == "toy"
    built_in = plugins.distributions["baseline"]
    assert built_in == plugins.distributions["reid_bench"] == {"name": "reid-bench", "version": reid_bench.__version__}

    sys.path[:] = [p for p in sys.path if p not in (str(site), THIRD_PARTY)]  # uninstalled
    assert main(["eval", "--checkpoint", os.path.join(record["run_dir"], "model.pt"), "--dataset", "synthetic"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: method 'toy' is not registered: it comes from plugin 'toy' of the distribution "
                            "reid-bench-toy 0.3.1") and "pip install 'reid-bench-toy==0.3.1'" in error, error
    with pytest.raises(UserError, match="unknown method 'toy'"):  # no distribution recorded: the plain message
        load_plugins().method_of_run({"method": "toy", "plugin": "reid_bench_toy", "plugin_distribution": None})


def guide_commands():
    """The commands of the guide's block marked as tested, one per line."""
    with open(GUIDE, encoding="utf-8") as handle:
        text = handle.read()
    blocks = re.findall(r"<!-- tested: [^\n]*-->\n```bash\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "the guide has one block of tested commands"
    return [line for line in blocks[0].splitlines() if line.strip()]


def test_the_guides_commands_run_as_written(tmp_path, reid_bench_cache):
    """``reid-bench new-plugin``, installing the package, its own tests, ``list``, ``list --components`` and a
    two-iteration run, in a fresh folder. ``pip install -e FOLDER`` is stood in for by what it leaves behind
    (the package importable, the .dist-info with the pyproject's name, version and entry point), read from the
    generated pyproject, so the test installs nothing into this environment; its ``test`` extra, pytest, is
    installed already."""
    tomllib = pytest.importorskip("tomllib")
    site = tmp_path / "site"
    path = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
           "REID_BENCH_CACHE": str(reid_bench_cache), "PYTHONPATH": os.pathsep.join(path)}
    outputs = []
    for line in guide_commands():
        words = shlex.split(line)
        if words[:3] == ["pip", "install", "-e"]:
            folder = tmp_path / re.sub(r"\[\w+\]$", "", words[3])  # extras: pytest is here already
            with open(folder / "pyproject.toml", "rb") as handle:
                project = tomllib.load(handle)["project"]
            fake_install(site, project["name"], project["version"], project["entry-points"]["reid_bench"])
            env["PYTHONPATH"] = os.pathsep.join([str(site), str(folder), *path])
            continue
        done = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    assert "myplug  (entry point reid_bench_myplug)  reid-bench-myplug 0.1.0" in "".join(outputs)
    [path] = glob.glob(str(tmp_path / "dev" / "runs" / "results" / "*.json"))
    with open(path) as handle:
        record = json.load(handle)
    assert record["plugin"] == "myplug" and record["backbone"] == "resnet18"
    assert record["plugin_distribution"] == {"name": "reid-bench-myplug", "version": "0.1.0"}
