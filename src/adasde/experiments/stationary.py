r"""Figure ``stationary``: stationary distributions on a 2-D quadratic (paper.md 3.3).

:math:`f = \tfrac12(\lambda_1 x_1^2 + \lambda_2 x_2^2)` with :math:`\lambda_1 \ne \lambda_2`
(the section's ``problem`` with ``d: 2``). One job per (optimizer, kind) runs the optimizer or
its SDE (Euler-Maruyama, :math:`\Delta t = \eta`) from ``x0`` for every noise level of
``sigmas`` and ``runs`` runs, all in one vmapped scan, and accumulates the time averages of
:math:`x_k` and :math:`x_k^2` over the steps after ``burn_in`` inside the scan
(:func:`adasde.experiments.quadratic.simulate`, ``moments_from``). The artifact
``results/stationary/<optimizer>_<kind>.npz`` holds

* ``x_mean``, ``x2_mean`` (sigma, run, coordinate): per-run time averages after burn-in;
* ``x_final`` (sigma, run, coordinate): the last iterate of every run (one stationary sample);
* ``loss`` (sigma, run, saved step): :math:`f(x_k) - f^*` every ``save_every`` steps (to check
  that the burn-in is long enough);
* ``sigmas``, ``lam``, ``iterations`` (saved step indices), ``burn_in``.

The per-coordinate stationary variance is :func:`variance_estimate`: the mean over runs of the
time-averaged :math:`x^2` (the stationary mean is 0) with its Monte-Carlo standard error over
independent runs.
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts
from adasde.experiments import quadratic
from adasde.experiments.quadratic import spectrum

FIGURE = "stationary"




def variance_estimate(x2_mean) -> tuple[np.ndarray, np.ndarray]:
    """Stationary variance per coordinate from per-run time averages of :math:`x^2`
    (shape (..., runs, d)): the mean over runs and its standard error (runs are independent).
    The minimiser is 0, so the second moment about 0 is the variance."""
    x2 = np.asarray(x2_mean, float)
    n = x2.shape[-2]
    return x2.mean(axis=-2), x2.std(axis=-2, ddof=1) / np.sqrt(n)


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
        dtype=dtype, log=log, moments_from=section["burn_in"])
    arrays = {
        "x_mean": out["x_mean"],
        "x2_mean": out["x2_mean"],
        "x_final": out["x_final"],
        "loss": out["loss"],
        "sigmas": sigmas,
        "lam": lam,
        "iterations": np.arange(n_saves + 1) * section["save_every"],
        "burn_in": np.asarray(section["burn_in"]),
    }
    meta = artifacts.provenance(section, config["seed"], name=f"{FIGURE}/{optimizer}_{kind}",
                                wall_time_s=wall, extra={"optimizer": optimizer, "kind": kind})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")
