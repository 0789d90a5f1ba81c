r"""Closed forms on the quadratic :math:`f = \tfrac12 x^\top H x`, :math:`H = \mathrm{diag}(\lambda)`,
:math:`\Sigma = \mathrm{diag}(\sigma_i^2)`, batch :math:`B` (docs/paper.md section 3).

Every function takes numpy/jax arrays ``lam`` (the :math:`\lambda_i`) and ``sigma`` (the
per-sample :math:`\sigma_i`, scalar or per coordinate) and applies :math:`\sigma_i \to
\sigma_i/\sqrt{B}` itself. Losses are :math:`E f(X_\infty) - f^*`. Tags: [S] secondhand,
[R] reconstruction, [D] derived by us (derivations in docs/theory.md).
"""

from __future__ import annotations

import functools
import math

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
    r"""SignSGD Phase 3 [D, num-checked] (docs/paper.md 3.3):
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
    r"""AdamW's noise-independent bound :math:`\eta\,\mathrm{Tr}(H)/(4\theta)` (docs/paper.md 3.3 [D])."""
    return float(eta * np.sum(np.asarray(lam, float)) / (4.0 * theta))


def adamw_eq2_asymptotic_loss(lam, sigma, eta, beta1, batch_size=1.0, theta=0.0):
    """Asymptotic loss of the poster's eq. (2) SDE (see :func:`adamw_eq2_stationary_variance`)."""
    return loss_from_variance(lam, adamw_eq2_stationary_variance(lam, sigma, eta, beta1,
                                                                 batch_size, theta))


def asymptotic_loss(optimizer: str, lam, sigma, hp: dict, batch_size=1.0):
    """The docs/paper.md 3.3 limit of ``optimizer`` (sgd, signsgd, rmsprop(w), adam(w)) for ``hp``."""
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


# ---------------------------------------------------------------------- finite momentum (scaling)
def adamw_momentum_stationary_variance(lam, sigma, eta, beta1, batch_size=1.0, theta=0.0):
    r"""AdamW's stationary variance with a *finite* momentum rate :math:`\rho_1 = (1-\beta_1)/\eta`
    [D, num-checked; docs/theory.md "AdamW with finite momentum"]: the docs/paper.md 2.4 SDE without
    eq. (2)'s look-ahead, linearised at :math:`X = 0` with :math:`V = s^2`, :math:`\epsilon = 0`,
    :math:`a = \lambda/s`, solves the Lyapunov equation exactly:

    .. math:: \mathrm{Var}(X_\infty) = \frac{\eta}{2}\,\frac{1}{a + \theta}\,
              \frac{\rho_1}{\rho_1 + \theta}

    i.e. Lemma C.57's :math:`\tfrac\eta2(H\Sigma^{-1/2}+\theta I)^{-1}` times
    :math:`\rho_1/(\rho_1+\theta)` (the :math:`\rho_1\to\infty` limit recovers it; for
    :math:`\theta = 0` the factor is 1). It is invariant under this paper's scaling rule
    (every rate times :math:`\sqrt\delta`) but not under the alternative reading (:math:`\rho_1`
    fixed) or Malladi's (:math:`\theta` fixed).
    """
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    rho = (1.0 - beta1) / eta
    return 0.5 * eta / (lam / s + theta) * rho / (rho + theta)


def adamw_momentum_asymptotic_loss(lam, sigma, eta, beta1, theta, batch_size=1.0):
    r"""AdamW's asymptotic loss with finite momentum [D, num-checked]:
    :math:`\tfrac\eta4\sum_i \frac{\lambda_i s_i}{\lambda_i + \theta s_i}\cdot
    \frac{\rho_1}{\rho_1+\theta}`, :math:`\rho_1 = (1-\beta_1)/\eta`
    (see :func:`adamw_momentum_stationary_variance`)."""
    return loss_from_variance(lam, adamw_momentum_stationary_variance(lam, sigma, eta, beta1,
                                                                      batch_size, theta))


# ---------------------------------------------------------------------- discrete time (stationary)
def sgd_discrete_stationary_variance(lam, sigma, eta, batch_size=1.0):
    r"""SGD optimizer, exact in discrete time [D, docs/theory.md "Stationary variances in discrete
    time"]: :math:`x_{k+1} = (1-\eta\lambda)x_k - \eta s z_k` gives
    :math:`\mathrm{Var}(x_\infty) = \eta s^2/(\lambda(2-\eta\lambda))`, Lemma 3.8's
    :math:`\tfrac\eta2 s^2/\lambda` times :math:`1/(1-\eta\lambda/2)`. The Euler-Maruyama scheme of
    the SGD SDE with :math:`\Delta t = \eta` is the same recursion."""
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    return eta * s**2 / (lam * (2.0 - eta * lam))


def signsgd_discrete_stationary_variance(lam, sigma, eta, batch_size=1.0):
    r"""SignSGD optimizer in discrete time, Gaussian closure [D, docs/theory.md "Stationary
    variances in discrete time"]: :math:`E x_{k+1}^2 = E x_k^2 - 2\eta E[x_k\,\mathrm{erf}(c x_k)]
    + \eta^2` (since :math:`\mathrm{sign}^2 = 1`), :math:`c = \lambda/(\sqrt2 s)`, and
    :math:`E[x\,\mathrm{erf}(cx)] = 2cv/\sqrt{\pi(1+2c^2v)}` for :math:`x \sim N(0, v)` give

    .. math:: \mathrm{Var}(x_\infty) = \frac{\eta}{2a}\left(q + \sqrt{1+q^2}\right),\qquad
              a = \sqrt{2/\pi}\,\lambda/s,\quad q = \pi\eta a/8,

    i.e. :math:`\tfrac\eta2\sqrt{\pi/2}\,s/\lambda\,(1 + \pi\eta a/8 + O(\eta^2))`: the
    :math:`O(\eta)` factor of the optimizer is :math:`1 + \pi\eta a/8`, not the continuous
    Phase-3 SDE's :math:`1/(1+\eta a/2)` (:func:`signsgd_stationary_variance`). The SignSGD SDE
    (Corollary 3.3) integrated by Euler-Maruyama with :math:`\Delta t = \eta` has the same
    second-moment recursion, hence the same value."""
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    a = SQRT_2_OVER_PI * lam / s
    q = np.pi * eta * a / 8.0
    return eta / (2.0 * a) * (q + np.sqrt(1.0 + q * q))


def _lyapunov2_discrete(a11, a12, a21, a22, b1, b2):
    r"""Stationary covariance ``(c11, c12, c22)`` of :math:`y_{k+1} = A y_k + b z_k`,
    :math:`z_k \sim N(0,1)` i.i.d., :math:`y \in R^2` (:math:`C = ACA^\top + bb^\top`;
    elementwise over broadcast arrays; the spectral radius of A must be below 1)."""
    a11, a12, a21, a22, b1, b2 = np.broadcast_arrays(*(np.asarray(v, float) for v in
                                                       (a11, a12, a21, a22, b1, b2)))
    M = np.zeros(a11.shape + (3, 3))
    M[..., 0, :] = np.stack([1 - a11**2, -2 * a11 * a12, -(a12**2)], -1)
    M[..., 1, :] = np.stack([-a11 * a21, 1 - (a11 * a22 + a12 * a21), -a12 * a22], -1)
    M[..., 2, :] = np.stack([-(a21**2), -2 * a21 * a22, 1 - a22**2], -1)
    rhs = np.stack([b1 * b1, b1 * b2, b2 * b2], -1)[..., None]
    c = np.linalg.solve(M, rhs)[..., 0]
    return c[..., 0], c[..., 1], c[..., 2]


def adamw_discrete_stationary_variance(lam, sigma, eta, beta1, batch_size=1.0, theta=0.0,
                                       scheme="optimizer", iterations=30, substeps=1):
    r"""Adam(W) in discrete time, linearised at the minimum [D, docs/theory.md "Stationary
    variances in discrete time"]: bias corrections 1, :math:`\epsilon = 0`, preconditioner held at
    :math:`p = \sqrt{E v} = \sqrt{s^2 + \lambda^2\mathrm{Var}(x)}` (solved self-consistently with
    ``iterations`` fixed-point steps). Per coordinate, with :math:`b = \beta_1`,

    .. math::
        m_{k+1} &= b\,m_k + (1-b)(\lambda x_k + s z_k) \\
        x_{k+1} &= (1-\eta\theta)x_k - \tfrac{\eta}{p}\bigl(b\,m_k + (1-b)\lambda x_k
                   + \kappa(1-b) s z_k\bigr)

    with :math:`\kappa = 1` for the optimizer (``scheme="optimizer"``) and :math:`\kappa = 0` for
    the Euler-Maruyama scheme (:math:`\Delta t = \eta`) of the poster's eq. (2) SDE
    (``scheme="eq2_em"``), whose look-ahead :math:`M + \eta\rho_1(\nabla f - M)` is
    :math:`m_{k+1}` without this step's noise. Returns :math:`\mathrm{Var}(x_\infty)` from the
    discrete Lyapunov equation of :math:`(x, m)`. As :math:`\eta \to 0` at fixed
    :math:`\rho_1 = (1-\beta_1)/\eta` the optimizer's value tends to
    :func:`adamw_momentum_stationary_variance` and the eq. (2) scheme's to
    :func:`adamw_eq2_stationary_variance`.

    ``substeps`` :math:`k` (``scheme="eq2_em"`` only): the same scheme at :math:`h = \Delta t =
    \eta/k`; with :math:`c = h\rho_1 = (1-b)/k`,
    :math:`m_{n+1} = (1-c)m_n + c\lambda x_n + \sqrt k\,c\,s\,z_n` (the noise
    :math:`\sqrt\eta\rho_1 s\,\Delta W`, :math:`\Delta W \sim N(0, h)`) and
    :math:`x_{n+1} = (1-h\theta)x_n - \tfrac hp(b\,m_n + (1-b)\lambda x_n)`; as
    :math:`k \to \infty` the stationary variance of the continuous SDE with the same
    self-consistent :math:`p` (weak order 1 in :math:`1/k`)."""
    if scheme not in ("optimizer", "eq2_em"):
        raise ValueError(f"scheme must be 'optimizer' or 'eq2_em', got {scheme!r}")
    k = int(substeps)
    if k < 1 or (k > 1 and scheme != "eq2_em"):
        raise ValueError(f"substeps must be a positive integer, and 1 unless scheme='eq2_em'; "
                         f"got {substeps!r}")
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, batch_size)
    b = float(beta1)
    kappa = 1.0 if scheme == "optimizer" else 0.0
    h, c = eta / k, (1.0 - b) / k
    a22 = b + (1.0 - b) * (1.0 - 1.0 / k)  # 1 - c, and exactly b at k = 1
    p = s
    for _ in range(iterations):
        var, _, _ = _lyapunov2_discrete(1 - h * theta - (h / p) * (1 - b) * lam,
                                        -(h / p) * b, c * lam, a22,
                                        -kappa * (h / p) * (1 - b) * s, math.sqrt(k) * c * s)
        p = np.sqrt(s * s + lam * lam * var)
    return var


# ---------------------------------------------------------------------- Phase-3 bound without linearisation
def signsgd_bound_erf(t, f0, mu, L, d, sigma, eta, batch_size=1.0, y_max=1.0):
    r"""SignSGD bound for paths whose SNR stays in :math:`|Y_i| \le y_{\max}` (Phase 3 for
    :math:`y_{\max} = 1`), *without* the linearisation :math:`\mathrm{erf}(Y) \approx 2Y/\sqrt\pi`
    [D, docs/theory.md "SignSGD bound in Phase 3 without linearisation"]. Since
    :math:`\mathrm{erf}(y)/y` decreases in :math:`|y|`, :math:`x\,\mathrm{erf}(Y) \ge
    (\mathrm{erf}(y_{\max})/y_{\max})\,xY`, and Ito's formula on the Corollary 3.3 SDE (or one step
    of the optimizer) gives rate and limit

    .. math:: r = \sqrt2\,\mu\,\frac{\mathrm{erf}(y_{\max})}{y_{\max}}\frac{\sqrt B}{\sigma},
              \qquad \text{limit} = \frac{\eta L d}{2r}.

    As :math:`y_{\max} \to 0` this is :func:`signsgd_bound` (rate :math:`2\mu\sqrt{2/\pi}\sqrt
    B/\sigma`); at :math:`y_{\max} = 1` the rate is :math:`\mathrm{erf}(1)\sqrt\pi/2 = 0.747`
    times that and the limit :math:`1/0.747 = 1.34` times larger."""
    t = np.asarray(t, float)
    ratio = math.erf(y_max) / y_max if y_max > 0 else 2.0 / math.sqrt(math.pi)
    r = np.sqrt(2.0) * mu * ratio * np.sqrt(batch_size) / sigma
    limit = eta * L * d / (2.0 * r)
    return f0 * np.exp(-r * t) + (1.0 - np.exp(-r * t)) * limit


# ---------------------------------------------------------------------- SignSGD phases (Lemma 3.4)
PHASE_THRESHOLDS = (1.0, 1.5)


def signsgd_phase2_constants() -> tuple[float, float]:
    r"""Phase-2 interpolation constants of Lemma 3.4 [D; the paper's exact values are unknown,
    docs/paper.md 2.2]: :math:`\mathrm{erf}(Y) \approx mY + q\,\mathrm{sign}(Y)` on
    :math:`1 < |Y| < 3/2`, the chord of erf through :math:`Y = 1` and :math:`Y = 3/2`:
    :math:`m = 2(\mathrm{erf}(3/2) - \mathrm{erf}(1)) \approx 0.2468`,
    :math:`q = \mathrm{erf}(1) - m \approx 0.5959`."""
    m = 2.0 * (math.erf(1.5) - math.erf(1.0))
    return m, math.erf(1.0) - m


def signsgd_phase(y):
    r"""The phase of Lemma 3.4 [V thresholds, docs/paper.md 2.2] of each coordinate of the SNR
    :math:`Y = \sqrt{B}\Sigma^{-1/2}\nabla f/\sqrt2`: 1 where :math:`|Y| \ge 3/2`, 2 where
    :math:`1 \le |Y| < 3/2`, 3 where :math:`|Y| < 1` (integer array)."""
    a = np.abs(np.asarray(y, float))
    return np.where(a >= 1.5, 1, np.where(a >= 1.0, 2, 3))


def signsgd_phase_approximation(y, phase: int | None = None):
    r"""Lemma 3.4's approximations of the SignSGD drift :math:`\mathrm{erf}(Y)` (docs/paper.md 2.2
    [V thresholds, R form, D phase-2 constants]):

    * phase 1, :math:`|Y| \ge 3/2`: :math:`\mathrm{sign}(Y)` (SignGD);
    * phase 2, :math:`1 \le |Y| < 3/2`: :math:`mY + q\,\mathrm{sign}(Y)`
      (:func:`signsgd_phase2_constants`);
    * phase 3, :math:`|Y| < 1`: :math:`(2/\sqrt\pi)\,Y`.

    ``phase`` = 1, 2 or 3 evaluates that approximation at every ``y``; ``None`` (default) uses
    the phase of each ``y`` (the phase-wise drift, discontinuous at :math:`|Y| = 1, 3/2`)."""
    y = np.asarray(y, float)
    m, q = signsgd_phase2_constants()
    approx = {1: np.sign(y), 2: m * y + q * np.sign(y), 3: 2.0 / math.sqrt(math.pi) * y}
    if phase is not None:
        if phase not in approx:
            raise ValueError(f"phase must be 1, 2 or 3, got {phase!r}")
        return approx[phase]
    ph = signsgd_phase(y)
    return np.where(ph == 1, approx[1], np.where(ph == 2, approx[2], approx[3]))


def signsgd_phase_max_error(phase: int) -> float:
    r"""Largest error :math:`\sup|\mathrm{erf}(Y) - A_p(Y)|` of phase ``phase``'s approximation
    over its own interval [D, docs/theory.md "SignSGD's three phases"]:

    * phase 1: :math:`1 - \mathrm{erf}(3/2) \approx 0.0339` (at :math:`|Y| = 3/2`);
    * phase 2: erf is concave on :math:`[1, 3/2]` and the chord touches it at both ends, so the
      error peaks where :math:`\mathrm{erf}'(Y^*) = m`, :math:`Y^* = \sqrt{\ln(2/(m\sqrt\pi))}
      \approx 1.233`: :math:`\mathrm{erf}(Y^*) - mY^* - q \approx 0.0183`;
    * phase 3: :math:`(2/\sqrt\pi)Y - \mathrm{erf}(Y)` increases on :math:`[0, 1)`, so the
      supremum is :math:`2/\sqrt\pi - \mathrm{erf}(1) \approx 0.2856` (34% of the drift) at the
      phase boundary.
    """
    if phase == 1:
        return 1.0 - math.erf(1.5)
    if phase == 2:
        m, q = signsgd_phase2_constants()
        y = math.sqrt(math.log(2.0 / (m * math.sqrt(math.pi))))
        return math.erf(y) - m * y - q
    if phase == 3:
        return 2.0 / math.sqrt(math.pi) - math.erf(1.0)
    raise ValueError(f"phase must be 1, 2 or 3, got {phase!r}")


def signsgd_snr(x, lam, sigma, batch_size=1.0):
    r"""SNR of the SignSGD SDE on the quadratic (docs/paper.md 2.2 [V name, R definition]):
    :math:`Y = \sqrt{B}\,\Sigma^{-1/2}\nabla f(x)/\sqrt2 = \lambda x/(\sqrt2\,s)`,
    :math:`s = \sigma/\sqrt B` (``x`` may carry leading axes; the last is the coordinate)."""
    lam = np.asarray(lam, float)
    return lam * np.asarray(x, float) / (math.sqrt(2.0) * _s(sigma, lam, batch_size))


def signgd_ode_position(t, x0):
    r"""Phase-1 dynamics of Lemma 3.4, the SignGD ODE :math:`\dot x = -\mathrm{sign}(\nabla f(x))`
    on the quadratic (docs/paper.md 2.2 [V "behaves like SignGD", D solution]): every coordinate moves
    towards 0 at unit speed and stays there, :math:`x_i(t) = \mathrm{sign}(x_{0,i})
    \max(|x_{0,i}| - t, 0)`. Returns shape ``(len(t), d)``."""
    t = np.asarray(t, float)[:, None]
    x0 = np.atleast_1d(np.asarray(x0, float))
    return np.sign(x0) * np.maximum(np.abs(x0) - t, 0.0)


def signgd_ode_loss(t, lam, x0):
    r""":math:`f` along :func:`signgd_ode_position`:
    :math:`\tfrac12\sum_i\lambda_i\max(|x_{0,i}| - t, 0)^2`."""
    lam = np.asarray(lam, float)
    x = signgd_ode_position(t, np.broadcast_to(np.asarray(x0, float), lam.shape))
    return 0.5 * np.sum(lam * x * x, axis=-1)


# ---------------------------------------------------------------------- SignSGD, Student-t noise
def student_t_density_at_zero(nu):
    r""":math:`p_\nu(0) = \Gamma((\nu+1)/2)/(\sqrt{\nu\pi}\,\Gamma(\nu/2))` (docs/paper.md 2.2 [D]);
    :math:`1/\pi` at :math:`\nu = 1`, :math:`1/(2\sqrt2)` at :math:`\nu = 2` and
    :math:`1/\sqrt{2\pi}` at :math:`\nu = \infty` (Gaussian). Computed with log-gamma, so large
    :math:`\nu` is accurate."""
    nu = np.asarray(nu, float)
    if np.any(nu <= 0):
        raise ValueError(f"nu must be positive, got {nu}")
    from scipy.special import gammaln

    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.exp(gammaln((nu + 1) / 2) - gammaln(nu / 2)) / np.sqrt(nu * np.pi)
    out = np.where(np.isinf(nu), 1.0 / math.sqrt(2.0 * math.pi), finite)
    return float(out) if out.ndim == 0 else out


def signsgd_phase3_rate(lam, sigma, batch_size=1.0, nu=np.inf):
    r"""Phase-3 decay rate of :math:`E[X_{t,i}]` for SignSGD (docs/paper.md 2.2/3.3/3.4 [R/D]):
    linearising :math:`E\,\mathrm{sign}(\lambda x + s\xi) = 2F(\lambda x/s) - 1 \approx
    2p(0)\lambda x/s` gives :math:`a_i = 2p(0)\lambda_i/s_i`, i.e.
    :math:`\sqrt{2/\pi}\sqrt{B}\lambda_i/\sigma_i` for Gaussian noise (``nu`` = inf) and
    :math:`2p_\nu(0)\lambda_i/\sigma_i` for Student-t (where no batch size enters: use
    ``batch_size`` = 1)."""
    lam = np.asarray(lam, float)
    return 2.0 * student_t_density_at_zero(nu) * lam / _s(sigma, lam, batch_size)


def signsgd_student_t_stationary_variance(lam, sigma, eta, nu, corrected=True):
    r"""SignSGD's stationary variance under Student-t(:math:`\nu`) noise of scale
    :math:`\Sigma^{1/2}` (docs/paper.md 3.4 [R/D]; docs/theory.md "SignSGD under Student-t noise"):

    .. math:: \mathrm{Var}(X_{\infty,i}) = \frac{\eta}{2a_i}\,\frac{1}{1 + \eta a_i/2}
              \approx \frac{\eta\sigma_i}{4p_\nu(0)\lambda_i},\qquad
              a_i = 2p_\nu(0)\lambda_i/\sigma_i,

    the exact stationary variance of the linearised (Phase-3) SDE; ``corrected=False`` drops
    the :math:`O(\eta)` factor (docs/paper.md 3.4's form: :math:`\pi\eta\sigma/(4\lambda)` at
    :math:`\nu = 1`, :math:`\eta\sigma/(\sqrt2\lambda)` at :math:`\nu = 2`). ``nu`` = inf gives
    :func:`signsgd_stationary_variance` (Gaussian, :math:`B = 1`)."""
    a = signsgd_phase3_rate(lam, sigma, 1.0, nu)
    var = 0.5 * eta / a
    if corrected:
        var = var / (1.0 + 0.5 * eta * a)
    return var


@functools.cache
def _hermegauss(n: int):
    return np.polynomial.hermite_e.hermegauss(n)


def _gauss_hermite_expect(fun, var, n=80):
    r""":math:`E[\mathrm{fun}(x)]` for :math:`x \sim N(0, \mathrm{var})` (elementwise in var),
    Gauss-Hermite quadrature with ``n`` nodes (computed once per ``n``)."""
    z, w = _hermegauss(n)
    var = np.asarray(var, float)
    x = np.sqrt(var)[..., None] * z
    return np.sum(w * fun(x), axis=-1) / math.sqrt(2.0 * math.pi)


def signsgd_student_t_discrete_stationary_variance(lam, sigma, eta, nu, iterations=60):
    r"""SignSGD *optimizer* (discrete time) under Student-t(:math:`\nu`) noise, Gaussian closure
    [D, docs/theory.md "SignSGD under Student-t noise"]. Since :math:`\mathrm{sign}^2 = 1`,
    :math:`E x_{k+1}^2 = E x_k^2 - 2\eta E[x_k m(\lambda x_k/\sigma)] + \eta^2` with
    :math:`m = 2F_\nu - 1`, so the stationary law satisfies :math:`E[x\,m(\lambda x/\sigma)] =
    \eta/2` exactly. Closing with :math:`x \sim N(0, v)` and Stein's lemma,
    :math:`E[x\,m(\kappa x)] = 2\kappa v\,E[p_\nu(\kappa x)]`, :math:`\kappa = \lambda/\sigma`,
    gives the fixed point

    .. math:: v = \frac{\eta}{4\kappa\,E_{x\sim N(0,v)}[p_\nu(\kappa x)]}
              = \frac{\eta}{2a}\Bigl(1 + \frac{\nu+1}{\nu}\,\frac{\eta a}{16\,p_\nu(0)^2}
              + O(\eta^2)\Bigr),\qquad a = 2p_\nu(0)\kappa,

    solved here by ``iterations`` fixed-point steps with Gauss-Hermite quadrature. ``nu`` = inf
    is the Gaussian closure (:func:`signsgd_discrete_stationary_variance`, whose
    :math:`O(\eta)` factor is :math:`1 + \pi\eta a/8`). The Euler-Maruyama scheme of the
    Student-t SignSGD SDE with :math:`\Delta t = \eta` has the same second-moment recursion."""
    from scipy import stats

    lam = np.asarray(lam, float)
    kappa = lam / _s(sigma, lam, 1.0)
    nu = float(nu)
    pdf = stats.norm.pdf if math.isinf(nu) else (lambda u: stats.t.pdf(u, nu))
    v = signsgd_student_t_stationary_variance(lam, sigma, eta, nu, corrected=False)
    for _ in range(iterations):
        ep = _gauss_hermite_expect(lambda x: pdf(kappa[..., None] * x), v)
        v = eta / (4.0 * kappa * ep)
    return v


def signsgd_student_t_asymptotic_loss(lam, sigma, eta, nu, corrected=True, discrete=False):
    r"""SignSGD's asymptotic loss under Student-t(:math:`\nu`) noise (docs/paper.md 3.4 [R/D]):
    :math:`\tfrac12\sum_i\lambda_i\mathrm{Var}(X_{\infty,i}) \approx
    \eta\,\mathrm{Tr}(\Sigma^{1/2})/(8p_\nu(0))`, finite and linear in the scale for every
    :math:`\nu > 0`. ``discrete`` uses :func:`signsgd_student_t_discrete_stationary_variance`
    (the optimizer's :math:`O(\eta)` correction), otherwise
    :func:`signsgd_student_t_stationary_variance` with ``corrected``."""
    if discrete:
        var = signsgd_student_t_discrete_stationary_variance(lam, sigma, eta, nu)
    else:
        var = signsgd_student_t_stationary_variance(lam, sigma, eta, nu, corrected)
    return loss_from_variance(lam, var)


def sgd_student_t_asymptotic_loss(lam, sigma, eta, nu):
    r"""SGD's asymptotic loss under Student-t(:math:`\nu`) noise [D]: the noise variance is
    :math:`\sigma^2\nu/(\nu-2)`, so (exactly, in discrete time)
    :math:`\tfrac12\sum_i \lambda_i\,\eta\sigma_i^2\nu/((\nu-2)\lambda_i(2-\eta\lambda_i))
    \approx \eta\,\mathrm{Tr}(\Sigma)\,\nu/(4(\nu-2))` for :math:`\nu > 2`, and ``inf`` for
    :math:`\nu \le 2` (infinite variance: no stationary loss). ``nu`` = inf is Gaussian."""
    lam = np.asarray(lam, float)
    nu = float(nu)
    if nu <= 2.0:
        return float("inf")
    factor = 1.0 if math.isinf(nu) else nu / (nu - 2.0)
    s = _s(sigma, lam, 1.0)
    return loss_from_variance(lam, factor * eta * s**2 / (lam * (2.0 - eta * lam)))


def signsgd_phase3_transit_time(a, y_end, y_start=1.0):
    r"""Time the mean path of the SignSGD SDE (Corollary 3.3) takes from :math:`|Y| = y_{start}`
    to :math:`|Y| = y_{end}` [D, docs/theory.md "SignSGD's three phases"]. Per coordinate
    :math:`\dot x = -\mathrm{erf}(Y)`, :math:`Y = \lambda x/(\sqrt2 s)`, so
    :math:`\dot Y = -a\tfrac{\sqrt\pi}{2}\mathrm{erf}(Y)` with :math:`a = \sqrt{2/\pi}\lambda/s`
    (:func:`signsgd_phase3_rate`) and

    .. math:: T = \frac{2}{a\sqrt\pi}\int_{y_{end}}^{y_{start}}\frac{dy}{\mathrm{erf}(y)},

    against :math:`\ln(y_{start}/y_{end})/a` for the linearised Phase-3 drift (the two agree as
    :math:`y_{start} \to 0`; from :math:`y_{start} = 1` the erf path is slower, its local rate
    being :math:`a\,\mathrm{erf}(Y)\sqrt\pi/(2Y)`, :math:`0.75a` at :math:`|Y| = 1`). The spread
    of :math:`X_t` around its mean is neglected (it is :math:`O(\sqrt{\eta})`)."""
    from scipy.integrate import quad

    if not 0 < y_end < y_start:
        raise ValueError(f"need 0 < y_end < y_start, got {y_end}, {y_start}")
    integral, _ = quad(lambda y: 1.0 / math.erf(y), y_end, y_start)
    return 2.0 / (np.asarray(a, float) * math.sqrt(math.pi)) * integral


# ---------------------------------------------------------------------- SGD, heavy tails
def sgd_cauchy_exceedance_lower_bound(lam, sigma, eta, level):
    r"""SGD under Cauchy noise (:math:`\nu = 1`): a lower bound on :math:`P(f(x_\infty) > L)`
    [D, docs/theory.md "SGD under heavy tails"]. The recursion :math:`x_{k+1} = (1-\eta\lambda)
    x_k - \eta\sigma T_k` is linear, and sums of Cauchy variables are Cauchy with added scales,
    so :math:`x_{\infty,i}` is Cauchy with scale :math:`\gamma_i = \eta\sigma_i/(1 -
    |1-\eta\lambda_i|)` (:math:`= \sigma_i/\lambda_i` for :math:`\eta\lambda_i < 1`): its loss
    has no mean. Since :math:`f = \sum_i \tfrac12\lambda_i x_i^2 \ge \max_i \tfrac12\lambda_i
    x_i^2` and the coordinates are independent,

    .. math:: P(f > L) \ge 1 - \prod_i \tfrac{2}{\pi}\arctan\sqrt{2L/(\lambda_i\gamma_i^2)}

    (exact for :math:`d = 1`)."""
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, 1.0)
    gamma = eta * s / (1.0 - np.abs(1.0 - eta * lam))
    below = 2.0 / np.pi * np.arctan(np.sqrt(2.0 * level / (lam * gamma**2)))
    return float(1.0 - np.prod(below))


def student_t_tail_constant(nu) -> float:
    r""":math:`C_\nu` in :math:`P(|T| > t) \simeq C_\nu t^{-\nu}` (:math:`t \to \infty`) for
    :math:`T \sim t_\nu`: :math:`C_\nu = 2p_\nu(0)\,\nu^{(\nu-1)/2}` [D] (the density is
    :math:`p_\nu(0)(1 + t^2/\nu)^{-(\nu+1)/2}`); :math:`2/\pi` at :math:`\nu = 1`, 1 at
    :math:`\nu = 2`."""
    nu = float(nu)
    return 2.0 * student_t_density_at_zero(nu) * nu ** ((nu - 1.0) / 2.0)


def sgd_student_t_exceedance_tail(lam, sigma, eta, nu, level):
    r"""SGD under Student-t(:math:`\nu`) noise: the single-big-jump tail of the stationary loss
    [D, docs/theory.md "SGD under heavy tails"], asymptotically exact as :math:`L \to \infty`.
    :math:`x_{\infty,i} = -\eta\sigma_i\sum_k r_i^k T_k`, :math:`r_i = 1-\eta\lambda_i`, exceeds
    :math:`c_i = \sqrt{2L/\lambda_i}` mostly through one large :math:`T_k`, so with
    :func:`student_t_tail_constant`

    .. math:: P(f(x_\infty) > L) \simeq \sum_i C_\nu
              \frac{(\eta\sigma_i/c_i)^\nu}{1 - |r_i|^\nu}
              \;\overset{\nu=2}{=}\; \sum_i \frac{\eta\sigma_i^2}{2L(2-\eta\lambda_i)}
              = \frac{\bar f_G}{L},

    where :math:`\bar f_G` is SGD's (discrete-time) stationary loss under *Gaussian* noise of
    the same scale. A tail :math:`\propto L^{-\nu/2}` with :math:`\nu \le 2` means
    :math:`E f(x_\infty) = \infty` (logarithmically at :math:`\nu = 2`): no stationary loss.
    At moderate :math:`L` the bulk of the sum adds to it (the tail is approached from above)."""
    lam = np.asarray(lam, float)
    s = _s(sigma, lam, 1.0)
    nu = float(nu)
    c = np.sqrt(2.0 * level / lam)
    r = np.abs(1.0 - eta * lam)
    return float(np.sum(student_t_tail_constant(nu) * (eta * s / c) ** nu / (1.0 - r**nu)))
