"""Vectorised simulation on the diagonal quadratic: a grid of ``G`` hyper-parameter settings
times ``R`` runs (optimizer) or paths (SDE) as one compiled program.

:func:`simulate` is jitted with the structure (optimizer, kind, sizes) static and every
hyper-parameter value traced, so changing sigma, eta, beta or theta values reuses the compiled
program (no recompilation).
"""

from __future__ import annotations

import hashlib
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from adasde import integrate, jobs, optim, sdes
from adasde.problems import Quadratic, quadratic_spectrum

KINDS = ("optim", "sde")
HP_KEYS = ("eta", "beta1", "beta2", "eps", "theta")


def spectrum(section: dict) -> np.ndarray:
    """The eigenvalues of a config section's quadratic (its ``problem`` key), float64."""
    p = section["problem"]
    return quadratic_spectrum(p["d"], p["lambda_min"], p["lambda_max"], p.get("spacing", "linear"))


def stable_id(*names) -> int:
    """A stable 31-bit integer for a tuple of names (for ``fold_in``; Python's hash is salted)."""
    digest = hashlib.sha256("/".join(map(str, names)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def job_key(seed: int, *names):
    """The PRNG key of one job: ``fold_in(key(seed), stable_id(names))``."""
    return jax.random.fold_in(jax.random.key(seed), stable_id(*names))


def hp_grid(hp: dict, n: int, dtype) -> dict:
    """Broadcast a dict of hyper-parameters (scalars or length-``n`` sequences) to arrays (n,)."""
    out = {}
    for k in HP_KEYS:
        v = hp.get(k, 0.0)
        out[k] = jnp.broadcast_to(jnp.asarray(v, dtype), (n,))
    return out


@partial(jax.jit, static_argnames=("name", "kind", "runs", "n_saves", "save_every", "substeps",
                                   "noise", "progress", "save_x", "moments_from"))
def simulate(lam, x0, hp, sigma, key, *, name: str, kind: str, runs: int, n_saves: int,
             save_every: int, substeps: int = 1, noise: str = "gaussian", nu=None,
             progress: str | None = None, save_x: bool = False, moments_from: int | None = None):
    """Run optimizer or SDE ``name`` on :math:`f = \\tfrac12\\sum\\lambda_i x_i^2` for every
    grid point ``g`` (``hp[k][g]``, effective noise std ``sigma[g]``, scalar or per coordinate)
    and ``runs`` independent runs/paths.

    ``progress`` (a label) prints about ten progress lines per run from inside the program.
    Returns ``{"loss": (G, R, n_saves + 1), "x_final": (G, R, d)}``; time ``t = k * eta`` at
    step ``k = j * save_every`` for saved index ``j``. The SDE takes ``substeps`` Euler-Maruyama
    steps of ``dt = eta / substeps`` per optimizer step.

    Optional outputs (both off by default; the returned keys above are unchanged):

    * ``save_x``: also ``"x"`` (G, R, n_saves + 1, d), the iterate at every saved time.
    * ``moments_from`` (a step index :math:`k_0 < N`, :math:`N` = ``n_saves * save_every``):
      also ``"x_mean"`` and ``"x2_mean"`` (G, R, d), the time averages
      :math:`\\frac{1}{N-k_0}\\sum_{k=k_0}^{N-1} x_k` and the same of :math:`x_k^2`, accumulated
      at every step inside the same scan (the SDE: :math:`\\frac{1}{(N-k_0)\\eta}
      \\int_{k_0\\eta}^{N\\eta} X_t\\,dt` on its Euler-Maruyama grid).
    """
    q = Quadratic(lam)

    def observe_x(x):
        return (q.loss(x), x) if save_x else q.loss(x)

    def one(hp_g, sigma_g, k):
        if kind == "optim":
            opt = optim.make(name, hp_g)
            if moments_from is not None:
                opt = _accumulate_moments(opt, moments_from)
            obs, (x, state) = optim.run_optimizer(
                opt, q.grad, x0, k, sigma=sigma_g, n_saves=n_saves, save_every=save_every,
                observe=lambda y: observe_x(y[0]), noise=noise, nu=nu, progress=progress)
            sums = state[2:] if moments_from is not None else ()
            return obs, x, sums
        sde = sdes.make(name, q.grad, hp_g, sigma_g, noise=noise, nu=nu)
        if moments_from is not None:
            # half a sub-step early, so that rounding of n * dt cannot drop step k0
            sde = _accumulate_moments_sde(sde, (moments_from - 0.5 / substeps) * hp_g["eta"])
        obs, y = integrate.euler_maruyama(
            sde, x0, k, dt=hp_g["eta"] / substeps, n_saves=n_saves,
            save_every=save_every * substeps, observe=lambda y: observe_x(y[0]),
            progress=progress)
        sums = y[-2:] if moments_from is not None else ()
        return obs, y[0], tuple(s / hp_g["eta"] for s in sums)

    G = sigma.shape[0]
    keys = jax.random.split(key, G * runs).reshape(G, runs)

    def per_grid(hp_g, sigma_g, keys_g):
        return jax.vmap(lambda k: one(hp_g, sigma_g, k))(keys_g)

    obs, x_final, sums = jax.vmap(per_grid)(hp, sigma, keys)
    out = {"loss": obs[0] if save_x else obs, "x_final": x_final}
    if save_x:
        out["x"] = obs[1]
    if moments_from is not None:
        n = n_saves * save_every - moments_from
        out["x_mean"], out["x2_mean"] = sums[0] / n, sums[1] / n
    return out


@partial(jax.jit, static_argnames=("name", "runs", "n_saves", "save_every", "substeps", "noise",
                                   "progress", "moments_from"))
def simulate_pair(lam, x0, hp, sigma, key, *, name: str, runs: int, n_saves: int,
                  save_every: int, substeps: int = 1, noise: str = "gaussian", nu=None,
                  progress: str | None = None, moments_from: int | None = None):
    r"""The convergence-in-dt check of SDE ``name``: :func:`adasde.integrate.solve_pair` at
    :math:`\Delta t = \eta/k` (``substeps`` k, the step of :func:`simulate`) and at
    :math:`\Delta t/2` on the same Brownian path, for every grid point and ``runs`` paths.

    Returns ``{"loss_coarse", "loss_fine"}`` (G, R, n_saves + 1) on the saved grid of
    :func:`simulate`, and with ``moments_from`` (a step index :math:`k_0`) also
    ``"x_mean_coarse"``, ``"x2_mean_coarse"``, ``"x_mean_fine"``, ``"x2_mean_fine"`` (G, R, d),
    each chain's time averages of :math:`X_t` and :math:`X_t^2` over
    :math:`[k_0\eta, N\eta)` on its own grid.
    """
    q = Quadratic(lam)

    def one(hp_g, sigma_g, k):
        sde = sdes.make(name, q.grad, hp_g, sigma_g, noise=noise, nu=nu)
        average = None
        if moments_from is not None:
            average = (lambda y: (y[0], y[0] * y[0]), moments_from * substeps)
        sol = integrate.solve_pair(
            sde, x0, k, dt=hp_g["eta"] / substeps, n_saves=n_saves,
            save_every=save_every * substeps, observe=lambda y: q.loss(y[0]), average=average,
            progress=progress)
        return sol.coarse.observations, sol.fine.observations, sol.coarse.average, \
            sol.fine.average

    G = sigma.shape[0]
    keys = jax.random.split(key, G * runs).reshape(G, runs)
    lc, lf, ac, af = jax.vmap(lambda h, s, kg: jax.vmap(lambda k: one(h, s, k))(kg))(
        hp, sigma, keys)
    out = {"loss_coarse": lc, "loss_fine": lf}
    if moments_from is not None:
        out["x_mean_coarse"], out["x2_mean_coarse"] = ac
        out["x_mean_fine"], out["x2_mean_fine"] = af
    return out


def _inputs(lam, x0, hp: dict, sigma, dtype):
    """The device inputs of :func:`simulate` and :func:`simulate_pair`: ``lam``, ``x0``
    broadcast to it, ``hp`` on the grid of ``sigma`` (:func:`hp_grid`) and ``sigma``, in
    ``dtype``."""
    sigma = jnp.asarray(sigma, dtype)
    lam = jnp.asarray(lam, dtype)
    x0 = jnp.broadcast_to(jnp.asarray(x0, dtype), lam.shape)
    return lam, x0, hp_grid(hp, sigma.shape[0], dtype), sigma


def run_pair(lam, x0, hp: dict, sigma, key, *, name, runs, n_saves, save_every, substeps=1,
             noise="gaussian", nu=None, dtype=jnp.float32, log=print,
             moments_from=None) -> dict:
    """Host wrapper of :func:`simulate_pair` (casts, logs, numpy arrays), as :func:`run`."""
    lam, x0, hp, sigma = _inputs(lam, x0, hp, sigma, dtype)
    G = sigma.shape[0]
    log(f"[adasde] sde {name}: convergence pair dt = eta/{substeps} and eta/{2 * substeps} on "
        f"the same Brownian paths, {G} grid points x {runs} paths")
    t0 = time.perf_counter()
    out = simulate_pair(lam, x0, hp, sigma, key, name=name, runs=runs,
                        n_saves=n_saves, save_every=save_every, substeps=substeps, noise=noise,
                        nu=nu, progress=f"sde {name} (dt pair)",
                        moments_from=None if moments_from is None else int(moments_from))
    out = {k: np.asarray(v) for k, v in jax.block_until_ready(out).items()}
    log(f"[adasde] sde {name}: convergence pair done in {time.perf_counter() - t0:.1f} s")
    return out


def pair_key(key):
    """The PRNG key of a job's convergence pair, independent of its main run's ``key``."""
    return jax.random.fold_in(key, stable_id("convergence"))


def _accumulate_moments(opt, k0: int):
    """Wrap ``opt`` so that its state also sums :math:`x_k` and :math:`x_k^2` over steps
    :math:`k \\ge k_0` (``update`` sees :math:`x_k` as ``params``); state ``(inner, k, s1, s2)``."""
    import optax

    def init(params):
        zeros = jnp.zeros_like(params)
        return (opt.init(params), jnp.zeros([], jnp.int32), zeros, zeros)

    def update(g, state, params=None):
        inner, k, s1, s2 = state
        u, inner = opt.update(g, inner, params)
        w = (k >= k0).astype(params.dtype)
        return u, (inner, k + 1, s1 + w * params, s2 + w * params * params)

    return optax.GradientTransformation(init, update)


def _accumulate_moments_sde(sde, t0):
    """Augment ``sde`` with two noiseless components whose drifts are :math:`X_t` and
    :math:`X_t^2` for :math:`t \\ge t_0`, so Euler-Maruyama sums them times ``dt``."""

    def init(x0):
        zeros = jnp.zeros_like(x0)
        return (*sde.init(x0), zeros, zeros)

    def drift(t, y):
        x = y[0]
        w = (t >= t0).astype(x.dtype)
        return (*sde.drift(t, y[:-2]), w * x, w * x * x)

    def diffusion(t, y):
        return (*sde.diffusion(t, y[:-2]), None, None)

    return sdes.SDE(init, drift, diffusion, sde.position)


def run(lam, x0, hp: dict, sigma, key, *, name, kind, runs, n_saves, save_every, substeps=1,
        noise="gaussian", nu=None, dtype=jnp.float32, log=print, save_x=False,
        moments_from=None) -> tuple[dict, float]:
    """Host wrapper of :func:`simulate`: casts inputs, logs what runs and how long it took, and
    returns numpy arrays plus the wall time in seconds (compilation included). ``save_x`` and
    ``moments_from`` are passed to :func:`simulate`."""
    if moments_from is not None and not 0 <= moments_from < n_saves * save_every:
        raise ValueError(f"moments_from must be a step index in [0, {n_saves * save_every}), "
                         f"got {moments_from}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    lam, x0, hp, sigma = _inputs(lam, x0, hp, sigma, dtype)
    G = sigma.shape[0]
    steps = n_saves * save_every
    log(f"[adasde] {kind} {name}: {G} grid points x {runs} runs, {steps} steps "
        f"(saved every {save_every}), d={lam.shape[0]}, device={jax.devices()[0].platform}")
    t0 = time.perf_counter()
    out = simulate(lam, x0, hp, sigma, key, name=name, kind=kind, runs=runs, n_saves=n_saves,
                   save_every=save_every, substeps=substeps, noise=noise, nu=nu,
                   progress=f"{kind} {name}", save_x=bool(save_x),
                   moments_from=None if moments_from is None else int(moments_from))
    out = {k: np.asarray(v) for k, v in jax.block_until_ready(out).items()}
    wall = time.perf_counter() - t0
    bad = ~np.isfinite(out["loss"][..., -1])
    log(f"[adasde] {kind} {name}: done in {wall:.1f} s; {int(bad.sum())} of {bad.size} runs "
        f"non-finite")
    return out, wall


def sigma_grid_job(config: dict, figure: str, optimizer: str, kind: str, out_path, *,
                   log=print, moments_from: int | None = None,
                   extra_arrays: dict | None = None) -> None:
    """The job of a figure whose section runs every optimizer over a grid of noise levels
    (keys problem, x0, batch_size, sigmas, iterations, save_every, runs, optimizers,
    sde_substeps, convergence_runs): run ``optimizer`` (kind ``optim``) or its SDE (kind
    ``sde``, ``sde_substeps`` Euler-Maruyama steps per optimizer step, plus
    :func:`convergence_pair`) for every sigma and save :func:`run`'s arrays plus ``sigmas``,
    ``iterations``, ``lam`` and ``extra_arrays`` at ``out_path``."""
    section = config[figure]
    if optimizer not in section["optimizers"]:
        raise ValueError(f"optimizer {optimizer!r} is not in config key {figure}.optimizers "
                         f"({', '.join(section['optimizers'])})")
    lam = spectrum(section)
    sigmas = np.asarray(section["sigmas"], float)
    sigma_eff = sigmas / np.sqrt(section["batch_size"])
    n_saves = section["iterations"] // section["save_every"]
    dtype = jobs.dtype_of(config)
    key = job_key(config["seed"], figure, optimizer, kind)
    out, wall = run(
        lam, section["x0"], section["optimizers"][optimizer], sigma_eff, key, name=optimizer,
        kind=kind, runs=section["runs"], n_saves=n_saves, save_every=section["save_every"],
        substeps=section.get("sde_substeps", 1) if kind == "sde" else 1, dtype=dtype, log=log,
        moments_from=moments_from)
    if kind == "sde":
        t_pair = time.perf_counter()
        out.update(convergence_pair(
            section, lam, section["x0"], section["optimizers"][optimizer], sigma_eff, key,
            name=optimizer, n_saves=n_saves, save_every=section["save_every"], dtype=dtype,
            log=log, moments_from=moments_from))
        wall += time.perf_counter() - t_pair  # the job's wall time includes its pair
    arrays = {
        **out,
        "sigmas": sigmas,
        "iterations": np.arange(n_saves + 1) * section["save_every"],
        "lam": lam,
        **(extra_arrays or {}),
    }
    jobs.save_artifact(config, section, out_path, arrays, name=f"{figure}/{optimizer}_{kind}",
                       wall_time_s=wall, extra={"optimizer": optimizer, "kind": kind}, log=log)


def convergence_pair(section: dict, lam, x0, hp: dict, sigma, key, *, name: str, n_saves: int,
                     save_every: int, noise: str = "gaussian", nu=None, dtype=np.float32,
                     log=print, moments_from: int | None = None) -> dict:
    """The arrays an SDE job adds for its convergence-in-dt claim: :func:`run_pair` at
    ``dt = eta / sde_substeps`` and half of it on ``convergence_runs`` paths of the section
    (key :func:`pair_key`), each output prefixed ``conv_`` (``conv_loss_coarse``,
    ``conv_loss_fine``, and with ``moments_from`` the moments)."""
    out = run_pair(lam, x0, hp, sigma, pair_key(key), name=name,
                   runs=section.get("convergence_runs", 16), n_saves=n_saves,
                   save_every=save_every, substeps=section.get("sde_substeps", 1), noise=noise,
                   nu=nu, dtype=dtype, log=log, moments_from=moments_from)
    return {f"conv_{k}": v for k, v in out.items()}


def common_checks(where: str, sim: dict) -> list[str]:
    """Cross-key checks every quadratic section shares (``where`` = "<section>.simulate"):
    ``lambda_min <= lambda_max`` and ``iterations`` a multiple of ``save_every``."""
    errors = []
    p = sim.get("problem")
    if isinstance(p, dict) and p["lambda_min"] > p["lambda_max"]:
        errors.append(f"config key '{where}.problem.lambda_min': {p['lambda_min']} exceeds "
                      f"lambda_max {p['lambda_max']}")
    if "iterations" in sim and "save_every" in sim and sim["iterations"] % sim["save_every"]:
        errors.append(f"config key '{where}.iterations': {sim['iterations']} is not a multiple "
                      f"of save_every {sim['save_every']}")
    return errors


def grid_bytes(points: int, runs: int, n_saves: int, d: int, *, states: int = 8,
               itemsize: int = 8) -> float:
    """Bytes of one vmapped quadratic job: the saved losses (points, runs, n_saves + 1) twice
    (device and host copy) plus ``states`` state vectors of size d per path, and as many
    increments."""
    return float(itemsize) * points * runs * (2 * (n_saves + 1) + 2 * states * d)


def sigma_grid_check(where: str, sim: dict) -> list[str]:
    """Checks of a sigma-grid section (noise_resilience, stationary): common checks and memory."""
    from adasde.limits import memory_errors

    errors = common_checks(where, sim)
    n_saves = sim["iterations"] // sim["save_every"]
    nbytes = grid_bytes(len(sim["sigmas"]), sim["runs"], n_saves, sim["problem"]["d"])
    errors += memory_errors(where, [(
        "per optimizer", nbytes,
        f"sigmas={len(sim['sigmas'])} x runs={sim['runs']} x (iterations/save_every="
        f"{n_saves} + problem.d={sim['problem']['d']})")])
    return errors
