r"""Figures ``sde_tracking_<arch>``: do our SDEs track SignSGD, RMSpropW and AdamW on a neural
network, in the mean *and* in the run-to-run spread, and better than Malladi et al.'s SDEs?

Paper statement (docs/paper.md 5 [V abstract]): "Our SDEs accurately track the behavior of the
respective optimizers, especially when compared to previous SDEs derived for Adam and RMSprop"
(Malladi et al., docs/paper.md 2.5). Setting (docs/paper.md 5 [V reviewer 2]): full-batch
gradient plus injected :math:`N(0, \sigma^2 I)` noise, so the SDEs know :math:`\Sigma`; the
artifact (``adasde.experiments.tracking``) holds, per optimizer, the training loss at the saved
iterations of the optimizer's runs (``loss_<opt>_optim``), of our SDE's Euler-Maruyama paths
(``_sde``, step :math:`\Delta t = \eta/k`, :math:`k` = ``sde_substeps``), of our SDE's drift
without its diffusion (``_ode``, one deterministic path) and, for RMSprop(W)/Adam(W), of Malladi
et al.'s SDE (``_malladi``); and our SDE's coupled convergence pair (``conv_loss_<opt>_coarse``
at :math:`\Delta t`, ``conv_loss_<opt>_fine`` at :math:`\Delta t/2` on the same Brownian
paths).

Three statistics per (optimizer, model), over the saved times :math:`j \ge 1` (at
:math:`t = 0` every run is at :math:`f(x_0)`):

* **mean** (:func:`tracking_error`): :math:`e = \frac1J\sum_j |\bar L^{M}_j - \bar L^{O}_j| /
  \bar L^{O}_j`, bars the means over runs/paths;
* **spread** (:func:`spread_ratio`): the geometric mean over :math:`j` of
  :math:`s^{M}_j / s^{O}_j`, :math:`s_j` the standard deviation of the loss across seeds at
  time :math:`j` (the noise accumulated since the start);
* **noise** (:func:`spread_ratio` with ``increments``): the same for the loss *changes*
  :math:`L_j - L_{j-1}`, the diffusion's contribution over one save interval (a local,
  much tighter measurement of the diffusion's size).

The drift-only ODE has spread and noise ratios 0 by construction; an SDE whose diffusion has
the right size has ratios near 1. This is where the diffusion is tested: the mean of a weak
order-1 SDE and of its drift differ only by terms of order :math:`\eta\sigma^2`, which at the
paper's :math:`\sigma = 0.01` are below any useful tolerance (the mean claims then *cannot
discriminate* the SDE from the ODE; docs/theory.md, "What the tracking figures can and cannot
tell"). Every statistic has a bootstrap 95% interval (runs and paths resampled
independently), which the claims pass as ``interval``.

Claims (per optimizer; :func:`claims`), each with the alternative it must rule out:

* ``<opt>_mean``: :math:`e_{SDE} \le` ``tolerance``; alternative: the ODE's :math:`e_{ODE}`;
* ``<opt>_spread``, ``<opt>_noise``: ratio within ``spread_tolerance`` /
  ``noise_tolerance`` of 1; alternative: the ODE's 0;
* ``<opt>_{mean,spread,noise}_vs_malladi`` (RMSprop(W), Adam(W)): the same measurements, with
  Malladi et al.'s SDE's value as the alternative (where theirs lies inside our band the claim
  is recorded as "cannot discriminate"; their diffusion on :math:`M` is ours for Adam, so
  ``adamw_noise_vs_malladi`` cannot discriminate by construction);
* ``<opt>_sde_converged_dt`` (where the artifact has the pair): the plotted SDE loss curve is
  converged in :math:`\Delta t`. Per coupled path :math:`p`, :func:`relative_loss`
  :math:`q_p = \frac1J\sum_{j\ge1} L_{p,j}/\bar L^{O}_j` (the loss in units of the
  optimizer's mean loss, averaged over the saved times: the quantity whose deviation from 1
  the mean claim bounds); the claim (:func:`adasde.figures.stats.convergence_claim`) is that
  its relative move :math:`\overline{q^{\Delta t}} - \overline{q^{\Delta t/2}}` over
  :math:`\overline{q^{\Delta t/2}}` lies within ``convergence_fraction`` :math:`\times`
  ``tolerance`` (the mean claim's) of 0; alternative: a discretisation error as large as
  ``tolerance``. Only our SDEs have a pair (Malladi's do not: the jobs are the pipeline's most
  expensive).
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts, plotting
from adasde.claims import Claim
from adasde.figures import stats

FIGURE = "sde_tracking"
ORDER = ("sgd", "signsgd", "rmsprop", "rmspropw", "adam", "adamw")
MODELS = ("sde", "ode", "malladi")  # everything compared with the optimizer ("optim")
LABELS = {"optim": "optimizer", "sde": "our SDE", "ode": "drift-only ODE",
          "malladi": "Malladi et al.'s SDE"}
STYLE = {"sde": dict(color="k", ls="--"), "ode": dict(color="#17becf", ls=":"),
         "malladi": dict(color="#7f7f7f", ls="-.")}
DEFAULTS = {"tolerance": 0.1, "spread_tolerance": 0.3, "noise_tolerance": 0.2, "bootstrap": 1000,
            "convergence_fraction": 0.5}


def figure_name(arch: str) -> str:
    return f"{FIGURE}_{arch}"


# ----------------------------------------------------------------------------------- load
def load(inputs: dict) -> dict:
    """The tracking artifact ``inputs["tracking"]``: ``arrays``, ``meta``, ``spec`` (the
    resolved simulate settings of the architecture) and ``optimizers`` in plotting order."""
    arrays, meta = artifacts.load(inputs["tracking"])
    spec = meta["config"]
    optimizers = [o for o in ORDER if o in spec["optimizers"]]
    return {"arrays": arrays, "meta": meta, "spec": spec, "optimizers": optimizers}


# ----------------------------------------------------------------------------- statistics
def _percentile_interval(boot):
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return [float(lo), float(hi)]


def _resample(rng, n_rows: int, n_boot: int):
    return rng.integers(0, n_rows, size=(n_boot, n_rows))


def tracking_error(loss_model, loss_opt, n_boot: int = 1000, seed: int = 0) -> dict:
    r"""Mean relative tracking error of a model (SDE or ODE) against the optimizer.

    ``loss_*`` are (runs, times); time 0 is left out. :math:`e = \frac1J\sum_{j\ge1}
    |\bar L^M_j - \bar L^O_j| / \bar L^O_j`. Its Monte-Carlo error comes from ``n_boot``
    bootstrap resamples of the runs and, independently, of the paths: ``stderr`` (their standard
    deviation) and ``interval``, the basic (bias-corrected) bootstrap interval
    :math:`[2e - q_{97.5}, 2e - q_{2.5}]` clipped at 0. :math:`e` is biased upwards by the
    Monte-Carlo noise (an absolute value, a noisy denominator) and a resample's :math:`e` is
    biased again by about as much, so the plain percentile interval sits too high (coverage
    about 65% in tests/test_figures_sde_tracking.py, against 95% for the basic interval). ``floor`` is
    :math:`\frac1J\sum_j \sqrt{se(\bar L^M_j)^2 + se(\bar L^O_j)^2}/\bar L^O_j`, the size that pure
    Monte-Carlo noise gives :math:`e` (an :math:`e` near it is not resolved). A single-row model
    (the deterministic ODE) contributes no Monte-Carlo error. A non-finite value makes :math:`e`
    infinite (``interval`` None). Returns ``dict(error, stderr, interval, floor, curve)`` with
    ``curve`` the per-time relative error (times 1..J).
    """
    s = np.asarray(loss_model, float)[:, 1:]
    o = np.asarray(loss_opt, float)[:, 1:]
    if not (np.isfinite(s).all() and np.isfinite(o).all()):
        return {"error": np.inf, "stderr": np.nan, "interval": None, "floor": np.nan,
                "curve": np.full(s.shape[1], np.inf)}
    ms, mo = s.mean(axis=0), o.mean(axis=0)
    curve = np.abs(ms - mo) / mo
    rng = np.random.default_rng(seed)
    bs = s[_resample(rng, s.shape[0], n_boot)].mean(axis=1)
    bo = o[_resample(rng, o.shape[0], n_boot)].mean(axis=1)
    boot = (np.abs(bs - bo) / bo).mean(axis=1)
    var_s = s.var(axis=0, ddof=1) / s.shape[0] if s.shape[0] > 1 else 0.0
    se = np.sqrt(var_s + o.var(axis=0, ddof=1) / o.shape[0])
    err = float(curve.mean())
    q_lo, q_hi = _percentile_interval(boot)
    return {"error": err, "stderr": float(boot.std(ddof=1)),
            "interval": [max(0.0, 2 * err - q_hi), max(0.0, 2 * err - q_lo)],
            "floor": float((se / mo).mean()), "curve": curve}


def seed_spread(loss) -> np.ndarray:
    """Standard deviation across seeds (rows) of ``loss`` at each time; a single row (the
    deterministic ODE) has spread 0."""
    loss = np.asarray(loss, float)
    if loss.shape[0] < 2:
        return np.zeros(loss.shape[1:])
    with np.errstate(invalid="ignore"):  # a diverged path gives NaN, reported by the callers
        return loss.std(axis=0, ddof=1)


def _geo_ratio(sp_model, sp_opt, axis=-1):
    """exp(mean_j log(sp_model_j / sp_opt_j)); 0 where the model has no spread."""
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(sp_model) - np.log(sp_opt), axis=axis))


def spread_ratio(loss_model, loss_opt, n_boot: int = 1000, seed: int = 0,
                 increments: bool = False) -> dict:
    r"""Ratio of the across-seed spreads of the loss, model over optimizer.

    With :math:`s_j` the standard deviation across seeds (rows) at saved time :math:`j \ge 1`,
    :math:`R = \exp\big(\frac1J\sum_j \log(s^M_j / s^O_j)\big)`, the geometric mean of the
    per-time ratios (each time counts equally, early small spreads as much as late large
    ones). With ``increments`` the same is computed for the loss *changes* between consecutive
    saved times, :math:`L_j - L_{j-1}`: their spread is the diffusion's contribution over one
    save interval (the drift's contribution to it is of higher order in the interval), and
    different intervals carry nearly independent noise, so this estimate is much tighter than
    the spread of the levels, which accumulates the noise of the whole run.

    :math:`R = 1` when the model's diffusion has the optimizer's size, :math:`R = 0` for the
    drift-only ODE (one deterministic path). The Monte-Carlo error comes from ``n_boot``
    bootstrap resamples of the runs and, independently, of the paths (``stderr``, ``interval``:
    2.5-97.5 percentiles). Non-finite values (or an optimizer without spread) make :math:`R`
    NaN. Returns ``dict(ratio, stderr, interval, spread, spread_opt)`` with the per-time spreads
    (times 1..J).
    """
    s = np.asarray(loss_model, float)
    o = np.asarray(loss_opt, float)
    s, o = (np.diff(s, axis=1), np.diff(o, axis=1)) if increments else (s[:, 1:], o[:, 1:])
    sp_s, sp_o = seed_spread(s), seed_spread(o)
    if not (np.isfinite(s).all() and np.isfinite(o).all()) or not (sp_o > 0).all():
        return {"ratio": np.nan, "stderr": np.nan, "interval": None, "spread": sp_s,
                "spread_opt": sp_o}
    ratio = float(_geo_ratio(sp_s, sp_o))
    rng = np.random.default_rng(seed)
    b_o = o[_resample(rng, o.shape[0], n_boot)].std(axis=1, ddof=1)
    if s.shape[0] < 2:
        b_s = np.zeros_like(b_o)
    else:
        b_s = s[_resample(rng, s.shape[0], n_boot)].std(axis=1, ddof=1)
    with np.errstate(invalid="ignore"):
        boot = _geo_ratio(b_s, b_o, axis=1)
    boot = boot[np.isfinite(boot)]  # a resample of identical optimizer rows has no spread
    return {"ratio": ratio, "stderr": float(boot.std(ddof=1)),
            "interval": _percentile_interval(boot), "spread": sp_s, "spread_opt": sp_o}


def relative_loss(loss, reference) -> np.ndarray:
    r"""Per path (row of ``loss``, times 0..J): :math:`q_p = \frac1J\sum_{j=1}^{J}
    L_{p,j} / \bar L^{ref}_j`, the loss in units of ``reference`` (the optimizer's mean loss
    curve, times 0..J) averaged over the saved times :math:`j \ge 1` (at :math:`t = 0` every
    path is at :math:`f(x_0)`). A non-finite loss gives a non-finite :math:`q_p`. This is the
    per-path quantity behind the convergence claim: a relative move of :math:`\bar q` when
    :math:`\Delta t` halves is the change the mean claim's error :math:`e` would see."""
    loss = np.asarray(loss, float)[:, 1:]
    ref = np.asarray(reference, float)[1:]
    return (loss / ref).mean(axis=1)


def convergence(arrays, opt: str, reference) -> dict | None:
    """The convergence pair of optimizer ``opt``'s SDE in ``arrays`` (None without one):
    per path :func:`relative_loss` at :math:`\\Delta t` (``coarse``) and :math:`\\Delta t/2`
    (``fine``), ``paths``, and ``curve``: the per-time relative move of the mean loss
    :math:`|\\bar L^{\\Delta t}_j - \\bar L^{\\Delta t/2}_j| / \\bar L^{ref}_j`, times 1..J
    (NaN where a path diverged)."""
    kc, kf = f"conv_loss_{opt}_coarse", f"conv_loss_{opt}_fine"
    if kc not in arrays or kf not in arrays:
        return None
    c, f = np.asarray(arrays[kc], float), np.asarray(arrays[kf], float)
    ref = np.asarray(reference, float)
    return {"coarse": relative_loss(c, ref), "fine": relative_loss(f, ref), "paths": c.shape[0],
            "curve": np.abs(c.mean(axis=0) - f.mean(axis=0))[1:] / ref[1:]}


# -------------------------------------------------------------------------------- measure
def measure(data: dict, analyse: dict) -> dict:
    """Per optimizer: the curves (mean and 5-95% band of the loss, across-seed spread) of the
    optimizer and of every model, each model's :func:`tracking_error` and :func:`spread_ratio`
    (levels, ``spread``, and increments, ``noise``) against the optimizer, and diverged-path
    counts, and our SDE's convergence pair (:func:`convergence`, against the optimizer's mean
    loss). ``analyse``: ``tolerance``, ``spread_tolerance``, ``noise_tolerance``,
    ``bootstrap``, ``convergence_fraction`` (defaults :data:`DEFAULTS`)."""
    a = {**DEFAULTS, **(analyse or {})}
    arrays, meta, spec = data["arrays"], data["meta"], data["spec"]
    n_boot = int(a["bootstrap"])
    per_opt = {}
    for opt in data["optimizers"]:
        runs = np.asarray(arrays[f"loss_{opt}_optim"], float)
        entry = {"curves": {"optim": _curves(runs)}, "mean": {}, "spread": {}, "noise": {},
                 "diverged": {}, "rows": {"optim": runs.shape[0]}}
        entry["diverged"]["optim"] = int(stats.diverged(runs).sum())
        for model in MODELS:
            key = f"loss_{opt}_{model}"
            if key not in arrays:
                continue
            paths = np.asarray(arrays[key], float)
            entry["curves"][model] = _curves(paths)
            entry["rows"][model] = paths.shape[0]
            entry["diverged"][model] = int(stats.diverged(paths).sum())
            entry["mean"][model] = tracking_error(paths, runs, n_boot=n_boot, seed=0)
            entry["spread"][model] = spread_ratio(paths, runs, n_boot=n_boot, seed=0)
            entry["noise"][model] = spread_ratio(paths, runs, n_boot=n_boot, seed=0,
                                                 increments=True)
        conv = convergence(arrays, opt, entry["curves"]["optim"]["mean"])
        if conv is not None:
            entry["convergence"] = conv
        per_opt[opt] = entry
    return {
        "figure": meta.get("artifact", "").split("/")[0] or FIGURE,
        "problem": meta.get("problem", "?"), "n_params": meta.get("n_params"),
        "n_train": meta.get("n_train"), "sigma": spec["sigma"], "seeds": spec["seeds"],
        "iterations": np.asarray(arrays["iterations"]), "optimizers": list(data["optimizers"]),
        "weight_decay": {o: spec["optimizers"][o].get("theta", 0.0) for o in data["optimizers"]},
        "tolerance": float(a["tolerance"]), "spread_tolerance": float(a["spread_tolerance"]),
        "noise_tolerance": float(a["noise_tolerance"]),
        "convergence_fraction": float(a["convergence_fraction"]),
        "substeps": int(spec.get("sde_substeps", 1)),
        "convergence_runs_requested": meta.get("convergence_runs_requested"),
        "bootstrap": n_boot, "per_opt": per_opt,
    }


def _curves(loss) -> dict:
    ok = ~stats.diverged(loss)
    good = loss[ok] if ok.any() else loss
    lo, hi = np.quantile(good, [0.05, 0.95], axis=0)
    return {"mean": good.mean(axis=0), "lo": lo, "hi": hi, "spread": seed_spread(good)}


# --------------------------------------------------------------------------------- claims
def claims(m: dict, analyse: dict | None = None) -> list[Claim]:
    """The tracking claims of one architecture (module docstring): per optimizer
    ``<opt>_mean``, ``<opt>_spread`` and ``<opt>_noise`` against the drift-only ODE, and, for
    optimizers with a Malladi et al. SDE, ``<opt>_mean_vs_malladi``,
    ``<opt>_spread_vs_malladi`` and ``<opt>_noise_vs_malladi`` (the same measurements) against
    it; and, where the artifact has our SDE's coupled pair, ``<opt>_sde_converged_dt`` (module
    docstring). ``analyse`` overrides the tolerances recorded in ``m``."""
    a = {k: m[k] for k in ("tolerance", "spread_tolerance", "noise_tolerance")}
    a["convergence_fraction"] = m.get("convergence_fraction", DEFAULTS["convergence_fraction"])
    a.update({k: v for k, v in (analyse or {}).items() if k in a})
    tol = float(a["tolerance"])
    fig, prob = m["figure"], m["problem"]
    ode_name = "drift-only ODE (our SDE without its diffusion)"
    out = []
    for opt in m["optimizers"]:
        e = m["per_opt"][opt]
        if "sde" not in e["mean"]:
            continue
        label = plotting.OPTIMIZER_LABELS.get(opt, opt)
        runs = e["rows"]["optim"]
        ours = e["mean"]["sde"]
        div = f"; {e['diverged']['sde']} SDE paths diverged" if e["diverged"]["sde"] else ""
        mean_stmt = (f"{label}: the mean training loss of our SDE tracks the optimizer's on {prob} "
                     f"(mean relative error over the saved times at most {tol:g})")
        common = {"mean": dict(figure=fig, measured=ours["error"], predicted=0.0, tolerance=tol,
                               comparison="le", stderr=ours["stderr"],
                               interval=ours["interval"], runs=runs)}
        stmts = {"mean": mean_stmt}
        for stat, what in (("spread", "the across-seed spread (std) of our SDE's loss at fixed "
                                      "times"),
                           ("noise", "the across-seed spread (std) of our SDE's loss changes "
                                     "between saved times (the diffusion's local size)")):
            stol = float(a[f"{stat}_tolerance"])
            r = e[stat]["sde"]
            stmts[stat] = (f"{label}: {what} matches the optimizer's on {prob} (geometric-mean "
                           f"ratio over the saved times within {stol:g} of 1)")
            common[stat] = dict(figure=fig, measured=r["ratio"], predicted=1.0, tolerance=stol,
                                comparison="relative", stderr=r["stderr"],
                                interval=r["interval"], runs=runs)
        if "ode" in e["mean"]:
            ode_e = e["mean"]["ode"]["error"]
            out.append(Claim(
                id=f"{opt}_mean", statement=mean_stmt, **common["mean"], alternative=ode_name,
                alternative_value=ode_e,
                note=f"Monte-Carlo floor {ours['floor']:.3g}{div}; the ODE's error is {ode_e:.3g}"
                + ("" if ode_e > tol else ": inside the band, so the mean does not test the "
                   "diffusion (the spread claims do)")))
            for stat in ("spread", "noise"):
                out.append(Claim(
                    id=f"{opt}_{stat}", statement=stmts[stat], **common[stat],
                    alternative=ode_name, alternative_value=e[stat]["ode"]["ratio"],
                    note="the ODE is one deterministic path: no spread" + div))
        if "malladi" in e["mean"]:
            ext = " with our -theta*X extension" if m["weight_decay"].get(opt) else ""
            mal_name = f"Malladi et al.'s SDE{ext}"
            mal_div = (f"; {e['diverged']['malladi']} Malladi paths diverged"
                       if e["diverged"]["malladi"] else "")
            for stat in ("mean", "spread", "noise"):
                mal = e[stat]["malladi"]
                value = mal["error"] if stat == "mean" else mal["ratio"]
                out.append(Claim(
                    id=f"{opt}_{stat}_vs_malladi",
                    statement=stmts[stat] + f", where {mal_name} does not", **common[stat],
                    alternative=mal_name, alternative_value=value,
                    note=f"Malladi's value {value:.3g} ± {mal['stderr']:.2g}" + mal_div + div))
        if "convergence" in e:
            out.append(convergence_claim(m, opt, tol, float(a["convergence_fraction"])))
    return out


def convergence_claim(m: dict, opt: str, tolerance: float, fraction: float) -> Claim:
    """``<opt>_sde_converged_dt``: our SDE's loss relative to the optimizer's mean
    (:func:`relative_loss`, per coupled path) moves by at most ``fraction * tolerance``
    (relative) when :math:`\\Delta t = \\eta/k` halves (:func:`stats.convergence_claim`).
    The note says when the pair ran fewer paths than ``convergence_runs`` asked for."""
    e = m["per_opt"][opt]
    conv = e["convergence"]
    label = plotting.OPTIMIZER_LABELS.get(opt, opt)
    k = m.get("substeps", 1)
    what = (f"{label}: our SDE's training loss on {m['problem']} (per path, in units of the "
            "optimizer's mean loss, averaged over the saved times)")
    claim = stats.convergence_claim(m["figure"], f"{opt}_sde_converged_dt", what,
                                    conv["coarse"], conv["fine"], tolerance=tolerance,
                                    fraction=fraction, relative=True,
                                    dt_label=stats.dt_label(k),
                                    against="SDE-vs-optimizer mean-loss")
    requested = m.get("convergence_runs_requested")
    if requested is not None and requested > conv["paths"]:
        claim.note += (f"; convergence_runs = {requested} clamped to the job's "
                       f"{conv['paths']} seeds")
    return claim


def table(m: dict):
    """One row per (optimizer, model): the mean error and the two spread ratios (levels,
    increments) with their intervals."""
    import pandas as pd

    rows = []
    for opt in m["optimizers"]:
        e = m["per_opt"][opt]
        for model in e["mean"]:
            te, sr, nr = e["mean"][model], e["spread"][model], e["noise"][model]
            rows.append({"optimizer": opt, "model": LABELS[model], "paths": e["rows"][model],
                         "mean error": te["error"], "mean error CI": te["interval"],
                         "MC floor": te["floor"], "spread ratio": sr["ratio"],
                         "spread ratio CI": sr["interval"], "noise ratio": nr["ratio"],
                         "noise ratio CI": nr["interval"], "diverged": e["diverged"][model]})
    return pd.DataFrame(rows)


def timings(data: dict):
    """Compile and run wall time of each simulation (our SDE's ODE path runs with it)."""
    import pandas as pd

    rows = [{"run": k, **v} for k, v in data["meta"].get("timings", {}).items()]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------- plot
def _model_label(m: dict, opt: str, model: str) -> str:
    if model == "malladi" and m["weight_decay"].get(opt):
        return r"Malladi et al. $-\theta X$ (our ext.)"
    return LABELS[model]


def plot(m: dict):
    """Per optimizer (rows): the loss (mean and 5-95% band over seeds) of the optimizer, our SDE,
    the drift-only ODE and Malladi et al.'s SDE; the across-seed spread of the loss at fixed
    times and of its changes between saved times (the ODE's are 0), each with the model's ratio
    R to the optimizer's; and the relative error of the mean with the tolerance, and the
    relative move of our SDE's mean loss when dt halves (the coupled pair) with
    ``convergence_fraction`` x the tolerance."""
    import matplotlib.pyplot as plt

    opts = m["optimizers"]
    it = m["iterations"]
    fig, axes = plt.subplots(len(opts), 4, figsize=(15, 2.9 * len(opts)), sharex=True,
                             squeeze=False)
    for row, opt in zip(axes, opts, strict=True):
        ax, ax_sp, ax_no, ax_err = row
        e = m["per_opt"][opt]
        c = plotting.OPTIMIZER_COLORS.get(opt, "C0")
        name = plotting.OPTIMIZER_LABELS.get(opt, opt)
        cur = e["curves"]["optim"]
        ax.plot(it, cur["mean"], color=c, label=name)
        ax.fill_between(it, cur["lo"], cur["hi"], color=c, alpha=0.2, linewidth=0)
        first = next(iter(e["spread"].values()), None)
        if first is not None:
            ax_sp.plot(it[1:], first["spread_opt"], color=c, label=name)
            ax_no.plot(it[1:], e["noise"][next(iter(e["noise"]))]["spread_opt"], color=c,
                       label=name)
        for model in MODELS:
            if model not in e["curves"]:
                continue
            cm, st = e["curves"][model], STYLE[model]
            lab = _model_label(m, opt, model)
            ax.plot(it, cm["mean"], label=lab, **st)
            if e["rows"][model] > 1:
                ax.fill_between(it, cm["lo"], cm["hi"], color=st["color"], alpha=0.1, linewidth=0)
            for a_, stat in ((ax_sp, "spread"), (ax_no, "noise")):
                r = e[stat][model]
                a_.plot(it[1:], r["spread"], label=f"{lab}: R = {r['ratio']:.3g}", **st)
            te = e["mean"][model]
            curve = np.where(np.isfinite(te["curve"]), te["curve"], np.nan)
            ax_err.plot(it[1:], np.maximum(curve, 1e-6), label=f"{lab}: e = {te['error']:.3g}",
                        **st)
            if e["diverged"][model]:
                ax.annotate(f"{e['diverged'][model]} {model} paths diverged", (0.02, 0.04),
                            xycoords="axes fraction", fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("training loss")
        ax.set_title(name, loc="left")
        ax.legend(loc="upper right", fontsize=7)
        ax_sp.set_title("std across seeds of the loss", loc="left")
        ax_no.set_title("std across seeds of its change per save", loc="left")
        for a_ in (ax_sp, ax_no):
            a_.set_ylim(bottom=0)
            a_.legend(loc="best", fontsize=7)
        if "convergence" in e:
            conv = e["convergence"]
            move = stats.dt_move(conv["coarse"], conv["fine"])["move"]
            ax_err.plot(it[1:], np.maximum(np.nan_to_num(conv["curve"], nan=np.inf), 1e-6),
                        color="m", lw=1.0,
                        label=f"our SDE, dt -> dt/2 ({conv['paths']} paths): move {move:.2g}")
            frac = m.get("convergence_fraction", DEFAULTS["convergence_fraction"])
            ax_err.axhline(frac * m["tolerance"], color="m", ls=":", lw=1.0,
                           label=f"{frac:g} x tolerance")
        ax_err.axhline(m["tolerance"], color="r", ls=":", lw=1.0,
                       label=f"tolerance {m['tolerance']:g}")
        ax_err.set_title("relative error of the mean loss", loc="left")
        ax_err.set_yscale("log")
        ax_err.legend(loc="best", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("iterations")
    k = m.get("substeps", 1)
    dt = r"$\Delta t = \eta$" if k == 1 else rf"$\Delta t = \eta/{k}$"
    fig.suptitle(f"{m['problem']} ({m['n_params']} parameters), $\\sigma$ = {m['sigma']:g}: "
                 f"mean and 5-95% band over {m['seeds']} seeds; SDEs by Euler-Maruyama, "
                 f"{dt}; the drift-only ODE is one deterministic path", fontsize=9)
    fig.tight_layout()
    return fig
