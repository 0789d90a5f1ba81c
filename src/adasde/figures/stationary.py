r"""Figure ``stationary``: stationary variances of SGD, SignSGD, Adam and AdamW (optimizers and
their SDEs) on a 2-D quadratic against the closed forms of docs/paper.md 3.3 and the corrected
forms of docs/theory.md.

``load(inputs)`` reads the artifacts ``<optimizer>_<kind>.npz`` (kind ``optim`` or ``sde``);
``measure(data, analyse)`` estimates the stationary variance per noise level and coordinate
(:func:`variance_estimate`: time averages of :math:`x^2` after burn-in, mean over independent
runs with its standard error) and evaluates every closed form; ``claims`` makes the
:class:`adasde.claims.Claim` records; ``plot`` draws the figure.

Claims (``s`` a noise level, ``l`` a curvature :math:`\lambda`), each with the alternative it
must rule out; the relative band is ``tolerance``:

* ``sgd_<kind>_var_sigma<s>_lam<l>``: Lemma 3.8, :math:`\tfrac\eta2 s^2/\lambda`. Alternative:
  the :math:`\sigma`-linear law of the adaptive methods (Lemma C.52, :math:`\tfrac\eta2 s/\lambda`).
* ``signsgd_<kind>_var_sigma<s>_lam<l>``: the docs/paper.md 3.3 leading order
  :math:`\tfrac\eta2\sqrt{\pi/2}\,s/\lambda`. Alternative: Adam's law without
  :math:`\sqrt{\pi/2}` (the sign as a normalised gradient).
* ``signsgd_<kind>_var_order_eta_paper`` / ``..._order_eta_discrete``: the :math:`O(\eta a)`
  term, :math:`a = \sqrt{2/\pi}\lambda/s`: the coefficient :math:`c` of
  :math:`\mathrm{measured}/\mathrm{leading} - 1 = c\,\eta a` (weighted least squares through 0 over
  every point, :func:`order_eta_coefficient`). docs/paper.md 3.3's factor
  :math:`(1+\tfrac\eta2 a)^{-1}` gives :math:`c \approx -1/2` (``role="paper_form"``,
  contradicted); the discrete recursion gives :math:`+\pi/8` (``role="correction"``,
  docs/theory.md "Stationary variances in discrete time"); band ``order_eta_tolerance``
  (absolute); each names the other's value as its alternative.
* ``adam_optim_var_sigma<s>_lam<l>``: Lemma C.52, :math:`\tfrac\eta2 s/\lambda`. Alternative:
  the poster's eq. (2) SDE's own stationary variance (lower by about :math:`\beta_1^2`).
* ``adamw_optim_var_sigma<s>_lam<l>`` (``paper_form``): Lemma C.57,
  :math:`\tfrac\eta2(\lambda/s+\theta)^{-1}`, paired with ``adamw_optim_var_momentum_...``
  (``correction``): times :math:`\rho_1/(\rho_1+\theta)` (docs/theory.md "AdamW with finite
  momentum"). The factor is :math:`\sigma`-independent (0.909 at the default), so one band
  decides the paper form the same way at every point.
* ``<adam|adamw>_sde_var_sigma<s>_lam<l>`` (``paper_form``): the SDE has Lemma C.52/C.57's
  variance, paired with ``..._sde_var_eq2_...`` (``correction``): the discrete-time form of the
  Euler-Maruyama scheme of eq. (2) with :math:`\Delta t = \eta` (look-ahead; docs/theory.md).
* ``<opt>_sde_var_converged_dt_sigma<s>_lam<l>``: the SDE's stationary variance is converged
  in the step: on the job's coupled pair (Euler-Maruyama at :math:`\Delta t = \eta/k` and
  :math:`\Delta t/2` on the same Brownian paths, :func:`adasde.integrate.solve_pair`) the
  per-path time average of :math:`x^2` moves by at most ``convergence_fraction`` times
  ``tolerance`` (relative) when the step halves. Alternative: a discretisation error as large
  as the band of the variance claims (where it fails, the SDE's plotted variance is its
  scheme's, not the SDE's; the ``var_eq2`` corrections compare with that scheme's own form).
* ``<opt>_<kind>_var_paper_joint`` (``paper_form``) / ``<opt>_<kind>_var_discrete_joint``
  (``correction``): all :math:`n` points at once, the mean of
  :math:`z^2 = ((\mathrm{measured}-\mathrm{form})/\mathrm{s.e.})^2` is at most the 0.999 quantile
  of :math:`\chi^2_n/n` (``comparison="le"``; expectation 1 under the form). The alternative value
  is the statistic's expectation if the other form were true,
  :math:`1 + \overline{((\mathrm{form}_1-\mathrm{form}_2)/\mathrm{s.e.})^2}`: the pair cannot
  discriminate where the two forms differ by less than the Monte-Carlo error.
* ``<opt>_optim_var_slope_lam<l>``: the log-log slope of the variance against :math:`\sigma`
  (standard error from the points' errors) equals that of the docs/paper.md 3.3 form (2 for SGD, 1
  for SignSGD and Adam, AdamW's saturating exponent), within ``exponent_tolerance``.
  Alternatives: 1 for SGD, 2 for SignSGD and Adam, 1 (Adam, no decay) for AdamW.
* ``adamw_<kind>_var_below_cap_lam<l>``: at the largest :math:`\sigma` the variance does not
  exceed :math:`\eta/(2\theta)` (``comparison="le"``, no slack). Alternative: Adam's variance
  (no decoupled weight decay) there.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from adasde import plotting, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "stationary"
ORDER = ["sgd", "signsgd", "adam", "adamw"]
KINDS = ("optim", "sde")
DEFAULTS = {"tolerance": 0.05, "exponent_tolerance": 0.1, "order_eta_tolerance": 0.2,
            "joint_quantile": 0.999, "convergence_fraction": 0.5}
EQ2 = ("adam", "adamw")


def variance_estimate(x2_mean) -> tuple[np.ndarray, np.ndarray]:
    """Stationary variance per coordinate from per-run time averages of :math:`x^2`
    (shape (..., runs, d)): the mean over runs and its standard error (runs are independent).
    The minimiser is 0, so the second moment about 0 is the variance."""
    x2 = np.asarray(x2_mean, float)
    n = x2.shape[-2]
    return x2.mean(axis=-2), x2.std(axis=-2, ddof=1) / np.sqrt(n)


def order_eta_coefficient(ratio, x, stderr) -> tuple[float, float]:
    r"""Coefficient :math:`c` of ``ratio - 1 = c * x`` by weighted least squares through the
    origin (weights :math:`1/\mathrm{stderr}^2`, ``stderr`` the standard errors of ``ratio``),
    and its standard error :math:`(\sum x^2/\mathrm{se}^2)^{-1/2}`."""
    r, x, se = (np.ravel(np.asarray(v, float)) for v in (ratio, x, stderr))
    w = 1.0 / se**2
    sxx = np.sum(w * x * x)
    return float(np.sum(w * x * (r - 1.0)) / sxx), float(1.0 / np.sqrt(sxx))


def joint_statistic(measured, stderr, form) -> float:
    """Mean of the squared z-scores of ``measured`` against ``form`` over every point."""
    z = (np.asarray(measured, float) - form) / np.asarray(stderr, float)
    return float(np.mean(z**2))


# ------------------------------------------------------------------------------------- load
def load(inputs: dict) -> dict:
    """Read exactly the artifacts ``inputs`` ({"<optimizer>_<kind>": path.npz}). Returns
    ``{"runs": {(opt, kind): arrays}, "metas": {stem: meta}, "section": simulate section}``
    (:func:`adasde.figures.stats.load_optimizer_kinds`)."""
    return stats.load_optimizer_kinds(FIGURE, inputs, KINDS)


# ---------------------------------------------------------------------------- closed forms
def forms(opt: str, hp: dict, lam, sig, batch_size=1.0) -> dict:
    """Every closed form of ``opt`` at ``lam``, ``sig`` (broadcast arrays): ``paper`` (the
    docs/paper.md 3.3 row), ``lead`` (its leading order in eta), ``discrete_optim`` and
    ``discrete_sde`` (docs/theory.md "Stationary variances in discrete time"; for Adam(W) the
    optimizer and the Euler-Maruyama scheme of eq. (2)), ``adam`` (Lemma C.52, no decay),
    and for Adam(W) ``eq2`` (eq. (2)'s continuous closed form), for AdamW ``momentum`` (the
    finite-momentum form)."""
    eta, B = hp["eta"], batch_size
    out = {"adam": theory.adamw_stationary_variance(lam, sig, eta, B, 0.0)}
    if opt == "sgd":
        out["paper"] = out["lead"] = theory.sgd_stationary_variance(lam, sig, eta, B)
        out["discrete_optim"] = out["discrete_sde"] = \
            theory.sgd_discrete_stationary_variance(lam, sig, eta, B)
    elif opt == "signsgd":
        out["paper"] = theory.signsgd_stationary_variance(lam, sig, eta, B)
        out["lead"] = theory.signsgd_stationary_variance(lam, sig, eta, B, corrected=False)
        out["discrete_optim"] = out["discrete_sde"] = \
            theory.signsgd_discrete_stationary_variance(lam, sig, eta, B)
    elif opt in EQ2:
        theta = hp.get("theta", 0.0) if opt == "adamw" else 0.0
        out["paper"] = out["lead"] = theory.adamw_stationary_variance(lam, sig, eta, B, theta)
        for kind, scheme in (("optim", "optimizer"), ("sde", "eq2_em")):
            out[f"discrete_{kind}"] = theory.adamw_discrete_stationary_variance(
                lam, sig, eta, hp["beta1"], B, theta, scheme)
        out["eq2"] = theory.adamw_eq2_stationary_variance(lam, sig, eta, hp["beta1"], B, theta)
        if opt == "adamw":
            out["momentum"] = theory.adamw_momentum_stationary_variance(
                lam, sig, eta, hp["beta1"], B, theta)
            out["cap"] = eta / (2.0 * theta)
    else:
        raise ValueError(f"{FIGURE}: no closed forms for optimizer {opt!r}")
    return out


# ---------------------------------------------------------------------------------- measure
def measure(data: dict, analyse: dict) -> dict:
    """Variance estimates and closed forms on the (sigma, coordinate) grid.

    Returns ``lam``, ``sigmas``, ``batch_size``, ``settings`` (``analyse`` over
    :data:`DEFAULTS`), ``optimizers``, ``hp``, ``est`` ({(opt, kind): (mean, stderr)}, each
    (n_sigma, d)), ``runs`` ({(opt, kind): n}), ``nonfinite`` ({(opt, kind): runs with a
    non-finite average}), ``forms`` ({opt: forms on the grid}), ``fine`` (sigma grid and forms
    for the curves), ``scatter`` ({(opt, kind): final iterates at ``scatter_sigma``}),
    ``scatter_sigma``, ``slope`` ({(opt, coordinate): (slope, stderr, predicted)}) and
    ``burn_in`` (rows of the burn-in check)."""
    settings = {**DEFAULTS, **(analyse or {})}
    runs, section = data["runs"], data["section"]
    optimizers = [o for o in ORDER if (o, "optim") in runs and o in section["optimizers"]]
    if not optimizers:
        raise ValueError(f"{FIGURE}: no optimizer artifacts among {sorted(runs)}")
    first = runs[optimizers[0], "optim"]
    lam = np.asarray(first["lam"], float)
    sigmas = np.asarray(first["sigmas"], float)
    for key, a in runs.items():
        if not (np.allclose(a["sigmas"], sigmas) and np.allclose(a["lam"], lam)):
            raise ValueError(f"{FIGURE}: artifact {key} has other sigmas or lambdas")
    B = section.get("batch_size", 1)
    SIG = sigmas[:, None] * np.ones_like(lam)
    LAM = np.ones_like(sigmas)[:, None] * lam
    fine = np.geomspace(sigmas.min(), sigmas.max(), 200)
    FS = fine[:, None] * np.ones_like(lam)
    FL = np.ones_like(fine)[:, None] * lam
    hp = {o: dict(section["optimizers"][o]) for o in optimizers}

    est, nruns, nonfinite, scatter, burn, convergence = {}, {}, {}, {}, [], {}
    scatter_sigma = settings.get("scatter_sigma", float(np.median(sigmas)))
    j_sc = int(np.argmin(np.abs(np.log(sigmas / scatter_sigma))))
    for (opt, kind), a in sorted(runs.items()):
        if opt not in optimizers:
            continue
        x2 = np.asarray(a["x2_mean"], float)
        est[opt, kind] = variance_estimate(x2)
        if kind == "sde" and "conv_x2_mean_coarse" in a:  # the coupled (dt, dt/2) pair
            convergence[opt] = (np.asarray(a["conv_x2_mean_coarse"], float),
                                np.asarray(a["conv_x2_mean_fine"], float))
        nruns[opt, kind] = x2.shape[-2]
        nonfinite[opt, kind] = int((~np.isfinite(x2)).any(axis=-1).sum())
        scatter[opt, kind] = np.asarray(a["x_final"], float)[j_sc]
        it, b0 = np.asarray(a["iterations"]), int(a["burn_in"])
        idx = np.flatnonzero(it > b0)
        if idx.size >= 2:
            h1, h2 = np.array_split(idx, 2)
            for j, s in enumerate(sigmas):
                L = np.asarray(a["loss"][j], float)
                burn.append((opt, kind, float(s), float(L[:, h2].mean() / L[:, h1].mean())))

    grid = {o: forms(o, hp[o], LAM, SIG, B) for o in optimizers}
    fine_forms = {o: forms(o, hp[o], FL, FS, B) for o in optimizers}

    slope = {}
    for opt in optimizers:
        m, e = est[opt, "optim"]
        for i in range(lam.size):
            s_, se_ = stats.powerlaw_exponent_stderr(sigmas, m[:, i], e[:, i])
            slope[opt, i] = (s_, se_, stats.powerlaw_exponent(sigmas, grid[opt]["lead"][:, i]))

    return {"lam": lam, "sigmas": sigmas, "batch_size": B, "settings": settings,
            "optimizers": optimizers, "hp": hp, "est": est, "runs": nruns,
            "nonfinite": nonfinite, "forms": grid, "fine": {"sigmas": fine, "forms": fine_forms},
            "scatter": scatter, "scatter_sigma": float(sigmas[j_sc]), "slope": slope,
            "burn_in": burn, "convergence": convergence,
            "substeps": int(section.get("sde_substeps", 1))}


# ----------------------------------------------------------------------------------- claims
def _point_specs(opt: str, kind: str, f: dict) -> list[dict]:
    """The per-point claims of (opt, kind): id stem, role, pair stem, prediction, alternative."""
    if opt == "sgd":
        return [dict(stem="var", role="claim", pair="", form="Lemma 3.8, eta/2 s^2/lambda",
                     pred=f["paper"], alt_name="sigma-linear law of the adaptive methods "
                     "(Lemma C.52, eta/2 s/lambda)", alt=f["adam"])]
    if opt == "signsgd":
        return [dict(stem="var", role="claim", pair="",
                     form="docs/paper.md 3.3 leading order eta/2 sqrt(pi/2) s/lambda", pred=f["lead"],
                     alt_name="Adam's law without sqrt(pi/2) (Lemma C.52, eta/2 s/lambda)",
                     alt=f["adam"])]
    if opt == "adam" and kind == "optim":
        return [dict(stem="var", role="claim", pair="", form="Lemma C.52, eta/2 s/lambda",
                     pred=f["paper"], alt_name="the eq. (2) SDE's own stationary variance "
                     "(look-ahead, docs/theory.md)", alt=f["eq2"])]
    lemma = "Lemma C.52, eta/2 s/lambda" if opt == "adam" else \
        "Lemma C.57, eta/2 (lambda/s + theta)^-1"
    if kind == "optim":  # adamw
        corr = dict(stem="var_momentum", form="finite-momentum form eta/2 (lambda/s + theta)^-1 "
                    "rho1/(rho1 + theta) (corrected Lemma C.57, docs/theory.md)",
                    pred=f["momentum"], alt_name="Lemma C.57 (rho1 -> infinity)")
        paper_alt = ("finite-momentum form (docs/theory.md)", f["momentum"])
    else:
        corr = dict(stem="var_eq2", form="discrete-time form of eq. (2)'s Euler-Maruyama scheme, "
                    "dt = eta (look-ahead, docs/theory.md)", pred=f["discrete_sde"],
                    alt_name=lemma.split(",")[0])
        paper_alt = ("eq. (2) SDE's own stationary variance (discrete-time form of its scheme)",
                     f["discrete_sde"])
    return [dict(stem="var", role="paper_form", pair=corr["stem"], form=lemma, pred=f["paper"],
                 alt_name=paper_alt[0], alt=paper_alt[1]),
            dict(role="correction", pair="var", alt=f["paper"], **corr)]


def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """The figure's claims (see the module docstring), in a stable order."""
    settings = {**m["settings"], **(analyse or {})}
    tol = settings["tolerance"]
    sigmas, lam = m["sigmas"], m["lam"]
    out: list[Claim] = []

    def add(**kw):
        out.append(Claim(figure=FIGURE, **kw))

    for opt in m["optimizers"]:
        name = plotting.OPTIMIZER_LABELS.get(opt, opt)
        f = m["forms"][opt]
        for kind in KINDS:
            if (opt, kind) not in m["est"]:
                continue
            what = "optimizer" if kind == "optim" else "SDE"
            mean, se = m["est"][opt, kind]
            n = m["runs"][opt, kind]
            disc = f[f"discrete_{kind}"]
            nonfin = m["nonfinite"][opt, kind]
            bad = f"{nonfin} runs have non-finite averages; " if nonfin else ""
            # per (sigma, coordinate) point
            for spec in _point_specs(opt, kind, f):
                for j, s in enumerate(sigmas):
                    for i, li in enumerate(lam):
                        pt = f"sigma{s:g}_lam{li:g}"
                        note = (bad + f"measured/predicted = {mean[j, i] / spec['pred'][j, i]:.3f}"
                                f"; discrete-time form {disc[j, i]:.4g} (measured/discrete = "
                                f"{mean[j, i] / disc[j, i]:.3f})")
                        if spec["role"] == "paper_form":
                            note += "; contradicted, docs/theory.md"
                        add(id=f"{opt}_{kind}_{spec['stem']}_{pt}", role=spec["role"],
                            pair=f"{opt}_{kind}_{spec['pair']}_{pt}" if spec["pair"] else "",
                            statement=f"{name} {what} stationary variance of the coordinate with "
                                      f"lambda={li:g} at sigma={s:g} equals the {spec['form']}",
                            measured=mean[j, i], predicted=spec["pred"][j, i], tolerance=tol,
                            stderr=se[j, i], runs=n, alternative=spec["alt_name"],
                            alternative_value=spec["alt"][j, i], note=note)
            # the SDE's variance is converged in dt (the coupled pair of the job)
            if kind == "sde" and opt in m.get("convergence", {}):
                coarse, fine = m["convergence"][opt]
                k = m.get("substeps", 1)
                for j, s in enumerate(sigmas):
                    for i, li in enumerate(lam):
                        out.append(stats.convergence_claim(
                            FIGURE, f"{opt}_sde_var_converged_dt_sigma{s:g}_lam{li:g}",
                            f"{name} SDE stationary variance of the coordinate with "
                            f"lambda={li:g} at sigma={s:g}", coarse[j, :, i], fine[j, :, i],
                            tolerance=tol, fraction=settings["convergence_fraction"],
                            dt_label=stats.dt_label(k), against="variance"))
            # the SignSGD O(eta a) term: docs/paper.md 3.3's factor against the discrete recursion
            if opt == "signsgd":
                x = m["hp"][opt]["eta"] * theory.SQRT_2_OVER_PI * lam[None, :] / (
                    sigmas[:, None] / np.sqrt(m["batch_size"]))
                lead = f["lead"]
                c, cse = order_eta_coefficient(mean / lead, x, se / lead)
                c_paper, _ = order_eta_coefficient(f["paper"] / lead, x, se / lead)
                c_disc, _ = order_eta_coefficient(disc / lead, x, se / lead)
                pid, cid = f"signsgd_{kind}_var_order_eta_paper", \
                    f"signsgd_{kind}_var_order_eta_discrete"
                common = dict(measured=c, tolerance=settings["order_eta_tolerance"],
                              comparison="absolute", stderr=cse, runs=n)
                fit = ("c from measured/leading - 1 = c * eta * a, a = sqrt(2/pi) lambda/s, "
                       f"weighted least squares over {mean.size} points")
                add(id=pid, role="paper_form", pair=cid,
                    statement=f"SignSGD {what} stationary variance carries docs/paper.md 3.3's O(eta) "
                              "factor (1 + eta a/2)^-1 (coefficient c of eta*a about -1/2)",
                    predicted=c_paper, alternative="discrete-time recursion (docs/theory.md)",
                    alternative_value=c_disc,
                    note=fit + "; contradicted: the factor belongs to the continuous Phase-3 SDE",
                    **common)
                add(id=cid, role="correction", pair=pid,
                    statement=f"SignSGD {what} stationary variance carries the discrete-time "
                              "factor (q + sqrt(1 + q^2)), q = pi eta a/8 (coefficient about "
                              "+pi/8; docs/theory.md 'Stationary variances in discrete time')",
                    predicted=c_disc, alternative="docs/paper.md 3.3 factor (1 + eta a/2)^-1",
                    alternative_value=c_paper, note=fit, **common)
            # all points at once: docs/paper.md 3.3 forms against the discrete-time forms
            npts = mean.size
            q = float(sps.chi2.ppf(settings["joint_quantile"], npts) / npts)
            sep = 1.0 + joint_statistic(f["paper"], se, disc)
            pid, cid = f"{opt}_{kind}_var_paper_joint", f"{opt}_{kind}_var_discrete_joint"
            zp = (mean - f["paper"]) / se
            zd = (mean - disc) / se
            add(id=pid, role="paper_form", pair=cid,
                statement=f"{name} {what} stationary variances at all {npts} (sigma, coordinate) "
                          f"points agree with the docs/paper.md 3.3 forms within Monte-Carlo error: "
                          f"mean z^2 <= chi2_{npts}({settings['joint_quantile']:g})/{npts}",
                measured=joint_statistic(mean, se, f["paper"]), predicted=1.0,
                tolerance=q - 1.0, comparison="le", runs=n,
                alternative="discrete-time forms (expected statistic if they hold)",
                alternative_value=sep, note=bad + f"max |z| = {np.max(np.abs(zp)):.2f}")
            add(id=cid, role="correction", pair=pid,
                statement=f"{name} {what} stationary variances at all {npts} (sigma, coordinate) "
                          "points agree with the discrete-time forms within Monte-Carlo error "
                          f"(docs/theory.md): mean z^2 <= chi2_{npts}"
                          f"({settings['joint_quantile']:g})/{npts}",
                measured=joint_statistic(mean, se, disc), predicted=1.0, tolerance=q - 1.0,
                comparison="le", runs=n,
                alternative="docs/paper.md 3.3 forms (expected statistic if they hold)",
                alternative_value=sep, note=bad + f"max |z| = {np.max(np.abs(zd)):.2f}")
            # AdamW's cap at the largest sigma
            if opt == "adamw":
                j = int(np.argmax(sigmas))
                for i, li in enumerate(lam):
                    add(id=f"adamw_{kind}_var_below_cap_lam{li:g}",
                        statement=f"AdamW {what} stationary variance (lambda={li:g}) at the "
                                  f"largest sigma={sigmas[j]:g} does not exceed eta/(2 theta) "
                                  "(Lemma C.57: decoupled weight decay caps it)",
                        measured=mean[j, i], predicted=f["cap"], tolerance=0.0, comparison="le",
                        stderr=se[j, i], runs=n,
                        alternative="Adam's variance without decoupled weight decay "
                                    "(Lemma C.52)", alternative_value=f["adam"][j, i],
                        note=bad + f"measured/cap = {mean[j, i] / f['cap']:.3f}")
        # exponent in sigma (optimizer)
        for i, li in enumerate(lam):
            sl, sse, pred = m["slope"][opt, i]
            alt_name, alt = ({"sgd": ("sigma-linear (adaptive methods)", 1.0),
                              "adamw": ("sigma-linear (Adam, no decoupled weight decay)", 1.0)}
                             .get(opt, ("sigma^2 (SGD)", 2.0)))
            add(id=f"{opt}_optim_var_slope_lam{li:g}",
                statement=f"{name} optimizer stationary variance (lambda={li:g}) grows like "
                          f"sigma^p over sigma in [{sigmas.min():g}, {sigmas.max():g}], "
                          f"p = {pred:.3g} (the exponent of the docs/paper.md 3.3 form)",
                measured=sl, predicted=pred, tolerance=settings["exponent_tolerance"],
                comparison="absolute", stderr=sse, runs=m["runs"][opt, "optim"],
                alternative=alt_name, alternative_value=alt,
                note="least squares in log-log; standard error from the points' errors")
    return out


def burn_in_table(m: dict):
    """The burn-in check (not a claim): mean loss in the second half of the averaging window
    over the first half, per optimizer, kind and sigma (near 1: burn-in long enough)."""
    import pandas as pd

    df = pd.DataFrame(m["burn_in"], columns=["optimizer", "kind", "sigma", "second/first half"])
    if df.empty:
        return df
    return df.pivot(index=["optimizer", "kind"], columns="sigma",
                    values="second/first half").round(3)


# ------------------------------------------------------------------------------------- plot
def plot(m: dict):
    """Row 1: final iterates at ``scatter_sigma`` with the docs/paper.md 3.3 covariance ellipses (1
    and 2 s.d.). Row 2: variance against sigma per coordinate: optimizer (filled, +-2 s.e.),
    SDE (open), the docs/paper.md 3.3 form (solid), the discrete-time form of the optimizer (dashed),
    eq. (2)'s closed form (dotted, Adam(W)) and the finite-momentum form (dash-dotted, AdamW)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    optimizers, sigmas, lam = m["optimizers"], m["sigmas"], m["lam"]
    fine, ff = m["fine"]["sigmas"], m["fine"]["forms"]
    j_sc = int(np.flatnonzero(np.isclose(sigmas, m["scatter_sigma"]))[0])
    markers = ["o", "s", "^", "D"]
    fig, axes = plt.subplots(2, len(optimizers), figsize=(3.4 * len(optimizers), 7.2),
                             squeeze=False)
    for col, opt in enumerate(optimizers):
        c = plotting.OPTIMIZER_COLORS.get(opt, "k")
        name = plotting.OPTIMIZER_LABELS.get(opt, opt)
        ax = axes[0, col]
        xf = m["scatter"][opt, "optim"]
        ax.scatter(xf[:, 0], xf[:, 1], s=4, color=c, alpha=0.5, lw=0, label="optimizer")
        if (opt, "sde") in m["scatter"]:
            xs = m["scatter"][opt, "sde"]
            ax.scatter(xs[:, 0], xs[:, 1], s=4, color="0.5", alpha=0.35, lw=0, label="SDE")
        sd = np.sqrt(m["forms"][opt]["paper"][j_sc])
        for k in (1, 2):
            ax.add_patch(Ellipse((0, 0), 2 * k * sd[0], 2 * k * sd[1], fill=False, color="k",
                                 lw=1.0, ls="-" if k == 1 else "--"))
        lim_ = 3.2 * sd.max()
        ax.set_xlim(-lim_, lim_)
        ax.set_ylim(-lim_, lim_)
        ax.set_aspect("equal")
        ax.set_title(f"{name}, σ = {sigmas[j_sc]:g}")
        ax.set_xlabel(f"$x_1$ ($\\lambda_1$ = {lam[0]:g})")
        ax.set_ylabel(f"$x_2$ ($\\lambda_2$ = {lam[1]:g})")
        ax = axes[1, col]
        f = ff[opt]
        for i in range(lam.size):
            mk = markers[i % len(markers)]
            mean, e = m["est"][opt, "optim"]
            ax.errorbar(sigmas, mean[:, i], yerr=2 * e[:, i], fmt=mk, color=c, ms=5,
                        label=f"optim, λ={lam[i]:g}")
            if (opt, "sde") in m["est"]:
                mean, e = m["est"][opt, "sde"]
                ax.errorbar(sigmas, mean[:, i], yerr=2 * e[:, i], fmt=mk, color=c, mfc="white",
                            ms=5, label=f"SDE, λ={lam[i]:g}")
            ax.plot(fine, f["paper"][:, i], color="k", lw=1.0)
            ax.plot(fine, f["discrete_optim"][:, i], color=c, lw=1.0, ls="--")
            if opt in EQ2:
                ax.plot(fine, f["eq2"][:, i], color="0.4", lw=1.0, ls=":")
            if opt == "adamw":
                ax.plot(fine, f["momentum"][:, i], color=c, lw=1.0, ls="-.")
        if opt == "adamw":
            cap = m["forms"][opt]["cap"]
            ax.axhline(cap, color="r", lw=1.0, alpha=0.6)
            ax.annotate(r"$\eta/(2\theta)$", (fine[0], cap), color="r", fontsize=8,
                        va="bottom")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\sigma$")
        ax.set_ylabel(r"stationary $\mathrm{Var}(x_i)$")
        ax.set_title(f"{name}: variance against σ")
    axes[0, 0].legend(loc="upper left", fontsize=7, markerscale=3)
    axes[1, 0].legend(loc="upper left", fontsize=7)
    handles = [plt.Line2D([], [], color="k", ls="-", label="docs/paper.md 3.3"),
               plt.Line2D([], [], color="0.3", ls="--", label="discrete time (optimizer)"),
               plt.Line2D([], [], color="0.4", ls=":", label="eq. (2) SDE closed form"),
               plt.Line2D([], [], color="0.3", ls="-.", label="finite momentum (AdamW)")]
    axes[1, -1].legend(handles=handles, loc="lower right", fontsize=7)
    fig.suptitle("Stationary distributions on a 2-D quadratic: measured against predicted")
    fig.tight_layout()
    return fig
