"""`reid-bench --help` starts without torch: the command line and what building its parser imports keep
torch, torchvision and torchreid out (they are imported inside the functions that need them)."""
import subprocess
import sys

HEAVY = ("torch", "torchvision", "torchreid")


def test_building_the_parser_imports_no_torch():
    code = ("import sys; from reid_bench.cli import build_parser; build_parser(); "
            f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_public_api_still_exports_the_torch_names():
    code = ("from reid_bench import CrossEntropyTerm, Pretrained, ReidModel, resnet; "
            "print(resnet.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "reid_bench.models.backbones"
