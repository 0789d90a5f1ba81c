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
(:math:`t = k\eta`), ``lam``, ``x0`` and ``sigma_eff``. The two SDE kinds are integrated by
Euler-Maruyama at :math:`\Delta t = \eta/k` (``sde_substeps`` k, saved on the optimizer's grid)
and also hold the coupled pair of their convergence-in-dt claim (:func:`simulate_pair`):
``conv_loss_coarse``/``conv_loss_fine`` (path, saved step) and ``conv_x_coarse``/``conv_x_fine``
(path, saved step, d), the same observables at :math:`\Delta t` and :math:`\Delta t/2` on
``convergence_runs`` shared Brownian paths (key :func:`adasde.experiments.quadratic.pair_key` of
the job's key, so the main run is unchanged). The analysis layer
(:mod:`adasde.figures.signsgd_phases`, ``notebooks/signsgd_phases.ipynb``) turns them into the
figure and its claims.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from adasde import integrate, jobs, optim, sdes
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


def _sde(kind: str, q: Quadratic, eta, sigma):
    """The SDE of kind ``"sde"`` (Corollary 3.3) or ``"phasewise"`` (Lemma 3.4)."""
    if kind == "sde":
        return sdes.signsgd_sde(q.grad, eta, sigma)
    return sdes.signsgd_phasewise_sde(q.grad, eta, sigma)


@partial(jax.jit, static_argnames=("kind", "runs", "n_saves", "save_every", "substeps",
                                   "progress"))
def simulate(lam, x0, eta, sigma, key, *, kind: str, runs: int, n_saves: int, save_every: int,
             substeps: int = 1, progress: str | None = None):
    r"""``runs`` SignSGD runs (``kind="optim"``) or Euler-Maruyama paths of the full (``"sde"``)
    or phase-wise (``"phasewise"``) SDE from ``x0`` at :math:`\Delta t = \eta/k` (``substeps``
    k), with effective noise std ``sigma``; records the loss and the iterate every
    ``save_every`` optimizer steps (``save_every * substeps`` SDE steps, time
    :math:`t = j\,save_{every}\,\eta`).

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
        dt = eta if substeps == 1 else eta / substeps
        obs, _ = integrate.euler_maruyama(_sde(kind, q, eta, sigma), x0, k, dt=dt,
                                          n_saves=n_saves, save_every=save_every * substeps,
                                          observe=lambda y: observe(y[0]), progress=progress)
        return obs

    loss, x = jax.vmap(one)(jax.random.split(key, runs))
    return {"loss": loss, "x": x}


@partial(jax.jit, static_argnames=("kind", "runs", "n_saves", "save_every", "substeps",
                                   "progress"))
def simulate_pair(lam, x0, eta, sigma, key, *, kind: str, runs: int, n_saves: int,
                  save_every: int, substeps: int = 1, progress: str | None = None):
    r"""The convergence-in-dt check of the SDE ``kind`` (``"sde"`` or ``"phasewise"``):
    :func:`adasde.integrate.solve_pair`, Euler-Maruyama at :math:`\Delta t = \eta/k` (the step
    of :func:`simulate`) and at :math:`\Delta t/2` on the same Brownian path, for ``runs``
    paths (keys split from ``key``), observed on :func:`simulate`'s saved grid.

    Returns ``{"loss_coarse", "loss_fine"}`` (runs, n_saves + 1) and ``{"x_coarse",
    "x_fine"}`` (runs, n_saves + 1, d)."""
    if kind not in ("sde", "phasewise"):
        raise ValueError(f"the convergence pair is of an SDE kind, got {kind!r}")
    q = Quadratic(lam)
    dt = eta if substeps == 1 else eta / substeps

    def one(k):
        sol = integrate.solve_pair(_sde(kind, q, eta, sigma), x0, k, dt=dt, n_saves=n_saves,
                                   save_every=save_every * substeps,
                                   observe=lambda y: (q.loss(y[0]), y[0]), progress=progress)
        return sol.coarse.observations, sol.fine.observations

    (lc, xc), (lf, xf) = jax.vmap(one)(jax.random.split(key, runs))
    return {"loss_coarse": lc, "loss_fine": lf, "x_coarse": xc, "x_fine": xf}


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
    substeps = int(section.get("sde_substeps", 1)) if kind != "optim" else 1
    out = simulate(jnp.asarray(lam, dtype), jnp.asarray(x0, dtype), jnp.asarray(eta, dtype),
                   jnp.asarray(sigma_eff, dtype), key, kind=kind, runs=section["runs"],
                   n_saves=n_saves, save_every=section["save_every"], substeps=substeps,
                   progress=f"{FIGURE} {kind}")
    out = {k: np.asarray(v) for k, v in jax.block_until_ready(out).items()}
    wall = time.perf_counter() - t0
    bad = ~np.all(np.isfinite(out["loss"]), axis=-1)
    log(f"[adasde] {FIGURE} {kind}: done in {wall:.1f} s; {int(bad.sum())} of {bad.size} runs "
        "non-finite")
    conv = {}
    if kind != "optim":
        R = int(section.get("convergence_runs", 16))
        log(f"[adasde] {FIGURE} {kind}: convergence pair dt = eta/{substeps} and "
            f"eta/{2 * substeps} on the same Brownian paths, {R} paths")
        t1 = time.perf_counter()
        pair = simulate_pair(jnp.asarray(lam, dtype), jnp.asarray(x0, dtype),
                             jnp.asarray(eta, dtype), jnp.asarray(sigma_eff, dtype),
                             quadratic.pair_key(key), kind=kind, runs=R, n_saves=n_saves,
                             save_every=section["save_every"], substeps=substeps,
                             progress=f"{FIGURE} {kind} (dt pair)")
        conv = {f"conv_{k}": np.asarray(v) for k, v in jax.block_until_ready(pair).items()}
        pair_wall = time.perf_counter() - t1
        log(f"[adasde] {FIGURE} {kind}: convergence pair done in {pair_wall:.1f} s")
        wall += pair_wall
    iterations = np.arange(n_saves + 1) * section["save_every"]
    arrays = {
        "loss": out["loss"],
        "x": out["x"],
        "iterations": iterations,
        "times": iterations * eta,
        "lam": lam,
        "x0": x0,
        "sigma_eff": np.float64(sigma_eff),
        **conv,
    }
    jobs.save_artifact(config, section, out_path, arrays, name=f"{FIGURE}/{kind}",
                       wall_time_s=wall, extra={"kind": kind}, log=log)


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
    runs = sim["runs"] + 2 * sim.get("convergence_runs", 16)  # + the pair's two chains
    nbytes = 8.0 * runs * (n_saves + 1) * (2 * p["d"] + 2) * 2
    errors += memory_errors(where, [(
        "per kind", nbytes, f"runs={sim['runs']} (+ 2 x convergence_runs) x "
        f"iterations/save_every={n_saves} x problem.d={p['d']}")])
    return errors
