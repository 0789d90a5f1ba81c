"""The reproducibility contract: every output is a function of its declared inputs.

On a completed smoke run (``smoke_run`` of tests/test_workflow.py), ``snakemake -n`` must plan
exactly the dependants of each change: the seed or dtype reruns every job; editing a library
module reruns the jobs (and notebooks) that import it and nothing else; an analysis setting
reruns only its notebook and the claims gather; a comment-only edit reruns nothing. Notebooks
read exactly the artifacts their rule declares (a stale artifact of an optimizer since removed
is ignored). Interrupted runs resume; a damaged artifact is named, never used.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SNAKEMAKE, copy_project, snakemake

SIM_RULES = {"noise_resilience_simulate", "scaling_grid_simulate", "scaling_curves_simulate",
             "bounds_simulate", "stationary_simulate", "signsgd_phases_simulate",
             "heavy_tails_simulate", "scaling_mlp_train", "sde_tracking_simulate",
             "scaling_lm_train"}


def planned(work: Path, configfile: str = "config/smoke.yaml") -> dict[str, int]:
    """The job counts ``snakemake -n figures`` plans, by rule (``{}`` when nothing to do)."""
    proc = snakemake(work, "-n", "figures", "--cores", "1", "--configfile", configfile)
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text[text.index("Job stats:"):]
    out = {}
    for line in stats.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        if m.group(1) != "total":
            out[m.group(1)] = int(m.group(2))
    return out


def sims(plan: dict) -> set[str]:
    return set(plan) & SIM_RULES


PROBE = "\n\ndef _probe():\n    return 1\n"


def edited(path: Path, old: str | None, new: str):
    """Context manager: replace ``old`` by ``new`` in ``path`` (``old=None``: append ``new``),
    restore the bytes on exit."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        original = path.read_bytes()
        text = path.read_text()
        if old is None:
            path.write_text(text + new)
        else:
            assert old in text, f"{old!r} not in {path}"
            path.write_text(text.replace(old, new, 1))
        try:
            yield
        finally:
            path.write_bytes(original)
            os.utime(path, ns=(time.time_ns(), time.time_ns()))

    return cm()


@pytest.mark.slow
def test_completed_run_plans_nothing(smoke_run):
    work, _, _ = smoke_run
    assert planned(work) == {}


@pytest.mark.slow
@pytest.mark.parametrize("old,new", [("seed: 7", "seed: 8"), ("dtype: float32", "dtype: float64")])
def test_seed_and_dtype_rerun_every_simulation(smoke_run, old, new):
    work, _, _ = smoke_run
    cfg = work / "config/smoke.yaml"
    (work / "config/changed.yaml").write_text(cfg.read_text().replace(old, new, 1))
    plan = planned(work, "config/changed.yaml")
    assert sims(plan) == SIM_RULES, plan
    assert plan["notebook"] == 10


@pytest.mark.slow
def test_editing_theory_reruns_its_notebooks_and_no_simulation(smoke_run):
    work, _, _ = smoke_run
    theory = work / "src/adasde/theory.py"
    with edited(theory, None, PROBE):
        plan = planned(work)
    assert not sims(plan), plan
    assert plan.get("notebook", 0) >= 5 and plan.get("claims") == 1, plan


@pytest.mark.slow
def test_comment_only_edit_reruns_nothing(smoke_run):
    work, _, _ = smoke_run
    with edited(work / "src/adasde/theory.py", None, "\n# a comment, and formatting:   \n\n"):
        assert planned(work) == {}


@pytest.mark.slow
def test_editing_sdes_reruns_the_sde_jobs(smoke_run):
    work, _, _ = smoke_run
    with edited(work / "src/adasde/sdes.py", None, PROBE):
        plan = planned(work)
    for rule in ("noise_resilience_simulate", "stationary_simulate", "signsgd_phases_simulate",
                 "sde_tracking_simulate", "scaling_grid_simulate"):
        assert rule in plan, (rule, plan)


@pytest.mark.slow
def test_editing_nets_reruns_only_the_network_jobs(smoke_run):
    work, _, _ = smoke_run
    with edited(work / "src/adasde/nets.py", None, PROBE):
        plan = planned(work)
    assert sims(plan) == {"scaling_mlp_train", "sde_tracking_simulate"}, plan


@pytest.mark.slow
@pytest.mark.parametrize("section,figure", [("noise_resilience", "noise_resilience"),
                                            ("sde_tracking", "sde_tracking_mlp_breast_cancer")])
def test_an_analysis_setting_reruns_only_its_notebook(smoke_run, section, figure):
    work, _, _ = smoke_run
    import yaml

    cfg = yaml.safe_load((work / "config/smoke.yaml").read_text())
    cfg[section].setdefault("analyse", {})["tolerance"] = 0.0123
    (work / "config/tol.yaml").write_text(yaml.safe_dump(cfg))
    plan = planned(work, "config/tol.yaml")
    # the report's resolved config shows every setting, so it is rebuilt too
    assert plan == {"notebook": 1, "claims": 1, "resolved_config": 1, "figures": 1}, plan
    proc = snakemake(work, "-n", "figures", "--cores", "1", "--configfile", "config/tol.yaml")
    assert f"figure={figure}" in proc.stdout


@pytest.mark.slow
def test_sde_only_settings_rerun_the_sde_jobs_and_not_the_optimizers(smoke_run):
    """``sde_substeps`` and ``convergence_runs`` are read by the SDE jobs only: changing them
    reruns those jobs (one per optimizer here, the grid's SDE job) and their notebooks, never an
    optimizer job."""
    work, _, _ = smoke_run
    import yaml

    cfg = yaml.safe_load((work / "config/smoke.yaml").read_text())
    cfg["noise_resilience"]["simulate"]["sde_substeps"] = 2
    cfg["scaling"]["simulate"]["grid"]["convergence_runs"] = 3
    (work / "config/sde.yaml").write_text(yaml.safe_dump(cfg))
    plan = planned(work, "config/sde.yaml")
    n_opt = len(cfg["noise_resilience"]["simulate"]["optimizers"])
    assert plan == {"noise_resilience_simulate": n_opt, "scaling_grid_simulate": 1,
                    "notebook": 2, "claims": 1, "resolved_config": 1, "figures": 1}, plan
    proc = snakemake(work, "-n", "figures", "--cores", "1", "--configfile", "config/sde.yaml")
    jobs = re.findall(r"^\s*wildcards: (.*)$", proc.stdout, re.M)
    assert jobs and not [w for w in jobs if "kind=optim" in w], jobs


@pytest.mark.slow
def test_one_optimizers_settings_rerun_only_its_jobs(smoke_run):
    """A job of one optimizer reads (and its params hold) only that optimizer's settings:
    changing SGD's eta in noise_resilience and SignSGD's in bounds reruns those two optimizers'
    jobs (optim and SDE) and their notebooks, and giving scaling's curves a new optimizer runs
    its job alone; no other optimizer's job reruns."""
    work, _, _ = smoke_run
    import yaml

    cfg = yaml.safe_load((work / "config/smoke.yaml").read_text())
    cfg["noise_resilience"]["simulate"]["optimizers"]["sgd"]["eta"] = 0.02
    cfg["bounds"]["simulate"]["optimizers"]["signsgd"]["eta"] = 0.02
    cfg["scaling"]["simulate"]["curves"]["rules"]["rmspropw"] = ["this_paper"]
    (work / "config/one.yaml").write_text(yaml.safe_dump(cfg))
    plan = planned(work, "config/one.yaml")
    assert plan == {"noise_resilience_simulate": 2, "bounds_simulate": 2,
                    "scaling_curves_simulate": 1, "notebook": 3, "claims": 1,
                    "resolved_config": 1, "figures": 1}, plan
    proc = snakemake(work, "-n", "figures", "--cores", "1", "--configfile", "config/one.yaml")
    text = proc.stdout
    jobs = re.findall(r"^rule (\w+_simulate):\n(?:\s+\w+:.*\n)*?\s+wildcards: (.*)$", text, re.M)
    got = sorted((rule, dict(w.split("=") for w in wc.split(", "))["optimizer"])
                 for rule, wc in jobs)
    assert got == [("bounds_simulate", "signsgd")] * 2 + [
        ("noise_resilience_simulate", "sgd")] * 2 + [("scaling_curves_simulate", "rmspropw")], got


@pytest.mark.slow
def test_notebook_reads_only_declared_artifacts(smoke_run, tmp_path):
    """An artifact left over from an earlier config (an optimizer since removed) is ignored:
    the noise_resilience notebook reads the files its rule passes, not a glob."""
    work, _, _ = smoke_run
    other = copy_project(tmp_path)
    res = other / "results/noise_resilience"
    res.mkdir(parents=True)
    for f in (work / "results/noise_resilience").glob("*_*.*"):
        if f.suffix in (".npz", ".json") and f.name != "numbers.json":
            (res / f.name).write_bytes(f.read_bytes())
    import yaml

    cfg = yaml.safe_load((other / "config/smoke.yaml").read_text())
    del cfg["noise_resilience"]["simulate"]["optimizers"]["adam"]
    (other / "config/noadam.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(other, "results/noise_resilience/numbers.json", "--cores", "2", "--configfile",
              "config/noadam.yaml")
    assert (res / "adam_optim.npz").exists()  # the stale artifact is still there ...
    ids = [r["id"] for r in json.loads((res / "numbers.json").read_text())]
    assert ids and not [i for i in ids if i.startswith("adam_")], ids  # ... and unused


@pytest.mark.slow
def test_kill_then_plain_make_figures_resumes_or_names_unlock(tmp_path):
    """After SIGTERM a plain `make figures` resumes (incomplete jobs rerun); after SIGKILL the
    stale lock is reported with the one command that clears it."""
    work = copy_project(tmp_path)
    target = "results/heavy_tails/sgd_optim.npz"
    make = ["make", "-s", "figures", "CONFIG=config/smoke.yaml", f"TARGETS={target}", "CORES=1",
            f"VENV={ROOT / '.venv'}", "-o", str(ROOT / ".venv/.installed-cpu")]
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [*SNAKEMAKE, target, "--cores", "1", "--configfile", "config/smoke.yaml"]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    locks = work / ".snakemake/locks"
    deadline = time.time() + 120
    while time.time() < deadline and not (locks.exists() and any(locks.iterdir())):
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    first = subprocess.run(make, cwd=work, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode != 0
    assert "make unlock" in first.stderr, first.stderr[-2000:]
    unlock = subprocess.run(["make", "-s", "unlock", "CONFIG=config/smoke.yaml",
                             f"VENV={ROOT / '.venv'}", "-o", str(ROOT / ".venv/.installed-cpu")],
                            cwd=work, capture_output=True, text=True, env=env, timeout=300)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    again = subprocess.run(make, cwd=work, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (work / target).exists()


# ------------------------------------------------------------------ hostile configs (make)
def _make_check(work: Path, config: str):
    return subprocess.run(["make", "-s", "figures", f"CONFIG={config}", f"VENV={ROOT / '.venv'}",
                           "-o", str(ROOT / ".venv/.installed-cpu")],
                          cwd=work, capture_output=True, text=True, timeout=300)


def test_make_figures_refuses_a_yte_template_before_snakemake(tmp_path):
    work = copy_project(tmp_path)
    smoke = (work / "config/smoke.yaml").read_text()
    (work / "config/yte.yaml").write_text(
        "__use_yte__: true\n"
        "probe: ?__import__('pathlib').Path('PWNED').touch()\n" + smoke)
    proc = _make_check(work, "config/yte.yaml")
    assert proc.returncode != 0
    assert "__use_yte__" in proc.stderr and "Traceback" not in proc.stderr
    assert not (work / "PWNED").exists() and not (work / ".snakemake").exists()
    assert not (work / "results").exists()


def test_make_figures_refuses_a_duplicate_section(tmp_path):
    work = copy_project(tmp_path)
    smoke = (work / "config/smoke.yaml").read_text()
    (work / "config/dup.yaml").write_text(smoke + "\nseed: 9\n")
    proc = _make_check(work, "config/dup.yaml")
    assert proc.returncode != 0 and "duplicate key 'seed'" in proc.stderr
    assert not (work / "results").exists()
