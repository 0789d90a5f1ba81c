"""Shared fixtures: float64 for oracle tests, the repository root, copies of the project and
one complete smoke run of the workflow shared by the workflow and reproducibility tests."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", False)


@pytest.fixture
def root():
    return ROOT


SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _project_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in out if (ROOT / f).is_file()]


def copy_project(dest: Path) -> Path:
    """Copy the tracked (and untracked, not ignored) project files into ``dest``."""
    for f in _project_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    return dest


def snakemake(workdir, *args, timeout=900, check=True):
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def outputs(workdir: Path) -> dict:
    """Deterministic outputs: every .npz artifact and numbers.json, as bytes."""
    res = workdir / "results"
    files = sorted(list(res.rglob("*.npz")) + list(res.rglob("numbers.json")))
    return {str(p.relative_to(workdir)): p.read_bytes() for p in files}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n logical --dist loadgroup``), every test that
    uses the session's :func:`smoke_run` goes to one worker, so the smoke run is made once and
    its tests run one after another on it, while the other workers take the rest."""
    for item in items:
        if "smoke_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke_run"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One complete smoke run of `snakemake figures`, shared by the tests below."""
    work = copy_project(tmp_path_factory.mktemp("smoke"))
    start = time.perf_counter()
    proc = snakemake(work, "figures", "--cores", "2", "--configfile", "config/smoke.yaml")
    return work, proc, time.perf_counter() - start
