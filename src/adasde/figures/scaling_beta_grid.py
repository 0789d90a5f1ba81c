r"""Figure ``scaling_beta_grid``: batch-size scaling rules for AdamW on the poster's
:math:`(\beta_1, \beta_2)` grid (docs/paper.md section 4), optimizer and eq. (2) SDE.

For every base :math:`(\beta_1, \beta_2)`, batch factor :math:`\delta` and rule of
:mod:`adasde.scaling`, the asymptotic loss (time average over the final ``plateau_fraction``,
mean over runs) is divided by its value at the reference :math:`\delta = 1` (found **by
value** in the artifact's ``deltas``, :func:`adasde.figures.stats.reference_index`).

Claims (:func:`claims`), each with the alternative it must rule out:

* ``this_paper_optim_b1_<b1>_b2_<b2>`` (one per base; docs/paper.md 4, Lemma 3.13 "our best
  reading" and its simulation table): under this paper's rule the optimizer's ratio stays in
  ``1 +/- tolerance`` for every defined :math:`1 < \delta \le` ``claim_max_delta``. The
  alternative is the competing prescription closest to 1 over the same deltas: Malladi et
  al.'s rule and the alternative reading (their *measured* ratios) or no rescaling at all
  (hyper-parameters kept, batch :math:`\delta B`; the finite-momentum closed form).
* ``malladi_optim_deviates``, ``alternative_optim_deviates`` (docs/paper.md 4: "Malladi's rule
  ... ends 30-90% higher", the alternative reading "moves it by 10-33%"): the largest deviation
  over the grid is at least ``tolerance``; alternative: the rule preserves the loss (zero
  effect).
* ``malladi_optim_closed_form``, ``alternative_optim_closed_form`` (docs/theory.md "AdamW with
  finite momentum", "What each scaling rule does to it"): the finite-momentum closed form
  predicts the optimizer's ratio within ``closed_form_tolerance`` at every point; alternative:
  Lemma C.57's form without the momentum factor (docs/paper.md 3.3).
* ``this_paper_sde_invariant`` (``role="paper_form"``; the paper: the rule leaves its SDE
  invariant) against ``this_paper_sde_discrete_closed_form`` (``role="correction"``): the eq.
  (2) SDE, simulated by Euler-Maruyama at :math:`\Delta t = \eta'/k` (k = the SDE job's
  ``grid.sde_substeps``), is *not* invariant (its look-ahead scales the plateau by about
  :math:`\beta_1'^2`, in the continuous SDE as in its schemes), and the scheme's own
  discrete-time closed form at that step (form ``eq2_sim``:
  ``theory.adamw_discrete_stationary_variance(scheme="eq2_em", substeps=k)``) predicts its
  ratio.
  ``malladi_sde_discrete_closed_form`` and ``alternative_sde_discrete_closed_form`` test the
  same closed form under the other rules. The alternative these claims must rule out is the
  other end of the step range: for k = 1 the *continuous* eq. (2) closed form
  (``theory.adamw_eq2_asymptotic_loss``, off from the :math:`\Delta t = \eta'` scheme by up
  to 26% through the discretisation), for k > 1 the :math:`\Delta t = \eta'` scheme
  (``eq2_em``), i.e. an SDE curve that still carries that discretisation error.
* ``<rule>_sde_converged_delta_<d>`` (one per rule and claimed :math:`\delta`; the issue that
  the Euler-Maruyama curve at :math:`\Delta t = \eta'` is not the SDE): the plotted SDE ratio
  :math:`L(\delta)/L(1)` moves by at most ``convergence_fraction`` x the tolerance of the SDE
  claims made under that rule when :math:`\Delta t = \eta'/k` halves
  (:func:`adasde.figures.stats.convergence_claim`; ``tolerance`` for this paper's rule, whose
  invariance claim has the narrower band, ``closed_form_tolerance`` for the other rules).
  Measured on the coupled pair ``conv_loss_coarse``/``conv_loss_fine`` of the SDE artifact
  (:math:`\Delta t` and :math:`\Delta t/2` on one Brownian path): per path the plateau ratio
  :math:`\hat L_p(\delta)/\hat L_p(1)` (path p of the point over path p of its reference, two
  independent paths), its relative move

  .. math:: \frac{\overline{R^{\Delta t}_p - R^{\Delta t/2}_p}}{|\overline{R^{\Delta t/2}_p}|}

  with its standard error across paths, decided at the decisive base. Artifacts without the
  pair (written before it existed) give none.

A claim over a set of points ("every delta", "every base") is decided by its decisive point
(:func:`adasde.figures.stats.decisive`): it holds when every point's 95% interval lies in the
band, fails when one lies wholly outside, and is inconclusive otherwise.
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts, plotting, scaling, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "scaling_beta_grid"
KINDS = ("optim", "sde")
HP_KEYS = ("eta", "beta1", "beta2", "theta", "B")
DEFAULTS = {"tolerance": 0.05, "closed_form_tolerance": 0.1, "claim_max_delta": 8,
            "plateau_fraction": 0.5, "convergence_fraction": 0.5}


def load(inputs: dict) -> dict:
    """The two artifacts ``adamw_optim`` and ``adamw_sde`` (exactly the paths in ``inputs``):
    ``{"optim": arrays, "sde": arrays, "metas": {name: meta}, "config": simulate section}``."""
    data, metas = {}, {}
    for kind in KINDS:
        arrays, meta = artifacts.load(inputs[f"adamw_{kind}"])
        data[kind], metas[f"adamw_{kind}"] = arrays, meta
    data["metas"] = metas
    # the SDE job's section where there is one: it also holds grid.sde_substeps and
    # grid.convergence_runs, which the optimizer job does not read
    data["config"] = metas.get("adamw_sde", metas["adamw_optim"])["config"]
    return data


def sde_substeps(data: dict) -> int:
    """Euler-Maruyama steps per optimizer step of the SDE artifact (1 for artifacts that do
    not record it)."""
    meta = data["metas"].get("adamw_sde", {})
    if "sde_substeps" in meta:
        return int(meta["sde_substeps"])
    return int(meta.get("config", {}).get("grid", {}).get("sde_substeps", 1))


def hp_at(a: dict, idx) -> dict:
    """The rescaled hyper-parameters of grid point ``idx`` = (beta1, beta2, delta, rule)."""
    return {k: float(a[f"hp_{k}"][idx]) for k in HP_KEYS}


def _loss(form: str, lam, sigma, h: dict, substeps: int = 1) -> float:
    if form == "finite_momentum":  # optimizer, continuous (docs/theory.md)
        return theory.adamw_momentum_asymptotic_loss(lam, sigma, h["eta"], h["beta1"],
                                                     h["theta"], h["B"])
    if form == "c57":  # Lemma C.57, no momentum factor
        return theory.adamw_asymptotic_loss(lam, sigma, h["eta"], h["theta"], h["B"])
    if form == "eq2":  # continuous eq. (2) SDE
        return theory.adamw_eq2_asymptotic_loss(lam, sigma, h["eta"], h["beta1"], h["B"],
                                                h["theta"])
    if form == "eq2_em":  # its Euler-Maruyama scheme at dt = eta, discrete time
        var = theory.adamw_discrete_stationary_variance(lam, sigma, h["eta"], h["beta1"],
                                                        h["B"], h["theta"], scheme="eq2_em")
        return theory.loss_from_variance(lam, var)
    if form == "eq2_sim":  # the same scheme at the simulated dt = eta / substeps
        return theory.loss_from_variance(lam, theory.adamw_discrete_stationary_variance(
            lam, sigma, h["eta"], h["beta1"], h["B"], h["theta"], scheme="eq2_em",
            substeps=substeps))
    raise ValueError(form)


FORMS = ("finite_momentum", "c57", "eq2", "eq2_em", "eq2_sim")
RULE_NAME = {"this_paper": "this paper's rule", "malladi": "Malladi's rule",
             "alternative": "the alternative reading"}


def measure(data: dict, analyse: dict) -> dict:
    """Ratios to delta = 1 of both kinds with delta-method standard errors, the closed-form
    ratios (``pred[form]``; ``eq2_sim`` at the SDE's ``sde_substeps``), the "no rescaling"
    closed-form ratio, divergences, the domain of every point (1 - beta' or eta'*theta' above
    :data:`adasde.scaling.SMALL`) and, when the SDE artifact has the coupled pair, ``conv``:
    per-path plateau ratios of both chains and each point's move (:func:`_convergence`)."""
    s = {**DEFAULTS, **(analyse or {})}
    a = data["optim"]
    cfg = data["config"]
    lam, sigma = np.asarray(a["lam"], float), float(cfg["sigma"])
    b1s, b2s = np.asarray(a["beta1"], float), np.asarray(a["beta2"], float)
    deltas = np.asarray(a["deltas"], float)
    rules = [str(r) for r in a["rules"]]
    defined = np.asarray(a["defined"], bool)
    k0 = stats.reference_index(deltas)
    m = {"b1s": b1s, "b2s": b2s, "deltas": deltas, "rules": rules, "defined": defined,
         "k0": k0, "settings": s, "metas": data["metas"],
         "hp": {k: np.asarray(a[f"hp_{k}"], float) for k in HP_KEYS},
         "runs": int(a["loss"].shape[-2]), "steps": int(a["iterations"][-1]),
         "substeps": sde_substeps(data)}
    for kind in KINDS:
        loss = np.asarray(data[kind]["loss"], float)
        mean, err, _ = stats.plateau(loss, s["plateau_fraction"])
        ref = (slice(None), slice(None), slice(k0, k0 + 1))
        ratio = mean / mean[ref]
        se = stats.ratio_stderr(mean, err, mean[ref], err[ref])
        se[:, :, k0] = 0.0
        nd = stats.diverged(loss.reshape(-1, loss.shape[-1])).reshape(loss.shape[:-1])
        m[kind] = {"mean": mean, "err": err, "ratio": ratio, "se": se,
                   "diverged": np.where(defined, nd.sum(-1), 0)}
    pred = {f: np.full(defined.shape, np.nan) for f in FORMS}
    for idx in zip(*np.nonzero(defined), strict=True):
        h = hp_at(a, idx)
        for f in FORMS:
            pred[f][idx] = _loss(f, lam, sigma, h, m["substeps"])
    m["pred_loss"] = pred
    m["pred"] = {f: v / v[:, :, k0:k0 + 1] for f, v in pred.items()}
    # no rescaling: the base hyper-parameters at batch delta*B (finite-momentum closed form)
    none = np.full(defined.shape[:3], np.nan)
    for i, j, k in np.ndindex(*none.shape):
        h = hp_at(a, (i, j, k0, 0))
        h["B"] = h["B"] * deltas[k] / deltas[k0]
        none[i, j, k] = _loss("finite_momentum", lam, sigma, h)
    m["no_rescaling"] = none / none[:, :, k0:k0 + 1]
    small = np.zeros(defined.shape, bool)
    for idx in np.ndindex(*defined.shape):
        h = hp_at(a, idx)
        small[idx] = defined[idx] and not scaling.regime_issues(
            {k: h[k] for k in ("eta", "beta1", "beta2", "theta")})
    m["in_domain"] = small
    m["claimed"] = (deltas <= s["claim_max_delta"]) & (np.arange(len(deltas)) != k0)
    m["conv"] = _convergence(data["sde"], defined, k0, s["plateau_fraction"])
    return m


def _convergence(sde: dict, defined, k0: int, fraction: float) -> dict | None:
    """The coupled pair of the SDE artifact as per-path plateau ratios to delta = 1:
    ``coarse``/``fine`` (beta1, beta2, delta, rule, path), path p of a point over path p of its
    reference (NaN at undefined points), and each point's :func:`stats.dt_move` (``move``,
    ``se``; the reference's own loss move in ``ref_move``, ``ref_se``). None without the pair."""
    if "conv_loss_coarse" not in sde:
        return None
    _, _, pc = stats.plateau(np.asarray(sde["conv_loss_coarse"], float), fraction)
    _, _, pf = stats.plateau(np.asarray(sde["conv_loss_fine"], float), fraction)
    ref = (slice(None), slice(None), slice(k0, k0 + 1))
    out = {"coarse": pc / pc[ref], "fine": pf / pf[ref], "paths": int(pc.shape[-1])}
    for key in ("move", "se", "ref_move", "ref_se"):
        out[key] = np.full(defined.shape, np.nan)
    for idx in zip(*np.nonzero(defined), strict=True):
        mv = stats.dt_move(out["coarse"][idx], out["fine"][idx])
        out["move"][idx], out["se"][idx] = mv["move"], mv["stderr"]
        i, j, _, r = idx
        rv = stats.dt_move(pc[i, j, k0, r], pf[i, j, k0, r])
        out["ref_move"][idx], out["ref_se"][idx] = rv["move"], rv["stderr"]
    out["se"][:, :, k0] = 0.0
    return out


def _fmt_b(m, i, j):
    return f"({m['b1s'][i]:g}, {m['b2s'][j]:g})"


def _domain_note(m, i, j, r, ks) -> str:
    out = []
    for k in ks:
        if m["defined"][i, j, k, r] and not m["in_domain"][i, j, k, r]:
            h = {key: m["hp"][key][i, j, k, r] for key in ("eta", "beta1", "beta2", "theta")}
            why = "; ".join(x.reason.split(":")[0] for x in scaling.regime_issues(h))
            out.append(f"δ={m['deltas'][k]:g} ({why})")
    return ("outside the small-(1 - beta) regime the rule is derived in: " + ", ".join(out)
            if out else "")


def _claimed_ks(m, i, j, r):
    return [k for k in range(len(m["deltas"])) if m["claimed"][k] and m["defined"][i, j, k, r]]


def _competitor(m, i, j) -> tuple[str, float | None]:
    """The competing prescription whose worst ratio over the claimed deltas (at base i, j) is
    closest to 1: (name, that ratio)."""
    cands = []
    for rule in ("malladi", "alternative"):
        if rule in m["rules"]:
            r = m["rules"].index(rule)
            ks = _claimed_ks(m, i, j, r)
            if ks:
                v = m["optim"]["ratio"][i, j, ks, r]
                cands.append((f"{RULE_NAME[rule]} (measured)",
                              float(v[np.argmax(np.abs(v - 1))])))
    ks = [k for k in range(len(m["deltas"])) if m["claimed"][k]]
    if ks:
        v = m["no_rescaling"][i, j, ks]
        cands.append(("no rescaling (closed form)", float(v[np.argmax(np.abs(v - 1))])))
    if not cands:
        return "", None
    return min(cands, key=lambda c: abs(c[1] - 1))


def _ratios_note(m, kind, i, j, r, extra=None) -> str:
    s = m[kind]
    parts = []
    for k in range(len(m["deltas"])):
        if k == m["k0"]:
            continue
        d = m["deltas"][k]
        if not m["defined"][i, j, k, r]:
            h = {"beta1": m["hp"]["beta1"][i, j, k, r], "beta2": m["hp"]["beta2"][i, j, k, r]}
            parts.append(f"δ={d:g}: undefined ("
                         + ", ".join(f"{b}' = {h[b]:.3g}" for b in scaling.undefined(h)) + ")")
            continue
        txt = f"δ={d:g}: {s['ratio'][i, j, k, r]:.3f} ± {s['se'][i, j, k, r]:.2g}"
        if extra is not None:
            txt += f" [{extra[i, j, k, r]:.3f}]"
        if not m["claimed"][k]:
            txt += " (reported, not claimed)"
        parts.append(txt)
    return "; ".join(parts)


def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """The figure's claims (see the module docstring)."""
    s = m["settings"] if analyse is None else {**DEFAULTS, **analyse}
    tol, cf_tol, dmax = s["tolerance"], s["closed_form_tolerance"], s["claim_max_delta"]
    rules, deltas = m["rules"], m["deltas"]
    nb1, nb2 = len(m["b1s"]), len(m["b2s"])
    runs = m["runs"]
    out: list[Claim] = []

    def add(**kw):
        out.append(Claim(figure=FIGURE, runs=runs, **kw))

    opt = m["optim"]
    # 1. this paper's rule, optimizer, per base
    if "this_paper" in rules:
        r = rules.index("this_paper")
        for i, j in np.ndindex(nb1, nb2):
            ks = _claimed_ks(m, i, j, r)
            alt, alt_v = _competitor(m, i, j)
            note = _ratios_note(m, "optim", i, j, r)
            dom = _domain_note(m, i, j, r, ks)
            if dom:
                note += "; " + dom
            note += f"; alternative: {alt} = {alt_v:.3f}" if alt_v is not None else ""
            if ks:
                b = stats.decisive(opt["ratio"][i, j, ks, r], opt["se"][i, j, ks, r],
                                   1 - tol, 1 + tol)
                k = ks[b]
                meas, se, at = opt["ratio"][i, j, k, r], opt["se"][i, j, k, r], deltas[k]
            else:
                meas, se, at = None, None, float("nan")
                note += "; no defined delta in (1, claim_max_delta]"
            add(id=f"this_paper_optim_b1_{m['b1s'][i]:g}_b2_{m['b2s'][j]:g}",
                statement=f"AdamW optimizer, base (beta1, beta2) = {_fmt_b(m, i, j)}: under this "
                          f"paper's rule the asymptotic loss stays within {100 * tol:g}% of its "
                          f"delta = 1 value for every delta <= {dmax:g} where the rule is "
                          f"defined (decisive delta = {at:g})",
                measured=meas, predicted=1.0, tolerance=tol, comparison="absolute", stderr=se,
                alternative=alt, alternative_value=alt_v, note=note)
    # 2. the other rules deviate, optimizer, whole grid
    for rule in ("malladi", "alternative"):
        if rule not in rules:
            continue
        r = rules.index(rule)
        dev, se, where = _grid_extreme(m, "optim", r)
        if dev is None:
            continue
        i, j, k = where
        per_base = "; ".join(
            f"{_fmt_b(m, bi, bj)}: {_max_dev_txt(m, 'optim', bi, bj, r)}"
            for bi, bj in np.ndindex(nb1, nb2))
        add(id=f"{rule}_optim_deviates",
            statement=f"AdamW optimizer: under {RULE_NAME[rule]} the asymptotic "
                      f"loss deviates by at least {100 * tol:g}% from its delta = 1 value "
                      f"somewhere on the grid (delta <= {dmax:g}); largest at base "
                      f"{_fmt_b(m, i, j)}, delta = {deltas[k]:g}",
            measured=dev, predicted=tol, tolerance=0.0, comparison="ge", stderr=se,
            alternative="the rule preserves the loss (zero effect)", alternative_value=0.0,
            note=f"largest |ratio - 1| per base: {per_base}")
    # 3. closed forms against the simulated ratios
    specs = [("optim", "malladi", "finite_momentum", "c57",
              "the finite-momentum closed form (docs/theory.md)",
              "Lemma C.57 closed form (no momentum factor)", "claim", ""),
             ("optim", "alternative", "finite_momentum", "c57",
              "the finite-momentum closed form (docs/theory.md)",
              "Lemma C.57 closed form (no momentum factor)", "claim", "")]
    k_sub = m["substeps"]
    dt_txt = _dt_txt(k_sub)
    if k_sub == 1:
        sde_alt, sde_alt_label = "eq2", ("continuous eq. (2) closed form "
                                         "(theory.adamw_eq2_asymptotic_loss)")
    else:
        sde_alt, sde_alt_label = "eq2_em", (
            "the closed form of the scheme at dt = eta' (scheme='eq2_em'): an SDE curve that "
            "still carries the discretisation error of one step per optimizer step")
    for rule in rules:
        specs.append(("sde", rule, "eq2_sim", sde_alt,
                      f"the discrete-time closed form of its Euler-Maruyama scheme at {dt_txt} "
                      f"(theory.adamw_discrete_stationary_variance, scheme eq2_em, substeps = {k_sub})", sde_alt_label,
                      "correction" if rule == "this_paper" else "claim",
                      "this_paper_sde_invariant" if rule == "this_paper" else ""))
    for kind, rule, form, alt_form, label, alt_label, role, pair in specs:
        if rule not in rules:
            continue
        r = rules.index(rule)
        c = _closed_form_claim(m, kind, r, form, alt_form, cf_tol)
        if c is None:
            continue
        meas, se, where, alt_v, per_delta = c
        i, j, k = where
        cid = f"{rule}_{kind}_{'discrete_' if form == 'eq2_sim' else ''}closed_form"
        note = (f"decisive point: base {_fmt_b(m, i, j)}, δ={deltas[k]:g}; largest |sim/closed "
                f"form - 1| per delta: {per_delta}; alternative at its worst point: "
                f"{alt_v:+.3f}")
        if kind == "optim":
            note += ("; the closed form holds V at its mean: where 1 - beta2' = O(1) the "
                     "optimizer's preconditioner fluctuates and its plateau rises above it "
                     "(docs/theory.md, 'What the linear theory misses')")
        else:
            note += (f"; the simulation is the scheme at {dt_txt}, so its own discrete-time form "
                     "at that step is the like-for-like prediction (it tends to the continuous "
                     "SDE's as the step shrinks; the convergence claims bound what is left)")
        who = "optimizer" if kind == "optim" else f"eq. (2) SDE (Euler-Maruyama, {dt_txt})"
        add(id=cid,
            statement=f"AdamW {who} "
                      f"under {RULE_NAME[rule]}: {label} predicts the ratio to "
                      f"delta = 1 within {100 * cf_tol:g}% at every base and delta <= {dmax:g}",
            measured=meas, predicted=0.0, tolerance=cf_tol, comparison="absolute", stderr=se,
            alternative=alt_label, alternative_value=alt_v, role=role, pair=pair, note=note)
    # 4. the paper's form for the SDE: invariant under this paper's rule
    if "this_paper" in rules:
        r = rules.index("this_paper")
        vals, ses, where = _grid_points(m, "sde", r)
        if vals.size:
            b = stats.decisive(vals, ses, 1 - tol, 1 + tol)
            i, j, k = where[b]
            add(id="this_paper_sde_invariant", role="paper_form",
                pair="this_paper_sde_discrete_closed_form",
                statement=f"AdamW eq. (2) SDE (Euler-Maruyama, {dt_txt}): under this paper's "
                          f"rule the asymptotic loss stays within {100 * tol:g}% of its delta = 1 "
                          f"value at every base and delta <= {dmax:g} (the rule leaves the SDE "
                          f"invariant); decisive point base {_fmt_b(m, i, j)}, delta = "
                          f"{deltas[k]:g}",
                measured=vals[b], predicted=1.0, tolerance=tol, comparison="absolute",
                stderr=ses[b],
                alternative=f"the scheme's discrete-time closed form at {dt_txt} (eq2_sim)",
                alternative_value=float(m["pred"]["eq2_sim"][i, j, k, r]),
                note="eq. (2)'s look-ahead M + eta*rho1*(grad f - M) scales the plateau by about "
                     "beta1'^2 and the rule lowers beta1 (docs/theory.md, 'The eq. (2) SDE under "
                     "the rules'); this is a property of the continuous SDE (its closed form "
                     "theory.adamw_eq2_asymptotic_loss has the same factor), not of the "
                     f"discretisation: the SDE is simulated at {dt_txt}"
                     + (" and the this_paper_sde_converged_* claims bound its dt error"
                        if m["conv"] is not None else "")
                     + "; per base (scheme's closed form at that step in brackets): " + "; ".join(
                         f"{_fmt_b(m, bi, bj)}: "
                         + _ratios_note(m, "sde", bi, bj, r, extra=m["pred"]["eq2_sim"])
                         for bi, bj in np.ndindex(nb1, nb2)))
    # 5. the SDE ratios are converged in dt
    if m["conv"] is not None:
        out += convergence_claims(m, s)
    return out


def _dt_txt(k: int) -> str:
    return "dt = eta'" if k == 1 else f"dt = eta'/{k}"


def sde_tolerance(rule: str, s: dict) -> tuple[float, str]:
    """The tolerance of the SDE claims made under ``rule`` and what it belongs to: the
    narrowest band the plotted SDE ratio is tested against (this paper's rule: ``tolerance`` of
    its invariance claim, else ``closed_form_tolerance`` of the closed-form claim)."""
    if rule == "this_paper" and s["tolerance"] < s["closed_form_tolerance"]:
        return s["tolerance"], "SDE-invariance"
    return s["closed_form_tolerance"], "SDE-vs-closed-form"


def convergence_claims(m: dict, s: dict) -> list[Claim]:
    """One ``<rule>_sde_converged_delta_<d>`` claim per rule and claimed delta (module
    docstring): the relative move of the SDE ratio when dt halves, at the decisive base."""
    conv, frac = m["conv"], s["convergence_fraction"]
    k_sub = m["substeps"]
    out = []
    for r, rule in enumerate(m["rules"]):
        tol, against = sde_tolerance(rule, s)
        for k in np.flatnonzero(m["claimed"]):
            bases = [(i, j) for i, j in np.ndindex(len(m["b1s"]), len(m["b2s"]))
                     if m["defined"][i, j, k, r]]
            if not bases:
                continue
            mv = np.array([conv["move"][i, j, k, r] for i, j in bases])
            se = np.array([conv["se"][i, j, k, r] for i, j in bases])
            b = stats.decisive(mv, se, -frac * tol, frac * tol)
            i, j = bases[0 if b is None else b]
            d = m["deltas"][k]
            c = stats.convergence_claim(
                FIGURE, f"{rule}_sde_converged_delta_{d:g}",
                f"the eq. (2) SDE's ratio L(delta = {d:g}) / L(delta = 1) under "
                f"{RULE_NAME[rule]} (decisive base {_fmt_b(m, i, j)})",
                conv["coarse"][i, j, k, r], conv["fine"][i, j, k, r], tolerance=tol,
                fraction=frac, dt_label=_dt_txt(k_sub).removeprefix("dt = "),
                against=against)
            c.note += ("; per base (relative move +/- s.e.): " + "; ".join(
                f"{_fmt_b(m, bi, bj)}: {conv['move'][bi, bj, k, r]:+.4f} +/- "
                f"{conv['se'][bi, bj, k, r]:.2g}" for bi, bj in bases)
                + f"; the delta = 1 loss itself moves by {conv['ref_move'][i, j, k, r]:+.4f} "
                f"+/- {conv['ref_se'][i, j, k, r]:.2g} at the decisive base")
            out.append(c)
    return out


def _grid_points(m, kind, r):
    """Ratios, their s.e. and (i, j, k) of every defined claimed point of rule ``r``."""
    vals, ses, where = [], [], []
    for i, j, k in np.ndindex(len(m["b1s"]), len(m["b2s"]), len(m["deltas"])):
        if m["claimed"][k] and m["defined"][i, j, k, r]:
            vals.append(m[kind]["ratio"][i, j, k, r])
            ses.append(m[kind]["se"][i, j, k, r])
            where.append((i, j, k))
    return np.asarray(vals, float), np.asarray(ses, float), where


def _grid_extreme(m, kind, r):
    """The largest |ratio - 1| over the claimed points of rule ``r``: (dev, se, (i, j, k))."""
    vals, ses, where = _grid_points(m, kind, r)
    if not vals.size:
        return None, None, None
    b = int(np.argmax(np.abs(vals - 1)))
    return float(abs(vals[b] - 1)), float(ses[b]), where[b]


def _max_dev_txt(m, kind, i, j, r):
    ks = _claimed_ks(m, i, j, r)
    if not ks:
        return "undefined"
    v = m[kind]["ratio"][i, j, ks, r]
    b = int(np.argmax(np.abs(v - 1)))
    return f"{100 * abs(v[b] - 1):.1f}% at δ={m['deltas'][ks[b]]:g}"


def _closed_form_claim(m, kind, r, form, alt_form, cf_tol):
    """Signed relative deviation sim/closed form - 1 at the decisive point of every claimed
    defined point, its s.e., the point, the alternative form's worst deviation and a per-delta
    summary."""
    vals, ses, where = _grid_points(m, kind, r)
    if not vals.size:
        return None
    pred = np.array([m["pred"][form][i, j, k, r] for i, j, k in where])
    alt = np.array([m["pred"][alt_form][i, j, k, r] for i, j, k in where])
    dev, dse = vals / pred - 1.0, ses / pred
    b = stats.decisive(dev, dse, -cf_tol, cf_tol)
    alt_dev = alt / pred - 1.0
    alt_v = float(alt_dev[np.argmax(np.abs(alt_dev))])
    per = []
    for k in sorted({w[2] for w in where}):
        sel = [n for n, w in enumerate(where) if w[2] == k]
        per.append(f"δ={m['deltas'][k]:g}: {100 * np.max(np.abs(dev[sel])):.1f}%")
    return float(dev[b]), float(dse[b]), where[b], alt_v, ", ".join(per)


def ratio_table(m: dict):
    """Every point as a row (kind, base, delta, rule, ratio, s.e., closed-form ratios, and for
    the SDE the ratio's relative move when dt halves, ``dt_move`` +/- ``dt_move_se``)."""
    import pandas as pd

    rows = []
    for kind in KINDS:
        s = m[kind]
        for idx in np.ndindex(m["defined"].shape):
            i, j, k, r = idx
            rows.append(dict(kind=kind, beta1=m["b1s"][i], beta2=m["b2s"][j],
                             delta=m["deltas"][k], rule=m["rules"][r],
                             defined=bool(m["defined"][idx]), in_domain=bool(m["in_domain"][idx]),
                             loss=s["mean"][idx], ratio=s["ratio"][idx], ratio_se=s["se"][idx],
                             **{f"pred_{f}": m["pred"][f][idx] for f in FORMS},
                             no_rescaling=m["no_rescaling"][i, j, k],
                             dt_move=(m["conv"]["move"][idx] if kind == "sde"
                                      and m["conv"] is not None else np.nan),
                             dt_move_se=(m["conv"]["se"][idx] if kind == "sde"
                                         and m["conv"] is not None else np.nan),
                             beta1_scaled=m["hp"]["beta1"][idx],
                             beta2_scaled=m["hp"]["beta2"][idx]))
    return pd.DataFrame(rows)


def plot(m: dict):
    """One panel per base: ratio to delta = 1 against delta for every rule (solid: optimizer,
    dashed: eq. (2) SDE at dt = eta'/sde_substeps; error bars +/- 2 s.e.), dotted: the
    finite-momentum closed form, thin dash-dot: the SDE scheme's discrete-time closed form at
    the simulated dt; x marks a rule undefined there."""
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    s = m["settings"]
    tol, dmax = s["tolerance"], s["claim_max_delta"]
    b1s, b2s, deltas, rules, defined = m["b1s"], m["b2s"], m["deltas"], m["rules"], m["defined"]
    fig, axes = plt.subplots(len(b1s), len(b2s), figsize=(3.4 * len(b2s), 2.9 * len(b1s)),
                             sharex=True, sharey=True, squeeze=False)
    finite = np.concatenate([m[k]["ratio"][defined] for k in KINDS])
    hi = 1.08 * float(np.nanmax(finite))
    order = np.argsort(deltas)
    for i, j in np.ndindex(len(b1s), len(b2s)):
        ax = axes[i, j]
        ax.axhspan(1 - tol, 1 + tol, color="0.85", lw=0, zorder=0)
        ax.axhline(1.0, color="0.5", lw=0.8, zorder=0)
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        texts = []
        for r, rule in enumerate(rules):
            c = plotting.RULE_COLORS.get(rule, "k")
            ok = order[defined[i, j, order, r]]
            for kind, ls, mfc, lw in (("optim", "-", c, 1.6), ("sde", "--", "white", 1.0)):
                st = m[kind]
                ax.errorbar(deltas[ok], st["ratio"][i, j, ok, r], yerr=2 * st["se"][i, j, ok, r],
                            color=c, ls=ls, marker="o", ms=4, mfc=mfc, lw=lw, capsize=2)
            ax.plot(deltas[ok], m["pred"]["finite_momentum"][i, j, ok, r], color=c, ls=":",
                    lw=1.0)
            ax.plot(deltas[ok], m["pred"]["eq2_sim"][i, j, ok, r], color=c, ls="-.", lw=0.6)
            for k in np.flatnonzero(~defined[i, j, :, r]):
                ax.plot(deltas[k], 0.93 - 0.08 * r, marker="x", color=c, ms=7, mew=2,
                        transform=trans, clip_on=False)
            ks = _claimed_ks(m, i, j, r)
            if ks:
                texts.append(f"{plotting.RULE_SHORT.get(rule, rule)}: "
                             f"{_max_dev_txt(m, 'optim', i, j, r)}")
        ax.text(0.03, 0.97, f"max |optim ratio−1|, δ≤{dmax:g}:\n" + "\n".join(texts),
                transform=ax.transAxes, va="top", fontsize=6.5,
                bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.85))
        ax.set_xscale("log", base=2)
        ax.set_ylim(0.0, hi)
        ax.set_xticks(deltas[order])
        ax.set_xticklabels([f"{d:g}" for d in deltas[order]])
        ax.set_title(f"base β1 = {b1s[i]:g}, β2 = {b2s[j]:g}", fontsize=9)
        if i == len(b1s) - 1:
            ax.set_xlabel("batch factor δ (B → δB)")
        if j == 0:
            ax.set_ylabel("asymptotic loss / its δ = 1 value")
    handles = [plt.Line2D([], [], color=plotting.RULE_COLORS.get(r, "k"), lw=2,
                          label=scaling.RULE_LABELS[r]) for r in rules]
    handles += [
        plt.Line2D([], [], color="k", ls="-", marker="o", label="AdamW (optimizer)"),
        plt.Line2D([], [], color="k", ls="--", marker="o", mfc="white",
                   label="eq. (2) SDE (Euler-Maruyama, dt = η'"
                         + ("" if m["substeps"] == 1 else f"/{m['substeps']}") + ")"),
        plt.Line2D([], [], color="k", ls=":", label="finite-momentum closed form"),
        plt.Line2D([], [], color="k", ls="-.", lw=0.6,
                   label="discrete-time closed form of the SDE scheme at its dt"),
        plt.Line2D([], [], color="k", ls="", marker="x", mew=2,
                   label="rule undefined (a β outside (0, 1)); not simulated"),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label=f"±{100 * tol:g}%"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.005))
    fig.suptitle("If we change the batch size, how do we adapt the other hyper-parameters?\n"
                 "AdamW on the quadratic of docs/paper.md 4 (our reconstruction of the poster's β grid)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    return fig
