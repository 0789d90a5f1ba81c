r"""Analysis of figure ``scaling_lm``: the AdamW batch-size scaling rules on a small causal
language model (artifact of :mod:`adasde.experiments.scaling_lm`).

Measurement. For every rule, base :math:`(\beta_1, \beta_2)`, :math:`\delta > 1` and loss (training,
held-out), the *gap* of the curve at :math:`\delta B` to the base curve (:math:`\delta = 1`,
same base) in a window of samples seen: per run :math:`r` (paired: run ``r`` starts from the
same network at every :math:`\delta`), :math:`g_r = \operatorname{mean}_{s\in W}
L_{\delta,r}(s)/L_{1,r}(s) - 1`, then the mean over runs and its Monte-Carlo standard error.
Two windows: the *transient* (samples in :math:`(0, f_t S]`, ``transient_fraction``) and the
*end* (the last ``end_fraction`` of the saved points).

Domain. A rule is derived for small :math:`1-\beta` (:data:`adasde.scaling.SMALL`, the same
test as ``adasde scale``: :func:`adasde.scaling.regime_issues`); a base whose rescaled point
(or itself) is outside that domain is measured and shown but not counted in the claims, and
the claim's note says so.

Claims (:func:`claims`): per rule, :math:`\delta`, loss and window, "the curve at
:math:`\delta B` stays within ``tolerance_<window>`` of the base curve" with the largest gap over
the in-domain bases as the measurement (band :math:`[-tol, tol]` around 0); the alternative it
must rule out is the competing rule's gap over the same bases (this paper's rule vs Malladi et
al.'s; the other rules vs this paper's), so a claim whose band also holds the competitor's gap
*cannot discriminate* between them at this scale.

This module never imports jax or :mod:`adasde.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adasde import artifacts, scaling
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "scaling_lm"
KINDS = ("test_loss", "train_loss")
KIND_LABELS = {"test_loss": "held-out", "train_loss": "training"}
PHASES = ("transient", "end")
RULE_NAMES = {"this_paper": "this paper's rule", "malladi": "Malladi et al.'s rule",
              "alternative": "the alternative reading"}
RULE_SHORT = {"this_paper": "this paper", "malladi": "Malladi et al.",
              "alternative": "alternative reading"}
ANALYSE_DEFAULTS = {"transient_fraction": 0.25, "end_fraction": 0.25,
                    "tolerance_transient": 0.05, "tolerance_end": 0.02}
TRANSIENT_NOTE = (
    "The rules are derived for the noise-dominated regime; in the transient the gradient "
    "dominates its noise, Adam's step is sign-like and at eta' = sqrt(delta)*eta covers "
    "1/sqrt(delta) as much per sample, so a lag at delta*B is expected there.")
MALLADI_NOTE = ("Malladi et al.'s rule keeps theta, so the decay per sample falls by "
                "1/sqrt(delta); it was derived without weight decay.")


def settings(analyse: dict | None) -> dict:
    """``analyse`` with its defaults filled."""
    return {**ANALYSE_DEFAULTS, **(analyse or {})}


# ------------------------------------------------------------------------------ load
def load(inputs: dict) -> dict:
    """Read the artifact ``inputs["adamw"]``: ``{"arrays", "meta"}``."""
    arrays, meta = artifacts.load(inputs["adamw"])
    return {"arrays": arrays, "meta": meta, "metas": {"adamw": meta}}


# ------------------------------------------------------------------------------ measure
@dataclass
class Gap:
    """The gap of one (rule, base, delta, loss, window): mean over runs, its standard error,
    the per-run values and whether the point is inside the rule's domain (``issues``: why
    not)."""

    mean: float
    stderr: float
    per_run: np.ndarray
    issues: list = field(default_factory=list)

    @property
    def in_domain(self) -> bool:
        return not self.issues


def windows(samples: np.ndarray, analyse: dict) -> dict:
    """Indices of the saved points in each window: ``transient`` (0 < s <= f_t * S) and
    ``end`` (the last ``end_fraction`` of the points, at least one)."""
    samples = np.asarray(samples)
    n = len(samples)
    transient = np.flatnonzero((samples > 0)
                               & (samples <= analyse["transient_fraction"] * samples[-1]))
    if transient.size == 0:
        transient = np.array([1])
    start = n - max(1, int(round(analyse["end_fraction"] * (n - 1))))
    return {"transient": transient, "end": np.arange(start, n)}


def gap(loss_delta: np.ndarray, loss_base: np.ndarray, idx: np.ndarray):
    """Per-run gap ``mean_{s in idx} L_delta/L_1 - 1`` (runs on axis 0), its mean over runs
    and standard error; a non-finite run makes the mean NaN."""
    ratio = np.asarray(loss_delta, float)[:, idx] / np.asarray(loss_base, float)[:, idx]
    per_run = ratio.mean(axis=1) - 1.0
    R = per_run.size
    se = per_run.std(ddof=1) / np.sqrt(R) if R > 1 else np.nan
    return float(per_run.mean()), float(se), per_run


def point_hp(a: dict, r: int, b: int, k: int) -> dict:
    return {key: float(a[f"hp_{key}"][r, b, k]) for key in ("eta", "beta1", "beta2", "theta")}


def _short(issue, hp: dict, prime: str) -> str:
    """A compact reason for a :class:`adasde.scaling.Issue` of point ``hp``."""
    k = issue.key
    if issue.kind == "undefined":
        return f"{k}{prime} = {hp[k]:.4g} outside (0, 1)"
    if k in scaling.BETA_KEYS:
        return f"1 - {k}{prime} = {1 - hp[k]:.3g} > {scaling.SMALL:g}"
    return f"eta{prime}*theta{prime} = {hp['eta'] * hp['theta']:.3g} > {scaling.SMALL:g}"


def domain_issues(a: dict, r: int, b: int, k: int) -> list[str]:
    """Why point (rule r, base b, delta k) is outside the rule's domain: the "undefined" and
    "not small" issues of :func:`adasde.scaling.regime_issues` (the test ``adasde scale``
    reports) for the rescaled point and its base; [] if inside."""
    hp, base = point_hp(a, r, b, k), point_hp(a, r, b, 0)
    out = [_short(i, hp, "'") for i in scaling.regime_issues(hp)
           if i.kind in ("undefined", "not_small")]
    out += [f"base {_short(i, base, '')}" for i in scaling.regime_issues(base, prime="")
            if i.kind in ("undefined", "not_small")]
    return out


def measure(data: dict, analyse: dict | None = None) -> dict:
    """Every gap (rule, base, delta > 1, loss, window) and what the plot needs."""
    analyse = settings(analyse)
    a, meta = data["arrays"], data["meta"]
    rules = [str(r) for r in a["rules"]]
    bases = [tuple(float(x) for x in b) for b in a["bases"]]
    deltas = [float(d) for d in a["deltas"]]
    if deltas[0] != 1.0:
        raise ValueError(f"scaling_lm artifact: deltas {deltas} must start with 1")
    samples = np.asarray(a["samples"])
    win = windows(samples, analyse)
    gaps: dict[tuple, Gap] = {}
    rows = []
    for r, rule in enumerate(rules):
        for b, base in enumerate(bases):
            for k in range(1, len(deltas)):
                issues = (domain_issues(a, r, b, k) if a["defined"][r, b, k]
                          else [f"undefined at delta={deltas[k]:g}"])
                for kind in KINDS:
                    if not (a["defined"][r, b, k] and a["defined"][r, b, 0]):
                        continue
                    for phase in PHASES:
                        m, se, per = gap(a[kind][r, b, k], a[kind][r, b, 0], win[phase])
                        gaps[rule, base, deltas[k], kind, phase] = Gap(m, se, per, issues)
                        rows.append({"rule": rule, "beta1": base[0], "beta2": base[1],
                                     "delta": deltas[k], "loss": KIND_LABELS[kind],
                                     "window": phase, "gap": m, "stderr": se,
                                     "in_domain": not issues, "issues": "; ".join(issues)})
    return {
        "figure": FIGURE,
        "analyse": analyse,
        "meta": meta,
        "metas": data.get("metas", {"adamw": meta}),
        "section": meta.get("config", {}),
        "rules": rules,
        "bases": bases,
        "deltas": deltas,
        "samples": samples,
        "windows": win,
        "defined": np.asarray(a["defined"]),
        "curves": {kind: np.asarray(a[kind], float) for kind in KINDS},
        "diverged": {kind: stats.diverged(a[kind]) for kind in KINDS},
        "runs": int(a["train_loss"].shape[3]),
        "gaps": gaps,
        "rows": rows,
    }


def gap_table(measurements: dict):
    """The gaps as a DataFrame (one row per rule, base, delta, loss and window)."""
    import pandas as pd

    return pd.DataFrame(measurements["rows"])


# ------------------------------------------------------------------------------ claims
def _pct(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+.2f}%"


def _se(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.2f}%"


def worst(measurements: dict, rule: str, delta: float, kind: str, phase: str,
          bases: list | None = None):
    """``(base, Gap)`` with the largest |gap| of ``rule`` over ``bases`` (default: the rule's
    in-domain bases), or ``(None, None)``; a non-finite gap (diverged run) counts as largest."""
    best = (None, None)
    for base in measurements["bases"]:
        g = measurements["gaps"].get((rule, base, delta, kind, phase))
        if g is None or (bases is None and not g.in_domain) or \
                (bases is not None and base not in bases):
            continue
        if not np.isfinite(g.mean):
            return base, g
        if best[1] is None or abs(g.mean) > abs(best[1].mean):
            best = (base, g)
    return best


def competitor(rule: str, rules: list) -> str | None:
    """The rule a claim about ``rule`` must rule out: Malladi's for this paper's, this
    paper's for the others."""
    other = "malladi" if rule == "this_paper" else "this_paper"
    return other if other in rules else None


def claims(measurements: dict, analyse: dict | None = None) -> list[Claim]:
    """The figure's claims (see the module docstring); a rule without any in-domain base at a
    delta makes no claim there (see :func:`unclaimed`)."""
    analyse = settings(analyse or measurements.get("analyse"))
    out = []
    rules, R = measurements["rules"], measurements["runs"]
    for rule in rules:
        for d in measurements["deltas"][1:]:
            for kind in KINDS:
                for phase in PHASES:
                    c = _claim(measurements, analyse, rule, d, kind, phase, R)
                    if c is not None:
                        out.append(c)
    return out


def _claim(m, analyse, rule, d, kind, phase, R):
    base, g = worst(m, rule, d, kind, phase)
    if g is None:
        return None
    inside = [b for b in m["bases"]
              if (x := m["gaps"].get((rule, b, d, kind, phase))) is not None and x.in_domain]
    tol = analyse[f"tolerance_{phase}"]
    other = competitor(rule, m["rules"])
    alt_value, alt_name = None, ""
    if other is not None:
        _, og = worst(m, other, d, kind, phase, bases=inside)
        alt_value = None if og is None else og.mean
        alt_name = f"{RULE_SHORT[other]} rule" if other == "malladi" else RULE_NAMES[other]
    where = "over the transient" if phase == "transient" else "at the end"
    win = m["windows"][phase]
    s = m["samples"]
    notes = [f"worst of {len(inside)} in-domain base(s): (beta1, beta2) = {base}; "
             f"window {s[win[0]]}-{s[win[-1]]} samples"]
    outside = [(b, x) for b in m["bases"]
               if (x := m["gaps"].get((rule, b, d, kind, phase))) is not None
               and not x.in_domain]
    if outside:
        notes.append("outside the rule's domain, not counted: " + "; ".join(
            f"{b}: gap {_pct(x.mean)} ± {_se(x.stderr)} ({', '.join(x.issues)})"
            for b, x in outside))
    undefined = [b for bi, b in enumerate(m["bases"])
                 if not m["defined"][m["rules"].index(rule), bi,
                                     m["deltas"].index(d)]]
    if undefined:
        notes.append(f"undefined (a beta outside (0, 1)), not trained: {undefined}")
    if other is not None and alt_value is not None:
        notes.append(f"{RULE_SHORT[other]} over the same bases: {_pct(alt_value)}")
    if rule == "malladi":
        notes.append(MALLADI_NOTE)
    if phase == "transient":
        notes.append(TRANSIENT_NOTE)
    if not np.isfinite(g.mean):
        notes.append("a run diverged (non-finite loss)")
    return Claim(
        figure=FIGURE,
        id=f"{rule}_{'heldout' if kind == 'test_loss' else 'train'}_{phase}_delta{d:g}",
        statement=(f"AdamW byte-level Transformer LM: under {RULE_NAMES[rule]} the "
                   f"{KIND_LABELS[kind]}-loss curve at batch {d:g}B stays within "
                   f"{100 * tol:g}% of the batch-B curve {where} (relative gap, every "
                   f"in-domain base (beta1, beta2))"),
        measured=g.mean, predicted=0.0, tolerance=tol, comparison="absolute",
        stderr=g.stderr, alternative=alt_name, alternative_value=alt_value, runs=R,
        note=". ".join(n.rstrip(".") for n in notes) + ".")


def unclaimed(measurements: dict) -> list[str]:
    """The (rule, delta) pairs without any in-domain base (no claim made), with the reasons."""
    out = []
    for rule in measurements["rules"]:
        for d in measurements["deltas"][1:]:
            base, g = worst(measurements, rule, d, KINDS[0], "end")
            if g is None:
                why = sorted({x.issues[0] for (ru, _, dd, _, _), x in
                              measurements["gaps"].items() if ru == rule and dd == d
                              and x.issues})
                out.append(f"{rule} at delta={d:g}: no base inside the rule's domain "
                           f"({'; '.join(why) or 'undefined everywhere'}); no claim")
    return out


# ------------------------------------------------------------------------------ plot
def plot(measurements: dict):
    """Rows: the bases; columns: the rules (held-out loss solid, training loss dashed; the
    delta = 1 curve in black as the reference, mean over runs with a +-2 s.e. band on the
    held-out curves) and a last column with every end gap (held-out) per rule and delta."""
    import matplotlib.pyplot as plt

    from adasde import plotting

    m = measurements
    rules, bases, deltas, s = m["rules"], m["bases"], m["deltas"], m["samples"]
    a = m["analyse"]
    colors = ["black", *plotting.level_colors(max(1, len(deltas) - 1), "plasma")]
    n_rows, n_cols = len(bases), len(rules) + 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.5 * n_rows + 0.6),
                             squeeze=False, sharex="col")
    win = m["windows"]
    B = m["section"].get("batch_size")
    for bi, base in enumerate(bases):
        top = np.nanmean(m["curves"]["test_loss"][:, bi, 0, :, win["transient"][0]]) * 1.05
        lows = []
        for ri, rule in enumerate(rules):
            ax = axes[bi, ri]
            for k, d in enumerate(deltas):
                if not m["defined"][ri, bi, k]:
                    ax.text(0.97, 0.6 - 0.1 * k, f"δ={d:g}: undefined", color=colors[k],
                            transform=ax.transAxes, ha="right", fontsize=7)
                    continue
                te = m["curves"]["test_loss"][ri, bi, k]
                tr = m["curves"]["train_loss"][ri, bi, k]
                ok = ~m["diverged"]["test_loss"][ri, bi, k]
                if not ok.any():
                    continue
                g = m["gaps"].get((rule, base, d, "test_loss", "end"))
                lab = f"δ={d:g}" + (f" (batch {d * B:g})" if B else "")
                if g is not None:
                    lab += f": end gap {_pct(g.mean)}" + ("" if g.in_domain else " *")
                plotting.mean_band(ax, s, te[ok], colors[k], label=lab, lw=1.2)
                ax.plot(s, tr[ok].mean(0), color=colors[k], ls="--", lw=0.8)
                lows.append(np.nanmin(tr[ok].mean(0)))
            ax.axvspan(0, s[win["transient"][-1]], color="0.92", lw=0, zorder=0)
            ax.axvspan(s[win["end"][0]], s[-1], color="#e6f0fa", lw=0, zorder=0)
            ax.legend(loc="upper right", fontsize=6, frameon=False)
            if bi == 0:
                ax.set_title(scaling.RULE_LABELS.get(rule, rule), fontsize=7.5)
            if ri == 0:
                ax.set_ylabel(f"(β1, β2) = ({base[0]:g}, {base[1]:g})\nloss (nats)")
            if bi == n_rows - 1:
                ax.set_xlabel("sequences seen")
        for ri in range(len(rules)):
            if lows and np.isfinite(top):
                axes[bi, ri].set_ylim(min(lows) * 0.97, top)
        _gap_panel(axes[bi, -1], m, base, a)
    axes[0, -1].set_title("end gap, held-out loss\n(○: outside the rule's domain)", fontsize=7.5)
    meta = m["meta"]
    fig.suptitle(
        f"AdamW batch-size scaling on a byte-level causal Transformer LM "
        f"({meta.get('n_params', '?')} parameters; corpus: standard-library docstrings, sha256 "
        f"{str(meta.get('corpus_sha256', '?'))[:12]}), base batch B = {B} sequences\n"
        f"solid: held-out loss (mean ± 2 s.e. over {m['runs']} runs), dashed: training loss; "
        f"grey: transient window, blue: end window; *: outside the rule's domain", fontsize=9)
    fig.tight_layout()
    return fig


def _gap_panel(ax, m, base, a):
    """End gaps (held-out) with 95% intervals per rule (x: delta, offset per rule)."""
    import matplotlib.pyplot as plt

    rule_colors = plt.get_cmap("tab10")
    ds = m["deltas"][1:]
    tol = a["tolerance_end"]
    ax.axhspan(-100 * tol, 100 * tol, color="#dff0d8", lw=0, zorder=0)
    ax.axhline(0, color="0.5", lw=0.6)
    for ri, rule in enumerate(m["rules"]):
        for j, d in enumerate(ds):
            g = m["gaps"].get((rule, base, d, "test_loss", "end"))
            if g is None or not np.isfinite(g.mean):
                continue
            x = j + (ri - (len(m["rules"]) - 1) / 2) * 0.18
            ax.errorbar(x, 100 * g.mean, yerr=100 * 1.96 * g.stderr, fmt="o", ms=4,
                        color=rule_colors(ri), mfc=rule_colors(ri) if g.in_domain else "white",
                        label=RULE_SHORT.get(rule, rule) if j == 0 else None, capsize=2)
    ax.set_xticks(range(len(ds)), [f"δ={d:g}" for d in ds])
    ax.set_ylabel("gap to δ = 1 (%)")
    ax.legend(fontsize=6, frameon=False, loc="best")
