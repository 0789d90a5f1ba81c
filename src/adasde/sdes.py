r"""Drift and diffusion of the paper's SDEs (and, for comparison, Malladi et al.'s).

Every SDE is an :class:`SDE`: a state (a tuple of pytrees shaped like the parameters ``x``),
a drift :math:`b(t, y)` and a *diagonal* diffusion :math:`g(t, y)` multiplying one Brownian
motion :math:`W` shaped like ``x``:

.. math:: dY_t = b(t, Y_t)\,dt + g(t, Y_t) \odot dW_t

``diffusion`` returns ``None`` for a state component without noise. Every SDE built here also
has ``drift_diffusion(t, y) -> (b, g)``, which evaluates the gradient once for both (the
integrators call it through :meth:`SDE.coefficients`; ``drift`` and ``diffusion`` are its two
halves, kept for callers that need one). Time is SDE time :math:`t = k\eta` (one optimizer step
is :math:`\eta` units). The gradient oracle is :math:`\nabla f_\gamma(x) = \nabla f(x) + Z`
with :math:`\mathrm{Cov}(Z) = \Sigma/B`; ``sigma`` is the per-coordinate standard deviation of
:math:`Z` (already divided by :math:`\sqrt{B}`), a scalar or a pytree shaped like ``x``.
Equation tags follow ``docs/paper.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, erf

_tmap = jax.tree_util.tree_map

SDE_NAMES = (
    "sgd",
    "signsgd",
    "signsgd_phase3",
    "rmsprop",
    "rmspropw",
    "adam",
    "adamw",
    "malladi_rmsprop",
    "malladi_adam",
)


class SDE(NamedTuple):
    """An Ito SDE with diagonal noise: ``init(x0) -> y0``, ``drift(t, y)``, ``diffusion(t, y)``
    (same structure as ``y``, ``None`` where a component has no noise) and ``position(y) -> x``.

    Optional: ``drift_diffusion(t, y) -> (drift, diffusion)``, both from one evaluation of the
    gradient (``None``: :meth:`coefficients` calls ``drift`` and ``diffusion``), and
    ``additive`` (the diffusion depends on neither ``t`` nor ``y``; the weak order-2 scheme then
    skips its two extra diffusion evaluations, :func:`adasde.integrate.platen_step`).
    """

    init: Callable
    drift: Callable
    diffusion: Callable
    position: Callable
    drift_diffusion: Callable | None = None
    additive: bool = False

    def coefficients(self, t, y):
        """``(drift(t, y), diffusion(t, y))``, with one gradient evaluation where the SDE has a
        ``drift_diffusion``."""
        if self.drift_diffusion is not None:
            return self.drift_diffusion(t, y)
        return self.drift(t, y), self.diffusion(t, y)


def from_coefficients(init: Callable, drift_diffusion: Callable, position: Callable | None = None,
                      additive: bool = False) -> SDE:
    """An :class:`SDE` from a combined ``drift_diffusion(t, y) -> (drift, diffusion)``;
    ``drift`` and ``diffusion`` are its halves (the unused half is dead code under ``jit``)."""
    return SDE(init, lambda t, y: drift_diffusion(t, y)[0],
               lambda t, y: drift_diffusion(t, y)[1], position or _first, drift_diffusion,
               additive)


def _bcast(sigma, x):
    """Broadcast a scalar ``sigma`` to a pytree shaped like ``x`` (pytrees pass through)."""
    if isinstance(sigma, (dict, list, tuple)) or jnp.ndim(sigma) > 0:
        if jax.tree_util.tree_structure(sigma) == jax.tree_util.tree_structure(x):
            return sigma
    return _tmap(lambda xi: jnp.broadcast_to(jnp.asarray(sigma, xi.dtype), xi.shape), x)


def _first(y):
    return y[0]


def _single(x0):
    return (x0,)


# --------------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------------
def sgd_sde(grad: Callable, eta, sigma) -> SDE:
    r"""SGD SDE (docs/paper.md 2.1 [R; Li et al. 2017]):
    :math:`dX_t = -\nabla f(X_t)\,dt + \sqrt{\eta}\,(\Sigma/B)^{1/2} dW_t` (additive noise; on
    the quadratic an Ornstein-Uhlenbeck process)."""

    def drift_diffusion(t, y):
        return ((_tmap(jnp.negative, grad(y[0])),),
                (_tmap(lambda s: jnp.sqrt(eta) * s, _bcast(sigma, y[0])),))

    return from_coefficients(_single, drift_diffusion, additive=True)


# --------------------------------------------------------------------------------------------
# SignSGD
# --------------------------------------------------------------------------------------------
def expected_sign(a, noise: str = "gaussian", nu=None):
    r""":math:`E[\mathrm{sign}(a + \xi)] = 1 - 2P(a + \xi < 0)` for symmetric unit noise
    :math:`\xi` (the SignSGD drift of Theorem 3.2, docs/paper.md 2.2, with
    :math:`a = \nabla f/\sigma`).

    * Gaussian (Corollary 3.3 [R form, D derivation]): :math:`\mathrm{erf}(a/\sqrt{2})`.
    * Student-t(:math:`\nu`) (docs/paper.md 2.2 [R/D]): :math:`2F_\nu(a) - 1 =
      \mathrm{sign}(a)\,(1 - I_{\nu/(\nu+a^2)}(\nu/2, 1/2))` with :math:`I` the regularised
      incomplete beta function; :math:`\nu=1` gives :math:`(2/\pi)\arctan a`, :math:`\nu = 2`
      gives :math:`a/\sqrt{2+a^2}`.
    """
    if noise == "gaussian":
        return erf(a / math.sqrt(2.0))
    if noise == "student_t":
        nu = jnp.asarray(nu, jnp.result_type(a))
        return jnp.sign(a) * (1.0 - betainc(nu / 2, jnp.asarray(0.5, nu.dtype), nu / (nu + a * a)))
    raise ValueError(f"unknown noise kind {noise!r}; allowed: gaussian, student_t")


def _sign_family(grad: Callable, eta, sigma, mean_sign: Callable) -> SDE:
    r"""The SignSGD family :math:`dX = -e(X)\,dt + \sqrt{\eta}\sqrt{(I - \mathrm{diag}(e)^2)_+}
    \,dW` for a per-coordinate mean sign :math:`e = ` ``mean_sign(grad, sigma)``: drift and
    diffusion from one gradient evaluation."""

    def drift_diffusion(t, y):
        e = _tmap(mean_sign, grad(y[0]), _bcast(sigma, y[0]))
        return ((_tmap(jnp.negative, e),),
                (_tmap(lambda ei: jnp.sqrt(eta * jnp.clip(1.0 - ei * ei, 0.0)), e),))

    return from_coefficients(_single, drift_diffusion)


def signsgd_sde(grad: Callable, eta, sigma, noise: str = "gaussian", nu=None) -> SDE:
    r"""SignSGD SDE, Theorem 3.2 / Corollary 3.3 (docs/paper.md 2.2 [R form, D derivation]):

    .. math:: dX_t = -E[\mathrm{sign}\,\nabla f_\gamma(X_t)]\,dt
              + \sqrt{\eta}\sqrt{I - \mathrm{diag}(E[\mathrm{sign}\,\nabla f_\gamma(X_t)])^2}\,dW_t

    with :math:`E[\mathrm{sign}\,\nabla f_\gamma] = \mathrm{Erf}(\Sigma^{-1/2}\nabla f/\sqrt2)` for
    Gaussian noise (Corollary 3.3) and :math:`2F_\nu(\Sigma^{-1/2}\nabla f) - 1` for Student-t
    (heavy-tailed case); see :func:`expected_sign`. Coordinates are independent (diagonal
    :math:`\Sigma`), so :math:`\bar\Sigma = \mathrm{Cov}(\mathrm{sign}\,\nabla f_\gamma)` is
    diagonal.
    """
    return _sign_family(grad, eta, sigma, lambda g, s: expected_sign(g / s, noise, nu))


def signsgd_phase3_sde(grad: Callable, eta, sigma) -> SDE:
    r"""SignSGD Phase-3 SDE, poster eq. (1) / Lemma 3.4 (docs/paper.md 2.2 [V poster]):

    .. math:: dX_t = -\sqrt{2/\pi}\,\Sigma^{-1/2}\nabla f(X_t)\,dt + \sqrt{\eta}
              \sqrt{I - \tfrac{2}{\pi}\mathrm{diag}(\Sigma^{-1/2}\nabla f(X_t))^2}\,dW_t

    (with batch B, :math:`\Sigma^{-1/2} \to \sqrt{B}\Sigma^{-1/2}`, folded into ``sigma``). The
    radicand is clipped at 0 outside Phase 3, where :math:`|\Sigma^{-1/2}\nabla f| > \sqrt{\pi/2}`.
    """
    c = math.sqrt(2.0 / math.pi)

    def drift_diffusion(t, y):
        g, s = grad(y[0]), _bcast(sigma, y[0])
        return ((_tmap(lambda gi, si: -c * gi / si, g, s),),
                (_tmap(lambda gi, si: jnp.sqrt(eta * jnp.clip(1.0 - c * c * (gi / si) ** 2, 0.0)),
                       g, s),))

    return from_coefficients(_single, drift_diffusion)


def phasewise_expected_sign(y):
    r"""Lemma 3.4's phase-wise approximation :math:`A(Y)` of :math:`\mathrm{erf}(Y)`
    (docs/paper.md 2.2 [V thresholds, R form, D phase-2 constants]), coordinate by coordinate:
    :math:`\mathrm{sign}(Y)` for :math:`|Y| \ge 3/2`, :math:`mY + q\,\mathrm{sign}(Y)` for
    :math:`1 \le |Y| < 3/2` (:func:`adasde.theory.signsgd_phase2_constants`),
    :math:`(2/\sqrt\pi)Y` for :math:`|Y| < 1`. The jax twin of
    :func:`adasde.theory.signsgd_phase_approximation`."""
    # the chord constants of adasde.theory.signsgd_phase2_constants, inline so that SDE jobs do
    # not depend on the theory module (tests/test_signsgd_phases.py checks they agree)
    m = 2.0 * (math.erf(1.5) - math.erf(1.0))
    q = math.erf(1.0) - m
    a = jnp.abs(y)
    s = jnp.sign(y)
    linear = (2.0 / math.sqrt(math.pi)) * y
    return jnp.where(a >= 1.5, s, jnp.where(a >= 1.0, m * y + q * s, linear))


def signsgd_phasewise_sde(grad: Callable, eta, sigma) -> SDE:
    r"""The phase-wise approximate SignSGD dynamics of Lemma 3.4 (docs/paper.md 2.2 [V
    thresholds, R form, D phase-2 constants :math:`m, q`]): the Corollary 3.3 SDE with
    :math:`\mathrm{Erf}(Y)` replaced, coordinate by coordinate, by the approximation of the phase
    :math:`Y_i = \Sigma^{-1/2}\nabla f/\sqrt2` is in (:func:`phasewise_expected_sign`):

    .. math:: dX_t = -A(Y_t)\,dt + \sqrt{\eta}\sqrt{(I - \mathrm{diag}(A(Y_t))^2)_+}\,dW_t

    i.e. SignGD (:math:`-\mathrm{sign}\,\nabla f`, no noise) in Phase 1, the linear interpolation
    in Phase 2 and the Phase-3 SDE :math:`-\sqrt{2/\pi}\Sigma^{-1/2}\nabla f\,dt + \dots` in
    Phase 3. The radicand is clipped at 0 (it is negative for :math:`2/\sqrt\pi \cdot |Y| > 1`,
    near the Phase 2/3 boundary), as in :func:`signsgd_phase3_sde`. With batch B,
    :math:`\Sigma^{-1/2} \to \sqrt B\Sigma^{-1/2}` is folded into ``sigma``.
    """
    root2 = math.sqrt(2.0)
    return _sign_family(grad, eta, sigma, lambda g, s: phasewise_expected_sign(g / (root2 * s)))


# --------------------------------------------------------------------------------------------
# RMSprop(W) and Adam(W): Compagnoni et al. (eq. (2) family) and Malladi et al., with flags
# --------------------------------------------------------------------------------------------
def _v_target(g, s):
    r""":math:`(\nabla f)^2 + \mathrm{diag}\,\Sigma`, the stationary target of :math:`V_t`."""
    return g * g + s * s


def adaptive_sde(grad: Callable, eta, beta2, sigma, *, beta1=None, eps=0.0, theta=0.0, v0=0.0,
                 v_lookahead: bool = True, grad_in_v: bool = True,
                 m_lookahead: bool = True) -> SDE:
    r"""The RMSprop(W) / Adam(W) SDEs of Compagnoni et al. and of Malladi et al., written once.

    ``beta1=None`` gives the RMSprop form (state :math:`(X, V)`), a number the Adam form
    (state :math:`(X, M, V)`), with :math:`\rho_i = (1-\beta_i)/\eta` and
    :math:`\gamma_i(t) = 1 - e^{-\rho_i (t + \eta)}` (bias corrections at :math:`t + \eta`):

    .. math::
        \text{RMSprop:}\quad dX_t &= -P_t^{-1}\left(\nabla f(X_t)\,dt + \sqrt{\eta}\,
              \Sigma^{1/2} dW_t\right) - \theta X_t\,dt, \qquad
              P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon I \\
        \text{Adam:}\quad dX_t &= -\frac{\sqrt{\gamma_2(t)}}{\gamma_1(t)} P_t^{-1}\tilde M_t\,dt
              - \theta X_t\,dt, \qquad
              dM_t = \rho_1(\nabla f(X_t) - M_t)\,dt + \sqrt{\eta}\,\rho_1\Sigma^{1/2} dW_t, \\
              &\qquad P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon\sqrt{\gamma_2(t)}\, I \\
        dV_t &= \rho_2\left(T_t - V_t\right) dt

    The flags are the only differences between the four SDEs:

    * ``grad_in_v`` (the target of :math:`V`): :math:`T = (\nabla f)^2 + \mathrm{diag}\,\Sigma`
      (Compagnoni et al., docs/paper.md 2.3-2.4) or, if false, :math:`T = \mathrm{diag}\,\Sigma`
      (Malladi et al., docs/paper.md 2.5: the preconditioner sees only the noise);
    * ``m_lookahead`` (Adam only): :math:`\tilde M = M + \eta\rho_1(\nabla f - M)`, poster
      eq. (2)'s look-ahead, or, if false, :math:`\tilde M = M` (Malladi et al.);
    * ``v_lookahead``: :math:`\tilde V = V + \eta\rho_2(T - V)` (our :math:`O(\eta)` start-up
      convention that keeps :math:`P_0` finite at :math:`V_0 = 0`, docs/theory.md, "Start-up of
      the adaptive SDEs") or :math:`\tilde V = V`.

    Drift and diffusion come from one evaluation of ``grad`` (``drift_diffusion``). Adam's noise
    (on :math:`M`) is additive.
    """
    rho2 = (1.0 - beta2) / eta

    def target(g, s):
        return _tmap(_v_target if grad_in_v else (lambda gi, si: si * si), g, s)

    def lookahead(v, tgt):
        if not v_lookahead:
            return v
        return _tmap(lambda vi, ti: vi + eta * rho2 * (ti - vi), v, tgt)

    if beta1 is None:
        def rms_drift_diffusion(t, y):
            x, v = y
            s = _bcast(sigma, x)
            g = grad(x)
            tgt = target(g, s)
            p = _tmap(lambda vi: jnp.sqrt(jnp.clip(vi, 0.0)) + eps, lookahead(v, tgt))
            dx = _tmap(lambda gi, pi, xi: -gi / pi - theta * xi, g, p, x)
            dv = _tmap(lambda ti, vi: rho2 * (ti - vi), tgt, v)
            gx = _tmap(lambda si, pi: jnp.sqrt(eta) * si / pi, s, p)
            return (dx, dv), (gx, None)

        def rms_init(x0):
            return (x0, _tmap(lambda xi: jnp.full_like(xi, v0), x0))

        return from_coefficients(rms_init, rms_drift_diffusion)

    rho1 = (1.0 - beta1) / eta

    def adam_drift_diffusion(t, y):
        x, m, v = y
        s = _bcast(sigma, x)
        g = grad(x)
        tt = t + eta
        gam1 = 1.0 - jnp.exp(-rho1 * tt)
        gam2 = 1.0 - jnp.exp(-rho2 * tt)
        tgt = target(g, s)
        vt = lookahead(v, tgt)

        def dx_leaf(mi, gi, vi, xi):
            p = jnp.sqrt(jnp.clip(vi, 0.0)) + eps * jnp.sqrt(gam2)
            mt = mi + eta * rho1 * (gi - mi) if m_lookahead else mi
            return -(jnp.sqrt(gam2) / gam1) * mt / p - theta * xi

        dx = _tmap(dx_leaf, m, g, vt, x)
        dm = _tmap(lambda gi, mi: rho1 * (gi - mi), g, m)
        dv = _tmap(lambda ti, vi: rho2 * (ti - vi), tgt, v)
        gm = _tmap(lambda si: jnp.sqrt(eta) * rho1 * si, s)
        return (dx, dm, dv), (None, gm, None)

    def adam_init(x0):
        zeros = _tmap(jnp.zeros_like, x0)
        return (x0, zeros, _tmap(lambda xi: jnp.full_like(xi, v0), x0))

    return from_coefficients(adam_init, adam_drift_diffusion, additive=True)


def rmspropw_sde(grad: Callable, eta, beta2, sigma, eps=0.0, theta=0.0, v0=0.0,
                 v_lookahead: bool = True) -> SDE:
    r"""RMSprop(W) SDE (docs/paper.md 2.3 [R]; theta = 0 gives RMSprop),
    :math:`\rho_2 = (1-\beta_2)/\eta`:

    .. math::
        dX_t &= -P_t^{-1}\left(\nabla f(X_t)\,dt + \sqrt{\eta}\,\Sigma^{1/2} dW_t\right)
                - \theta X_t\,dt \\
        dV_t &= \rho_2\left((\nabla f(X_t))^2 + \mathrm{diag}\,\Sigma - V_t\right) dt, \qquad
        P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon I

    With ``v_lookahead`` (default) :math:`\tilde V_t = V_t + \eta\rho_2((\nabla f)^2 +
    \mathrm{diag}\Sigma - V_t)`, the drift of :math:`v_{k+1}` that the discrete step divides by;
    this is an :math:`O(\eta)` change (within the order-1 weak error) that keeps :math:`P_0`
    finite at :math:`V_0 = 0`, where the paper's :math:`\tilde V = V` is singular for
    :math:`\epsilon = 0` (docs/theory.md, "Start-up of the adaptive SDEs").
    :func:`adaptive_sde` with ``beta1=None``.
    """
    return adaptive_sde(grad, eta, beta2, sigma, eps=eps, theta=theta, v0=v0,
                        v_lookahead=v_lookahead)


def adamw_sde(grad: Callable, eta, beta1, beta2, sigma, eps=0.0, theta=0.0, v0=0.0,
              v_lookahead: bool = True) -> SDE:
    r"""Adam(W) SDE, poster eq. (2) (docs/paper.md 2.4 [V poster]; theta = 0 gives Adam), with
    :math:`\beta_i = 1 - \eta\rho_i` and :math:`\gamma_i(t) = 1 - e^{-\rho_i t}`:

    .. math::
        dX_t &= -\frac{\sqrt{\gamma_2(t)}}{\gamma_1(t)} P_t^{-1}
                \left(M_t + \eta\rho_1(\nabla f(X_t) - M_t)\right) dt - \theta X_t\,dt \\
        dM_t &= \rho_1(\nabla f(X_t) - M_t)\,dt + \sqrt{\eta}\,\rho_1\,\Sigma^{1/2} dW_t \\
        dV_t &= \rho_2\left((\nabla f(X_t))^2 + \mathrm{diag}\,\Sigma - V_t\right) dt, \qquad
        P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon\sqrt{\gamma_2(t)}\, I

    The bias corrections are evaluated at :math:`t + \eta` (step k divides by
    :math:`1 - \beta_i^{k+1}`), which keeps the :math:`t = 0` drift finite; ``v_lookahead``
    applies to :math:`V` the same :math:`O(\eta)` look-ahead that eq. (2) applies to :math:`M`
    (see :func:`rmspropw_sde` and docs/theory.md). Both are :math:`O(\eta)` changes.
    :func:`adaptive_sde` with ``beta1`` given.
    """
    return adaptive_sde(grad, eta, beta2, sigma, beta1=beta1, eps=eps, theta=theta, v0=v0,
                        v_lookahead=v_lookahead)


def malladi_rmsprop_sde(grad: Callable, eta, beta2, sigma, eps=0.0, theta=0.0, v0=0.0,
                        v_lookahead: bool = True) -> SDE:
    r"""Malladi et al.'s RMSprop SDE (their Def. 4.1; docs/paper.md 2.5 [R]) in our time units
    (derivation: docs/theory.md, "Malladi et al.'s SDEs in our time units").

    Native form, time :math:`\tau = k\eta^2`, noise :math:`\sigma_M z` with
    :math:`\mathrm{Cov}\,z = \Sigma_M`, :math:`\sigma_0 = \sigma_M\eta`, :math:`\epsilon_0 =
    \epsilon\eta`, :math:`c_2 = (1-\beta_2)/\eta^2`:

    .. math::
        dX_\tau = -P_\tau^{-1}(\nabla f\,d\tau + \sigma_0\Sigma_M^{1/2} dW_\tau), \quad
        du_\tau = c_2(\mathrm{diag}\,\Sigma_M - u_\tau)\,d\tau, \quad
        P_\tau = \sigma_0\,\mathrm{diag}(u_\tau)^{1/2} + \epsilon_0 I.

    With :math:`\tau = \eta t`, :math:`W_{\eta t} \overset{d}{=} \sqrt\eta\,W'_t`, and the
    state :math:`V = \sigma_M^2 u` in the optimizer's units of :math:`v_k` (so that
    :math:`P_\tau = \eta(\sqrt{V} + \epsilon)`) this is, with :math:`\rho_2 = (1-\beta_2)/\eta`
    and :math:`\Sigma = \sigma_M^2\Sigma_M` (``sigma`` is :math:`\Sigma^{1/2}`):

    .. math::
        dX_t &= -P_t^{-1}\left(\nabla f(X_t)\,dt + \sqrt{\eta}\,\Sigma^{1/2} dW_t\right)
                - \theta X_t\,dt \\
        dV_t &= \rho_2\left(\mathrm{diag}\,\Sigma - V_t\right) dt, \qquad
        P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon I

    i.e. :func:`rmspropw_sde` *without* :math:`(\nabla f)^2` in the :math:`V`-drift: the
    preconditioner sees only the noise (:func:`adaptive_sde` with ``grad_in_v=False``). One
    Euler-Maruyama step with :math:`\Delta t = \eta` is the native step with
    :math:`\Delta\tau = \eta^2`, i.e. one optimizer step.
    Malladi et al. have no weight decay: ``theta`` > 0 adds the decoupled :math:`-\theta X_t\,dt`
    of :func:`rmspropw_sde` (**our extension**, so that the SDE can be set beside RMSpropW).
    ``v_lookahead`` (default) uses :math:`\tilde V_t = V_t + \eta\rho_2(\mathrm{diag}\Sigma -
    V_t)`, the same :math:`O(\eta)` start-up convention as :func:`rmspropw_sde`, which keeps
    :math:`P_0` finite at :math:`V_0 = 0`, :math:`\epsilon = 0`.
    """
    return adaptive_sde(grad, eta, beta2, sigma, eps=eps, theta=theta, v0=v0,
                        v_lookahead=v_lookahead, grad_in_v=False)


def malladi_adam_sde(grad: Callable, eta, beta1, beta2, sigma, eps=0.0, theta=0.0, v0=0.0,
                     v_lookahead: bool = True) -> SDE:
    r"""Malladi et al.'s Adam SDE (their Def. 4.4; docs/paper.md 2.5 [R]) in our time units
    (derivation: docs/theory.md, "Malladi et al.'s SDEs in our time units").

    Native form, :math:`\tau = k\eta^2`, :math:`c_i = (1-\beta_i)/\eta^2`,
    :math:`\gamma_i(\tau) = 1 - e^{-c_i\tau}`:

    .. math::
        dX_\tau = -\frac{\sqrt{\gamma_2}}{\gamma_1}P_\tau^{-1} m_\tau\,d\tau, \quad
        dm_\tau = c_1(\nabla f - m_\tau)\,d\tau + \sigma_0 c_1\Sigma_M^{1/2} dW_\tau, \quad
        du_\tau = c_2(\mathrm{diag}\,\Sigma_M - u_\tau)\,d\tau, \quad
        P_\tau = \sigma_0\,\mathrm{diag}(u_\tau)^{1/2} + \epsilon_0\sqrt{\gamma_2}\,I.

    With :math:`\tau = \eta t`, :math:`V = \sigma_M^2 u`, :math:`\rho_i = (1-\beta_i)/\eta`
    (so :math:`c_i\tau = \rho_i t`, and :math:`\sigma_0 c_1\sqrt\eta = \sqrt\eta\rho_1\sigma_M`):

    .. math::
        dX_t &= -\frac{\sqrt{\gamma_2(t)}}{\gamma_1(t)} P_t^{-1} M_t\,dt - \theta X_t\,dt \\
        dM_t &= \rho_1(\nabla f(X_t) - M_t)\,dt + \sqrt{\eta}\,\rho_1\,\Sigma^{1/2} dW_t \\
        dV_t &= \rho_2\left(\mathrm{diag}\,\Sigma - V_t\right) dt, \qquad
        P_t = \mathrm{diag}(\tilde V_t)^{1/2} + \epsilon\sqrt{\gamma_2(t)}\, I

    i.e. :func:`adamw_sde` without eq. (2)'s look-ahead on :math:`M` and without
    :math:`(\nabla f)^2` in the :math:`V`-drift (:func:`adaptive_sde` with
    ``grad_in_v=False, m_lookahead=False``). ``theta`` > 0 adds :math:`-\theta X_t\,dt`
    (**our extension**; Malladi et al. have no decoupled weight decay). As in
    :func:`adamw_sde`, the bias corrections are evaluated at :math:`t + \eta` and ``v_lookahead``
    uses :math:`\tilde V_t = V_t + \eta\rho_2(\mathrm{diag}\Sigma - V_t)` (:math:`O(\eta)` start-up
    conventions that keep the :math:`t = 0` drift finite).
    """
    return adaptive_sde(grad, eta, beta2, sigma, beta1=beta1, eps=eps, theta=theta, v0=v0,
                        v_lookahead=v_lookahead, grad_in_v=False, m_lookahead=False)


def adamw_linearised_sde(grad: Callable, eta, beta1, sigma, p, theta=0.0) -> SDE:
    r"""Poster eq. (2) (docs/paper.md 2.4) near the minimum with :math:`V_t` held at
    :math:`p^2`, :math:`\gamma_i = 1` and :math:`\epsilon = 0` (docs/theory.md, "Stationary loss
    of the eq. (2) SDE"); state :math:`(X, M)`, :math:`\rho_1 = (1-\beta_1)/\eta`:

    .. math::
        dX_t = -\frac{1}{p}\left(M_t + \eta\rho_1(\nabla f(X_t) - M_t)\right) dt
               - \theta X_t\,dt, \qquad
        dM_t = \rho_1(\nabla f(X_t) - M_t)\,dt + \sqrt{\eta}\,\rho_1\,\Sigma^{1/2} dW_t.

    Linear with additive noise when ``grad`` is linear (the quadratic): its stationary
    covariance solves the Lyapunov equation :math:`AP + PA^\top + BB^\top = 0` (the weak-order
    tests and the equal-accuracy benchmark use it). ``p`` is a scalar or shaped like ``x``.
    """
    rho1 = (1.0 - beta1) / eta

    def drift_diffusion(t, y):
        x, m = y
        g = grad(x)
        pp = _bcast(p, x)
        dx = _tmap(lambda mi, gi, pi, xi: -(mi + eta * rho1 * (gi - mi)) / pi - theta * xi,
                   m, g, pp, x)
        dm = _tmap(lambda gi, mi: rho1 * (gi - mi), g, m)
        gm = _tmap(lambda si: jnp.sqrt(eta) * rho1 * si, _bcast(sigma, x))
        return (dx, dm), (None, gm)

    def init(x0):
        return (x0, _tmap(jnp.zeros_like, x0))

    return from_coefficients(init, drift_diffusion, additive=True)


def make(name: str, grad: Callable, hp: dict, sigma, noise: str = "gaussian", nu=None) -> SDE:
    """Build SDE ``name`` (one of :data:`SDE_NAMES`) for hyper-parameters ``hp`` (eta, beta1,
    beta2, eps, theta) and effective noise std ``sigma``. ``malladi_rmsprop`` and
    ``malladi_adam`` take ``theta`` from ``hp`` (default 0; > 0 is our decoupled-decay extension).
    """
    eta = hp["eta"]
    if noise != "gaussian" and name != "signsgd":
        raise ValueError(f"SDE {name!r} supports Gaussian noise only; got noise {noise!r}")
    if name == "sgd":
        return sgd_sde(grad, eta, sigma)
    if name == "signsgd":
        return signsgd_sde(grad, eta, sigma, noise, nu)
    if name == "signsgd_phase3":
        return signsgd_phase3_sde(grad, eta, sigma)
    if name in ("rmsprop", "rmspropw"):
        theta = hp.get("theta", 0.0) if name == "rmspropw" else 0.0
        return rmspropw_sde(grad, eta, hp["beta2"], sigma, hp.get("eps", 0.0), theta)
    if name in ("adam", "adamw"):
        theta = hp.get("theta", 0.0) if name == "adamw" else 0.0
        return adamw_sde(grad, eta, hp["beta1"], hp["beta2"], sigma, hp.get("eps", 0.0), theta)
    if name == "malladi_rmsprop":
        return malladi_rmsprop_sde(grad, eta, hp["beta2"], sigma, hp.get("eps", 0.0),
                                   hp.get("theta", 0.0))
    if name == "malladi_adam":
        return malladi_adam_sde(grad, eta, hp["beta1"], hp["beta2"], sigma, hp.get("eps", 0.0),
                                hp.get("theta", 0.0))
    raise ValueError(f"unknown SDE {name!r}; allowed: {', '.join(SDE_NAMES)}")
