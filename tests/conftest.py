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


def pytest_configure(config):
    """Refuse, before any test, the pytest and pytest-xdist pair whose ``--dist loadgroup`` does
    not group (pytest 9.2 with pytest-xdist 3.8.0 or older: pytest-xdist issue 1386); the check
    in :func:`pytest_collection_modifyitems` catches any other such pair, less legibly (a
    worker's error reaches the controller as an INTERNALERROR)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not config.pluginmanager.hasplugin("xdist"):
        return
    if config.getoption("dist", "no") != "loadgroup" or (config.getoption("numprocesses") or 0) < 2:
        return
    from importlib.metadata import version

    def parts(v):
        return tuple(int(x) for x in v.split(".")[:2] if x.isdigit())

    if parts(version("pytest")) >= (9, 2) and parts(version("pytest-xdist")) <= (3, 8):
        raise pytest.UsageError(
            f"pytest {version('pytest')} with pytest-xdist {version('pytest-xdist')} ignores "
            "--dist loadgroup (pytest-xdist issue 1386): every smoke-run test would make its own "
            "smoke run. Install envs/cpu.txt (pytest 9.1.1) or run `make test TEST_WORKERS=1`")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n logical --dist loadgroup``), every test that
    uses the session's :func:`smoke_run` goes to one worker, so the smoke run is made once and
    its tests run one after another on it, while the other workers take the rest.

    The group travels as a ``@smoke_run`` suffix that xdist adds to the node ids; pytest 9.2
    ignores that suffix (pytest-xdist issue 1386), the tests are then spread over the workers
    and each makes its own smoke run. That is refused here, naming the fix, instead of
    silently doubling the suite's time (envs/cpu.txt pins pytest 9.1.1)."""
    for item in items:
        if "smoke_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke_run"))
    result = yield
    if getattr(config.option, "loadgroup", False) and \
            int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        lost = [i.nodeid for i in items if "smoke_run" in getattr(i, "fixturenames", ())
                and not i.nodeid.endswith("@smoke_run")]
        if lost:
            raise pytest.UsageError(
                f"pytest-xdist --dist loadgroup did not group {len(lost)} smoke-run tests "
                f"(e.g. {lost[0]}): this pytest drops xdist's group suffix (pytest-xdist issue "
                "1386); install envs/cpu.txt's pytest or run `make test TEST_WORKERS=1`")
    return result


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One complete smoke run of `snakemake figures`, shared by the tests below."""
    work = copy_project(tmp_path_factory.mktemp("smoke"))
    start = time.perf_counter()
    proc = snakemake(work, "figures", "--cores", "2", "--configfile", "config/smoke.yaml")
    return work, proc, time.perf_counter() - start
