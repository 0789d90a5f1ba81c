r"""Figure ``bounds``: the poster's Theorem 1 (SGD) and Theorem 2 (SignSGD, simplified) against
simulation (paper.md 3.1-3.2).

Two quadratics of the same dimension :math:`d`: ``problem`` (spectrum in
:math:`[\mu, L] = [\lambda_{\min}, \lambda_{\max}]`, where the bounds are checked) and
:math:`H = \lambda I` (``isotropic_lambda``, where they are tight). For every noise level
:math:`\sigma` and batch size :math:`B` of the section (grid ``G = len(sigmas) *
len(batch_sizes)``, :math:`\sigma`-major), one job per (optimizer, kind) runs the optimizer or
its SDE (Euler-Maruyama, :math:`\Delta t = \eta`) from :math:`x_0` and saves, on both problems:

* ``loss`` (problem, G, run, saved time): :math:`f(x_k) - f^*`;
* ``abs_x_mean`` (problem, G, saved time, d): :math:`E|x_{k,i}|` over runs;
* ``phase3_fraction`` (problem, G, saved time): the fraction of runs whose SNR
  :math:`Y_i = \lambda_i x_i/(\sqrt2\,s)`, :math:`s = \sigma/\sqrt B` (paper.md 2.2), has
  :math:`\max_i |Y_i| < 1` (SignSGD's Phase 3);
* ``lam`` (problem, d), ``sigmas``/``batch_sizes`` (G,), ``times`` (saved time :math:`t = k\eta`).

The statistics the notebook needs (:func:`phase3_start`, :func:`worst_excess`) live here so the
tests can pin them down.
"""

from __future__ import annotations

import numpy as np

from adasde import artifacts
from adasde.experiments import quadratic
from adasde.problems import quadratic_spectrum

FIGURE = "bounds"
PROBLEMS = ("spectrum", "isotropic")
OPTIMIZERS = ("sgd", "signsgd")


def spectra(section: dict) -> np.ndarray:
    """Eigenvalues of both problems, shape (2, d): the section's spectrum and
    :math:`\\lambda I` with :math:`\\lambda` = ``isotropic_lambda``."""
    p = section["problem"]
    lam = quadratic_spectrum(p["d"], p["lambda_min"], p["lambda_max"], p.get("spacing", "linear"))
    return np.stack([lam, np.full_like(lam, float(section["isotropic_lambda"]))])


def grid(section: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(sigmas, batch_sizes)`` of every grid point (sigma-major), each of shape (G,)."""
    s, b = np.meshgrid(np.asarray(section["sigmas"], float),
                       np.asarray(section["batch_sizes"], float), indexing="ij")
    return s.ravel(), b.ravel()


def snr_max(x, lam, s):
    r""":math:`\max_i |\lambda_i x_i|/(\sqrt2\,s)` over the last axis (SignSGD's
    :math:`\max_i|Y_i|`, paper.md 2.2); ``x`` (..., d), ``s`` broadcast against ``x[..., 0]``."""
    return np.max(np.abs(np.asarray(lam) * x), axis=-1) / (np.sqrt(2.0) * np.asarray(s))


def phase3_start(abs_x_mean, lam, s) -> int | None:
    r"""Index of the first saved time at which SignSGD's mean trajectory is in Phase 3:
    :math:`\max_i \lambda_i E|x_i| / (\sqrt2\,s) < 1` (``abs_x_mean`` (time, d)); None if never."""
    y = snr_max(abs_x_mean, lam, s)
    hits = np.flatnonzero(y < 1.0)
    return int(hits[0]) if hits.size else None


def worst_excess(mean, stderr, bound, start: int = 1) -> int:
    """The saved index ``k >= start`` at which the mean most exceeds the bound in units of its
    standard error, ``argmax (mean - bound)/stderr`` (a zero standard error counts as 1e-300:
    any excess there is infinite). The claim "mean <= bound + 3 stderr at every saved time"
    holds iff it holds at this index."""
    mean, stderr, bound = (np.asarray(a, float)[start:] for a in (mean, stderr, bound))
    z = (mean - bound) / np.maximum(stderr, 1e-300)
    return start + int(np.argmax(z))


def simulate_job(config: dict, optimizer: str, kind: str, out_path, log=print) -> None:
    """Run ``optimizer`` (kind ``optim``) or its SDE (kind ``sde``) on both problems for every
    (sigma, B) of the section and save the artifact at ``out_path``."""
    section = config[FIGURE]
    if optimizer not in section["optimizers"]:
        raise ValueError(f"optimizer {optimizer!r} is not in config key {FIGURE}.optimizers "
                         f"({', '.join(section['optimizers'])})")
    if kind not in quadratic.KINDS:
        raise ValueError(f"kind must be one of {quadratic.KINDS}, got {kind!r}")
    lams = spectra(section)
    sigmas, batch_sizes = grid(section)
    s_eff = sigmas / np.sqrt(batch_sizes)
    n_saves = section["iterations"] // section["save_every"]
    dtype = np.float64 if config.get("dtype") == "float64" else np.float32
    hp = section["optimizers"][optimizer]
    loss, abs_x, frac, wall = [], [], [], 0.0
    for name, lam in zip(PROBLEMS, lams, strict=True):
        key = quadratic.job_key(config["seed"], FIGURE, optimizer, kind, name)
        out, w = quadratic.run(lam, section["x0"], hp, s_eff, key, name=optimizer, kind=kind,
                               runs=section["runs"], n_saves=n_saves,
                               save_every=section["save_every"], dtype=dtype, log=log,
                               save_x=True)
        wall += w
        x = out["x"].astype(float)  # (G, R, T, d)
        loss.append(out["loss"])
        abs_x.append(np.abs(x).mean(axis=1))
        frac.append((snr_max(x, lam, s_eff[:, None, None]) < 1.0).mean(axis=1))
    arrays = {
        "loss": np.stack(loss),
        "abs_x_mean": np.stack(abs_x),
        "phase3_fraction": np.stack(frac),
        "lam": lams,
        "sigmas": sigmas,
        "batch_sizes": batch_sizes,
        "times": np.arange(n_saves + 1) * section["save_every"] * float(hp["eta"]),
    }
    meta = artifacts.provenance(section, config["seed"], name=f"{FIGURE}/{optimizer}_{kind}",
                                wall_time_s=wall, extra={"optimizer": optimizer, "kind": kind,
                                                         "problems": list(PROBLEMS)})
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")
