"""Statistics shared by the figures (the analysis layer): plateaus with Monte-Carlo errors,
power-law exponents, divergence checks and the provenance table under each figure."""

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


def powerlaw_exponent_stderr(x, y, y_stderr) -> tuple[float, float]:
    """Least-squares slope of log(y) against log(x) (as :func:`powerlaw_exponent`) and its
    standard error from the independent Monte-Carlo errors ``y_stderr`` of the points (delta
    method: the slope is sum_j w_j log y_j with w_j = (l_j - mean l)/sum (l - mean l)^2,
    l = log x, and Var log y_j = (se_j / y_j)^2). ``(nan, nan)`` if any y is not
    positive/finite."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    se = np.asarray(y_stderr, float)
    if not np.all(np.isfinite(y)) or np.any(y <= 0) or not np.all(np.isfinite(se)):
        return float("nan"), float("nan")
    lx = np.log(x)
    w = (lx - lx.mean()) / np.sum((lx - lx.mean()) ** 2)
    return float(np.sum(w * np.log(y))), float(np.sqrt(np.sum((w * se / y) ** 2)))


def simultaneous_critical(influence, n_boot: int = 500, seed: int = 0, level: float = 0.95):
    r"""Simultaneous confidence band over the columns of an estimate: ``influence`` (runs,
    columns) holds each run's centred contribution :math:`\psi_{rj}` to column ``j``'s estimate
    (estimate minus truth :math:`\approx \sum_r \psi_{rj}`; NaN or 0 where run ``r`` does not
    enter). Returns ``(c, se)``: the per-column standard error
    :math:`se_j = \sqrt{\sum_r \psi_{rj}^2}` and the critical value ``c`` (at least the
    pointwise 1.96 at ``level`` = 0.95) such that :math:`\text{estimate}_j \pm c\,se_j` covers
    every column at once with probability ``level`` (Gaussian multiplier bootstrap of
    :math:`\max_j |Z_j|/se_j`, seeded: deterministic). Use it where a claim takes a maximum over
    many saved times, so that the maximum neither passes nor fails by chance."""
    from scipy.stats import norm

    psi = np.nan_to_num(np.asarray(influence, float))
    se = np.sqrt((psi**2).sum(axis=0))
    pointwise = float(norm.ppf(0.5 + level / 2))
    ok = se > 0
    if not ok.any():
        return pointwise, se
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((int(n_boot), psi.shape[0])) @ psi[:, ok]
    c = float(np.quantile(np.max(np.abs(z) / se[ok], axis=1), level))
    return max(pointwise, c), se


# ------------------------------------------------------------ ratios to a reference (scaling)
def reference_index(values, reference: float = 1.0) -> int:
    """Index of ``reference`` (e.g. the base run delta = 1) in ``values``, found **by value**,
    never by position (``deltas: [2, 1, 4]`` gives 1); a missing or repeated reference raises
    ``ValueError``."""
    values = np.asarray(values, float).ravel()
    hits = np.flatnonzero(np.isclose(values, reference, rtol=1e-12, atol=0.0))
    if hits.size != 1:
        raise ValueError(f"the reference {reference:g} must occur exactly once in {list(values)}")
    return int(hits[0])


def ratio_stderr(m, e, m0, e0):
    """Delta-method standard error of ``m / m0`` for independent estimates ``m +/- e`` and
    ``m0 +/- e0`` (elementwise)."""
    m, e, m0, e0 = (np.asarray(v, float) for v in (m, e, m0, e0))
    r = m / m0
    return np.abs(r) * np.sqrt((e / m) ** 2 + (e0 / m0) ** 2)


def bin_means(loss_runs, start: int, bins: int, stop: int | None = None):
    """``(runs, saved)`` -> per-bin mean over runs and its standard error, each ``(bins,)``:
    the saved points ``start:stop`` are split into ``bins`` consecutive bins, each run is
    averaged within a bin, then the runs are averaged (independent runs)."""
    post = np.asarray(loss_runs, float)[:, start:stop]
    chunks = np.array_split(np.arange(post.shape[1]), bins)
    per_run = np.stack([post[:, ch].mean(axis=1) for ch in chunks], axis=1)
    return per_run.mean(0), per_run.std(0, ddof=1) / np.sqrt(per_run.shape[0])


def decisive(measured, stderr, lo, hi, z: float = 1.959963984540054) -> int | None:
    """For a claim "every point lies in ``[lo, hi]``": the index of the point that decides it
    (its 95% interval, ``measured +/- z*stderr``, then decides the claim as
    :func:`adasde.claims.decide` would for the whole set). The point whose interval lies
    farthest outside the band if any lies wholly outside (the claim fails); else the one that
    straddles an edge the most (inconclusive); else the one closest to an edge (it holds).
    Non-finite points are skipped; ``None`` if none is left."""
    m = np.asarray(measured, float).ravel()
    se = np.nan_to_num(np.asarray(stderr, float).ravel() * np.ones_like(m))
    ok = np.isfinite(m)
    if not ok.any():
        return None
    lo_ = -np.inf if lo is None else lo
    hi_ = np.inf if hi is None else hi
    a, b = m - z * se, m + z * se
    outside = np.where(ok, np.maximum(lo_ - b, a - hi_), -np.inf)  # > 0: wholly outside
    if outside.max() > 0:
        return int(np.argmax(outside))
    straddle = np.where(ok, np.maximum(lo_ - a, b - hi_), -np.inf)  # > 0: crosses an edge
    if straddle.max() > 0:
        return int(np.argmax(straddle))
    return int(np.argmax(np.where(ok, np.maximum(lo_ - m, m - hi_), -np.inf)))


def hitting_samples(x, curve, level) -> float:
    """First ``x`` at which ``curve`` falls to ``level`` or below, interpolated linearly in
    log(curve) between saved points; NaN if it never does (or the curve is not positive)."""
    x, curve = np.asarray(x, float), np.asarray(curve, float)
    below = np.flatnonzero(curve <= level)
    if not below.size:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(x[0])
    if curve[i - 1] <= 0 or curve[i] <= 0:
        return float(x[i])
    y0, y1 = np.log(curve[i - 1]), np.log(curve[i])
    return float(x[i - 1] + (x[i] - x[i - 1]) * (y0 - np.log(level)) / (y0 - y1))


def hitting_samples_boot(x, runs, level, n_boot: int = 200, seed: int = 0):
    """:func:`hitting_samples` of the mean over ``runs`` (runs, saved) and its bootstrap
    standard error over runs (resampled with replacement): ``(value, stderr)``."""
    runs = np.asarray(runs, float)
    value = hitting_samples(x, runs.mean(0), level)
    rng = np.random.default_rng(seed)
    n = runs.shape[0]
    boots = np.array([hitting_samples(x, runs[rng.integers(0, n, n)].mean(0), level)
                      for _ in range(int(n_boot))])
    ok = np.isfinite(boots)
    se = float(boots[ok].std(ddof=1)) if ok.sum() > 1 else float("nan")
    return value, se


def load_optimizer_kinds(figure: str, inputs: dict, kinds) -> dict:
    """Read exactly the artifacts ``inputs`` ({"<optimizer>_<kind>": path.npz}) of a figure
    with one artifact per optimizer and kind. Returns ``{"runs": {(opt, kind): arrays},
    "metas": {stem: meta}, "section": simulate section}``."""
    from adasde import artifacts

    if not inputs:
        raise ValueError(f"{figure}: no input artifacts")
    runs, metas = {}, {}
    for stem, path in sorted(inputs.items()):
        opt, kind = stem.rsplit("_", 1)
        if kind not in kinds:
            raise ValueError(f"{figure}: artifact {stem!r} is not "
                             f"<optimizer>_<{'|'.join(kinds)}>")
        runs[opt, kind], metas[stem] = artifacts.load(path)
    section = merged_section(figure, metas, inputs)
    return {"runs": runs, "metas": metas, "section": section}


def merged_section(figure: str, metas: dict, paths: dict | None = None,
                   per: str = "optimizers") -> dict:
    """The simulate section behind a figure's artifacts, from the provenance of each
    (``metas``: {stem: meta}). Each job records only what it read: its own entry of the
    per-optimizer map at (dotted) key ``per``, and the SDE-only keys
    (:data:`adasde.jobs.SDE_ONLY_KEYS`) only if it is an SDE job (stem ``*_sde``). The result
    has the union of the entries, the SDE-only keys of the SDE jobs, and the shared keys, which
    must agree across artifacts: artifacts made from different settings are refused
    (``ArtifactError`` naming both files and the key), never mixed into one figure."""
    from adasde import artifacts
    from adasde.jobs import SDE_ONLY_KEYS, without

    paths = paths or {}
    where = per.split(".")
    merged, first, entries, seen = None, None, {}, {}
    # SDE jobs first: the merged shared keys then include the SDE-only ones where any has them
    for stem, meta in sorted(metas.items(), key=lambda kv: not kv[0].endswith("_sde")):
        cfg = meta["config"]
        node = cfg
        for k in where:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        for name, entry in node.items():
            if name in entries and entries[name] != entry:
                raise artifacts.ArtifactError(
                    f"{figure}: artifacts {paths.get(seen[name], seen[name])} and "
                    f"{paths.get(stem, stem)} were made with different settings of "
                    f"'{per}.{name}'; rebuild them with `make figures`")
            entries.setdefault(name, entry)
            seen.setdefault(name, stem)
        shared = without(cfg, (per,))
        if merged is None:
            merged, first = shared, stem
            continue
        # an optimizer job did not read the SDE-only keys: compare the rest
        skip = () if stem.endswith("_sde") else SDE_ONLY_KEYS
        mine, ref = without(shared, skip), without(merged, skip)
        if mine != ref:
            diff = sorted(k for k in set(mine) | set(ref) if mine.get(k) != ref.get(k))
            raise artifacts.ArtifactError(
                f"{figure}: artifacts {paths.get(first, first)} and {paths.get(stem, stem)} "
                f"were made with different settings (key {', '.join(diff)}); rebuild them "
                "with `make figures`")
    if merged is None:
        raise ValueError(f"{figure}: no artifact provenance to read")
    node = merged
    for k in where[:-1]:
        node[k] = dict(node.get(k, {}))
        node = node[k]
    node[where[-1]] = entries
    return merged


# ------------------------------------------------------------------ convergence in dt
def dt_move(coarse, fine, relative: bool = True) -> dict:
    r"""How far a per-path SDE quantity moves when the step halves, from the coupled pair of
    :func:`adasde.integrate.solve_pair` (``coarse`` at :math:`\Delta t`, ``fine`` at
    :math:`\Delta t/2`, both shaped ``(paths,)`` and computed on the same Brownian paths).

    Returns ``{"move", "stderr", "fine", "paths", "dropped"}``: the mean over paths of
    ``coarse - fine`` (divided by :math:`|\mathrm{mean}(fine)|` when ``relative``) and its
    standard error across paths (the paths are independent; the pair's difference has
    variance :math:`O(\Delta t)`, so few paths suffice). Paths with a non-finite value in either
    chain are dropped and counted. For a scheme of weak order 1 the move estimates the weak
    error left at :math:`\Delta t/2`, and half the error at :math:`\Delta t` (Talay and Tubaro
    1990; Kloeden and Platen, section 15.3)."""
    c = np.asarray(coarse, float).ravel()
    f = np.asarray(fine, float).ravel()
    ok = np.isfinite(c) & np.isfinite(f)
    n = int(ok.sum())
    if n < 2:
        return {"move": float("nan"), "stderr": float("nan"), "fine": float("nan"), "paths": n,
                "dropped": int(c.size - n)}
    diff = c[ok] - f[ok]
    scale = abs(f[ok].mean()) if relative else 1.0
    return {"move": float(diff.mean() / scale),
            "stderr": float(diff.std(ddof=1) / np.sqrt(n) / scale),
            "fine": float(f[ok].mean()), "paths": n, "dropped": int(c.size - n)}


def dt_label(substeps: int) -> str:
    """The SDE's step in words for claims: ``eta`` or ``eta/k`` (``sde_substeps`` k)."""
    return "eta" if int(substeps) == 1 else f"eta/{int(substeps)}"


def convergence_claim(figure: str, id: str, what: str, coarse, fine, *, tolerance: float,
                      fraction: float, relative: bool = True, dt_label: str = "eta",
                      against: str = "SDE-vs-optimizer"):
    r"""The claim that the plotted SDE quantity ``what`` is converged in the step: when
    :math:`\Delta t` = ``dt_label`` halves it moves by at most ``fraction`` times the
    ``tolerance`` of the figure's claims about that quantity (``against``: by default its
    SDE-versus-optimizer claims; relative to its value when
    ``relative``, else in its own units). The alternative it rules out: a discretisation error
    as large as that tolerance (the issue that the Euler-Maruyama curve at :math:`\Delta t =
    \eta` is not the SDE). ``coarse``/``fine``: per-path values of the pair (:func:`dt_move`)."""
    from adasde.claims import Claim

    m = dt_move(coarse, fine, relative)
    unit = "relative" if relative else "absolute"
    note = (f"{unit} move coarse - fine over {m['paths']} coupled paths (same Brownian path at "
            f"dt and dt/2); fine value {m['fine']:.4g}")
    if m["dropped"]:
        note += f"; {m['dropped']} non-finite paths dropped"
    return Claim(
        figure=figure, id=id,
        statement=f"{what} is converged in dt: it moves by at most {fraction:g} x the "
                  f"{against} tolerance {tolerance:g} ({unit}) when dt = {dt_label} halves",
        measured=m["move"], predicted=0.0, tolerance=fraction * tolerance,
        comparison="absolute", stderr=m["stderr"], runs=m["paths"],
        alternative=f"a discretisation error as large as the {against} tolerance "
                    f"({tolerance:g})",
        alternative_value=tolerance, note=note)
