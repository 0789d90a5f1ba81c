r"""Figure ``scaling_curves``: loss against samples seen at batch :math:`\delta B` under the
scaling rules, for AdamW, RMSpropW and SignSGD on the quadratic (docs/paper.md section 4).

The paper's rule for each optimizer (:data:`PAPER_RULE`; AdamW, RMSpropW: Lemma 3.13 "this
paper"; SignSGD: :math:`\eta\to\sqrt\delta\eta`) claims that, counted in samples, "every time
scale is unchanged, and so are the asymptotic loss and the speed per sample" (docs/paper.md 4),
in the noise-dominated regime. Two separate measurements test the two halves:

* **speed** (``<opt>_<rule>_transient_speed``): the samples the mean loss curve needs to fall
  to ``speed_level`` times the :math:`\delta = 1` plateau, i.e. *during* the transient (the
  loss is flat after a few hundred samples), as a ratio to :math:`\delta = 1` (bootstrap
  standard errors over runs); claimed: within ``1 +/- speed_tolerance`` for every
  :math:`1 < \delta \le` ``claim_max_delta``. Alternative: the other rule of the optimizer
  (Malladi's for AdamW/RMSpropW, the linear rule for SignSGD), measured.
* **plateau** (``<opt>_<rule>_plateau``): the time average over the final ``plateau_fraction``
  of the samples, as a ratio to :math:`\delta = 1`; claimed within ``1 +/- tolerance``;
  alternative: the other rule, measured.

The reference :math:`\delta = 1` is found by value (:func:`adasde.figures.stats.reference_index`).
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts, plotting, scaling, theory
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "scaling_curves"
ORDER = ("adamw", "rmspropw", "signsgd")
PAPER_RULE = {"adamw": "this_paper", "rmspropw": "this_paper", "signsgd": "signsgd"}
OTHER_RULE = {"adamw": "malladi", "rmspropw": "malladi", "signsgd": "sgd_linear"}
DEFAULTS = {"tolerance": 0.05, "speed_tolerance": 0.1, "speed_level": 3.0,
            "claim_max_delta": 8, "plateau_fraction": 0.5, "n_boot": 200}


def load(inputs: dict) -> dict:
    """The artifacts of the optimizers in ``inputs`` (exactly those paths), in :data:`ORDER`:
    ``{"arrays": {opt: arrays}, "metas": {opt: meta}, "config": simulate section}``."""
    arrays, metas = {}, {}
    for opt in ORDER:
        if opt in inputs:
            arrays[opt], metas[opt] = artifacts.load(inputs[opt])
    if not arrays:
        raise ValueError(f"no scaling_curves artifact among inputs {sorted(inputs)}")
    # each job recorded only its own optimizer's list of curves.rules
    return {"arrays": arrays, "metas": metas,
            "config": stats.merged_section(FIGURE, metas, inputs, per="curves.rules")}


def _limit(opt, a, r, k, lam, sigma):
    h = {key: float(a[f"hp_{key}"][r, k]) for key in ("eta", "beta1", "beta2", "theta", "B")}
    if opt == "adamw":
        return theory.adamw_momentum_asymptotic_loss(lam, sigma, h["eta"], h["beta1"],
                                                     h["theta"], h["B"])
    if opt == "rmspropw":
        return theory.adamw_asymptotic_loss(lam, sigma, h["eta"], h["theta"], h["B"])
    return theory.signsgd_asymptotic_loss(lam, sigma, h["eta"], h["B"])


def measure(data: dict, analyse: dict) -> dict:
    """Per optimizer, rule and delta: the plateau (mean, s.e.) and its ratio to delta = 1, the
    samples to reach ``speed_level`` x the delta = 1 plateau of the optimizer's paper rule
    (value, bootstrap s.e.) and its ratio to delta = 1, and the delta = 1 closed-form limit."""
    s = {**DEFAULTS, **(analyse or {})}
    cfg = data["config"]
    out = {"settings": s, "metas": data["metas"], "optimizers": list(data["arrays"]),
           "base": cfg["curves"]["base"], "batch_size": cfg.get("batch_size", 1), "per": {}}
    for opt, a in data["arrays"].items():
        samples = np.asarray(a["samples"], float)
        deltas = np.asarray(a["deltas"], float)
        rules = [str(r) for r in a["rules"]]
        defined = np.asarray(a["defined"], bool)
        loss = np.asarray(a["loss"], float)
        k0 = stats.reference_index(deltas)
        lam, sigma = np.asarray(a["lam"], float), float(cfg["sigma"])
        R, K = defined.shape
        plat = np.full((R, K), np.nan)
        plat_se = np.full((R, K), np.nan)
        for r, k in np.ndindex(R, K):
            if defined[r, k]:
                plat[r, k], plat_se[r, k], _ = stats.plateau(loss[r, k], s["plateau_fraction"])
        # the level: speed_level x the delta = 1 plateau of the paper's rule (else rule 0)
        rp = rules.index(PAPER_RULE[opt]) if PAPER_RULE[opt] in rules else 0
        level = s["speed_level"] * plat[rp, k0]
        hit = np.full((R, K), np.nan)
        hit_se = np.full((R, K), np.nan)
        for r, k in np.ndindex(R, K):
            if defined[r, k]:
                hit[r, k], hit_se[r, k] = stats.hitting_samples_boot(
                    samples, loss[r, k], level, n_boot=s["n_boot"], seed=1000 * r + k)
        ratio = {}
        for name, v, e in (("plateau", plat, plat_se), ("speed", hit, hit_se)):
            ref = v[:, k0:k0 + 1]
            rr = v / ref
            se = stats.ratio_stderr(v, e, ref, e[:, k0:k0 + 1])
            se[:, k0] = 0.0
            ratio[name] = (rr, se)
        limit = np.full((R, K), np.nan)
        for r, k in np.ndindex(R, K):
            if defined[r, k]:
                limit[r, k] = _limit(opt, a, r, k, lam, sigma)
        nd = stats.diverged(loss.reshape(-1, loss.shape[-1])).reshape(loss.shape[:-1])
        out["per"][opt] = {
            "samples": samples, "deltas": deltas, "rules": rules, "defined": defined, "k0": k0,
            "loss": loss, "plateau": plat, "plateau_se": plat_se, "level": level,
            "hit": hit, "hit_se": hit_se, "ratio": ratio, "limit": limit,
            "diverged": np.where(defined, nd.sum(-1), 0), "runs": int(loss.shape[2]),
            "hp": {key: np.asarray(a[f"hp_{key}"], float) for key in scaling.HP_KEYS},
        }
    return out


def _claimed(p, s, r):
    return [k for k in range(len(p["deltas"])) if k != p["k0"] and p["defined"][r, k]
            and p["deltas"][k] <= s["claim_max_delta"]]


def _txt(p, name, r):
    rr, se = p["ratio"][name]
    parts = []
    for k, d in enumerate(p["deltas"]):
        if k == p["k0"]:
            continue
        if not p["defined"][r, k]:
            parts.append(f"δ={d:g}: undefined")
        else:
            parts.append(f"δ={d:g}: {rr[r, k]:.3f} ± {se[r, k]:.2g}")
    return ", ".join(parts)


def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """Per optimizer, under its paper rule: transient speed and plateau (module docstring)."""
    s = m["settings"] if analyse is None else {**DEFAULTS, **analyse}
    out = []
    for opt in m["optimizers"]:
        p = m["per"][opt]
        rule, other = PAPER_RULE[opt], OTHER_RULE[opt]
        if rule not in p["rules"]:
            continue
        r = p["rules"].index(rule)
        ks = _claimed(p, s, r)
        ro = p["rules"].index(other) if other in p["rules"] else None
        label = plotting.OPTIMIZER_LABELS[opt]
        for name, tol in (("speed", s["speed_tolerance"]), ("plateau", s["tolerance"])):
            rr, se = p["ratio"][name]
            if ks:
                b = stats.decisive(rr[r, ks], se[r, ks], 1 - tol, 1 + tol)
                k = ks[b]
                meas, err, at = rr[r, k], se[r, k], p["deltas"][k]
            else:
                meas, err, at = None, None, float("nan")
            alt_name, alt_v = "", None
            if ro is not None:
                ko = _claimed(p, s, ro)
                if ko:
                    v = rr[ro, ko]
                    alt_v = float(v[np.argmax(np.abs(v - 1))])
                    alt_name = {"malladi": "Malladi's rule",
                                "sgd_linear": "the linear rule eta -> delta*eta"}[other] + " (measured)"
            note = f"{rule}: {_txt(p, name, r)}"
            if ro is not None:
                note += f"; {other}: {_txt(p, name, ro)}"
            if name == "speed":
                note += (f"; level = {s['speed_level']:g} x the delta = 1 plateau = "
                         f"{p['level']:.4g}; samples to reach it at delta = 1: "
                         f"{p['hit'][r, p['k0']]:.1f} ± {p['hit_se'][r, p['k0']]:.2g} (bootstrap "
                         "over runs); larger deltas reported, not claimed")
                what = (f"the samples needed to reach {s['speed_level']:g} x the delta = 1 "
                        f"plateau (speed per sample during the transient)")
            else:
                what = "the asymptotic loss (plateau)"
            out.append(Claim(
                figure=FIGURE, id=f"{opt}_{rule}_{'transient_speed' if name == 'speed' else name}",
                statement=f"{label} on the quadratic: under the rule '{rule}' {what} stays within "
                          f"{100 * tol:g}% of its delta = 1 value for every delta <= "
                          f"{s['claim_max_delta']:g} (decisive delta = {at:g})",
                measured=meas, predicted=1.0, tolerance=tol, comparison="absolute", stderr=err,
                alternative=alt_name, alternative_value=alt_v, runs=p["runs"], note=note))
    return out


def gap_table(m: dict):
    """Speed and plateau ratios of every optimizer, rule and delta as a DataFrame."""
    import pandas as pd

    rows = []
    for opt in m["optimizers"]:
        p = m["per"][opt]
        for r, rule in enumerate(p["rules"]):
            for k, d in enumerate(p["deltas"]):
                rows.append(dict(optimizer=opt, rule=rule, delta=d,
                                 defined=bool(p["defined"][r, k]),
                                 samples_to_level=p["hit"][r, k],
                                 samples_to_level_se=p["hit_se"][r, k],
                                 speed_ratio=p["ratio"]["speed"][0][r, k],
                                 speed_ratio_se=p["ratio"]["speed"][1][r, k],
                                 plateau=p["plateau"][r, k],
                                 plateau_ratio=p["ratio"]["plateau"][0][r, k],
                                 plateau_ratio_se=p["ratio"]["plateau"][1][r, k]))
    return pd.DataFrame(rows)


def plot(m: dict):
    """One row per optimizer, one panel per rule: mean loss (+/- 2 s.e.) against samples seen
    for every delta, the speed level (dashed) and the delta = 1 closed-form limit (dotted)."""
    import matplotlib.pyplot as plt

    opts = m["optimizers"]
    ncol = max(len(m["per"][o]["rules"]) for o in opts)
    fig, axes = plt.subplots(len(opts), ncol, figsize=(3.6 * ncol, 2.9 * len(opts)),
                             sharex=True, squeeze=False)
    for row, opt in enumerate(opts):
        p = m["per"][opt]
        x = p["samples"]
        colors = plotting.level_colors(len(p["deltas"]), "plasma")
        order = np.argsort(p["deltas"])
        for r, rule in enumerate(p["rules"]):
            ax = axes[row, r]
            for k in order:
                d = p["deltas"][k]
                if not p["defined"][r, k]:
                    ax.text(0.98, 0.9 - 0.08 * k, f"δ={d:g}: undefined", transform=ax.transAxes,
                            ha="right", fontsize=6.5, color=colors[k])
                    continue
                runs = p["loss"][r, k]
                ok = ~stats.diverged(runs)
                plotting.mean_band(ax, x[1:], runs[ok][:, 1:], colors[k], label=f"δ = {d:g}",
                                   lw=1.2)
            if p["defined"][r, p["k0"]]:
                ax.axhline(p["limit"][r, p["k0"]], color="k", ls=":", lw=1.0)
            ax.axhline(p["level"], color="0.4", ls="--", lw=0.8)
            rr, _ = p["ratio"]["speed"]
            rp, _ = p["ratio"]["plateau"]
            txt = [f"δ={p['deltas'][k]:g}: speed {rr[r, k]:.2f}, plateau {rp[r, k]:.2f}"
                   for k in order if k != p["k0"] and p["defined"][r, k]]
            ax.text(0.98, 0.97, "\n".join(txt), transform=ax.transAxes, ha="right", va="top",
                    fontsize=6.5, bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.85))
            ax.set_yscale("log")
            ax.set_xscale("log")
            ax.set_title(f"{plotting.OPTIMIZER_LABELS[opt]}: {scaling.RULE_LABELS[rule]}",
                         fontsize=8)
            if row == len(opts) - 1:
                ax.set_xlabel("samples seen (iterations × batch size)")
            if r == 0:
                ax.set_ylabel(r"$f(x) - f^*$")
        for r in range(len(p["rules"]), ncol):
            axes[row, r].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="k", ls=":"), plt.Line2D([], [], color="0.4", ls="--")]
    labels += ["closed-form asymptotic loss (δ = 1)",
               f"speed level ({m['settings']['speed_level']:g} × δ = 1 plateau)"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Loss against samples seen, base (β1, β2) = ({m['base']['beta1']:g}, "
                 f"{m['base']['beta2']:g}), B = {m['batch_size']} → δB (quadratic, docs/paper.md 4); "
                 "speed/plateau: ratio to δ = 1", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig
