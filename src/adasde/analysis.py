"""Backward-compatible name of :mod:`adasde.figures.stats` (the shared statistics)."""

from adasde.figures.stats import *  # noqa: F401,F403
from adasde.figures.stats import diverged, plateau, powerlaw_exponent, provenance_table  # noqa: F401
