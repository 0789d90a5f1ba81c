"""Snakemake entry: the scaling_mlp training job (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import scaling_mlp

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    scaling_mlp.simulate_job(sm.config, sm.output.npz, log=log)
