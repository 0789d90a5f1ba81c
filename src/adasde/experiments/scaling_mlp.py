r"""Figure ``scaling_mlp``: the batch-size scaling rules (:mod:`adasde.scaling`) beyond the
quadratic: minibatch AdamW training an MLP on scikit-learn's bundled digits data (no download).

For every :math:`\delta` of the section the base hyper-parameters are rescaled by each rule
and AdamW runs with minibatches of :math:`\delta B` rows drawn with replacement, i.e. the
gradient noise has covariance :math:`\Sigma/(\delta B)` as in the theory. Each run draws its
minibatch indices per step with ``jax.random`` from its own key, inside one ``lax.scan``
(:func:`adasde.integrate.scan_blocks`), vmapped over rules and runs; a run at :math:`\delta`
takes ``samples/(delta*B)`` steps and records the full-batch training loss and the held-out
loss every ``save_samples`` samples, so every curve shares one grid of samples seen. Every run
starts from the same initial network (drawn from the config seed), and for one :math:`\delta`
the runs of all rules share their minibatch streams (paired comparison).

Artifact ``results/scaling_mlp/adamw.npz``: ``train_loss`` and ``test_loss`` (rule, delta, run,
saved point), ``defined`` (rule, delta), ``samples``, ``hp_<key>`` (rule, delta).
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from adasde import data, integrate, jobs, nets, optim, scaling
from adasde.experiments import quadratic

SECTION = "scaling_mlp"
FIGURE = "scaling_mlp"
HP_KEYS = scaling.HP_KEYS


def points(section: dict) -> tuple[list[str], list[float], dict, np.ndarray]:
    """Rules, deltas, rescaled hyper-parameters ``(n_rule, n_delta)`` and ``defined``
    (:func:`adasde.scaling.scale_grid` around the one base point of the section)."""
    b = section["base"]
    base = scaling.base_point(b, b["beta1"], b["beta2"], section["batch_size"])
    rules, deltas = list(section["rules"]), [float(d) for d in section["deltas"]]
    hp, defined, _ = scaling.scale_grid((rules, deltas), lambda rule, d: (rule, base, d))
    return rules, deltas, hp, defined


def build(section: dict, seed: int) -> nets.NetProblem:
    """The dataset and network of the section (initialised from ``seed``)."""
    ds = data.load(section["dataset"], seed, test_fraction=section["test_fraction"])
    key = quadratic.job_key(seed, FIGURE, "init")
    return nets.build_problem("mlp", ds, key, widths=tuple(section["widths"]),
                              activation=section["activation"])


def make_train(problem: nets.NetProblem):
    """The jitted :func:`train` for ``problem`` (closed over: its data are constants)."""
    return jax.jit(partial(train, problem),
                   static_argnames=("batch", "n_saves", "save_every", "progress"))


def train(problem: nets.NetProblem, hp: dict, keys, *, batch: int, n_saves: int,
          save_every: int, progress: str | None = None):
    r"""Minibatch AdamW (:func:`adasde.optim.adamw`, decoupled decay :math:`-\eta\theta x`) on
    ``problem`` for every grid point ``hp[k][g]`` and run key ``keys[r]`` (shared by all grid
    points): ``n_saves * save_every`` steps of ``batch`` rows drawn with replacement.
    Returns ``(train_loss, test_loss)``, each ``(G, R, n_saves + 1)``."""

    def one(hp_g, key):
        opt = optim.adamw(hp_g["eta"], hp_g["beta1"], hp_g["beta2"], hp_g["eps"],
                          hp_g["theta"])
        grad = jax.grad(problem.minibatch_loss)

        def step(n, y, idx):
            params, state = y
            u, state = opt.update(grad(params, idx), state, params)
            return optax.apply_updates(params, u), state

        def draw(k, n):
            return jax.random.randint(k, (n, batch), 0, problem.n_train)

        def observe(y):
            return problem.loss(y[0]), problem.test_loss(y[0])

        y0 = (problem.params0, opt.init(problem.params0))
        obs, _ = integrate.scan_blocks(step, y0, key, draw, n_saves=n_saves,
                                       save_every=save_every, observe=observe,
                                       progress=progress)
        return obs

    per_point = jax.vmap(lambda hp_g: jax.vmap(lambda k: one(hp_g, k))(keys))
    return per_point(hp)


def simulate_job(config: dict, out_path, log=print) -> None:
    """Train for every rule and delta of ``scaling_mlp`` and save the artifact at ``out_path``."""
    section = config[SECTION]
    rules, deltas, hp, defined = points(section)
    problem = build(section, config["seed"])
    B = section["batch_size"]
    n_saves = section["samples"] // section["save_samples"]
    R = section["runs"]
    shape = (len(rules), len(deltas), R, n_saves + 1)
    train_loss, test_loss = np.full(shape, np.nan), np.full(shape, np.nan)
    log(f"[adasde] scaling_mlp: {problem.name}, {problem.n_params} parameters, "
        f"n_train={problem.n_train}; rules {rules}, deltas {deltas}, {R} runs, "
        f"{section['samples']} samples each, device={jax.devices()[0].platform}")
    run = make_train(problem)
    t0 = time.perf_counter()
    for k, d in enumerate(deltas):
        rows = np.flatnonzero(defined[:, k])
        if rows.size == 0:
            log(f"[adasde] delta={d:g}: every rule undefined, skipped")
            continue
        batch = int(round(d * B))
        save_every = section["save_samples"] // batch
        hp_k = {key: jnp.asarray(hp[key][rows, k], jnp.float32)
                for key in ("eta", "beta1", "beta2", "eps", "theta")}
        keys = jax.random.split(quadratic.job_key(config["seed"], FIGURE, f"delta{d:g}"), R)
        t1 = time.perf_counter()
        tr, te = run(hp_k, keys, batch=batch, n_saves=n_saves,
                       save_every=save_every, progress=f"scaling_mlp delta={d:g}")
        train_loss[rows, k], test_loss[rows, k] = np.asarray(tr), np.asarray(te)
        bad = int((~np.isfinite(train_loss[rows, k, :, -1])).sum())
        log(f"[adasde] delta={d:g}: batch {batch}, {n_saves * save_every} steps x "
            f"{rows.size} rules x {R} runs in {time.perf_counter() - t1:.1f} s; "
            f"{bad} runs non-finite")
    wall = time.perf_counter() - t0
    arrays = {
        "train_loss": train_loss.astype(np.float32),
        "test_loss": test_loss.astype(np.float32),
        "defined": defined,
        "rules": np.asarray(rules),
        "deltas": np.asarray(deltas),
        "samples": np.arange(n_saves + 1) * section["save_samples"],
        **{f"hp_{k}": hp[k] for k in HP_KEYS},
    }
    jobs.save_artifact(config, section, out_path, arrays, name=f"{FIGURE}/adamw",
                       wall_time_s=wall, extra={"optimizer": "adamw", "problem": problem.name,
                                                "n_params": problem.n_params}, log=log)


def check(section: dict) -> list[str]:
    """Cross-key checks of ``scaling_mlp`` (the reference delta 1, the save grid) and memory."""
    from adasde.experiments.scaling import _samples_errors
    from adasde.limits import memory_errors

    sim, where = section["simulate"], f"{SECTION}.simulate"
    errors = _samples_errors(where, sim, sim["batch_size"])
    widths = [64, *sim.get("widths", [32]), 10]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    paths = len(sim["rules"]) * sim["runs"]
    n_saves = sim["samples"] // sim["save_samples"]
    batch = max(sim["deltas"]) * sim["batch_size"]
    nbytes = 4.0 * paths * (6 * n_params + 2 * (n_saves + 1) + batch * 64)
    errors += memory_errors(where, [(
        "scaling_mlp_train", nbytes,
        f"rules={len(sim['rules'])} x runs={sim['runs']} x ({n_params} parameters from widths "
        f"+ samples/save_samples={n_saves} + max(deltas)*batch_size={batch} rows)")])
    return errors
