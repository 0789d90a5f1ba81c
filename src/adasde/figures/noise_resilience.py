r"""Figure ``noise_resilience`` (poster: "Noise Resilience: Empirical Observation"; docs/paper.md
sections 3.3 and 5): the loss of SGD, SignSGD, Adam and AdamW (and their SDEs) on the quadratic
at several noise levels :math:`\sigma`, against the asymptotic ("Limit") losses of docs/paper.md 3.3.

``load(inputs)`` reads the artifacts ``<optimizer>_<kind>.npz`` (kind ``optim``: the optimizer,
``sde``: its SDE by Euler-Maruyama); ``measure(data, analyse)`` computes the plateaus (time
average over the final ``plateau_fraction`` of each run, mean over runs with its Monte-Carlo
standard error), their exponents in :math:`\sigma` and the closed forms; ``claims`` turns them
into :class:`adasde.claims.Claim` records; ``plot`` draws the figure.

The claims, each with the alternative it must rule out (docs/paper.md 3.3, docs/theory.md):

* ``<opt>_optim_plateau_sigma<s>``: the optimizer's plateau is the poster's "Limit" (docs/paper.md
  3.3; SignSGD's at leading order), within ``tolerance`` (relative). Alternatives: for SGD the
  :math:`\sigma`-linear law of the adaptive methods (Adam's limit
  :math:`\eta\,\mathrm{Tr}\,\Sigma^{1/2}/(4\sqrt B)`; it equals SGD's at
  :math:`\sigma/\sqrt B = 1`, where the claim cannot discriminate); for SignSGD Adam's limit
  (no :math:`\sqrt{\pi/2}`); for Adam the plateau of the poster's eq. (2) SDE (lower by about
  :math:`\beta_1^2`), i.e. the optimizer is at the paper's limit and not at its SDE's.
* AdamW: ``adamw_optim_plateau_sigma<s>`` is Lemma C.57's limit (``role="paper_form"``, its
  alternative the finite-momentum limit) and ``adamw_optim_plateau_momentum_sigma<s>`` the
  finite-momentum limit, Lemma C.57 times :math:`\rho_1/(\rho_1+\theta)` (``role="correction"``,
  docs/theory.md "AdamW with finite momentum"; its alternative the eq. (2) SDE's plateau). At the
  default :math:`\eta = 10^{-3}`, :math:`\beta_1 = 0.9` the factor is 0.99, below this figure's
  resolution, so the paper form *cannot discriminate* here (the stationary figure, at factor
  0.909, contradicts it); at :math:`\eta = 10^{-2}` it fails and the correction holds.
* ``<opt>_sde_plateau_sigma<s>``: the SDE's plateau is the docs/paper.md 3.3 limit. For SGD and
  SignSGD a claim (alternatives as above). For Adam(W) it is the paper's form
  (``role="paper_form"``, contradicted: docs/theory.md "Stationary loss of the eq. (2) SDE"),
  paired with ``<opt>_sde_plateau_eq2_sigma<s>`` (``role="correction"``): the plateau of eq. (2)
  is its own stationary loss (the discrete-time form of its Euler-Maruyama scheme with
  :math:`\Delta t = \eta`, or the continuous closed form when ``sde_substeps > 1``); each names
  the other's value as its alternative.
* ``<opt>_sde_converged_dt_sigma<s>``: the SDE's plateau is converged in the step: on the
  coupled pair of the job (Euler-Maruyama at :math:`\Delta t = \eta/k`, ``sde_substeps`` k, and
  at :math:`\Delta t/2` on the same Brownian paths, :func:`adasde.integrate.solve_pair`) the
  per-path plateau moves by at most ``convergence_fraction`` times ``tolerance`` (relative) when
  the step halves (:func:`adasde.figures.stats.convergence_claim`). Alternative: a
  discretisation error as large as the band of the plateau claims.
* ``<opt>_<kind>_plateau_exponent``: the least-squares exponent of plateau against
  :math:`\sigma` (standard error from the plateaus' errors) equals the exponent of the kind's
  own closed forms over the same :math:`\sigma`, within ``exponent_tolerance`` (absolute).
  Alternatives: 1 for SGD (adaptive scaling), 2 for SignSGD, Adam and RMSprop (SGD's scaling),
  1 for AdamW/RMSpropW (no decoupled weight decay: no saturation).
* ``<opt>_<kind>_plateau_below_cap`` (AdamW, RMSpropW): the plateau at the largest
  :math:`\sigma` does not exceed :math:`\eta\,\mathrm{Tr}H/(4\theta)` (``comparison="le"``, no
  slack, the standard error in the interval). Alternative: the limit without decoupled weight
  decay (Adam's/RMSprop's) at that :math:`\sigma`.
* ``<opt>_<kind>_diverged_sigma<s>`` (only when runs diverged): the fraction of non-finite runs
  is 0; the diverged runs are excluded from the figure, and the plateau claim at that
  :math:`\sigma` then has no finite measurement (it fails).

Limits are of the leading order in :math:`\eta` except where noted; the :math:`O(\eta)` terms
(SignSGD's discrete-time factor, SGD's :math:`1/(1-\eta\lambda/2)`) are at most 1% here and are
tested in the ``stationary`` figure.
"""

from __future__ import annotations

import numpy as np

from adasde import plotting, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "noise_resilience"
ORDER = ["sgd", "signsgd", "rmsprop", "rmspropw", "adam", "adamw"]
KINDS = ("optim", "sde")
DEFAULTS = {"plateau_fraction": 0.25, "tolerance": 0.05, "exponent_tolerance": 0.1,
            "convergence_fraction": 0.5}
EQ2 = ("adam", "adamw")  # optimizers whose SDE is the poster's eq. (2) with its look-ahead
DECAY = ("adamw", "rmspropw")  # decoupled weight decay: saturating plateau, the cap
NO_DECAY = {"adamw": "adam", "rmspropw": "rmsprop"}


# ------------------------------------------------------------------------------------- load
def load(inputs: dict) -> dict:
    """Read exactly the artifacts ``inputs`` ({"<optimizer>_<kind>": path.npz}). Returns
    ``{"runs": {(opt, kind): arrays}, "metas": {stem: meta}, "section": simulate section}``
    (:func:`adasde.figures.stats.load_optimizer_kinds`)."""
    return stats.load_optimizer_kinds(FIGURE, inputs, KINDS)


# ---------------------------------------------------------------------------- closed forms
def _hp(section, opt):
    return section["optimizers"][opt]


def paper_limit(opt, lam, sigma, hp, batch_size):
    """The poster's "Limit" of ``opt`` (docs/paper.md 3.3 and 5, :func:`adasde.theory.asymptotic_loss`);
    for SignSGD its leading order :math:`\\sqrt{\\pi/2}\\,\\eta\\,\\mathrm{Tr}\\,\\Sigma^{1/2}/(4\\sqrt B)`
    (docs/paper.md 3.3's :math:`O(\\eta)` factor has the wrong sign for the optimizer, docs/theory.md;
    the stationary figure tests it)."""
    if opt == "signsgd":
        return theory.signsgd_asymptotic_loss(lam, sigma, hp["eta"], batch_size, corrected=False)
    return theory.asymptotic_loss(opt, lam, sigma, hp, batch_size)


def eq2_limit(opt, lam, sigma, hp, batch_size, substeps=1):
    """The stationary loss of the eq. (2) SDE of Adam(W) as simulated: the discrete-time form of
    its Euler-Maruyama scheme with :math:`\\Delta t = \\eta` (``substeps == 1``), else the
    continuous closed form (docs/theory.md)."""
    theta = hp.get("theta", 0.0) if opt == "adamw" else 0.0
    if substeps == 1:
        var = theory.adamw_discrete_stationary_variance(lam, sigma, hp["eta"], hp["beta1"],
                                                        batch_size, theta, "eq2_em")
        return theory.loss_from_variance(lam, var)
    return theory.adamw_eq2_asymptotic_loss(lam, sigma, hp["eta"], hp["beta1"], batch_size,
                                            theta)


def sde_limit(opt, lam, sigma, hp, batch_size, substeps=1):
    """The SDE's own stationary loss: eq. (2)'s for Adam(W), the docs/paper.md 3.3 limit otherwise
    (the Euler-Maruyama schemes of the SGD and SignSGD SDEs with :math:`\\Delta t = \\eta` have
    their optimizers' second-moment recursions)."""
    if opt in EQ2:
        return eq2_limit(opt, lam, sigma, hp, batch_size, substeps)
    return paper_limit(opt, lam, sigma, hp, batch_size)


def alternative_limit(opt, lam, sigma, hp, batch_size, substeps=1):
    """``(name, value)``: the competing prediction a plateau claim of the optimizer must rule out
    (see the module docstring)."""
    if opt == "sgd":
        return ("sigma-linear law of the adaptive methods, Adam's limit "
                "eta Tr Sigma^1/2 / (4 sqrt B)",
                theory.adam_asymptotic_loss(lam, sigma, hp["eta"], batch_size))
    if opt in ("signsgd", "rmsprop"):
        if opt == "signsgd":
            return ("Adam's limit eta Tr Sigma^1/2 / (4 sqrt B) (no sqrt(pi/2))",
                    theory.adam_asymptotic_loss(lam, sigma, hp["eta"], batch_size))
        return ("SignSGD's limit (sqrt(pi/2) higher)",
                theory.signsgd_asymptotic_loss(lam, sigma, hp["eta"], batch_size))
    if opt in EQ2:
        return ("the eq. (2) SDE's own stationary loss (look-ahead, docs/theory.md)",
                eq2_limit(opt, lam, sigma, hp, batch_size, substeps))
    # rmspropw
    return ("RMSprop's limit without decoupled weight decay",
            theory.adam_asymptotic_loss(lam, sigma, hp["eta"], batch_size))


def exponent_alternative(opt) -> tuple[str, float]:
    """``(name, exponent)`` an exponent claim must rule out."""
    if opt == "sgd":
        return "sigma-linear (adaptive methods)", 1.0
    if opt in DECAY:
        return "sigma-linear (no decoupled weight decay: no saturation)", 1.0
    return "sigma^2 (SGD)", 2.0


# ---------------------------------------------------------------------------------- measure
def measure(data: dict, analyse: dict) -> dict:
    """Plateaus and closed forms per (optimizer, kind, sigma), and the exponents in sigma.

    Returns a dict with ``lam``, ``sigmas``, ``iterations``, ``batch_size``, ``substeps``,
    ``settings`` (``analyse`` over :data:`DEFAULTS`), ``optimizers``, ``hp``, ``loss``
    ({(opt, kind): (sigma, run, saved step)}), ``plateau`` ({(opt, kind): {"mean", "stderr",
    "diverged", "runs"}}, arrays over sigma), ``forms`` ({opt: {"paper", "sde", "alternative",
    "alternative_name", "no_decay", "momentum"}}, arrays over sigma) and ``exponent``
    ({(opt, kind): (slope, stderr, predicted)})."""
    settings = {**DEFAULTS, **(analyse or {})}
    runs, section = data["runs"], data["section"]
    optimizers = [o for o in ORDER if (o, "optim") in runs and o in section["optimizers"]]
    if not optimizers:
        raise ValueError(f"{FIGURE}: no optimizer artifacts among {sorted(runs)}")
    first = runs[optimizers[0], "optim"]
    lam = np.asarray(first["lam"], float)
    sigmas = np.asarray(first["sigmas"], float)
    iters = np.asarray(first["iterations"])
    for key, a in runs.items():
        if not (np.allclose(a["sigmas"], sigmas) and np.allclose(a["lam"], lam)):
            raise ValueError(f"{FIGURE}: artifact {key} has other sigmas or lambdas")
    B = section.get("batch_size", 1)
    substeps = section.get("sde_substeps", 1)
    frac = settings["plateau_fraction"]

    plateau, loss = {}, {}
    for (opt, kind), a in runs.items():
        if opt not in optimizers:
            continue
        L = np.asarray(a["loss"], float)
        mean, se, _ = stats.plateau(L, frac)
        plateau[opt, kind] = {"mean": np.asarray(mean, float), "stderr": np.asarray(se, float),
                              "diverged": stats.diverged(L).sum(axis=-1), "runs": L.shape[1]}
        loss[opt, kind] = L

    # the coupled (dt, dt/2) pair of every SDE job: per-path plateaus (sigma, path) of each chain
    convergence = {}
    for (opt, kind), a in runs.items():
        if opt in optimizers and kind == "sde" and "conv_loss_coarse" in a:
            convergence[opt] = (stats.plateau(a["conv_loss_coarse"], frac)[2],
                                stats.plateau(a["conv_loss_fine"], frac)[2])

    forms = {}
    for opt in optimizers:
        hp = _hp(section, opt)
        f = {"paper": np.array([paper_limit(opt, lam, s, hp, B) for s in sigmas]),
             "sde": np.array([sde_limit(opt, lam, s, hp, B, substeps) for s in sigmas])}
        alt = [alternative_limit(opt, lam, s, hp, B, substeps) for s in sigmas]
        f["alternative_name"] = alt[0][0]
        f["alternative"] = np.array([v for _, v in alt])
        if opt in DECAY:
            f["cap"] = theory.adamw_loss_cap(lam, hp["eta"], hp["theta"])
            f["no_decay"] = np.array([theory.adam_asymptotic_loss(lam, s, hp["eta"], B)
                                      for s in sigmas])
        if opt == "adamw":
            f["momentum"] = np.array([theory.adamw_momentum_asymptotic_loss(
                lam, s, hp["eta"], hp["beta1"], hp["theta"], B) for s in sigmas])
        forms[opt] = f

    exponent = {}
    for (opt, kind), p in plateau.items():
        slope, se = stats.powerlaw_exponent_stderr(sigmas, p["mean"], p["stderr"])
        own = forms[opt]["paper" if kind == "optim" else "sde"]
        exponent[opt, kind] = (slope, se, stats.powerlaw_exponent(sigmas, own))

    return {"lam": lam, "sigmas": sigmas, "iterations": iters, "batch_size": B,
            "substeps": substeps, "settings": settings, "optimizers": optimizers,
            "hp": {o: dict(_hp(section, o)) for o in optimizers}, "loss": loss,
            "plateau": plateau, "forms": forms, "exponent": exponent,
            "convergence": convergence}


# ----------------------------------------------------------------------------------- claims
def _sig(s) -> str:
    return f"{s:g}"


def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """The figure's claims (see the module docstring), in a stable order."""
    settings = {**m["settings"], **(analyse or {})}
    tol, etol = settings["tolerance"], settings["exponent_tolerance"]
    sigmas, B = m["sigmas"], m["batch_size"]
    out: list[Claim] = []

    def add(**kw):
        out.append(Claim(figure=FIGURE, **kw))

    for opt in m["optimizers"]:
        label = plotting.OPTIMIZER_LABELS.get(opt, opt)
        f = m["forms"][opt]
        for kind in KINDS:
            if (opt, kind) not in m["plateau"]:
                continue
            p = m["plateau"][opt, kind]
            what = "optimizer" if kind == "optim" else "SDE"
            n = p["runs"]
            for j, s in enumerate(sigmas):
                mean, se, ndiv = p["mean"][j], p["stderr"][j], int(p["diverged"][j])
                div_note = f"{ndiv} of {n} runs diverged; " if ndiv else ""
                ratio = f"measured/paper limit = {mean / f['paper'][j]:.3f}"
                if kind == "sde" and opt in EQ2:
                    pid, cid = f"{opt}_sde_plateau_sigma{_sig(s)}", \
                        f"{opt}_sde_plateau_eq2_sigma{_sig(s)}"
                    add(id=pid, role="paper_form", pair=cid,
                        statement=f"{label} eq. (2) SDE plateau at sigma={s:g} equals the "
                                  "docs/paper.md 3.3 limit (the SDE tracks the optimizer's "
                                  "stationary loss)",
                        measured=mean, predicted=f["paper"][j], tolerance=tol, stderr=se,
                        runs=n, alternative="the eq. (2) SDE's own stationary loss "
                                            "(docs/theory.md)",
                        alternative_value=f["sde"][j],
                        note=div_note + ratio + "; contradicted: eq. (2)'s look-ahead lowers "
                             "its plateau by about beta1^2 (docs/theory.md 'Stationary loss of "
                             "the eq. (2) SDE')")
                    add(id=cid, role="correction", pair=pid,
                        statement=f"{label} eq. (2) SDE plateau at sigma={s:g} equals the SDE's "
                                  "own stationary loss ("
                                  + ("discrete form of its Euler-Maruyama scheme, dt = eta"
                                     if m["substeps"] == 1 else "continuous closed form")
                                  + "; derived, docs/theory.md)",
                        measured=mean, predicted=f["sde"][j], tolerance=tol, stderr=se, runs=n,
                        alternative="docs/paper.md 3.3 limit", alternative_value=f["paper"][j],
                        note=div_note + f"measured/eq. (2) form = {mean / f['sde'][j]:.3f}")
                elif opt == "adamw" and kind == "optim":
                    pid, cid = f"adamw_optim_plateau_sigma{_sig(s)}", \
                        f"adamw_optim_plateau_momentum_sigma{_sig(s)}"
                    factor = f["momentum"][j] / f["paper"][j]
                    add(id=pid, role="paper_form", pair=cid,
                        statement=f"AdamW optimizer plateau at sigma={s:g} equals the docs/paper.md "
                                  "3.3 limit (Lemma C.57)",
                        measured=mean, predicted=f["paper"][j], tolerance=tol, stderr=se,
                        runs=n, alternative="finite-momentum form (docs/theory.md)",
                        alternative_value=f["momentum"][j],
                        note=div_note + ratio + f"; Lemma C.57 lacks the factor rho1/(rho1+theta)"
                             f" = {factor:.3f} (docs/theory.md 'AdamW with finite momentum')")
                    add(id=cid, role="correction", pair=pid,
                        statement=f"AdamW optimizer plateau at sigma={s:g} equals the "
                                  "finite-momentum limit, Lemma C.57 times rho1/(rho1+theta) "
                                  "(derived, docs/theory.md)",
                        measured=mean, predicted=f["momentum"][j], tolerance=tol, stderr=se,
                        runs=n, alternative=f["alternative_name"],
                        alternative_value=f["alternative"][j],
                        note=div_note + f"measured/finite-momentum form = "
                                        f"{mean / f['momentum'][j]:.3f}")
                else:
                    add(id=f"{opt}_{kind}_plateau_sigma{_sig(s)}",
                        statement=f"{label} {what} plateau at sigma={s:g} equals the docs/paper.md "
                                  "3.3 limit",
                        measured=mean, predicted=f["paper"][j], tolerance=tol, stderr=se,
                        runs=n, alternative=f["alternative_name"],
                        alternative_value=f["alternative"][j], note=div_note + ratio)
                if ndiv:
                    hp = ", ".join(f"{k}={v:g}" for k, v in m["hp"][opt].items())
                    add(id=f"{opt}_{kind}_diverged_sigma{_sig(s)}",
                        statement=f"{label} {what} runs at sigma={s:g} stay finite",
                        measured=ndiv / n, predicted=0.0, tolerance=0.0, comparison="absolute",
                        runs=n, alternative="a run diverges", alternative_value=1.0 / n,
                        note=f"{ndiv} runs diverged (NaN/inf) with {hp}, batch_size={B}; drawn "
                             "as diverged, excluded from the curves")
            if kind == "sde" and opt in m.get("convergence", {}):
                coarse, fine = m["convergence"][opt]
                dt = stats.dt_label(m["substeps"])
                for j, s in enumerate(sigmas):
                    out.append(stats.convergence_claim(
                        FIGURE, f"{opt}_sde_converged_dt_sigma{_sig(s)}",
                        f"{label} SDE plateau at sigma={s:g}", coarse[j], fine[j],
                        tolerance=tol, fraction=settings["convergence_fraction"], dt_label=dt,
                        against="plateau"))
            slope, sse, pred = m["exponent"][opt, kind]
            alt_name, alt = exponent_alternative(opt)
            own = "docs/paper.md 3.3 limits" if kind == "optim" or opt not in EQ2 else \
                "eq. (2) SDE's own stationary losses"
            add(id=f"{opt}_{kind}_plateau_exponent",
                statement=f"{label} {what} plateau grows like sigma^p over sigma in "
                          f"[{sigmas.min():g}, {sigmas.max():g}], p = {pred:.3g} (the exponent "
                          f"of its {own} over the same sigmas)",
                measured=slope, predicted=pred, tolerance=etol, comparison="absolute",
                stderr=sse, runs=p["runs"], alternative=alt_name, alternative_value=alt,
                note="least squares in log-log; standard error from the plateaus' errors")
            if opt in DECAY:
                j = int(np.argmax(sigmas))
                add(id=f"{opt}_{kind}_plateau_below_cap",
                    statement=f"{label} {what} plateau at the largest sigma={sigmas[j]:g} does "
                              "not exceed eta Tr(H)/(4 theta) (docs/paper.md 3.3: decoupled weight "
                              "decay caps the loss whatever the noise)",
                    measured=p["mean"][j], predicted=f["cap"], tolerance=0.0, comparison="le",
                    stderr=p["stderr"][j], runs=p["runs"],
                    alternative=f"{plotting.OPTIMIZER_LABELS.get(NO_DECAY[opt], NO_DECAY[opt])}"
                                "'s limit without decoupled weight decay",
                    alternative_value=f["no_decay"][j],
                    note=f"measured/cap = {p['mean'][j] / f['cap']:.3f}")
    return out


# ------------------------------------------------------------------------------------- plot
def plot(m: dict):
    """Loss against iterations per optimizer: the optimizer's mean over runs (band: +-2 s.e.),
    the mean of its SDE's paths (dashed) and the docs/paper.md 3.3 limit (dotted) per sigma; for
    Adam(W) also the eq. (2) SDE's own limit (thin dash-dotted)."""
    import matplotlib.pyplot as plt

    sigmas, iters, optimizers = m["sigmas"], m["iterations"], m["optimizers"]
    colors = plotting.level_colors(len(sigmas))
    ncols = 2
    nrows = int(np.ceil(len(optimizers) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(9, 3.3 * nrows), sharex=True, squeeze=False)
    for ax, opt in zip(axes.flat, optimizers, strict=False):
        f = m["forms"][opt]
        for j, s in enumerate(sigmas):
            c = colors[j]
            runs = m["loss"][opt, "optim"][j]
            ok = ~stats.diverged(runs)
            if ok.sum() >= 2:
                plotting.mean_band(ax, iters, runs[ok], c, label=f"$\\sigma$={s:g}")
            if not ok.all():
                ax.annotate(f"σ={s:g}: {int((~ok).sum())} runs diverged",
                            (0.02, 0.02 + 0.06 * j), xycoords="axes fraction", color=c,
                            fontsize=7)
            if (opt, "sde") in m["loss"]:
                sde = m["loss"][opt, "sde"][j]
                oks = ~stats.diverged(sde)
                if oks.any():
                    ax.plot(iters, sde[oks].mean(axis=0), color=c, ls="--", lw=1.0)
            ax.axhline(f["paper"][j], color=c, ls=":", lw=1.2)
            if opt in EQ2:
                ax.axhline(f["sde"][j], color=c, ls="-.", lw=0.6, alpha=0.7)
        if opt in DECAY:
            ax.axhline(f["cap"], color="r", lw=0.8, alpha=0.6)
            ax.annotate(r"$\eta\,\mathrm{Tr}H/(4\theta)$", (iters[-1], f["cap"]), color="r",
                        fontsize=7, ha="right", va="bottom")
        ax.set_yscale("log")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.set_title(plotting.OPTIMIZER_LABELS.get(opt, opt))
        ax.set_xlabel("iterations")
        ax.set_ylabel(r"$f(x_k) - f^*$")
    handles = [plt.Line2D([], [], color="k", ls=ls, lw=lw, label=lab)
               for ls, lw, lab in (("-", 1.5, "Optim."), ("--", 1.0, "SDE"),
                                   (":", 1.2, "Limit (docs/paper.md 3.3)"),
                                   ("-.", 0.6, "eq. (2) SDE's own limit"))]
    axes.flat[0].legend(loc="upper right", ncol=2, fontsize=7)
    axes.flat[min(1, len(optimizers) - 1)].legend(handles=handles, loc="upper right",
                                                   fontsize=7)
    for ax in list(axes.flat)[len(optimizers):]:
        ax.set_visible(False)
    fig.suptitle("Noise resilience on the quadratic: loss plateaus against the asymptotic limits")
    fig.tight_layout()
    return fig
