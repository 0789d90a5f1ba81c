"""Student-t noise: the SignSGD drift 2F_nu - 1 against Monte Carlo, the polar sampler, the
Student-t stationary variances of SignSGD (leading order and the optimizer's O(eta) factor),
SGD's heavy tails, nu traced under jit, and the heavy_tails job."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from adasde import noise, optim, sdes, theory

NUS = [1.0, 2.0, 3.0, 5.0]


@pytest.mark.parametrize("nu", NUS)
def test_student_t_drift_against_monte_carlo(nu):
    """E[sign(a + T)] estimated from noise.student_t draws equals expected_sign(a, student_t)
    (= 2 F_nu(a) - 1) within 3 binomial standard errors at every a."""
    n = 100_000
    t = np.asarray(noise.student_t(jax.random.key(11), jnp.zeros(n), 1.0, nu), float)
    for a in (0.05, 0.3, 1.0, 2.5):
        mc = np.mean(np.sign(a + t))
        p = np.mean(a + t > 0)
        se = 2 * math.sqrt(p * (1 - p) / n)
        exact = float(sdes.expected_sign(jnp.asarray(a), "student_t", nu))
        assert abs(mc - exact) < 3 * se, (nu, a, mc, exact, se)
        # ... and not the Gaussian erf drift (the test can tell them apart)
        if a == 1.0:
            gauss = float(sdes.expected_sign(jnp.asarray(a), "gaussian"))
            assert abs(mc - gauss) > 3 * se


@pytest.mark.parametrize("nu", [1.0, 1.5, 2.0, 3.0, 5.0, math.inf])
def test_polar_sampler_quantiles(nu):
    n = 200_000
    z = np.asarray(noise.standard_t(jax.random.key(5), nu, (n,)), float)
    probs = np.array([0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99])
    dist = scipy.stats.norm if math.isinf(nu) else scipy.stats.t(nu)
    exact = dist.ppf(probs)
    se = np.sqrt(probs * (1 - probs) / n) / dist.pdf(exact)
    np.testing.assert_array_less(np.abs(np.quantile(z, probs) - exact), 4 * se)
    assert scipy.stats.kstest(z[:50_000], dist.cdf).pvalue > 1e-3
    assert np.all(np.isfinite(z))


def test_polar_sampler_traced_nu_and_float32_extremes():
    f = jax.jit(lambda k, nu: noise.standard_t(k, nu, (1000,)))
    a, b = f(jax.random.key(0), 1.0), f(jax.random.key(0), 2.0)
    assert f._cache_size() == 1
    assert not np.allclose(a, b)
    # the smallest uniform the sampler can draw keeps nu = 1 finite in float32
    w = jnp.float32(2.0**-24)
    assert np.isfinite(np.sqrt(1.0 * np.expm1(-2.0 * np.log(w) / 1.0)))


def test_density_at_zero_and_tail_constant():
    for nu in [0.5, 1.0, 2.0, 3.0, 5.0, 30.0, 1e6]:
        assert theory.student_t_density_at_zero(nu) == pytest.approx(scipy.stats.t.pdf(0, nu),
                                                                     rel=1e-6)
        tt = 1e5
        emp = 2 * scipy.stats.t.sf(tt, nu) * tt**nu if nu < 10 else None
        if emp is not None:
            assert theory.student_t_tail_constant(nu) == pytest.approx(emp, rel=1e-3)
    assert theory.student_t_density_at_zero(1.0) == pytest.approx(1 / math.pi)
    assert theory.student_t_density_at_zero(2.0) == pytest.approx(1 / (2 * math.sqrt(2)))
    assert theory.student_t_density_at_zero(math.inf) == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert theory.student_t_tail_constant(1.0) == pytest.approx(2 / math.pi)
    assert theory.student_t_tail_constant(2.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="nu must be positive"):
        theory.student_t_density_at_zero(0.0)


def test_student_t_stationary_variance_forms():
    lam = np.array([0.5, 1.0, 2.0])
    eta, s = 0.01, 1.5
    # docs/paper.md 3.4 leading order: pi eta s/(4 lam) at nu = 1, eta s/(sqrt 2 lam) at nu = 2
    v1 = theory.signsgd_student_t_stationary_variance(lam, s, eta, 1.0, corrected=False)
    np.testing.assert_allclose(v1, math.pi * eta * s / (4 * lam))
    v2 = theory.signsgd_student_t_stationary_variance(lam, s, eta, 2.0, corrected=False)
    np.testing.assert_allclose(v2, eta * s / (math.sqrt(2) * lam))
    # the Gaussian limit is the existing Gaussian closed form (B = 1), both corrections
    np.testing.assert_allclose(
        theory.signsgd_student_t_stationary_variance(lam, s, eta, math.inf),
        theory.signsgd_stationary_variance(lam, s, eta))
    np.testing.assert_allclose(
        theory.signsgd_student_t_discrete_stationary_variance(lam, s, eta, math.inf),
        theory.signsgd_discrete_stationary_variance(lam, s, eta), rtol=1e-10)
    # the discrete fixed point's O(eta) coefficient is (nu+1)/nu / (16 p(0)^2)
    for nu in (1.0, 2.0, 5.0):
        e = 1e-4
        a = theory.signsgd_phase3_rate(lam, s, nu=nu)
        v = theory.signsgd_student_t_discrete_stationary_variance(lam, s, e, nu)
        coef = (v / (e / (2 * a)) - 1) / (e * a)
        p0 = theory.student_t_density_at_zero(nu)
        np.testing.assert_allclose(coef, (nu + 1) / nu / (16 * p0**2), rtol=1e-3)
    # asymptotic loss: 1/2 sum lam var, eta Tr(Sigma^1/2) / (8 p(0)) at leading order
    loss = theory.signsgd_student_t_asymptotic_loss(lam, s, eta, 1.0, corrected=False)
    assert loss == pytest.approx(eta * s * lam.size / (8 / math.pi))


@pytest.mark.parametrize("nu", [1.0, 2.0, math.inf])
def test_signsgd_discrete_stationary_variance_against_simulation(nu):
    """1-D SignSGD at eta a ~ 0.06-0.08, where the O(eta) factors differ by ~10%: the discrete
    (optimizer) form holds within 3 standard errors plus the closure's neglected O((eta a)^2),
    the continuous Phase-3 form does not."""
    lam, s, eta = 1.0, 1.0, 0.1
    runs, burn, steps = 4000, 200, 2000
    q = jnp.asarray(lam)

    def one(k):
        obs, _ = optim.run_optimizer(optim.signsgd(eta), lambda x: q * x, jnp.zeros(1), k,
                                     sigma=s, n_saves=(burn + steps) // 10, save_every=10,
                                     noise="student_t", nu=nu, observe=lambda y: y[0][0] ** 2)
        return obs

    x2 = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(2), runs)))
    per_run = x2[:, burn // 10 + 1:].mean(axis=1)
    v, se = per_run.mean(), per_run.std(ddof=1) / math.sqrt(runs)
    a = float(theory.signsgd_phase3_rate(lam, s, nu=nu))
    disc = float(theory.signsgd_student_t_discrete_stationary_variance(lam, s, eta, nu))
    cont = float(theory.signsgd_student_t_stationary_variance(lam, s, eta, nu))
    allowance = 3 * se + (eta * a) ** 2 * disc
    assert abs(v - disc) < allowance, (v, disc, se)
    assert abs(v - cont) > allowance, (v, cont, se)


def _sgd_final(nu, lam, eta, runs, steps, key):
    lam = jnp.asarray(lam, jnp.float32)

    def one(k):
        obs, _ = optim.run_optimizer(optim.sgd(eta), lambda x: lam * x, jnp.zeros(lam.size), k,
                                     sigma=1.0, n_saves=1, save_every=steps,
                                     noise="student_t", nu=nu,
                                     observe=lambda y: 0.5 * jnp.sum(lam * y[0] ** 2))
        return obs[-1]

    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(key, runs)), float)


def test_sgd_cauchy_stationary_law_and_t2_tail():
    """SGD's stationary loss: exact Cauchy law (d = 1: the bound is exact; d = 2: a lower bound)
    and the nu = 2 single-big-jump tail (approached from above), within 3 standard errors."""
    eta, runs, steps = 0.05, 40_000, 400  # relaxation 1/(eta lam) = 20 steps
    for lam, key in (([1.0], 0), ([0.5, 2.0], 1)):
        f = _sgd_final(1.0, lam, eta, runs, steps, jax.random.key(key))
        g = theory.sgd_asymptotic_loss(lam, 1.0, eta)
        for c in (10.0, 100.0):
            p = np.mean(f > c * g)
            se = math.sqrt(p * (1 - p) / runs)
            bound = theory.sgd_cauchy_exceedance_lower_bound(lam, 1.0, eta, c * g)
            if len(lam) == 1:
                assert abs(p - bound) < 3 * se, (lam, c, p, bound)
            else:
                assert p > bound - 3 * se and p < 1
    f = _sgd_final(2.0, [1.0], eta, runs, steps, jax.random.key(2))
    g = theory.sgd_asymptotic_loss([1.0], 1.0, eta)
    for c in (100.0, 1000.0):
        p = np.mean(f > c * g)
        se = math.sqrt(p * (1 - p) / runs)
        tail = theory.sgd_student_t_exceedance_tail([1.0], 1.0, eta, 2.0, c * g)
        assert tail == pytest.approx(theory.sgd_discrete_stationary_variance(1.0, 1.0, eta)
                                     / 2 / (c * g))
        assert p > tail - 3 * se
        assert p < 1.5 * tail + 3 * se  # the bulk adds, but less and less: ratio -> 1


def test_sgd_student_t_plateau_closed_form():
    lam = np.array([0.5, 2.0])
    assert theory.sgd_student_t_asymptotic_loss(lam, 1.0, 0.01, 2.0) == math.inf
    assert theory.sgd_student_t_asymptotic_loss(lam, 1.0, 0.01, 1.5) == math.inf
    gauss = theory.sgd_student_t_asymptotic_loss(lam, 1.0, 0.01, math.inf)
    assert gauss == pytest.approx(theory.loss_from_variance(
        lam, theory.sgd_discrete_stationary_variance(lam, 1.0, 0.01)))
    assert theory.sgd_student_t_asymptotic_loss(lam, 1.0, 0.01, 3.0) == pytest.approx(3 * gauss)


# ------------------------------------------------------------------ the SDE job's dt pair
def test_sde_job_saves_the_coupled_dt_pair_per_nu(tmp_path, monkeypatch):
    """The heavy_tails SDE job adds the coupled (dt, dt/2) pair per nu (Student-t and the
    Gaussian limit): convergence_runs paths from x0, both chains finite and close (same
    Brownian path), the main loss unchanged in shape; sde_substeps reaches the main run (the
    pair reads it from the section itself)."""
    import copy

    from adasde import artifacts
    from adasde import config as C
    from adasde.experiments import heavy_tails

    smoke = C.load("config/smoke.yaml", "config/schema.yaml")
    sec = copy.deepcopy(smoke["heavy_tails"]["simulate"])
    sec.update(nus=[2.0], iterations=40, save_every=20, sde_runs=3, convergence_runs=4)
    cfg = {"seed": smoke["seed"], "dtype": smoke["dtype"], "heavy_tails": sec}
    heavy_tails.simulate_job(cfg, "signsgd", "sde", tmp_path / "a.npz", log=lambda m: None)
    a, meta = artifacts.load(tmp_path / "a.npz")
    assert a["loss"].shape == (2, 3, 3)
    for chain in ("coarse", "fine"):
        c = a[f"conv_loss_{chain}"]
        assert c.shape == (2, 4, 3) and np.all(np.isfinite(c))
        np.testing.assert_allclose(c[..., 0], a["loss"][:, :1, 0].repeat(4, 1), rtol=1e-6)
    assert np.max(np.abs(a["conv_loss_coarse"] / a["conv_loss_fine"] - 1)) < 0.1
    assert meta["convergence_pair_wall_time_s"] > 0
    seen = []

    def fake_run(*args, substeps=1, runs=1, n_saves=1, **kw):
        seen.append(("run", substeps, kw["noise"], kw["nu"]))
        return {"loss": np.zeros((1, runs, n_saves + 1))}, 0.0

    def fake_pair(section, *args, noise, nu, n_saves, **kw):
        seen.append(("pair", section["sde_substeps"], noise, nu))
        z = np.zeros((1, section["convergence_runs"], n_saves + 1))
        return {"conv_loss_coarse": z, "conv_loss_fine": z}

    monkeypatch.setattr(heavy_tails.quadratic, "run", fake_run)
    monkeypatch.setattr(heavy_tails.quadratic, "convergence_pair", fake_pair)
    cfg["heavy_tails"] = {**sec, "sde_substeps": 2}
    heavy_tails.simulate_job(cfg, "signsgd", "sde", tmp_path / "b.npz", log=lambda m: None)
    assert seen == [("run", 2, "student_t", 2.0), ("pair", 2, "student_t", 2.0),
                    ("run", 2, "gaussian", None), ("pair", 2, "gaussian", None)]
