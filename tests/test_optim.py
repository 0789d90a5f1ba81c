"""The discrete optimizers against optax, step for step in float64, and where they differ."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adasde import optim


def _run(opt, grads, x0):
    x, state = x0, opt.init(x0)
    xs = []
    for g in grads:
        u, state = opt.update(g, state, x)
        x = optax.apply_updates(x, u)
        xs.append(x)
    return jnp.stack(xs)


@pytest.fixture
def grads(x64):
    key = jax.random.key(0)
    return jax.random.normal(key, (50, 7), jnp.float64) * 3.0


@pytest.fixture
def x0(x64):
    return jnp.linspace(-1.0, 1.0, 7, dtype=jnp.float64)


def test_sgd_matches_optax(grads, x0):
    ours = _run(optim.sgd(0.03), grads, x0)
    ref = _run(optax.sgd(0.03), grads, x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_signsgd_matches_optax(grads, x0):
    ours = _run(optim.signsgd(0.03), grads, x0)
    ref = _run(optax.sign_sgd(0.03), grads, x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("theta", [0.0, 0.5])
@pytest.mark.parametrize("eps", [0.0, 1e-8, 1e-2])
def test_adamw_matches_optax(grads, x0, theta, eps):
    """optax.adamw's weight_decay is our theta: both decay by -lr*wd*x outside the preconditioner."""
    ours = _run(optim.adamw(0.01, 0.9, 0.99, eps, theta), grads, x0)
    ref = _run(optax.adamw(0.01, b1=0.9, b2=0.99, eps=eps, weight_decay=theta), grads, x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_adam_matches_optax_adam(grads, x0):
    ours = _run(optim.adamw(0.01, 0.9, 0.999, 1e-8), grads, x0)
    ref = _run(optax.adam(0.01, b1=0.9, b2=0.999, eps=1e-8), grads, x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_rmsprop_matches_optax_with_eps_outside_sqrt(grads, x0):
    ours = _run(optim.rmspropw(0.01, 0.95, 1e-3), grads, x0)
    ref = _run(optax.rmsprop(0.01, decay=0.95, eps=1e-3, eps_in_sqrt=False), grads, x0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_rmspropw_is_rmsprop_plus_decoupled_decay(grads, x0):
    ref = optax.chain(
        optax.scale_by_rms(decay=0.95, eps=1e-3, eps_in_sqrt=False),
        optax.add_decayed_weights(0.3),
        optax.scale(-0.01),
    )
    ours = _run(optim.rmspropw(0.01, 0.95, 1e-3, theta=0.3), grads, x0)
    np.testing.assert_allclose(ours, _run(ref, grads, x0), rtol=0, atol=1e-12)


def test_where_conventions_differ(grads, x0):
    """Pinned differences: optax.rmsprop puts eps inside the square root by default, and
    optax.add_decayed_weights before the preconditioner is coupled L2 (not AdamW)."""
    ours = _run(optim.rmspropw(0.01, 0.95, 1e-2), grads, x0)
    optax_default = _run(optax.rmsprop(0.01, decay=0.95, eps=1e-2), grads, x0)
    assert np.max(np.abs(ours - optax_default)) > 1e-6
    coupled = optax.chain(optax.add_decayed_weights(0.5), optax.adam(0.01, b1=0.9, b2=0.99))
    decoupled = _run(optim.adamw(0.01, 0.9, 0.99, 0.0, 0.5), grads, x0)
    assert np.max(np.abs(_run(coupled, grads, x0) - decoupled)) > 1e-6


def test_weight_decay_needs_params(x0):
    opt = optim.adamw(0.01, 0.9, 0.99, 0.0, 0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(x0, opt.init(x0))


def test_first_adam_step_is_sign_like(x64):
    """Bias correction: step 1 is -eta * g/|g| (eps = 0), whatever beta1, beta2."""
    g = jnp.array([3.0, -0.2, 1e-3])
    opt = optim.adamw(0.1, 0.9, 0.999)
    u, _ = opt.update(g, opt.init(g), g)
    np.testing.assert_allclose(u, -0.1 * jnp.sign(g), atol=1e-12)


def test_make_rejects_unknown_optimizer():
    with pytest.raises(ValueError, match="adamx"):
        optim.make("adamx", {"eta": 0.1})


def test_pytree_params(x64):
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    g = jax.tree_util.tree_map(lambda p: p + 0.5, params)
    opt = optim.adamw(0.01, 0.9, 0.99, 0.0, 0.1)
    u, _ = opt.update(g, opt.init(params), params)
    assert jax.tree_util.tree_structure(u) == jax.tree_util.tree_structure(params)
