"""Issue 22 items 8 (remainder), 9 and 10: names that cannot escape the output folder or break a table,
built-in names that a third-party plugin cannot take over, plugins that fail half-way leave nothing
behind, files written whole with ordinary permissions, no run folder after a failed data check, and
the notices and errors around them."""
import importlib.metadata
import os
import stat
import sys
import textwrap

import pytest
import torch

from reid_bench.atomic import save_torch_atomic, write_text_atomic
from reid_bench.cli import main
from reid_bench.engine.checkpoint import save_checkpoint
from reid_bench.run_folder import CHECKPOINT_FILE as CHECKPOINT_NAME
from reid_bench.plugin_manager import ENTRY_POINT_GROUP, load_plugins
from reid_bench.run_folder import slug as _slug

THIRD_PARTY = os.path.join(os.path.dirname(os.path.dirname(__file__)), "third_party")


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """A folder on sys.path where a test writes plugin modules."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("rb_names_")]:
        del sys.modules[name]


def write_module(folder, name, body):
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def one_error_line(capsys, *expected):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# item 9: names

@pytest.mark.parametrize("name", ["..", ".", "../x", ".hidden", "a/../../b", ""])
def test_a_slug_never_leaves_or_hides_in_its_folder(name):
    slug = _slug(name)
    assert slug and not slug.startswith(".") and "/" not in slug and os.sep not in slug


METHOD_NAMED = """
    from reid_bench import LossTerm, MethodSpec, hookimpl
    from reid_bench_toy import recipe

    @hookimpl
    def reid_bench_register_methods(registry):
        registry.add({name!r}, MethodSpec({name!r}, model="toy_net", loss_terms=(LossTerm("softmax", "cross_entropy"),),
                                          paper_recipe=recipe, variants={variants}))
"""


@pytest.mark.parametrize("name, variants", [
    ("..", "{'full': None}"),
    ("ok_method", "{'..': None}"),
    ("two\\nlines", "{'full': None}"),
    ("a|b", "{'full': None}"),
])
def test_names_that_would_escape_a_folder_or_break_a_table_are_refused(module_dir, monkeypatch, name, variants):
    monkeypatch.syspath_prepend(THIRD_PARTY)
    write_module(module_dir, "rb_names_bad", METHOD_NAMED.format(name=name, variants=variants.replace(
        "None", "__import__('reid_bench').Variant('v')")))
    plugins = load_plugins(["rb_names_bad"])
    assert "rb_names_bad" not in plugins.plugins
    assert any(problem.plugin == "rb_names_bad" and "start with a letter or digit" in problem.message
               for problem in plugins.problems), plugins.problems


def test_a_third_party_plugin_cannot_take_over_a_builtin_name(module_dir, monkeypatch):
    """An entry point sorting before ``baseline`` and registering the method ``baseline`` (and a plugin
    itself named ``baseline``): the built-in keeps both names and the newcomer is refused whole."""
    write_module(module_dir, "rb_names_takeover", """
        import torch
        from reid_bench import LossTerm, MethodSpec, hookimpl

        @hookimpl
        def reid_bench_register_models(registry):
            registry.add("takeover_net", lambda num_classes, **kwargs: torch.nn.Linear(1, 1))

        @hookimpl
        def reid_bench_register_methods(registry):
            registry.add("baseline", MethodSpec("baseline", model="takeover_net",
                                                loss_terms=(LossTerm("softmax", "cross_entropy"),), paper_recipe=None))
    """)
    installed = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    intruders = [importlib.metadata.EntryPoint("aaa", "rb_names_takeover", ENTRY_POINT_GROUP),
                 importlib.metadata.EntryPoint("baseline", "rb_names_takeover", ENTRY_POINT_GROUP)]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: intruders + list(installed))

    plugins = load_plugins()

    assert plugins.methods.owner("baseline") == "baseline"
    assert plugins.sources["baseline"] == "entry point reid_bench.plugins.baseline"
    assert "aaa" not in plugins.plugins and "takeover_net" not in plugins.models  # nothing of it is left
    messages = " ".join(str(problem) for problem in plugins.problems)
    assert "'aaa'" in messages and "rb_names_takeover ignored" in messages


def test_a_plugin_whose_hook_fails_half_way_leaves_nothing_registered(module_dir):
    write_module(module_dir, "rb_names_half", """
        import torch
        from reid_bench import hookimpl

        @hookimpl
        def reid_bench_register_models(registry):
            registry.add("half_net_a", lambda num_classes, **kwargs: torch.nn.Linear(1, 1))
            registry.add("half_net_b", lambda num_classes, **kwargs: torch.nn.Linear(1, 1))

        @hookimpl
        def reid_bench_register_losses(registry):
            registry.add("half_loss", torch.nn.MSELoss)
            raise RuntimeError("broken half-way")
    """)
    plugins = load_plugins(["rb_names_half"])
    assert not {"half_net_a", "half_net_b"} & set(plugins.models.names())
    assert "half_loss" not in plugins.losses and "rb_names_half" not in plugins.plugins
    assert any("broken half-way" in problem.message for problem in plugins.problems)
    assert "baseline" in plugins.methods  # the others still load


# item 10: files

def test_files_are_written_with_ordinary_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        path = write_text_atomic(str(tmp_path / "page.md"), "text\n")
        weights = save_torch_atomic({"w": torch.ones(2)}, str(tmp_path / "model.pt"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644 and stat.S_IMODE(os.stat(weights).st_mode) == 0o644
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) and len(os.listdir(tmp_path)) == 2


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "model.pt")
    save_torch_atomic({"w": torch.ones(2)}, path)

    def write_half_then_fail(stream):
        stream.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    from reid_bench.atomic import write_atomic

    with pytest.raises(OSError):
        write_atomic(path, write_half_then_fail, binary=True)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["model.pt"]


def test_a_checkpoint_is_synced_under_a_name_of_its_own(tmp_path, monkeypatch):
    (tmp_path / f"{CHECKPOINT_NAME}.tmp").mkdir()  # what another run's fixed temporary name would collide with
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))

    save_checkpoint(str(tmp_path), {"next_epoch": 1})

    assert synced and torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True) == {"next_epoch": 1}


# item 10: run folders; item 8: unreadable folders

def test_a_failed_data_check_leaves_no_run_folder(tmp_path, capsys):
    (tmp_path / "data" / "market1501").mkdir(parents=True)
    code = main(["run", "--plugin", "baseline", "--dataset", "market1501", "--root", str(tmp_path / "data"),
                 "--output", str(tmp_path / "runs"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Market-1501 under ") and "Traceback" not in err
    assert os.listdir(tmp_path / "runs") == ["results"] and os.listdir(tmp_path / "runs" / "results") == []


def test_resume_without_a_checkpoint_says_it_starts_from_the_first_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(THIRD_PARTY)
    code = main(["run", "--plugin", "toy", "--plugin-module", "reid_bench_toy", "--dataset", "synthetic",
                 "--epochs", "1", "--max-iters", "1", "--no-pretrained", "--workers", "0", "--no-progress",
                 "--no-rerank", "--output", str(tmp_path / "runs"), "--resume"])
    assert code == 0
    assert "--resume: no checkpoint in " in capsys.readouterr().out


def test_an_os_error_anywhere_is_one_error_line(tmp_path, capsys, monkeypatch):
    import reid_bench.cli as cli

    def refuse(args, plugins):
        raise PermissionError(13, "Permission denied", "/somewhere/locked")

    monkeypatch.setitem(cli.COMMANDS, "list", refuse)
    assert main(["list"]) == 2
    one_error_line(capsys, "/somewhere/locked", "Permission denied")
