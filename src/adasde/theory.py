r"""Closed forms on the quadratic :math:`f = \tfrac12 x^\top H x`, :math:`H = \mathrm{diag}(\lambda)`,
:math:`\Sigma = \mathrm{diag}(\sigma_i^2)`, batch :math:`B` (paper.md section 3).

Every function takes numpy/jax arrays ``lam`` (the :math:`\lambda_i`) and ``sigma`` (the
per-sample :math:`\sigma_i`, scalar or per coordinate) and applies :math:`\sigma_i \to
\sigma_i/\sqrt{B}` itself. Losses are :math:`E f(X_\infty) - f^*`. Tags: [S] secondhand,
[R] reconstruction, [D] derived by us (derivations in docs/theory.md).
"""

from __future__ import annotations

import numpy as np

SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _s(sigma, lam, batch_size):
    return np.broadcast_to(np.asarray(sigma, float), np.shape(lam)) / np.sqrt(batch_size)


# ---------------------------------------------------------------------- stationary covariances
def sgd_stationary_variance(lam, sigma, eta, batch_size=1.0):
    r"""SGD, Lemma 3.8 [S, source 3]: :math:`\mathrm{Cov}(X_\infty) = \tfrac{\eta}{2} H^{-1}\Sigma/B`."""
    lam = np.asarray(lam, float)
    return 0.5 * eta * _s(sigma, lam, batch_size) ** 2 / lam


def signsgd_stationary_variance(lam, sigma, eta, batch_size=1.0, corrected=True):
    r"""SignSGD Phase 3 [D, num-checked] (paper.md 3.3):
    :math:`\tfrac{\eta}{2}\sqrt{\pi/2}\,\Sigma^{1/2}H^{-1}(I + \tfrac{\eta}{2}\sqrt{2/\pi}H\Sigma^{-1/2})^{-1}`.

    Derived from :math:`dE[X_i^2] = -2a_iE[X_i^2] + \eta(1 - \tfrac2\pi\lambda_i^2E[X_i^2]/s_i^2)`,
    :math:`a_i = \sqrt{2/\pi}\lambda_i/s_i`; ``corrected=False`` drops the :math:`O(\eta)` factor.
    """
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    var = 0.5 * eta * s / (SQRT_2_OVER_PI * lam)
    if corrected:
        var = var / (1.0 + 0.5 * eta * SQRT_2_OVER_PI * lam / s)
    return var


def adamw_stationary_variance(lam, sigma, eta, batch_size=1.0, theta=0.0):
    r"""Adam(W)/RMSprop(W), Lemmas C.52/C.57 [S, source 3]:
    :math:`\mathrm{Cov}(X_\infty) = \tfrac{\eta}{2}(H\Sigma^{-1/2} + \theta I)^{-1}`
    (:math:`\theta = 0`: Adam, :math:`\tfrac\eta2\Sigma^{1/2}H^{-1}`); assumes :math:`\epsilon\approx0`."""
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    return 0.5 * eta / (lam / s + theta)


def adamw_eq2_stationary_variance(lam, sigma, eta, beta1, batch_size=1.0, theta=0.0):
    r"""Stationary variance of the poster's eq. (2) SDE itself, with its look-ahead drift
    :math:`M_t + \eta\rho_1(\nabla f - M_t)` [D, see docs/theory.md]. Linearised at
    :math:`X = 0` with :math:`V = s^2`, :math:`\gamma_i = 1`, :math:`\epsilon = 0`,
    :math:`a = \lambda/s`, :math:`b = \beta_1`, :math:`\rho = \rho_1 = (1-\beta_1)/\eta`,
    :math:`k = (1-\beta_1)a + \theta`, the Lyapunov equation gives

    .. math:: \mathrm{Var}(X_\infty) = \frac{b^2\,\eta\rho}{2\,[k(k + \rho + b a) + \rho a b]}

    which for :math:`\theta = 0` is :math:`\tfrac{\eta}{2a}\,\beta_1^2/(1+\eta a)`: the look-ahead
    damps without injecting the matching noise, so the SDE's plateau is lower than the
    optimizer's by about :math:`\beta_1^2`.
    """
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    a = lam / s
    b = beta1
    rho = (1.0 - beta1) / eta
    k = (1.0 - beta1) * a + theta
    return b * b * eta * rho / (2.0 * (k * (k + rho + b * a) + rho * a * b))


# ---------------------------------------------------------------------- asymptotic losses
def loss_from_variance(lam, var):
    r""":math:`E f(X_\infty) = \tfrac12\sum_i \lambda_i \mathrm{Var}(X_{\infty,i})` (zero mean)."""
    return 0.5 * float(np.sum(np.asarray(lam, float) * var))


def sgd_asymptotic_loss(lam, sigma, eta, batch_size=1.0):
    r"""SGD [D, num-checked]: :math:`\eta\,\mathrm{Tr}(\Sigma)/(4B)` (:math:`= \eta d\sigma^2/(4B)`)."""
    return loss_from_variance(lam, sgd_stationary_variance(lam, sigma, eta, batch_size))


def signsgd_asymptotic_loss(lam, sigma, eta, batch_size=1.0, corrected=True):
    r"""SignSGD Phase 3 [D, num-checked]: :math:`\approx\sqrt{\pi/2}\,\eta\,\mathrm{Tr}(\Sigma^{1/2})
    /(4\sqrt B)`, with the :math:`O(\eta)` factor of :func:`signsgd_stationary_variance`."""
    return loss_from_variance(lam, signsgd_stationary_variance(lam, sigma, eta, batch_size,
                                                               corrected))


def adam_asymptotic_loss(lam, sigma, eta, batch_size=1.0):
    r"""Adam/RMSprop [D, num-checked]: :math:`\eta\,\mathrm{Tr}(\Sigma^{1/2})/(4\sqrt B)`."""
    return loss_from_variance(lam, adamw_stationary_variance(lam, sigma, eta, batch_size, 0.0))


def adamw_asymptotic_loss(lam, sigma, eta, theta, batch_size=1.0):
    r"""AdamW/RMSpropW [D, num-checked]: :math:`\tfrac\eta4\sum_i \lambda_i s_i/(\lambda_i +
    \theta s_i)`, :math:`s_i = \sigma_i/\sqrt B`; bounded by :func:`adamw_loss_cap`."""
    return loss_from_variance(lam, adamw_stationary_variance(lam, sigma, eta, batch_size, theta))


def adamw_loss_cap(lam, eta, theta):
    r"""AdamW's noise-independent bound :math:`\eta\,\mathrm{Tr}(H)/(4\theta)` (paper.md 3.3 [D])."""
    return float(eta * np.sum(np.asarray(lam, float)) / (4.0 * theta))


def adamw_eq2_asymptotic_loss(lam, sigma, eta, beta1, batch_size=1.0, theta=0.0):
    """Asymptotic loss of the poster's eq. (2) SDE (see :func:`adamw_eq2_stationary_variance`)."""
    return loss_from_variance(lam, adamw_eq2_stationary_variance(lam, sigma, eta, beta1,
                                                                 batch_size, theta))


def asymptotic_loss(optimizer: str, lam, sigma, hp: dict, batch_size=1.0):
    """The paper.md 3.3 limit of ``optimizer`` (sgd, signsgd, rmsprop(w), adam(w)) for ``hp``."""
    eta = hp["eta"]
    if optimizer == "sgd":
        return sgd_asymptotic_loss(lam, sigma, eta, batch_size)
    if optimizer == "signsgd":
        return signsgd_asymptotic_loss(lam, sigma, eta, batch_size)
    if optimizer in ("adam", "rmsprop"):
        return adam_asymptotic_loss(lam, sigma, eta, batch_size)
    if optimizer in ("adamw", "rmspropw"):
        return adamw_asymptotic_loss(lam, sigma, eta, hp["theta"], batch_size)
    raise ValueError(f"no closed-form asymptotic loss for optimizer {optimizer!r}")


# ---------------------------------------------------------------------- convergence bounds
def sgd_bound(t, f0, mu, L, d, sigma, eta, batch_size=1.0):
    r"""Poster Theorem 1 [V poster, D re-derived]: :math:`(f_0 - f^*)e^{-2\mu t} +
    (1 - e^{-2\mu t})\,\eta L d\sigma^2/(4\mu B)`."""
    t = np.asarray(t, float)
    r = 2.0 * mu
    limit = eta * L * d * sigma**2 / (4.0 * mu * batch_size)
    return f0 * np.exp(-r * t) + (1.0 - np.exp(-r * t)) * limit


def signsgd_bound(t, f0, mu, L, d, sigma, eta, batch_size=1.0):
    r"""Poster Theorem 2, Phase 3 [D]: rate :math:`r = 2\mu\sqrt{2/\pi}\sqrt{B}/\sigma_{\max}`,
    limit :math:`\sqrt{\pi/2}\,\eta L d\sigma_{\max}/(4\mu\sqrt B)`."""
    t = np.asarray(t, float)
    r = 2.0 * mu * SQRT_2_OVER_PI * np.sqrt(batch_size) / sigma
    limit = eta * L * d * sigma / (4.0 * mu * SQRT_2_OVER_PI * np.sqrt(batch_size))
    return f0 * np.exp(-r * t) + (1.0 - np.exp(-r * t)) * limit
