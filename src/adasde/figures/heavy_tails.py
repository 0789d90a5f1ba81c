r"""Figure ``heavy_tails``: SGD and SignSGD under coordinate-wise Student-t gradient noise
:math:`\nabla f(x) + \sigma T`, :math:`T_i \sim t_\nu`, on the quadratic
:math:`f = \tfrac12\sum_i\lambda_i x_i^2`, for every :math:`\nu` of the config and the Gaussian
limit :math:`\nu = \infty` (docs/paper.md 3.4; docs/theory.md "SignSGD under Student-t noise" and
"SGD under heavy tails").

``load(inputs)`` reads the artifacts ``sgd_optim``, ``signsgd_optim`` and ``signsgd_sde``
(loss of shape (nu, run, saved step)); ``measure(data, analyse)`` computes the plateaus, the
exceedance fractions and every closed form; ``claims`` makes the :class:`adasde.claims.Claim`
records; ``plot`` draws the figure.

Claims (``<nu>`` is the degrees of freedom, ``inf`` the Gaussian limit), each with the
alternative it must rule out:

* ``signsgd_<optim|sde>_plateau_nu<nu>`` (docs/paper.md 3.4): SignSGD's plateau (mean over runs
  of the time average over the final ``plateau_fraction``) equals
  :math:`\eta\,\mathrm{Tr}(\Sigma^{1/2})/(8p_\nu(0))`, here with the optimizer's :math:`O(\eta)`
  factor (:func:`adasde.theory.signsgd_student_t_asymptotic_loss` with ``discrete=True``, which
  is also the Euler-Maruyama scheme's with :math:`\Delta t = \eta`; the leading order is in the
  note and differs by at most about 1% at the default). **Alternative**: the same form for
  Gaussian noise (:math:`p_\infty(0) = 1/\sqrt{2\pi}`), i.e. no :math:`\nu`-dependence; for
  :math:`\nu = \infty` the largest finite :math:`\nu` of the grid. The relative band is
  :func:`band_tolerance`: ``gap_fraction`` (< 1/2) of the relative gap between the prediction
  and the alternative, clipped to [``min_tolerance``, ``tolerance``], so the band excludes the
  alternative and the two bands cannot overlap. Where the gap is below ``min_tolerance /
  gap_fraction`` (large :math:`\nu`: :math:`p_\nu(0) \to p_\infty(0)`) the band may contain the
  alternative and the claim is honestly "cannot discriminate".
* ``sgd_optim_exceed_nu<nu>`` for :math:`\nu \le 2` ("SGD has no stationary loss", docs/paper.md
  3.4): the fraction of runs whose final loss exceeds ``exceed_factor`` times SGD's Gaussian
  plateau :math:`\eta\,\mathrm{Tr}(\Sigma)/4`, with its Clopper-Pearson 95% interval, is at least
  a rigorous lower bound on the Student-t probability (``comparison="ge"``, no slack):
  :func:`sgd_exceedance_lower_bound` (exact Cauchy marginals at :math:`\nu = 1`, Lévy's
  inequality on the single largest jump otherwise). **Alternative**: Gaussian noise of the same
  scale, whose exceedance probability is essentially 0 (:func:`gaussian_exceedance_upper_bound`,
  a Chernoff bound). The single-big-jump asymptotic tail
  (:func:`adasde.theory.sgd_student_t_exceedance_tail`) is in the note.
* ``signsgd_sde_converged_dt_plateau_nu<nu>``: the SDE's plateau (the plotted SDE quantity of
  panel (c)) is converged in the step. From the SDE job's coupled pair (Euler-Maruyama at
  :math:`\Delta t = \eta/k`, ``sde_substeps`` :math:`k`, and at :math:`\Delta t/2` on the same
  Brownian path, ``convergence_runs`` paths) the per-path plateau :math:`q_r` moves by
  :math:`|\bar q_{\Delta t} - \bar q_{\Delta t/2}|/\bar q_{\Delta t/2} \le`
  ``convergence_fraction`` :math:`\times` the relative band of ``signsgd_sde_plateau_nu<nu>``
  (:func:`adasde.figures.stats.convergence_claim`). **Alternative**: a discretisation error as
  large as that band. At :math:`\Delta t = \eta` the SDE's plateau carries the same
  :math:`O(\eta)` factor as the prediction (the leading order and the continuous Phase-3 SDE
  are in the plateau claim's note), so this claim bounds how far the plotted SDE is from its
  :math:`\Delta t \to 0` limit in the units of the plateau claim.
* ``sgd_optim_plateau_nu<nu>`` for :math:`\nu > 2` and Gaussian noise: SGD's plateau equals
  :math:`\eta\,\mathrm{Tr}(\Sigma)\,\nu/(4(\nu-2))` (exact discrete form,
  :func:`adasde.theory.sgd_student_t_asymptotic_loss`). **Alternative**: the Gaussian plateau
  (for :math:`\nu = \infty`: the largest finite :math:`\nu > 2` of the grid). Same band rule. For
  :math:`\nu \le 4` the loss has infinite variance, so its standard error is only indicative (the
  note says so); the bands are many standard errors wide there.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize
from scipy import stats as sps

from adasde import artifacts, plotting, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "heavy_tails"
JOBS = ("sgd_optim", "signsgd_optim", "signsgd_sde")
SIGNSGD_KINDS = (("signsgd_optim", "SignSGD optimizer"), ("signsgd_sde", "SignSGD SDE"))
DEFAULTS = {"plateau_fraction": 0.5, "tolerance": 0.1, "gap_fraction": 0.4,
            "min_tolerance": 0.01, "exceed_factor": 100.0, "convergence_fraction": 0.5}
QUANTILES = (0.05, 0.5, 0.95)


def nu_id(nu) -> str:
    """``"inf"`` for the Gaussian limit, else ``f"{nu:g}"`` (claim ids)."""
    return "inf" if np.isinf(nu) else f"{float(nu):g}"


def nu_label(nu) -> str:
    return r"$\nu=\infty$ (Gauss)" if np.isinf(nu) else fr"$\nu$={float(nu):g}"


# ------------------------------------------------------------------------------- statistics
def band_tolerance(predicted, alternative, settings: dict) -> float:
    """Relative tolerance of a claim whose alternative predicts ``alternative``:
    ``gap_fraction`` times the relative gap ``|alternative - predicted| / |predicted|``, clipped
    to [``min_tolerance``, ``tolerance``]. With ``gap_fraction`` < 1/2 the band excludes the
    alternative and is narrower than half the gap, unless the clip at ``min_tolerance`` widens
    it (then the claim may not discriminate, and :class:`~adasde.claims.Claim` says so). No
    alternative: ``tolerance``."""
    s = {**DEFAULTS, **(settings or {})}
    if alternative is None or predicted is None or not np.isfinite(alternative):
        return float(s["tolerance"])
    gap = abs(alternative - predicted) / abs(predicted)
    return float(min(max(s["gap_fraction"] * gap, s["min_tolerance"]), s["tolerance"]))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided ``level`` interval of a binomial proportion k/n."""
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def exceedance(final_loss, level: float) -> dict:
    """Fraction of runs whose ``final_loss`` (one value per run) exceeds ``level`` (a
    non-finite loss counts as exceeding): ``p``, ``k``, ``n``, the binomial standard error ``se``
    and the Clopper-Pearson 95% ``interval``."""
    final = np.asarray(final_loss, float)
    k = int(np.sum(~(final <= level)))
    n = int(final.size)
    p = k / n
    return {"p": p, "k": k, "n": n, "se": math.sqrt(p * (1 - p) / n),
            "interval": clopper_pearson(k, n)}


def sgd_exceedance_lower_bound(lam, sigma, eta, nu, level, steps=None, x0=0.0) -> float:
    r"""A rigorous lower bound on :math:`P(f(x_N) > L)` for SGD on the quadratic under
    Student-t(:math:`\nu`) noise after ``steps`` = :math:`N` steps (``None``: the stationary
    law) from :math:`x_0` [D, docs/theory.md "SGD under heavy tails"].

    :math:`x_{N,i} = r_i^N x_{0,i} + S_i`, :math:`S_i = -\eta\sigma_i\sum_{k<N} r_i^k T_k`,
    :math:`r_i = 1-\eta\lambda_i`, is exceeded in coordinate :math:`i` when :math:`|S_i| > c_i +
    |r_i^N x_{0,i}|`, :math:`c_i = \sqrt{2L/\lambda_i}`. The terms of :math:`S_i` are independent
    and symmetric, so Lévy's inequality gives :math:`P(|S_i| > c) \ge \tfrac12 P(\max_k
    \eta\sigma_i|r_i|^k|T_k| > c) = \tfrac12\bigl(1 - \prod_k(1 - 2\bar F_\nu(c/(\eta\sigma_i
    |r_i|^k)))\bigr)` with the Student-t survival function :math:`\bar F_\nu` (closed form). At
    :math:`\nu = 1` the law of :math:`S_i` is exactly Cauchy, so
    :func:`adasde.theory.sgd_cauchy_exceedance_lower_bound`'s exact marginals are used instead.
    Since :math:`f \ge \max_i \tfrac12\lambda_i x_i^2` and the coordinates are independent,
    :math:`P(f > L) \ge 1 - \prod_i (1 - b_i)` with :math:`b_i` the per-coordinate bound."""
    lam = np.asarray(lam, float)
    s = np.broadcast_to(np.asarray(sigma, float), lam.shape)
    x0 = np.broadcast_to(np.abs(np.asarray(x0, float)), lam.shape)
    nu = float(nu)
    r = np.abs(1.0 - eta * lam)
    shift = x0 * r ** steps if steps is not None else np.zeros_like(lam)
    c = np.sqrt(2.0 * level / lam) + shift
    if nu == 1.0:
        gamma = eta * s * (1.0 - r ** steps if steps is not None else 1.0) / (1.0 - r)
        below = 2.0 / np.pi * np.arctan(c / gamma)
        return float(1.0 - np.prod(below))
    dist = sps.norm if math.isinf(nu) else sps.t(nu)
    power = 2.0 if math.isinf(nu) else nu
    bound = []
    for ri, si, ci in zip(r, s, c, strict=True):
        # terms up to where (eta s r^k / c)^nu is below 1e-18 of the first one
        k_max = 1 if ri == 0 else int(math.ceil(math.log(1e-18) / (power * math.log(ri)))) + 1
        if steps is not None:
            k_max = min(k_max, int(steps))
        a = eta * si * ri ** np.arange(k_max)
        log_below = np.sum(np.log1p(-2.0 * dist.sf(ci / a)))
        bound.append(0.5 * -math.expm1(log_below))
    return float(1.0 - np.prod(1.0 - np.asarray(bound)))


def gaussian_exceedance_upper_bound(lam, sigma, eta, level) -> float:
    r"""Chernoff upper bound on :math:`P(f(x_\infty) > L)` for SGD under *Gaussian* noise of the
    same scale: :math:`x_{\infty,i} \sim N(0, v_i)` exactly, :math:`v_i = \eta\sigma_i^2/(\lambda_i
    (2-\eta\lambda_i))`, so :math:`f = \sum_i w_i\chi^2_{1,i}`, :math:`w_i = \lambda_i v_i/2`, and
    :math:`P(f > L) \le \min_t e^{-tL}\prod_i(1-2tw_i)^{-1/2}`. At :math:`L = 100\bar f` it is
    astronomically small (0.0 in floating point)."""
    lam = np.asarray(lam, float)
    s = np.broadcast_to(np.asarray(sigma, float), lam.shape)
    w = 0.5 * lam * eta * s**2 / (lam * (2.0 - eta * lam))
    if level <= w.sum():
        return 1.0
    t_max = 1.0 / (2.0 * w.max())

    def log_bound(t):
        return -t * level - 0.5 * np.sum(np.log1p(-2.0 * t * w))

    res = optimize.minimize_scalar(log_bound, bounds=(0.0, t_max * (1 - 1e-12)),
                                   method="bounded", options={"xatol": t_max * 1e-10})
    return float(min(1.0, math.exp(min(0.0, res.fun))))


def signsgd_forms(lam, sigma, eta, nu) -> dict:
    """SignSGD's stationary loss under Student-t(``nu``) noise: ``discrete`` (the optimizer's and
    the Euler-Maruyama scheme's O(eta) form, the prediction), ``leading`` (docs/paper.md 3.4's
    eta Tr(Sigma^(1/2)) / (8 p_nu(0))) and ``continuous`` (the linearised Phase-3 SDE).
    Cached: the discrete form's fixed point costs a quadrature per iteration."""
    return dict(_signsgd_forms(tuple(np.asarray(lam, float).ravel()), float(sigma), float(eta),
                               float(nu)))


@functools.lru_cache(maxsize=256)
def _signsgd_forms(lam: tuple, sigma: float, eta: float, nu: float) -> tuple:
    f = theory.signsgd_student_t_asymptotic_loss
    lam = np.asarray(lam)
    return (("discrete", f(lam, sigma, eta, nu, discrete=True)),
            ("leading", f(lam, sigma, eta, nu, corrected=False)),
            ("continuous", f(lam, sigma, eta, nu)))


# ------------------------------------------------------------------------------------- load
def load(inputs: dict) -> dict:
    """Read exactly the artifacts ``inputs`` ({"sgd_optim" | "signsgd_optim" | "signsgd_sde":
    path.npz}). Returns ``{"arrays": {stem: arrays}, "metas": {stem: meta}, "section":
    simulate section}``."""
    missing = [j for j in JOBS if j not in (inputs or {})]
    if missing:
        raise ValueError(f"{FIGURE}: missing input artifacts {missing} (need {list(JOBS)})")
    arrays, metas = {}, {}
    for stem in JOBS:
        arrays[stem], metas[stem] = artifacts.load(inputs[stem])
    if "conv_loss_coarse" not in arrays["signsgd_sde"]:
        raise artifacts.ArtifactError(
            f"artifact {inputs['signsgd_sde']} lacks conv_loss_coarse (the coupled dt pair, "
            "written by adasde since issue #12); delete it and rebuild it with `make figures`")
    # each job recorded its own optimizer's settings (and only SDE jobs the SDE-only keys)
    return {"arrays": arrays, "metas": metas,
            "section": stats.merged_section(FIGURE, metas, inputs)}


# ---------------------------------------------------------------------------------- measure
def _alternative(nus, j, values):
    """The alternative of grid point ``j``: the Gaussian value for finite nu, else the largest
    finite nu among ``values`` (a dict nu -> value); ``(name, value)`` or ``(None, None)``."""
    nu = nus[j]
    if not np.isinf(nu):
        return "Gaussian noise (nu=inf)", values.get(np.inf)
    finite = [n for n in values if np.isfinite(n)]
    if not finite:
        return None, None
    n = max(finite)
    return f"Student-t noise nu={nu_id(n)} (the largest finite nu)", values[n]


def measure(data: dict, analyse: dict | None = None) -> dict:
    """Every number the figure and its claims need. ``data`` as returned by :func:`load` (or
    the same dict built in memory); ``analyse`` the figure's analyse settings (defaults
    :data:`DEFAULTS`)."""
    s = {**DEFAULTS, **(analyse or {})}
    sec = data["section"]
    arr = data["arrays"]
    first = arr["sgd_optim"]
    lam = np.asarray(first["lam"], float)
    nus = np.asarray(first["nus"], float)
    iters = np.asarray(first["iterations"])
    sigma = float(sec["sigma"])
    eta = {o: float(sec["optimizers"][o]["eta"]) for o in ("sgd", "signsgd")}
    frac = float(s["plateau_fraction"])
    m = {"lam": lam, "nus": nus, "iterations": iters, "sigma": sigma, "eta": eta,
         "settings": s, "runs": {k: int(arr[k]["loss"].shape[1]) for k in JOBS},
         "metas": data.get("metas", {})}
    m["quantiles"] = {k: np.nanquantile(np.asarray(arr[k]["loss"], float), QUANTILES, axis=1)
                      for k in JOBS}

    # SignSGD: plateau per kind and nu against the O(eta) form; alternative the Gaussian value
    forms = {float(nu): signsgd_forms(lam, sigma, eta["signsgd"], nu) for nu in nus}
    if np.inf not in forms:
        forms[np.inf] = signsgd_forms(lam, sigma, eta["signsgd"], np.inf)
    m["signsgd_forms"] = forms
    pred = {nu: f["discrete"] for nu, f in forms.items()}
    sign = {}
    for j, nu in enumerate(nus):
        alt_name, alt = _alternative(nus, j, {n: pred[n] for n in [*nus, np.inf]})
        tol = band_tolerance(pred[float(nu)], alt, s)
        for k, _ in SIGNSGD_KINDS:
            loss = np.asarray(arr[k]["loss"][j], float)
            mean, se, _ = stats.plateau(loss, frac)
            sign[k, j] = {"mean": float(mean), "se": float(se), "runs": loss.shape[0],
                          "diverged": int(stats.diverged(loss).sum()),
                          "predicted": pred[float(nu)], "alternative": alt_name,
                          "alternative_value": alt, "tolerance": tol}
    m["signsgd"] = sign
    # the SDE's coupled (dt, dt/2) pair: per-path plateaus of both chains per nu
    sde = arr["signsgd_sde"]
    m["sde_substeps"] = int(sec.get("sde_substeps", 1))
    m["convergence"] = {j: (stats.plateau(np.asarray(sde["conv_loss_coarse"][j], float), frac)[2],
                            stats.plateau(np.asarray(sde["conv_loss_fine"][j], float), frac)[2])
                        for j in range(len(nus))}

    # SGD: exceedance of factor x the Gaussian plateau, and the plateau where it exists
    factor = float(s["exceed_factor"])
    gauss_plateau = theory.sgd_asymptotic_loss(lam, sigma, eta["sgd"])
    level = factor * gauss_plateau
    m.update(gauss_plateau=gauss_plateau, level=level, factor=factor)
    m["gaussian_exceedance"] = gaussian_exceedance_upper_bound(lam, sigma, eta["sgd"], level)
    steps = int(iters[-1])
    sgd_pred = {float(n): theory.sgd_student_t_asymptotic_loss(lam, sigma, eta["sgd"], n)
                for n in [*nus, np.inf]}
    sgd = {}
    for j, nu in enumerate(nus):
        loss = np.asarray(arr["sgd_optim"]["loss"][j], float)
        ex = exceedance(loss[:, -1], level)
        mean, se, per_run = stats.plateau(loss, frac)
        with np.errstate(invalid="ignore"):
            row = {"exceed": ex, "mean": float(mean), "se": float(se), "runs": loss.shape[0],
                   "per_run_median": float(np.nanmedian(per_run)),
                   "per_run_max": float(np.nanmax(per_run)),
                   "diverged": int(stats.diverged(loss).sum())}
        if nu <= 2.0:
            row["bound"] = sgd_exceedance_lower_bound(lam, sigma, eta["sgd"], nu, level,
                                                      steps=steps, x0=sec.get("x0", 0.0))
            row["tail"] = theory.sgd_student_t_exceedance_tail(lam, sigma, eta["sgd"], nu,
                                                               level)
            row["bound_kind"] = ("exact Cauchy marginals" if nu == 1.0
                                 else "Levy's inequality on the largest jump")
        else:
            finite = {n: v for n, v in sgd_pred.items() if n > 2.0}
            alt_name, alt = _alternative(nus, j, finite)
            row.update(predicted=sgd_pred[float(nu)], alternative=alt_name,
                       alternative_value=alt, tolerance=band_tolerance(sgd_pred[float(nu)],
                                                                       alt, s))
        sgd[j] = row
    m["sgd"] = sgd
    m["signsgd_exceed"] = {j: exceedance(np.asarray(arr["signsgd_optim"]["loss"][j],
                                                    float)[:, -1], level)
                           for j in range(len(nus))}
    return m


# ----------------------------------------------------------------------------------- claims
def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """The figure's claims (see the module docstring), from :func:`measure`'s numbers."""
    out = []
    nus = m["nus"]
    for j, nu in enumerate(nus):
        noise = "Gaussian" if np.isinf(nu) else "Student-t"
        f = m["signsgd_forms"][float(nu)]
        for k, what in SIGNSGD_KINDS:
            r = m["signsgd"][k, j]
            note = (f"leading order (docs/paper.md 3.4) {f['leading']:.5g}, Phase-3 SDE "
                    f"{f['continuous']:.5g}; relative band {r['tolerance']:.3g}")
            if r["diverged"]:
                note += f"; {r['diverged']} runs non-finite"
            out.append(Claim(
                figure=FIGURE, id=f"{k}_plateau_nu{nu_id(nu)}",
                statement=f"{what} plateau under {noise} noise (nu={nu_id(nu)}) is finite and "
                          "equals eta Tr(Sigma^(1/2)) / (8 p_nu(0)) (docs/paper.md 3.4), with the "
                          "optimizer's O(eta) factor (docs/theory.md)",
                measured=r["mean"], predicted=r["predicted"], tolerance=r["tolerance"],
                stderr=r["se"], runs=r["runs"], alternative=r["alternative"] or "",
                alternative_value=r["alternative_value"], note=note))
        r = m["signsgd"]["signsgd_sde", j]
        k = m.get("sde_substeps", 1)
        out.append(stats.convergence_claim(
            FIGURE, f"signsgd_sde_converged_dt_plateau_nu{nu_id(nu)}",
            f"the SignSGD SDE plateau under {noise} noise (nu={nu_id(nu)}; time average over "
            f"the final {m['settings']['plateau_fraction']:g})", *m["convergence"][j],
            tolerance=r["tolerance"], fraction=m["settings"]["convergence_fraction"],
            dt_label=stats.dt_label(k), against="SDE-plateau"))
        r = m["sgd"][j]
        ex = r["exceed"]
        if nu <= 2.0:
            out.append(Claim(
                figure=FIGURE, id=f"sgd_optim_exceed_nu{nu_id(nu)}",
                statement=f"SGD under Student-t noise (nu={nu_id(nu)}) has no stationary loss "
                          "(docs/paper.md 3.4): the fraction of runs whose final loss exceeds "
                          f"{m['factor']:g} x the Gaussian plateau is at least the Student-t "
                          f"lower bound ({r['bound_kind']}; docs/theory.md)",
                measured=ex["p"], predicted=r["bound"], tolerance=0.0, comparison="ge",
                stderr=ex["se"], interval=ex["interval"], runs=ex["n"],
                alternative="Gaussian noise of the same scale (Chernoff upper bound)",
                alternative_value=m["gaussian_exceedance"],
                note=f"{ex['k']} of {ex['n']} runs; Clopper-Pearson interval; single-big-jump "
                     f"tail (asymptotic) {r['tail']:.4g}; per-run plateau median "
                     f"{r['per_run_median']:.4g}, max {r['per_run_max']:.4g}"))
        else:
            note = f"relative band {r['tolerance']:.3g}; fraction above {m['factor']:g} x " \
                   f"Gaussian plateau {ex['p']:.4g}"
            if nu <= 4.0:
                note += "; nu <= 4: the loss has infinite variance, the s.e. is indicative"
            out.append(Claim(
                figure=FIGURE, id=f"sgd_optim_plateau_nu{nu_id(nu)}",
                statement=f"SGD plateau (nu={nu_id(nu)} > 2) equals eta Tr(Sigma) nu / "
                          "(4 (nu-2)) (discrete-time form, docs/theory.md)",
                measured=r["mean"], predicted=r["predicted"], tolerance=r["tolerance"],
                stderr=r["se"], runs=r["runs"], alternative=r["alternative"] or "",
                alternative_value=r["alternative_value"], note=note))
    return out


# ------------------------------------------------------------------------------------- plot
def plot(m: dict):
    """Four panels: (a) SGD's loss (median, 5-95% band) with its plateaus; (b) SignSGD and its
    Student-t SDE; (c) SignSGD's plateau per nu against the prediction, its band and the
    alternative; (d) the exceedance fractions against SGD's lower bounds."""
    import matplotlib.pyplot as plt

    nus, iters, lam, sigma, eta = m["nus"], m["iterations"], m["lam"], m["sigma"], m["eta"]
    colors = dict(zip(range(len(nus)), plotting.level_colors(len(nus), "viridis"), strict=True))
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.4))
    axes = axes.ravel()

    def curve(ax, key, j, label=None, ls="-", band=True):
        lo, med, hi = (q[j] for q in m["quantiles"][key])
        ax.plot(iters, med, color=colors[j], ls=ls, label=label, lw=1.3)
        if band:
            ax.fill_between(iters, lo, hi, color=colors[j], alpha=0.15, linewidth=0)

    ax = axes[0]
    for j, nu in enumerate(nus):
        curve(ax, "sgd_optim", j, nu_label(nu))
        lim = theory.sgd_student_t_asymptotic_loss(lam, sigma, eta["sgd"], nu)
        if np.isfinite(lim):
            ax.axhline(lim, color=colors[j], ls=":", lw=1.2)
    ax.axhline(m["level"], color="k", ls="--", lw=0.8,
               label=f"{m['factor']:g} x Gaussian plateau")
    ax.set_yscale("log")
    ax.set_title("(a) SGD: median and 5-95% band")
    ax.set_xlabel("iterations")
    ax.set_ylabel(r"$f(x_k) - f^*$")
    ax.legend(loc="upper right", fontsize=7)

    ax = axes[1]
    for j, nu in enumerate(nus):
        curve(ax, "signsgd_optim", j, nu_label(nu), band=j in (0, len(nus) - 1))
        curve(ax, "signsgd_sde", j, ls="--", band=False)
        ax.axhline(m["signsgd_forms"][float(nu)]["discrete"], color=colors[j], ls=":", lw=1.2)
    ax.set_yscale("log")
    ax.set_title("(b) SignSGD (solid; band: extreme nu) and its SDE (dashed)")
    ax.set_xlabel("iterations")
    ax.set_ylabel(r"$f(x_k) - f^*$")
    handles = [plt.Line2D([], [], color="k", ls=ls, label=lab) for ls, lab in
               (("-", "SignSGD (median, 5-95%)"), ("--", "SDE (median)"),
                (":", "predicted stationary loss"))]
    ax.legend(handles=handles, loc="upper right", fontsize=7)

    ax = axes[2]
    for j in range(len(nus)):
        r = m["signsgd"]["signsgd_optim", j]
        pred, tol = r["predicted"], r["tolerance"]
        ax.fill_between([j - 0.3, j + 0.3], (1 - tol) * pred, (1 + tol) * pred, color="0.85",
                        lw=0, label="band" if j == 0 else None)
        ax.plot([j - 0.3, j + 0.3], [pred, pred], color="k", lw=1.5,
                label="docs/paper.md 3.4 with O(eta) factor" if j == 0 else None)
        if r["alternative_value"] is not None:
            ax.plot([j], [r["alternative_value"]], marker="x", color="C3", ls="none", ms=7,
                    label="alternative (Gaussian; at inf: largest nu)" if j == 0 else None)
        for off, k, mk in ((-0.12, "signsgd_optim", "o"), (0.12, "signsgd_sde", "s")):
            q = m["signsgd"][k, j]
            ax.errorbar(j + off, q["mean"], yerr=1.96 * q["se"], color=colors[j], marker=mk,
                        ms=6, mfc="white" if k == "signsgd_sde" else colors[j], ls="none",
                        label=("SignSGD" if k == "signsgd_optim" else "SDE") if j == 0 else None)
    ax.set_xticks(np.arange(len(nus)), [nu_label(nu) for nu in nus], fontsize=7)
    ax.set_ylabel("plateau (mean over runs, 95% CI)")
    ax.set_title("(c) SignSGD's plateau against docs/paper.md 3.4")
    ax.legend(loc="upper right", fontsize=7)

    ax = axes[3]
    n_runs = m["runs"]["sgd_optim"]
    floor = 0.5 / n_runs
    xpos = np.arange(len(nus))
    for off, key, c, lab in ((-0.2, "sgd", plotting.OPTIMIZER_COLORS["sgd"],
                              plotting.OPTIMIZER_LABELS["sgd"]),
                             (0.2, "signsgd", plotting.OPTIMIZER_COLORS["signsgd"],
                              plotting.OPTIMIZER_LABELS["signsgd"])):
        vals = np.array([(m["sgd"][j]["exceed"] if key == "sgd" else m["signsgd_exceed"][j])["p"]
                         for j in range(len(nus))])
        ax.bar(xpos + off, np.where(vals > 0, vals, np.nan), width=0.4, color=c, label=lab)
        for x, v in zip(xpos + off, vals, strict=True):
            ax.annotate(f"{v:.3g}", (x, max(v, floor)), ha="center", va="bottom", fontsize=7,
                        color="k" if v > 0 else c)
    labels = {"bound": "SGD lower bound (Student-t)", "tail": "single-big-jump tail"}
    for j in range(len(nus)):
        r = m["sgd"][j]
        if "bound" in r:
            ax.plot([j - 0.4, j], [r["bound"]] * 2, color="k", lw=1.5,
                    label=labels.pop("bound", None))
            if r["tail"] <= 1:  # asymptotic; above 1 (nu = 1 at moderate levels) meaningless
                ax.plot([j - 0.2], [r["tail"]], marker="_", color="C3", ms=12, ls="none",
                        label=labels.pop("tail", None))
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, 2)
    ax.set_xlim(-0.6, len(nus) - 0.4)
    ax.set_xticks(xpos, [nu_label(nu) for nu in nus], fontsize=7)
    ax.set_ylabel(f"fraction of runs with loss > {m['factor']:g} x Gaussian plateau")
    ax.set_title("(d) heavy tails of the loss (final iterate; Gaussian: ~0)")
    ax.legend(loc="upper right", fontsize=7)
    fig.suptitle("Student-t gradient noise: SignSGD keeps a finite plateau, SGD does not for "
                 r"$\nu \leq 2$")
    fig.tight_layout()
    return fig
