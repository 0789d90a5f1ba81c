"""Snakemake entry: the scaling_curves job of one optimizer (argument plumbing only)."""

from adasde.experiments import scaling
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "scaling")
    scaling.simulate_curves_job(cfg, sm.wildcards.optimizer, sm.output.npz, log=log)
