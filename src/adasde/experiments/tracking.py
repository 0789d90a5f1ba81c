r"""Figures ``sde_tracking_<arch>``: do the SDEs track SignSGD, RMSpropW and AdamW on neural
networks, and better than Malladi et al.'s SDEs? (paper.md 5 [V abstract]: "Our SDEs
accurately track the behavior of the respective optimizers, especially when compared to
previous SDEs derived for Adam and RMSprop".)

Setting (paper.md 5 [V reviewer 2]): the full-batch gradient of a network plus injected
Gaussian noise of known covariance :math:`\sigma^2 I`, so the SDEs know :math:`\Sigma`:

* ``optim``: the optimizer on :math:`\nabla f(x_k) + \sigma z_k`
  (:func:`adasde.optim.run_optimizer`);
* ``sde``: our SDE (:func:`adasde.sdes.signsgd_sde`, :func:`~adasde.sdes.rmspropw_sde`,
  :func:`~adasde.sdes.adamw_sde`) by Euler-Maruyama with :math:`\Delta t = \eta` on the same
  network's full-batch gradient (:func:`adasde.integrate.euler_maruyama`);
* ``malladi``: Malladi et al.'s SDE in our time units (:func:`adasde.sdes.malladi_rmsprop_sde`,
  :func:`~adasde.sdes.malladi_adam_sde`), for RMSprop(W) and Adam(W) only. Malladi et al. have
  no decoupled weight decay; for RMSpropW/AdamW we add the same :math:`-\theta X_t\,dt` as ours
  (our extension, stated in the figure).

Every run starts from the same initial parameters; the optimizer's runs and each SDE's paths
use independent noise (weak, not pathwise, comparison). The parameters are one flat vector
(:func:`adasde.nets.flatten_problem`), so each step draws its noise in one PRNG call.

One job per architecture writes ``results/sde_tracking_<arch>/tracking.npz`` with
``loss_<optimizer>_<kind>`` (seeds, n_saves + 1) (full-batch training loss at the saved
iterations) and ``iterations``; its ``meta.json`` holds the wall times (``timings``: compile
and run seconds per optimizer and kind; ``wall_time_s``, ``cpu_time_s``), which would make the
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
from adasde.experiments.quadratic import job_key

FIGURE = "sde_tracking"
KINDS = ("optim", "sde", "malladi")
MALLADI = {
    "rmsprop": "malladi_rmsprop",
    "rmspropw": "malladi_rmsprop",
    "adam": "malladi_adam",
    "adamw": "malladi_adam",
}
KIND_LABELS = {"optim": "optimizer", "sde": "our SDE", "malladi": "Malladi et al.'s SDE"}


def figure_name(arch: str) -> str:
    """``sde_tracking_<arch>`` (the figure, results folder and notebook run of ``arch``)."""
    return f"{FIGURE}_{arch}"


def kinds_for(optimizer: str) -> tuple[str, ...]:
    """The runs made for ``optimizer``: the optimizer, our SDE and, for RMSprop(W)/Adam(W),
    Malladi et al.'s SDE."""
    return ("optim", "sde", "malladi") if optimizer in MALLADI else ("optim", "sde")


def sde_name(optimizer: str, kind: str) -> str:
    """The :data:`adasde.sdes.SDE_NAMES` entry of run ``kind`` for ``optimizer``."""
    if kind == "sde":
        return optimizer
    if kind == "malladi":
        if optimizer not in MALLADI:
            raise ValueError(f"Malladi et al. give no SDE for {optimizer!r}; "
                             f"allowed: {', '.join(MALLADI)}")
        return MALLADI[optimizer]
    raise ValueError(f"kind {kind!r} is not an SDE; allowed: sde, malladi")


def arch_settings(section: dict, arch: str) -> dict:
    """The resolved settings of architecture ``arch``: its ``archs`` entry, with ``optimizers``
    = the section's optimizers updated by the entry's own (an entry replaces the whole
    optimizer), and ``seeds``. This is what the job's provenance records."""
    if arch not in section["archs"]:
        raise ValueError(f"architecture {arch!r} is not in config key {FIGURE}.archs "
                         f"({', '.join(section['archs'])})")
    spec = dict(section["archs"][arch])
    spec["optimizers"] = {**section["optimizers"], **spec.get("optimizers", {})}
    spec.setdefault("seeds", section["seeds"])
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


def _reuse_last(fn):
    """``fn`` that returns its previous result when called again on the *same* object.

    :func:`adasde.integrate.em_step` calls an SDE's drift and then its diffusion on the same
    state; for SignSGD and RMSprop(W) both evaluate the gradient, and inside the integration scan
    XLA does not merge the two (measured: 10 instead of 7 dot/convolution ops per step, about
    twice the run time). Under tracing both calls get the same tracer, so returning the cached
    result computes the gradient once per step. The cache holds a reference to its argument, so
    an identity match cannot come from a recycled object id.
    """
    last = []

    def wrapped(x):
        if last and last[0] is x:
            return last[1]
        out = fn(x)
        last[:] = [x, out]
        return out

    return wrapped


def simulate(problem: nets.NetProblem, optimizer: str, kind: str, hp: dict, sigma: float,
             keys, *, n_saves: int, save_every: int, seed_batch: int = 0,
             progress: str | None = None):
    """Full-batch training loss at the saved iterations of one run per key: the optimizer
    (``kind="optim"``) or an SDE (``"sde"``, ``"malladi"``) with Euler-Maruyama step
    :math:`\\Delta t = \\eta`. All keys form one compiled program: ``jax.vmap`` over them, or,
    for ``0 < seed_batch < len(keys)``, ``jax.lax.map`` over chunks of ``seed_batch`` vmapped
    keys. Returns ``(loss (len(keys), n_saves + 1), compile_s, run_s)``."""
    grad = jax.grad(problem.loss)
    x0 = problem.params0

    def observe(y):
        return problem.loss(y[0])

    def one(key):
        if kind == "optim":
            opt = optim.make(optimizer, hp)
            obs, _ = optim.run_optimizer(opt, grad, x0, key, sigma=sigma, n_saves=n_saves,
                                         save_every=save_every, observe=observe,
                                         progress=progress)
        else:
            sde = sdes.make(sde_name(optimizer, kind), _reuse_last(grad), hp, sigma)
            obs, _ = integrate.euler_maruyama(sde, x0, key, dt=hp["eta"], n_saves=n_saves,
                                              save_every=save_every, observe=observe,
                                              progress=progress)
        return obs

    n = keys.shape[0]
    if seed_batch and seed_batch < n:
        def batched(ks):
            return jax.lax.map(one, ks, batch_size=seed_batch)
    else:
        batched = jax.vmap(one)
    start = time.perf_counter()
    compiled = jax.jit(batched).lower(keys).compile()
    mid = time.perf_counter()
    loss = np.asarray(jax.block_until_ready(compiled(keys)))
    return loss, mid - start, time.perf_counter() - mid


def simulate_job(config: dict, arch: str, out_path, log=print) -> None:
    """Run every optimizer of the section on architecture ``arch`` with its SDEs (``seeds``
    runs/paths each) and save the artifact at ``out_path``."""
    section = config[FIGURE]
    spec = arch_settings(section, arch)
    seed = config["seed"]
    n_saves = spec["iterations"] // spec["save_every"]
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
            f"{spec['iterations']} iterations, {spec['seeds']} seeds")
        for opt, hp in spec["optimizers"].items():
            for kind in kinds_for(opt):
                keys = jax.random.split(job_key(seed, FIGURE, arch, opt, kind), spec["seeds"])
                loss, comp, run = simulate(
                    problem, opt, kind, hp, spec["sigma"], keys, n_saves=n_saves,
                    save_every=spec["save_every"], seed_batch=spec.get("seed_batch", 0))
                arrays[f"loss_{opt}_{kind}"] = loss
                timings[f"{opt}_{kind}"] = {"compile_s": comp, "run_s": run}
                bad = int((~np.isfinite(loss)).any(axis=1).sum())
                log(f"[adasde] {arch}/{opt}/{kind}: compile {comp:.1f} s, run {run:.1f} s "
                    f"({1e3 * run / (spec['iterations'] * spec['seeds']):.3f} ms per "
                    f"path-step); final loss {np.nanmean(loss[:, -1]):.4g}"
                    + (f"; {bad} paths diverged" if bad else ""))
    wall, cpu = time.perf_counter() - job_start, time.process_time() - cpu_start
    meta = artifacts.provenance(spec, seed, name=f"{figure_name(arch)}/tracking",
                                wall_time_s=wall,
                                extra={"arch": arch, "problem": problem.name, "cpu_time_s": cpu,
                                       "timings": timings,
                                       "n_params": problem.n_params,
                                       "n_train": problem.n_train})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path} (wall {wall:.1f} s, process CPU {cpu:.1f} s)")


# ---------------------------------------------------------------------------- the metric
def tracking_error(loss_sde, loss_opt, n_boot: int = 1000, seed: int = 0):
    r"""Relative tracking error of an SDE against its optimizer and its Monte-Carlo error.

    With :math:`\bar L^{S}_j`, :math:`\bar L^{O}_j` the means over paths/runs of the training
    loss at saved time :math:`j` (``loss_*`` are (runs, times); time 0, where both equal
    :math:`f(x_0)`, is left out):

    .. math:: e = \frac{1}{J}\sum_{j=1}^{J} \frac{|\bar L^{S}_j - \bar L^{O}_j|}{\bar L^{O}_j}

    The standard error is the standard deviation of :math:`e` over ``n_boot`` bootstrap
    resamples of the runs and, independently, of the paths. ``floor`` is
    :math:`\frac1J\sum_j \sqrt{se(\bar L^S_j)^2 + se(\bar L^O_j)^2}/\bar L^O_j`, the size that
    pure Monte-Carlo noise gives :math:`e` (an :math:`e` near it is not resolved).
    Non-finite paths make :math:`e` infinite. Returns ``dict(error, stderr, floor, curve)``
    with ``curve`` the per-time relative error (times 1..J).
    """
    s = np.asarray(loss_sde, float)[:, 1:]
    o = np.asarray(loss_opt, float)[:, 1:]
    if not (np.isfinite(s).all() and np.isfinite(o).all()):
        return {"error": np.inf, "stderr": np.nan, "floor": np.nan,
                "curve": np.full(s.shape[1], np.inf)}
    ms, mo = s.mean(axis=0), o.mean(axis=0)
    curve = np.abs(ms - mo) / mo
    rng = np.random.default_rng(seed)
    i_s = rng.integers(0, s.shape[0], size=(n_boot, s.shape[0]))
    i_o = rng.integers(0, o.shape[0], size=(n_boot, o.shape[0]))
    bs, bo = s[i_s].mean(axis=1), o[i_o].mean(axis=1)
    boot = (np.abs(bs - bo) / bo).mean(axis=1)
    se = np.sqrt(s.var(axis=0, ddof=1) / s.shape[0] + o.var(axis=0, ddof=1) / o.shape[0])
    return {"error": float(curve.mean()), "stderr": float(boot.std(ddof=1)),
            "floor": float((se / mo).mean()), "curve": curve}
