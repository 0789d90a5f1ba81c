"""Stationary figure: the discrete-time stationary variances of theory.py against exact
oracles, their continuous limits and Monte-Carlo; the time-averaged moments of
quadratic.simulate; the experiment's artifact and config checks."""

import copy
import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from adasde import artifacts, theory
from adasde import config as C
from adasde.experiments import quadratic, stationary
from adasde.figures.stationary import variance_estimate

SCHEMA = "config/schema.yaml"


# ------------------------------------------------------------------ closed forms
def test_sgd_discrete_variance_is_the_ar1_variance_and_tends_to_lemma_3_8():
    lam, s, eta = np.array([0.5, 2.0, 30.0]), 0.7, 0.05
    r = 1 - eta * lam
    np.testing.assert_allclose(theory.sgd_discrete_stationary_variance(lam, s, eta),
                               eta**2 * s**2 / (1 - r**2), rtol=1e-12)
    small = theory.sgd_discrete_stationary_variance(lam, s, 1e-7)
    np.testing.assert_allclose(small, theory.sgd_stationary_variance(lam, s, 1e-7), rtol=1e-5)
    # batch size enters as s = sigma / sqrt(B)
    np.testing.assert_allclose(theory.sgd_discrete_stationary_variance(lam, 2 * s, eta, 4.0),
                               theory.sgd_discrete_stationary_variance(lam, s, eta), rtol=1e-12)


def test_signsgd_discrete_variance_solves_the_gaussian_closure_equation():
    lam, s, eta = np.array([0.5, 2.0]), np.array([0.2, 3.0]), 0.01
    v = theory.signsgd_discrete_stationary_variance(lam, s, eta)
    c = lam / (math.sqrt(2) * s)
    # stationarity of E x^2: 2 E[x erf(c x)] = eta, with E[x erf(cx)] = 2cv/sqrt(pi(1+2c^2 v))
    np.testing.assert_allclose(4 * c * v / np.sqrt(np.pi * (1 + 2 * c * c * v)), eta, rtol=1e-12)
    # leading order is the docs/paper.md 3.3 form without its O(eta) factor; the O(eta) factor is
    # 1 + pi*eta*a/8, of opposite sign to the Phase-3 SDE's 1/(1 + eta*a/2)
    a = math.sqrt(2 / math.pi) * lam / s
    lead = theory.signsgd_stationary_variance(lam, s, eta, corrected=False)
    np.testing.assert_allclose(v / lead, 1 + np.pi * eta * a / 8, rtol=1e-3)
    assert np.all(v > lead) and np.all(theory.signsgd_stationary_variance(lam, s, eta) < lead)


def test_lyapunov2_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        A = rng.uniform(-0.6, 0.6, (2, 2))
        b = rng.normal(size=2)
        ref = solve_discrete_lyapunov(A, np.outer(b, b))
        c11, c12, c22 = theory._lyapunov2_discrete(*A.ravel(), *b)
        np.testing.assert_allclose([c11, c12, c22], [ref[0, 0], ref[0, 1], ref[1, 1]],
                                   rtol=1e-10)


@pytest.mark.parametrize("beta1,eta,theta", [(0.9, 0.01, 1.0), (0.5, 0.05, 3.0)])
def test_adamw_discrete_pure_decay_oracle(beta1, eta, theta):
    """lambda = 0: x is an AR(1) (rate r = 1 - eta*theta) driven by the AR(1) u = m/s, so
    Var = eta^2 (1-b)(1+rb)/((1+b)(1-r^2)(1-rb)); eq. (2)'s scheme sees u one step late,
    weighted by b: exactly b^2 times that."""
    b, r = beta1, 1 - eta * theta
    expected = eta**2 * (1 - b) * (1 + r * b) / ((1 + b) * (1 - r * r) * (1 - r * b))
    opt = theory.adamw_discrete_stationary_variance(0.0, 1.7, eta, b, theta=theta)
    em = theory.adamw_discrete_stationary_variance(0.0, 1.7, eta, b, theta=theta,
                                                   scheme="eq2_em")
    np.testing.assert_allclose(opt, expected, rtol=1e-10)
    np.testing.assert_allclose(em, b * b * expected, rtol=1e-10)


@pytest.mark.parametrize("theta", [0.0, 1.0])
def test_adamw_discrete_tends_to_the_continuous_forms(theta):
    """eta -> 0 at fixed rho1 = (1-beta1)/eta: the optimizer's value tends to the finite-momentum
    form (Lemma C.52 for theta = 0), the eq. (2) scheme's to the eq. (2) closed form."""
    lam, s, rho1 = np.array([0.5, 2.0]), np.array([0.3, 4.0]), 10.0
    for eta in (1e-4,):
        b1 = 1 - rho1 * eta
        opt = theory.adamw_discrete_stationary_variance(lam, s, eta, b1, theta=theta)
        em = theory.adamw_discrete_stationary_variance(lam, s, eta, b1, theta=theta,
                                                       scheme="eq2_em")
        np.testing.assert_allclose(
            opt, theory.adamw_momentum_stationary_variance(lam, s, eta, b1, theta=theta),
            rtol=5e-3)
        np.testing.assert_allclose(
            em, theory.adamw_eq2_stationary_variance(lam, s, eta, b1, theta=theta), rtol=5e-3)
    if theta == 0.0:
        np.testing.assert_allclose(opt, theory.adamw_stationary_variance(lam, s, eta), rtol=5e-3)
    else:  # Lemma C.57 misses rho1/(rho1+theta) = 10/11
        ratio = opt / theory.adamw_stationary_variance(lam, s, eta, theta=theta)
        np.testing.assert_allclose(ratio, rho1 / (rho1 + theta), rtol=5e-3)
    with pytest.raises(ValueError, match="scheme"):
        theory.adamw_discrete_stationary_variance(lam, s, 0.01, 0.9, scheme="sde")


# ------------------------------------------------------------------ simulate: time averages
@pytest.mark.parametrize("kind", ["optim", "sde"])
def test_moments_equal_the_average_of_the_saved_iterates(kind):
    """With save_every = 1 every iterate is saved: the in-scan time averages must equal the
    averages of the saved x_k, k0 <= k < N (up to float32 rounding)."""
    lam = jnp.array([0.5, 2.0])
    hp = quadratic.hp_grid({"eta": 0.05, "beta1": 0.9, "beta2": 0.99}, 2, jnp.float32)
    sigma = jnp.array([0.3, 2.0])
    n, k0 = 60, 25
    out = quadratic.simulate(lam, jnp.array([1.0, -1.0]), hp, sigma, quadratic.job_key(0, "m"),
                             name="adam", kind=kind, runs=3, n_saves=n, save_every=1,
                             save_x=True, moments_from=k0)
    x = np.asarray(out["x"], float)
    assert x.shape == (2, 3, n + 1, 2)
    np.testing.assert_allclose(out["x_mean"], x[:, :, k0:n].mean(axis=2), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(out["x2_mean"], (x[:, :, k0:n] ** 2).mean(axis=2), rtol=2e-5,
                               atol=1e-8)
    np.testing.assert_allclose(x[:, :, -1], out["x_final"])


def test_simulate_defaults_unchanged_and_moments_from_checked():
    lam = np.array([0.5, 2.0])
    out, _ = quadratic.run(lam, 1.0, {"eta": 0.01}, np.array([1.0]), quadratic.job_key(0, "d"),
                           name="sgd", kind="optim", runs=2, n_saves=2, save_every=3,
                           log=lambda m: None)
    assert set(out) == {"loss", "x_final"}
    with pytest.raises(ValueError, match="moments_from"):
        quadratic.run(lam, 1.0, {"eta": 0.01}, np.array([1.0]), quadratic.job_key(0, "d"),
                      name="sgd", kind="optim", runs=2, n_saves=2, save_every=3,
                      moments_from=6, log=lambda m: None)


def test_variance_estimate():
    x2 = np.array([[[1.0, 4.0], [3.0, 8.0]]])  # (sigma, runs, d)
    m, e = variance_estimate(x2)
    np.testing.assert_allclose(m, [[2.0, 6.0]])
    np.testing.assert_allclose(e, [[np.sqrt(2) / np.sqrt(2), np.sqrt(8) / np.sqrt(2)]])


# ------------------------------------------------------------------ Monte-Carlo oracles
@pytest.mark.parametrize("name,kind", [("sgd", "optim"), ("signsgd", "optim"),
                                       ("signsgd", "sde"), ("adam", "optim"),
                                       ("adamw", "optim"), ("adamw", "sde")])
def test_measured_variance_matches_the_discrete_forms(name, kind):
    """Time-averaged variances (64 runs, 16000 steps after 4000 of burn-in) within 4 standard
    errors of the discrete-time closed forms."""
    lam, sig, eta, b1, theta = np.array([0.5, 2.0]), np.array([0.5, 5.0]), 0.02, 0.9, 1.0
    hp = {"eta": eta, "beta1": b1, "beta2": 0.999, "theta": theta if name == "adamw" else 0.0}
    out, _ = quadratic.run(lam, 0.0, hp, sig, quadratic.job_key(1, "mc", name, kind), name=name,
                           kind=kind, runs=64, n_saves=20, save_every=1000, moments_from=4000,
                           log=lambda m: None)
    m, e = variance_estimate(out["x2_mean"])
    S, L = sig[:, None] * np.ones(2), np.ones((2, 1)) * lam
    if name == "sgd":
        pred = theory.sgd_discrete_stationary_variance(L, S, eta)
    elif name == "signsgd":
        pred = theory.signsgd_discrete_stationary_variance(L, S, eta)
    else:
        pred = theory.adamw_discrete_stationary_variance(
            L, S, eta, b1, theta=hp["theta"], scheme="optimizer" if kind == "optim" else "eq2_em")
    z = (m - pred) / e
    assert np.all(np.abs(z) < 4), (m / pred, z)


# ------------------------------------------------------------------ experiment and config
@pytest.fixture
def smoke_cfg():
    return C.load("config/smoke.yaml", SCHEMA)


def test_simulate_job_writes_the_artifact(smoke_cfg, tmp_path):
    from adasde.jobs import job_config

    cfg = job_config({"seed": smoke_cfg["seed"], "dtype": smoke_cfg["dtype"],
                      "section": copy.deepcopy(smoke_cfg["stationary"]["simulate"])}, "stationary")
    sec = cfg["stationary"]
    sec.update(iterations=400, burn_in=100, save_every=100, runs=3)
    path = tmp_path / "sgd_optim.npz"
    sec["optimizers"]["sgd"] = {"eta": 0.01}
    stationary.simulate_job(cfg, "sgd", "optim", path, log=lambda m: None)
    arrays, meta = artifacts.load(path)
    n_s = len(sec["sigmas"])
    assert arrays["x2_mean"].shape == (n_s, 3, 2) and arrays["x_final"].shape == (n_s, 3, 2)
    assert arrays["loss"].shape == (n_s, 3, 5) and int(arrays["burn_in"]) == 100
    assert meta["optimizer"] == "sgd" and meta["config"]["burn_in"] == 100
    with pytest.raises(ValueError, match="stationary.optimizers"):
        stationary.simulate_job(cfg, "rmsprop", "optim", path, log=lambda m: None)


def test_sde_job_saves_the_pair_and_its_main_run_does_not_depend_on_it(smoke_cfg, tmp_path):
    """The sigma-grid SDE job (stationary, noise_resilience): ``conv_*`` arrays of the coupled
    (dt, dt/2) pair with ``convergence_runs`` paths, and main arrays that are the same bytes
    whatever ``convergence_runs`` is (the pair has its own key)."""
    from adasde.jobs import job_config

    sec = copy.deepcopy(smoke_cfg["stationary"]["simulate"])
    sec.update(iterations=400, burn_in=100, save_every=100, runs=3)
    out = {}
    for n in (2, 5):
        sec["convergence_runs"] = n
        cfg = job_config({"seed": 3, "dtype": "float32", "section": copy.deepcopy(sec)},
                         "stationary")
        stationary.simulate_job(cfg, "adamw", "sde", tmp_path / f"{n}.npz", log=lambda m: None)
        out[n], meta = artifacts.load(tmp_path / f"{n}.npz")
        n_s = len(sec["sigmas"])
        for k in ("loss_coarse", "loss_fine"):
            assert out[n][f"conv_{k}"].shape == (n_s, n, 5)
        for k in ("x2_mean_coarse", "x2_mean_fine", "x_mean_coarse", "x_mean_fine"):
            assert out[n][f"conv_{k}"].shape == (n_s, n, 2)
        # the pair's chains start at x0 and are not the same chain
        assert not np.array_equal(out[n]["conv_loss_coarse"], out[n]["conv_loss_fine"])
    for k in ("loss", "x_final", "x_mean", "x2_mean"):
        assert out[2][k].tobytes() == out[5][k].tobytes(), k


def test_stationary_config_cross_checks(smoke_cfg):
    bad = copy.deepcopy(smoke_cfg)
    sim = bad["stationary"]["simulate"]
    sim["problem"]["d"] = 3
    sim["sigmas"] = [1.0, 2.0, 50.0]
    sim["burn_in"] = sim["iterations"]
    bad["stationary"]["analyse"]["scatter_sigma"] = 3.0
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    msg = str(e.value)
    for needle in ("stationary.simulate.problem.d", "two decades", "stationary.simulate.burn_in",
                   "stationary.analyse.scatter_sigma"):
        assert needle in msg, msg
    bad = copy.deepcopy(smoke_cfg)
    bad["stationary"]["simulate"]["optimizers"]["rmsprop"] = {"eta": 0.1, "beta2": 0.9}
    with pytest.raises(C.ConfigError, match="rmsprop"):
        C.validate(bad, SCHEMA)
