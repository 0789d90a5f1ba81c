r"""Figures ``sde_tracking_<arch>``: do the SDEs track SignSGD, RMSpropW and AdamW on neural
networks, and better than Malladi et al.'s SDEs? (docs/paper.md 5 [V abstract]: "Our SDEs
accurately track the behavior of the respective optimizers, especially when compared to
previous SDEs derived for Adam and RMSprop".)

Setting (docs/paper.md 5 [V reviewer 2]): the full-batch gradient of a network plus injected
Gaussian noise of known covariance :math:`\sigma^2 I`, so the SDEs know :math:`\Sigma`:

* ``optim``: the optimizer on :math:`\nabla f(x_k) + \sigma z_k`
  (:func:`adasde.optim.run_optimizer`);
* ``sde``: our SDE (:func:`adasde.sdes.signsgd_sde`, :func:`~adasde.sdes.rmspropw_sde`,
  :func:`~adasde.sdes.adamw_sde`) by Euler-Maruyama with :math:`\Delta t = \eta/k`
  (:math:`k` = ``sde_substeps``, default 1; saved every ``k * save_every`` SDE steps, i.e. at
  the optimizer's iterations) on the same network's full-batch gradient
  (:func:`adasde.integrate.euler_maruyama`);
* ``ode``: the drift of our SDE without its diffusion (:func:`scale_diffusion` at 0), a
  deterministic ODE integrated by the same Euler scheme; one path. It is the alternative the tracking claims
  must rule out: it shares the SDE's drift (including the noise's effect on it, e.g.
  SignSGD's :math:`\mathrm{erf}` and the :math:`\mathrm{diag}\,\Sigma` in :math:`V`) and lacks
  only the diffusion, so the across-seed spread of its loss is zero;
* ``malladi``: Malladi et al.'s SDE in our time units (:func:`adasde.sdes.malladi_rmsprop_sde`,
  :func:`~adasde.sdes.malladi_adam_sde`), for RMSprop(W) and Adam(W) only. Malladi et al. have
  no decoupled weight decay; for RMSpropW/AdamW we add the same :math:`-\theta X_t\,dt` as ours
  (our extension, stated in the figure). Same step :math:`\Delta t = \eta/k` as ours;
* the **convergence pair** of our SDE (no pair for Malladi's: the jobs are the pipeline's most
  expensive): :func:`adasde.integrate.solve_pair` at :math:`\Delta t = \eta/k` and
  :math:`\Delta t/2` on one Brownian path, on :math:`P = \min(` ``convergence_runs``,
  ``seeds`` :math:`)` paths (a ``convergence_runs`` above the job's seeds is clamped, and the
  job says so), key :func:`adasde.experiments.quadratic.pair_key` of the SDE's job key
  (independent of the main paths), the same observation (the full-batch loss). It costs
  about :math:`3P` gradient evaluations per step (one coarse, two fine), against
  :math:`S + 1` for our SDE's main run.

Every run starts from the same initial parameters; the optimizer's runs and each SDE's paths
use independent noise (weak, not pathwise, comparison). The parameters are one flat vector
(:func:`adasde.nets.flatten_problem`), so each step draws its noise in one PRNG call.

One job per architecture writes ``results/sde_tracking_<arch>/tracking.npz`` with
``loss_<optimizer>_<kind>`` (seeds, n_saves + 1) (full-batch training loss at the saved
iterations; ``loss_<optimizer>_ode`` has one row: the ODE is deterministic) and
``iterations``, plus per optimizer with our SDE the pair's ``conv_loss_<optimizer>_coarse``
and ``conv_loss_<optimizer>_fine`` (P, n_saves + 1) (the loss of each coupled path at the same
saved iterations); its ``meta.json`` holds the wall times (``timings``: compile and run seconds
per optimizer and kind, ``<optimizer>_sde_pair`` for the pair; ``wall_time_s``,
``cpu_time_s``; ``convergence_runs_requested``), which would make the
``.npz`` differ between identical runs. The seeds of one (optimizer, kind) run as one compiled
program: ``jax.vmap`` over seeds, or, where ``seed_batch`` > 0, ``jax.lax.map`` over chunks of
``seed_batch`` vmapped seeds (the conv nets on CPU: XLA:CPU runs vmapped convolutions as slow
grouped convolutions).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from adasde import artifacts, data, integrate, nets, optim, sdes
from adasde.experiments.quadratic import job_key, pair_key

FIGURE = "sde_tracking"
KINDS = ("optim", "sde", "ode", "malladi")
MALLADI = {
    "rmsprop": "malladi_rmsprop",
    "rmspropw": "malladi_rmsprop",
    "adam": "malladi_adam",
    "adamw": "malladi_adam",
}


def figure_name(arch: str) -> str:
    """``sde_tracking_<arch>`` (the figure, results folder and notebook run of ``arch``)."""
    return f"{FIGURE}_{arch}"


def kinds_for(optimizer: str) -> tuple[str, ...]:
    """The runs made for ``optimizer``: the optimizer, our SDE, its drift-only ODE and, for
    RMSprop(W)/Adam(W), Malladi et al.'s SDE."""
    base = ("optim", "sde", "ode")
    return (*base, "malladi") if optimizer in MALLADI else base


def sde_name(optimizer: str, kind: str) -> str:
    """The :data:`adasde.sdes.SDE_NAMES` entry of run ``kind`` for ``optimizer``."""
    if kind in ("sde", "ode"):
        return optimizer
    if kind == "malladi":
        if optimizer not in MALLADI:
            raise ValueError(f"Malladi et al. give no SDE for {optimizer!r}; "
                             f"allowed: {', '.join(MALLADI)}")
        return MALLADI[optimizer]
    raise ValueError(f"kind {kind!r} is not an SDE; allowed: sde, ode, malladi")


def scale_diffusion(sde: sdes.SDE, scale) -> sdes.SDE:
    r"""``sde`` with its diffusion multiplied by ``scale`` (a scalar, possibly traced). At
    ``scale = 0`` this is the drift-only ODE :math:`dY_t = b(t, Y_t)\,dt`: the Euler-Maruyama
    step adds exactly ``0 * dW`` to the explicit Euler step, so the ODE can share one compiled
    program with the SDE's paths (:func:`simulate_job`). The SDE's combined
    ``drift_diffusion`` (one gradient evaluation per step) is kept."""
    def scaled(g):
        return tuple(None if gi is None else jax.tree_util.tree_map(lambda a: scale * a, gi)
                     for gi in g)

    def diffusion(t, y):
        return scaled(sde.diffusion(t, y))

    drift_diffusion = None
    if sde.drift_diffusion is not None:
        def drift_diffusion(t, y):
            b, g = sde.drift_diffusion(t, y)
            return b, scaled(g)

    return sde._replace(diffusion=diffusion, drift_diffusion=drift_diffusion)


def arch_settings(section: dict, arch: str) -> dict:
    """The resolved settings of architecture ``arch``: its ``archs`` entry, with ``optimizers``
    = the section's optimizers updated by the entry's own (an entry replaces the whole
    optimizer), ``seeds``, the section's ``sde_substeps`` (default 1) and ``convergence_runs``
    clamped to the seeds (:math:`P = \\min(` ``convergence_runs``, ``seeds`` :math:`)`, default
    16 requested). This is what the job's provenance records."""
    if arch not in section["archs"]:
        raise ValueError(f"architecture {arch!r} is not in config key {FIGURE}.archs "
                         f"({', '.join(section['archs'])})")
    spec = dict(section["archs"][arch])
    spec["optimizers"] = {**section["optimizers"], **spec.get("optimizers", {})}
    spec.setdefault("seeds", section["seeds"])
    spec["sde_substeps"] = int(section.get("sde_substeps", 1))
    spec["convergence_runs"] = min(int(section.get("convergence_runs", 16)), int(spec["seeds"]))
    return spec


def build_problem(spec: dict, seed: int) -> nets.NetProblem:
    """The flat-parameter :class:`~adasde.nets.NetProblem` of a resolved arch ``spec``: data
    ``spec["dataset"]`` (split seed ``seed``) and network ``spec["arch"]`` initialised from
    ``job_key(seed, FIGURE, arch, dataset, "init")``."""
    ds = data.load(spec["dataset"], seed, **spec.get("data", {}))
    key = job_key(seed, FIGURE, spec["arch"], spec["dataset"], "init")
    net_kw = dict(spec.get("net", {}))
    if "widths" in net_kw:
        net_kw["widths"] = tuple(net_kw["widths"])
    return nets.flatten_problem(nets.build_problem(spec["arch"], ds, key, **net_kw))


def simulate(problem: nets.NetProblem, optimizer: str, kind: str, hp: dict, sigma: float,
             keys, *, n_saves: int, save_every: int, seed_batch: int = 0,
             noise_scale=None, substeps: int = 1, progress: str | None = None):
    """Full-batch training loss at the saved iterations of one run per key: the optimizer
    (``kind="optim"``), an SDE (``"sde"``, ``"malladi"``) with Euler-Maruyama step
    :math:`\\Delta t = \\eta/k` (``substeps`` k; saved every ``k * save_every`` steps, at the
    same times :math:`t = j\\,\\eta\\,` ``save_every`` as the optimizer), or our SDE's
    drift-only ODE (``"ode"``: the same scheme with the diffusion set to zero; deterministic,
    so one key suffices). ``substeps`` does not apply to the optimizer. For an SDE,
    ``noise_scale`` (one value per key) multiplies the diffusion of each path
    (:func:`scale_diffusion`): a 0 makes that path the ODE. All keys form one compiled program:
    ``jax.vmap`` over them, or, for ``0 < seed_batch < len(keys)``, ``jax.lax.map`` over chunks
    of ``seed_batch`` vmapped keys. Returns ``(loss (len(keys), n_saves + 1), compile_s,
    run_s)``."""
    grad = jax.grad(problem.loss)
    x0 = problem.params0
    if int(substeps) < 1:
        raise ValueError(f"substeps must be a positive integer, got {substeps!r}")

    def observe(y):
        return problem.loss(y[0])

    n = keys.shape[0]
    if kind == "ode":
        noise_scale = np.zeros(n)
    elif kind == "optim" and noise_scale is not None:
        raise ValueError("noise_scale applies to the SDEs only")

    def one(args):
        key, scale = args
        if kind == "optim":
            opt = optim.make(optimizer, hp)
            obs, _ = optim.run_optimizer(opt, grad, x0, key, sigma=sigma, n_saves=n_saves,
                                         save_every=save_every, observe=observe,
                                         progress=progress)
        else:
            sde = sdes.make(sde_name(optimizer, kind), grad, hp, sigma)
            if scale is not None:
                sde = scale_diffusion(sde, scale)
            obs, _ = integrate.euler_maruyama(sde, x0, key, dt=hp["eta"] / substeps,
                                              n_saves=n_saves, save_every=save_every * substeps,
                                              observe=observe, progress=progress)
        return obs

    scales = None if noise_scale is None else jnp.asarray(noise_scale, problem.params0.dtype)
    if scales is not None and scales.shape != (n,):
        raise ValueError(f"noise_scale needs one value per key ({n}), got shape {scales.shape}")
    return _compile_and_run(one, (keys, scales), n, seed_batch)


def _compile_and_run(one, args, n: int, seed_batch: int):
    """``one`` over the leading axis (length ``n``) of ``args`` as one compiled program
    (``jax.vmap``, or ``jax.lax.map`` over chunks of ``seed_batch``); returns
    ``(numpy result, compile_s, run_s)``."""
    if seed_batch and seed_batch < n:
        def batched(a):
            return jax.lax.map(one, a, batch_size=seed_batch)
    else:
        batched = jax.vmap(one)
    start = time.perf_counter()
    compiled = jax.jit(batched).lower(args).compile()
    mid = time.perf_counter()
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(compiled(args)))
    return out, mid - start, time.perf_counter() - mid


def simulate_pair(problem: nets.NetProblem, optimizer: str, hp: dict, sigma: float, keys, *,
                  n_saves: int, save_every: int, substeps: int = 1, seed_batch: int = 0,
                  progress: str | None = None):
    r"""The convergence-in-dt pair of our SDE for ``optimizer``: one coupled path per key by
    :func:`adasde.integrate.solve_pair`, Euler-Maruyama at :math:`\Delta t = \eta/k`
    (``substeps`` k, the step of :func:`simulate`'s ``"sde"`` run) and at :math:`\Delta t/2`
    on the same Brownian path (the :math:`\Delta t` increment is the sum of the two
    :math:`\Delta t/2` ones), both observed (full-batch loss) at the optimizer's saved
    iterations :math:`j\,` ``save_every``. Batching over keys as :func:`simulate`. Returns
    ``(coarse, fine, compile_s, run_s)`` with ``coarse``, ``fine`` (len(keys), n_saves + 1)."""
    if int(substeps) < 1:
        raise ValueError(f"substeps must be a positive integer, got {substeps!r}")
    grad = jax.grad(problem.loss)
    x0 = problem.params0
    sde = sdes.make(sde_name(optimizer, "sde"), grad, hp, sigma)

    def observe(y):
        return problem.loss(y[0])

    def one(key):
        sol = integrate.solve_pair(sde, x0, key, dt=hp["eta"] / substeps, n_saves=n_saves,
                                   save_every=save_every * substeps, observe=observe,
                                   progress=progress)
        return sol.coarse.observations, sol.fine.observations

    (coarse, fine), comp, run = _compile_and_run(one, keys, keys.shape[0], seed_batch)
    return coarse, fine, comp, run


def simulate_job(config: dict, arch: str, out_path, log=print) -> None:
    """Run every optimizer of the section on architecture ``arch`` with its SDEs (``seeds``
    runs/paths each, :math:`\\Delta t = \\eta/` ``sde_substeps``) and our SDE's drift-only ODE
    (one path, compiled with our SDE's paths: the same program with one extra path whose
    diffusion is scaled by 0; its timings are those of ``<opt>_sde``), plus our SDE's
    convergence pair (:func:`simulate_pair` on ``min(convergence_runs, seeds)`` paths, key
    :func:`~adasde.experiments.quadratic.pair_key` of the SDE's key), and save the artifact
    at ``out_path``."""
    section = config[FIGURE]
    spec = arch_settings(section, arch)
    seed = config["seed"]
    n_saves = spec["iterations"] // spec["save_every"]
    substeps, pair_runs = spec["sde_substeps"], spec["convergence_runs"]
    requested = int(section.get("convergence_runs", 16))
    x64 = config.get("dtype") == "float64"
    job_start, cpu_start = time.perf_counter(), time.process_time()
    arrays = {"iterations": np.arange(n_saves + 1) * spec["save_every"]}
    timings = {}
    with jax.enable_x64(x64):
        problem = build_problem(spec, seed)
        if x64:
            problem = problem._replace(params0=problem.params0.astype(jnp.float64))
        log(f"[adasde] {figure_name(arch)}: {problem.name}, {problem.n_params} parameters, "
            f"{problem.n_train} training rows, sigma={spec['sigma']:g}, "
            f"{spec['iterations']} iterations, {spec['seeds']} seeds; SDEs at dt = eta/"
            f"{substeps}, convergence pair (dt, dt/2) on {pair_runs} paths")
        if requested > pair_runs:
            log(f"[adasde] {figure_name(arch)}: convergence_runs = {requested} exceeds the "
                f"job's {spec['seeds']} seeds; clamped: the pair runs {pair_runs} paths")
        for opt, hp in spec["optimizers"].items():
            for kind in kinds_for(opt):
                if kind == "ode":
                    continue  # simulated with "sde" below
                keys = jax.random.split(job_key(seed, FIGURE, arch, opt, kind), spec["seeds"])
                scale = None
                if kind == "sde":
                    keys = jnp.concatenate([keys, job_key(seed, FIGURE, arch, opt, "ode")[None]])
                    scale = np.r_[np.ones(spec["seeds"]), 0.0]
                loss, comp, run = simulate(
                    problem, opt, kind, hp, spec["sigma"], keys, n_saves=n_saves,
                    save_every=spec["save_every"], seed_batch=spec.get("seed_batch", 0),
                    noise_scale=scale, substeps=1 if kind == "optim" else substeps)
                if kind == "sde":
                    loss, arrays[f"loss_{opt}_ode"] = loss[:-1], loss[-1:]
                arrays[f"loss_{opt}_{kind}"] = loss
                timings[f"{opt}_{kind}"] = {"compile_s": comp, "run_s": run}
                bad = int((~np.isfinite(loss)).any(axis=1).sum())
                log(f"[adasde] {arch}/{opt}/{kind}: compile {comp:.1f} s, run {run:.1f} s "
                    f"({1e3 * run / (spec['iterations'] * keys.shape[0]):.3f} ms per "
                    f"path-step); final loss {np.nanmean(loss[:, -1]):.4g}"
                    + (f"; {bad} paths diverged" if bad else "")
                    + (f"; ODE {float(arrays[f'loss_{opt}_ode'][0, -1]):.4g}"
                       if kind == "sde" else ""))
                if kind == "sde":
                    pkeys = jax.random.split(pair_key(job_key(seed, FIGURE, arch, opt, kind)),
                                             pair_runs)
                    coarse, fine, comp, run = simulate_pair(
                        problem, opt, hp, spec["sigma"], pkeys, n_saves=n_saves,
                        save_every=spec["save_every"], substeps=substeps,
                        seed_batch=spec.get("seed_batch", 0))
                    arrays[f"conv_loss_{opt}_coarse"] = coarse
                    arrays[f"conv_loss_{opt}_fine"] = fine
                    timings[f"{opt}_sde_pair"] = {"compile_s": comp, "run_s": run}
                    with np.errstate(invalid="ignore"):
                        move = float(np.nanmean(coarse[:, -1] - fine[:, -1]))
                    log(f"[adasde] {arch}/{opt}/sde dt pair (eta/{substeps}, "
                        f"eta/{2 * substeps}; {pair_runs} paths): compile {comp:.1f} s, run "
                        f"{run:.1f} s; final loss {np.nanmean(fine[:, -1]):.4g} at dt/2, "
                        f"coarse - fine {move:.3g}")
    wall, cpu = time.perf_counter() - job_start, time.process_time() - cpu_start
    meta = artifacts.provenance(spec, seed, dtype=config.get("dtype", "float32"),
                                name=f"{figure_name(arch)}/tracking",
                                wall_time_s=wall,
                                extra={"arch": arch, "problem": problem.name, "cpu_time_s": cpu,
                                       "timings": timings,
                                       "convergence_runs_requested": requested,
                                       "n_params": problem.n_params,
                                       "n_train": problem.n_train})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path} (wall {wall:.1f} s, process CPU {cpu:.1f} s)")


_TRACKING_DATASETS = {"mlp": ("digits", "breast_cancer"), "cnn": ("digits",),
                      "resnet": ("digits",), "transformer": ("sequence",)}
_TRACKING_NET_KEYS = {"mlp": ("widths", "activation"), "cnn": ("channels",),
                      "resnet": ("channels", "n_blocks"),
                      "transformer": ("d_model", "num_heads", "n_blocks", "d_hidden")}
_TRACKING_DATA_KEYS = {"digits": ("test_fraction", "n_train"),
                       "breast_cancer": ("test_fraction", "n_train"),
                       "sequence": ("n_train", "n_test", "seq_len", "vocab")}


def check(section: dict) -> list[str]:
    """Cross-key checks of ``sde_tracking`` (and the memory of its saved losses): per
    architecture, ``iterations`` a multiple of ``save_every``, a dataset the network takes,
    and network/data keywords that apply to it."""
    from adasde.limits import memory_errors

    errors = []
    sec = section["simulate"]
    jobs_mem = []
    for name, a in sec["archs"].items():
        where = f"sde_tracking.simulate.archs.{name}"
        seeds = a.get("seeds", sec["seeds"])
        pair = min(sec.get("convergence_runs", 16), seeds)
        n_saves = a["iterations"] // a["save_every"]
        jobs_mem.append((f"sde_tracking_simulate[{name}]",
                         8.0 * (4 * seeds + 2 * pair) * (n_saves + 1),
                         f"(4 x seeds={seeds} + 2 x pair paths={pair}) x "
                         f"iterations/save_every={n_saves}"))
        if a["iterations"] % a["save_every"]:
            errors.append(f"config key '{where}.iterations': {a['iterations']} is not a multiple "
                          f"of save_every {a['save_every']}")
        if a["dataset"] not in _TRACKING_DATASETS[a["arch"]]:
            errors.append(f"config key '{where}.dataset': {a['dataset']!r} does not fit arch "
                          f"{a['arch']!r}; allowed: {', '.join(_TRACKING_DATASETS[a['arch']])}")
        for key in a.get("net", {}):
            if key not in _TRACKING_NET_KEYS[a["arch"]]:
                errors.append(f"config key '{where}.net.{key}': not a parameter of arch "
                              f"{a['arch']!r}; allowed: {', '.join(_TRACKING_NET_KEYS[a['arch']])}")
        net = a.get("net", {})
        if "d_model" in net or "num_heads" in net:
            d, h = net.get("d_model", 32), net.get("num_heads", 2)
            if d % h:
                errors.append(f"config key '{where}.net.d_model': {d} is not divisible by "
                              f"num_heads {h}")
        for key in a.get("data", {}):
            if key not in _TRACKING_DATA_KEYS[a["dataset"]]:
                errors.append(f"config key '{where}.data.{key}': not a parameter of dataset "
                              f"{a['dataset']!r}; allowed: "
                              f"{', '.join(_TRACKING_DATA_KEYS[a['dataset']])}")
    errors += memory_errors("sde_tracking.simulate", jobs_mem)
    return errors


