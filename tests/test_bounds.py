"""Bounds figure: Theorem 1/2 closed forms and the bound without linearisation, the Phase-3
and worst-excess statistics, the saved iterates of quadratic.simulate, Monte-Carlo oracles
(exact discrete SGD mean; SignSGD against Theorem 2 and the erf bound on H = lambda I), and the
experiment's artifact."""

import copy
import math

import numpy as np
import pytest
from scipy.special import erf

from adasde import artifacts, theory
from adasde import config as C
from adasde.experiments import bounds, quadratic
from adasde.figures import bounds as fb

SCHEMA = "config/schema.yaml"


# ------------------------------------------------------------------ closed forms
def test_erf_bound_reduces_to_theorem_2_and_is_looser_at_ymax_1():
    t = np.linspace(0, 20, 7)
    args = (t, 5.0, 0.5, 2.0, 8, 1.5, 0.01, 4.0)
    np.testing.assert_allclose(theory.signsgd_bound_erf(*args, y_max=1e-6),
                               theory.signsgd_bound(*args), rtol=1e-9)
    lim_thm2 = theory.signsgd_bound(np.inf, 0.0, *args[2:])
    lim_erf = theory.signsgd_bound_erf(np.inf, 0.0, *args[2:], y_max=1.0)
    factor = 2 / (math.sqrt(math.pi) * math.erf(1.0))  # 1.34
    np.testing.assert_allclose(lim_erf / lim_thm2, factor, rtol=1e-12)
    # decay rate: (f0 e^{-rt}) with limit 0 -> log ratio gives r
    r_thm2 = -np.log(theory.signsgd_bound(1.0, 1.0, 0.5, 2.0, 8, 1.5, 0.0, 4.0))
    r_erf = -np.log(theory.signsgd_bound_erf(1.0, 1.0, 0.5, 2.0, 8, 1.5, 0.0, 4.0))
    np.testing.assert_allclose(r_thm2, 2 * 0.5 * math.sqrt(2 / math.pi) * 2 / 1.5, rtol=1e-12)
    np.testing.assert_allclose(r_erf / r_thm2, 1 / factor, rtol=1e-12)


def test_erf_bound_inequality_holds_pathwise_where_the_linearisation_fails():
    """x erf(Y) >= erf(1) x Y for |Y| <= 1 (Y = lam x/(sqrt2 s)), the step of the erf bound;
    the linearised (2/sqrt(pi)) x Y over-estimates x erf(Y) everywhere but at 0."""
    y = np.linspace(-1, 1, 2001)
    y = y[y != 0]
    assert np.all(y * erf(y) >= math.erf(1.0) * y * y - 1e-15)
    assert np.all(y * erf(y) < 2 / math.sqrt(math.pi) * y * y)


# ------------------------------------------------------------------ per-path Phase-3 entry
def test_entry_index_is_the_first_saved_time_inside_per_path():
    inside = np.array([[False, True, True, False],   # enters at 1, leaves again at 3
                       [False, False, False, True],  # enters at 3
                       [False, False, False, False],  # never
                       [True, True, True, True]])
    first, reexit = bounds.entry_index(inside)
    np.testing.assert_array_equal(first, [1, 3, -1, 0])
    np.testing.assert_array_equal(reexit, [True, False, False, False])


def test_saved_iterates_are_consistent_with_the_loss():
    lam = np.array([0.5, 1.0, 2.0])
    out, _ = quadratic.run(lam, 3.0, {"eta": 0.05}, np.array([0.5, 2.0]),
                           quadratic.job_key(0, "sx"), name="signsgd", kind="sde", runs=4,
                           n_saves=6, save_every=5, save_x=True, log=lambda m: None)
    x = out["x"].astype(float)
    assert x.shape == (2, 4, 7, 3)
    np.testing.assert_allclose(out["loss"], 0.5 * np.sum(lam * x * x, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(x[:, :, 0], 3.0)
    np.testing.assert_allclose(x[:, :, -1], out["x_final"])


# ------------------------------------------------------------------ Monte-Carlo oracles
def test_sgd_mean_loss_is_the_exact_discrete_curve_above_theorem_1_on_the_plateau():
    """On H = lam I the optimizer's E f_k is known exactly; it approaches Theorem 1's limit
    times 1/(1 - eta lam/2) (docs/theory.md), i.e. above the SDE bound."""
    lam, eta, s, x0, d = 1.0, 0.05, 1.0, 2.0, 4
    out, _ = quadratic.run(np.full(d, lam), x0, {"eta": eta}, np.array([s]),
                           quadratic.job_key(2, "sgd_exact"), name="sgd", kind="optim",
                           runs=2048, n_saves=20, save_every=10, log=lambda m: None)
    loss = out["loss"][0].astype(float)
    k = np.arange(21) * 10
    v = theory.sgd_discrete_stationary_variance(lam, s, eta)
    decay = (1 - eta * lam) ** (2 * k)
    exact = d * lam / 2 * (decay * x0**2 + v * (1 - decay))
    mean, se = loss.mean(0), loss.std(0, ddof=1) / np.sqrt(loss.shape[0])
    assert np.all(np.abs(mean[1:] - exact[1:]) < 4 * se[1:])
    bound = theory.sgd_bound(k * eta, d * lam / 2 * x0**2, lam, lam, d, s, eta)
    assert np.all(exact[-3:] > bound[-3:])
    np.testing.assert_allclose(exact[-1] / bound[-1], 1 / (1 - eta * lam / 2), rtol=1e-4)


def test_signsgd_on_isotropic_h_breaks_theorem_2_but_not_the_erf_bound():
    """From the first Phase-3 time, SignSGD's mean on H = lam I exceeds Theorem 2 (restarted
    at t3) by many standard errors, and stays below the bound without linearisation."""
    lam, eta, sigma, x0, d = 1.0, 0.01, 0.5, 3.0, 4
    out, _ = quadratic.run(np.full(d, lam), x0, {"eta": eta}, np.array([sigma]),
                           quadratic.job_key(3, "sign_iso"), name="signsgd", kind="optim",
                           runs=512, n_saves=100, save_every=20, save_x=True,
                           log=lambda m: None)
    loss = out["loss"][0].astype(float)
    x = out["x"][0].astype(float)
    entry, _ = bounds.entry_index(bounds.snr_max(x, np.full(d, lam), sigma) < 1.0)
    assert np.all(entry > 0)
    dt = 20 * eta
    lam_v = np.full(d, lam)
    thm2 = fb.bound_fn("thm2", lam_v, sigma, eta, 1.0, dt)
    erfb = fb.bound_fn("erf", lam_v, sigma, eta, 1.0, dt)
    window = int(round(3 / (fb.rate("thm2", lam_v, sigma, 1.0) * dt)))
    r_thm2 = fb.simultaneous_max(*fb.lagged_excess(loss, entry, thm2, window))
    r_erf = fb.simultaneous_max(*fb.lagged_excess(loss, entry, erfb, window))
    assert r_thm2["interval"][0] > 0, r_thm2  # fails: wholly above Theorem 2
    assert r_erf["interval"][1] < 0, r_erf  # holds: wholly below the erf bound


# ------------------------------------------------------------------ experiment and config
@pytest.fixture
def smoke_cfg():
    return C.load("config/smoke.yaml", SCHEMA)


def test_simulate_job_writes_the_artifact(smoke_cfg, tmp_path):
    sec = copy.deepcopy(smoke_cfg["bounds"]["simulate"])
    sec.update(iterations=60, save_every=20, runs=3)
    cfg = {"seed": smoke_cfg["seed"], "dtype": smoke_cfg["dtype"], "bounds": sec}
    path = tmp_path / "signsgd_optim.npz"
    bounds.simulate_job(cfg, "signsgd", "optim", path, log=lambda m: None)
    arrays, meta = artifacts.load(path)
    G, d = len(sec["sigmas"]) * len(sec["batch_sizes"]), sec["problem"]["d"]
    assert arrays["loss"].shape == (2, G, 3, 4)
    assert arrays["abs_x_mean"].shape == (2, G, 4, d)
    assert arrays["phase3_fraction"].shape == (2, G, 4)
    assert np.all((arrays["phase3_fraction"] >= 0) & (arrays["phase3_fraction"] <= 1))
    assert arrays["phase3_entry"].shape == arrays["phase3_reexit"].shape == (2, G, 3)
    assert "phase3_sde_loss" not in arrays  # only the SignSGD SDE job adds the Phase-3 SDE
    np.testing.assert_allclose(arrays["lam"][1], sec["isotropic_lambda"])
    np.testing.assert_allclose(arrays["times"], np.arange(4) * 20 * 0.01)
    np.testing.assert_allclose(arrays["sigmas"], np.repeat(sec["sigmas"], len(sec["batch_sizes"])))
    # the first saved point is x0 on every coordinate
    np.testing.assert_allclose(arrays["abs_x_mean"][:, :, 0], sec["x0"], rtol=1e-6)
    assert meta["problems"] == ["spectrum", "isotropic"]
    assert "conv_loss_coarse" not in arrays  # only SDE jobs run the coupled dt pair
    path = tmp_path / "signsgd_sde.npz"
    bounds.simulate_job(cfg, "signsgd", "sde", path, log=lambda m: None)
    arrays, meta = artifacts.load(path)
    assert arrays["phase3_sde_loss"].shape == (2, G, 3, 4)
    assert arrays["phase3_sde_entry"].shape == (2, G, 3)
    np.testing.assert_allclose(arrays["phase3_sde_loss"][..., 0], arrays["loss"][..., 0])
    # the coupled (dt, dt/2) pairs of both SDEs: convergence_runs paths from x0
    rc = sec["convergence_runs"]
    for prefix in ("", "phase3_sde_"):
        for chain in ("coarse", "fine"):
            a = arrays[f"{prefix}conv_loss_{chain}"]
            assert a.shape == (2, G, rc, 4)
            np.testing.assert_allclose(a[..., 0], arrays["loss"][:, :, :1, 0].repeat(rc, 2),
                                       rtol=1e-6)
            assert np.all(np.isfinite(a))
    assert meta["convergence_pair_wall_time_s"] > 0
    with pytest.raises(ValueError, match="kind"):
        bounds.simulate_job(cfg, "sgd", "ode", path, log=lambda m: None)


def test_sde_job_main_run_does_not_depend_on_the_pair(smoke_cfg, tmp_path):
    """The coupled pair is extra arrays: its number of paths (convergence_runs) leaves the
    main run's arrays unchanged, and its two chains, on one Brownian path each, differ by the
    discretisation only."""
    sec = copy.deepcopy(smoke_cfg["bounds"]["simulate"])
    sec.update(iterations=60, save_every=20, runs=3, sigmas=[1.0], batch_sizes=[1])
    cfg = {"seed": smoke_cfg["seed"], "dtype": smoke_cfg["dtype"], "bounds": sec}
    out = {}
    for rc in (2, 5):
        cfg["bounds"] = {**sec, "convergence_runs": rc}
        bounds.simulate_job(cfg, "sgd", "sde", tmp_path / f"{rc}.npz", log=lambda m: None)
        out[rc], _ = artifacts.load(tmp_path / f"{rc}.npz")
        assert out[rc]["conv_loss_fine"].shape == (2, 1, rc, 4)
    for k in ("loss", "abs_x_mean", "phase3_fraction", "phase3_entry"):
        np.testing.assert_array_equal(out[2][k], out[5][k])
    c, f = out[5]["conv_loss_coarse"], out[5]["conv_loss_fine"]
    # same Brownian path: the chains differ by the O(dt) discretisation only
    assert np.max(np.abs(c - f) / f) < 0.05
    # sde_substeps = 2 halves the main run's step (and the pair's): different SDE paths
    cfg["bounds"] = {**sec, "convergence_runs": 2, "sde_substeps": 2}
    bounds.simulate_job(cfg, "sgd", "sde", tmp_path / "k2.npz", log=lambda m: None)
    k2, _ = artifacts.load(tmp_path / "k2.npz")
    assert not np.array_equal(k2["loss"], out[2]["loss"])
    assert not np.array_equal(k2["conv_loss_coarse"], out[2]["conv_loss_coarse"])
    np.testing.assert_allclose(k2["loss"].mean(2), out[2]["loss"].mean(2), rtol=0.5)


def test_bounds_config_names_missing_and_bad_keys(smoke_cfg):
    bad = copy.deepcopy(smoke_cfg)
    del bad["bounds"]["simulate"]["isotropic_lambda"]
    bad["bounds"]["simulate"]["batch_sizes"] = [0]
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "isotropic_lambda" in str(e.value) and "bounds.simulate.batch_sizes.0" in str(e.value)
    bad = copy.deepcopy(smoke_cfg)
    del bad["bounds"]["simulate"]["optimizers"]["signsgd"]
    with pytest.raises(C.ConfigError, match="signsgd"):
        C.validate(bad, SCHEMA)
    bad = copy.deepcopy(smoke_cfg)
    bad["bounds"]["analyse"]["window_relaxations"] = 0
    with pytest.raises(C.ConfigError, match="window_relaxations"):
        C.validate(bad, SCHEMA)
