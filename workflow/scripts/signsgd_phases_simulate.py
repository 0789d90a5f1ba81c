"""Snakemake entry: one signsgd_phases job (argument plumbing only)."""

from adasde.cli import job_log
from adasde.experiments import signsgd_phases

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    signsgd_phases.simulate_job(sm.config, sm.wildcards.kind, sm.output.npz, log=log)
