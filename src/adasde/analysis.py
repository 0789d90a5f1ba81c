"""Statistics shared by the notebooks: plateaus with Monte-Carlo errors, power-law exponents,
divergence checks and the provenance line printed under each figure."""

from __future__ import annotations

import numpy as np


def plateau(loss_runs, fraction: float = 0.25):
    """Time average of each run over the last ``fraction`` of the saved times, then the mean
    over runs and its Monte-Carlo standard error (runs are independent).

    ``loss_runs`` has shape (runs, times). Returns ``(mean, stderr, per_run)``; a run with a
    non-finite value makes ``mean`` NaN (see :func:`diverged`).
    """
    loss_runs = np.asarray(loss_runs, float)
    n = loss_runs.shape[-1]
    start = n - max(1, int(round(fraction * (n - 1))))
    per_run = loss_runs[..., start:].mean(axis=-1)
    mean = per_run.mean(axis=-1)
    stderr = per_run.std(axis=-1, ddof=1) / np.sqrt(per_run.shape[-1])
    return mean, stderr, per_run


def diverged(loss_runs) -> np.ndarray:
    """Boolean per run: any non-finite (NaN/inf) value along the last axis."""
    return ~np.all(np.isfinite(np.asarray(loss_runs, float)), axis=-1)


def powerlaw_exponent(x, y) -> float:
    """Least-squares slope of log(y) against log(x) (NaN if any y is not positive/finite)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def provenance_table(metas: dict):
    """A DataFrame with one row per artifact: config hash, seed, git sha (dirty flag), device,
    wall time and package versions of jax/optax."""
    import pandas as pd

    rows = []
    for name, m in metas.items():
        git = m.get("git", {})
        rows.append({
            "artifact": name,
            "config_hash": m.get("config_hash"),
            "seed": m.get("seed"),
            "git": f"{str(git.get('sha'))[:10]}{' (dirty)' if git.get('dirty') else ''}",
            "device": m.get("device"),
            "wall_time_s": round(m["wall_time_s"], 2) if m.get("wall_time_s") else None,
            "jax": m.get("packages", {}).get("jax"),
        })
    return pd.DataFrame(rows)
