r"""Figure ``stationary``: stationary distributions on a 2-D quadratic (docs/paper.md 3.3).

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

The per-coordinate stationary variance is :func:`adasde.figures.stationary.variance_estimate`
(the analysis layer): the mean over runs of the time-averaged :math:`x^2` (the stationary mean is
0) with its Monte-Carlo standard error over independent runs.
"""

from __future__ import annotations

import numpy as np

from adasde.experiments import quadratic

FIGURE = "stationary"




def simulate_job(config: dict, optimizer: str, kind: str, out_path, log=print) -> None:
    """Run ``optimizer`` (kind ``optim``) or its SDE (kind ``sde``) for every sigma of the
    section, accumulating time averages of x and x^2 from step ``burn_in`` on, and save the
    artifact at ``out_path`` (:func:`quadratic.sigma_grid_job`)."""
    burn_in = config[FIGURE]["burn_in"]
    quadratic.sigma_grid_job(config, FIGURE, optimizer, kind, out_path, log=log,
                             moments_from=burn_in,
                             extra_arrays={"burn_in": np.asarray(burn_in)})


def check(section: dict) -> list[str]:
    """Cross-key checks of ``stationary``: a 2-D problem, sigmas spanning at least two decades,
    ``burn_in < iterations``, ``analyse.scatter_sigma`` one of the sigmas, and memory."""
    sim, an = section["simulate"], section.get("analyse", {})
    where = f"{FIGURE}.simulate"
    errors = quadratic.sigma_grid_check(where, sim)
    if sim["problem"]["d"] != 2:
        errors.append(f"config key '{where}.problem.d': {sim['problem']['d']} must be 2 "
                      "(the figure scatters 2-D iterates)")
    if max(sim["sigmas"]) < 100 * min(sim["sigmas"]):
        errors.append(f"config key '{where}.sigmas': {sim['sigmas']} must span at least two "
                      "decades (max >= 100 * min)")
    if sim["burn_in"] >= sim["iterations"]:
        errors.append(f"config key '{where}.burn_in': {sim['burn_in']} must be less than "
                      f"iterations {sim['iterations']}")
    if "scatter_sigma" in an and an["scatter_sigma"] not in sim["sigmas"]:
        errors.append(f"config key '{FIGURE}.analyse.scatter_sigma': {an['scatter_sigma']} is "
                      f"not one of {where}.sigmas {sim['sigmas']}")
    return errors
