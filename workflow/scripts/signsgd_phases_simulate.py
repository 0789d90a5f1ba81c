"""Snakemake entry: one signsgd_phases job (argument plumbing only)."""

from adasde.experiments import signsgd_phases
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "signsgd_phases")
    signsgd_phases.simulate_job(cfg, sm.wildcards.kind, sm.output.npz, log=log)
