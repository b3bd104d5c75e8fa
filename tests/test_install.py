"""A clean install: the wheel carries fixtures and benchmarks, and works from outside the repository.

The wheel is built from this tree and installed (without dependencies) into a fresh virtual
environment that borrows the dependencies of the running one through a path file, so the test
needs no network. Everything then runs from a temporary directory: nothing of the checkout is
importable there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: an in-tree build/ would carry modules deleted since into the wheel
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".tox")
    shutil.copytree(REPO, source, ignore=ignore)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(work / "dist"),
        ],
        check=True,
        cwd=work,
    )
    wheel = next((work / "dist").glob("crossrisk_bench-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_package_has_its_fixtures(installed: Path, tmp_path: Path) -> None:
    out = _run(
        installed,
        "-c",
        "import crossrisk_bench, crossrisk_bench.paths as p; "
        "print(crossrisk_bench.__file__); print(p.FIXTURES); print(sorted(x.name for x in p.FIXTURES.iterdir()))",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    module, fixtures, listing = out.stdout.splitlines()
    assert str(installed.parent.parent) in module and str(installed.parent.parent) in fixtures
    assert all(name in listing for name in ("items", "judges", "models.toml", "policy.toml", "zoo"))


def test_benchmarks_collect_and_run_from_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    collected = _run(
        installed,
        "-m",
        "pytest",
        "--pyargs",
        "crossrisk_bench.benchmarks",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        cwd=tmp_path,
    )
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert "test_misuse[safety-guard_prompt]" in collected.stdout
    ran = _run(
        installed,
        "-m",
        "pytest",
        "--pyargs",
        "crossrisk_bench.benchmarks",
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "test_misuse and guard_prompt",
        "--crossrisk-model",
        "tiny-llama",
        "--crossrisk-limit",
        "4",
        "--crossrisk-cache",
        str(tmp_path / "cache"),
        "-W",
        "ignore::pytest.PytestWarning",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert "1 passed" in ran.stdout and "crossrisk conflict matrix" in ran.stdout


def test_the_wheel_holds_every_module_of_the_tree(installed: Path) -> None:
    """The package list in pyproject.toml is explicit (fixtures and benchmarks are mapped into the
    package), so a new folder that is not listed would be missing from the wheel."""
    site = next((installed.parent.parent / "lib").glob("python*/site-packages"))
    shipped = {p.relative_to(site).as_posix() for p in (site / "crossrisk_bench").rglob("*.py")}
    here = {p.relative_to(REPO).as_posix() for p in (REPO / "crossrisk_bench").rglob("*.py")}
    assert here <= shipped, sorted(here - shipped)
