"""Shared fixtures: float64 for oracle tests, the repository root."""

from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test."""
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", False)


@pytest.fixture
def root():
    return ROOT
