r"""Weak SDE integrators as one jitted ``lax.scan``, vmapped over paths and hyper-parameters.

For an :class:`adasde.sdes.SDE` :math:`dY = b(t,Y)dt + g(t,Y)\odot dW` with diagonal noise,
:func:`solve` takes ``n_saves`` blocks of ``save_every`` steps of size :math:`\Delta t` with
one of two schemes and one of four kinds of increments :math:`\Delta\hat W_n = \sqrt{\Delta t}
\,Z_n` (:data:`SCHEMES`, :data:`INCREMENTS`):

* ``scheme="euler"``: Euler-Maruyama (Kloeden and Platen 1992, section 9.1; with two-point
  increments the *simplified weak Euler scheme*, section 14.1, weak order 1),

  .. math:: Y_{n+1} = Y_n + b(t_n, Y_n)\,\Delta t + g(t_n, Y_n) \odot \Delta\hat W_n.

* ``scheme="weak2"``: the explicit order-2.0 weak scheme of Platen (Kloeden and Platen,
  section 15.1), derivative-free, see :func:`platen_step`; weak order 2 with three-point,
  four-point or Gaussian increments for SDEs whose coefficients act coordinate by coordinate
  (every SDE of :mod:`adasde.sdes` on the diagonal quadratic), weak order 1 otherwise.

Increments :math:`Z_n` (i.i.d. per coordinate and step, mean 0, variance 1):

* ``"gaussian"``: :math:`N(0, 1)` (the default; the only kind that is a Brownian path, so the
  one for path-wise comparisons such as the diffrax cross-checks);
* ``"two_point"``: :math:`\pm 1` with probability 1/2 each (the simplified weak Euler scheme,
  Kloeden and Platen, section 14.1), one random bit each: one 32-bit word of
  ``jax.random.bits`` gives 32 steps of one coordinate; moments 1-3 of :math:`N(0, 1)`, enough
  for weak order 1;
* ``"three_point"``: :math:`\pm\sqrt3` with probability 1/6 each, 0 with 2/3 (the simplified
  order-2.0 weak Taylor scheme, Kloeden and Platen, section 14.2; moments 1-5 of
  :math:`N(0, 1)`, enough for weak order 2), one 32-bit word each (see
  :func:`three_point_value`);
* ``"four_point"``: :math:`\pm\sqrt{1+\sqrt6}` with probability 1/8 each and
  :math:`\pm\sqrt{1-\sqrt{2/3}}` with 3/8 each: also moments 1-5 of :math:`N(0, 1)`, exactly,
  from 3 random bits (:func:`four_point_value`): one word gives 10 steps, 1/10 of the random
  bits of ``"three_point"`` (ours; the same moment conditions of section 14.2).

The outer ``lax.scan`` runs over save blocks; ``observe(y)`` is recorded at :math:`t = 0` and
after each block. Gaussian increments are by default drawn one whole block at a time (one call
per block, the historical stream); ``draw_every`` draws them in sub-blocks of at most that many
steps instead (a block of ``save_every`` steps is ``save_every // draw_every`` full sub-blocks
and one shorter one for the remainder), which bounds the memory of a draw (on a CPU whole-block
draws of large blocks are memory-bound). The bit-based increments use sub-blocks by default
(:data:`DRAW_EVERY`: one 32-bit word per coordinate and sub-block for two-point increments).
Sub-block ``j`` of block ``b`` uses the key ``fold_in(fold_in(key, b), j)``; a block drawn whole
uses ``fold_in(key, b)``. The streams do not depend on the device.
:func:`scan_blocks` is shared with the discrete optimizer runs
(:func:`adasde.optim.run_optimizer`), so SDE and optimizer are sampled on the same grid.

Weak order 2 is also available for any scheme of order 1 by Talay-Tubaro extrapolation
(Kloeden and Platen, section 15.3), :func:`extrapolate` / :func:`talay_tubaro`:
:math:`2E[\phi(Y^{\Delta/2})] - E[\phi(Y^\Delta)]`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from adasde import noise

_tmap = jax.tree_util.tree_map

SCHEMES = ("euler", "weak2")
INCREMENTS = ("gaussian", "two_point", "three_point", "four_point")
# default steps per draw (bounded sub-blocks) for the bit-based increments: a two-point draw of
# 32 steps and a four-point draw of 10 steps are one word per coordinate (read without a
# gather); a three-point draw of 16 steps is 16 words per coordinate
DRAW_EVERY = {"two_point": 32, "three_point": 16, "four_point": 10}

# three-point from one 32-bit word w: the sign is bit 0, the value is nonzero iff
# (w >> 1) < THREE_POINT_THRESHOLD, i.e. with probability 715827883 / 2^31 = 1/3 + 1.6e-10;
# the magnitude sqrt(2^31 / threshold) = sqrt(3) (1 - 2.3e-10) makes the variance exactly 1
THREE_POINT_THRESHOLD = 715827883
THREE_POINT_MAGNITUDE = math.sqrt(2.0**31 / THREE_POINT_THRESHOLD)
# four-point: |Z| = sqrt(1 + sqrt 6) w.p. 1/4, sqrt(1 - sqrt(2/3)) w.p. 3/4, symmetric; then
# E Z^2 = (1 + sqrt 6)/4 + 3 (1 - sqrt(2/3))/4 = 1 and E Z^4 = (7 + 2 sqrt 6)/4
# + 3 (5/3 - 2 sqrt(2/3))/4 = 3
FOUR_POINT_LARGE = math.sqrt(1.0 + math.sqrt(6.0))
FOUR_POINT_SMALL = math.sqrt(1.0 - math.sqrt(2.0 / 3.0))


def standard_normal_block(key, like, n: int):
    """Standard normal draws shaped ``(n, *leaf.shape)`` for every leaf of ``like``."""
    return noise.standard_block("gaussian", key, like, n)


def block_key(key, block):
    """The PRNG key of block ``block``: ``fold_in(key, block)``; the same on every device."""
    return jax.random.fold_in(key, block)


def brownian_increments(key, like, n_saves: int, save_every: int, dt):
    r"""All increments :math:`\Delta W_n` that :func:`euler_maruyama` uses with ``key`` (Gaussian,
    whole blocks), stacked to shape ``(n_saves * save_every, *leaf.shape)`` (for tests and
    diffrax cross-checks)."""

    def one(b):
        return standard_normal_block(block_key(key, b), like, save_every)

    blocks = jax.vmap(one)(jnp.arange(n_saves))
    return _tmap(lambda z: jnp.sqrt(dt) * z.reshape((-1,) + z.shape[2:]), blocks)


# --------------------------------------------------------------------------------------------
# Increments from random bits
# --------------------------------------------------------------------------------------------
def _leaf_keys(key, like):
    """Leaves of ``like`` and one key each: ``key`` itself for a single leaf, else
    ``split(key, n_leaves)`` (as :func:`adasde.noise.standard_block`)."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    keys = [key] if len(leaves) == 1 else list(jax.random.split(key, len(leaves)))
    return leaves, treedef, keys


def _packed_words(key, like, n: int, per_word: int):
    """``uint32`` words shaped ``(ceil(n / per_word), *leaf.shape)`` for every leaf of ``like``:
    step ``i`` of a coordinate reads field ``i % per_word`` of its word ``i // per_word``."""
    leaves, treedef, keys = _leaf_keys(key, like)
    rows = -(-n // per_word)
    out = [jax.random.bits(k, (rows, *x.shape), jnp.uint32) for k, x in zip(keys, leaves,
                                                                           strict=True)]
    return jax.tree_util.tree_unflatten(treedef, out)


def _field(w, i, per_word: int, width: int):
    """Bits ``[width * (i % per_word), width * (i % per_word + 1))`` of word ``i // per_word``
    (a static read when the draw is one word per coordinate), as the low bits of a uint32."""
    row = w[0] if w.shape[0] == 1 else jax.lax.dynamic_index_in_dim(w, i // per_word, 0, False)
    return jnp.right_shift(row, (width * (i % per_word)).astype(jnp.uint32))


def two_point_words(key, like, n: int):
    """The random words of ``n`` two-point steps: ``uint32`` shaped ``(ceil(n / 32),
    *leaf.shape)`` for every leaf of ``like``; step ``i`` of a coordinate is bit ``i % 32`` of
    its word ``i // 32`` (:func:`two_point_value`)."""
    return _packed_words(key, like, n, 32)


def two_point_value(words, i, like):
    r"""The two-point increments :math:`Z = \pm 1` of step ``i`` (traced) from
    :func:`two_point_words`: :math:`Z = 1 - 2\,\mathrm{bit}_{i \bmod 32}(w_{\lfloor i/32\rfloor})`,
    so :math:`P(Z = \pm 1) = 1/2` (Kloeden and Platen, section 14.1). Dtypes follow ``like``."""

    def leaf(w, x):
        bit = _field(w, i, 32, 1) & jnp.uint32(1)
        return 1.0 - 2.0 * bit.astype(x.dtype)

    return _tmap(leaf, words, like)


def four_point_words(key, like, n: int):
    """The random words of ``n`` four-point steps: ``uint32`` shaped ``(ceil(n / 10),
    *leaf.shape)``; step ``i`` reads bits ``3 (i % 10)`` to ``3 (i % 10) + 2`` of word
    ``i // 10`` (:func:`four_point_value`; bits 30 and 31 are unused)."""
    return _packed_words(key, like, n, 10)


def four_point_value(words, i, like):
    r"""Four-point increments of step ``i`` from 3 random bits :math:`(s, u, v)`:
    :math:`Z = (-1)^s\sqrt{1+\sqrt6}` if :math:`u = v = 1` (probability 1/4), else
    :math:`(-1)^s\sqrt{1-\sqrt{2/3}}`. Symmetric, so every odd moment is 0, and exactly
    :math:`E Z^2 = 1`, :math:`E Z^4 = 3`: the moment conditions of the simplified order-2.0 weak
    scheme (Kloeden and Platen, section 14.2) with dyadic probabilities, which the three-point
    law (probabilities 1/6, 2/3) cannot have. Dtypes follow ``like``."""

    def leaf(w, x):
        f = _field(w, i, 10, 3)
        negative = (f & jnp.uint32(1)) == 1
        large = (f & jnp.uint32(6)) == 6
        a = jnp.where(large, jnp.asarray(FOUR_POINT_LARGE, x.dtype),
                      jnp.asarray(FOUR_POINT_SMALL, x.dtype))
        return jnp.where(negative, -a, a)

    return _tmap(leaf, words, like)


def three_point_words(key, like, n: int):
    """The random words of ``n`` three-point steps: ``uint32`` shaped ``(n, *leaf.shape)``."""
    leaves, treedef, keys = _leaf_keys(key, like)
    out = [jax.random.bits(k, (n, *x.shape), jnp.uint32) for k, x in zip(keys, leaves,
                                                                        strict=True)]
    return jax.tree_util.tree_unflatten(treedef, out)


def three_point_value(words, like):
    r"""Three-point increments from one 32-bit word each (Kloeden and Platen, section 14.2):
    :math:`Z = \pm a` with probability :math:`p/2` each and 0 with :math:`1 - p`, where
    :math:`p = T/2^{31}` (:data:`THREE_POINT_THRESHOLD`; :math:`|p - 1/3| < 2\cdot10^{-10}`),
    the sign is bit 0 (exactly symmetric) and :math:`a = p^{-1/2} = \sqrt3\,(1 - 2.3\cdot
    10^{-10})`, so that :math:`E Z = 0`, :math:`E Z^2 = 1` exactly and :math:`E Z^4 = 1/p`
    :math:`= 3(1 - 4.7\cdot10^{-10})`. Dtypes follow ``like``."""

    def leaf(w, x):
        nonzero = jnp.right_shift(w, jnp.uint32(1)) < jnp.uint32(THREE_POINT_THRESHOLD)
        negative = (w & jnp.uint32(1)) == 1
        a = jnp.asarray(THREE_POINT_MAGNITUDE, x.dtype)
        return jnp.where(nonzero, jnp.where(negative, -a, a), jnp.zeros((), x.dtype))

    return _tmap(leaf, words, like)


class _Increments(NamedTuple):
    """How one kind of increments is drawn: ``draw(key, like, n)`` gives the raw draws of ``n``
    steps; ``per_step``: the raw draws have leading axis ``n`` (scanned over), else they are
    indexed by the step; ``unit(raw, i, like)`` the unit increments of step ``i``."""

    draw: Callable
    per_step: bool
    unit: Callable


_KINDS = {
    "gaussian": _Increments(standard_normal_block, True, lambda r, i, like: r),
    "two_point": _Increments(two_point_words, False, two_point_value),
    "three_point": _Increments(three_point_words, True, lambda r, i, like: three_point_value(r,
                                                                                         like)),
    "four_point": _Increments(four_point_words, False, four_point_value),
}


def _kind(increments: str) -> _Increments:
    if increments not in _KINDS:
        raise ValueError(f"unknown increments {increments!r}; allowed: {', '.join(INCREMENTS)}")
    return _KINDS[increments]


def default_draw_every(increments: str, save_every: int) -> int:
    """Steps per draw when ``draw_every`` is not given: the whole block for Gaussian increments
    (the historical stream), else ``min(save_every, DRAW_EVERY[increments])``."""
    _kind(increments)
    if increments == "gaussian":
        return save_every
    return min(save_every, DRAW_EVERY[increments])


def _check_draw_every(increments, save_every, draw_every):
    m = default_draw_every(increments, save_every) if draw_every is None else int(draw_every)
    if not 1 <= m <= save_every:
        raise ValueError(f"draw_every must be in [1, save_every={save_every}], got {m}")
    return m


def _whole(kind: _Increments, m: int, save_every: int) -> bool:
    """A block drawn in one call keyed by ``block_key`` (per-step kinds with draws of whole
    blocks); otherwise sub-blocks keyed by ``fold_in(block_key, j)``."""
    return kind.per_step and m == save_every


def sub_blocks(save_every: int, m: int) -> list[tuple[int, int, int]]:
    """``(first sub-block index, count, length)`` runs of a block: full sub-blocks of ``m``
    steps, then one of the remainder."""
    q, r = divmod(save_every, m)
    return [(0, q, m)] + ([(q, 1, r)] if r else [])


def unit_increments(key, like, n_saves: int, save_every: int, increments: str = "gaussian",
                    draw_every: int | None = None):
    """All unit increments :math:`Z_n` that :func:`solve` uses with ``key``, stacked to shape
    ``(n_saves * save_every, *leaf.shape)`` (for tests: moments, and path-wise checks)."""
    kind = _kind(increments)
    m = _check_draw_every(increments, save_every, draw_every)

    def sub(k, length):
        raw = kind.draw(k, like, length)
        if kind.per_step:
            return jax.vmap(lambda r: kind.unit(r, 0, like))(raw)
        return jax.vmap(lambda i: kind.unit(raw, i, like))(jnp.arange(length))

    def one(b):
        kb = block_key(key, b)
        if _whole(kind, m, save_every):
            return sub(kb, save_every)
        parts = []
        for j0, count, length in sub_blocks(save_every, m):
            z = jax.vmap(lambda j, length=length: sub(jax.random.fold_in(kb, j), length))(
                j0 + jnp.arange(count))
            parts.append(_tmap(lambda a: a.reshape((-1, *a.shape[2:])), z))
        return _tmap(lambda *a: jnp.concatenate(a), *parts)

    z = jax.vmap(one)(jnp.arange(n_saves))
    return _tmap(lambda a, x: a.reshape((-1, *x.shape)), z, like)


# --------------------------------------------------------------------------------------------
# The scan
# --------------------------------------------------------------------------------------------
def _progress_printer(label: str, n_saves: int, every: int):
    """A host callback printing ``label: block i/n (p%), elapsed`` about ten times per run; the
    clock starts when block 0 finishes (the callback is traced once, called on every run)."""
    clock = {"start": time.perf_counter()}

    def report(block):
        block = int(block)
        now = time.perf_counter()
        if block == 0:
            clock["start"] = now
        if (block + 1) % every == 0 or block + 1 == n_saves:
            print(
                f"[adasde] {label}: block {block + 1}/{n_saves} "
                f"({100.0 * (block + 1) / n_saves:.0f}%), {now - clock['start']:.1f} s "
                f"since block 1",
                flush=True,
            )

    return report


def scan_blocks(step: Callable, y0, key, draw: Callable, *, n_saves: int, save_every: int,
                observe: Callable, progress: str | None = None):
    """Run ``n_saves * save_every`` steps of ``y <- step(n, y, noise_n)`` as one nested scan.

    ``draw(key, n)`` returns the noise of a block with leading axis ``n``; ``observe(y)`` is
    recorded at step 0 and after every block. Returns ``(observations, y_final)`` where every
    leaf of ``observations`` has leading axis ``n_saves + 1``. ``progress`` (a label) prints
    progress lines from inside the compiled program (about ten per run, once per batch).
    """
    def block(y, b):
        noise = draw(block_key(key, b), save_every)

        def inner(y, xs):
            i, z = xs
            return step(b * save_every + i, y, z), None

        return jax.lax.scan(inner, y, (jnp.arange(save_every), noise))[0]

    return _scan_saves(block, y0, n_saves=n_saves, observe=observe, progress=progress)


def _scan_saves(block: Callable, y0, *, n_saves: int, observe: Callable,
                progress: str | None):
    """The outer scan shared by :func:`scan_blocks` and :func:`scan_increments`: ``y <-
    block(y, b)`` for ``b < n_saves``, ``observe(y)`` at step 0 and after every block (leading
    axis ``n_saves + 1``), progress lines from inside the program. Returns
    ``(observations, y_final)``."""
    report = _progress_printer(progress, n_saves, max(1, n_saves // 10)) if progress else None

    def saved(y, b):
        y = block(y, b)
        if report is not None:
            jax.debug.callback(report, b)
        return y, observe(y)

    y_final, obs = jax.lax.scan(saved, y0, jnp.arange(n_saves))
    obs = _tmap(lambda o0, o: jnp.concatenate([o0[None], o]), observe(y0), obs)
    return obs, y_final


def scan_increments(step: Callable, y0, key, like, *, n_saves: int, save_every: int,
                    observe: Callable, increments: str = "gaussian",
                    draw_every: int | None = None, progress: str | None = None):
    """:func:`scan_blocks` with the unit increments of kind ``increments`` shaped like ``like``:
    ``y <- step(n, y, z_n)``, drawn per block or in sub-blocks of at most ``draw_every`` steps
    (module docstring). Returns ``(observations, y_final)``."""
    kind = _kind(increments)
    m = _check_draw_every(increments, save_every, draw_every)
    if _whole(kind, m, save_every):
        return scan_blocks(lambda n, y, r: step(n, y, kind.unit(r, 0, like)), y0, key,
                           lambda k, n: kind.draw(k, like, n), n_saves=n_saves,
                           save_every=save_every, observe=observe, progress=progress)

    def sub_block(n0, y, k, length):  # n0: the global index of its first step
        raw = kind.draw(k, like, length)
        if kind.per_step:
            def inner(y, xs):
                i, r = xs
                return step(n0 + i, y, kind.unit(r, i, like)), None

            return jax.lax.scan(inner, y, (jnp.arange(length), raw))[0]

        def inner_bits(y, i):
            return step(n0 + i, y, kind.unit(raw, i, like)), None

        return jax.lax.scan(inner_bits, y, jnp.arange(length))[0]

    def block(y, b):
        kb = block_key(key, b)
        for j0, count, length in sub_blocks(save_every, m):
            def run(y, j, length=length):
                return sub_block(b * save_every + j * m, y, jax.random.fold_in(kb, j),
                                 length), None

            y = jax.lax.scan(run, y, j0 + jnp.arange(count))[0]
        return y

    return _scan_saves(block, y0, n_saves=n_saves, observe=observe, progress=progress)


# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------
def em_step(sde, t, y, dw, dt):
    r"""One Euler-Maruyama step :math:`y + b(t,y)\Delta t + g(t,y)\odot\Delta W` (Kloeden and
    Platen, section 9.1; drift and diffusion from one :meth:`~adasde.sdes.SDE.coefficients`)."""
    b, g = sde.coefficients(t, y)
    out = []
    for yi, bi, gi in zip(y, b, g, strict=True):
        if gi is None:
            out.append(_tmap(lambda a, da: a + da * dt, yi, bi))
        else:
            out.append(_tmap(lambda a, da, s, w: a + da * dt + s * w, yi, bi, gi, dw))
    return tuple(out)


def platen_step(sde, t, y, z, dt):
    r"""One step of Platen's explicit order-2.0 weak scheme (Kloeden and Platen, section 15.1,
    one noise per coordinate, time as a state component) with unit increments
    ``z`` (:math:`\Delta\hat W = \sqrt{\Delta}\,z`):

    .. math::
        \bar Y &= Y + b\Delta + g\,\Delta\hat W, \qquad
        \bar Y^\pm = Y + b\Delta \pm g\sqrt\Delta, \\
        Y_{n+1} &= Y + \tfrac12\big(b(t+\Delta, \bar Y) + b\big)\Delta
                 + \tfrac14\big(g(t+\Delta, \bar Y^+) + g(t+\Delta, \bar Y^-) + 2g\big)
                   \Delta\hat W
                 + \tfrac14\big(g(t+\Delta, \bar Y^+) - g(t+\Delta, \bar Y^-)\big)
                   \big((\Delta\hat W)^2 - \Delta\big)\Delta^{-1/2}

    with :math:`b, g` at :math:`(t, Y)`, products coordinate by coordinate. Weak order 2 with
    three-point, four-point or Gaussian increments when every coordinate's coefficients depend on that
    coordinate only (for each state component: the diagonal quadratic); with coupled
    coordinates the vectorised :math:`\bar Y^\pm` omit the cross terms :math:`L^r g^j` and the
    order is 1. For additive noise (``sde.additive``) :math:`g(\bar Y^\pm) = g` and the step is
    :math:`Y + \tfrac12(b(\bar Y) + b)\Delta + g\,\Delta\hat W` (two drift evaluations).
    """
    sq = jnp.sqrt(dt)
    b, g = sde.coefficients(t, y)
    dw = _tmap(lambda zi: sq * zi, z)

    def shifted(sign):  # Y + b dt + g * (dW or +-sqrt(dt))
        out = []
        for yi, bi, gi in zip(y, b, g, strict=True):
            if gi is None:
                out.append(_tmap(lambda a, da: a + da * dt, yi, bi))
            elif sign == 0:
                out.append(_tmap(lambda a, da, s, w: a + da * dt + s * w, yi, bi, gi, dw))
            else:
                out.append(_tmap(lambda a, da, s: a + da * dt + sign * s * sq, yi, bi, gi))
        return tuple(out)

    b_bar = sde.coefficients(t + dt, shifted(0))[0]
    if sde.additive:
        g_plus = g_minus = g
    else:
        g_plus = sde.coefficients(t + dt, shifted(1))[1]
        g_minus = sde.coefficients(t + dt, shifted(-1))[1]
    out = []
    for yi, bi, bbi, gi, gp, gm in zip(y, b, b_bar, g, g_plus, g_minus, strict=True):
        if gi is None:
            out.append(_tmap(lambda a, d0, d1: a + 0.5 * (d1 + d0) * dt, yi, bi, bbi))
        elif sde.additive:
            out.append(_tmap(lambda a, d0, d1, s, w: a + 0.5 * (d1 + d0) * dt + s * w,
                             yi, bi, bbi, gi, dw))
        else:
            out.append(_tmap(
                lambda a, d0, d1, s, sp, sm, w, zz: a + 0.5 * (d1 + d0) * dt
                + 0.25 * (sp + sm + 2.0 * s) * w + 0.25 * (sp - sm) * sq * (zz * zz - 1.0),
                yi, bi, bbi, gi, gp, gm, dw, z))
    return tuple(out)


class Solution(NamedTuple):
    """What :func:`solve` returns: ``observations`` (leading axis ``n_saves + 1``), the final
    ``state`` and ``average`` (``None`` unless requested)."""

    observations: Any
    state: Any
    average: Any = None


def solve(sde, x0, key, *, dt, n_saves: int, save_every: int, scheme: str = "euler",
          increments: str = "gaussian", draw_every: int | None = None,
          observe: Callable | None = None, average: tuple[Callable, int] | None = None,
          progress: str | None = None) -> Solution:
    r"""Integrate ``sde`` from :math:`X_0 = x_0` over :math:`N = n_{saves}\cdot save_{every}`
    steps of size ``dt`` (one path; vmap over ``key`` for paths) with ``scheme``
    (:data:`SCHEMES`) and ``increments`` (:data:`INCREMENTS`), drawn per ``draw_every`` steps
    (module docstring). ``observe`` maps the state to what is saved (default: the position
    :math:`X_t`), at :math:`t = 0` and after every block.

    ``average=(fn, n0)`` also returns the time average :math:`\frac{1}{N - n_0}\sum_{n=n_0}^{N-1}
    fn(Y_n)` over the chain (the scheme's own stationary law, whatever the scheme), accumulated
    inside the scan. Defaults reproduce :func:`euler_maruyama` bit for bit.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    observe = observe or sde.position
    y0 = sde.init(x0)
    sq = jnp.sqrt(dt)

    if scheme == "euler":
        def scheme_step(n, y, z):
            return em_step(sde, n * dt, y, _tmap(lambda zi: sq * zi, z), dt)
    else:
        def scheme_step(n, y, z):
            return platen_step(sde, n * dt, y, z, dt)

    if average is None:
        obs, y = scan_increments(scheme_step, y0, key, x0, n_saves=n_saves,
                                 save_every=save_every, observe=observe, increments=increments,
                                 draw_every=draw_every, progress=progress)
        return Solution(obs, y)

    fn, n0 = average
    n_total = n_saves * save_every
    if not 0 <= n0 < n_total:
        raise ValueError(f"average: the first step must be in [0, {n_total}), got {n0}")

    def step(n, carry, z):
        y, acc = carry
        w = n >= n0
        acc = _tmap(lambda s, v: s + jnp.where(w, v, jnp.zeros_like(v)), acc, fn(y))
        return scheme_step(n, y, z), acc

    acc0 = _tmap(jnp.zeros_like, fn(y0))
    obs, (y, acc) = scan_increments(step, (y0, acc0), key, x0, n_saves=n_saves,
                                    save_every=save_every, observe=lambda c: observe(c[0]),
                                    increments=increments, draw_every=draw_every,
                                    progress=progress)
    return Solution(obs, y, _tmap(lambda s: s / (n_total - n0), acc))


class PairSolution(NamedTuple):
    """What :func:`solve_pair` returns: ``coarse`` and ``fine`` :class:`Solution` s of one path."""

    coarse: Solution
    fine: Solution


def solve_pair(sde, x0, key, *, dt, n_saves: int, save_every: int,
               observe: Callable | None = None, average: tuple[Callable, int] | None = None,
               draw_every: int | None = None, progress: str | None = None) -> PairSolution:
    r"""Euler-Maruyama at :math:`\Delta` = ``dt`` and at :math:`\Delta/2` on **one** Brownian
    path (the coupled pair used by every convergence-in-dt claim of the figures).

    Per coarse step :math:`n` two independent standard normals :math:`Z_1, Z_2` (shaped like
    ``x0``) are drawn; the fine chain takes the two steps
    :math:`\Delta\hat W = \sqrt{\Delta/2}\,Z_1` then :math:`\sqrt{\Delta/2}\,Z_2` (at
    :math:`t_n` and :math:`t_n + \Delta/2`) and the coarse chain one step with their sum
    :math:`\sqrt{\Delta/2}(Z_1 + Z_2)`, which is again :math:`N(0, \Delta)` (Kloeden and Platen,
    section 9.1). Each chain alone is Euler-Maruyama with Gaussian increments at its own step;
    on the same path their difference has variance :math:`O(\Delta)` instead of :math:`O(1)`,
    so :math:`E[\phi(Y^{\Delta})] - E[\phi(Y^{\Delta/2})]` (the weak error left at
    :math:`\Delta/2` for a first-order scheme, and half the error at :math:`\Delta`) is
    estimated from few paths. The two chains observe after the same ``save_every`` coarse
    steps (``2 * save_every`` fine steps). ``average=(fn, n0)`` gives each chain's time
    average of ``fn`` from coarse step ``n0`` on, over its own grid (the fine chain averages
    its ``2 (N - n0)`` states). Returns a :class:`PairSolution`.
    """
    observe = observe or sde.position
    y0 = sde.init(x0)
    h = 0.5 * dt
    sq = jnp.sqrt(h)
    n_total = n_saves * save_every
    if average is not None and not 0 <= average[1] < n_total:
        raise ValueError(f"average: the first step must be in [0, {n_total}), got {average[1]}")
    fn = average[0] if average is not None else (lambda y: ())
    n0 = average[1] if average is not None else 0

    def add(acc, y, w):
        return _tmap(lambda s, v: s + jnp.where(w, v, jnp.zeros_like(v)), acc, fn(y))

    def step(n, carry, z):
        yc, yf, acc_c, acc_f = carry
        z1, z2 = z
        w = n >= n0
        t = n * dt
        acc_c = add(acc_c, yc, w)
        acc_f = add(acc_f, yf, w)
        yf = em_step(sde, t, yf, _tmap(lambda a: sq * a, z1), h)
        acc_f = add(acc_f, yf, w)
        yf = em_step(sde, t + h, yf, _tmap(lambda a: sq * a, z2), h)
        yc = em_step(sde, t, yc, _tmap(lambda a, b: sq * (a + b), z1, z2), dt)
        return yc, yf, acc_c, acc_f

    acc0 = _tmap(jnp.zeros_like, fn(y0))
    obs, (yc, yf, acc_c, acc_f) = scan_increments(
        step, (y0, y0, acc0, acc0), key, (x0, x0), n_saves=n_saves, save_every=save_every,
        observe=lambda c: (observe(c[0]), observe(c[1])), increments="gaussian",
        draw_every=draw_every, progress=progress)
    if average is None:
        avg_c = avg_f = None
    else:
        avg_c = _tmap(lambda s: s / (n_total - n0), acc_c)
        avg_f = _tmap(lambda s: s / (2 * (n_total - n0)), acc_f)
    return PairSolution(Solution(obs[0], yc, avg_c), Solution(obs[1], yf, avg_f))


def euler_maruyama(sde, x0, key, *, dt, n_saves: int, save_every: int,
                   observe: Callable | None = None, progress: str | None = None,
                   increments: str = "gaussian", draw_every: int | None = None):
    r"""Integrate ``sde`` from :math:`X_0 = x_0` over :math:`n_{saves}\cdot save_{every}` steps of
    size ``dt`` (one path) by Euler-Maruyama (Kloeden and Platen, section 9.1; with
    ``increments="two_point"`` the simplified weak Euler scheme, section 14.1). ``observe`` maps
    the SDE state to what is saved (default: the position :math:`X_t`). Returns
    ``(observations, final_state)``; vmap over ``key`` for paths. :func:`solve` with
    ``scheme="euler"``.
    """
    sol = solve(sde, x0, key, dt=dt, n_saves=n_saves, save_every=save_every, scheme="euler",
                increments=increments, draw_every=draw_every, observe=observe,
                progress=progress)
    return sol.observations, sol.state


def weak_order2(sde, x0, key, *, dt, n_saves: int, save_every: int,
                observe: Callable | None = None, progress: str | None = None,
                increments: str = "three_point", draw_every: int | None = None):
    """Platen's explicit order-2.0 weak scheme (:func:`platen_step`; Kloeden and Platen, section
    15.1) with three-point increments; returns ``(observations, final_state)`` like
    :func:`euler_maruyama`. :func:`solve` with ``scheme="weak2"``."""
    sol = solve(sde, x0, key, dt=dt, n_saves=n_saves, save_every=save_every, scheme="weak2",
                increments=increments, draw_every=draw_every, observe=observe,
                progress=progress)
    return sol.observations, sol.state


# --------------------------------------------------------------------------------------------
# Talay-Tubaro extrapolation
# --------------------------------------------------------------------------------------------
def extrapolate(coarse, fine, order: int = 1):
    r"""Talay-Tubaro (Richardson) extrapolation of expectations computed with a scheme of weak
    order :math:`p` = ``order`` at steps :math:`\Delta` (``coarse``) and :math:`\Delta/2`
    (``fine``): :math:`(2^p E[\phi(Y^{\Delta/2})] - E[\phi(Y^\Delta)])/(2^p - 1)`, i.e.
    :math:`2E[\phi(Y^{\Delta/2})] - E[\phi(Y^\Delta)]` for Euler, whose error is
    :math:`O(\Delta^{p+1})` (Talay and Tubaro 1990; Kloeden and Platen, section 15.3). Leafwise
    on pytrees of arrays."""
    c = 2.0**order
    return _tmap(lambda a, b: (c * b - a) / (c - 1.0), coarse, fine)


def extrapolate_se(se_coarse, se_fine, order: int = 1):
    r"""Standard error of :func:`extrapolate` from independent runs:
    :math:`\sqrt{(2^p s_{fine})^2 + s_{coarse}^2}/(2^p - 1)`."""
    c = 2.0**order
    return _tmap(lambda a, b: jnp.sqrt((c * b) ** 2 + a**2) / (c - 1.0), se_coarse, se_fine)


def talay_tubaro(estimate: Callable, dt, order: int = 1) -> dict:
    r"""Run ``estimate(dt)`` and ``estimate(dt / 2)`` (each a pytree of expectations; any job can
    pass a closure over its own simulation, e.g. ``substeps`` k and 2k) and return ``{"coarse",
    "fine", "extrapolated", "correction"}`` with ``extrapolated`` = :func:`extrapolate` and
    ``correction = extrapolated - fine``, the estimated weak error left at ``dt / 2``."""
    coarse, fine = estimate(dt), estimate(dt / 2)
    ext = extrapolate(coarse, fine, order)
    return {"coarse": coarse, "fine": fine, "extrapolated": ext,
            "correction": _tmap(lambda e, f: e - f, ext, fine)}
