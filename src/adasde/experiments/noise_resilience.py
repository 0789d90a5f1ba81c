"""Figure ``noise_resilience``: SGD, SignSGD, Adam and AdamW on the quadratic at several noise
levels, the optimizer's runs and its SDE's paths, against the asymptotic losses of docs/paper.md 3.3.

One job per (optimizer, kind) writes ``results/noise_resilience/<optimizer>_<kind>.npz`` with
``loss`` (sigma, run, saved step), ``x_final`` (sigma, run, d), ``sigmas``, ``iterations``
and ``lam``; the notebook ``notebooks/noise_resilience.ipynb`` turns them into the figure and
its claims.
"""

from __future__ import annotations

from adasde.experiments import quadratic

FIGURE = "noise_resilience"


def simulate_job(config: dict, optimizer: str, kind: str, out_path, log=print) -> None:
    """Run ``optimizer`` (kind ``optim``) or its SDE (kind ``sde``) for every sigma of the
    section and save the artifact at ``out_path`` (:func:`quadratic.sigma_grid_job`)."""
    quadratic.sigma_grid_job(config, FIGURE, optimizer, kind, out_path, log=log)


def check(section: dict) -> list[str]:
    """Cross-key checks of the ``noise_resilience`` section (see :func:`adasde.config.validate`)."""
    return quadratic.sigma_grid_check(f"{FIGURE}.simulate", section["simulate"])
