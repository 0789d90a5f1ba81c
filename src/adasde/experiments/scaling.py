r"""Figures ``scaling_beta_grid`` and ``scaling_curves``: batch-size scaling rules
(:mod:`adasde.scaling`) on the quadratic with Gaussian noise (docs/paper.md section 4).

* ``scaling_beta_grid``: for every base :math:`(\beta_1, \beta_2)` of the grid, every
  :math:`\delta` and every rule, AdamW (kind ``optim``) or its eq. (2) SDE (kind ``sde``) at the
  rescaled hyper-parameters and effective noise :math:`\sigma/\sqrt{\delta B}`. The whole grid
  (bases x deltas x rules, runs) is ONE vmapped call of :func:`adasde.experiments.quadratic.run`
  per kind; every point takes the same number of steps, so its SDE horizon
  :math:`t = k\eta'` grows with :math:`\eta' = \sqrt\delta\,\eta` (every point runs at least the
  base horizon). Points where a rule sends a beta outside (0, 1) are not simulated: their losses
  are NaN and ``defined`` is False in the artifact. The SDE takes ``grid.sde_substeps``
  Euler-Maruyama steps :math:`\Delta t = \eta'/k` per optimizer step (k = ``sde_substeps``)
  and adds the coupled pair of :func:`adasde.experiments.quadratic.convergence_pair`
  (:math:`\Delta t` and :math:`\Delta t/2` on the same Brownian path, ``grid.convergence_runs``
  paths) behind the figure's convergence-in-dt claims.
* ``scaling_curves``: one base setting, loss against samples seen (iterations x batch size) for
  each optimizer, rule and :math:`\delta`; a run at :math:`\delta` takes ``samples/(delta*B)``
  steps and saves every ``save_samples/(delta*B)`` steps, so all curves share one samples grid.
  One vmapped call (over rules x runs) per :math:`\delta` (sizes are static).

Artifacts: ``results/scaling_beta_grid/adamw_<kind>.npz`` with ``loss`` (beta1, beta2, delta,
rule, run, saved step), ``defined`` (beta1, beta2, delta, rule), the rescaled hyper-parameters
``hp_<key>`` on the same grid, ``iterations``, ``lam``, and for the SDE ``conv_loss_coarse`` and
``conv_loss_fine`` (beta1, beta2, delta, rule, convergence path, saved step; NaN at undefined
points); ``results/scaling_curves/<optimizer>.npz``
with ``loss`` (rule, delta, run, saved point), ``defined`` (rule, delta), ``samples``.
"""

from __future__ import annotations

import time

import numpy as np

from adasde import jobs, scaling
from adasde.experiments import quadratic
from adasde.experiments.quadratic import spectrum

SECTION = "scaling"
GRID_FIGURE = "scaling_beta_grid"
CURVES_FIGURE = "scaling_curves"
HP_KEYS = scaling.HP_KEYS  # (eta, beta1, beta2, eps, theta, B)
# The hyper-parameters each optimizer uses (a rule's verdict on an unused beta is irrelevant).
USED_KEYS = {
    "adamw": HP_KEYS,
    "adam": ("eta", "beta1", "beta2", "eps", "B"),
    "rmspropw": ("eta", "beta2", "eps", "theta", "B"),
    "rmsprop": ("eta", "beta2", "eps", "B"),
    "signsgd": ("eta", "B"),
    "sgd": ("eta", "B"),
}


def base_hp(section: dict, beta1: float, beta2: float) -> dict:
    """The base hyper-parameters (eta, beta1, beta2, eps, theta, B) of one grid point
    (:func:`adasde.scaling.base_point`)."""
    return scaling.base_point(section["base"], beta1, beta2, section["batch_size"])


def grid_points(section: dict) -> tuple[dict, np.ndarray]:
    """Rescaled hyper-parameters of every (beta1, beta2, delta, rule) point: a dict of arrays
    of shape ``(n_beta1, n_beta2, n_delta, n_rule)`` and the boolean ``defined`` mask
    (:func:`adasde.scaling.scale_grid`)."""
    g = section["grid"]
    hp, defined, _ = scaling.scale_grid(
        (g["beta1"], g["beta2"], g["deltas"], g["rules"]),
        lambda b1, b2, d, rule: (rule, base_hp(section, b1, b2), d))
    return hp, defined


def _fill(values: np.ndarray, idx: np.ndarray, shape: tuple) -> np.ndarray:
    """Scatter per-defined-point ``values`` (n_defined, ...) into the grid ``shape`` + the
    trailing axes, NaN at the undefined points."""
    out = np.full((int(np.prod(shape)),) + values.shape[1:], np.nan, values.dtype)
    out[idx] = values
    return out.reshape(shape + values.shape[1:])


def simulate_grid_job(config: dict, kind: str, out_path, log=print) -> None:
    r"""AdamW (``kind='optim'``) or its SDE (``'sde'``) on the whole beta grid x deltas x rules,
    as one vmapped call; writes the ``scaling_beta_grid`` artifact at ``out_path``.

    The SDE is integrated by Euler-Maruyama at :math:`\Delta t = \eta'/k` for each point's
    rescaled :math:`\eta'` (k = ``grid.sde_substeps``, saved at the optimizer's steps
    :math:`t = n\eta'`) and also as the coupled pair at :math:`\Delta t` and :math:`\Delta t/2`
    on ``grid.convergence_runs`` shared Brownian paths (key
    :func:`adasde.experiments.quadratic.pair_key` of the job's key): arrays ``conv_loss_coarse``
    and ``conv_loss_fine``. The pair does not touch the main run (its own key): with k = 1 the
    ``loss`` array is the one the job wrote before the pair existed."""
    section = config[SECTION]
    g = section["grid"]
    lam = spectrum(section)
    hp, defined = grid_points(section)
    idx = np.flatnonzero(defined.ravel())
    n_undef = defined.size - idx.size
    log(f"[adasde] scaling grid: {defined.size} points, {n_undef} undefined (a beta outside "
        f"(0, 1)) and skipped")
    flat = {k: hp[k].ravel()[idx] for k in HP_KEYS}
    sigma_eff = section["sigma"] / np.sqrt(flat["B"])
    n_saves = g["iterations"] // g["save_every"]
    key = quadratic.job_key(config["seed"], GRID_FIGURE, "adamw", kind)
    flat_hp = {k: flat[k] for k in quadratic.HP_KEYS}
    substeps = int(g.get("sde_substeps", 1)) if kind == "sde" else 1
    out, wall = quadratic.run(
        lam, section["x0"], flat_hp, sigma_eff, key,
        name="adamw", kind=kind, runs=g["runs"], n_saves=n_saves, save_every=g["save_every"],
        substeps=substeps, dtype=jobs.dtype_of(config), log=log)
    conv = {}
    extra = {}
    if kind == "sde":
        t0 = time.perf_counter()
        pair = quadratic.convergence_pair(
            g, lam, section["x0"], flat_hp, sigma_eff, key, name="adamw", n_saves=n_saves,
            save_every=g["save_every"], dtype=jobs.dtype_of(config), log=log)
        pair_wall = time.perf_counter() - t0
        conv = {k: _fill(v, idx, defined.shape) for k, v in pair.items()}
        extra = {"sde_substeps": substeps, "main_wall_time_s": wall,
                 "pair_wall_time_s": pair_wall}
        wall += pair_wall
    arrays = {
        "loss": _fill(out["loss"], idx, defined.shape),
        **conv,
        "defined": defined,
        "beta1": np.asarray(g["beta1"], float),
        "beta2": np.asarray(g["beta2"], float),
        "deltas": np.asarray(g["deltas"], float),
        "rules": np.asarray(g["rules"]),
        "iterations": np.arange(n_saves + 1) * g["save_every"],
        "lam": lam,
        **{f"hp_{k}": hp[k] for k in HP_KEYS},
    }
    jobs.save_artifact(config, section, out_path, arrays, name=f"{GRID_FIGURE}/adamw_{kind}",
                       wall_time_s=wall, extra={"optimizer": "adamw", "kind": kind,
                                                "undefined_points": int(n_undef), **extra},
                       log=log)


def curve_points(section: dict, optimizer: str) -> tuple[list[str], list[float], dict, np.ndarray]:
    """Rules, deltas, rescaled hyper-parameters ``(n_rule, n_delta)`` (NaN for a key the
    optimizer does not use) and ``defined`` for the curves of ``optimizer``."""
    c = section["curves"]
    rules = list(c["rules"][optimizer])
    deltas = [float(d) for d in c["deltas"]]
    used = USED_KEYS[optimizer]
    base = {k: v for k, v in base_hp(section, c["base"]["beta1"], c["base"]["beta2"]).items()
            if k in used}
    hp, defined, _ = scaling.scale_grid((rules, deltas), lambda rule, d: (rule, base, d),
                                        keys=used)
    return rules, deltas, hp, defined


def simulate_curves_job(config: dict, optimizer: str, out_path, log=print) -> None:
    """``optimizer`` on the quadratic for every rule and delta of ``scaling.curves``, saved on a
    common grid of samples seen; writes the ``scaling_curves`` artifact at ``out_path``."""
    section = config[SECTION]
    c = section["curves"]
    if optimizer not in c["rules"]:
        raise ValueError(f"optimizer {optimizer!r} has no rules in config key "
                         f"{SECTION}.curves.rules ({', '.join(c['rules'])})")
    lam = spectrum(section)
    rules, deltas, hp, defined = curve_points(section, optimizer)
    B = section["batch_size"]
    n_saves = c["samples"] // c["save_samples"]
    loss = np.full((len(rules), len(deltas), c["runs"], n_saves + 1), np.nan)
    walls = []
    for k, d in enumerate(deltas):
        rows = np.flatnonzero(defined[:, k])
        if rows.size == 0:
            log(f"[adasde] {optimizer} delta={d:g}: every rule undefined, skipped")
            continue
        per_step = int(round(d * B))
        save_every = c["save_samples"] // per_step
        flat = {key: hp[key][rows, k] for key in quadratic.HP_KEYS if key in USED_KEYS[optimizer]}
        sigma_eff = section["sigma"] / np.sqrt(hp["B"][rows, k])
        key = quadratic.job_key(config["seed"], CURVES_FIGURE, optimizer, f"delta{d:g}")
        out, wall = quadratic.run(
            lam, section["x0"], flat, sigma_eff, key, name=optimizer, kind="optim",
            runs=c["runs"], n_saves=n_saves, save_every=save_every, dtype=jobs.dtype_of(config),
            log=log)
        loss[rows, k] = out["loss"]
        walls.append(wall)
    arrays = {
        "loss": loss.astype(jobs.dtype_of(config)),
        "defined": defined,
        "rules": np.asarray(rules),
        "deltas": np.asarray(deltas),
        "samples": np.arange(n_saves + 1) * c["save_samples"],
        "lam": lam,
        **{f"hp_{k}": hp[k] for k in HP_KEYS},
    }
    jobs.save_artifact(config, section, out_path, arrays, name=f"{CURVES_FIGURE}/{optimizer}",
                       wall_time_s=float(sum(walls)), extra={"optimizer": optimizer}, log=log)


def _samples_errors(where: str, sub: dict, batch_size: int) -> list[str]:
    errors = []
    if 1 not in sub["deltas"]:
        errors.append(f"config key '{where}.deltas': {sub['deltas']} must include 1 "
                      "(the reference batch size)")
    if sub["samples"] % sub["save_samples"]:
        errors.append(f"config key '{where}.samples': {sub['samples']} is not a multiple "
                      f"of save_samples {sub['save_samples']}")
    for d in sub["deltas"]:
        if sub["save_samples"] % (d * batch_size):
            errors.append(f"config key '{where}.save_samples': {sub['save_samples']} is "
                          f"not a multiple of delta*batch_size = {d}*{batch_size}")
    return errors


def check(section: dict) -> list[str]:
    """Cross-key checks of the ``scaling`` section: every delta list holds the reference 1;
    losses are saved on a grid that every batch size delta*B divides; memory of both jobs."""
    from adasde.limits import memory_errors

    sim, where = section["simulate"], f"{SECTION}.simulate"
    errors = quadratic.common_checks(where, sim)
    g, c = sim["grid"], sim["curves"]
    if 1 not in g["deltas"]:
        errors.append(f"config key '{where}.grid.deltas': {g['deltas']} must include 1 "
                      "(the reference batch size)")
    if g["iterations"] % g["save_every"]:
        errors.append(f"config key '{where}.grid.iterations': {g['iterations']} is not a "
                      f"multiple of save_every {g['save_every']}")
    errors += _samples_errors(f"{where}.curves", c, sim.get("batch_size", 1))
    d = sim["problem"]["d"]
    points = len(g["beta1"]) * len(g["beta2"]) * len(g["deltas"]) * len(g["rules"])
    n_saves = g["iterations"] // g["save_every"]
    curve_saves = c["samples"] // c["save_samples"]
    n_rules = max(len(r) for r in c["rules"].values())
    errors += memory_errors(where, [
        ("scaling_grid_simulate", quadratic.grid_bytes(points, g["runs"], n_saves, d),
         f"grid beta1 x beta2 x deltas x rules = {points} points x grid.runs={g['runs']} x "
         f"(grid.iterations/save_every={n_saves} + problem.d={d})"),
        ("scaling_curves_simulate",
         quadratic.grid_bytes(n_rules * len(c["deltas"]), c["runs"], curve_saves, d),
         f"curves rules x deltas = {n_rules * len(c['deltas'])} x curves.runs={c['runs']} x "
         f"(samples/save_samples={curve_saves} + problem.d={d})")])
    return errors
