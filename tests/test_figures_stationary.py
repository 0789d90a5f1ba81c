"""adasde.figures.stationary on small synthetic artifacts: every claim kind holds when the
variances follow the corrected (discrete-time) forms, the paper's contradicted forms fail
consistently, and each claim fails when the data follow its alternative."""

from __future__ import annotations

import numpy as np
import pytest

from adasde import artifacts
from adasde.figures import stationary as F

LAM = np.array([0.5, 2.0])
SIGMAS = np.array([0.2, 0.6325, 2.0, 6.325, 20.0])
HP = {"sgd": {"eta": 0.01}, "signsgd": {"eta": 0.01},
      "adam": {"eta": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 0.0},
      "adamw": {"eta": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 0.0, "theta": 1.0}}
SECTION = {"problem": {"d": 2, "lambda_min": 0.5, "lambda_max": 2.0, "spacing": "linear"},
           "x0": 0.0, "batch_size": 1, "sigmas": SIGMAS.tolist(), "iterations": 200,
           "burn_in": 50, "save_every": 10, "runs": 256, "optimizers": HP}
SIG = SIGMAS[:, None] * np.ones(2)
LAMG = np.ones(5)[:, None] * LAM
ANALYSE = {"scatter_sigma": 2.0}


def form(opt, name):
    return F.forms(opt, HP[opt], LAMG, SIG)[name]


def arrays(var, runs=256, rel_noise=0.02, seed=0):
    """Per-run time averages of x^2 around ``var`` (sigma, d), final iterates and losses."""
    rng = np.random.default_rng(seed)
    x2 = var[:, None, :] * (1 + rel_noise * rng.standard_normal((len(SIGMAS), runs, 2)))
    it = np.arange(21) * 10
    loss = np.ones((len(SIGMAS), runs, it.size)) * (0.5 * var @ LAM)[:, None, None]
    return {"x2_mean": x2, "x_mean": np.zeros_like(x2),
            "x_final": np.sqrt(var)[:, None, :] * rng.standard_normal((len(SIGMAS), runs, 2)),
            "loss": loss, "lam": LAM, "sigmas": SIGMAS, "iterations": it,
            "burn_in": np.asarray(50)}


def data(overrides=None, **kw):
    """Every optimizer and kind at its discrete-time form unless ``overrides`` says otherwise."""
    overrides = overrides or {}
    runs = {}
    for i, opt in enumerate(HP):
        for j, kind in enumerate(F.KINDS):
            var = overrides.get((opt, kind), form(opt, f"discrete_{kind}"))
            runs[opt, kind] = arrays(var, seed=10 * i + j, **kw)
    return {"runs": runs, "metas": {}, "section": SECTION}


def run(d, analyse=ANALYSE):
    m = F.measure(d, analyse)
    return m, {r.id: r for r in F.claims(m, analyse)}


def test_variance_estimate():
    x2 = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # (1 sigma, 2 runs, 2 coordinates)
    m, e = F.variance_estimate(x2)
    assert m.tolist() == [[2.0, 3.0]]
    assert e == pytest.approx(np.full((1, 2), np.sqrt(2.0) / np.sqrt(2.0)))


def test_order_eta_coefficient_recovers_a_slope():
    x = np.array([0.01, 0.02, 0.08])
    c, se = F.order_eta_coefficient(1 + 0.4 * x, x, np.full(3, 1e-3))
    assert c == pytest.approx(0.4) and se == pytest.approx(1e-3 / np.sqrt(np.sum(x**2)))


def test_load_reads_exactly_the_inputs(tmp_path):
    d = data()
    inputs = {}
    for opt, kind in (("adamw", "optim"), ("adamw", "sde")):
        p = tmp_path / f"{opt}_{kind}.npz"
        artifacts.save(p, d["runs"][opt, kind], {"config": SECTION, "seed": 3})
        inputs[f"{opt}_{kind}"] = str(p)
    loaded = F.load(inputs)
    assert set(loaded["runs"]) == {("adamw", "optim"), ("adamw", "sde")}
    m, c = run(loaded)  # any subset of optimizers
    assert m["optimizers"] == ["adamw"] and "adamw_optim_var_momentum_sigma2_lam0.5" in c


def test_corrected_data_hold_and_the_paper_forms_fail_at_every_point():
    m, c = run(data())
    for r in c.values():
        if r.role == "paper_form":
            if r.id.startswith("sgd_") or r.id.startswith("adam_optim"):
                continue  # SGD's/Adam's discrete factors: resolved only jointly (below)
            assert r.verdict == "fails" and r.discriminates, (r.id, r.interval, r.band)
            assert c[r.pair].role == "correction" and c[r.pair].pair == r.id
        else:
            assert r.verdict == "holds", (r.id, r.measured, r.interval, r.band)
            assert r.discriminates, r.id
    # AdamW against Lemma C.57: the same verdict at all ten points (the factor is 0.909 at each)
    ids = [k for k in c if k.startswith("adamw_optim_var_sigma")]
    assert len(ids) == 10 and {c[k].verdict for k in ids} == {"fails"}
    assert {c[k.replace("_var_", "_var_momentum_")].verdict for k in ids} == {"holds"}
    # the SignSGD O(eta a) coefficient: docs/paper.md's about -1/2, the discrete about +pi/8
    assert c["signsgd_optim_var_order_eta_paper"].predicted == pytest.approx(-0.48, abs=0.03)
    assert c["signsgd_optim_var_order_eta_discrete"].predicted == pytest.approx(0.40, abs=0.03)
    # joint: the discrete forms hold, the paper forms fail, for every optimizer and kind
    for opt in HP:
        for kind in F.KINDS:
            assert c[f"{opt}_{kind}_var_discrete_joint"].verdict == "holds"
            assert c[f"{opt}_{kind}_var_paper_joint"].verdict == "fails"
    # no standard-error allowance on the caps
    assert c["adamw_optim_var_below_cap_lam0.5"].tolerance == 0.0
    assert len(F.burn_in_table(m)) == 8


def test_paper_form_data_flip_the_pairs():
    _, c = run(data({("adamw", "optim"): form("adamw", "paper"),
                     ("signsgd", "optim"): form("signsgd", "paper"),
                     ("adam", "sde"): form("adam", "paper")}))
    assert c["adamw_optim_var_sigma2_lam2"].verdict == "holds"
    assert c["adamw_optim_var_momentum_sigma2_lam2"].verdict == "fails"
    assert c["signsgd_optim_var_order_eta_paper"].verdict == "holds"
    assert c["signsgd_optim_var_order_eta_discrete"].verdict == "fails"
    assert c["signsgd_optim_var_discrete_joint"].verdict == "fails"
    assert c["adam_sde_var_sigma2_lam2"].verdict == "holds"
    assert c["adam_sde_var_eq2_sigma2_lam2"].verdict == "fails"


def test_claims_fail_at_their_alternatives():
    _, c = run(data({("sgd", "optim"): form("sgd", "adam"),      # sigma-linear SGD
                     ("signsgd", "optim"): form("signsgd", "adam"),  # no sqrt(pi/2)
                     ("adam", "optim"): form("adam", "eq2"),       # at eq. (2)'s value
                     ("adamw", "optim"): form("adamw", "adam")}))  # no weight decay
    assert c["sgd_optim_var_sigma2_lam0.5"].verdict == "fails"
    assert c["sgd_optim_var_slope_lam0.5"].verdict == "fails"
    assert c["signsgd_optim_var_sigma2_lam0.5"].verdict == "fails"
    assert c["adam_optim_var_sigma2_lam0.5"].verdict == "fails"
    assert c["adamw_optim_var_below_cap_lam0.5"].verdict == "fails"
    assert c["adamw_optim_var_slope_lam2"].verdict == "fails"


def test_joint_pair_cannot_discriminate_below_the_monte_carlo_error():
    _, c = run(data(rel_noise=1.0))  # errors far above SGD's 1% discrete-time factor
    for pid in ("sgd_optim_var_paper_joint", "sgd_optim_var_discrete_joint"):
        r = c[pid]
        assert r.verdict == "holds" and not r.discriminates


def test_noisy_data_are_inconclusive():
    _, c = run(data(rel_noise=0.5))
    r = c["adam_optim_var_sigma2_lam0.5"]
    assert r.verdict == "inconclusive" and r.runs_to_settle > 256


def test_plot():
    m, _ = run(data())
    fig = F.plot(m)
    assert len(fig.axes) == 8


def test_convergence_in_dt_of_the_sde_variance():
    """The coupled (dt, dt/2) pair: a coarse chain equal to the fine one up to path noise holds;
    one whose variance is larger by the whole tolerance fails (fraction 0.5)."""
    tol, frac = F.DEFAULTS["tolerance"], F.DEFAULTS["convergence_fraction"]
    d = data()
    rng = np.random.default_rng(5)
    for opt, move in (("sgd", 0.0), ("signsgd", tol)):
        fine = d["runs"][opt, "sde"]["x2_mean"][:, :16]
        coarse = fine * (1 + move + 0.002 * rng.standard_normal(fine.shape))
        d["runs"][opt, "sde"] = {**d["runs"][opt, "sde"], "conv_x2_mean_coarse": coarse,
                                 "conv_x2_mean_fine": fine}
    _, c = run(d)
    for s in SIGMAS:
        for li in LAM:
            ok = c[f"sgd_sde_var_converged_dt_sigma{s:g}_lam{li:g}"]
            bad = c[f"signsgd_sde_var_converged_dt_sigma{s:g}_lam{li:g}"]
            assert ok.verdict == "holds" and ok.discriminates, (ok.interval, ok.band)
            assert bad.verdict == "fails" and bad.band == pytest.approx([-frac * tol, frac * tol])
    assert not any(k.startswith(("adam_sde_var_converged", "adamw_sde_var_converged")) for k in c)
