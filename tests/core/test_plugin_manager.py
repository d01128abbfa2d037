"""Plugin discovery: entry points, --plugin-module, duplicates, broken plugins, third-party packages."""
import os
import sys
import textwrap

import pytest

from reid_bench.cli import main
from reid_bench.errors import DuplicateRegistrationError, UnknownNameError
from reid_bench.plugin_manager import load_plugins
from reid_bench.registry import Registry

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A folder on sys.path where a test writes plugin modules."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("rb_test_")]:
        del sys.modules[name]


def write_module(folder, name, body):
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_registry_names_both_plugins_on_duplicate():
    registry = Registry("model")
    registry.current_plugin = "first"
    registry.add("net", object())
    registry.current_plugin = "second"
    with pytest.raises(DuplicateRegistrationError) as info:
        registry.add("net", object())
    assert "'first'" in str(info.value) and "'second'" in str(info.value)


def test_unknown_name_lists_available():
    registry = Registry("sampler")
    registry.add("a", 1)
    registry.add("b", 2)
    with pytest.raises(UnknownNameError, match="available samplers: a, b"):
        registry.get("c")


def test_builtin_plugins_load_through_entry_points():
    plugins = load_plugins()
    assert "baseline" in plugins.plugins
    assert plugins.sources["baseline"].startswith("entry point reid_bench.plugins.baseline")
    assert plugins.methods.owner("baseline") == "baseline"
    assert "synthetic" in plugins.datasets
    assert {"cross_entropy", "triplet"} <= set(plugins.losses.names())


def test_duplicate_model_is_reported_with_both_plugins(module_dir):
    write_module(module_dir, "rb_test_dup", """
        from reid_bench import hookimpl

        @hookimpl
        def reid_bench_register_models(registry):
            registry.add("baseline", object())
    """)
    plugins = load_plugins(["rb_test_dup"])
    messages = [str(p) for p in plugins.problems if p.plugin == "rb_test_dup"]
    assert len(messages) == 1
    assert "'baseline'" in messages[0] and "'rb_test_dup'" in messages[0] and "twice" in messages[0]
    assert plugins.models.owner("baseline") == "baseline"  # the first registration stands


def test_broken_plugin_is_reported_and_others_still_load(module_dir):
    write_module(module_dir, "rb_test_broken", "raise ImportError('missing dependency foo')\n")
    plugins = load_plugins(["rb_test_broken"])
    problem = next(p for p in plugins.problems if p.plugin == "rb_test_broken")
    assert problem.stage == "import" and "missing dependency foo" in problem.message
    assert "baseline" in plugins.methods


def test_plugin_whose_hook_raises_is_reported(module_dir):
    write_module(module_dir, "rb_test_hook_fails", """
        from reid_bench import hookimpl

        @hookimpl
        def reid_bench_register_methods(registry):
            raise RuntimeError("bad spec")
    """)
    plugins = load_plugins(["rb_test_hook_fails"])
    problem = next(p for p in plugins.problems if p.plugin == "rb_test_hook_fails")
    assert problem.stage == "reid_bench_register_methods" and "bad spec" in problem.message
    assert "baseline" in plugins.methods


def test_third_party_plugin_by_module_trains_from_the_cli(monkeypatch, short_run):
    monkeypatch.syspath_prepend(THIRD_PARTY)
    record = short_run("toy", "--plugin-module", "reid_bench_toy")
    assert record["plugin"] == "reid_bench_toy" and record["method"] == "toy"
    assert record["train"]["iterations"] == 2


def test_installed_third_party_package_is_discovered(tmp_path, monkeypatch, capsys):
    """An installed distribution is found through its entry point in the ``reid_bench`` group, exactly as
    ``pip install reid-bench-toy`` would leave it (package folder plus ``.dist-info`` metadata)."""
    site = tmp_path / "site"
    dist_info = site / "reid_bench_toy-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: reid-bench-toy\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text("[reid_bench]\ntoy = reid_bench_toy\n")
    os.symlink(os.path.join(THIRD_PARTY, "reid_bench_toy"), site / "reid_bench_toy")
    monkeypatch.syspath_prepend(str(site))
    plugins = load_plugins()
    assert plugins.sources["toy"] == "entry point reid_bench_toy"
    assert {"toy_net"} <= set(plugins.models.names()) and "toy_pairs" in plugins.samplers
    assert main(["list"]) == 0
    assert "toy  (entry point reid_bench_toy)" in capsys.readouterr().out
