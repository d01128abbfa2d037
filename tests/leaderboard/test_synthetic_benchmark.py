"""The helpers of ``benchmarks/synthetic_leaderboard.py`` (its training runs are the engine's, tested there)."""
import importlib.util
import os
import types

from records_factory import make_record, write_json, write_records

from reid_bench import MethodSpec
from reid_bench.plugin_manager import PluginSet

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks", "synthetic_leaderboard.py")


def _load_script():
    spec = importlib.util.spec_from_file_location("synthetic_leaderboard", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_builtin_methods_are_those_of_the_shipped_plugins():
    script = _load_script()
    plugins = PluginSet()
    for plugin, module in (("baseline", "reid_bench.plugins.baseline"), ("ccan", "reid_bench.plugins.ccan"),
                           ("mine", "someone_else.reid_plugin")):
        plugins.plugins[plugin] = types.ModuleType(module)
        plugins.methods.current_plugin = plugin
        plugins.methods.add(plugin, MethodSpec(name=plugin, model=plugin, loss_terms=(), paper_recipe=None))
    assert script.builtin_methods(plugins) == ["baseline", "ccan"]


def test_new_records_replace_those_of_the_same_method_variant_epochs_and_seed(tmp_path):
    script = _load_script()
    kept = write_records(tmp_path / "committed", [
        make_record(method="ccan", seed=0),
        make_record(method="baseline", seed=2),
        make_record(method="baseline", seed=0, epochs=0, finished_at="2026-02-01T00:00:00+00:00"),  # untrained: own row
    ])
    replaced = write_records(tmp_path / "committed", [make_record(method="baseline", seed=0)])
    foreign = write_json(tmp_path / "committed" / "foreign.json", {"hello": 1})
    new = write_records(tmp_path / "engine", [
        make_record(method="baseline", seed=0, finished_at="2026-03-01T00:00:00+00:00"),
        make_record(method="baseline", seed=1, finished_at="2026-03-01T00:00:00+00:00"),
    ])

    script.store_records(new, str(tmp_path / "committed"))

    names = sorted(os.listdir(tmp_path / "committed"))
    expected = [os.path.basename(path) for path in kept + new + [foreign]]
    assert names == sorted(expected)
    assert not os.path.exists(replaced[0])


def test_the_board_runs_untrained_starts_first_then_trained_cells_and_ablations(tmp_path):
    script = _load_script()
    args = types.SimpleNamespace(jobs=1, epochs=None, seeds=[0, 1, 2], workdir=str(tmp_path))
    plan = script.sweeps(["baseline", "sharp_attention"], args)
    names = [os.path.basename(output) for output, _ in plan]
    assert names == ["untrained", "untrained-sharp_attention", "trained", "trained-sharp_attention",
                     "untrained-scratch", "scratch"]
    untrained, ablation = plan[0][1], plan[3][1]
    assert untrained[:untrained.index("--seeds")] == ["--plugins", "baseline", "sharp_attention"]
    assert "epochs=0" in untrained and ["0", "1", "2"] == untrained[untrained.index("--seeds") + 1:][:3]
    assert ablation[:6] == ["--plugins", "sharp_attention", "--variants", "baseline", "sab", "sab+cu"]
    assert "epochs=0" not in ablation
    assert [os.path.basename(output) for output, _ in script.sweeps(["ccan"], args)] == ["untrained", "trained"]
