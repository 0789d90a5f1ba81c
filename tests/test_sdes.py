"""Drift and diffusion of the SDEs against hand-computed cases and Monte-Carlo moments of
the optimizer's one-step increment."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from adasde import optim, sdes
from adasde.problems import Quadratic


def test_expected_sign_gaussian_is_erf_and_matches_monte_carlo(x64):
    a = jnp.array([-2.0, -0.3, 0.0, 0.5, 1.7])
    exact = sdes.expected_sign(a, "gaussian")
    np.testing.assert_allclose(exact, [math.erf(v / math.sqrt(2)) for v in a], atol=1e-14)
    z = jax.random.normal(jax.random.key(0), (400_000, 1), jnp.float64)
    mc = jnp.mean(jnp.sign(a + z), axis=0)
    se = jnp.sqrt((1 - mc**2) / z.shape[0])
    assert np.all(np.abs(mc - exact) < 4 * se + 1e-12)


@pytest.mark.parametrize("nu", [1.0, 2.0, 3.0, 5.0])
def test_expected_sign_student_t_is_2F_minus_1(x64, nu):
    a = np.array([-3.0, -0.4, 0.0, 0.2, 2.5])
    ours = np.asarray(sdes.expected_sign(jnp.asarray(a), "student_t", nu))
    np.testing.assert_allclose(ours, 2 * scipy.stats.t.cdf(a, nu) - 1, atol=1e-12)
    if nu == 1.0:
        np.testing.assert_allclose(ours, 2 / np.pi * np.arctan(a), atol=1e-12)
    if nu == 2.0:
        np.testing.assert_allclose(ours, a / np.sqrt(2 + a * a), atol=1e-12)


def test_signsgd_sde_drift_and_diffusion_hand_case(x64):
    q = Quadratic(jnp.array([1.0, 2.0]))
    sde = sdes.signsgd_sde(q.grad, 0.04, jnp.array([0.5, 2.0]))
    y = (jnp.array([0.3, -1.0]),)
    a = np.array([1.0 * 0.3 / 0.5, 2.0 * -1.0 / 2.0])
    e = np.array([math.erf(v / math.sqrt(2)) for v in a])
    np.testing.assert_allclose(sde.drift(0.0, y)[0], -e, atol=1e-14)
    np.testing.assert_allclose(sde.diffusion(0.0, y)[0], np.sqrt(0.04 * (1 - e**2)), atol=1e-14)


def test_phase3_sde_is_linearised_erf(x64):
    q = Quadratic(jnp.array([1.0]))
    full = sdes.signsgd_sde(q.grad, 0.01, 1.0)
    lin = sdes.signsgd_phase3_sde(q.grad, 0.01, 1.0)
    y = (jnp.array([1e-3]),)
    np.testing.assert_allclose(full.drift(0.0, y)[0], lin.drift(0.0, y)[0], rtol=1e-6)
    np.testing.assert_allclose(lin.drift(0.0, y)[0], -math.sqrt(2 / math.pi) * 1e-3, rtol=1e-12)
    far = (jnp.array([10.0]),)
    assert float(lin.diffusion(0.0, far)[0][0]) == 0.0  # radicand clipped outside Phase 3


def _one_step_moments(opt, grad, x, sigma, n, key):
    """Mean and variance of the optimizer's first increment over n noise draws (float64)."""
    z = jax.random.normal(key, (n,) + x.shape, jnp.float64)

    def inc(zi):
        state = opt.init(x)
        u, _ = opt.update(grad(x) + sigma * zi, state, x)
        return u

    u = jax.vmap(inc)(z)
    return u.mean(0), u.var(0)


def test_sgd_and_signsgd_sde_match_one_step_moments(x64):
    """Weak order 1: E and Var of x_1 - x_0 equal drift*eta and diffusion^2*eta."""
    q = Quadratic(jnp.array([1.0, 3.0]))
    x = jnp.array([0.4, -0.2])
    eta, sigma = 0.05, 0.8
    for opt, sde in ((optim.sgd(eta), sdes.sgd_sde(q.grad, eta, sigma)),
                     (optim.signsgd(eta), sdes.signsgd_sde(q.grad, eta, sigma))):
        mean, var = _one_step_moments(opt, q.grad, x, sigma, 400_000, jax.random.key(2))
        np.testing.assert_allclose(mean, eta * sde.drift(0.0, (x,))[0], rtol=0.02, atol=2e-4)
        np.testing.assert_allclose(var, eta * sde.diffusion(0.0, (x,))[0] ** 2, rtol=0.02)


def test_adamw_sde_is_poster_eq2_without_lookahead_on_v(x64):
    """With v_lookahead=False the X drift is exactly poster eq. (2) evaluated at t + eta."""
    q = Quadratic(jnp.array([0.5, 2.0]))
    eta, b1, b2, eps, theta, s = 0.01, 0.9, 0.99, 1e-3, 0.3, 0.7
    sde = sdes.adamw_sde(q.grad, eta, b1, b2, s, eps, theta, v_lookahead=False)
    x, m, v = jnp.array([1.0, -0.5]), jnp.array([0.2, 0.1]), jnp.array([0.6, 0.9])
    t = 0.37
    rho1, rho2 = (1 - b1) / eta, (1 - b2) / eta
    tt = t + eta
    g1, g2 = 1 - np.exp(-rho1 * tt), 1 - np.exp(-rho2 * tt)
    g = np.asarray(q.grad(x))
    p = np.sqrt(v) + eps * np.sqrt(g2)
    dx = -(np.sqrt(g2) / g1) * (m + eta * rho1 * (g - m)) / p - theta * x
    drift = sde.drift(t, (x, m, v))
    np.testing.assert_allclose(drift[0], dx, atol=1e-13)
    np.testing.assert_allclose(drift[1], rho1 * (g - m), atol=1e-13)
    np.testing.assert_allclose(drift[2], rho2 * (g * g + s * s - v), atol=1e-13)
    diff = sde.diffusion(t, (x, m, v))
    assert diff[0] is None and diff[2] is None
    np.testing.assert_allclose(diff[1], np.sqrt(eta) * rho1 * s, atol=1e-13)


def test_adamw_sde_first_euler_step_matches_optimizer_mean(x64):
    """At t = 0 with M = V = 0 (no noise) the look-aheads make one Euler step the optimizer's
    first step, up to the continuous bias corrections gamma_i(eta) = 1 - exp(-rho_i eta) in
    place of the discrete 1 - beta_i (an O(eta) difference, pinned here)."""
    q = Quadratic(jnp.array([0.5, 2.0]))
    eta, b1, b2, s = 0.01, 0.9, 0.99, 0.0
    sde = sdes.adamw_sde(q.grad, eta, b1, b2, s)
    x = jnp.array([1.0, -0.5])
    y0 = sde.init(x)
    step = sde.drift(0.0, y0)[0] * eta
    opt = optim.adamw(eta, b1, b2)
    u, _ = opt.update(q.grad(x), opt.init(x), x)
    g1, g2 = 1 - np.exp(-(1 - b1)), 1 - np.exp(-(1 - b2))
    factor = (np.sqrt(g2) / g1) / (np.sqrt(1 - b2) / (1 - b1))
    np.testing.assert_allclose(step, u * factor, rtol=1e-12)
    assert abs(factor - 1) < 0.06


def test_rmspropw_sde_hand_case(x64):
    q = Quadratic(jnp.array([2.0]))
    eta, b2, s, eps, theta = 0.1, 0.9, 0.5, 0.01, 0.2
    sde = sdes.rmspropw_sde(q.grad, eta, b2, s, eps, theta, v_lookahead=False)
    x, v = jnp.array([0.3]), jnp.array([0.4])
    p = np.sqrt(0.4) + eps
    np.testing.assert_allclose(sde.drift(0.0, (x, v))[0], -0.6 / p - theta * 0.3, atol=1e-13)
    np.testing.assert_allclose(sde.drift(0.0, (x, v))[1], (0.1 / 0.1) * (0.36 + 0.25 - 0.4),
                               atol=1e-13)
    np.testing.assert_allclose(sde.diffusion(0.0, (x, v))[0], np.sqrt(eta) * s / p, atol=1e-13)


def test_make_rejects_bad_names():
    with pytest.raises(ValueError, match="nope"):
        sdes.make("nope", lambda x: x, {"eta": 0.1}, 1.0)
    with pytest.raises(ValueError, match="Gaussian"):
        sdes.make("adamw", lambda x: x, {"eta": 0.1}, 1.0, noise="student_t", nu=2.0)


# ------------------------------------------------------- one gradient per step, the families
def _all_sdes(grad, sigma=0.7):
    hp = {"eta": 0.05, "beta1": 0.9, "beta2": 0.99, "eps": 1e-3, "theta": 0.4}
    out = {name: sdes.make(name, grad, hp, sigma) for name in sdes.SDE_NAMES}
    out["signsgd_student_t"] = sdes.make("signsgd", grad, hp, sigma, noise="student_t", nu=2.5)
    out["signsgd_phasewise"] = sdes.signsgd_phasewise_sde(grad, 0.05, sigma)
    out["adamw_linearised"] = sdes.adamw_linearised_sde(grad, 0.05, 0.9, sigma, 0.8, 0.4)
    return out


def _state(sde, x):
    y = sde.init(x)
    return tuple(yi if i == 0 else yi + 0.3 + 0.1 * i for i, yi in enumerate(y))


def test_coefficients_are_drift_and_diffusion_with_one_gradient(x64):
    q = Quadratic(jnp.array([0.5, 2.0, 1.0]))
    x = jnp.array([0.4, -0.2, 1.1])
    calls = []

    def grad(z):
        calls.append(1)
        return q.grad(z)

    for name, sde in _all_sdes(grad).items():
        y = _state(sde, x)
        calls.clear()
        b, g = sde.coefficients(0.3, y)
        assert len(calls) == 1, (name, len(calls))  # one gradient for drift and diffusion
        for bi, di in zip(b, sde.drift(0.3, y), strict=True):
            np.testing.assert_array_equal(bi, di)
        for gi, ei in zip(g, sde.diffusion(0.3, y), strict=True):
            assert (gi is None) == (ei is None), name
            if gi is not None:
                np.testing.assert_array_equal(gi, ei)
        if sde.additive:  # the diffusion depends on neither t nor the state
            g2 = sde.coefficients(1.7, tuple(yi * 2 - 1 for yi in y))[1]
            for gi, hi in zip(g, g2, strict=True):
                assert (gi is None) == (hi is None)
                if gi is not None:
                    np.testing.assert_array_equal(gi, hi)
    additive = {n for n, s in _all_sdes(q.grad).items() if s.additive}
    assert additive == {"sgd", "adam", "adamw", "malladi_adam", "adamw_linearised"}


def test_families_differ_only_by_their_flags(x64):
    """adaptive_sde's flags give the four named SDEs: Malladi's = ours without (grad f)^2 in
    V's target and (Adam) without eq. (2)'s look-ahead on M."""
    q = Quadratic(jnp.array([0.5, 2.0]))
    x, m, v = jnp.array([1.0, -0.5]), jnp.array([0.2, 0.1]), jnp.array([0.6, 0.9])
    args = (q.grad, 0.01, 0.99, 0.7)
    kw = {"eps": 1e-3, "theta": 0.3}
    pairs = [
        (sdes.rmspropw_sde(q.grad, 0.01, 0.99, 0.7, **kw), sdes.adaptive_sde(*args, **kw)),
        (sdes.malladi_rmsprop_sde(q.grad, 0.01, 0.99, 0.7, **kw),
         sdes.adaptive_sde(*args, grad_in_v=False, **kw)),
        (sdes.adamw_sde(q.grad, 0.01, 0.9, 0.99, 0.7, **kw),
         sdes.adaptive_sde(*args, beta1=0.9, **kw)),
        (sdes.malladi_adam_sde(q.grad, 0.01, 0.9, 0.99, 0.7, **kw),
         sdes.adaptive_sde(*args, beta1=0.9, grad_in_v=False, m_lookahead=False, **kw)),
    ]
    for named, flagged in pairs:
        y = (x, v) if len(named.init(x)) == 2 else (x, m, v)
        for a, b in zip(named.drift(0.2, y), flagged.drift(0.2, y), strict=True):
            np.testing.assert_array_equal(a, b)
    # the flags change what they say: Malladi's V target is sigma^2 only, M has no look-ahead
    ours, mal = pairs[2][0].drift(0.2, (x, m, v)), pairs[3][0].drift(0.2, (x, m, v))
    np.testing.assert_allclose(ours[2] - mal[2], (1 - 0.99) / 0.01 * q.grad(x) ** 2, rtol=1e-12)
    np.testing.assert_array_equal(ours[1], mal[1])


def test_linearised_eq2_is_eq2_with_v_frozen(x64):
    """adamw_linearised_sde = adamw_sde's (X, M) drift at V = p^2, eps = 0, gamma_i -> 1
    (late times), no V look-ahead."""
    q = Quadratic(jnp.array([0.5, 2.0]))
    eta, b1, s, p, theta = 0.01, 0.9, 0.7, 0.8, 0.3
    lin = sdes.adamw_linearised_sde(q.grad, eta, b1, s, p, theta)
    full = sdes.adamw_sde(q.grad, eta, b1, 0.9, s, 0.0, theta, v_lookahead=False)
    x, m = jnp.array([1.0, -0.5]), jnp.array([0.2, 0.1])
    a = lin.coefficients(0.0, (x, m))
    b = full.coefficients(1e4, (x, m, jnp.full(2, p * p)))
    for i in range(2):
        np.testing.assert_allclose(a[0][i], b[0][i], rtol=1e-12)
    np.testing.assert_allclose(a[1][1], b[1][1], rtol=1e-12)
    assert a[1][0] is None and lin.additive
