r"""Analysis of figure ``signsgd_phases``: the three phases of SignSGD (Lemma 3.4, docs/paper.md
2.2; artifacts of :mod:`adasde.experiments.signsgd_phases`, kinds ``optim``, ``sde`` (Corollary
3.3) and ``phasewise`` (Lemma 3.4's phase-wise dynamics, shown only)).

The SNR of the mean path is :math:`\bar Y_i(t) = \lambda_i E[X_{t,i}]/(\sqrt2 s)`,
:math:`s = \sigma/\sqrt B`. Claims (:func:`claims`), for the optimizer and the SDE:

* **Phase 1 holds coordinate-wise** (``phase1_coord<i>_<kind>``): while its own
  :math:`|\bar Y_i| \ge 3/2`, coordinate :math:`i` follows the SignGD ODE
  :math:`x_i(t) = x_{0,i} - t`; measured: the largest relative error of :math:`E X_{t,i}` over
  that window (simultaneous 95% band over the saved times, so the maximum is not selected by
  chance); band ``phase1_tolerance`` around 0. Alternative: the linearised (Phase-3) drift used
  from the start, :math:`x_{0,i}e^{-a_i t}` (SignSGD as preconditioned SGD).
* **Phase 1 for the loss**, a ``paper_form``/``correction`` pair (docs/theory.md "SignSGD's three
  phases"): the loss follows the SignGD ODE while *every* coordinate is in Phase 1
  (:math:`\min_i|\bar Y_i| \ge 3/2`; ``phase1_loss_<kind>``, correction) but not until
  :math:`\max_i|\bar Y_i|` crosses 3/2 (the paper's :math:`|Y_t| > 3/2` read with the max norm;
  ``phase1_loss_maxnorm_<kind>``, paper form), by which time the coordinates with small
  :math:`\lambda_i` have spent time in Phases 2 and 3, where the drift is below 1.
* **Phase-3 rate** (``phase3_rate_<kind>_coord<i>``): the least-squares decay rate of
  :math:`\ln|E X_{t,i}|` over coordinate :math:`i`'s Phase 3 (from :math:`|\bar Y_i| < 1` until
  :math:`|E X_i|` falls below ``fit_floor_se`` standard errors) equals
  :math:`a_i = \sqrt{2/\pi}\sqrt B\lambda_i/\sigma` within ``rate_tolerance`` (jackknife standard
  error). Alternative: SGD's rate :math:`\lambda_i`, which ignores the noise.
* **Phase-3 transit time**, a ``paper_form``/``correction`` pair: the time from
  :math:`|\bar Y_i| = 1` to ``transit_y`` equals the erf mean-path closed form
  :math:`\tfrac{2}{a_i\sqrt\pi}\int_y^1 dy'/\mathrm{erf}(y')` (``phase3_transit_<kind>_coord<i>``,
  correction; alternative the linearised :math:`\ln(1/y)/a_i`), not the linearised time
  (``phase3_transit_linear_<kind>_coord<i>``, paper form), within ``transit_tolerance``.
* **Convergence in dt** (:func:`adasde.figures.stats.convergence_claim`, band
  ``convergence_fraction`` times the tolerance of the matching claim; alternative: a
  discretisation error as large as that tolerance). Each SDE job holds a coupled pair
  (Euler-Maruyama at :math:`\Delta t = \eta/k`, ``sde_substeps`` k, and at :math:`\Delta t/2`
  on the same Brownian paths, :func:`adasde.integrate.solve_pair`; ``conv_*`` arrays) from
  which, per path :math:`p`, the quantity is read at both steps:

  - ``<kind>_loss_converged_dt`` (``sde`` and ``phasewise``, ``phase1_tolerance``, relative):
    the plotted mean loss :math:`E L_t` at the saved time :math:`t^\dagger > 0` where its
    relative move :math:`|\overline{L^{\Delta}_t - L^{\Delta/2}_t}|/|\overline{L^{\Delta/2}_t}|`
    is largest (:func:`worst_time`), so the whole curve moves by at most that much;
  - ``phase1_coord<i>_sde_converged_dt`` (``phase1_tolerance``, absolute): :math:`\mathrm{sign}
    (x_{0,i}) X_{t,i}/(|x_{0,i}| - t)` at the worst time of coordinate :math:`i`'s Phase-1
    window: the claim's largest relative error moves by at most
    :math:`\max_t|\overline{\Delta e_t}|` (:math:`|\max|e^{\Delta}| - \max|e^{\Delta/2}|| \le
    \max|e^{\Delta} - e^{\Delta/2}|`);
  - ``phase3_rate_sde_coord<i>_converged_dt`` (``rate_tolerance``) and
    ``phase3_transit_sde_coord<i>_converged_dt`` (``transit_tolerance``), relative: functionals
    :math:`\theta` of the mean path, read per path through their linearisation at the main
    run's mean path :math:`\bar x` (:func:`linearised_values`,
    :math:`\psi_p = \theta(\bar x) + D\theta(\bar x)[x_p - \bar x]`), so that
    :math:`\overline{\psi^{\Delta} - \psi^{\Delta/2}} = D\theta(\bar x)[\bar x^{\Delta} -
    \bar x^{\Delta/2}]`, the first-order move of the fitted rate (on the main run's fit
    window) and of the transit time; 16 paths would not resolve :math:`\ln|E X|` at the end of
    the window themselves, their coupled difference is resolved.

This module never imports jax or :mod:`adasde.experiments`.
"""

from __future__ import annotations

import math

import numpy as np

from adasde import artifacts, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "signsgd_phases"
KINDS = ("optim", "sde", "phasewise")
CLAIM_KINDS = ("optim", "sde")
KIND_LABELS = {"optim": "SignSGD", "sde": "SDE (Cor. 3.3)", "phasewise": "phase-wise (Lemma 3.4)"}
ANALYSE_DEFAULTS = {"phase1_tolerance": 0.02, "rate_tolerance": 0.1, "fit_floor_se": 5.0,
                    "transit_y": 0.1, "transit_tolerance": 0.03,
                    "bootstrap": 500, "convergence_fraction": 0.5}  # = config/schema.yaml's defaults
BOOT_SEED = 20250124


def settings(analyse: dict | None) -> dict:
    """``analyse`` with its defaults filled."""
    return {**ANALYSE_DEFAULTS, **(analyse or {})}


# ------------------------------------------------------------------------------ load
def load(inputs: dict) -> dict:
    """Read ``inputs[kind]`` for every kind of :data:`KINDS`: ``{"arrays": {kind: arrays},
    "metas": {kind: meta}, "config": the simulate section}``."""
    arrays, metas = {}, {}
    for kind in KINDS:
        arrays[kind], metas[kind] = artifacts.load(inputs[kind])
    # the SDE job's section: it also holds the SDE-only keys (sde_substeps, convergence_runs)
    cfg = metas["sde"]["config"] if "sde" in metas else metas["optim"]["config"]
    return {"arrays": arrays, "metas": metas, "config": cfg}


# ------------------------------------------------------------------------------ convergence in dt
def worst_time(coarse_runs, fine_runs, window=None, scale=None) -> int:
    r"""Index of the saved time (among ``window``, a boolean mask; default all) at which the mean
    over paths of ``coarse_runs - fine_runs`` (paths, times) is largest in absolute value,
    relative to ``scale`` (times; default :math:`|\overline{fine}|`). Paths non-finite in either
    chain are left out. The move of a curve when the step halves is at most its move there."""
    c = np.asarray(coarse_runs, float)
    f = np.asarray(fine_runs, float)
    ok = np.all(np.isfinite(c) & np.isfinite(f), axis=1)
    c, f = c[ok], f[ok]
    if c.shape[0] == 0:
        raise ValueError("no path of the pair is finite")
    window = np.ones(c.shape[1], bool) if window is None else np.asarray(window, bool)
    scale = np.abs(f.mean(axis=0)) if scale is None else np.abs(np.asarray(scale, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        move = np.where(window & (scale > 0), np.abs((c - f).mean(axis=0)) / scale, -np.inf)
    return int(np.argmax(move))


def linearised_values(theta, base, paths, eps: float = 1e-6) -> np.ndarray:
    r"""Per-path values of a functional ``theta`` of the mean path, linearised at ``base`` (the
    delta method): :math:`\psi_p = \theta(\bar x) + D\theta(\bar x)[x_p - \bar x]`, the
    directional derivative by a one-sided difference of step ``eps``. Their mean is
    :math:`\theta` of the paths' mean path to first order, and on a coupled pair
    :math:`\overline{\psi^{\Delta} - \psi^{\Delta/2}} = D\theta(\bar x)[\bar x^{\Delta} -
    \bar x^{\Delta/2}]` with its standard error over paths. ``base`` (times,), ``paths``
    (paths, times); ``theta`` maps a mean path (times,) to a number."""
    base = np.asarray(base, float)
    th0 = float(theta(base))
    return np.array([th0 + (float(theta(base + eps * (np.asarray(p, float) - base))) - th0) / eps
                     for p in paths])


# ------------------------------------------------------------------------------ statistics
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


def max_relative_error(values_runs, reference, n_boot: int = 500, seed: int = BOOT_SEED):
    r"""The largest relative error :math:`\max_j |E v_j/\text{ref}_j - 1|` of the mean over runs
    of ``values_runs`` (runs, times) against ``reference`` (times, positive), with a
    simultaneous 95% band over the times (:func:`adasde.figures.stats.simultaneous_critical`).
    Returns ``(measured, interval, stderr at the arg max, index of the arg max, c)``; the
    interval is :math:`[\max_j \mathrm{dist}(0, e_j \pm c\,se_j), \max_j(|e_j| + c\,se_j)]`."""
    v = np.asarray(values_runs, float) / np.asarray(reference, float)
    R = v.shape[0]
    e = v.mean(axis=0) - 1.0
    psi = (v - v.mean(axis=0)) / np.sqrt(R * (R - 1))
    c, se = stats.simultaneous_critical(psi, n_boot, seed)
    lo, hi = e - c * se, e + c * se
    dist = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    k = int(np.argmax(np.abs(e)))
    return (float(np.abs(e[k])), [float(dist.max()), float(np.max(np.abs(e) + c * se))],
            float(se[k]), k, c)


# ------------------------------------------------------------------------------ measure
def measure(data: dict, analyse: dict | None = None) -> dict:
    """Phase markers, the Phase-1 errors (coordinate-wise and for the loss, both readings), the
    Phase-3 rates and transit times, with their alternatives, and the curves of the figure."""
    a = settings(analyse)
    arrays, cfg = data["arrays"], data["config"]
    first = arrays["optim"]
    t, lam, x0 = first["times"], first["lam"], first["x0"]
    s = float(first["sigma_eff"])
    sigma, B = float(cfg["sigma"]), float(cfg.get("batch_size", 1))
    a_pred = theory.signsgd_phase3_rate(lam, sigma, B)
    m = {"t": t, "lam": lam, "x0": x0, "s": s, "sigma": sigma, "B": B, "eta": float(cfg["eta"]),
         "a_pred": a_pred, "runs": int(first["loss"].shape[0]), "analyse": a,
         "metas": data["metas"], "ybar": {}, "mean_loss": {}, "se_loss": {}, "markers": {},
         "phase1": {}, "phase1_loss": {}, "rate": {}, "transit": {}, "convergence": {},
         "substeps": int(cfg.get("sde_substeps", 1))}
    m["ode"] = ode = theory.signgd_ode_loss(t, lam, x0)
    m["linear_loss"] = 0.5 * np.sum(lam * (x0 * np.exp(-np.outer(t, a_pred))) ** 2, axis=1)
    for k in KINDS:
        loss = arrays[k]["loss"].astype(float)
        m["ybar"][k] = mean_snr(arrays[k]["x"], lam, s)
        m["mean_loss"][k] = loss.mean(axis=0)
        m["se_loss"][k] = loss.std(axis=0, ddof=1) / np.sqrt(loss.shape[0])
        absy = np.abs(m["ybar"][k])
        m["markers"][k] = {"min_32": crossing_time(t, absy.min(axis=1), 1.5),
                           "max_32": crossing_time(t, absy.max(axis=1), 1.5),
                           "max_1": crossing_time(t, absy.max(axis=1), 1.0)}
    y_tr = a["transit_y"]
    for k in CLAIM_KINDS:
        loss = arrays[k]["loss"].astype(float)
        x = arrays[k]["x"].astype(float)
        absy = np.abs(m["ybar"][k])
        for reading, t_end in (("coordinate", m["markers"][k]["min_32"]),
                               ("maxnorm", m["markers"][k]["max_32"])):
            w = (t > 0) & (t <= t_end) & (ode > 0)
            res = _rel(loss[:, w], ode[w], t[w], a["bootstrap"])
            alt = np.abs(m["linear_loss"][w] / ode[w] - 1.0).max()
            m["phase1_loss"][k, reading] = {**res, "t_end": t_end, "alternative": float(alt)}
        for i in range(lam.size):
            t_end = crossing_time(t, absy[:, i], 1.5)
            pos = np.abs(x0[i]) - t
            w = (t > 0) & (t <= t_end) & (pos > 0)
            res = _rel(np.sign(x0[i]) * x[:, w, i], pos[w], t[w], a["bootstrap"])
            alt = np.abs(np.abs(x0[i]) * np.exp(-a_pred[i] * t[w]) / pos[w] - 1.0).max()
            m["phase1"][k, i] = {**res, "t_end": t_end, "alternative": float(alt)}
            start, stop = phase3_window(t, x[:, :, i], lam[i], s, a["fit_floor_se"])
            rate, rate_se = jackknife(lambda r, a0=start, b0=stop: decay_rate(t, r, a0, b0),
                                      x[:, :, i])
            m["rate"][k, i] = {"rate": rate, "se": rate_se, "start": start, "stop": stop,
                               "y_stop": float(abs(m["ybar"][k][stop - 1, i])),
                               "erf_rate": _erf_window_rate(a_pred[i],
                                                            float(abs(m["ybar"][k][start, i])),
                                                            float(abs(m["ybar"][k][stop - 1, i])))}
            tr, tr_se = jackknife(lambda r, li=lam[i]: transit_time(t, r, li, s, y_tr),
                                  x[:, :, i])
            m["transit"][k, i] = {"time": tr, "se": tr_se,
                                  "erf": float(theory.signsgd_phase3_transit_time(a_pred[i], y_tr)),
                                  "linear": math.log(1.0 / y_tr) / float(a_pred[i])}
    for k in ("sde", "phasewise"):
        if "conv_loss_coarse" in arrays[k]:
            m["convergence"].update(_convergence(m, k, arrays[k]))
    return m


def _convergence(m: dict, k: str, a: dict) -> dict:
    """Per-path (coarse, fine) values of the plotted quantities of SDE kind ``k`` from its
    coupled pair (module docstring, "Convergence in dt")."""
    t, lam, x0, s = m["t"], m["lam"], m["x0"], m["s"]
    lc, lf = a["conv_loss_coarse"].astype(float), a["conv_loss_fine"].astype(float)
    j = worst_time(lc, lf, t > 0)
    out = {(k, "loss"): {"coarse": lc[:, j], "fine": lf[:, j], "t": float(t[j])}}
    if k not in CLAIM_KINDS:
        return out
    xc, xf = a["conv_x_coarse"].astype(float), a["conv_x_fine"].astype(float)
    xbar = a["x"].astype(float).mean(axis=0)
    y_tr = m["analyse"]["transit_y"]
    for i in range(lam.size):
        pos = np.abs(x0[i]) - t
        w = (t > 0) & (t <= m["phase1"][k, i]["t_end"]) & (pos > 0)
        ref = np.where(w, pos, 1.0)
        c, f = np.sign(x0[i]) * xc[:, :, i] / ref, np.sign(x0[i]) * xf[:, :, i] / ref
        j = worst_time(c, f, w, scale=np.ones_like(t))
        out[k, "phase1", i] = {"coarse": c[:, j], "fine": f[:, j], "t": float(t[j])}
        r = m["rate"][k, i]

        def rate(mp, a0=r["start"], b0=r["stop"]):
            return decay_rate(t, mp[None], a0, b0)

        def transit(mp, li=lam[i]):
            return transit_time(t, mp[None], li, s, y_tr)

        for name, theta in (("rate", rate), ("transit", transit)):
            out[k, name, i] = {"coarse": linearised_values(theta, xbar[:, i], xc[:, :, i]),
                               "fine": linearised_values(theta, xbar[:, i], xf[:, :, i])}
    return out


def _rel(values_runs, reference, times, n_boot):
    meas, iv, se, j, c = max_relative_error(values_runs, reference, n_boot)
    return {"measured": meas, "interval": iv, "stderr": se, "t_worst": float(times[j]), "c": c}


def _erf_window_rate(a, y_start, y_end, n: int = 200) -> float:
    r"""The least-squares decay rate of the erf mean path
    (:math:`\dot Y = -a\tfrac{\sqrt\pi}{2}\mathrm{erf}(Y)`) between :math:`|Y| = y_{start}` and
    ``y_end`` (for the note: what the fit would give without Monte-Carlo error)."""
    if not 0 < y_end < y_start:
        return float("nan")
    ys = np.geomspace(y_start, y_end, n)
    ts = np.array([float(theory.signsgd_phase3_transit_time(a, y, y_start)) if y < y_start
                   else 0.0 for y in ys])
    return float(-np.polyfit(ts, np.log(ys), 1)[0])


# ------------------------------------------------------------------------------ claims
def claims(measurements: dict, analyse: dict | None = None) -> list[Claim]:
    """The claims of the module docstring, from :func:`measure`'s output."""
    m = measurements
    a = settings(analyse or m.get("analyse"))
    lam, a_pred = m["lam"], m["a_pred"]
    out = []
    for k in CLAIM_KINDS:
        what = KIND_LABELS[k]
        for reading in ("coordinate", "maxnorm"):
            r = m["phase1_loss"][k, reading]
            if reading == "coordinate":
                cid, pair, role = f"phase1_loss_{k}", f"phase1_loss_maxnorm_{k}", "correction"
                how = "while every coordinate is in Phase 1 (min_i |Y_i| >= 3/2)"
                note = ""
            else:
                cid, pair, role = f"phase1_loss_maxnorm_{k}", f"phase1_loss_{k}", "paper_form"
                how = "until max_i |Y_i| crosses 3/2 (the paper's |Y_t| > 3/2 read with the max norm)"
                note = ("; coordinates that left Phase 1 earlier move slower than SignGD (drift "
                        "erf(Y) < 1): Phase 1 holds coordinate-wise only (docs/theory.md)")
            out.append(Claim(
                figure=FIGURE, id=cid, role=role, pair=pair,
                statement=f"{what}: the mean loss follows the SignGD ODE {how} (largest relative "
                          "error over the window)",
                measured=r["measured"], predicted=0.0, tolerance=a["phase1_tolerance"],
                comparison="absolute", stderr=r["stderr"], interval=r["interval"],
                alternative="linearised Phase-3 drift from the start (x0 exp(-a t))",
                alternative_value=r["alternative"], runs=m["runs"],
                note=f"window [0, {r['t_end']:.3f}], largest error at t = {r['t_worst']:.3f}; "
                     f"simultaneous critical value c = {r['c']:.2f}{note}"))
        for i in range(lam.size):
            r = m["phase1"][k, i]
            out.append(Claim(
                figure=FIGURE, id=f"phase1_coord{i + 1}_{k}",
                statement=f"{what}: coordinate {i + 1} (lambda={lam[i]:g}) follows the SignGD ODE "
                          "x0 - t while its own |Y_i| >= 3/2 (largest relative error of E x_i)",
                measured=r["measured"], predicted=0.0, tolerance=a["phase1_tolerance"],
                comparison="absolute", stderr=r["stderr"], interval=r["interval"],
                alternative="linearised Phase-3 drift from the start (x0 exp(-a t))",
                alternative_value=r["alternative"], runs=m["runs"],
                note=f"window [0, {r['t_end']:.3f}], largest error at t = {r['t_worst']:.3f}; "
                     f"simultaneous critical value c = {r['c']:.2f}"))
            r = m["rate"][k, i]
            out.append(Claim(
                figure=FIGURE, id=f"phase3_rate_{k}_coord{i + 1}",
                statement=f"{what}: fitted Phase-3 decay rate of |E x_{i + 1}| (lambda={lam[i]:g}) "
                          "equals sqrt(2/pi) sqrt(B) lambda/sigma",
                measured=r["rate"], predicted=a_pred[i], tolerance=a["rate_tolerance"],
                stderr=r["se"], alternative="SGD's rate lambda_i (no noise dependence)",
                alternative_value=float(lam[i]), runs=m["runs"],
                note=f"OLS fit of ln|E x| over t in [{m['t'][r['start']]:.3f}, "
                     f"{m['t'][r['stop'] - 1]:.3f}], |Y| from 1 to {r['y_stop']:.3g}; the erf "
                     f"mean path fitted over the same |Y| window gives {r['erf_rate']:.4g} "
                     "(within the band too: the fit does not separate erf from its linearisation; "
                     "the transit-time claims do)"))
            r = m["transit"][k, i]
            y_tr = a["transit_y"]
            for form in ("erf", "linear"):
                if form == "erf":
                    cid, pair, role = (f"phase3_transit_{k}_coord{i + 1}",
                                       f"phase3_transit_linear_{k}_coord{i + 1}", "correction")
                    desc = "the erf mean-path closed form (2/(a sqrt(pi))) int dy/erf(y) [D]"
                    alt_name, alt = "linearised Phase-3 drift: ln(1/y)/a", r["linear"]
                else:
                    cid, pair, role = (f"phase3_transit_linear_{k}_coord{i + 1}",
                                       f"phase3_transit_{k}_coord{i + 1}", "paper_form")
                    desc = "ln(1/y)/a of the linearised Phase-3 drift (exponential rate a)"
                    alt_name, alt = "erf mean path (docs/theory.md)", r["erf"]
                out.append(Claim(
                    figure=FIGURE, id=cid, role=role, pair=pair,
                    statement=f"{what}: time from |Y_{i + 1}| = 1 to {y_tr:g} equals {desc}",
                    measured=r["time"], predicted=r[form], tolerance=a["transit_tolerance"],
                    stderr=r["se"], alternative=alt_name, alternative_value=alt, runs=m["runs"],
                    note="jackknife standard error over 16 groups of runs; erf(Y)/Y is "
                         "0.75 * 2/sqrt(pi) at |Y| = 1, so the mean path leaves the Phase 2/3 "
                         "boundary slower than exp(-a t)"))
    out += convergence_claims(m, a)
    return out


def convergence_claims(m: dict, a: dict) -> list[Claim]:
    """The convergence-in-dt claims (module docstring) of every SDE kind whose artifact holds
    the coupled pair; none for a kind without it."""
    conv, lam, out = m.get("convergence", {}), m["lam"], []
    sub = m.get("substeps", 1)
    dt = stats.dt_label(sub)
    frac = a["convergence_fraction"]

    def claim(key, cid, what, tol, relative, where):
        c = conv[key]
        r = stats.convergence_claim(FIGURE, cid, what, c["coarse"], c["fine"], tolerance=tol,
                                    fraction=frac, relative=relative, dt_label=dt,
                                    against="phase-claim")
        r.note += f"; {where}"
        out.append(r)

    for k in ("sde", "phasewise"):
        if (k, "loss") not in conv:
            continue
        label = KIND_LABELS[k]
        claim((k, "loss"), f"{k}_loss_converged_dt", f"{label}: the mean loss curve",
              a["phase1_tolerance"], True,
              f"read at t = {conv[k, 'loss']['t']:.3f}, where the curve's relative move is "
              "largest over t > 0 (the whole curve moves less)"
              + ("" if k in CLAIM_KINDS else "; the phase-wise dynamics are shown only: the "
                 "tolerance is the loss claims' phase1_tolerance"))
        if k not in CLAIM_KINDS:
            continue
        for i in range(lam.size):
            claim((k, "phase1", i), f"phase1_coord{i + 1}_{k}_converged_dt",
                  f"{label}: E x_{i + 1} / (|x0| - t) over coordinate {i + 1}'s Phase-1 window",
                  a["phase1_tolerance"], False,
                  f"read at t = {conv[k, 'phase1', i]['t']:.3f}, the largest move in the window "
                  "(bounds the move of the largest relative error)")
            claim((k, "rate", i), f"phase3_rate_{k}_coord{i + 1}_converged_dt",
                  f"{label}: the fitted Phase-3 decay rate of |E x_{i + 1}|",
                  a["rate_tolerance"], True,
                  "per-path values linearised at the main run's mean path (delta method), on "
                  "its fit window")
            claim((k, "transit", i), f"phase3_transit_{k}_coord{i + 1}_converged_dt",
                  f"{label}: the Phase-3 transit time of coordinate {i + 1} (|Y| from 1 to "
                  f"{a['transit_y']:g})", a["transit_tolerance"], True,
                  "per-path values linearised at the main run's mean path (delta method)")
    return out


# ------------------------------------------------------------------------------ plot
PHASE_COLORS = {1: "#d62728", 2: "#ff7f0e", 3: "#1f77b4"}
STYLE = {"optim": "-", "sde": "--", "phasewise": ":"}


def plot(measurements: dict):
    """(a) the erf drift and Lemma 3.4's approximations; (b) the loss of the optimizer, the SDE
    and the phase-wise dynamics with the SignGD ODE; (c) the SNR of the mean path per
    coordinate with the linearised Phase-3 decay from each coordinate's entry."""
    import matplotlib.pyplot as plt
    from scipy.special import erf

    from adasde import plotting

    m = measurements
    t, lam = m["t"], m["lam"]
    mk = m["markers"]["optim"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    ax = axes[0]
    y = np.linspace(0.0, 2.5, 1001)
    ax.plot(y, erf(y), color="k", lw=2, label=r"$\mathrm{erf}(Y)$")
    ranges = {1: (1.5, 2.5), 2: (1.0, 1.5), 3: (0.0, 1.0)}
    labels = {1: r"Phase 1: $\mathrm{sign}(Y)$", 2: r"Phase 2: $mY+q\,\mathrm{sign}(Y)$",
              3: r"Phase 3: $(2/\sqrt{\pi})\,Y$"}
    for p in (1, 2, 3):
        approx = theory.signsgd_phase_approximation(y, p)
        lo, hi = ranges[p]
        on = (y >= lo) & (y <= hi)
        ax.plot(y, approx, color=PHASE_COLORS[p], lw=0.8, ls=":")
        ax.plot(y[on], approx[on], color=PHASE_COLORS[p], lw=2,
                label=f"{labels[p]}, max err {theory.signsgd_phase_max_error(p):.3f}")
    for b in theory.PHASE_THRESHOLDS:
        ax.axvline(b, color="0.5", lw=0.8, ls="--")
    ax.set_ylim(0, 1.4)
    ax.set_xlabel(r"SNR $Y$")
    ax.set_ylabel(r"drift $E[\mathrm{sign}\,\nabla f_\gamma]$")
    ax.set_title("(a) erf drift and Lemma 3.4's approximations")
    ax.legend(loc="lower right", fontsize=7)

    def mark_phases(ax):
        ax.axvspan(0, mk["min_32"], color=PHASE_COLORS[1], alpha=0.08, lw=0)
        ax.axvspan(mk["max_1"], t[-1], color=PHASE_COLORS[3], alpha=0.08, lw=0)
        ax.axvline(mk["min_32"], color="0.4", lw=0.8, ls=":")
        ax.axvline(mk["max_32"], color=PHASE_COLORS[1], lw=1.0, ls="--")
        ax.axvline(mk["max_1"], color=PHASE_COLORS[3], lw=1.0, ls="--")

    ax = axes[1]
    mark_phases(ax)
    for k in KINDS:
        if k == "optim":
            mean, se = m["mean_loss"][k], m["se_loss"][k]
            ax.plot(t, mean, color=plotting.OPTIMIZER_COLORS["signsgd"], label=KIND_LABELS[k])
            ax.fill_between(t, np.maximum(mean - 2 * se, mean.min() * 1e-3), mean + 2 * se,
                            color=plotting.OPTIMIZER_COLORS["signsgd"], alpha=0.2, lw=0)
        else:
            ax.plot(t, m["mean_loss"][k], color="k" if k == "sde" else "0.35", ls=STYLE[k],
                    lw=1.2, label=KIND_LABELS[k])
    ode = m["ode"]
    pos = ode > 0
    ax.plot(t[pos], ode[pos], color="#2ca02c", lw=1.2, ls="-.", label="SignGD ODE (Phase 1)")
    ax.plot(t, m["linear_loss"], color="0.6", lw=0.8, ls=(0, (1, 2)),
            label="linearised drift from t = 0")
    limit = theory.signsgd_asymptotic_loss(lam, m["sigma"], m["eta"], m["B"])
    ax.axhline(limit, color="0.5", lw=0.8, ls=":", label="stationary limit (docs/paper.md 3.3)")
    conv = m.get("convergence", {})
    if ("sde", "loss") in conv:
        moves = [stats.dt_move(conv[k, "loss"]["coarse"], conv[k, "loss"]["fine"])["move"]
                 for k in ("sde", "phasewise") if (k, "loss") in conv]
        sub = m.get("substeps", 1)
        dt = r"\eta" if sub == 1 else fr"\eta/{sub}"
        ax.text(0.98, 0.97, fr"SDE curves at $\Delta t = {dt}$: move $\leq$ "
                rf"{100 * max(abs(v) for v in moves):.2g}% when $\Delta t$ halves",
                transform=ax.transAxes, fontsize=7, color="0.3", ha="right", va="top")
    ax.set_yscale("log")
    ax.set_ylim(0.3 * limit, 2 * float(np.max(m["mean_loss"]["optim"])))
    ax.set_xlabel(r"time $t = k\eta$")
    ax.set_ylabel(r"$f(x) - f^*$")
    ax.set_title(r"(b) loss; dashed: $\max_i|Y_i|$ crosses $3/2$ and $1$")
    ax.legend(loc="center right", fontsize=7)

    ax = axes[2]
    mark_phases(ax)
    coord_colors = plotting.level_colors(lam.size, "plasma")
    ybar = m["ybar"]
    for i in range(lam.size):
        for k in KINDS:
            ax.plot(t, np.abs(ybar[k][:, i]), color=coord_colors[i], ls=STYLE[k],
                    lw=1.3 if k == "optim" else 1.0,
                    label=fr"$\lambda_{i + 1}$={lam[i]:g}" if k == "optim" else None)
        t_in = crossing_time(t, np.abs(ybar["optim"][:, i]), 1.0)
        tt = t[t >= t_in]
        ax.plot(tt, np.exp(-m["a_pred"][i] * (tt - t_in)), color=coord_colors[i], lw=0.7,
                alpha=0.6)
    for b in theory.PHASE_THRESHOLDS:
        ax.axhline(b, color="0.5", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_ylim(5e-3, 1.2 * np.abs(ybar["optim"]).max())
    ax.set_xlabel(r"time $t = k\eta$")
    ax.set_ylabel(r"$|\bar Y_i(t)|$ (SNR of the mean path)")
    ax.set_title(r"(c) $Y_t$ per coordinate (thin: $e^{-a_i(t-t_i)}$)")
    handles = [plt.Line2D([], [], color="k", ls=STYLE[k], label=KIND_LABELS[k]) for k in KINDS]
    leg = ax.legend(loc="center right", fontsize=7)
    ax.add_artist(leg)
    ax.legend(handles=handles, loc="lower left", fontsize=7)
    fig.suptitle("SignSGD's three phases (Lemma 3.4) on a quadratic: optimizer, SDE and "
                 "phase-wise approximation")
    fig.tight_layout()
    return fig
