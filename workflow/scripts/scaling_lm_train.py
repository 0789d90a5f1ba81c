"""Snakemake entry: the scaling_lm training job (argument plumbing only)."""

from adasde.experiments import scaling_lm
from adasde.jobs import job_config, job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
with job_log(sm.log[0]) as log:
    cfg = job_config(sm.params.job, "scaling_lm")
    log(f"[adasde] scaling_lm: corpus sources fingerprint {sm.params.corpus} (at workflow parse "
        "time)")
    scaling_lm.simulate_job(cfg, sm.output.npz, log=log)
