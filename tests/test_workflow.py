"""The Snakemake workflow: dry run, config errors before any job, the smoke pipeline end to
end (outputs, claims, nothing to do on a rerun), byte-identical artifacts across runs, and
resumption after an interruption. Each run happens in a temporary copy of the repository."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, SNAKEMAKE, copy_project, outputs, snakemake  # noqa: F401


def test_dry_run_default_config(tmp_path):
    work = copy_project(tmp_path)
    proc = snakemake(work, "-n", "--cores", "2")
    assert "noise_resilience_simulate" in proc.stdout + proc.stderr


def test_bad_config_fails_fast_naming_the_key(tmp_path):
    work = copy_project(tmp_path)
    cfg = (work / "config/smoke.yaml").read_text().replace("sgd: {eta: 0.01}", "sgd: {eta: -1}")
    (work / "config/bad.yaml").write_text(cfg)
    proc = snakemake(work, "figures", "--cores", "1", "--configfile", "config/bad.yaml",
                     check=False)
    assert proc.returncode != 0
    assert "noise_resilience.simulate.optimizers.sgd.eta" in proc.stdout + proc.stderr
    assert not (work / "results").exists()


@pytest.mark.slow
def test_diverging_runs_are_recorded_not_plotted_as_converged(tmp_path):
    work = copy_project(tmp_path)
    cfg = (work / "config/smoke.yaml").read_text().replace("sgd: {eta: 0.01}", "sgd: {eta: 5.0}")
    (work / "config/diverge.yaml").write_text(cfg)
    snakemake(work, "results/noise_resilience/numbers.json", "--cores", "2", "--configfile",
              "config/diverge.yaml")
    records = json.loads((work / "results/noise_resilience/numbers.json").read_text())
    diverged = [r for r in records if "diverged" in r["id"]]
    assert diverged and all(not r["holds"] for r in diverged)
    assert all("eta=5" in r["note"] for r in diverged)
    plateau = [r for r in records if r["id"].startswith("sgd_optim_plateau_sigma")]
    assert plateau and all(r["measured"] is None and not r["holds"] for r in plateau)
    assert (work / "figures/noise_resilience.png").stat().st_size > 0


@pytest.mark.slow
def test_smoke_pipeline_end_to_end(smoke_run):
    work, proc, seconds = smoke_run  # timings belong to `make bench`, never to a test
    for f in ("figures/noise_resilience.pdf", "figures/noise_resilience.png",
              "results/notebooks/noise_resilience.ipynb", "results/noise_resilience/numbers.json",
              "results/claims.json"):
        assert (work / f).stat().st_size > 0, f
    assert "claims:" in proc.stdout + proc.stderr
    leftovers = [p for p in (work / "results").rglob("*.tmp")]
    assert not leftovers
    again = snakemake(work, "figures", "--cores", "2", "--configfile", "config/smoke.yaml")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_report_has_figures_claims_notebooks_and_config(smoke_run):
    work, _, _ = smoke_run
    snakemake(work, "figures", "--cores", "1", "--configfile", "config/smoke.yaml",
              "--report", "report.html")
    html = (work / "report.html").read_text()
    for needle in ("noise_resilience.png", "claims.html", "noise_resilience.ipynb", "config.yaml",
                   "Noise resilience"):
        assert needle in html, needle
    claims_html = (work / "results/report/claims.html").read_text()
    assert "noise_resilience" in claims_html and "<table>" in claims_html


@pytest.mark.slow
def test_interrupted_run_resumes_and_gives_identical_artifacts(smoke_run, tmp_path):
    """A second run of the same config in another copy, interrupted (SIGTERM) after its first
    artifacts and resumed, keeps what it had finished and ends byte-identical to the session's
    smoke run (same config, same artifacts; one run checks both)."""
    work, _, _ = smoke_run
    other = copy_project(tmp_path)
    cmd = [*SNAKEMAKE, "figures", "--cores", "1", "--configfile", "config/smoke.yaml"]
    proc = subprocess.Popen(cmd, cwd=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    res = other / "results"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(res.rglob("*.npz"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)  # what Ctrl-C or a scheduler's time limit sends
    proc.wait(timeout=120)
    done_before = {p: p.stat().st_mtime_ns for p in res.rglob("*.npz")}
    assert done_before and not (res / "claims.json").exists()
    assert not list(res.rglob("*.tmp")), "partial files left behind"
    snakemake(other, "figures", "--cores", "2", "--configfile", "config/smoke.yaml",
              "--rerun-incomplete")
    for p, mtime in done_before.items():
        assert p.stat().st_mtime_ns == mtime, f"{p} was recomputed"
    a, b = outputs(work), outputs(other)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
