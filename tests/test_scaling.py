"""Batch-size scaling rules (adasde.scaling): the formulas, their inverses, what they preserve
(closed forms, and one Monte-Carlo check of the finite-momentum closed form), undefined betas
reported rather than raised, and the scaling experiments' handling of undefined grid points."""

import copy
import tempfile

import numpy as np
import pytest

from adasde import artifacts, scaling, theory
from adasde import config as adasde_config
from adasde.experiments import quadratic
from adasde.experiments import scaling as scaling_exp
from tests.conftest import ROOT

BASE = {"eta": 0.01, "beta1": 0.95, "beta2": 0.975, "eps": 1e-8, "theta": 0.7, "B": 4.0}
LAM = np.linspace(0.5, 2.0, 8)
SIGMA = np.linspace(0.3, 3.0, 8)  # anisotropic per-sample noise std


@pytest.mark.parametrize("rule", list(scaling.RULES))
@pytest.mark.parametrize("delta", [0.25, 2.0, 8.0, 16.0, 100.0])
def test_delta_then_inverse_returns_the_base(rule, delta):
    f = scaling.get(rule)
    there = f(BASE, delta)
    back = f(there, 1.0 / delta)
    assert set(back) == set(BASE)
    for k in BASE:
        assert back[k] == pytest.approx(BASE[k], rel=1e-12, abs=1e-15), k


def test_rule_formulas_at_delta_4():
    d = 4.0
    hp = scaling.this_paper(BASE, d)
    assert hp["eta"] == pytest.approx(2 * BASE["eta"])
    assert 1 - hp["beta1"] == pytest.approx(4 * (1 - BASE["beta1"]))
    assert 1 - hp["beta2"] == pytest.approx(4 * (1 - BASE["beta2"]))
    assert hp["eps"] == pytest.approx(BASE["eps"] / 2)
    assert hp["theta"] == pytest.approx(2 * BASE["theta"])
    assert hp["B"] == pytest.approx(4 * BASE["B"])
    m = scaling.malladi(BASE, d)
    assert m["theta"] == BASE["theta"]
    assert {k: m[k] for k in m if k != "theta"} == pytest.approx(
        {k: hp[k] for k in hp if k != "theta"})
    alt = scaling.alternative(BASE, d)
    assert 1 - alt["beta1"] == pytest.approx(2 * (1 - BASE["beta1"]))
    assert 1 - alt["beta2"] == pytest.approx(2 * (1 - BASE["beta2"]))
    assert alt["theta"] == pytest.approx(2 * BASE["theta"])
    sign = scaling.signsgd(BASE, d)
    assert sign["eta"] == pytest.approx(2 * BASE["eta"])
    assert {k: sign[k] for k in ("beta1", "beta2", "eps", "theta")} == {
        k: BASE[k] for k in ("beta1", "beta2", "eps", "theta")}
    lin = scaling.sgd_linear(BASE, d)
    assert lin["eta"] == pytest.approx(4 * BASE["eta"]) and lin["B"] == pytest.approx(16.0)


def test_rules_are_pure_and_keep_missing_keys_missing():
    base = {"eta": 0.1, "beta2": 0.9, "B": 2}
    before = copy.deepcopy(base)
    out = scaling.this_paper(base, 3.0)
    assert base == before
    assert set(out) == {"eta", "beta2", "B"}
    assert all(isinstance(v, float) for v in out.values())


def test_rules_work_elementwise_on_arrays():
    b1 = np.array([0.9, 0.95, 0.975])
    out = scaling.this_paper({**BASE, "beta1": b1}, np.array([[1.0], [16.0]]))
    assert out["beta1"].shape == (2, 3)
    np.testing.assert_allclose(out["beta1"][1], [-0.6, 0.2, 0.6])
    mask = scaling.defined_mask(out)
    assert mask.tolist() == [[True, True, True], [False, True, True]]


@pytest.mark.parametrize("delta", [2.0, 4.0, 8.0, 16.0, 0.5])
def test_closed_form_asymptotic_loss_is_invariant_under_this_papers_rule(delta):
    """(eta/4) sum lam s/(lam + theta s), s = sigma/sqrt(B), and its finite-momentum form are
    unchanged by (eta, theta, rho_1, B) -> (sqrt(d) eta, sqrt(d) theta, sqrt(d) rho_1, d B)."""
    new = scaling.this_paper(BASE, delta)
    l0 = theory.adamw_asymptotic_loss(LAM, SIGMA, BASE["eta"], BASE["theta"], BASE["B"])
    l1 = theory.adamw_asymptotic_loss(LAM, SIGMA, new["eta"], new["theta"], new["B"])
    assert l1 == pytest.approx(l0, rel=1e-12)
    m0 = theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, BASE["eta"], BASE["beta1"],
                                               BASE["theta"], BASE["B"])
    m1 = theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, new["eta"], new["beta1"],
                                               new["theta"], new["B"])
    assert m1 == pytest.approx(m0, rel=1e-12)


def test_other_rules_are_not_invariant_and_move_the_right_way():
    def loss(hp):
        return theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, hp["eta"], hp["beta1"],
                                                     hp["theta"], hp["B"])

    l0 = loss(BASE)
    # Malladi keeps theta: less decay per sample, the loss rises towards Adam's.
    assert loss(scaling.malladi(BASE, 4.0)) > 1.1 * l0
    # The alternative reading keeps rho_1 while theta grows: rho/(rho + theta) falls.
    assert loss(scaling.alternative(BASE, 4.0)) < 0.95 * l0
    # Without weight decay Adam's closed form is invariant under Malladi's rule too.
    adam0 = theory.adam_asymptotic_loss(LAM, SIGMA, BASE["eta"], BASE["B"])
    m = scaling.malladi(BASE, 4.0)
    assert theory.adam_asymptotic_loss(LAM, SIGMA, m["eta"], m["B"]) == pytest.approx(adam0)


def test_momentum_closed_form_limits():
    lc57 = theory.adamw_asymptotic_loss(LAM, SIGMA, 0.01, 0.7)
    # rho_1 -> infinity (beta1 -> 1 - large*eta) recovers Lemma C.57; theta = 0 is exact Adam.
    assert theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, 1e-6, 0.5, 0.7) * 1e4 == \
        pytest.approx(theory.adamw_asymptotic_loss(LAM, SIGMA, 1e-6, 0.7) * 1e4, rel=1e-5)
    assert theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, 0.01, 0.975, 0.0) == \
        pytest.approx(theory.adam_asymptotic_loss(LAM, SIGMA, 0.01))
    rho = 0.025 / 0.01
    assert theory.adamw_momentum_asymptotic_loss(LAM, SIGMA, 0.01, 0.975, 0.7) == \
        pytest.approx(lc57 * rho / (rho + 0.7))


def test_undefined_betas_are_reported_not_raised():
    s = scaling.scale("this_paper", {**BASE, "beta1": 0.9}, 16)
    assert not s.defined
    assert "beta1" in s.reason and "outside (0, 1)" in s.reason
    assert s.hp["beta1"] == pytest.approx(-0.6)
    assert scaling.undefined(s.hp) == ["beta1"]
    # beta exactly 0 is outside the open interval too
    s = scaling.scale("malladi", {"eta": 0.01, "beta2": 0.95}, 20)
    assert not s.defined and scaling.undefined(s.hp) == ["beta2"]
    s = scaling.scale("alternative", {**BASE, "beta1": 0.9}, 16)
    assert s.defined and s.reason == ""


def test_bad_rule_or_delta_raise_with_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: this_paper, malladi"):
        scaling.scale("sqrt", BASE, 2)
    with pytest.raises(ValueError, match="delta must be positive"):
        scaling.scale("this_paper", BASE, 0)


# ------------------------------------------------------------------- experiments


def small_config():
    cfg = {
        "seed": 3,
        "scaling": {
            "problem": {"d": 3, "lambda_min": 0.5, "lambda_max": 2.0},
            "sigma": 1.0,
            "base": {"eta": 0.01, "theta": 1.0},
            "grid": {"beta1": [0.9, 0.975], "beta2": [0.95], "deltas": [1, 16],
                     "rules": ["this_paper", "alternative"], "iterations": 40,
                     "save_every": 20, "runs": 2},
            "curves": {"base": {"beta1": 0.9, "beta2": 0.95}, "deltas": [1, 16],
                       "samples": 64, "save_samples": 16, "runs": 2,
                       "rules": {"adamw": ["this_paper", "alternative"],
                                 "signsgd": ["signsgd"]}},
        },
    }
    schema = adasde_config.yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    sub = {"$schema": schema["$schema"], "definitions": schema["definitions"],
           "$ref": "#/definitions/scaling/properties/simulate"}
    errors = list(adasde_config._Validator(sub).iter_errors(cfg["scaling"]))
    assert not errors, errors
    return cfg


def test_scale_grid_is_scale_at_every_point_in_axis_order():
    """The one grid expansion of the scaling figures: point (i, j) of axes (rules, deltas) is
    ``scale(rules[i], base, deltas[j])``, its keys outside ``keys`` NaN, undefined points with
    their reason."""
    rules, deltas = ["this_paper", "malladi", "alternative"], [0.5, 4.0, 64.0]
    hp, defined, reasons = scaling.scale_grid((rules, deltas), lambda r, d: (r, BASE, d),
                                              keys=("eta", "beta2"))
    assert defined.shape == reasons.shape == (3, 3) and set(hp) == set(scaling.HP_KEYS)
    for (i, r), (j, d) in ((a, b) for a in enumerate(rules) for b in enumerate(deltas)):
        s = scaling.scale(r, BASE, d)
        assert hp["eta"][i, j] == s.hp["eta"] and hp["beta2"][i, j] == s.hp["beta2"]
        assert np.isnan(hp["beta1"][i, j]) and np.isnan(hp["theta"][i, j])
        assert defined[i, j] == s.defined and reasons[i, j] == s.reason
    assert not defined.all() and all(reasons[~defined])  # delta = 64 leaves (0, 1) somewhere


def test_grid_points_mark_exactly_the_undefined_points():
    cfg = small_config()
    hp, defined = scaling_exp.grid_points(cfg["scaling"])
    assert defined.shape == (2, 1, 2, 2)
    # only beta1 = 0.9 at delta = 16 under this paper's rule leaves (0, 1)
    expected = np.ones_like(defined)
    expected[0, 0, 1, 0] = False
    np.testing.assert_array_equal(defined, expected)
    assert hp["beta1"][0, 0, 1, 0] == pytest.approx(-0.6)


def test_grid_job_skips_undefined_points_and_records_them(tmp_path):
    cfg = small_config()
    out = tmp_path / "adamw_optim.npz"
    scaling_exp.simulate_grid_job(cfg, "optim", out, log=lambda m: None)
    arrays, meta = artifacts.load(out)
    assert arrays["loss"].shape == (2, 1, 2, 2, 2, 3)
    assert np.all(np.isnan(arrays["loss"][0, 0, 1, 0]))
    assert np.all(np.isfinite(arrays["loss"][arrays["defined"]]))
    assert meta["undefined_points"] == 1
    assert arrays["rules"].tolist() == ["this_paper", "alternative"]


def test_grid_sde_job_adds_the_convergence_pair_with_nan_at_undefined_points(tmp_path):
    cfg = small_config()
    cfg["scaling"]["grid"]["convergence_runs"] = 3
    scaling_exp.simulate_grid_job(cfg, "sde", tmp_path / "sde.npz", log=lambda m: None)
    arrays, meta = artifacts.load(tmp_path / "sde.npz")
    assert meta["sde_substeps"] == 1 and meta["undefined_points"] == 1
    assert meta["wall_time_s"] >= meta["pair_wall_time_s"] > 0
    defined = arrays["defined"]
    for key in ("conv_loss_coarse", "conv_loss_fine"):
        assert arrays[key].shape == (2, 1, 2, 2, 3, 3)
        assert np.all(np.isnan(arrays[key][0, 0, 1, 0]))  # undefined: NaN filled
        assert np.all(np.isfinite(arrays[key][defined]))
    # the pair starts from x0 on the same paths: equal at t = 0, different chains after
    np.testing.assert_array_equal(arrays["conv_loss_coarse"][defined][..., 0],
                                  arrays["conv_loss_fine"][defined][..., 0])
    assert not np.array_equal(arrays["conv_loss_coarse"][defined],
                              arrays["conv_loss_fine"][defined])
    # the optimizer's artifact has no pair
    scaling_exp.simulate_grid_job(cfg, "optim", tmp_path / "optim.npz", log=lambda m: None)
    assert "conv_loss_coarse" not in artifacts.load(tmp_path / "optim.npz")[0]


@pytest.mark.parametrize("substeps", [1, 2])
def test_grid_sde_main_run_is_the_scheme_at_eta_over_substeps(tmp_path, substeps):
    """The main run is quadratic.run at ``substeps`` on the job's key (the pair does not touch
    it): with sde_substeps = 1 the loss array is the one of the job without the pair."""
    cfg = small_config()
    cfg["scaling"]["grid"]["sde_substeps"] = substeps
    cfg["scaling"]["grid"]["convergence_runs"] = 2
    scaling_exp.simulate_grid_job(cfg, "sde", tmp_path / "sde.npz", log=lambda m: None)
    arrays, meta = artifacts.load(tmp_path / "sde.npz")
    assert meta["sde_substeps"] == substeps
    section = cfg["scaling"]
    hp, defined = scaling_exp.grid_points(section)
    idx = np.flatnonzero(defined.ravel())
    flat = {k: hp[k].ravel()[idx] for k in quadratic.HP_KEYS}
    g = section["grid"]
    out, _ = quadratic.run(
        scaling_exp.spectrum(section), section["x0"], flat,
        section["sigma"] / np.sqrt(hp["B"].ravel()[idx]),
        quadratic.job_key(cfg["seed"], scaling_exp.GRID_FIGURE, "adamw", "sde"), name="adamw",
        kind="sde", runs=g["runs"], n_saves=g["iterations"] // g["save_every"],
        save_every=g["save_every"], substeps=substeps, log=lambda m: None)
    np.testing.assert_array_equal(arrays["loss"][defined], out["loss"])


def test_curves_job_shares_one_samples_grid(tmp_path):
    cfg = small_config()
    out = tmp_path / "adamw.npz"
    scaling_exp.simulate_curves_job(cfg, "adamw", out, log=lambda m: None)
    arrays, _ = artifacts.load(out)
    np.testing.assert_array_equal(arrays["samples"], [0, 16, 32, 48, 64])
    assert arrays["defined"].tolist() == [[True, False], [True, True]]
    assert np.all(np.isnan(arrays["loss"][0, 1]))
    assert np.all(np.isfinite(arrays["loss"][1]))
    # SignSGD uses eta and B only: its betas are not scaled, so nothing is undefined there
    _, _, hp, defined = scaling_exp.curve_points(cfg["scaling"], "signsgd")
    assert defined.all() and np.isnan(hp["beta1"]).all()
    with pytest.raises(ValueError, match="has no rules"):
        scaling_exp.simulate_curves_job(cfg, "rmspropw", tmp_path / "x.npz")


def test_curves_samples_grid_matches_iterations_times_batch(x64):
    """A run at delta takes samples/(delta*B) steps: with sigma = 0 (deterministic) SignSGD's
    delta = 16 run at eta' = 4 eta must equal 4 base steps of 4*eta per 16 samples."""
    cfg = small_config()
    cfg["scaling"]["sigma"] = 1e-12
    cfg["dtype"] = "float64"
    cfg["scaling"]["x0"] = 1.0
    cfg["scaling"]["batch_size"] = 1
    with tempfile.TemporaryDirectory() as d:
        scaling_exp.simulate_curves_job(cfg, "signsgd", f"{d}/s.npz", log=lambda m: None)
        arrays, _ = artifacts.load(f"{d}/s.npz")
    lam = scaling_exp.spectrum(cfg["scaling"])
    eta = cfg["scaling"]["base"]["eta"]
    for k, delta in enumerate(arrays["deltas"]):
        steps = arrays["samples"] / delta
        x = np.maximum(1.0 - np.sqrt(delta) * eta * steps[:, None], 0.0)  # sign descent from 1
        np.testing.assert_allclose(arrays["loss"][0, k, 0], 0.5 * (lam * x * x).sum(-1),
                                   rtol=1e-9)


@pytest.mark.parametrize("beta1", [0.975])
def test_finite_momentum_closed_form_matches_adamw_monte_carlo(beta1):
    """AdamW's plateau on the quadratic against (eta/4) sum lam s/(lam+theta s) * rho/(rho+theta):
    within 3% (the O(eta) bias of a leading-order form) plus 3 standard errors. Lemma C.57's form
    without the factor is ~29% off here, so the check discriminates."""
    lam = np.linspace(0.5, 2.0, 8)
    hp = {"eta": 0.01, "beta1": beta1, "beta2": 0.9875, "eps": 0.0, "theta": 1.0}
    out, _ = quadratic.run(lam, 1.0, hp, np.array([1.0]), quadratic.job_key(0, "test_scaling"),
                           name="adamw", kind="optim", runs=64, n_saves=60, save_every=100,
                           log=lambda m: None)
    per_run = out["loss"][0, :, 31:].mean(-1)
    mean, se = per_run.mean(), per_run.std(ddof=1) / np.sqrt(per_run.size)
    pred = theory.adamw_momentum_asymptotic_loss(lam, 1.0, hp["eta"], beta1, hp["theta"])
    assert abs(mean - pred) <= 0.03 * pred + 3 * se, (mean, se, pred)
    lc57 = theory.adamw_asymptotic_loss(lam, 1.0, hp["eta"], hp["theta"])
    assert abs(mean - lc57) > 0.1 * lc57


@pytest.mark.parametrize("section,mutate,needle", [
    ("scaling", lambda s: s["grid"].update(deltas=[2, 4]), "scaling.simulate.grid.deltas"),
    ("scaling", lambda s: s["curves"].update(save_samples=2),
     "scaling.simulate.curves.save_samples"),
    ("scaling", lambda s: s["curves"].update(samples=100), "scaling.simulate.curves.samples"),
    ("scaling_mlp", lambda s: s.update(deltas=[4, 16]), "scaling_mlp.simulate.deltas"),
])
def test_config_cross_key_checks(section, mutate, needle):
    cfg = adasde_config.load(ROOT / "config/smoke.yaml", ROOT / "config/schema.yaml")
    mutate(cfg[section]["simulate"])
    with pytest.raises(adasde_config.ConfigError, match=needle.replace(".", r"\.")):
        adasde_config.validate(cfg, ROOT / "config/schema.yaml")


def test_every_rule_in_schema_exists():
    schema = adasde_config.yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    assert schema["definitions"]["scaling_rule"]["enum"] == list(scaling.RULES)
    assert set(scaling.RULE_LABELS) == set(scaling.RULES)
