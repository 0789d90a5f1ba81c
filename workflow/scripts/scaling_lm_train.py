"""Snakemake entry: the scaling_lm training job (argument plumbing only)."""

from adasde.experiments import scaling_lm
from adasde.jobs import job_log

sm = snakemake  # noqa: F821  (injected by Snakemake's script directive)
job = sm.params.job
with job_log(sm.log[0]) as log:
    cfg = {"seed": int(job["seed"]), "dtype": job["dtype"], "scaling_lm": job["section"]}
    log(f"[adasde] scaling_lm: corpus sha256 {sm.params.corpus} (at workflow parse time)")
    scaling_lm.simulate_job(cfg, sm.output.npz, log=log)
