"""Closed forms: the docs/paper.md 3.3 limits in their special cases, and the eq. (2) SDE's own
stationary variance against the Lyapunov equation of its linearisation."""

import numpy as np
import pytest
import scipy.linalg

from adasde import theory

LAM = np.linspace(0.5, 2.0, 8)


def test_isotropic_limits():
    eta, s, d = 1e-3, 3.0, 8
    assert theory.sgd_asymptotic_loss(LAM, s, eta) == pytest.approx(eta * d * s**2 / 4)
    assert theory.adam_asymptotic_loss(LAM, s, eta) == pytest.approx(eta * d * s / 4)
    assert theory.signsgd_asymptotic_loss(LAM, s, eta, corrected=False) == pytest.approx(
        np.sqrt(np.pi / 2) * eta * d * s / 4)


def test_batch_size_enters_as_sigma_over_sqrt_b():
    eta = 1e-2
    assert theory.sgd_asymptotic_loss(LAM, 2.0, eta, 4) == pytest.approx(
        theory.sgd_asymptotic_loss(LAM, 1.0, eta))
    assert theory.adamw_asymptotic_loss(LAM, 2.0, eta, 0.5, 4) == pytest.approx(
        theory.adamw_asymptotic_loss(LAM, 1.0, eta, 0.5))


def test_adamw_limit_saturates_at_cap_and_reduces_to_adam():
    eta, theta = 1e-3, 2.0
    cap = theory.adamw_loss_cap(LAM, eta, theta)
    values = [theory.adamw_asymptotic_loss(LAM, s, eta, theta) for s in (1e-2, 1, 1e2, 1e6)]
    assert np.all(np.diff(values) > 0) and values[-1] < cap
    assert values[-1] == pytest.approx(cap, rel=1e-5)
    assert theory.adamw_asymptotic_loss(LAM, 0.3, eta, 1e-12) == pytest.approx(
        theory.adam_asymptotic_loss(LAM, 0.3, eta), rel=1e-9)


def test_signsgd_correction_factor():
    eta, lam, s = 0.1, np.array([2.0]), 0.5
    v = theory.signsgd_stationary_variance(lam, s, eta)
    a = np.sqrt(2 / np.pi) * lam / s
    # stationary point of dE[X^2] = -2a E[X^2] + eta (1 - (2/pi) lam^2 E[X^2] / s^2)
    np.testing.assert_allclose(-2 * a * v + eta * (1 - 2 / np.pi * lam**2 * v / s**2), 0,
                               atol=1e-15)


@pytest.mark.parametrize("theta", [0.0, 0.7])
@pytest.mark.parametrize("beta1", [0.9, 0.99])
def test_eq2_variance_solves_the_lyapunov_equation(theta, beta1):
    eta, s = 0.01, 1.3
    for lam in (0.5, 2.0):
        a, rho = lam / s, (1 - beta1) / eta
        A = np.array([[-(1 - beta1) * a - theta, -beta1], [rho * a, -rho]])
        P = scipy.linalg.solve_continuous_lyapunov(A, -np.diag([0.0, eta * rho**2]))
        ours = theory.adamw_eq2_stationary_variance(np.array([lam]), s, eta, beta1, 1.0, theta)
        np.testing.assert_allclose(ours, P[0, 0], rtol=1e-10)
    # theta = 0 closed form: (eta / 2a) beta1^2 / (1 + eta a)
    if theta == 0.0:
        a = 2.0 / s
        np.testing.assert_allclose(
            theory.adamw_eq2_stationary_variance(np.array([2.0]), s, eta, beta1),
            eta / (2 * a) * beta1**2 / (1 + eta * a), rtol=1e-12)


def test_bounds_start_at_f0_and_tend_to_limit():
    t = np.array([0.0, 1e6])
    b = theory.sgd_bound(t, 5.0, 0.5, 2.0, 8, 1.0, 1e-2)
    assert b[0] == pytest.approx(5.0) and b[1] == pytest.approx(1e-2 * 2 * 8 / (4 * 0.5))
    b = theory.signsgd_bound(t, 5.0, 0.5, 2.0, 8, 1.0, 1e-2)
    assert b[1] == pytest.approx(np.sqrt(np.pi / 2) * 1e-2 * 2 * 8 / (4 * 0.5))


def test_asymptotic_loss_dispatch():
    hp = {"eta": 1e-3, "theta": 1.0}
    assert theory.asymptotic_loss("rmspropw", LAM, 1.0, hp) == theory.adamw_asymptotic_loss(
        LAM, 1.0, 1e-3, 1.0)
    with pytest.raises(ValueError, match="nope"):
        theory.asymptotic_loss("nope", LAM, 1.0, hp)


def _eq2_scheme_oracle(lam, eta, b1, B, theta, k, iterations=30):
    """Var(x) of (x, m) <- A (x, m) + g z per coordinate, h = eta/k, c = (1 - b1)/k:
    m' = (1-c) m + c lam x + sqrt(k) c s z, x' = (1 - h theta) x - (h/p)(b1 m + (1-b1) lam x)."""
    s = 1.0 / np.sqrt(B)
    h, c = eta / k, (1 - b1) / k
    out = []
    for li in lam:
        p = s
        for _ in range(iterations):
            A = np.array([[1 - h * theta - (h / p) * (1 - b1) * li, -(h / p) * b1],
                          [c * li, 1 - c]])
            g = np.array([[0.0], [np.sqrt(k) * c * s]])
            var = scipy.linalg.solve_discrete_lyapunov(A, g @ g.T)[0, 0]
            p = np.sqrt(s * s + li * li * var)
        out.append(var)
    return np.array(out)


def eq2_scheme(lam, eta, b1, B, theta, k):
    return theory.adamw_discrete_stationary_variance(lam, 1.0, eta, b1, B, theta,
                                                     scheme="eq2_em", substeps=k)


def test_eq2_scheme_variance_is_eq2_em_at_one_substep_and_tends_to_the_sde():
    lam = np.linspace(0.5, 2.0, 8)
    for eta, b1, theta, B in ((0.01, 0.975, 1.0, 1.0), (0.04, 0.6, 4.0, 16.0)):
        em = theory.adamw_discrete_stationary_variance(lam, 1.0, eta, b1, B, theta,
                                                       scheme="eq2_em")
        np.testing.assert_allclose(eq2_scheme(lam, eta, b1, B, theta, 1), em,
                                   rtol=1e-12)
        # every k against the explicit recursion's Lyapunov equation (scipy), same fixed point
        for k in (1, 3):
            np.testing.assert_allclose(eq2_scheme(lam, eta, b1, B, theta, k),
                                       _eq2_scheme_oracle(lam, eta, b1, B, theta, k), rtol=1e-9)
        fine = eq2_scheme(lam, eta, b1, B, theta, 4096)
        # weak order 1: the error at k and 2k substeps halves
        e = [eq2_scheme(lam, eta, b1, B, theta, k) - fine for k in (16, 32)]
        np.testing.assert_allclose(e[1] / e[0], 0.5, atol=0.03)
        # the continuous closed form holds V at s^2 (not self-consistent): close, not equal
        cont = theory.adamw_eq2_stationary_variance(lam, 1.0, eta, b1, B, theta)
        np.testing.assert_allclose(fine, cont, rtol=0.02)



def test_eq2_scheme_substeps_only_for_the_sde_scheme():
    with pytest.raises(ValueError, match="substeps"):
        theory.adamw_discrete_stationary_variance(1.0, 1.0, 0.01, 0.9, substeps=2)
    with pytest.raises(ValueError, match="substeps"):
        theory.adamw_discrete_stationary_variance(1.0, 1.0, 0.01, 0.9, scheme="eq2_em",
                                                  substeps=0)
