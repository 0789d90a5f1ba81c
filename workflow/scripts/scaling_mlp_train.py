"""Snakemake entry: the scaling_mlp training job (argument plumbing only)."""

from adasde.experiments import scaling_mlp
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "scaling_mlp")
    scaling_mlp.simulate_job(cfg, sm.output.npz, log=log)
