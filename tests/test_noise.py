"""Noise models: Gaussian covariance Sigma/B and coordinate-wise Student-t quantiles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from adasde import noise
from adasde.problems import Quadratic, quadratic_spectrum


def test_gaussian_std_is_sigma_over_sqrt_b():
    like = jnp.zeros((200_000, 2))
    z = noise.gaussian(jax.random.key(0), like, jnp.array([1.0, 4.0]), batch_size=4)
    std = np.asarray(z).std(axis=0)
    np.testing.assert_allclose(std, [0.5, 2.0], rtol=0.01)  # s.e. of a std ~ 0.16%


@pytest.mark.parametrize("nu", [1.0, 2.0, 3.0, 5.0])
def test_student_t_quantiles(nu):
    n = 200_000
    z = np.asarray(noise.student_t(jax.random.key(1), jnp.zeros(n), 2.5, nu)) / 2.5
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    emp = np.quantile(z, probs)
    exact = scipy.stats.t.ppf(probs, nu)
    # s.e. of an empirical quantile: sqrt(p(1-p)/n) / pdf(q); allow 4 of them
    se = np.sqrt(probs * (1 - probs) / n) / scipy.stats.t.pdf(exact, nu)
    assert np.all(np.abs(emp - exact) < 4 * se + 1e-12), (emp, exact, se)


def test_pytree_noise_shapes():
    like = {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)}
    z = noise.gaussian(jax.random.key(0), like, 1.0)
    assert z["w"].shape == (3, 4) and z["b"].shape == (4,)


def test_sampler_rejects_unknown_kind():
    with pytest.raises(ValueError, match="laplace"):
        noise.sampler("laplace")


def test_quadratic_spectrum_and_errors():
    np.testing.assert_allclose(quadratic_spectrum(3, 1.0, 4.0, "geometric"), [1, 2, 4])
    q = Quadratic(jnp.array([1.0, 3.0]))
    assert float(q.loss(jnp.array([1.0, 1.0]))) == 2.0 and q.mu == 1.0 and q.L == 3.0
    with pytest.raises(ValueError, match="d must be"):
        quadratic_spectrum(0, 1.0, 2.0)
    with pytest.raises(ValueError, match="spacing"):
        quadratic_spectrum(2, 1.0, 2.0, "cubic")
