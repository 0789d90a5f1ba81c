"""Snakemake entry: the scaling_beta_grid job of one kind (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import scaling

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    scaling.simulate_grid_job(sm.config, sm.wildcards.kind, sm.output.npz, log=log)
