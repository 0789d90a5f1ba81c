"""Lemma 3.4's phases: the phase-2 constants, the error of each approximation on its own region,
the phase-wise SDE, the SignGD ODE, the Phase-3 transit time, the notebook statistics and the
signsgd_phases job."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import erf

from adasde import artifacts, optim, sdes, theory
from adasde.experiments import signsgd_phases as sp
from adasde.figures import signsgd_phases as fp

REGIONS = {1: (1.5, 8.0), 2: (1.0, 1.5), 3: (0.0, 1.0)}


def test_phase2_constants_make_the_chord_of_erf():
    m, q = theory.signsgd_phase2_constants()
    assert m == pytest.approx(0.24681, abs=1e-5)
    assert q == pytest.approx(0.59589, abs=1e-5)
    # the line passes through erf at both ends of Phase 2
    assert m * 1.0 + q == pytest.approx(math.erf(1.0), abs=1e-14)
    assert m * 1.5 + q == pytest.approx(math.erf(1.5), abs=1e-14)


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_max_error_of_each_approximation_on_its_region(phase):
    lo, hi = REGIONS[phase]
    # dense grid on the region (both signs; the region is |Y| in [lo, hi), hi excluded)
    y = np.linspace(lo, hi, 400001)[:-1]
    y = np.concatenate([y, -y])
    err = np.abs(erf(y) - theory.signsgd_phase_approximation(y, phase))
    closed = theory.signsgd_phase_max_error(phase)
    # the supremum is attained in the region (phases 1, 2) or at its open end (phase 3)
    assert err.max() == pytest.approx(closed, abs=2e-5)
    assert err.max() <= closed + 1e-12
    expected = {1: 1 - math.erf(1.5), 2: 0.018586, 3: 2 / math.sqrt(math.pi) - math.erf(1.0)}
    assert closed == pytest.approx(expected[phase], abs=1e-6)


def test_each_approximation_is_worse_outside_its_region():
    """Sanity of the regions: on another phase's region each approximation errs more than on
    its own (so the phase-wise choice is the better one there)."""
    for p in (1, 2, 3):
        for other in (1, 2, 3):
            if other == p:
                continue
            lo, hi = REGIONS[other]
            y = np.linspace(lo, min(hi, 3.0), 2001)[1:-1]
            err = np.abs(erf(y) - theory.signsgd_phase_approximation(y, p)).max()
            own = np.abs(erf(y) - theory.signsgd_phase_approximation(y, other)).max()
            assert err > own


def test_phase_classification_and_phasewise_drift():
    y = np.array([-2.0, -1.5, -1.2, -1.0, -0.5, 0.0, 0.5, 1.0, 1.2, 1.49, 1.5, 3.0])
    np.testing.assert_array_equal(theory.signsgd_phase(y), [1, 1, 2, 2, 3, 3, 3, 2, 2, 2, 1, 1])
    m, q = theory.signsgd_phase2_constants()
    expected = np.where(np.abs(y) >= 1.5, np.sign(y),
                        np.where(np.abs(y) >= 1.0, m * y + q * np.sign(y),
                                 2 / math.sqrt(math.pi) * y))
    np.testing.assert_allclose(theory.signsgd_phase_approximation(y), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="phase must be 1, 2 or 3"):
        theory.signsgd_phase_approximation(y, 4)
    with pytest.raises(ValueError, match="phase must be 1, 2 or 3"):
        theory.signsgd_phase_max_error(0)


def test_jax_phasewise_drift_matches_numpy(x64):
    y = np.linspace(-3, 3, 6001)
    y = np.concatenate([y, [-1.5, -1.0, 1.0, 1.5]])
    np.testing.assert_allclose(np.asarray(sdes.phasewise_expected_sign(jnp.asarray(y))),
                               theory.signsgd_phase_approximation(y), atol=1e-14)


def test_phasewise_sde_drift_and_diffusion(x64):
    lam = jnp.array([1.0, 1.0, 1.0, 1.0])
    s = 2.0
    eta = 0.01
    sde = sdes.signsgd_phasewise_sde(lambda x: lam * x, eta, s)
    x = jnp.array([5.0, 2.0 * math.sqrt(2) * 1.2, 2.0 * math.sqrt(2) * 0.5, -10.0])
    y = np.asarray(lam * x / (math.sqrt(2) * s))
    a = theory.signsgd_phase_approximation(y)
    np.testing.assert_allclose(np.asarray(sde.drift(0.0, (x,))[0]), -a, atol=1e-14)
    g = np.asarray(sde.diffusion(0.0, (x,))[0])
    np.testing.assert_allclose(g, np.sqrt(eta * np.clip(1 - a * a, 0, None)), atol=1e-14)
    assert g[0] == 0.0 and g[3] == 0.0  # Phase 1: SignGD, no noise
    # the full SDE's drift differs from it by at most the phase-wise maximum error
    full = np.asarray(sdes.signsgd_sde(lambda x: lam * x, eta, s).drift(0.0, (x,))[0])
    assert np.all(np.abs(full - (-a)) <= theory.signsgd_phase_max_error(3) + 1e-12)


def test_signgd_ode_matches_noise_free_signsgd(x64):
    """SignSGD with negligible noise is the Euler scheme of the SignGD ODE: every coordinate
    moves eta per step towards 0, then oscillates within eta of it."""
    lam = jnp.array([0.5, 1.0, 3.0])
    x0 = jnp.array([1.0, -0.6, 0.3])
    eta = 1e-3
    obs, _ = optim.run_optimizer(optim.signsgd(eta), lambda x: lam * x, x0, jax.random.key(0),
                                 sigma=1e-12, n_saves=60, save_every=25,
                                 observe=lambda y: y[0])
    t = np.arange(61) * 25 * eta
    ode = theory.signgd_ode_position(t, np.asarray(x0))
    np.testing.assert_allclose(np.asarray(obs), ode, atol=eta + 1e-9)
    np.testing.assert_allclose(theory.signgd_ode_loss(t, np.asarray(lam), np.asarray(x0)),
                               0.5 * np.sum(np.asarray(lam) * ode**2, axis=1))


def test_phase3_rate_and_transit_time():
    a = theory.signsgd_phase3_rate([1.0, 2.0], 2.0, batch_size=4)
    np.testing.assert_allclose(a, math.sqrt(2 / math.pi) * np.sqrt(4) * np.array([1.0, 2.0]) / 2)
    # transit time of the mean-path ODE dY/dt = -a (sqrt(pi)/2) erf(Y), integrated numerically
    rate = 0.8
    sol = solve_ivp(lambda t, y: -rate * math.sqrt(math.pi) / 2 * erf(y), (0, 20), [1.0],
                    events=lambda t, y: y[0] - 0.1, rtol=1e-10, atol=1e-12)
    assert theory.signsgd_phase3_transit_time(rate, 0.1) == pytest.approx(sol.t_events[0][0],
                                                                          rel=1e-6)
    # slower than the linearised drift from |Y| = 1, equal to it for a window near 0
    assert theory.signsgd_phase3_transit_time(rate, 0.1) > math.log(10) / rate * 1.05
    assert theory.signsgd_phase3_transit_time(rate, 1e-4, 1e-3) == pytest.approx(
        math.log(10) / rate, rel=1e-5)
    with pytest.raises(ValueError, match="0 < y_end < y_start"):
        theory.signsgd_phase3_transit_time(rate, 1.5)


def test_notebook_statistics_on_synthetic_paths():
    t = np.linspace(0, 10, 1001)
    # crossing time interpolates linearly between saved times
    assert fp.crossing_time(t, 10 - t, 2.5) == pytest.approx(7.5)
    assert np.isnan(fp.crossing_time(t, np.ones_like(t), 0.5))
    assert fp.crossing_time(t, np.zeros_like(t), 0.5) == 0.0
    # decay rate and window on noisy exponentials with a known rate
    rng = np.random.default_rng(0)
    runs = 3.0 * np.exp(-1.0 * t) + 0.01 * rng.standard_normal((400, t.size))
    start, stop = fp.phase3_window(t, runs, lam_i=1.0, sigma_eff=1.0, floor_se=5.0)
    assert t[start] == pytest.approx(np.log(3 / np.sqrt(2)), abs=0.02)  # |Y| = 1
    # the mean meets 5 standard errors (0.0025) near t = ln(3 / 0.0025) = 7.09
    assert t[stop] == pytest.approx(np.log(3 / 0.0025), abs=0.5)
    rate, se = fp.jackknife(lambda r: fp.decay_rate(t, r, start, stop), runs)
    assert rate == pytest.approx(1.0, abs=3 * se)
    # jackknife of a mean with n groups is the usual standard error
    x = rng.standard_normal(64)
    _, se = fp.jackknife(np.mean, x, groups=64)
    assert se == pytest.approx(x.std(ddof=1) / 8, rel=1e-10)
    with pytest.raises(ValueError, match="never enters Phase 3"):
        fp.phase3_window(t, np.full((4, t.size), 100.0), 1.0, 1.0)


def _config(**over):
    sec = {"problem": {"d": 2, "lambda_min": 1.0, "lambda_max": 2.0, "spacing": "linear"},
           "x0": 3.0, "sigma": 1.0, "batch_size": 1, "eta": 0.002, "iterations": 2000,
           "save_every": 50, "runs": 16}
    sec.update(over)
    return {"seed": 3, "dtype": "float32", "signsgd_phases": sec}


def test_config_checks_name_the_key():
    def errors(**over):
        return sp.check({"simulate": _config(**over)["signsgd_phases"]})

    e = errors(x0=1.0)
    assert len(e) == 1 and "signsgd_phases.simulate.x0" in e[0] and "Phase 1" in e[0]
    e = errors(problem={"d": 1, "lambda_min": 1.0, "lambda_max": 1.0})
    assert any("signsgd_phases.simulate.problem.d" in m for m in e)
    e = errors(x0=[3.0, 3.0, 3.0])
    assert any("3 values but problem.d is 2" in m for m in e)
    assert errors(x0=[3.0, -4.0]) == []


def test_simulate_job_writes_the_three_kinds(tmp_path):
    cfg = _config()
    for kind in sp.KINDS:
        sp.simulate_job(cfg, kind, tmp_path / f"{kind}.npz", log=lambda m: None)
        arrays, meta = artifacts.load(tmp_path / f"{kind}.npz")
        assert arrays["loss"].shape == (16, 41)
        assert arrays["x"].shape == (16, 41, 2)
        assert np.all(np.isfinite(arrays["loss"]))
        assert meta["kind"] == kind
        # Phase 1 (every coordinate starts at |Y| >= 2.1): the loss follows SignGD early on
        t = arrays["times"]
        ode = theory.signgd_ode_loss(t, arrays["lam"], arrays["x0"])
        early = t <= 0.5
        np.testing.assert_allclose(arrays["loss"].mean(0)[early], ode[early], rtol=0.01)
        if kind == "optim":
            assert not any(k.startswith("conv_") for k in arrays)
            continue
        # the SDE kinds hold the coupled (dt, dt/2) pair on convergence_runs (16) paths
        for chain in ("coarse", "fine"):
            assert arrays[f"conv_loss_{chain}"].shape == (16, 41)
            assert arrays[f"conv_x_{chain}"].shape == (16, 41, 2)
            x = arrays[f"conv_x_{chain}"]
            np.testing.assert_allclose(arrays[f"conv_loss_{chain}"],
                                       0.5 * np.sum(arrays["lam"] * x * x, axis=-1), rtol=1e-5)
        # same Brownian path: the chains differ by far less than the paths among themselves
        d = arrays["conv_x_coarse"] - arrays["conv_x_fine"]
        assert np.abs(d).max() < 0.1 * arrays["conv_x_fine"][:, -1].std()
        assert np.abs(d.mean(0)).max() < 2e-2
        assert not np.array_equal(arrays["conv_x_fine"][:, -1], arrays["x"][:16, -1])
    with pytest.raises(ValueError, match="kind must be one of"):
        sp.simulate_job(cfg, "bogus", tmp_path / "x.npz")


def test_pair_does_not_change_the_main_run_and_substeps_refine_it(tmp_path):
    """The pair is extra arrays: the main run is simulate's output whatever convergence_runs;
    with sde_substeps k the SDE runs at dt = eta/k on the optimizer's saved grid."""
    out = {}
    for name, over in (("a", {}), ("b", {"convergence_runs": 4}), ("k2", {"sde_substeps": 2})):
        sp.simulate_job(_config(**over), "sde", tmp_path / f"{name}.npz", log=lambda m: None)
        out[name] = artifacts.load(tmp_path / f"{name}.npz")[0]
    for k in ("loss", "x", "times"):
        np.testing.assert_array_equal(out["a"][k], out["b"][k])
    assert out["b"]["conv_loss_fine"].shape == (4, 41)
    assert out["k2"]["loss"].shape == (16, 41)
    np.testing.assert_array_equal(out["k2"]["times"], out["a"]["times"])
    with pytest.raises(ValueError, match="SDE kind"):
        sp.simulate_pair(jnp.ones(2), jnp.ones(2), 0.01, 1.0, jax.random.key(0), kind="optim",
                         runs=2, n_saves=2, save_every=2)


def test_substeps_and_the_pair_share_the_saved_grid(x64):
    """With negligible noise the SDE is SignGD (drift -sign, no diffusion), deterministic: the
    run at dt = eta/2 (sde_substeps 2) equals the pair's fine chain at sde_substeps 1, and the
    run at dt = eta its coarse chain, time for time."""
    lam, x0 = jnp.array([1.0, 2.0]), jnp.array([0.3, -0.45])
    kw = dict(kind="sde", runs=2, n_saves=12, save_every=25)
    args = (lam, x0, 1e-3, 1e-9, jax.random.key(1))
    pair = sp.simulate_pair(*args, **kw, substeps=1)
    half = sp.simulate(*args, **kw, substeps=2)
    full = sp.simulate(*args, **kw, substeps=1)
    np.testing.assert_allclose(half["x"], pair["x_fine"], atol=1e-12)
    np.testing.assert_allclose(full["x"], pair["x_coarse"], atol=1e-12)
    np.testing.assert_allclose(pair["loss_fine"], half["loss"], atol=1e-12)
    # and it is the SignGD ODE, which reaches 0 at t = |x0| (then oscillates within dt)
    t = np.arange(13) * 25e-3
    np.testing.assert_allclose(half["x"][0], theory.signgd_ode_position(t, np.asarray(x0)),
                               atol=0.5e-3 + 1e-9)
