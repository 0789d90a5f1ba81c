r"""Ito Euler-Maruyama as one jitted ``lax.scan``, vmapped over paths and hyper-parameters.

For an :class:`adasde.sdes.SDE` :math:`dY = b(t,Y)dt + g(t,Y)\odot dW`, one step is

.. math:: Y_{n+1} = Y_n + b(t_n, Y_n)\,\Delta t + g(t_n, Y_n) \odot \Delta W_n,
          \qquad \Delta W_n \sim N(0, \Delta t\, I),\ t_n = n\Delta t.

The integration runs ``n_saves`` blocks of ``save_every`` steps: an outer ``lax.scan`` over
blocks draws the block's Brownian increments in one call (amortising the PRNG) and an inner
``lax.scan`` takes the steps; ``observe(y)`` is recorded at :math:`t = 0` and after each
block. :func:`scan_blocks` is shared with the discrete optimizer runs
(:func:`adasde.optim.run_optimizer`), so SDE and optimizer are sampled on the same grid.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from adasde import noise

_tmap = jax.tree_util.tree_map


def standard_normal_block(key, like, n: int):
    """Standard normal draws shaped ``(n, *leaf.shape)`` for every leaf of ``like``."""
    return noise.standard_block("gaussian", key, like, n)


def block_key(key, block):
    """The PRNG key of block ``block``: ``fold_in(key, block)``; the same on every device."""
    return jax.random.fold_in(key, block)


def brownian_increments(key, like, n_saves: int, save_every: int, dt):
    r"""All increments :math:`\Delta W_n` that :func:`euler_maruyama` uses with ``key``, stacked
    to shape ``(n_saves * save_every, *leaf.shape)`` (for tests and diffrax cross-checks)."""

    def one(b):
        return standard_normal_block(block_key(key, b), like, save_every)

    blocks = jax.vmap(one)(jnp.arange(n_saves))
    return _tmap(lambda z: jnp.sqrt(dt) * z.reshape((-1,) + z.shape[2:]), blocks)


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
    report = _progress_printer(progress, n_saves, max(1, n_saves // 10)) if progress else None

    def block(y, b):
        noise = draw(block_key(key, b), save_every)

        def inner(y, xs):
            i, z = xs
            return step(b * save_every + i, y, z), None

        y, _ = jax.lax.scan(inner, y, (jnp.arange(save_every), noise))
        if report is not None:
            jax.debug.callback(report, b)
        return y, observe(y)

    y_final, obs = jax.lax.scan(block, y0, jnp.arange(n_saves))
    obs = _tmap(lambda o0, o: jnp.concatenate([o0[None], o]), observe(y0), obs)
    return obs, y_final


def em_step(sde, t, y, dw, dt):
    r"""One Euler-Maruyama step :math:`y + b(t,y)\Delta t + g(t,y)\odot\Delta W`."""
    b = sde.drift(t, y)
    g = sde.diffusion(t, y)
    out = []
    for yi, bi, gi in zip(y, b, g, strict=True):
        if gi is None:
            out.append(_tmap(lambda a, da: a + da * dt, yi, bi))
        else:
            out.append(_tmap(lambda a, da, s, w: a + da * dt + s * w, yi, bi, gi, dw))
    return tuple(out)


def euler_maruyama(sde, x0, key, *, dt, n_saves: int, save_every: int,
                   observe: Callable | None = None, progress: str | None = None):
    r"""Integrate ``sde`` from :math:`X_0 = x_0` over :math:`n_{saves}\cdot save_{every}` steps of
    size ``dt`` (one path). ``observe`` maps the SDE state to what is saved (default: the
    position :math:`X_t`). Returns ``(observations, final_state)``; vmap over ``key`` for paths.
    """
    observe = observe or sde.position
    y0 = sde.init(x0)

    def step(n, y, z):
        dw = _tmap(lambda zi: jnp.sqrt(dt) * zi, z)
        return em_step(sde, n * dt, y, dw, dt)

    def draw(k, n):
        return standard_normal_block(k, x0, n)

    return scan_blocks(step, y0, key, draw, n_saves=n_saves, save_every=save_every,
                       observe=observe, progress=progress)
