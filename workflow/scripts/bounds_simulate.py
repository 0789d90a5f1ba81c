"""Snakemake entry: one bounds job (argument plumbing only)."""

from adasde.experiments import bounds
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "bounds")
    bounds.simulate_job(cfg, sm.wildcards.optimizer, sm.wildcards.kind, sm.output.npz, log=log)
