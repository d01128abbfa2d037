"""The package's shape (README, Layout): import-linter's contracts in pyproject.toml hold (the `test` extra
installs import-linter)."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_import_goes_down_a_layer_and_nothing_imports_the_command_line():
    beside_python = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    tool = beside_python if os.path.exists(beside_python) else shutil.which("lint-imports")
    assert tool, "lint-imports not found: install the test extra (pip install -e '.[test]')"
    done = subprocess.run([tool, "--config", os.path.join(ROOT, "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
