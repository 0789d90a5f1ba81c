r"""Loss landscapes with known curvature.

The diagonal quadratic :math:`f(x) = \tfrac12 \sum_i \lambda_i x_i^2` (docs/paper.md section 1,
[S, source 3]: "f(x) = x' H x / 2 with H = diag(lambda_1..lambda_d)"), minimiser
:math:`x^* = 0`, :math:`f^* = 0`, Hessian :math:`H = \mathrm{diag}(\lambda)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

SPACINGS = ("linear", "geometric")


def quadratic_spectrum(d: int, lambda_min: float, lambda_max: float, spacing: str = "linear"):
    r"""Eigenvalues :math:`\lambda_1 \le \dots \le \lambda_d` of :math:`H` in
    :math:`[\lambda_{\min}, \lambda_{\max}]`, linearly or geometrically spaced (numpy float64)."""
    if d < 1:
        raise ValueError(f"problem.d must be >= 1, got {d}")
    if not 0 < lambda_min <= lambda_max:
        raise ValueError(
            f"problem.lambda_min/lambda_max must satisfy 0 < lambda_min <= lambda_max, "
            f"got {lambda_min}, {lambda_max}"
        )
    if spacing == "linear":
        return np.linspace(lambda_min, lambda_max, d)
    if spacing == "geometric":
        return np.geomspace(lambda_min, lambda_max, d)
    raise ValueError(f"unknown problem.spacing {spacing!r}; allowed: {', '.join(SPACINGS)}")


@dataclass(frozen=True)
class Quadratic:
    r""":math:`f(x) = \tfrac12 \sum_i \lambda_i x_i^2` with eigenvalues ``lam``."""

    lam: jnp.ndarray

    @classmethod
    def from_config(cls, problem: dict, dtype=jnp.float32) -> Quadratic:
        lam = quadratic_spectrum(
            int(problem["d"]),
            float(problem["lambda_min"]),
            float(problem["lambda_max"]),
            problem.get("spacing", "linear"),
        )
        return cls(jnp.asarray(lam, dtype))

    @property
    def d(self) -> int:
        return int(self.lam.shape[0])

    def loss(self, x):
        r""":math:`f(x) - f^* = \tfrac12 \sum_i \lambda_i x_i^2` (last axis is the coordinate)."""
        return 0.5 * jnp.sum(self.lam * x * x, axis=-1)

    def grad(self, x):
        r""":math:`\nabla f(x) = H x`."""
        return self.lam * x

    def hessian_diag(self):
        return self.lam

    @property
    def mu(self) -> float:
        """Strong-convexity constant (smallest eigenvalue)."""
        return float(jnp.min(self.lam))

    @property
    def L(self) -> float:
        """Smoothness constant (largest eigenvalue)."""
        return float(jnp.max(self.lam))
