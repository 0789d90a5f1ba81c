"""Snakemake entry: the scaling_curves job of one optimizer (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import scaling

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    scaling.simulate_curves_job(sm.config, sm.wildcards.optimizer, sm.output.npz, log=log)
