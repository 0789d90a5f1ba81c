"""Malladi et al.'s RMSprop/Adam SDEs converted to our time t = k*eta (sdes.malladi_*_sde):
drift and diffusion against hand-computed cases, the conversion against the native
(tau = k*eta^2) Euler-Maruyama step, and one step's mean against the optimizer's exact mean
update (Gauss-Hermite quadrature) where noise dominates. Derivation: docs/theory.md,
"Malladi et al.'s SDEs in our time units"."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

from adasde import integrate, sdes
from adasde.problems import Quadratic

LAM = np.array([2.0, 0.5])
X_NP = np.array([1.0, -2.0])  # grad = (2, -1)


def _q_x():
    """The hand-case quadratic and point, built inside the test (float64 under ``x64``)."""
    return Quadratic(jnp.asarray(LAM)), jnp.asarray(X_NP)


def test_registered_in_make_with_theta_as_extension(x64):
    assert {"malladi_rmsprop", "malladi_adam"} <= set(sdes.SDE_NAMES)
    q, X = _q_x()
    hp = {"eta": 0.01, "beta1": 0.9, "beta2": 0.99, "theta": 0.3}
    rms = sdes.make("malladi_rmsprop", q.grad, hp, 0.5)
    adam = sdes.make("malladi_adam", q.grad, hp, 0.5)
    assert len(rms.init(X)) == 2 and len(adam.init(X)) == 3
    # theta > 0 adds exactly -theta * x to the X drift (our decoupled-decay extension).
    no_wd = sdes.make("malladi_rmsprop", q.grad, {**hp, "theta": 0.0}, 0.5)
    y = (X, jnp.array([0.3, 0.2]))
    np.testing.assert_allclose(rms.drift(0.0, y)[0] - no_wd.drift(0.0, y)[0], -0.3 * X,
                               atol=1e-14)
    ya = (X, jnp.array([1.0, 0.5]), jnp.array([0.3, 0.2]))
    no_wd = sdes.make("malladi_adam", q.grad, {**hp, "theta": 0.0}, 0.5)
    np.testing.assert_allclose(adam.drift(0.1, ya)[0] - no_wd.drift(0.1, ya)[0], -0.3 * X,
                               atol=1e-14)


def test_rmsprop_hand_case(x64):
    # eta = 0.01, beta2 = 0.99 -> rho2 = 1; sigma = 0.5; V = (0.36, 0.04); eps = 0.1; theta = 0.3;
    # grad = (2, -1).
    q, X = _q_x()
    y = (X, jnp.array([0.36, 0.04]))
    lit = sdes.malladi_rmsprop_sde(q.grad, 0.01, 0.99, 0.5, eps=0.1, theta=0.3,
                                   v_lookahead=False)
    # P = sqrt(V) + eps = (0.7, 0.3); dX = -g/P - theta*x; dV = rho2*(sigma^2 - V), no grad^2.
    np.testing.assert_allclose(lit.drift(0.0, y)[0], [-2 / 0.7 - 0.3, 1 / 0.3 + 0.6], rtol=1e-13)
    np.testing.assert_allclose(lit.drift(0.0, y)[1], [0.25 - 0.36, 0.25 - 0.04], rtol=1e-13)
    # diffusion of X: sqrt(eta) * sigma / P = 0.05 / P; V has none.
    np.testing.assert_allclose(lit.diffusion(0.0, y)[0], [0.05 / 0.7, 0.05 / 0.3], rtol=1e-13)
    assert lit.diffusion(0.0, y)[1] is None
    # With the look-ahead: V~ = V + eta*rho2*(sigma^2 - V) = (0.3589, 0.0421).
    ahead = sdes.malladi_rmsprop_sde(q.grad, 0.01, 0.99, 0.5, eps=0.1, theta=0.3)
    p = np.array([math.sqrt(0.3589) + 0.1, math.sqrt(0.0421) + 0.1])
    np.testing.assert_allclose(ahead.drift(0.0, y)[0], [-2 / p[0] - 0.3, 1 / p[1] + 0.6],
                               rtol=1e-13)
    np.testing.assert_allclose(ahead.diffusion(0.0, y)[0], 0.05 / p, rtol=1e-13)
    # Ours differs exactly by grad^2 in the V drift: rho2*(g^2 + sigma^2 - V) = (3.89, 1.21).
    ours = sdes.rmspropw_sde(q.grad, 0.01, 0.99, 0.5, eps=0.1, theta=0.3)
    np.testing.assert_allclose(ours.drift(0.0, y)[1], [3.89, 1.21], rtol=1e-13)


def test_adam_hand_case(x64):
    # eta = 0.01, beta1 = 0.9 (rho1 = 10), beta2 = 0.99 (rho2 = 1), sigma = 0.5, eps = 0.1,
    # theta = 0.3; M = (1, 0.5), V = (0.36, 0.04), t = 0.09 so the bias corrections are taken
    # at t + eta = 0.1: gamma1 = 1 - e^-1, gamma2 = 1 - e^-0.1.
    q, X = _q_x()
    m, v = jnp.array([1.0, 0.5]), jnp.array([0.36, 0.04])
    y = (X, m, v)
    sde = sdes.malladi_adam_sde(q.grad, 0.01, 0.9, 0.99, 0.5, eps=0.1, theta=0.3,
                                v_lookahead=False)
    g1, g2 = 1 - math.exp(-1.0), 1 - math.exp(-0.1)
    p = np.array([0.6, 0.2]) + 0.1 * math.sqrt(g2)
    dx = -(math.sqrt(g2) / g1) * np.array([1.0, 0.5]) / p - 0.3 * np.array([1.0, -2.0])
    drift = sde.drift(0.09, y)
    np.testing.assert_allclose(drift[0], dx, rtol=1e-12)
    np.testing.assert_allclose(drift[1], [10 * (2 - 1.0), 10 * (-1 - 0.5)], rtol=1e-13)
    np.testing.assert_allclose(drift[2], [0.25 - 0.36, 0.25 - 0.04], rtol=1e-13)
    diff = sde.diffusion(0.09, y)
    assert diff[0] is None and diff[2] is None
    np.testing.assert_allclose(diff[1], [0.5, 0.5], rtol=1e-13)  # sqrt(eta)*rho1*sigma
    # Ours (eq. 2) uses the look-ahead M + eta*rho1*(g - M) = (1.1, 0.35) and grad^2 in V.
    ours = sdes.adamw_sde(q.grad, 0.01, 0.9, 0.99, 0.5, eps=0.1, theta=0.3, v_lookahead=False)
    dx_ours = -(math.sqrt(g2) / g1) * np.array([1.1, 0.35]) / p - 0.3 * np.array([1.0, -2.0])
    np.testing.assert_allclose(ours.drift(0.09, y)[0], dx_ours, rtol=1e-12)


# ------------------------------------------------------------------ native form, tau = k eta^2
def _native_grad(x):
    """A non-quadratic landscape: f = sum(lam x^2 / 2 + 0.1 x^4)."""
    lam = jnp.array([0.5, 1.0, 2.0])
    return lam * x + 0.4 * x**3


def _native_rmsprop_step(x, u, z, *, eta, beta2, sig_m, diag_sm, eps, theta):
    """One Euler-Maruyama step of Malladi et al.'s RMSprop SDE in its own time
    (docs/paper.md 2.5): dtau = eta^2, dW = eta z, sigma0 = sig_m*eta, eps0 = eps*eta,
    c2 = (1-beta2)/eta^2; decay -theta*X dt = -(theta/eta) X dtau; look-ahead in u."""
    dtau, s0, e0, c2 = eta**2, sig_m * eta, eps * eta, (1 - beta2) / eta**2
    u_ahead = u + c2 * dtau * (diag_sm - u)
    p = s0 * jnp.sqrt(u_ahead) + e0
    x_new = (x - (_native_grad(x) * dtau + s0 * jnp.sqrt(diag_sm) * eta * z) / p
             - theta / eta * x * dtau)
    return x_new, u + c2 * (diag_sm - u) * dtau


def _native_adam_step(n, x, m, u, z, *, eta, beta1, beta2, sig_m, diag_sm, eps, theta):
    dtau, s0, e0 = eta**2, sig_m * eta, eps * eta
    c1, c2 = (1 - beta1) / eta**2, (1 - beta2) / eta**2
    tau = (n + 1) * dtau  # bias corrections one step ahead, as in our SDEs
    g1, g2 = 1 - jnp.exp(-c1 * tau), 1 - jnp.exp(-c2 * tau)
    u_ahead = u + c2 * dtau * (diag_sm - u)
    p = s0 * jnp.sqrt(u_ahead) + e0 * jnp.sqrt(g2)
    x_new = x - jnp.sqrt(g2) / g1 * m / p * dtau - theta / eta * x * dtau
    m_new = m + c1 * (_native_grad(x) - m) * dtau + s0 * c1 * jnp.sqrt(diag_sm) * eta * z
    return x_new, m_new, u + c2 * (diag_sm - u) * dtau


@pytest.mark.parametrize("which", ["rmsprop", "adam"])
def test_converted_em_step_is_the_native_em_step(x64, which):
    """30 Euler-Maruyama steps of the converted SDE (dt = eta, dW = sqrt(eta) z) equal 30 native
    steps (dtau = eta^2, dW = eta z) with the same z, under V = sig_m^2 u and
    Sigma^{1/2} = sig_m * Sigma_M^{1/2} (anisotropic Sigma_M, eps > 0, theta > 0)."""
    eta, beta1, beta2, sig_m, eps, theta = 0.05, 0.9, 0.99, 2.0, 1e-3, 0.5
    diag_sm = jnp.array([0.25, 1.0, 4.0])
    sigma = sig_m * jnp.sqrt(diag_sm)
    z = jax.random.normal(jax.random.key(3), (30, 3), jnp.float64)
    x0, u0 = jnp.array([1.0, -0.5, 0.3]), jnp.array([0.5, 1.5, 3.0])
    if which == "rmsprop":
        sde = sdes.malladi_rmsprop_sde(_native_grad, eta, beta2, sigma, eps=eps, theta=theta)
        y, (x, u) = (x0, sig_m**2 * u0), (x0, u0)
    else:
        sde = sdes.malladi_adam_sde(_native_grad, eta, beta1, beta2, sigma, eps=eps, theta=theta)
        m0 = jnp.array([0.2, -0.1, 0.4])
        y, (x, m, u) = (x0, m0, sig_m**2 * u0), (x0, m0, u0)
    for n in range(30):
        y = integrate.em_step(sde, n * eta, y, math.sqrt(eta) * z[n], eta)
        if which == "rmsprop":
            # Our diffusion is +sqrt(eta) Sigma^{1/2}/P (W and -W have the same law): the
            # native -P^{-1} sigma0 Sigma_M^{1/2} dW is driven by -z for the same path.
            x, u = _native_rmsprop_step(x, u, -z[n], eta=eta, beta2=beta2, sig_m=sig_m,
                                        diag_sm=diag_sm, eps=eps, theta=theta)
        else:
            x, m, u = _native_adam_step(n, x, m, u, z[n], eta=eta, beta1=beta1, beta2=beta2,
                                        sig_m=sig_m, diag_sm=diag_sm, eps=eps, theta=theta)
            np.testing.assert_allclose(y[1], m, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y[0], x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y[-1], sig_m**2 * u, rtol=1e-12)
    assert float(jnp.max(jnp.abs(y[0] - x0))) > 0.01  # the trajectory actually moved


# --------------------------------------------------------- one step against the optimizer
_Z, _W = hermegauss(120)
_W = _W / math.sqrt(2 * math.pi)


def _expect(f):
    """E f(z), z ~ N(0, 1), by 120-node Gauss-Hermite quadrature (exact to ~1e-15 here)."""
    return float(np.sum(_W * f(_Z)))


@pytest.mark.parametrize("beta2", [0.99, 0.999])
def test_rmsprop_one_step_mean_noise_dominated(x64, beta2):
    """Where |grad f| << sigma, one EM step's mean X-update of both SDEs equals the optimizer's
    exact mean update E[-eta g/sqrt(beta2 v + (1-beta2) g^2)] (g = grad f + sigma z, v = sigma^2)
    up to the O(1 - beta2) correction of the square root (expansion: -(1-beta2) relative)."""
    eta, sigma, gf = 0.01, 1.0, 0.05
    q = Quadratic(jnp.array([1.0]))
    x, v = jnp.array([gf]), jnp.array([sigma**2])
    exact = _expect(lambda z: -eta * (gf + sigma * z)
                    / np.sqrt(beta2 * sigma**2 + (1 - beta2) * (gf + sigma * z) ** 2))
    for make in (sdes.malladi_rmsprop_sde, sdes.rmspropw_sde):
        sde = make(q.grad, eta, beta2, sigma)
        mean_step = eta * float(sde.drift(0.0, (x, v))[0][0])
        assert mean_step == pytest.approx(exact, rel=2 * (1 - beta2))
    # The V-update: the optimizer's E v_{k+1} = beta2 v + (1-beta2)(gf^2 + sigma^2) is our EM
    # step exactly; Malladi's misses (1-beta2) gf^2 (invisible here, gf^2 = 2.5e-3 sigma^2).
    for gf_big in (gf, 3.0):
        xb = jnp.array([gf_big])
        e_v = beta2 * sigma**2 + (1 - beta2) * (gf_big**2 + sigma**2)
        ours = sdes.rmspropw_sde(q.grad, eta, beta2, sigma).drift(0.0, (xb, v))[1][0]
        mal = sdes.malladi_rmsprop_sde(q.grad, eta, beta2, sigma).drift(0.0, (xb, v))[1][0]
        assert float(v[0] + eta * ours) == pytest.approx(e_v, rel=1e-12)
        assert float(v[0] + eta * mal) == pytest.approx(e_v - (1 - beta2) * gf_big**2, rel=1e-12)


def test_adam_one_step_mean_noise_dominated(x64):
    """Adam at a late step k (bias corrections ~1) from m = grad f, v = sigma^2, |grad f| <<
    sigma: the EM X-update of both SDEs equals the optimizer's exact mean update
    E[-eta m^_{k+1}/sqrt(v^_{k+1})] to O(1 - beta2); the M-update's mean is exact for both."""
    eta, beta1, beta2, sigma, gf, k = 0.01, 0.9, 0.999, 1.0, 0.05, 5000
    q = Quadratic(jnp.array([1.0]))
    x, m, v = jnp.array([gf]), jnp.array([gf]), jnp.array([sigma**2])
    c1, c2 = 1 - beta1 ** (k + 1), 1 - beta2 ** (k + 1)
    exact = _expect(lambda z: -eta * ((beta1 * gf + (1 - beta1) * (gf + sigma * z)) / c1)
                    / np.sqrt((beta2 * sigma**2 + (1 - beta2) * (gf + sigma * z) ** 2) / c2))
    e_m = beta1 * gf + (1 - beta1) * gf
    for make in (sdes.malladi_adam_sde, sdes.adamw_sde):
        sde = make(q.grad, eta, beta1, beta2, sigma)
        drift = sde.drift(k * eta, (x, m, v))
        assert eta * float(drift[0][0]) == pytest.approx(exact, rel=2 * (1 - beta2))
        assert float(m[0] + eta * drift[1][0]) == pytest.approx(e_m, rel=1e-12)


def test_malladi_runs_ahead_where_the_gradient_dominates(x64):
    """The mechanism behind the sde_tracking figures: with a constant gradient gf = 3 sigma
    (f linear) the optimizer's E v_n = (1 - beta2^n)(gf^2 + sigma^2); our SDE's V (Euler,
    dt = eta) is exactly that, Malladi's is (1 - beta2^n) sigma^2, so after n = 500 steps its
    X-speed gf/sqrt(V) is sqrt(1 + (gf/sigma)^2) = 3.16 times the optimizer's."""
    eta, beta2, sigma, gf, n = 0.01, 0.99, 1.0, 3.0, 500

    def grad(x):
        return jnp.full_like(x, gf)

    v = {}
    for name, make in (("ours", sdes.rmspropw_sde), ("malladi", sdes.malladi_rmsprop_sde)):
        _, y = integrate.euler_maruyama(make(grad, eta, beta2, sigma), jnp.zeros(1),
                                        jax.random.key(0), dt=eta, n_saves=1, save_every=n)
        v[name] = float(y[1][0])
    warm = 1 - beta2**n
    assert v["ours"] == pytest.approx(warm * (gf**2 + sigma**2), rel=1e-10)
    assert v["malladi"] == pytest.approx(warm * sigma**2, rel=1e-10)
    assert math.sqrt(v["ours"] / v["malladi"]) == pytest.approx(math.sqrt(10.0), rel=1e-10)
