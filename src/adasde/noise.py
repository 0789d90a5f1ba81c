r"""Gradient-noise models: the stochastic gradient is :math:`\nabla f_\gamma(x) = \nabla f(x) + Z`.

* Gaussian (docs/paper.md section 1 [V reviews + R]): :math:`Z \sim N(0, \Sigma/B)` with
  :math:`\Sigma = \mathrm{diag}(\sigma_i^2)` and batch size :math:`B`, i.e. per-coordinate
  standard deviation :math:`\sigma_i/\sqrt{B}`.
* Student-t (docs/paper.md section 2.2 [R]): :math:`Z_i = \sigma_i T_i`, :math:`T_i` i.i.d.
  Student-t with :math:`\nu` degrees of freedom (coordinate-wise, scale :math:`\Sigma^{1/2}`).
  Averaging B Student-t samples is not Student-t, so no batch size enters here.

All samplers take explicit PRNG keys and pytrees ``like`` whose structure and shapes the noise
copies; hyper-parameters may be traced (vmapped) values.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

NOISE_KINDS = ("gaussian", "student_t")


def effective_sigma(sigma, batch_size):
    r"""Per-coordinate standard deviation of a mini-batch mean: :math:`\sigma/\sqrt{B}`."""
    return sigma / jnp.sqrt(batch_size)


def _tree_keys(key, like):
    leaves, treedef = jax.tree_util.tree_flatten(like)
    return jax.tree_util.tree_unflatten(treedef, list(jax.random.split(key, len(leaves))))


def gaussian(key, like, sigma, batch_size=1.0):
    r"""Sample :math:`Z \sim N(0, \mathrm{diag}(\sigma^2)/B)` shaped like the pytree ``like``.

    ``sigma`` is a scalar or a pytree matching ``like`` (per-coordinate :math:`\sigma_i`).
    """
    keys = _tree_keys(key, like)
    z = jax.tree_util.tree_map(lambda k, x: jax.random.normal(k, x.shape, x.dtype), keys, like)
    return scale(z, effective_sigma_tree(sigma, batch_size, like))


def standard_t(key, nu, shape, dtype=jnp.float32):
    r"""Student-t(:math:`\nu`) draws by Bailey's polar method (Math. Comp. 62, 1994) without
    rejection: for :math:`(U, V)` uniform on the unit disc, :math:`W = U^2 + V^2`,
    :math:`U\sqrt{\nu(W^{-2/\nu} - 1)/W} \sim t_\nu`. Since :math:`W \sim U(0, 1)` and the angle
    :math:`\phi \sim U(0, 2\pi)` are independent and :math:`U/\sqrt W = \cos\phi`, this is

    .. math:: T = \cos(\phi)\,\sqrt{\nu\,(W^{-2/\nu} - 1)},

    exact for every real :math:`\nu > 0` (``nu`` may be traced); ``nu`` = inf gives the
    Box-Muller normal :math:`\cos(\phi)\sqrt{-2\ln W}`. :math:`W \ge 2^{-24}` keeps float32
    finite (:math:`|T| \le 2^{24}` at :math:`\nu = 1`, a truncation of probability
    :math:`< 10^{-7}`). About 30 times faster on CPU than ``jax.random.t`` (gamma rejection)."""
    kw, kphi = jax.random.split(key)
    w = jax.random.uniform(kw, shape, dtype, minval=2.0**-24, maxval=1.0)
    phi = jax.random.uniform(kphi, shape, dtype, maxval=2.0 * math.pi)
    logw = jnp.log(w)
    nu = jnp.asarray(nu, dtype)
    finite_nu = jnp.where(jnp.isinf(nu), 1.0, nu)
    r2 = jnp.where(jnp.isinf(nu), -2.0 * logw, finite_nu * jnp.expm1(-2.0 * logw / finite_nu))
    return jnp.cos(phi) * jnp.sqrt(r2)


def student_t(key, like, sigma, nu):
    r"""Sample :math:`Z_i = \sigma_i T_i`, :math:`T_i \sim t_\nu` i.i.d., shaped like ``like``
    (:func:`standard_t`; ``nu`` = inf gives the Gaussian limit)."""
    keys = _tree_keys(key, like)
    z = jax.tree_util.tree_map(lambda k, x: standard_t(k, nu, x.shape, x.dtype), keys, like)
    return scale(z, sigma)


def standard_block(kind: str, key, like, n: int, nu=None):
    """Unit-scale noise draws of ``kind`` shaped ``(n, *leaf.shape)`` for every leaf of
    ``like`` (a block of ``n`` steps): standard normal, or :func:`standard_t` with ``nu``."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    keys = jax.random.split(key, len(leaves))
    if kind == "gaussian":
        out = [jax.random.normal(k, (n,) + x.shape, x.dtype) for k, x in zip(keys, leaves,
                                                                             strict=True)]
    elif kind == "student_t":
        out = [standard_t(k, nu, (n,) + x.shape, x.dtype) for k, x in zip(keys, leaves,
                                                                          strict=True)]
    else:
        raise ValueError(f"unknown noise kind {kind!r}; allowed: {', '.join(NOISE_KINDS)}")
    return jax.tree_util.tree_unflatten(treedef, out)


def effective_sigma_tree(sigma, batch_size, like):
    """:func:`effective_sigma` for a scalar or pytree ``sigma`` (broadcast to ``like``)."""
    if _is_scalar(sigma):
        return effective_sigma(jnp.asarray(sigma), batch_size)
    return jax.tree_util.tree_map(lambda s: effective_sigma(s, batch_size), sigma)


def scale(z, sigma):
    """Multiply the pytree ``z`` leafwise by ``sigma`` (a scalar or a pytree matching ``z``)."""
    if _is_scalar(sigma):
        return jax.tree_util.tree_map(lambda a: a * sigma, z)
    return jax.tree_util.tree_map(lambda a, s: a * s, z, sigma)


def _is_scalar(x):
    return not isinstance(x, (dict, list, tuple)) and jnp.ndim(x) == 0


def sampler(kind: str):
    """Return the sampler for ``kind`` in :data:`NOISE_KINDS`; ValueError names a bad kind."""
    if kind == "gaussian":
        return gaussian
    if kind == "student_t":
        return student_t
    raise ValueError(f"unknown noise kind {kind!r}; allowed: {', '.join(NOISE_KINDS)}")
