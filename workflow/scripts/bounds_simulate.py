"""Snakemake entry: one bounds job (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import bounds

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    bounds.simulate_job(sm.config, sm.wildcards.optimizer, sm.wildcards.kind, sm.output.npz, log=log)
