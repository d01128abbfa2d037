"""The command line: list, help, and one clear message (exit 2, no traceback) for user errors."""
import pytest

from reid_bench.cli import main


def test_list_shows_plugins_methods_variants_and_protocols(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "baseline  (entry point reid_bench.plugins.baseline)" in out
    assert "method baseline:" in out and "full (default)" in out
    assert "synthetic" in out and "120 train ids" in out


def test_help_names_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("list", "run", "config", "eval", "extract", "search", "export", "compare", "leaderboard", "visualize",
                    "new-plugin"):
        assert command in out


@pytest.mark.parametrize("args, expected", [
    (["run", "--plugin", "nope", "--dataset", "synthetic"], "unknown plugin 'nope'; available plugins: baseline"),
    (["run", "--plugin", "baseline", "--dataset", "nope"], "unknown dataset 'nope'; available datasets:"),
    (["run", "--plugin", "baseline", "--variant", "nope", "--dataset", "synthetic"],
     "available baseline variants: full, softmax"),
])
def test_unknown_names_list_the_available_ones(args, expected, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert err.startswith("error: ")


def test_missing_imagenet_weights_say_where_to_put_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    args = ["run", "--plugin", "baseline", "--dataset", "synthetic", "--pretrained-from", "imagenet", "--epochs", "1",
            "--output", str(tmp_path / "runs"), "--workers", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "ImageNet weights for resnet50 not found" in err
    assert "--no-pretrained" in err and str(tmp_path / "torch_home") in err


def test_eval_needs_a_run_folder(tmp_path, capsys):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a model")
    assert main(["eval", "--checkpoint", str(bogus), "--dataset", "synthetic"]) == 2
    assert "run.json" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["extract", "--checkpoint", "r", "--images", "i"],
    ["export", "--checkpoint", "r"],
    ["visualize", "ranks", "--checkpoint", "r", "--dataset", "synthetic"],
    ["visualize", "attention", "--checkpoint", "r", "--dataset", "synthetic"],
    ["visualize", "curves", "r"],
    ["leaderboard"],
])
def test_every_command_that_writes_files_takes_output_and_its_old_spelling_out(command, capsys):
    """``--output`` everywhere; ``--out``, what these commands took before, still works and --help lists it."""
    from reid_bench.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(command + ["--output", "x"]).output == "x"
    assert parser.parse_args(command + ["--out", "y"]).output == "y"
    with pytest.raises(SystemExit):
        parser.parse_args(command + ["--help"])
    assert "--output DIR, --out DIR" in capsys.readouterr().out.replace("FILE", "DIR")
