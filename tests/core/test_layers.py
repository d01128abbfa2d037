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


def _imports(path):
    """``[(module, level, line)]`` of every import statement in the file ``path``."""
    import ast

    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, node.lineno))
    return found


def _python_files(folder):
    for parent, _, names in os.walk(os.path.join(ROOT, folder)):
        yield from (os.path.join(parent, name) for name in sorted(names) if name.endswith(".py"))


def test_plugins_use_the_public_api_only_and_the_harness_no_plugin():
    """What import-linter cannot see (plugins/ is mapped onto reid_bench.plugins by setup.py, outside the
    package folder it reads): a plugin imports ``reid_bench`` itself and its own modules, never a harness
    sub-module or another plugin; the harness imports no plugin (it finds them through entry points)."""
    wrong = []
    for path in _python_files("plugins"):
        depth = os.path.relpath(path, os.path.join(ROOT, "plugins")).count(os.sep)  # 1: plugins/<name>/x.py
        for module, level, line in _imports(path):
            outside = level > depth or (level == 0 and module.startswith("reid_bench") and module != "reid_bench")
            if outside:
                wrong.append(f"{os.path.relpath(path, ROOT)}:{line} imports {'.' * level}{module}")
    for path in _python_files("harness"):
        for module, level, line in _imports(path):
            if module.startswith("reid_bench.plugins") or (level and module.split(".")[0] == "plugins"):
                wrong.append(f"{os.path.relpath(path, ROOT)}:{line} imports {'.' * level}{module}")
    assert not wrong, "\n".join(wrong)
