"""Figure ``noise_resilience``: SGD, SignSGD, Adam and AdamW on the quadratic at several noise
levels, the optimizer's runs and its SDE's paths, against the asymptotic losses of paper.md 3.3.

One job per (optimizer, kind) writes ``results/noise_resilience/<optimizer>_<kind>.npz`` with
``loss`` (sigma, run, saved step), ``x_final`` (sigma, run, d), ``sigmas``, ``iterations``
and ``lam``; the notebook ``notebooks/noise_resilience.ipynb`` turns them into the figure and
its claims.
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts
from adasde.experiments import quadratic
from adasde.experiments.quadratic import spectrum

FIGURE = "noise_resilience"




def simulate_job(config: dict, optimizer: str, kind: str, out_path, log=print) -> None:
    """Run ``optimizer`` (kind ``optim``) or its SDE (kind ``sde``) for every sigma of the
    section and save the artifact at ``out_path``."""
    section = config[FIGURE]
    if optimizer not in section["optimizers"]:
        raise ValueError(f"optimizer {optimizer!r} is not in config key {FIGURE}.optimizers "
                         f"({', '.join(section['optimizers'])})")
    lam = spectrum(section)
    sigmas = np.asarray(section["sigmas"], float)
    sigma_eff = sigmas / np.sqrt(section["batch_size"])
    n_saves = section["iterations"] // section["save_every"]
    dtype = np.float64 if config.get("dtype") == "float64" else np.float32
    key = quadratic.job_key(config["seed"], FIGURE, optimizer, kind)
    out, wall = quadratic.run(
        lam, section["x0"], section["optimizers"][optimizer], sigma_eff, key, name=optimizer,
        kind=kind, runs=section["runs"], n_saves=n_saves, save_every=section["save_every"],
        substeps=section.get("sde_substeps", 1) if kind == "sde" else 1, dtype=dtype, log=log)
    arrays = {
        "loss": out["loss"],
        "x_final": out["x_final"],
        "sigmas": sigmas,
        "iterations": np.arange(n_saves + 1) * section["save_every"],
        "lam": lam,
    }
    meta = artifacts.provenance(section, config["seed"], name=f"{FIGURE}/{optimizer}_{kind}",
                                wall_time_s=wall, extra={"optimizer": optimizer, "kind": kind})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")
