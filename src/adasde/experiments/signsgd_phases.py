r"""Figure ``signsgd_phases``: the three phases of SignSGD (Lemma 3.4, docs/paper.md 2.2).

SignSGD is started far from the minimum of the quadratic :math:`f = \tfrac12\sum_i\lambda_i
x_i^2` (Gaussian noise, :math:`d \ge 2`), so that every coordinate's SNR
:math:`Y_i = \lambda_i x_i/(\sqrt2\,s)`, :math:`s = \sigma/\sqrt B`, passes through Phase 1
(:math:`|Y| \ge 3/2`), Phase 2 (:math:`1 \le |Y| < 3/2`) and Phase 3 (:math:`|Y| < 1`).

One job per ``kind`` writes ``results/signsgd_phases/<kind>.npz``:

* ``optim``: the SignSGD optimizer (:func:`adasde.optim.signsgd`);
* ``sde``: the full SignSGD SDE of Corollary 3.3 (:func:`adasde.sdes.signsgd_sde`);
* ``phasewise``: the phase-wise approximate dynamics (:func:`adasde.sdes.signsgd_phasewise_sde`).

Each holds ``loss`` (run, saved step), ``x`` (run, saved step, d), ``iterations``, ``times``
(:math:`t = k\eta`), ``lam``, ``x0`` and ``sigma_eff``. The analysis layer
(:mod:`adasde.figures.signsgd_phases`, ``notebooks/signsgd_phases.ipynb``) turns them into the
figure and its claims.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from adasde import artifacts, integrate, jobs, optim, sdes
from adasde.experiments import quadratic
from adasde.experiments.quadratic import spectrum
from adasde.problems import Quadratic

FIGURE = "signsgd_phases"
KINDS = ("optim", "sde", "phasewise")


def initial_point(section: dict, lam) -> np.ndarray:
    """``x0`` of the section: a scalar (every coordinate) or one value per coordinate."""
    x0 = np.asarray(section["x0"], float)
    if x0.ndim and x0.shape != np.shape(lam):
        raise ValueError(f"config key '{FIGURE}.x0' has {x0.size} values but problem.d is "
                         f"{np.size(lam)}")
    return np.broadcast_to(x0, np.shape(lam)).copy()


@partial(jax.jit, static_argnames=("kind", "runs", "n_saves", "save_every", "progress"))
def simulate(lam, x0, eta, sigma, key, *, kind: str, runs: int, n_saves: int, save_every: int,
             progress: str | None = None):
    """``runs`` SignSGD runs (``kind="optim"``) or Euler-Maruyama paths (``dt = eta``) of the
    full (``"sde"``) or phase-wise (``"phasewise"``) SDE from ``x0``, with effective noise std
    ``sigma``; records the loss and the iterate every ``save_every`` steps.

    Returns ``{"loss": (runs, n_saves + 1), "x": (runs, n_saves + 1, d)}``."""
    q = Quadratic(lam)

    def observe(x):
        return q.loss(x), x

    def one(k):
        if kind == "optim":
            obs, _ = optim.run_optimizer(optim.signsgd(eta), q.grad, x0, k, sigma=sigma,
                                         n_saves=n_saves, save_every=save_every,
                                         observe=lambda y: observe(y[0]), progress=progress)
            return obs
        if kind == "sde":
            sde = sdes.signsgd_sde(q.grad, eta, sigma)
        else:
            sde = sdes.signsgd_phasewise_sde(q.grad, eta, sigma)
        obs, _ = integrate.euler_maruyama(sde, x0, k, dt=eta, n_saves=n_saves,
                                          save_every=save_every,
                                          observe=lambda y: observe(y[0]), progress=progress)
        return obs

    loss, x = jax.vmap(one)(jax.random.split(key, runs))
    return {"loss": loss, "x": x}


def simulate_job(config: dict, kind: str, out_path, log=print) -> None:
    """Run ``kind`` (one of :data:`KINDS`) for the ``signsgd_phases`` section and save the
    artifact at ``out_path``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    section = config[FIGURE]
    lam = spectrum(section)
    x0 = initial_point(section, lam)
    sigma_eff = float(section["sigma"]) / np.sqrt(section["batch_size"])
    eta = float(section["eta"])
    n_saves = section["iterations"] // section["save_every"]
    dtype = jobs.dtype_of(config)
    key = quadratic.job_key(config["seed"], FIGURE, kind)
    log(f"[adasde] {FIGURE} {kind}: {section['runs']} runs, {section['iterations']} steps "
        f"(saved every {section['save_every']}), d={lam.size}, eta={eta:g}, "
        f"sigma_eff={sigma_eff:g}, device={jax.devices()[0].platform}")
    t0 = time.perf_counter()
    out = simulate(jnp.asarray(lam, dtype), jnp.asarray(x0, dtype), jnp.asarray(eta, dtype),
                   jnp.asarray(sigma_eff, dtype), key, kind=kind, runs=section["runs"],
                   n_saves=n_saves, save_every=section["save_every"],
                   progress=f"{FIGURE} {kind}")
    out = {k: np.asarray(v) for k, v in jax.block_until_ready(out).items()}
    wall = time.perf_counter() - t0
    bad = ~np.all(np.isfinite(out["loss"]), axis=-1)
    log(f"[adasde] {FIGURE} {kind}: done in {wall:.1f} s; {int(bad.sum())} of {bad.size} runs "
        "non-finite")
    iterations = np.arange(n_saves + 1) * section["save_every"]
    arrays = {
        "loss": out["loss"],
        "x": out["x"],
        "iterations": iterations,
        "times": iterations * eta,
        "lam": lam,
        "x0": x0,
        "sigma_eff": np.float64(sigma_eff),
    }
    meta = artifacts.provenance(section, config["seed"], dtype=config.get("dtype", "float32"),
                                name=f"{FIGURE}/{kind}",
                                wall_time_s=wall, extra={"kind": kind})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")


def check(section: dict) -> list[str]:
    """Cross-key checks of ``signsgd_phases``: d >= 2, one x0 per coordinate, every coordinate
    starting in Phase 1 (|Y_i(0)| = lambda_i |x0_i| sqrt(B) / (sqrt(2) sigma) >= 3/2), and
    memory (iterates are saved)."""
    import math

    from adasde.limits import memory_errors
    from adasde.problems import quadratic_spectrum

    sim, where = section["simulate"], f"{FIGURE}.simulate"
    errors = quadratic.common_checks(where, sim)
    p = sim["problem"]
    if p["d"] < 2:
        errors.append(f"config key '{where}.problem.d': {p['d']} must be at least 2")
    x0 = sim["x0"] if isinstance(sim["x0"], list) else [sim["x0"]] * p["d"]
    if len(x0) != p["d"]:
        errors.append(f"config key '{where}.x0': {len(x0)} values but problem.d is {p['d']}")
    elif not errors:
        lam = quadratic_spectrum(p["d"], p["lambda_min"], p["lambda_max"],
                                 p.get("spacing", "linear"))
        s = sim["sigma"] / math.sqrt(sim.get("batch_size", 1))
        y0 = min(abs(li * xi) / (math.sqrt(2.0) * s) for li, xi in zip(lam, x0, strict=True))
        if y0 < 1.5:
            errors.append(f"config key '{where}.x0': the smallest initial SNR |Y_i(0)| = "
                          f"{y0:.3g} is below 3/2, so not every coordinate starts in Phase 1; "
                          "start farther from the minimum")
    n_saves = sim["iterations"] // sim["save_every"]
    nbytes = 8.0 * sim["runs"] * (n_saves + 1) * (2 * p["d"] + 2) * 2
    errors += memory_errors(where, [(
        "per kind", nbytes, f"runs={sim['runs']} x iterations/save_every={n_saves} x problem.d="
        f"{p['d']}")])
    return errors
