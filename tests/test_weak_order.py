"""Weak increments and weak orders, with Monte-Carlo error bars (float64).

* Moments of the two-point, three-point and four-point increments (Kloeden and Platen, sections
  14.1 and 14.2) drawn from packed random bits.
* Fitted weak orders on stationary moments with closed forms: the Ornstein-Uhlenbeck process
  (the SGD SDE on a quadratic, docs/paper.md 2.1: E X^2 = eta sigma^2 / (2 lambda),
  E X^4 = 3 (E X^2)^2) and the linear eq. (2) system (docs/paper.md 2.4 with V held fixed,
  docs/theory.md "Stationary loss of the eq. (2) SDE"; stationary covariance from the Lyapunov
  equation). Two-point Euler has order 1, Platen's order-2 scheme with three-point (or
  four-point) increments order 2 (within 0.25); with two-point increments it stays order 1 for
  E X^4 (the fourth moment of the increments enters at second order).
* The same on the SignSGD SDE (nonlinear drift, multiplicative noise; stationary law of the 1-d
  SDE by quadrature).
* Talay-Tubaro extrapolation of two-point Euler removes the first-order error.

Every expectation is a time average over a long chain after a burn-in (``integrate.solve``'s
``average``), over many independent coordinates (a diagonal quadratic with equal eigenvalues)
and paths; the error bars are standard errors across paths, propagated to the fitted slope by
weighted least squares. Each test fits one compiled program (``dt`` is traced).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov, solve_discrete_lyapunov

from adasde import integrate, sdes
from adasde.problems import Quadratic


# ------------------------------------------------------------------------------- increments
def _flat(z):
    return np.asarray(z).reshape(z.shape[0], -1)  # (steps, coordinates)


def test_two_point_increment_moments(x64):
    dt, d, n_saves, save_every = 0.01, 1024, 4, 256
    z = _flat(integrate.unit_increments(jax.random.key(0), jnp.zeros(d), n_saves, save_every,
                                        "two_point"))
    n = z.size
    assert set(np.unique(z)) == {-1.0, 1.0}
    dw = math.sqrt(dt) * z
    # mean 0, variance dt and fourth moment dt^2 (exact for +-sqrt(dt)); P(+1) = 1/2
    assert abs(dw.mean()) < 4 * math.sqrt(dt / n)
    np.testing.assert_allclose((dw**2).mean(), dt, rtol=1e-12)
    np.testing.assert_allclose((dw**4).mean(), dt**2, rtol=1e-12)
    # every bit of every word is used and fair: per position in the word, per step parity
    per_bit = z.reshape(n_saves, save_every // 32, 32, d).mean(axis=(0, 1, 3))
    assert np.all(np.abs(per_bit) < 4 / math.sqrt(n / 32)), per_bit
    # independence across steps (lag 1, also across word boundaries) and coordinates
    assert abs((z[1:] * z[:-1]).mean()) < 4 / math.sqrt(n)
    assert abs((z[:, 1:] * z[:, :-1]).mean()) < 4 / math.sqrt(n)
    # sub-blocks: the same law with a different stream
    z2 = _flat(integrate.unit_increments(jax.random.key(0), jnp.zeros(d), n_saves, save_every,
                                         "two_point", draw_every=16))
    assert abs(z2.mean()) < 4 / math.sqrt(n) and not np.array_equal(z, z2)


def test_three_point_increment_moments(x64):
    dt, d, n_saves, save_every = 0.01, 1024, 4, 128
    z = _flat(integrate.unit_increments(jax.random.key(1), jnp.zeros(d), n_saves, save_every,
                                        "three_point"))
    n = z.size
    a = integrate.THREE_POINT_MAGNITUDE
    assert abs(a - math.sqrt(3)) < 1e-9
    np.testing.assert_array_equal(np.unique(z), [-a, 0.0, a])
    freq = np.array([(z < 0).mean(), (z == 0).mean(), (z > 0).mean()])
    se = np.sqrt(np.array([1 / 6, 2 / 3, 1 / 6]) * np.array([5 / 6, 1 / 3, 5 / 6]) / n)
    assert np.all(np.abs(freq - [1 / 6, 2 / 3, 1 / 6]) < 4 * se), freq
    dw = math.sqrt(dt) * z
    # mean 0, variance dt, fourth moment 3 dt^2 (each within 4 standard errors)
    for k, target in ((1, 0.0), (2, dt), (4, 3 * dt**2)):
        m = dw**k
        assert abs(m.mean() - target) < 4 * m.std() / math.sqrt(n), (k, m.mean(), target)
    assert abs((z[1:] * z[:-1]).mean()) < 4 / math.sqrt(n)
    assert abs((z[:, 1:] * z[:, :-1]).mean()) < 4 / math.sqrt(n)


def test_four_point_increment_moments(x64):
    """Four-point increments: +-sqrt(1 + sqrt 6) w.p. 1/8, +-sqrt(1 - sqrt(2/3)) w.p. 3/8, from
    3 bits (10 per word): mean 0, variance dt, fourth moment 3 dt^2 (exactly, as a law)."""
    dt, d, n_saves, save_every = 0.01, 1024, 4, 100
    z = _flat(integrate.unit_increments(jax.random.key(2), jnp.zeros(d), n_saves, save_every,
                                        "four_point"))
    n = z.size
    big, small = integrate.FOUR_POINT_LARGE, integrate.FOUR_POINT_SMALL
    values = np.array([-big, -small, small, big])
    probs = np.array([1, 3, 3, 1]) / 8
    np.testing.assert_allclose(probs @ values**2, 1.0, rtol=1e-14)
    np.testing.assert_allclose(probs @ values**4, 3.0, rtol=1e-14)
    np.testing.assert_array_equal(np.unique(z), values)
    freq = np.array([(z == v).mean() for v in values])
    assert np.all(np.abs(freq - probs) < 4 * np.sqrt(probs * (1 - probs) / n)), freq
    dw = math.sqrt(dt) * z
    for k, target in ((1, 0.0), (2, dt), (4, 3 * dt**2)):
        m = dw**k
        assert abs(m.mean() - target) < 4 * m.std() / math.sqrt(n), (k, m.mean(), target)
    # every 3-bit field of the word is fair (per position in the word)
    per_field = (z.reshape(n_saves, save_every // 10, 10, d) ** 2).mean(axis=(0, 1, 3))
    assert np.all(np.abs(per_field - 1) < 4 * np.std(z**2) / math.sqrt(n / 10)), per_field
    assert abs((z[1:] * z[:-1]).mean()) < 4 / math.sqrt(n)
    assert abs((z[:, 1:] * z[:, :-1]).mean()) < 4 / math.sqrt(n)


# ------------------------------------------------------------------------- fitting machinery
def fit_order(dts, errors, ses):
    """Weighted least-squares slope of log|error| against log dt and its standard error
    (delta method: sd(log|e|) = se / |e|)."""
    dts, errors, ses = map(np.asarray, (dts, errors, ses))
    assert np.all(np.sign(errors) == np.sign(errors[0])), errors
    assert np.all(np.abs(errors) > 5 * ses), (errors, ses)  # the bias is resolved
    coef, cov = np.polyfit(np.log(dts), np.log(np.abs(errors)), 1, w=np.abs(errors) / ses,
                           cov="unscaled")
    return float(coef[0]), float(math.sqrt(cov[0, 0]))


def stationary_means(sde, d, fn, dts, *, scheme, increments, paths, n_saves, save_every,
                     burn_in, seed):
    """Time averages of ``fn(state)`` after ``burn_in`` steps, per path, for every dt (one
    compiled program); returns (means, standard errors across paths), shaped (len(dts), ...)."""

    @jax.jit
    def run(dt, key):
        def one(k):
            return integrate.solve(sde, jnp.zeros(d), k, dt=dt, n_saves=n_saves,
                                   save_every=save_every, scheme=scheme, increments=increments,
                                   observe=lambda y: jnp.zeros(()),
                                   average=(fn, burn_in)).average
        return jax.vmap(one)(jax.random.split(key, paths))

    means, ses = [], []
    for i, dt in enumerate(dts):
        v = np.asarray(run(jnp.asarray(dt), jax.random.key(seed + i)))
        means.append(v.mean(0))
        ses.append(v.std(0, ddof=1) / math.sqrt(paths))
    return np.array(means), np.array(ses)


def _moments(y):
    x = y[0]
    return jnp.stack([jnp.mean(x * x), jnp.mean(x**4)])


# ---------------------------------------------------------------------- Ornstein-Uhlenbeck
OU_D = 256  # independent coordinates per path, lambda = 1, eta = sigma = 1
OU_V = 0.5  # E X^2 = eta sigma^2 / (2 lambda)


def _ou():
    return sdes.sgd_sde(Quadratic(jnp.ones(OU_D)).grad, 1.0, 1.0)


@pytest.mark.parametrize("scheme,increments,dts,order,which", [
    ("euler", "two_point", (0.2, 0.1, 0.05), 1, (0,)),
    ("weak2", "three_point", (0.8, 0.4, 0.2), 2, (0, 1)),
    ("weak2", "four_point", (0.8, 0.4, 0.2), 2, (0, 1)),
    ("weak2", "two_point", (0.4, 0.2, 0.1), 1, (1,)),
])
def test_weak_order_ou(x64, scheme, increments, dts, order, which):
    """Stationary E X^2 (and E X^4) of the OU process: relative errors, fitted order within
    0.25 of the scheme's. Closed-form errors of these recursions, for orientation: two-point
    Euler E X^2: lambda dt / (2 - lambda dt) = 0.111, 0.053, 0.026; Platen three-point:
    E X^2 -0.21, -0.048, -0.011 and E X^4 -0.38, -0.093, -0.022; Platen two-point E X^4:
    -0.32, -0.15, -0.071."""
    means, ses = stationary_means(_ou(), OU_D, _moments, dts, scheme=scheme,
                                  increments=increments, paths=32, n_saves=48, save_every=128,
                                  burn_in=256, seed=10)
    exact = np.array([OU_V, 3 * OU_V**2])
    for k in which:
        errors, se = means[:, k] / exact[k] - 1, ses[:, k] / exact[k]
        p, p_se = fit_order(dts, errors, se)
        print(f"OU {scheme}/{increments} E X^{2 * (k + 1)}: errors {errors} +- {se}; "
              f"order {p:.3f} +- {p_se:.3f}")
        assert abs(p - order) < 0.25 and p_se < 0.1, (p, p_se, errors, se)


# ------------------------------------------------------------------ the SignSGD SDE (1-d law)
def _signsgd_stationary_moment():
    """E X^2 under the stationary density of the SignSGD SDE (Corollary 3.3, docs/paper.md 2.2)
    on f = x^2 / 2 with sigma = eta = 1, b = -erf(x / sqrt 2), g^2 = 1 - erf^2:
    p(x) ~ g(x)^-2 exp(int_0^x 2 b / g^2) (the 1-d zero-flux solution), by Simpson's rule."""
    from scipy.integrate import cumulative_simpson, simpson
    from scipy.special import erf, erfc

    x = np.linspace(0.0, 5.0, 20001)  # symmetric; p(5) / p(0) < 1e-30
    c = erfc(x / math.sqrt(2))
    g2 = c * (2 - c)  # 1 - erf^2 without cancellation
    log_p = cumulative_simpson(-2 * erf(x / math.sqrt(2)) / g2, x=x, initial=0.0) - np.log(g2)
    p = np.exp(log_p - log_p.max())
    return simpson(p * x * x, x=x) / simpson(p, x=x)


@pytest.mark.parametrize("scheme,increments,dts,order", [
    ("euler", "two_point", (0.4, 0.2, 0.1), 1),
    ("weak2", "three_point", (0.8, 0.4, 0.2), 2),
])
def test_weak_order_signsgd_sde(x64, scheme, increments, dts, order):
    """A nonlinear drift and multiplicative noise (Platen's full step, with its diffusion
    evaluations at Ybar+-): stationary E X^2 of the SignSGD SDE against quadrature (measured
    errors about 0.104, 0.050, 0.024 for two-point Euler; -0.082, -0.020, -0.0045 for Platen)."""
    exact = _signsgd_stationary_moment()
    sde = sdes.signsgd_sde(Quadratic(jnp.ones(OU_D)).grad, 1.0, 1.0)
    means, ses = stationary_means(sde, OU_D, _moments, dts, scheme=scheme,
                                  increments=increments, paths=32, n_saves=48, save_every=128,
                                  burn_in=256, seed=40)
    errors, se = means[:, 0] / exact - 1, ses[:, 0] / exact
    p, p_se = fit_order(dts, errors, se)
    print(f"SignSGD {scheme}/{increments}: E X^2 = {exact:.10f}, errors {errors} +- {se}; "
          f"order {p:.3f} +- {p_se:.3f}")
    assert abs(p - order) < 0.25 and p_se < 0.1, (p, p_se, errors, se)


# ------------------------------------------------------------------ linear eq. (2) system
EQ2 = {"eta": 0.1, "beta1": 0.9, "theta": 0.5, "lam": 0.5, "p": 1.0, "s": 1.0}
EQ2_D = 128


def _eq2_matrices():
    """Drift matrix A and noise B of one coordinate's (X, M): dY = A Y dt + B dW."""
    eta, lam, p, s, theta = EQ2["eta"], EQ2["lam"], EQ2["p"], EQ2["s"], EQ2["theta"]
    rho = (1 - EQ2["beta1"]) / eta
    a = np.array([[-eta * rho * lam / p - theta, -(1 - eta * rho) / p], [rho * lam, -rho]])
    b = np.array([[0.0], [math.sqrt(eta) * rho * s]])
    return a, b


def _eq2_exact():
    """Stationary covariance of (X, M) per coordinate: A P + P A^T + B B^T = 0."""
    a, b = _eq2_matrices()
    return solve_continuous_lyapunov(a, -b @ b.T)


def _eq2_scheme_exact(scheme, dt):
    """Stationary covariance of the scheme's own chain Y' = R Y + S Z (any unit-variance
    increments): Euler R = I + A dt, S = B sqrt(dt); Platen with additive noise
    R = I + A dt + (A dt)^2 / 2, S = (I + A dt / 2) B sqrt(dt)."""
    a, b = _eq2_matrices()
    eye = np.eye(2)
    if scheme == "euler":
        r, s = eye + a * dt, b * math.sqrt(dt)
    else:
        r, s = eye + a * dt + a @ a * dt * dt / 2, (eye + a * dt / 2) @ b * math.sqrt(dt)
    return solve_discrete_lyapunov(r, s @ s.T)


def _eq2_moments(y):
    x, m = y
    return jnp.stack([jnp.mean(x * x), jnp.mean(m * m)])


@pytest.mark.parametrize("scheme,increments,dts,order", [
    ("euler", "two_point", (0.2, 0.1, 0.05), 1),
    ("weak2", "three_point", (0.8, 0.4, 0.2), 2),
])
def test_weak_order_linear_eq2(x64, scheme, increments, dts, order):
    """The linear eq. (2) system (rho_1 = 1, theta = 0.5, lambda = 0.5): the order is fitted on
    the stationary E M^2, whose error is in its asymptotic regime at these steps (closed form:
    Euler 0.187, 0.087, 0.042; Platen -0.254, -0.065, -0.016; E X^2 reaches it only at smaller
    steps: Platen -0.022, -0.034, -0.0098). Both moments also match the stationary covariance of
    the scheme's own linear recursion (discrete Lyapunov equation) within 4 standard errors."""
    sde = sdes.adamw_linearised_sde(Quadratic(jnp.full(EQ2_D, EQ2["lam"])).grad, EQ2["eta"],
                                    EQ2["beta1"], EQ2["s"], EQ2["p"], EQ2["theta"])
    cov = _eq2_exact()
    means, ses = stationary_means(sde, EQ2_D, _eq2_moments, dts, scheme=scheme,
                                  increments=increments, paths=32, n_saves=48, save_every=128,
                                  burn_in=256, seed=20)
    exact = np.array([cov[0, 0], cov[1, 1]])
    errors, se = means / exact - 1, ses / exact
    p, p_se = fit_order(dts, errors[:, 1], se[:, 1])
    print(f"eq. (2) {scheme}/{increments}: E X^2 errors {errors[:, 0]}, E M^2 errors "
          f"{errors[:, 1]} +- {se[:, 1]}; order {p:.3f} +- {p_se:.3f}")
    assert abs(p - order) < 0.25 and p_se < 0.1, (p, p_se, errors, se)
    # both moments match the scheme's own stationary covariance (an exact check of the step)
    for i, dt in enumerate(dts):
        c = _eq2_scheme_exact(scheme, dt)
        ref = np.array([c[0, 0], c[1, 1]]) / exact - 1
        assert np.all(np.abs(errors[i] - ref) < 4 * se[i]), (dt, errors[i], ref, se[i])


# ------------------------------------------------------------------- Talay-Tubaro
def test_talay_tubaro_extrapolation_of_two_point_euler(x64):
    """2 E[dt/2] - E[dt] of two-point Euler on the OU's E X^2: closed form of the extrapolated
    relative error 2 e(dt/2) - e(dt) with e(dt) = dt / (2 - dt): -0.167, -0.0278, -0.0059 at
    dt = 0.8, 0.4, 0.2 (local orders 2.58, 2.25, tending to 2; 2.42 fitted over the three).
    Each measured value agrees with it within 4 standard errors, and the fitted order lies in
    (2.1, 2.7) (Euler alone: 1); the smaller steps where it is within 0.25 of 2 would need
    errors below 1e-3, beyond this test's Monte-Carlo budget."""
    dts = np.array([0.8, 0.4, 0.2])
    all_dts = np.concatenate([dts, dts / 2])
    means, ses = stationary_means(_ou(), OU_D, _moments, all_dts, scheme="euler",
                                  increments="two_point", paths=128, n_saves=48,
                                  save_every=128, burn_in=256, seed=30)
    coarse, fine = means[:3, 0] / OU_V - 1, means[3:, 0] / OU_V - 1
    tt = integrate.extrapolate(coarse, fine)
    tt_se = integrate.extrapolate_se(ses[:3, 0] / OU_V, ses[3:, 0] / OU_V)
    e = lambda h: h / (2 - h)  # noqa: E731
    predicted = 2 * e(dts / 2) - e(dts)
    print(f"Talay-Tubaro: errors {tt} +- {tt_se}, predicted {predicted}")
    assert np.all(np.abs(np.asarray(tt) - predicted) < 4 * np.asarray(tt_se))
    p, p_se = fit_order(dts, tt, tt_se)
    print(f"Talay-Tubaro order {p:.3f} +- {p_se:.3f}")
    assert 2.1 < p < 2.7 and p_se < 0.15, (p, p_se)
    out = integrate.talay_tubaro(lambda h: {"e": e(h)}, 0.4)
    np.testing.assert_allclose(out["extrapolated"]["e"], predicted[1], rtol=1e-12)
    np.testing.assert_allclose(out["correction"]["e"], predicted[1] - e(0.2), rtol=1e-12)


# ------------------------------------------------------------------- the coupled pair (dt, dt/2)
def test_coupled_pair_has_each_schemes_law_and_a_low_variance_difference(x64):
    """``solve_pair`` on the OU process dX = -lam X dt + sig dW, X0 = x0: each chain has the
    exact law of Euler-Maruyama at its own step (mean a^n x0, variance sig^2 h (1 - a^{2n}) /
    (1 - a^2) with a = 1 - lam h, checked within 4 standard errors), the averages are each
    chain's own time averages, and on one path the coarse-fine difference of X_T^2 has a
    variance far below that of two independent chains (the point of the coupling)."""
    lam, sig, x0, dt, n_saves, save_every, paths = 2.0, 0.5, 1.0, 0.05, 4, 10, 20000
    q = Quadratic(jnp.full((1,), lam))
    sde = sdes.sgd_sde(q.grad, 1.0, sig)
    keys = jax.random.split(jax.random.key(3), paths)
    sol = jax.jit(jax.vmap(lambda k: integrate.solve_pair(
        sde, jnp.full((1,), x0), k, dt=dt, n_saves=n_saves, save_every=save_every,
        average=(lambda y: y[0] ** 2, 20))))(keys)
    n = n_saves * save_every
    for chain, h, steps in ((sol.coarse, dt, n), (sol.fine, dt / 2, 2 * n)):
        a = 1 - lam * h
        x_t = np.asarray(chain.observations[:, -1, 0])  # (paths, n_saves + 1, d)
        mean, var = a**steps * x0, sig**2 * h * (1 - a ** (2 * steps)) / (1 - a**2)
        assert abs(x_t.mean() - mean) < 4 * math.sqrt(var / paths)
        assert abs(x_t.var() - var) < 4 * var * math.sqrt(2 / paths)
        # the first observation is x0 for both chains
        np.testing.assert_array_equal(np.asarray(chain.observations[:, 0]), x0)
    # time averages over each chain's own grid from coarse step 20 (t = 1) on
    exp_c = np.mean([(1 - lam * dt) ** (2 * k) * x0**2 + sig**2 * dt * (1 - (1 - lam * dt)
                     ** (2 * k)) / (1 - (1 - lam * dt) ** 2) for k in range(20, n)])
    hf = dt / 2
    exp_f = np.mean([(1 - lam * hf) ** (2 * k) * x0**2 + sig**2 * hf * (1 - (1 - lam * hf)
                     ** (2 * k)) / (1 - (1 - lam * hf) ** 2) for k in range(40, 2 * n)])
    for avg, expected in ((sol.coarse.average, exp_c), (sol.fine.average, exp_f)):
        avg = np.asarray(avg)[:, 0]
        assert abs(avg.mean() - expected) < 4 * avg.std() / math.sqrt(paths)
    # the coupling: Var(X_c^2 - X_f^2) on one path is < 1/10 of the independent-chains value
    xc2 = np.asarray(sol.coarse.observations[:, -1, 0]) ** 2
    xf2 = np.asarray(sol.fine.observations[:, -1, 0]) ** 2
    assert np.var(xc2 - xf2) < 0.1 * (np.var(xc2) + np.var(xf2))
