"""Maps the repository layout onto the import names: harness/ is `reid_bench`, plugins/ is
`reid_bench.plugins`. Everything else about the distribution lives in pyproject.toml."""
from setuptools import find_packages, setup

PACKAGE_DIRS = {"reid_bench": "harness", "reid_bench.plugins": "plugins"}

packages = []
for package, folder in PACKAGE_DIRS.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder) if sub.split(".")[0] != "plugins"]

setup(packages=packages, package_dir=PACKAGE_DIRS)
