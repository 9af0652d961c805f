"""The wheel a user installs: built from a copy of this tree (so no build/ or *.egg-info is left in
the repository), installed with pip into an empty folder, it holds exactly one top-level name,
`smallrag`, with every module, the shipped models, and a version that matches pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAME = CONFIG["project"]["name"]
VERSION = CONFIG["project"]["version"]
# top-level entries the build does not need: copying them would only cost time (the venv alone is
# gigabytes), and a stale build/ or *.egg-info could leak into the wheel
NOT_COPIED = {".git", ".venv", ".cache", ".pytest_cache", "build", "dist", "tests", "benchmarks", "data", "docs", "out"}


def _not_copied(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (top and n in NOT_COPIED)}


def _pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)
    assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])


def _source_folder(package: str) -> Path:
    """The repository folder a package is built from, by pyproject.toml's package-dir."""
    mapping = CONFIG["tool"]["setuptools"]["package-dir"]
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in mapping:
            return ROOT.joinpath(mapping[prefix], *parts[cut:])
    return ROOT.joinpath(*parts)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """An empty folder with only the wheel installed in it (no dependencies)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_not_copied)
    # the build isolation would download setuptools: use the venv's, as `make setup` installed it
    _pip("wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(work / "dist"), str(source), cwd=work)
    (wheel,) = (work / "dist").glob("*.whl")
    assert wheel.name.startswith(f"{NAME}-{VERSION}-"), wheel.name
    target = work / "site"
    _pip("install", "--no-deps", "--no-compile", "--quiet", "--target", str(target), str(wheel), cwd=work)
    return target


def test_only_smallrag_lands_at_the_top_level(site):
    entries = {p.name for p in site.iterdir()} - {"bin"}  # pip puts the console script in bin/
    assert entries == {NAME, f"{NAME}-{VERSION}.dist-info"}, sorted(entries)
    assert not (ROOT / "build").exists()  # the build ran on a copy
    scripts = [p.name for p in (site / "bin").iterdir()] if (site / "bin").is_dir() else []
    assert scripts == [NAME], scripts


def test_every_module_of_every_package_is_in_the_wheel(site):
    for package in CONFIG["tool"]["setuptools"]["packages"]:
        installed = site.joinpath(*package.split("."))
        expected = sorted(p.name for p in _source_folder(package).glob("*.py"))
        assert "__init__.py" in expected, package
        assert sorted(p.name for p in installed.glob("*.py")) == expected, package


def test_the_shipped_models_are_in_the_wheel(site):
    shipped = sorted((ROOT / "verifiers" / "models").glob("*/config.json"))
    assert shipped, "no shipped model in verifiers/models"
    for config in shipped:
        folder = site / NAME / "verifiers" / "models" / config.parent.name
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in config.parent.iterdir())


def test_the_installed_wheel_imports_under_its_one_name(site):
    # -S: no site-packages, so neither the editable install of this checkout nor any dependency is
    # found; `import smallrag` needs neither (it is lazy)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import importlib.metadata as m, smallrag; "
            "print(smallrag.__file__); print(smallrag.__version__); print(m.version('smallrag'))")
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(site)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    location, version, metadata = proc.stdout.split()
    assert Path(location) == site / NAME / "__init__.py"
    assert version == metadata == VERSION  # rag/core/version.py agrees with pyproject.toml
