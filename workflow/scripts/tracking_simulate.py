"""Snakemake entry: one sde_tracking job, one architecture (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import tracking

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    tracking.simulate_job(sm.config, sm.wildcards.arch, sm.output.npz, log=log)
