r"""Figure ``heavy_tails``: SGD and SignSGD under coordinate-wise Student-t gradient noise
(docs/paper.md 2.2 and 3.4), :math:`\nabla f_\gamma(x) = \nabla f(x) + \sigma T`, :math:`T_i \sim
t_\nu` i.i.d., for several :math:`\nu` and the Gaussian limit :math:`\nu = \infty`.

One job per (optimizer, kind) writes ``results/heavy_tails/<optimizer>_<kind>.npz``:
``sgd_optim`` and ``signsgd_optim`` (the optimizers) and ``signsgd_sde`` (the SignSGD SDE built
on the Student-t CDF, :func:`adasde.sdes.signsgd_sde` with ``noise="student_t"``; Gaussian
:func:`adasde.sdes.signsgd_sde` for :math:`\nu = \infty`). Each holds ``loss`` (nu, run, saved
step), ``nus`` (the last one ``inf``, the Gaussian limit), ``iterations`` and ``lam``.

The SDE takes ``sde_substeps`` = :math:`k` Euler-Maruyama steps of :math:`\Delta t = \eta/k` per
optimizer step, and its job also saves the coupled pair of the convergence-in-:math:`\Delta t`
claim (:func:`adasde.experiments.quadratic.convergence_pair`: Euler-Maruyama at :math:`\Delta t`
and :math:`\Delta t/2` on the same Brownian path, ``convergence_runs`` paths per nu, its own
key): ``conv_loss_coarse`` and ``conv_loss_fine`` (nu, path, saved step). The main run's arrays
do not depend on them.

The optimizer runs draw Student-t noise with :func:`adasde.noise.standard_t` (Bailey's polar
method: exact, no rejection, ``nu`` traced and ``inf`` the Gaussian limit), so the whole
:math:`\nu` grid, Gaussian included, is one vmapped, jitted program.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from adasde import jobs, optim
from adasde.experiments import quadratic
from adasde.experiments.quadratic import spectrum
from adasde.problems import Quadratic

FIGURE = "heavy_tails"
JOBS = (("sgd", "optim"), ("signsgd", "optim"), ("signsgd", "sde"))




def nu_grid(section: dict) -> np.ndarray:
    """The section's degrees of freedom, ascending, with the Gaussian limit ``inf`` appended."""
    return np.append(np.sort(np.asarray(section["nus"], float)), np.inf)


@partial(jax.jit, static_argnames=("name", "runs", "n_saves", "save_every", "progress"))
def simulate_optim(lam, x0, eta, sigma, nus, key, *, name: str, runs: int, n_saves: int,
                   save_every: int, progress: str | None = None):
    """Optimizer ``name`` under Student-t noise for every ``nus[j]`` (``inf``: Gaussian) and
    ``runs`` runs. Returns the loss, shape ``(len(nus), runs, n_saves + 1)``."""
    q = Quadratic(lam)

    def one(nu, k):
        obs, _ = optim.run_optimizer(optim.make(name, {"eta": eta}), q.grad, x0, k, sigma=sigma,
                                     n_saves=n_saves, save_every=save_every,
                                     observe=lambda y: q.loss(y[0]), noise="student_t", nu=nu,
                                     progress=progress)
        return obs

    keys = jax.random.split(key, nus.shape[0] * runs).reshape(nus.shape[0], runs)
    return jax.vmap(lambda nu, ks: jax.vmap(lambda k: one(nu, k))(ks))(nus, keys)


def simulate_job(config: dict, optimizer: str, kind: str, out_path, log=print) -> None:
    """Run job (``optimizer``, ``kind``) of :data:`JOBS` for every nu of the section (and the
    Gaussian limit) and save the artifact at ``out_path``."""
    if (optimizer, kind) not in JOBS:
        raise ValueError(f"unknown {FIGURE} job {optimizer}_{kind}; allowed: "
                         f"{', '.join(f'{o}_{k}' for o, k in JOBS)}")
    section = config[FIGURE]
    lam = spectrum(section)
    nus = nu_grid(section)
    sigma = float(section["sigma"])
    eta = float(section["optimizers"][optimizer]["eta"])
    n_saves = section["iterations"] // section["save_every"]
    runs = section["sde_runs"] if kind == "sde" else section["runs"]
    dtype = jobs.dtype_of(config)
    key = quadratic.job_key(config["seed"], FIGURE, optimizer, kind)
    log(f"[adasde] {FIGURE} {optimizer}_{kind}: nu in {[float(n) for n in nus]} x {runs} "
        f"runs, {section['iterations']} steps (saved every {section['save_every']}), d={lam.size}, "
        f"eta={eta:g}, sigma={sigma:g}, device={jax.devices()[0].platform}")
    conv, pair_wall = {}, 0.0
    t0 = time.perf_counter()
    if kind == "optim":
        loss = simulate_optim(jnp.asarray(lam, dtype),
                              jnp.full(lam.shape, section["x0"], dtype),
                              jnp.asarray(eta, dtype), jnp.asarray(sigma, dtype),
                              jnp.asarray(nus, dtype), key, name=optimizer, runs=runs,
                              n_saves=n_saves, save_every=section["save_every"],
                              progress=f"{FIGURE} {optimizer}_{kind}")
        loss = np.asarray(jax.block_until_ready(loss))
    else:
        # nu is traced in quadratic.simulate: one compilation serves every finite nu
        blocks, pairs = [], []
        for j, nu in enumerate(nus):
            noise = "gaussian" if np.isinf(nu) else "student_t"
            nu_j = None if np.isinf(nu) else float(nu)
            key_j = jax.random.fold_in(key, j)
            out, _ = quadratic.run(lam, section["x0"], {"eta": eta}, [sigma], key_j,
                                   name=optimizer, kind=kind, runs=runs, n_saves=n_saves,
                                   save_every=section["save_every"],
                                   substeps=section.get("sde_substeps", 1), noise=noise,
                                   nu=nu_j, dtype=dtype, log=log)
            blocks.append(out["loss"][0])
            t1 = time.perf_counter()
            pairs.append(quadratic.convergence_pair(
                section, lam, section["x0"], {"eta": eta}, [sigma], key_j, name=optimizer,
                n_saves=n_saves, save_every=section["save_every"], noise=noise, nu=nu_j,
                dtype=dtype, log=log))
            pair_wall += time.perf_counter() - t1
        loss = np.stack(blocks)
        conv = {k: np.stack([p[k][0] for p in pairs])
                for k in ("conv_loss_coarse", "conv_loss_fine")}
    wall = time.perf_counter() - t0
    bad = ~np.all(np.isfinite(loss), axis=-1)
    log(f"[adasde] {FIGURE} {optimizer}_{kind}: done in {wall:.1f} s; "
        f"{int(bad.sum())} of {bad.size} runs non-finite")
    arrays = {
        "loss": loss,
        "nus": nus,
        "iterations": np.arange(n_saves + 1) * section["save_every"],
        "lam": lam,
        **conv,
    }
    extra = {"optimizer": optimizer, "kind": kind}
    if kind == "sde":
        extra["convergence_pair_wall_time_s"] = pair_wall
    jobs.save_artifact(config, section, out_path, arrays, name=f"{FIGURE}/{optimizer}_{kind}",
                       wall_time_s=wall, extra=extra, log=log)


def check(section: dict) -> list[str]:
    """Cross-key checks of ``heavy_tails`` (SGD stable: eta * lambda_max < 2) and memory."""
    from adasde.limits import memory_errors

    sim, where = section["simulate"], f"{FIGURE}.simulate"
    errors = quadratic.common_checks(where, sim)
    eta = sim["optimizers"]["sgd"]["eta"]
    if eta * sim["problem"]["lambda_max"] >= 2:
        errors.append(f"config key '{where}.optimizers.sgd.eta': {eta} * lambda_max = "
                      f"{eta * sim['problem']['lambda_max']:g} must be below 2 (SGD diverges)")
    n_saves = sim["iterations"] // sim["save_every"]
    points = len(sim["nus"]) + 1
    runs = max(sim["runs"], sim.get("sde_runs", 0))
    nbytes = quadratic.grid_bytes(points, runs, n_saves, sim["problem"]["d"])
    errors += memory_errors(where, [(
        "per optimizer", nbytes,
        f"nus+1={points} x runs={runs} x (iterations/save_every={n_saves} + problem.d)")])
    return errors
