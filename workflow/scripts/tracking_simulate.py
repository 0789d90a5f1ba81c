"""Snakemake entry: one sde_tracking job, one architecture (argument plumbing only)."""

from adasde.experiments import tracking
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "sde_tracking")
    tracking.simulate_job(cfg, sm.wildcards.arch, sm.output.npz, log=log)
