r"""Equal accuracy: the time to reach a weak error below 1% of the stationary loss.

One case runs in one process: ``python -m bench.accuracy --case ou --json out.json``. Two linear
SDEs on the diagonal quadratic (``lambda = linspace(0.5, 2, d)``, :math:`x_0 = 1`,
:math:`M_0 = 0`, float32), where the law of every scheme is known in closed form:

* ``ou``: the SGD SDE (docs/paper.md 2.1), an Ornstein-Uhlenbeck process per coordinate,
  :math:`dX = -\lambda X\,dt + \sqrt\eta\,\sigma\,dW`;
* ``eq2``: poster eq. (2) (docs/paper.md 2.4) with :math:`V` held at :math:`p^2 = \sigma^2`,
  :math:`\gamma_i = 1`, :math:`\epsilon = 0` (:func:`adasde.sdes.adamw_linearised_sde`;
  docs/theory.md, "Stationary loss of the eq. (2) SDE"), a linear 2-d system per coordinate.

The quantity is :math:`E f(X_T)` at :math:`T = 8` with ``paths`` paths (equal for all, so the
Monte-Carlo error is the same). The weak error of a scheme at step :math:`\Delta = T/n` is
computed exactly: every scheme here is a linear recursion :math:`Y' = RY + SZ` with unit-variance
increments (Euler: :math:`R = I + A\Delta`, :math:`S = B\sqrt\Delta`; Platen's order-2 scheme
with additive noise: :math:`R = I + A\Delta + (A\Delta)^2/2`, :math:`S = (I + A\Delta/2)B\sqrt\Delta`),
so its mean and covariance after :math:`n` steps follow from :math:`R^n` and the discrete Lyapunov
equation, and the SDE's from :math:`e^{AT}` and the continuous one. Each contender runs at the
largest step whose exact error is below 1% of the stationary loss :math:`f_\infty`:

* ours, three configurations of :func:`adasde.integrate.solve`: Platen's order-2 scheme
  (``scheme="weak2"``; weak order 2, steps a multiple of 8) with four-point or with three-point
  increments, and two-point Euler (weak order 1) at the same step as diffrax; the target record
  takes the fastest of the three ("ours, best scheme"), the others are kept for information;
* the peer: diffrax 0.7 ``Euler`` with ``UnsafeBrownianPath`` at its own best step (same
  construction as :mod:`bench.sde`).

Every record's note gives the steps, the exact errors and the measured ones (mean over paths
against the exact :math:`E f(X_T)`, with standard errors). Target: ours at least 5x faster.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from bench.common import compile_aot, device_name, record, time_interleaved

T = 8.0
TOL = 0.01  # weak error target, relative to the stationary loss
CASES = ("ou", "eq2")
PARAMS = {
    "ou": {"eta": 2.0**-7, "sigma": 1.0},
    "eq2": {"eta": 2.0**-7, "beta1": 0.9, "theta": 1.0, "sigma": 1.0, "p": 1.0},
}
SIZES = {
    "cpu": {"d": 100, "paths": 4000, "repeats": 3},
    "gpu": {"d": 1000, "paths": 10000, "repeats": 5},
    "quick": {"d": 4, "paths": 16, "repeats": 1},
}
TARGET = 5.0


def lambdas(d: int) -> np.ndarray:
    return np.linspace(0.5, 2.0, d)


def matrices(case: str, lam: np.ndarray):
    """Per coordinate: drift matrices A (d, k, k), noise B (d, k), initial state y0 (d, k)."""
    p = PARAMS[case]
    if case == "ou":
        a = -lam[:, None, None]
        b = np.full((lam.size, 1), math.sqrt(p["eta"]) * p["sigma"])
        return a, b, np.ones((lam.size, 1))
    eta, theta, pp, s = p["eta"], p["theta"], p["p"], p["sigma"]
    rho = (1.0 - p["beta1"]) / eta
    a = np.zeros((lam.size, 2, 2))
    a[:, 0, 0] = -eta * rho * lam / pp - theta
    a[:, 0, 1] = -(1.0 - eta * rho) / pp
    a[:, 1, 0] = rho * lam
    a[:, 1, 1] = -rho
    b = np.zeros((lam.size, 2))
    b[:, 1] = math.sqrt(eta) * rho * s
    y0 = np.zeros((lam.size, 2))
    y0[:, 0] = 1.0
    return a, b, y0


def _lyap_discrete(r, q):
    """C = R C R^T + Q for a batch of small matrices (vec form)."""
    k = r.shape[-1]
    lhs = np.eye(k * k) - np.einsum("nij,nkl->nikjl", r, r).reshape(-1, k * k, k * k)
    return np.linalg.solve(lhs, q.reshape(-1, k * k, 1)).reshape(-1, k, k)


def _lyap_continuous(a, q):
    """A P + P A^T + Q = 0 for a batch of small matrices (vec form)."""
    k = a.shape[-1]
    eye = np.eye(k)
    lhs = (np.einsum("nij,kl->nikjl", a, eye) + np.einsum("ij,nkl->nikjl", eye, a))
    return np.linalg.solve(lhs.reshape(-1, k * k, k * k), -q.reshape(-1, k * k, 1)
                           ).reshape(-1, k, k)


def exact_loss(case: str, lam: np.ndarray) -> tuple[float, float]:
    """``(E f(X_T), f_inf)`` of the SDE (matrix exponential and Lyapunov equation)."""
    from scipy.linalg import expm

    a, b, y0 = matrices(case, lam)
    q = np.einsum("ni,nj->nij", b, b)
    p_inf = _lyap_continuous(a, q)
    e = expm(a * T)  # batched over coordinates
    mean = np.einsum("nij,nj->ni", e, y0)
    cov = p_inf - np.einsum("nij,njk,nlk->nil", e, p_inf, e)
    loss_t = 0.5 * np.sum(lam * (mean[:, 0] ** 2 + cov[:, 0, 0]))
    return float(loss_t), float(0.5 * np.sum(lam * p_inf[:, 0, 0]))


def scheme_loss(case: str, lam: np.ndarray, scheme: str, n: int) -> float:
    """Exact :math:`E f(Y_n)` of ``scheme`` (``euler`` or ``weak2``) with :math:`\\Delta = T/n`
    (any unit-variance increments); ``inf`` where the recursion is unstable."""
    a, b, y0 = matrices(case, lam)
    h = T / n
    k = a.shape[-1]
    eye = np.broadcast_to(np.eye(k), a.shape)
    if scheme == "euler":
        r, s = eye + a * h, b * math.sqrt(h)
    else:
        r = eye + a * h + np.einsum("nij,njk->nik", a, a) * h * h / 2
        s = np.einsum("nij,nj->ni", eye + a * h / 2, b) * math.sqrt(h)
    if np.max(np.abs(np.linalg.eigvals(r))) >= 1.0:
        return math.inf
    c_inf = _lyap_discrete(r, np.einsum("ni,nj->nij", s, s))
    rn = np.linalg.matrix_power(r, n)
    mean = np.einsum("nij,nj->ni", rn, y0)
    cov = c_inf - np.einsum("nij,njk,nlk->nil", rn, c_inf, rn)
    return float(0.5 * np.sum(lam * (mean[:, 0] ** 2 + cov[:, 0, 0])))


def relative_error(case: str, lam: np.ndarray, scheme: str, n: int) -> float:
    loss_t, f_inf = exact_loss(case, lam)
    return abs(scheme_loss(case, lam, scheme, n) - loss_t) / f_inf


def best_steps(case: str, lam: np.ndarray, scheme: str, multiple: int = 1,
               n_max: int = 1 << 16) -> int:
    """The fewest steps ``n`` (a multiple of ``multiple``) with exact relative error < 1% at
    ``n`` and at 8 more step counts up to ``4n`` (so a lucky cancellation does not count):
    doubling, then bisection on this predicate."""
    loss_t, f_inf = exact_loss(case, lam)

    def ok(n):
        return abs(scheme_loss(case, lam, scheme, n) - loss_t) < TOL * f_inf

    def good(n):
        more = np.unique(np.geomspace(n, 4 * n, 9).astype(int) // multiple * multiple)
        return ok(n) and all(ok(int(m)) for m in more if m > n)

    hi = multiple
    while not good(hi):
        hi *= 2
        if hi > n_max:
            raise RuntimeError(f"{case}/{scheme}: no step count below {n_max} reaches "
                               f"{TOL:.0%}")
    lo = 0  # good(lo) is false or lo is below the first multiple
    while hi - lo > multiple:
        mid = (lo + hi) // 2 // multiple * multiple
        if mid <= lo:
            break
        lo, hi = (lo, mid) if good(mid) else (mid, hi)
    return hi


def _sde(case: str, lam):
    from adasde import sdes
    from adasde.problems import Quadratic

    p = PARAMS[case]
    grad = Quadratic(lam).grad
    if case == "ou":
        return sdes.sgd_sde(grad, p["eta"], p["sigma"])
    return sdes.adamw_linearised_sde(grad, p["eta"], p["beta1"], p["sigma"], p["p"],
                                     p["theta"])


def ours(case: str, d: int, paths: int, n: int, scheme: str, increments: str):
    """Our program: ``paths`` paths of ``n`` steps to ``T``, the loss at ``T`` per path."""
    import jax
    import jax.numpy as jnp

    from adasde import integrate
    from adasde.problems import Quadratic

    lam = jnp.asarray(lambdas(d), jnp.float32)
    x0 = jnp.ones(d, jnp.float32)
    dt = jnp.float32(T / n)

    def fn(lam, x0, dt, key):
        sde = _sde(case, lam)
        q = Quadratic(lam)

        def one(k):
            sol = integrate.solve(sde, x0, k, dt=dt, n_saves=1, save_every=n, scheme=scheme,
                                  increments=increments, observe=lambda y: q.loss(y[0]))
            return sol.observations[-1]

        return jax.vmap(one)(jax.random.split(key, paths))

    return fn, (lam, x0, dt, jax.random.key(0))


def diffrax_peer(case: str, d: int, paths: int, n: int):
    """diffrax's Euler with ``UnsafeBrownianPath`` at ``n`` steps of ``T / n``."""
    import diffrax
    import jax
    import jax.numpy as jnp
    import lineax as lx

    from adasde.problems import Quadratic

    lam = jnp.asarray(lambdas(d), jnp.float32)
    q = Quadratic(lam)
    sde = _sde(case, lam)
    x0 = jnp.ones(d, jnp.float32)
    y0 = sde.init(x0)
    w_struct = jax.ShapeDtypeStruct((d,), jnp.float32)

    def drift(t, y, args):
        return sde.drift(t, y)

    def diffusion(t, y, args):
        g = sde.diffusion(t, y)

        def mv(w):
            return tuple(jnp.zeros_like(w) if gi is None else gi * w for gi in g)

        return lx.FunctionLinearOperator(mv, w_struct)

    def loss(t, y, args):
        return q.loss(y[0])

    def solve(key):
        bm = diffrax.UnsafeBrownianPath(shape=(d,), key=key)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, T, dt0=T / n, y0=y0,
                                  saveat=diffrax.SaveAt(t1=True, fn=loss), max_steps=n + 2,
                                  adjoint=diffrax.ForwardMode())
        return sol.ys[-1], sol.stats["num_steps"]

    def fn(key):
        return jax.vmap(solve)(jax.random.split(key, paths))

    return fn, (jax.random.key(1),)


OURS = {  # contender -> (scheme, increments, label)
    "weak2_4p": ("weak2", "four_point", "ours Platen weak2 four-point"),
    "weak2_3p": ("weak2", "three_point", "ours Platen weak2 three-point"),
    "euler_2p": ("euler", "two_point", "ours Euler two-point"),
}


def run_case(case: str, profile: str = "cpu", spec: dict | None = None) -> list[dict]:
    """Pick each contender's steps, time ours (three configurations) and diffrax, check their
    accuracy; the target record compares our fastest configuration with diffrax."""
    spec = spec or SIZES[profile]
    d, paths = spec["d"], spec["paths"]
    lam = lambdas(d)
    loss_t, f_inf = exact_loss(case, lam)
    steps = {"euler": best_steps(case, lam, "euler"),
             "weak2": best_steps(case, lam, "weak2", multiple=8)}
    n_of = {k: steps[v[0]] for k, v in OURS.items()}
    n_of["diffrax"] = steps["euler"]
    progs = {k: ours(case, d, paths, n_of[k], sch, inc) for k, (sch, inc, _) in OURS.items()}
    progs["diffrax"] = diffrax_peer(case, d, paths, steps["euler"])
    compiled, compile_s = {}, {}
    for k, (fn, args) in progs.items():
        compiled[k], compile_s[k] = compile_aot(fn, *args)
    times = time_interleaved({k: (compiled[k], progs[k][1]) for k in progs},
                             repeats=spec["repeats"], warmup=1)

    measured, exact = {}, {}
    for k in progs:
        out = compiled[k](*progs[k][1])
        v, took = (out if k == "diffrax" else (out, None))
        v = np.asarray(v, np.float64)
        measured[k] = ((v.mean() - loss_t) / f_inf, v.std(ddof=1) / math.sqrt(v.size) / f_inf,
                       None if took is None else int(np.max(np.asarray(took))))
        exact[k] = relative_error(case, lam, "euler" if k == "diffrax" else OURS[k][0],
                                  n_of[k])

    def describe(k):
        err, se, took = measured[k]
        label = "diffrax Euler+UBP" if k == "diffrax" else OURS[k][2]
        extra = f", took {took} steps" if took is not None else ""
        return (f"{label}: {n_of[k]} steps (dt = T/{n_of[k]}), exact weak error "
                f"{100 * exact[k]:.2f}% of f_inf, measured {100 * err:+.2f} +- "
                f"{100 * se:.2f}%{extra}")

    base = (f"E f(X_T), T = {T:g}, {paths} paths, d = {d}; f_inf = {f_inf:.4g}, "
            f"E f(X_T) = {loss_t:.4g}")
    dev = device_name()
    label = f"equal accuracy {case} d={d} paths={paths} weak error < 1%"
    best = min(OURS, key=lambda k: times[k]["min_s"])
    others = "; ".join(f"{OURS[k][2]} {times[k]['min_s']:.3g} s" for k in OURS if k != best)

    def rec(k, name, target, note):
        return record(
            name, times[k]["min_s"], "diffrax Euler, UnsafeBrownianPath, its best dt",
            times["diffrax"]["min_s"], float(paths) * d, "path-coordinates at 1% weak error",
            dev, target, ours_compile_s=compile_s[k], peer_compile_s=compile_s["diffrax"],
            ours_cpu_s=times[k]["cpu_s"], peer_cpu_s=times["diffrax"]["cpu_s"],
            ours_median_s=times[k]["median_s"], peer_median_s=times["diffrax"]["median_s"],
            repeats=times[k]["repeats"], ours_steps=n_of[k], peer_steps=n_of["diffrax"],
            ours_config=OURS[k][2], note=note)

    records = [rec(best, f"{label}: ours best ({OURS[best][2]}) vs diffrax Euler", TARGET,
                   f"{base}; {describe(best)}; {describe('diffrax')}; ours otherwise: "
                   f"{others}")]
    for k in OURS:
        if k != best:
            records.append(rec(k, f"{label}: {OURS[k][2]} vs diffrax Euler", None,
                               f"{base}; {describe(k)}; {describe('diffrax')}"))
    return records


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.accuracy")
    ap.add_argument("--case", choices=CASES, required=True)
    ap.add_argument("--profile", choices=tuple(SIZES), default="cpu")
    ap.add_argument("--json", required=True, help="write the records here")
    args = ap.parse_args(argv)
    records = run_case(args.case, args.profile)
    with open(args.json, "w") as fh:
        json.dump(records, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
