r"""Analysis of figure ``bounds``: the poster's Theorem 1 (SGD) and Theorem 2 (SignSGD, Phase 3)
against simulation (docs/paper.md 3.1-3.2; artifacts of :mod:`adasde.experiments.bounds`).

**The statistic.** A bound :math:`E f(X_t) \le B(t - \tau; f(X_\tau))` started at a stopping
time :math:`\tau` is checked *path by path*: for every path :math:`r` with entry index
:math:`\tau_r` (``0`` for the SGD bounds, the path's first saved time in Phase 3,
:math:`\max_i|Y_i| < 1`, for the SignSGD bounds; decided per path, never from the mean path)
and every lag :math:`s = t - \tau_r` on the saved grid,
:math:`D_r(s) = f_r(\tau_r + s) - B(s; f_r(\tau_r))`. By the strong Markov property
:math:`E[D(s)] \le 0` at every :math:`s` (also restricted to paths with
:math:`\tau_r \le T - s`, an :math:`\mathcal F_\tau`-measurable selection). The measured value
of a bound claim is the largest *relative excess* over the lags,
:math:`\max_s e(s)`, :math:`e(s) = \sum_r D_r(s)/\sum_r B_r(s)` (0: the mean touches the
bound; -0.3: it lies 30% below it), and its 95% interval comes from a *simultaneous* band over
all lags (Gaussian multiplier bootstrap over paths, :func:`simultaneous_max`), so that taking
the maximum over many saved times neither passes nor fails a claim by chance. Band:
:math:`(-\infty, 0]` (comparison ``le``, tolerance 0); no allowance of standard errors.

**Claims** (:func:`claims`), per grid point :math:`(\sigma, B)`:

* ``sgd_<kind>_thm1_spectrum``: Theorem 1 (docs/paper.md 3.1) on the spectrum in :math:`[\mu, L]`,
  optimizer and SDE, at every saved :math:`t > 0`. Its slack (rate :math:`2\mu`, limit
  :math:`Ld/\mu`) is so large that the drift-only ODE (gradient flow without noise) lies under
  it too: recorded as *cannot discriminate*.
* ``signsgd_<kind>_thm2_spectrum``: Theorem 2 (docs/paper.md 3.2) from each path's Phase-3 entry on
  the spectrum, optimizer and Corollary 3.3 SDE; likewise *cannot discriminate* (alternative:
  the drift-only erf ODE).
* ``phase3_sde_thm2_iso``: Theorem 2 for the SDE it is derived for, the Phase-3 SDE (poster
  eq. (1)), on :math:`H = \lambda I` (no slack) from each path's entry, over the first
  ``window_relaxations`` relaxation times :math:`1/r` (later the bound is an equality, tested
  by the plateau claim). Alternative: SignSGD's own erf drift (Corollary 3.3) without noise,
  which exceeds the bound.
* ``signsgd_<kind>_thm2_iso`` (``paper_form``) and ``signsgd_<kind>_erf_iso`` (``correction``):
  Theorem 2 carried over to SignSGD (optimizer and Corollary 3.3 SDE) on :math:`H = \lambda I`
  fails, because :math:`\mathrm{erf}(Y) < 2Y/\sqrt\pi`; the bound without the linearisation
  (docs/theory.md "SignSGD bound in Phase 3 without linearisation") holds. The correction's
  alternative is zero effect (no contraction in Phase 3).
* ``<series>_plateau_iso``: the plateau on :math:`H = \lambda I` equals the bound's limit
  (relative ``tolerance``): SGD's :math:`\eta d\sigma^2/(4B)` against SignSGD's (noise enters
  linearly) and SignSGD's :math:`\sqrt{\pi/2}\,\eta d\sigma/(4\sqrt B)` against SGD's
  (quadratically), docs/paper.md 3.2's contrast.
* ``<series>_converged_dt_<window>_<problem>`` (:data:`CONVERGENCE`, one per plotted SDE curve
  and window; series ``sgd_sde``, ``signsgd_sde`` on both problems, ``phase3_sde`` on
  :math:`H = \lambda I`): the plotted SDE curve is converged in the step. From the job's
  coupled pair (Euler-Maruyama at :math:`\Delta t = \eta/k`, ``sde_substeps`` :math:`k`, and
  at :math:`\Delta t/2` on the same Brownian path) the per-path value :math:`q_r` of the
  window's statistic moves, on average over the paths, by
  :math:`|\bar q_{\Delta t} - \bar q_{\Delta t/2}|/\bar q_{\Delta t/2} \le`
  ``convergence_fraction`` :math:`\times` ``tolerance`` (:func:`adasde.figures.stats.
  convergence_claim`; absolute band around 0 with the pair's standard error). Windows:
  ``plateau``, :math:`q_r` the path's time average over the final ``plateau_fraction`` (the
  plateau claims' statistic, relative ``tolerance``); ``transient``,
  :math:`q_r = \frac1{|W|}\sum_{t \in W} f_r(t)/\bar F(t)`, the path's loss relative to the
  main run's mean SDE curve :math:`\bar F` averaged over the saved times
  :math:`W = \{t > 0: \bar F(t) > 2\,\text{plateau}\}` where the bound checks' transient
  lies, so that the move is the mean relative move of the plotted curve there, in the units of
  the bound checks' relative excess. The bound checks have no slack (tolerance 0), so the
  transient's scale is the figure's relative ``tolerance`` as well. Alternative: a
  discretisation error as large as that tolerance.

This module never imports jax or :mod:`adasde.experiments`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from adasde import artifacts, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "bounds"
PROBLEMS = ("spectrum", "isotropic")
OPTIMIZERS = ("sgd", "signsgd")
KINDS = ("optim", "sde")
SERIES = ("sgd_optim", "sgd_sde", "signsgd_optim", "signsgd_sde", "phase3_sde")
SERIES_LABELS = {"sgd_optim": "SGD", "sgd_sde": "SGD SDE", "signsgd_optim": "SignSGD",
                 "signsgd_sde": "SignSGD SDE (Cor. 3.3)",
                 "phase3_sde": "Phase-3 SDE (poster eq. (1))"}
ANALYSE_DEFAULTS = {"plateau_fraction": 0.25, "tolerance": 0.1, "window_relaxations": 3.0,
                    "min_paths": 0.5, "bootstrap": 500,
                    "convergence_fraction": 0.5}  # = config/schema.yaml's defaults
# (series, problem) of every plotted SDE curve: each gets a convergence-in-dt claim per window
CONVERGENCE = (("sgd_sde", "spectrum"), ("sgd_sde", "isotropic"), ("signsgd_sde", "spectrum"),
               ("signsgd_sde", "isotropic"), ("phase3_sde", "isotropic"))
CONVERGENCE_WINDOWS = ("transient", "plateau")
PROBLEM_TAGS = {"spectrum": "spectrum", "isotropic": "iso"}
BOOT_SEED = 20250124


def settings(analyse: dict | None) -> dict:
    """``analyse`` with its defaults filled."""
    return {**ANALYSE_DEFAULTS, **(analyse or {})}


# ------------------------------------------------------------------------------ load
def load(inputs: dict) -> dict:
    """Read the four artifacts ``inputs["<optimizer>_<kind>"]``: ``{"arrays": {series:
    arrays}, "metas": {stem: meta}, "config": the simulate section}``. The Phase-3 SDE's paths
    (and its coupled pair) come from the SignSGD ``sde`` artifact."""
    arrays, metas = {}, {}
    for opt in OPTIMIZERS:
        for kind in KINDS:
            stem = f"{opt}_{kind}"
            a, meta = artifacts.load(inputs[stem])
            arrays[stem], metas[stem] = a, meta
    sde = arrays["signsgd_sde"]
    if "phase3_sde_loss" not in sde:
        raise artifacts.ArtifactError(
            f"artifact {inputs['signsgd_sde']} lacks phase3_sde_loss (written by an older "
            "adasde); delete it and rebuild it with `make figures`")
    for stem in ("sgd_sde", "signsgd_sde"):
        if "conv_loss_coarse" not in arrays[stem]:
            raise artifacts.ArtifactError(
                f"artifact {inputs[stem]} lacks conv_loss_coarse (the coupled dt pair, written "
                "by adasde since issue #12); delete it and rebuild it with `make figures`")
    arrays["phase3_sde"] = {"loss": sde["phase3_sde_loss"], "phase3_entry": sde["phase3_sde_entry"],
                            "phase3_reexit": sde["phase3_sde_reexit"],
                            "conv_loss_coarse": sde["phase3_sde_conv_loss_coarse"],
                            "conv_loss_fine": sde["phase3_sde_conv_loss_fine"]}
    # each job recorded its own optimizer's settings (and only SDE jobs the SDE-only keys)
    return {"arrays": arrays, "metas": metas,
            "config": stats.merged_section(FIGURE, metas, inputs)}


# ------------------------------------------------------------------------------ statistics
def lagged_excess(loss, entry, bound, max_lag: int | None = None):
    r"""Per path and lag, :math:`D_r(j) = f_r(\tau_r + j) - B(j; f_r(\tau_r))` and
    :math:`B_r(j)` for lags ``j = 1 .. J`` (saved indices after the entry ``entry[r]``; -1:
    never entered, the path is left out). ``loss`` (runs, times); ``bound(j, f0)`` the bound
    after ``j`` saved steps from ``f0`` (vectorised). Returns ``(D, B)``, each (runs, J), NaN
    where path ``r`` has no saved time ``tau_r + j``."""
    loss = np.asarray(loss, float)
    entry = np.asarray(entry, int)
    R, T = loss.shape
    J = T - 1 if max_lag is None else min(int(max_lag), T - 1)
    j = np.arange(1, J + 1)
    idx = entry[:, None] + j[None, :]
    ok = (entry[:, None] >= 0) & (idx < T)
    f0 = np.where(entry >= 0, loss[np.arange(R), np.clip(entry, 0, T - 1)], np.nan)
    f = np.where(ok, loss[np.arange(R)[:, None], np.clip(idx, 0, T - 1)], np.nan)
    b = np.where(ok, bound(j[None, :], f0[:, None]), np.nan)
    return f - b, b


def simultaneous_max(D, B, n_boot: int = 500, seed: int = BOOT_SEED, min_paths: float = 0.5):
    r"""The largest relative excess :math:`\max_j e_j`, :math:`e_j = \sum_r D_{rj}/\sum_r
    B_{rj}` (NaN entries left out), with a simultaneous 95% band over the lags ``j`` that have
    at least ``min_paths`` of the runs: the critical value ``c`` is the 95% quantile of
    :math:`\max_j |Z_j|/se_j` under a Gaussian multiplier bootstrap of the linearised ratio,
    so the interval :math:`[\max_j(e_j - c\,se_j), \max_j(e_j + c\,se_j)]` covers the true
    maximum with probability at least 95%.

    Returns a dict: ``measured``, ``interval``, ``stderr`` (at the arg max), ``lag`` (its index
    into the columns), ``c``, ``e`` and ``se`` (per lag, NaN where left out), ``paths`` (runs
    with at least one lag)."""
    D = np.asarray(D, float)
    B = np.asarray(B, float)
    avail = np.isfinite(D) & np.isfinite(B)
    R = D.shape[0]
    n = avail.sum(axis=0)
    keep = n >= max(2, min_paths * R)
    Dz, Bz = np.where(avail, D, 0.0), np.where(avail, B, 0.0)
    sumB = Bz.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = Dz.sum(axis=0) / sumB
        # linearised ratio estimator, scaled by sqrt(n/(n-1)) for the sample variance
        psi = (np.where(avail, Dz - e * Bz, 0.0) / sumB) * np.sqrt(n / np.maximum(n - 1, 1))
    psi = np.where(keep, psi, 0.0)
    e = np.where(keep, e, np.nan)
    out = {"e": e, "se": np.full_like(e, np.nan), "paths": int(np.any(avail, axis=1).sum()),
           "c": float("nan"), "measured": float("nan"), "interval": None, "stderr": None,
           "lag": None}
    if not keep.any():
        return out
    c, se = stats.simultaneous_critical(psi, n_boot, seed)
    se = np.where(keep, se, np.nan)
    out["se"] = se
    k = int(np.nanargmax(e))
    out.update(measured=float(e[k]), lag=k, c=c, stderr=float(se[k]),
               interval=[float(np.nanmax(e - c * se)), float(np.nanmax(e + c * se))])
    return out


def drift_only_loss(lam, x0, s, eta, n_steps: int, save_every: int, drift: str):
    r"""Loss at every saved index of the drift-only recursion :math:`x \leftarrow x - \eta\,
    a(x)` (the Euler scheme at :math:`\Delta t = \eta` of the SDE without its diffusion):
    ``drift="gradient"``: :math:`a = \lambda x` (gradient flow; for SGD also the noise-free
    optimizer); ``"erf"``: :math:`a = \mathrm{erf}(\lambda x/(\sqrt2 s))` (Corollary 3.3's
    drift); ``"linear"``: :math:`a = \sqrt{2/\pi}\,\lambda x/s` (the Phase-3 drift). Returns
    ``(loss, max_i |Y_i|)`` per saved index."""
    lam = np.asarray(lam, float)
    x = np.broadcast_to(np.asarray(x0, float), lam.shape).copy()
    losses, ymax = [], []
    for k in range(n_steps + 1):
        if k % save_every == 0:
            losses.append(0.5 * float(np.sum(lam * x * x)))
            ymax.append(float(np.max(np.abs(lam * x)) / (math.sqrt(2.0) * s)))
        if k == n_steps:
            break
        y = lam * x / (math.sqrt(2.0) * s)
        if drift == "gradient":
            x = x - eta * lam * x
        elif drift == "erf":
            x = x - eta * erf(y)
        elif drift == "linear":
            x = x - eta * math.sqrt(2.0 / math.pi) * lam * x / s
        else:
            raise ValueError(drift)
    return np.array(losses), np.array(ymax)


# ------------------------------------------------------------------------------ measure
def _consts(lam):
    return float(lam.min()), float(lam.max()), int(lam.size)


def bound_fn(name: str, lam, sigma, eta, batch, dt):
    """``bound(j, f0)``: the bound ``name`` (``thm1``, ``thm2``, ``erf``) after ``j`` saved
    steps of length ``dt`` from ``f0`` (docs/paper.md 3.1-3.2, docs/theory.md)."""
    mu, L, d = _consts(lam)
    if name == "thm1":
        return lambda j, f0: theory.sgd_bound(j * dt, f0, mu, L, d, sigma, eta, batch)
    if name == "thm2":
        return lambda j, f0: theory.signsgd_bound(j * dt, f0, mu, L, d, sigma, eta, batch)
    if name == "erf":
        return lambda j, f0: theory.signsgd_bound_erf(j * dt, f0, mu, L, d, sigma, eta, batch,
                                                      y_max=1.0)
    raise ValueError(name)


def rate(name: str, lam, sigma, batch) -> float:
    """The exponential rate of bound ``name`` (its ``f0`` coefficient is ``exp(-rate t)``)."""
    mu, L, d = _consts(lam)
    if name == "thm1":
        return 2.0 * mu
    ratio = 2.0 / math.sqrt(math.pi) if name == "thm2" else math.erf(1.0)
    return math.sqrt(2.0) * mu * ratio * math.sqrt(batch) / sigma


def limit(name: str, lam, sigma, eta, batch) -> float:
    """The bound's limit as :math:`t \\to \\infty`."""
    return float(bound_fn(name, lam, sigma, eta, batch, 1.0)(np.inf, 0.0))


# (series, problem, bound, window) of every bound check; window "all" or "relax"
CHECKS = (
    ("sgd_optim", "spectrum", "thm1", "all"),
    ("sgd_sde", "spectrum", "thm1", "all"),
    ("signsgd_optim", "spectrum", "thm2", "relax"),
    ("signsgd_sde", "spectrum", "thm2", "relax"),
    ("phase3_sde", "isotropic", "thm2", "relax"),
    ("signsgd_optim", "isotropic", "thm2", "relax"),
    ("signsgd_sde", "isotropic", "thm2", "relax"),
    ("signsgd_optim", "isotropic", "erf", "relax"),
    ("signsgd_sde", "isotropic", "erf", "relax"),
)


def measure(data: dict, analyse: dict | None = None) -> dict:
    """Every bound check of :data:`CHECKS` (:func:`simultaneous_max` of the lagged relative
    excess), the drift-only alternatives, the plateaus on :math:`H = \\lambda I` and the curves
    of the figure."""
    a = settings(analyse)
    arrays, cfg = data["arrays"], data["config"]
    first = arrays["sgd_optim"]
    lams, sigmas, Bs, times = first["lam"], first["sigmas"], first["batch_sizes"], first["times"]
    dt = float(times[1] - times[0])
    save_every = int(cfg["save_every"])
    n_steps = (len(times) - 1) * save_every
    s_eff = sigmas / np.sqrt(Bs)
    x0 = float(cfg.get("x0", 3.0))
    etas = {opt: float(cfg["optimizers"][opt]["eta"]) for opt in OPTIMIZERS}
    eta_of = {s: etas[s.split("_")[0]] if s != "phase3_sde" else etas["signsgd"] for s in SERIES}
    m = {"lams": lams, "sigmas": sigmas, "Bs": Bs, "times": times, "dt": dt, "x0": x0,
         "etas": etas, "runs": int(first["loss"].shape[2]), "analyse": a, "metas": data["metas"],
         "checks": {}, "plateaus": {}, "curves": {},
         "sde_substeps": int(cfg.get("sde_substeps", 1))}
    G = len(sigmas)
    for series in SERIES:
        loss = arrays[series]["loss"]
        for p in range(len(PROBLEMS)):
            for g in range(G):
                L = loss[p, g].astype(float)
                m["curves"][series, p, g] = (L.mean(axis=0),
                                             L.std(axis=0, ddof=1) / np.sqrt(L.shape[0]))
    for series, prob, bname, window in CHECKS:
        p = PROBLEMS.index(prob)
        eta = eta_of[series]
        for g in range(G):
            lam = lams[p]
            bound = bound_fn(bname, lam, sigmas[g], eta, Bs[g], dt)
            loss = arrays[series]["loss"][p, g]
            if bname == "thm1":
                entry = np.zeros(loss.shape[0], int)
                reexit = np.zeros(loss.shape[0], bool)
            else:
                entry = arrays[series]["phase3_entry"][p, g]
                reexit = arrays[series]["phase3_reexit"][p, g]
            r_thm2 = rate("thm2", lam, sigmas[g], Bs[g])
            max_lag = (None if window == "all"
                       else max(1, int(round(a["window_relaxations"] / (r_thm2 * dt)))))
            D, Bv = lagged_excess(loss, entry, bound, max_lag)
            res = simultaneous_max(D, Bv, a["bootstrap"], BOOT_SEED + g, a["min_paths"])
            res.update(entry=entry, reexit=reexit, max_lag=max_lag,
                       mean_path_curve=_pathwise_bound_curve(loss, entry, bound))
            res["alternative"] = _alternative(series, prob, bname, lam, x0, s_eff[g], eta,
                                              n_steps, save_every, bound, max_lag, m, g, arrays)
            m["checks"][series, prob, bname, g] = res
    frac = a["plateau_fraction"]
    p = PROBLEMS.index("isotropic")
    for series in SERIES:
        for g in range(G):
            mean, se, _ = stats.plateau(arrays[series]["loss"][p, g], frac)
            m["plateaus"][series, g] = (float(mean), float(se))
    m["convergence"] = {}
    for series, prob in CONVERGENCE:
        p = PROBLEMS.index(prob)
        for g in range(G):
            m["convergence"][series, prob, g] = convergence_values(
                arrays[series]["conv_loss_coarse"][p, g], arrays[series]["conv_loss_fine"][p, g],
                m["curves"][series, p, g][0], frac)
    return m


def convergence_values(coarse, fine, reference, fraction: float) -> dict:
    r"""Per-path statistics of the coupled pair ``coarse``/``fine`` (paths, saved time) of one
    SDE curve (module docstring, claims ``<series>_converged_dt_<window>``): ``"plateau"``,
    each path's time average over the final ``fraction`` (:func:`adasde.figures.stats.
    plateau`); ``"transient"``, :math:`q_r = \frac1{|W|}\sum_{t\in W} f_r(t)/\bar F(t)` over
    :math:`W = \{t > 0 : \bar F(t) > 2\,\bar F_{\text{plateau}}\}` with :math:`\bar F` =
    ``reference`` (the main run's mean curve; its first saved time after 0 if :math:`W` is
    empty). Returns ``{window: (coarse values, fine values)}`` and ``"transient_times"``: the
    saved indices of :math:`W`."""
    ref = np.asarray(reference, float)
    level = float(stats.plateau(np.vstack([ref, ref]), fraction)[0])  # 2 rows: no ddof warning
    window = np.flatnonzero(ref > 2.0 * level)
    window = window[window > 0]
    if not window.size:
        window = np.array([1])
    chains = [np.asarray(c, float) for c in (coarse, fine)]
    return {"transient_times": window,
            "plateau": tuple(stats.plateau(c, fraction)[2] for c in chains),
            "transient": tuple((c[:, window] / ref[window]).mean(axis=1) for c in chains)}


def _alternative(series, prob, bname, lam, x0, s, eta, n_steps, save_every, bound, max_lag,
                 m, g, arrays):
    """(name, value) of the alternative of one bound check, in the check's measured units."""
    if bname == "thm1":  # gradient flow without noise (= noise-free GD at dt = eta)
        f, _ = drift_only_loss(lam, x0, s, eta, n_steps, save_every, "gradient")
        D, Bv = lagged_excess(f[None, :], np.zeros(1, int), bound, max_lag)
        return "drift-only ODE (gradient flow without noise)", float(np.nanmax(D / Bv))
    if bname == "erf":  # zero effect: E f stays at E f(X_tau) after the entry
        entry = arrays[series]["phase3_entry"][PROBLEMS.index(prob), g]
        loss = arrays[series]["loss"][PROBLEMS.index(prob), g]
        ok = entry >= 0
        if not ok.any():
            return "zero effect (no contraction in Phase 3)", None
        f0 = float(loss[np.flatnonzero(ok), entry[ok]].mean())
        j = np.arange(1, (max_lag or loss.shape[1] - 1) + 1)
        b = bound(j, f0)
        return "zero effect (no contraction in Phase 3)", float(np.max((f0 - b) / b))
    # Theorem 2: the drift-only erf ODE (Corollary 3.3 without its diffusion) from its entry
    f, ymax = drift_only_loss(lam, x0, s, eta, n_steps, save_every, "erf")
    inside = np.flatnonzero(ymax < 1.0)
    if not inside.size:
        return "drift-only erf ODE (Corollary 3.3 drift, no noise)", None
    D, Bv = lagged_excess(f[None, :], np.array([inside[0]]), bound, max_lag)
    return "drift-only erf ODE (Corollary 3.3 drift, no noise)", float(np.nanmax(D / Bv))


def _pathwise_bound_curve(loss, entry, bound):
    r"""Per saved time, the mean over paths of each path's bound from its own entry (the path's
    loss itself before its entry): an upper curve for :math:`E f(X_t)` (for the figure)."""
    loss = np.asarray(loss, float)
    R, T = loss.shape
    out = loss.copy()
    t = np.arange(T)
    for r in range(R):
        e = entry[r]
        if e < 0:
            continue
        out[r, e:] = bound(t[e:] - e, loss[r, e])
    return out.mean(axis=0)


# ------------------------------------------------------------------------------ claims
def _tag(m, g):
    return f"s{m['sigmas'][g]:g}_B{m['Bs'][g]:g}"


def _label(m, g):
    return f"sigma={m['sigmas'][g]:g}, B={m['Bs'][g]:g}"


BOUND_NAMES = {"thm1": "Theorem 1", "thm2": "Theorem 2 (linearised Phase-3 rate)",
               "erf": "the bound without linearisation (y_max = 1)"}


def claims(measurements: dict, analyse: dict | None = None) -> list[Claim]:
    """The claims of the module docstring, from :func:`measure`'s output."""
    m = measurements
    a = settings(analyse or m.get("analyse"))
    out = []
    G = len(m["sigmas"])
    for g in range(G):
        for series, prob, bname, window in CHECKS:
            out.append(_bound_claim(m, a, g, series, prob, bname, window))
        out.extend(_plateau_claims(m, a, g))
        out.extend(_convergence_claims(m, a, g))
    return out


def _convergence_claims(m, a, g) -> list[Claim]:
    """The ``<series>_converged_dt_<window>_<problem>`` claims of grid point ``g``."""
    tag, label = _tag(m, g), _label(m, g)
    out = []
    for series, prob in CONVERGENCE:
        vals = m["convergence"][series, prob, g]
        lam = m["lams"][PROBLEMS.index(prob)]
        where = (f"H = {lam[0]:g} I" if prob == "isotropic"
                 else f"the spectrum in [{lam.min():g}, {lam.max():g}]")
        for window in CONVERGENCE_WINDOWS:
            if window == "plateau":
                what = (f"the {SERIES_LABELS[series]} plateau (time average over the final "
                        f"{a['plateau_fraction']:g}) on {where} ({label})")
            else:
                t = m["times"][vals["transient_times"]]
                what = (f"the {SERIES_LABELS[series]} mean curve's transient on {where} "
                        f"(relative to the main run's curve, averaged over the "
                        f"{t.size} saved times t in [{t.min():g}, {t.max():g}] above twice its "
                        f"plateau; {label})")
            c = stats.convergence_claim(
                FIGURE, f"{series}_converged_dt_{window}_{PROBLEM_TAGS[prob]}_{tag}", what,
                *vals[window], tolerance=a["tolerance"], fraction=a["convergence_fraction"],
                dt_label=stats.dt_label(m["sde_substeps"]), against="SDE-vs-bound")
            if window == "transient":
                c.note += ("; the bound checks have no slack (tolerance 0): scale is the "
                           "figure's relative tolerance")
            out.append(c)
    return out


def _bound_claim(m, a, g, series, prob, bname, window) -> Claim:
    res = m["checks"][series, prob, bname, g]
    tag, label = _tag(m, g), _label(m, g)
    what = SERIES_LABELS[series]
    role, pair, cid = "claim", "", ""
    if bname == "thm1":
        cid = f"{series}_thm1_spectrum_{tag}"
        statement = (f"{what} mean <= Theorem 1 bound at every saved t > 0 (spectrum problem, "
                     f"{label}); measured: largest relative excess over the bound")
    elif prob == "spectrum":
        cid = f"{series}_thm2_spectrum_{tag}"
        statement = (f"{what} mean <= Theorem 2 bound applied to each path from its own "
                     f"Phase-3 entry (spectrum problem, {label})")
    elif series == "phase3_sde":
        cid = f"phase3_sde_thm2_iso_{tag}"
        statement = (f"the Phase-3 SDE (poster eq. (1), which Theorem 2 is derived for) stays "
                     f"below Theorem 2 from each path's Phase-3 entry on H = lambda I ({label})")
    elif bname == "thm2":
        cid = f"{series}_thm2_iso_{tag}"
        role, pair = "paper_form", f"{series}_erf_iso_{tag}"
        statement = (f"{what} on H = lambda I stays below Theorem 2 from each path's Phase-3 "
                     f"entry (Theorem 2 carried over from its SDE to SignSGD; {label})")
    else:
        cid = f"{series}_erf_iso_{tag}"
        role, pair = "correction", f"{series}_thm2_iso_{tag}"
        statement = (f"{what} on H = lambda I stays below the bound without linearisation "
                     f"(erf(1) rate, y_max = 1) from each path's Phase-3 entry ({label})")
    if window == "relax":
        statement += (f", over lags up to {a['window_relaxations']:g} relaxation times of "
                      "Theorem 2")
    alt_name, alt_value = res["alternative"]
    note = _bound_note(m, res, bname, window)
    if series == "phase3_sde":
        other = m["checks"].get(("signsgd_sde", "isotropic", "thm2", g))
        if other is not None and other["interval"]:
            note += (f"; SignSGD's own SDE (Corollary 3.3) from its entry: largest relative "
                     f"excess {other['measured']:+.4f}, 95% simultaneous interval "
                     f"[{other['interval'][0]:+.4f}, {other['interval'][1]:+.4f}]")
    if bname == "thm2" and prob == "isotropic" and series != "phase3_sde":
        note += ("; erf(Y) < 2Y/sqrt(pi) for 0 < |Y| <= 1 (erf(1) = 0.843 vs 1.128): early in "
                 "Phase 3 SignSGD relaxes up to 25% slower than Theorem 2's rate and H = lambda I "
                 "leaves no slack (docs/theory.md)")
    return Claim(figure=FIGURE, id=cid, statement=statement, measured=res["measured"],
                 predicted=0.0, tolerance=0.0, comparison="le", stderr=res["stderr"],
                 interval=res["interval"], alternative=alt_name, alternative_value=alt_value,
                 runs=res["paths"], role=role, pair=pair, note=note)


def _bound_note(m, res, bname, window) -> str:
    if res["interval"] is None:
        return "no lag with enough paths in Phase 3: run longer"
    lag_t = (res["lag"] + 1) * m["dt"]
    parts = [f"largest excess at lag {lag_t:g} after the entry; simultaneous critical value "
             f"c = {res['c']:.2f} over the lags"]
    if bname != "thm1":
        entry = res["entry"]
        never = float(np.mean(entry < 0))
        ent = entry[entry >= 0]
        if ent.size:
            q = np.quantile(m["times"][ent], [0.05, 0.5, 0.95])
            parts.append(f"per-path Phase-3 entry t in [{q[0]:g}, {q[2]:g}] (5-95%), median "
                         f"{q[1]:g}")
        if never:
            parts.append(f"{100 * never:.1f}% of paths never enter Phase 3 (left out)")
        parts.append(f"{100 * float(np.mean(res['reexit'])):.1f}% of paths leave Phase 3 again "
                     "at a later saved time")
    return "; ".join(parts)


def _plateau_claims(m, a, g) -> list[Claim]:
    p = PROBLEMS.index("isotropic")
    lam = m["lams"][p]
    sigma, B = m["sigmas"][g], m["Bs"][g]
    tag, label = _tag(m, g), _label(m, g)
    out = []
    for series in SERIES:
        opt = "sgd" if series.startswith("sgd") else "signsgd"
        eta = m["etas"][opt]
        mean, se = m["plateaus"][series, g]
        sgd_lim = limit("thm1", lam, sigma, eta, B)
        sign_lim = limit("thm2", lam, sigma, eta, B)
        if opt == "sgd":
            pred, alt, alt_name = sgd_lim, sign_lim, "noise entering linearly (Theorem 2's limit)"
            form = "eta L d sigma^2/(4 mu B) (Theorem 1)"
            exact = theory.loss_from_variance(lam, theory.sgd_discrete_stationary_variance(
                lam, sigma, eta, B))
        else:
            pred, alt, alt_name = sign_lim, sgd_lim, "noise entering quadratically (Theorem 1's limit)"
            form = "sqrt(pi/2) eta L d sigma/(4 mu sqrt(B)) (Theorem 2)"
            exact = theory.loss_from_variance(lam, theory.signsgd_discrete_stationary_variance(
                lam, sigma, eta, B))
        out.append(Claim(
            figure=FIGURE, id=f"{series}_plateau_iso_{tag}",
            statement=f"{SERIES_LABELS[series]} plateau on H = {lam[0]:g} I equals the bound's "
                      f"limit {form} ({label})",
            measured=mean, predicted=pred, tolerance=a["tolerance"], stderr=se,
            alternative=alt_name, alternative_value=alt, runs=m["runs"],
            note=f"time average over the last {a['plateau_fraction']:g} of the run; the "
                 f"optimizer's discrete-time stationary loss (docs/theory.md) is {exact:.5g}"))
    return out


# ------------------------------------------------------------------------------ plot
def plot(measurements: dict):
    """Left two columns: :math:`E f(X_t) - f^*` for SGD (top) and SignSGD (bottom) on both
    problems (optimizer solid with its band, SDE dashed, bound dotted: for SignSGD each path's
    bound from its own Phase-3 entry, averaged; on :math:`H = \\lambda I` also the erf bound
    dash-dotted and the Phase-3 SDE in grey). Right column: the relative excess
    :math:`e(s)` over Theorem 2 (top) and over the erf bound (bottom) on :math:`H = \\lambda I`
    against the lag after the entry, with the simultaneous 95% band."""
    import matplotlib.pyplot as plt

    from adasde import plotting

    m = measurements
    times, sigmas, G = m["times"], m["sigmas"], len(m["sigmas"])
    colors = plotting.level_colors(G)
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), squeeze=False)
    for p, pname in enumerate(PROBLEMS):
        lam = m["lams"][p]
        title = (f"spectrum in [{lam.min():g}, {lam.max():g}]" if pname == "spectrum"
                 else f"H = {lam[0]:g} I")
        for row, opt in enumerate(OPTIMIZERS):
            ax = axes[row, p]
            for g in range(G):
                c = colors[g]
                mean, se = m["curves"][f"{opt}_optim", p, g]
                ax.plot(times, mean, color=c, label=_label(m, g))
                ax.fill_between(times, np.maximum(mean - 2 * se, mean.min() * 1e-3),
                                mean + 2 * se, color=c, alpha=0.2, lw=0)
                ax.plot(times, m["curves"][f"{opt}_sde", p, g][0], color=c, ls="--", lw=1.0)
                bname = "thm1" if opt == "sgd" else "thm2"
                chk = m["checks"].get((f"{opt}_optim", pname, bname, g))
                if chk is not None:
                    ax.plot(times, chk["mean_path_curve"], color=c, ls=":", lw=1.4)
                elif opt == "sgd":
                    f0 = float(mean[0])
                    ax.plot(times, bound_fn("thm1", lam, sigmas[g], m["etas"]["sgd"], m["Bs"][g],
                                            m["dt"])(np.arange(len(times)), f0),
                            color=c, ls=":", lw=1.4)
                if opt == "signsgd" and pname == "isotropic":
                    erfc = m["checks"][("signsgd_optim", pname, "erf", g)]["mean_path_curve"]
                    ax.plot(times, erfc, color=c, ls="-.", lw=1.0)
                    ax.plot(times, m["curves"]["phase3_sde", p, g][0], color="0.5", lw=0.8)
            ax.set_yscale("log")
            ax.set_title(f"{plotting.OPTIMIZER_LABELS[opt]}: {title}")
            ax.set_ylabel(r"$E[f(X_t)] - f^*$")
            axes[1, p].set_xlabel(r"$t = k\eta$")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    handles = [plt.Line2D([], [], color="k", ls=ls, label=lab) for ls, lab in (
        ("-", "optimizer"), ("--", "SDE"), (":", "bound (SignSGD: per path from its Phase-3 entry)"),
        ("-.", "erf bound (H = λI)"))]
    handles.append(plt.Line2D([], [], color="0.5", label="Phase-3 SDE (eq. (1))"))
    axes[1, 1].legend(handles=handles, loc="upper right", fontsize=7)
    for row, (bname, series_list) in enumerate((
            ("thm2", ("signsgd_optim", "signsgd_sde", "phase3_sde")),
            ("erf", ("signsgd_optim", "signsgd_sde")))):
        ax = axes[row, 2]
        for g in range(G):
            for series, ls in zip(series_list, ("-", "--", ":"), strict=False):
                chk = m["checks"].get((series, "isotropic", bname, g))
                if chk is None or chk["interval"] is None:
                    continue
                lag = (np.arange(len(chk["e"])) + 1) * m["dt"]
                ax.plot(lag, chk["e"], color=colors[g], ls=ls, lw=1.1)
                ax.fill_between(lag, chk["e"] - chk["c"] * chk["se"],
                                chk["e"] + chk["c"] * chk["se"], color=colors[g], alpha=0.12,
                                lw=0)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_ylabel("relative excess over the bound")
        ax.set_title("H = λI: excess over " + ("Theorem 2" if bname == "thm2" else
                                                "the erf bound"))
        ax.set_xlabel("lag after the path's Phase-3 entry")
    ax = axes[0, 2]
    ax.legend(handles=[plt.Line2D([], [], color="k", ls=ls, label=SERIES_LABELS[s]) for s, ls in
                       zip(("signsgd_optim", "signsgd_sde", "phase3_sde"), ("-", "--", ":"),
                           strict=True)], fontsize=7, loc="lower right")
    fig.suptitle("Convergence bounds against simulation (poster Theorems 1 and 2)")
    fig.tight_layout()
    return fig


def tables(measurements: dict):
    """Per-path Phase-3 entry times (5/50/95%) and re-exit fractions of the SignSGD checks."""
    import pandas as pd

    m = measurements
    rows = []
    for (series, prob, bname, g), res in m["checks"].items():
        if bname != "thm2":
            continue
        ent = res["entry"]
        ok = ent >= 0
        q = (np.quantile(m["times"][ent[ok]], [0.05, 0.5, 0.95]) if ok.any()
             else [np.nan] * 3)
        rows.append({"series": series, "problem": prob, "grid point": _label(m, g),
                     "entry t 5%": q[0], "median": q[1], "95%": q[2],
                     "never": float(np.mean(~ok)), "re-exit": float(np.mean(res["reexit"]))})
    return pd.DataFrame(rows)
