r"""The discrete optimizers in the paper's parameterisation (docs/paper.md section 1 [R]).

Each is an optax-style :class:`optax.GradientTransformation` whose ``update(g, state, params)``
returns the *full* increment :math:`x_{k+1} - x_k` (learning rate and decoupled weight decay
included), so ``optax.apply_updates(x, u)`` performs one step:

* SGD:      :math:`x_{k+1} = x_k - \eta g_k`
* SignSGD:  :math:`x_{k+1} = x_k - \eta\,\mathrm{sign}(g_k)`
* RMSprop(W): :math:`v_{k+1} = \beta_2 v_k + (1-\beta_2) g_k^2`,
  :math:`x_{k+1} = x_k - \eta\, g_k/(\sqrt{v_{k+1}} + \epsilon) - \eta\theta x_k`
* Adam(W):  :math:`m_{k+1} = \beta_1 m_k + (1-\beta_1) g_k`, :math:`v_{k+1}` as above,
  :math:`\hat m = m_{k+1}/(1-\beta_1^{k+1})`, :math:`\hat v = v_{k+1}/(1-\beta_2^{k+1})`,
  :math:`x_{k+1} = x_k - \eta\,\hat m/(\sqrt{\hat v} + \epsilon) - \eta\theta x_k`

:math:`\epsilon` sits outside the square root and the weight decay is decoupled (not
preconditioned), as in PyTorch's AdamW and ``optax.adamw`` (whose ``weight_decay`` is our
:math:`\theta`). In SDE time :math:`t = k\eta` and :math:`\beta_i = 1 - \eta\rho_i`.
Hyper-parameters may be traced values, so one compiled program serves a whole vmapped grid.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from adasde import integrate
from adasde import noise as noise_lib

OPTIMIZERS = ("sgd", "signsgd", "rmsprop", "rmspropw", "adam", "adamw")

_tmap = jax.tree_util.tree_map


class RMSpropState(NamedTuple):
    v: optax.Params


class AdamState(NamedTuple):
    count: jnp.ndarray
    m: optax.Params
    v: optax.Params


def _decay(updates, params, eta, theta):
    """Add the decoupled weight-decay increment :math:`-\\eta\\theta x_k`."""
    if params is None:
        raise ValueError("decoupled weight decay needs params: call update(g, state, params)")
    return _tmap(lambda u, x: u - eta * theta * x, updates, params)


def sgd(eta) -> optax.GradientTransformation:
    r"""SGD, :math:`x_{k+1} = x_k - \eta g_k`."""

    def init(params):
        return optax.EmptyState()

    def update(g, state, params=None):
        return _tmap(lambda gi: -eta * gi, g), state

    return optax.GradientTransformation(init, update)


def signsgd(eta) -> optax.GradientTransformation:
    r"""SignSGD, :math:`x_{k+1} = x_k - \eta\,\mathrm{sign}(g_k)` (sign(0) = 0)."""

    def init(params):
        return optax.EmptyState()

    def update(g, state, params=None):
        return _tmap(lambda gi: -eta * jnp.sign(gi), g), state

    return optax.GradientTransformation(init, update)


def rmspropw(eta, beta2, eps=0.0, theta=0.0) -> optax.GradientTransformation:
    r"""RMSprop(W) (theta = 0: RMSprop): :math:`v_{k+1} = \beta_2 v_k + (1-\beta_2) g_k^2`,
    :math:`x_{k+1} = x_k - \eta g_k/(\sqrt{v_{k+1}}+\epsilon) - \eta\theta x_k`; :math:`v_0 = 0`."""

    def init(params):
        return RMSpropState(v=_tmap(jnp.zeros_like, params))

    def update(g, state, params=None):
        v = _tmap(lambda vi, gi: beta2 * vi + (1 - beta2) * gi * gi, state.v, g)
        u = _tmap(lambda gi, vi: -eta * gi / (jnp.sqrt(vi) + eps), g, v)
        return _decay(u, params, eta, theta), RMSpropState(v=v)

    return optax.GradientTransformation(init, update)


def adamw(eta, beta1, beta2, eps=0.0, theta=0.0) -> optax.GradientTransformation:
    r"""Adam(W) with bias correction (theta = 0: Adam), :math:`m_0 = v_0 = 0`:
    :math:`x_{k+1} = x_k - \eta\,\hat m_{k+1}/(\sqrt{\hat v_{k+1}}+\epsilon) - \eta\theta x_k`."""

    def init(params):
        zeros = _tmap(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros([], jnp.int32), m=zeros, v=zeros)

    def update(g, state, params=None):
        count = state.count + 1
        m = _tmap(lambda mi, gi: beta1 * mi + (1 - beta1) * gi, state.m, g)
        v = _tmap(lambda vi, gi: beta2 * vi + (1 - beta2) * gi * gi, state.v, g)
        c1 = 1 - beta1 ** count.astype(jnp.result_type(beta1, float))
        c2 = 1 - beta2 ** count.astype(jnp.result_type(beta2, float))
        u = _tmap(lambda mi, vi: -eta * (mi / c1) / (jnp.sqrt(vi / c2) + eps), m, v)
        return _decay(u, params, eta, theta), AdamState(count=count, m=m, v=v)

    return optax.GradientTransformation(init, update)


def make(name: str, hp: dict) -> optax.GradientTransformation:
    """Build optimizer ``name`` (one of :data:`OPTIMIZERS`) from hyper-parameters ``hp``
    (keys eta, beta1, beta2, eps, theta; values may be traced)."""
    if name == "sgd":
        return sgd(hp["eta"])
    if name == "signsgd":
        return signsgd(hp["eta"])
    if name in ("rmsprop", "rmspropw"):
        theta = hp.get("theta", 0.0) if name == "rmspropw" else 0.0
        return rmspropw(hp["eta"], hp["beta2"], hp.get("eps", 0.0), theta)
    if name in ("adam", "adamw"):
        theta = hp.get("theta", 0.0) if name == "adamw" else 0.0
        return adamw(hp["eta"], hp["beta1"], hp["beta2"], hp.get("eps", 0.0), theta)
    raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")


def run_optimizer(opt: optax.GradientTransformation, grad, x0, key, *, sigma, n_saves: int,
                  save_every: int, observe=None, noise: str = "gaussian", nu=None,
                  progress: str | None = None):
    r"""Run ``opt`` on the stochastic gradient :math:`\nabla f(x_k) + Z_k` for
    ``n_saves * save_every`` steps (one run; vmap over ``key`` for runs).

    ``sigma`` is the effective per-coordinate std of :math:`Z` (Gaussian: already divided by
    :math:`\sqrt B`; Student-t: the scale of :math:`\Sigma^{1/2} t_\nu`, ``nu`` may be traced
    and ``inf`` is the Gaussian limit, :func:`adasde.noise.standard_t`). Noise is drawn per block
    of ``save_every`` steps, exactly as the SDE's Brownian increments
    (:func:`adasde.integrate.scan_blocks`). Returns ``(observations, final (x, opt_state))``.
    """
    observe = observe or (lambda y: y[0])

    def draw(k, n):
        return noise_lib.standard_block(noise, k, x0, n, nu)

    def step(n, y, z):
        x, state = y
        s = sigma
        g = grad(x)
        if isinstance(s, (dict, list, tuple)):
            g = _tmap(lambda gi, zi, si: gi + si * zi, g, z, s)
        else:
            g = _tmap(lambda gi, zi: gi + s * zi, g, z)
        u, state = opt.update(g, state, x)
        return (optax.apply_updates(x, u), state)

    return integrate.scan_blocks(step, (x0, opt.init(x0)), key, draw, n_saves=n_saves,
                                 save_every=save_every, observe=observe, progress=progress)
