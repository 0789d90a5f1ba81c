r"""Figure ``signsgd_phases``: the three phases of SignSGD (Lemma 3.4, paper.md 2.2).

SignSGD is started far from the minimum of the quadratic :math:`f = \tfrac12\sum_i\lambda_i
x_i^2` (Gaussian noise, :math:`d \ge 2`), so that every coordinate's SNR
:math:`Y_i = \lambda_i x_i/(\sqrt2\,s)`, :math:`s = \sigma/\sqrt B`, passes through Phase 1
(:math:`|Y| \ge 3/2`), Phase 2 (:math:`1 \le |Y| < 3/2`) and Phase 3 (:math:`|Y| < 1`).

One job per ``kind`` writes ``results/signsgd_phases/<kind>.npz``:

* ``optim``: the SignSGD optimizer (:func:`adasde.optim.signsgd`);
* ``sde``: the full SignSGD SDE of Corollary 3.3 (:func:`adasde.sdes.signsgd_sde`);
* ``phasewise``: the phase-wise approximate dynamics (:func:`adasde.sdes.signsgd_phasewise_sde`).

Each holds ``loss`` (run, saved step), ``x`` (run, saved step, d), ``iterations``, ``times``
(:math:`t = k\eta`), ``lam``, ``x0`` and ``sigma_eff``. The notebook
``notebooks/signsgd_phases.ipynb`` turns them into the figure and its claims.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from adasde import artifacts, integrate, optim, sdes
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
    dtype = np.float64 if config.get("dtype") == "float64" else np.float32
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
    meta = artifacts.provenance(section, config["seed"], name=f"{FIGURE}/{kind}",
                                wall_time_s=wall, extra={"kind": kind})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")


# ---------------------------------------------------------------------- statistics (notebook)
def crossing_time(t, values, level) -> float:
    """First time at which ``values`` (along ``t``) is below ``level``, linearly interpolated
    between saved times; NaN if it never is (or already is at ``t[0]``, returns ``t[0]``)."""
    t = np.asarray(t, float)
    v = np.asarray(values, float)
    below = np.nonzero(v < level)[0]
    if below.size == 0:
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(t[0])
    v0, v1 = v[j - 1], v[j]
    return float(t[j - 1] + (t[j] - t[j - 1]) * (v0 - level) / (v0 - v1))


def mean_snr(x_runs, lam, sigma_eff):
    r"""SNR of the mean path, :math:`\bar Y_i(t) = \lambda_i E[X_{t,i}]/(\sqrt2 s)`, from
    ``x_runs`` of shape (runs, times, d); returns (times, d)."""
    return np.asarray(lam) * np.asarray(x_runs).mean(axis=0) / (np.sqrt(2.0) * sigma_eff)


def jackknife(estimator, runs, groups: int = 16):
    """Estimate and delete-a-group jackknife standard error of ``estimator(runs)`` (``runs``
    indexed along axis 0, split into ``groups`` interleaved groups)."""
    runs = np.asarray(runs)
    groups = min(groups, runs.shape[0])
    idx = np.arange(runs.shape[0]) % groups
    full = estimator(runs)
    parts = np.array([estimator(runs[idx != g]) for g in range(groups)])
    se = np.sqrt((groups - 1) / groups * np.sum((parts - parts.mean()) ** 2))
    return float(full), float(se)


def phase3_window(t, x_runs_i, lam_i, sigma_eff, floor_se: float = 5.0):
    r"""Saved-index window ``(start, stop)`` of coordinate ``i``'s Phase 3: from the first time
    :math:`|\bar Y_i| < 1` to the first later time :math:`|E X_i|` falls below ``floor_se``
    Monte-Carlo standard errors (exclusive; the end of the run if never). ``x_runs_i`` has
    shape (runs, times)."""
    x = np.asarray(x_runs_i, float)
    m = x.mean(axis=0)
    se = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    y = np.abs(lam_i * m / (np.sqrt(2.0) * sigma_eff))
    inside = np.nonzero(y < 1.0)[0]
    if inside.size == 0:
        raise ValueError("coordinate never enters Phase 3 (|Y| < 1); run longer")
    start = int(inside[0])
    lost = np.nonzero((np.arange(m.size) > start) & (np.abs(m) < floor_se * se))[0]
    stop = int(lost[0]) if lost.size else m.size
    return start, stop


def decay_rate(t, x_runs_i, start: int, stop: int) -> float:
    r"""Ordinary least-squares slope of :math:`-\ln|E X_{t,i}|` against :math:`t` over saved
    indices ``start:stop`` (the fitted Phase-3 decay rate)."""
    m = np.abs(np.asarray(x_runs_i, float).mean(axis=0))[start:stop]
    return float(-np.polyfit(np.asarray(t, float)[start:stop], np.log(m), 1)[0])


def transit_time(t, x_runs_i, lam_i, sigma_eff, y_end: float, y_start: float = 1.0) -> float:
    r"""Measured time between the first crossings of :math:`|\bar Y_i| = y_{start}` and
    :math:`|\bar Y_i| = y_{end}` (interpolated; NaN if either never happens)."""
    y = np.abs(lam_i * np.asarray(x_runs_i, float).mean(axis=0) / (np.sqrt(2.0) * sigma_eff))
    return crossing_time(t, y, y_end) - crossing_time(t, y, y_start)
