"""Euler-Maruyama: pathwise against diffrax.Euler on the same Brownian increments, weak
accuracy on an Ornstein-Uhlenbeck process (closed form), and no recompilation across
hyper-parameter values."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adasde import integrate, sdes
from adasde.experiments import quadratic
from adasde.problems import Quadratic


class _DiagonalNoise(diffrax.AbstractTerm):
    """g(t, y) (.) dW for our SDE's diagonal diffusion, driven by a given control path."""

    sde: sdes.SDE
    path: diffrax.AbstractPath

    def vf(self, t, y, args):
        g = self.sde.diffusion(t, y)
        return tuple(jnp.zeros_like(yi) if gi is None else gi for yi, gi in zip(y, g, strict=True))

    def contr(self, t0, t1, **kwargs):
        return self.path.evaluate(t0, t1)

    def prod(self, vf, control):
        return tuple(v * control for v in vf)


def _diffrax_solve(sde, x0, increments, dt, n_steps):
    ts = jnp.arange(n_steps + 1) * dt
    w = jnp.concatenate([jnp.zeros((1,) + x0.shape, x0.dtype), jnp.cumsum(increments, axis=0)])
    path = diffrax.LinearInterpolation(ts=ts, ys=w)
    terms = diffrax.MultiTerm(diffrax.ODETerm(lambda t, y, args: sde.drift(t, y)),
                              _DiagonalNoise(sde, path))
    sol = diffrax.diffeqsolve(terms, diffrax.Euler(), t0=0.0, t1=float(ts[-1]), dt0=dt,
                              y0=sde.init(x0), saveat=diffrax.SaveAt(ts=ts[::10]),
                              max_steps=n_steps + 10)
    return sol.ys


@pytest.mark.parametrize("name", ["sgd", "signsgd", "rmspropw", "adamw"])
def test_pathwise_matches_diffrax_euler(x64, name):
    q = Quadratic(jnp.linspace(0.5, 2.0, 5))
    x0 = jnp.linspace(-1.0, 2.0, 5)
    hp = {"eta": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "theta": 0.5}
    sde = sdes.make(name, q.grad, hp, jnp.full(5, 0.7))
    dt, n_saves, save_every = 0.01, 30, 10
    key = jax.random.key(3)
    obs, _ = integrate.euler_maruyama(sde, x0, key, dt=dt, n_saves=n_saves,
                                      save_every=save_every, observe=lambda y: y)
    inc = integrate.brownian_increments(key, x0, n_saves, save_every, dt)
    ref = _diffrax_solve(sde, x0, inc, dt, n_saves * save_every)
    for ours, theirs in zip(obs, ref, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _ou_mean_loss(lam, sigma, eta, x0, t):
    """E f(X_t) for dX = -lam X dt + sqrt(eta) sigma dW (the SGD SDE on the quadratic)."""
    e = np.exp(-2 * lam * t)
    return 0.5 * np.sum(lam * (x0**2 * e + eta * sigma**2 / (2 * lam) * (1 - e)))


def test_ou_mean_loss_matches_closed_form_within_3_stderr(x64):
    lam = jnp.array([0.5, 1.0, 3.0])
    x0, sigma, eta = 1.5, 2.0, 0.05
    dt, n_saves, save_every, paths = 1e-3, 20, 100, 4000
    sde = sdes.sgd_sde(Quadratic(lam).grad, eta, sigma)
    keys = jax.random.split(jax.random.key(0), paths)
    loss, _ = jax.vmap(lambda k: integrate.euler_maruyama(
        sde, jnp.full(3, x0), k, dt=dt, n_saves=n_saves, save_every=save_every,
        observe=lambda y: Quadratic(lam).loss(y[0])))(keys)
    loss = np.asarray(loss)
    ts = np.arange(n_saves + 1) * save_every * dt
    for j in (5, 10, 20):
        exact = _ou_mean_loss(np.asarray(lam), sigma, eta, x0, ts[j])
        se = loss[:, j].std(ddof=1) / np.sqrt(paths)
        assert abs(loss[:, j].mean() - exact) < 3 * se, (j, loss[:, j].mean(), exact, se)


def test_weak_error_is_first_order(x64):
    """Stationary E f of Euler-Maruyama has relative bias lam*dt/2: halving dt halves it.
    100k paths give a Monte-Carlo error (~0.5%) well below the smallest bias (2.5%)."""
    lam, sigma, eta = jnp.array([2.0]), 1.0, 1.0
    sde = sdes.sgd_sde(Quadratic(lam).grad, eta, sigma)
    exact = _ou_mean_loss(2.0, sigma, eta, 0.0, np.inf)
    keys = jax.random.split(jax.random.key(1), 100_000)
    errors = []
    for dt in (0.1, 0.05, 0.025):
        steps = int(round(6.0 / dt))
        loss, _ = jax.vmap(lambda k, dt=dt, steps=steps: integrate.euler_maruyama(
            sde, jnp.zeros(1), k, dt=dt, n_saves=1, save_every=steps,
            observe=lambda y: Quadratic(lam).loss(y[0])))(keys)
        errors.append(float(np.mean(loss[:, -1])) - exact)
    assert all(e > 0 for e in errors), errors
    r1, r2 = errors[0] / errors[1], errors[1] / errors[2]
    assert 1.5 < r1 < 2.7 and 1.5 < r2 < 2.7, (errors, r1, r2)


def test_no_recompilation_when_values_change():
    lam = np.linspace(0.5, 2.0, 4)
    base = dict(name="adamw", runs=4, n_saves=3, save_every=5)
    quadratic.simulate.clear_cache()
    for i, (sig, eta, b1) in enumerate([(1.0, 1e-2, 0.9), (3.0, 2e-2, 0.95), (0.1, 5e-3, 0.8)]):
        for kind in ("optim", "sde"):
            hp = quadratic.hp_grid({"eta": eta, "beta1": b1, "beta2": 0.99, "theta": 0.1}, 2,
                                   jnp.float32)
            quadratic.simulate(jnp.asarray(lam, jnp.float32), jnp.ones(4, jnp.float32), hp,
                               jnp.asarray([sig, 2 * sig], jnp.float32), jax.random.key(i),
                               kind=kind, **base)
    assert quadratic.simulate._cache_size() == 2  # one program per kind, none per value


def test_saved_grid_and_shapes():
    q = Quadratic(jnp.linspace(1.0, 2.0, 3))
    sde = sdes.sgd_sde(q.grad, 0.1, 0.5)
    obs, y = integrate.euler_maruyama(sde, jnp.ones(3), jax.random.key(0), dt=0.1, n_saves=7,
                                      save_every=4, observe=lambda y: q.loss(y[0]))
    assert obs.shape == (8,) and float(obs[0]) == pytest.approx(float(q.loss(jnp.ones(3))))
    assert y[0].shape == (3,)


def test_determinism_same_key_same_paths():
    q = Quadratic(jnp.linspace(1.0, 2.0, 3))
    sde = sdes.signsgd_sde(q.grad, 0.1, 0.5)
    run = lambda k: integrate.euler_maruyama(sde, jnp.ones(3), k, dt=0.1, n_saves=5,
                                             save_every=3)[0]
    np.testing.assert_array_equal(run(jax.random.key(5)), run(jax.random.key(5)))
    assert not np.array_equal(run(jax.random.key(5)), run(jax.random.key(6)))


# ------------------------------------------------------------------ weak schemes and increments
def test_default_gaussian_stream_is_the_brownian_increments(x64):
    x0 = jnp.zeros(3)
    z = integrate.unit_increments(jax.random.key(4), x0, 3, 5, "gaussian")
    dw = integrate.brownian_increments(jax.random.key(4), x0, 3, 5, 0.25)
    np.testing.assert_array_equal(np.asarray(dw), 0.5 * np.asarray(z))


@pytest.mark.parametrize("scheme,increments,draw_every", [
    ("euler", "two_point", None),
    ("euler", "two_point", 4),
    ("euler", "three_point", None),
    ("euler", "three_point", 3),
    ("euler", "gaussian", 2),
    ("weak2", "three_point", 10),
    ("weak2", "four_point", None),
    ("weak2", "four_point", 7),
    ("weak2", "gaussian", None),
])
def test_solve_is_the_step_recursion_on_its_increments(x64, scheme, increments, draw_every):
    """solve() takes exactly em_step / platen_step on the increments unit_increments() reports
    (same keys, blocks and sub-blocks), for a multiplicative-noise SDE and an additive one."""
    q = Quadratic(jnp.linspace(0.5, 2.0, 4))
    x0 = jnp.linspace(-1.0, 1.0, 4)
    hp = {"eta": 0.05, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "theta": 0.5}
    dt, n_saves, save_every = 0.05, 3, 10
    key = jax.random.key(7)
    z = integrate.unit_increments(key, x0, n_saves, save_every, increments, draw_every)
    for name in ("signsgd", "adamw"):
        sde = sdes.make(name, q.grad, hp, jnp.full(4, 0.7))
        sol = integrate.solve(sde, x0, key, dt=dt, n_saves=n_saves, save_every=save_every,
                              scheme=scheme, increments=increments, draw_every=draw_every,
                              observe=lambda y: y)
        y = sde.init(x0)
        for n in range(n_saves * save_every):
            if scheme == "euler":
                y = integrate.em_step(sde, n * dt, y, np.sqrt(dt) * z[n], dt)
            else:
                y = integrate.platen_step(sde, n * dt, y, z[n], dt)
        for ours, ref in zip(sol.state, y, strict=True):
            np.testing.assert_allclose(ours, ref, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(sol.observations[0][-1], y[0], rtol=1e-11, atol=1e-13)


def test_platen_step_hand_case(x64):
    """Geometric Brownian motion dX = mu X dt + s X dW: Platen's step is
    X (1 + mu h + mu^2 h^2 / 2 + s dW (1 + mu h) + s^2 (dW^2 - h) / 2), the weak Taylor scheme
    of order 2 (Kloeden and Platen, eq. (14.2.1)) for this SDE."""
    mu, s, h, x, z = -0.7, 0.4, 0.1, 1.3, 0.8
    sde = sdes.from_coefficients(lambda x0: (x0,),
                                 lambda t, y: ((mu * y[0],), (s * y[0],)))
    out = integrate.platen_step(sde, 0.0, (jnp.asarray(x),), jnp.asarray(z), h)[0]
    dw = np.sqrt(h) * z
    ref = x * (1 + mu * h + mu**2 * h**2 / 2 + s * dw * (1 + mu * h) + s**2 * (dw**2 - h) / 2)
    np.testing.assert_allclose(out, ref, rtol=1e-13)


def test_platen_additive_shortcut_equals_full_step(x64):
    q = Quadratic(jnp.linspace(0.5, 2.0, 3))
    sde = sdes.adamw_sde(q.grad, 0.05, 0.9, 0.99, 0.7, theta=0.5)
    full = sde._replace(additive=False)
    y = (jnp.array([0.3, -1.0, 2.0]), jnp.array([0.1, 0.2, -0.3]), jnp.array([0.5, 0.4, 0.3]))
    z = (jnp.array([1.7, 0.0, -1.7]),)
    a = integrate.platen_step(sde, 0.2, y, z[0], 0.05)
    b = integrate.platen_step(full, 0.2, y, z[0], 0.05)
    for ai, bi in zip(a, b, strict=True):
        np.testing.assert_allclose(ai, bi, rtol=1e-12, atol=1e-14)


def test_average_is_the_time_average_of_the_chain(x64):
    q = Quadratic(jnp.array([1.0, 2.0]))
    sde = sdes.signsgd_sde(q.grad, 0.1, 0.5)
    x0 = jnp.array([1.0, -1.0])
    kw = dict(dt=0.1, n_saves=12, save_every=1, scheme="weak2", increments="three_point",
              draw_every=1)
    sol = integrate.solve(sde, x0, jax.random.key(2), average=(lambda y: y[0] ** 2, 4),
                          observe=lambda y: y[0] ** 2, **kw)
    obs = np.asarray(sol.observations)  # x_0^2 ... x_12^2
    np.testing.assert_allclose(sol.average, obs[4:12].mean(0), rtol=1e-12)
    plain = integrate.solve(sde, x0, jax.random.key(2), **kw)
    np.testing.assert_array_equal(plain.state[0], sol.state[0])
    assert plain.average is None


def test_solve_rejects_bad_arguments():
    sde = sdes.sgd_sde(Quadratic(jnp.ones(2)).grad, 0.1, 1.0)
    kw = dict(dt=0.1, n_saves=2, save_every=6)
    with pytest.raises(ValueError, match="scheme"):
        integrate.solve(sde, jnp.ones(2), jax.random.key(0), scheme="rk4", **kw)
    with pytest.raises(ValueError, match="increments"):
        integrate.solve(sde, jnp.ones(2), jax.random.key(0), increments="uniform", **kw)
    with pytest.raises(ValueError, match="draw_every"):
        integrate.solve(sde, jnp.ones(2), jax.random.key(0), draw_every=7, **kw)
    with pytest.raises(ValueError, match="average"):
        integrate.solve(sde, jnp.ones(2), jax.random.key(0), average=(lambda y: y[0], 12), **kw)
    assert integrate.default_draw_every("two_point", 100) == 32
    assert integrate.default_draw_every("two_point", 20) == 20
    assert integrate.default_draw_every("three_point", 100) == 16
    assert integrate.default_draw_every("four_point", 100) == 10
    assert integrate.default_draw_every("gaussian", 1000) == 1000
    assert integrate.sub_blocks(100, 32) == [(0, 3, 32), (3, 1, 4)]
    assert integrate.sub_blocks(64, 32) == [(0, 2, 32)]


def test_two_point_path_is_deterministic_and_sde_uses_one_word_per_32_steps():
    q = Quadratic(jnp.linspace(1.0, 2.0, 3))
    sde = sdes.signsgd_sde(q.grad, 0.1, 0.5)

    def run(k):
        return integrate.euler_maruyama(sde, jnp.ones(3), k, dt=0.1, n_saves=2, save_every=64,
                                        increments="two_point")[0]

    np.testing.assert_array_equal(run(jax.random.key(5)), run(jax.random.key(5)))
    assert not np.array_equal(run(jax.random.key(5)), run(jax.random.key(6)))
    words = integrate.two_point_words(jax.random.key(0), jnp.ones(3), 64)
    assert words.shape == (2, 3) and words.dtype == jnp.uint32
