r"""Figure ``bounds``: the poster's Theorem 1 (SGD) and Theorem 2 (SignSGD, simplified) against
simulation (docs/paper.md 3.1-3.2).

Two quadratics of the same dimension :math:`d`: ``problem`` (spectrum in
:math:`[\mu, L] = [\lambda_{\min}, \lambda_{\max}]`, where the bounds are checked) and
:math:`H = \lambda I` (``isotropic_lambda``, where they are tight). For every noise level
:math:`\sigma` and batch size :math:`B` of the section (grid ``G = len(sigmas) *
len(batch_sizes)``, :math:`\sigma`-major), one job per (optimizer, kind) runs the optimizer or
its SDE (Euler-Maruyama, :math:`\Delta t = \eta`) from :math:`x_0` and saves, on both problems:

* ``loss`` (problem, G, run, saved time): :math:`f(x_k) - f^*`;
* ``abs_x_mean`` (problem, G, saved time, d): :math:`E|x_{k,i}|` over runs;
* ``phase3_fraction`` (problem, G, saved time): the fraction of runs whose SNR
  :math:`Y_i = \lambda_i x_i/(\sqrt2\,s)`, :math:`s = \sigma/\sqrt B` (docs/paper.md 2.2), has
  :math:`\max_i |Y_i| < 1` (SignSGD's Phase 3);
* ``phase3_entry`` (problem, G, run): per path, the first saved index at which
  :math:`\max_i |Y_i| < 1` (-1 if never): the stopping time from which the analysis applies
  Theorem 2 to that path (``phase3_reexit`` (problem, G, run): whether the path leaves Phase 3
  again at a later saved time);
* ``lam`` (problem, d), ``sigmas``/``batch_sizes`` (G,), ``times`` (saved time :math:`t = k\eta`).

The SignSGD ``sde`` job also integrates the Phase-3 SDE of poster eq. (1)
(:func:`adasde.sdes.signsgd_phase3_sde`, the SDE Theorem 2 is derived for) on the same grid:
``phase3_sde_loss`` (problem, G, run, saved time), ``phase3_sde_entry`` and
``phase3_sde_reexit`` (problem, G, run) as above.

The SDE takes ``sde_substeps`` = :math:`k` Euler-Maruyama steps of :math:`\Delta t = \eta/k`
per optimizer step. For the convergence-in-:math:`\Delta t` claims every ``sde`` job also runs
the coupled pair (:func:`adasde.experiments.quadratic.convergence_pair`: Euler-Maruyama at
:math:`\Delta t` and :math:`\Delta t/2` on the same Brownian path, ``convergence_runs`` paths,
its own key) and saves ``conv_loss_coarse`` and ``conv_loss_fine`` (problem, G, path, saved
time), :math:`f(X_t) - f^*` of the two chains; the SignSGD ``sde`` job the same of the Phase-3
SDE as ``phase3_sde_conv_loss_coarse`` and ``phase3_sde_conv_loss_fine``. The main run's arrays
do not depend on them.

The statistics live in the analysis layer (:mod:`adasde.figures.bounds`).
"""

from __future__ import annotations

import time

import numpy as np

from adasde import jobs
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
    :math:`\max_i|Y_i|`, docs/paper.md 2.2); ``x`` (..., d), ``s`` broadcast against ``x[..., 0]``."""
    return np.max(np.abs(np.asarray(lam) * x), axis=-1) / (np.sqrt(2.0) * np.asarray(s))


def entry_index(inside) -> tuple[np.ndarray, np.ndarray]:
    """Per path (leading axes), the first saved index (last axis) at which ``inside`` is true
    (-1 if never) and whether the path is outside again at a later saved index."""
    inside = np.asarray(inside, bool)
    ever = inside.any(axis=-1)
    first = np.where(ever, np.argmax(inside, axis=-1), -1)
    later = np.arange(inside.shape[-1]) > first[..., None]
    reexit = ever & np.any(later & ~inside, axis=-1)
    return first.astype(np.int32), reexit


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
    dtype = jobs.dtype_of(config)
    hp = section["optimizers"][optimizer]
    substeps = section.get("sde_substeps", 1) if kind == "sde" else 1
    loss, abs_x, frac, entry, reexit, wall = [], [], [], [], [], 0.0
    p3_loss, p3_entry, p3_reexit = [], [], []
    conv = {}  # artifact name -> per-problem blocks of the coupled (dt, dt/2) pairs

    def add_pair(prefix, name, lam, key):
        t0 = time.perf_counter()
        pair = quadratic.convergence_pair(section, lam, section["x0"], hp, s_eff, key, name=name,
                                          n_saves=n_saves, save_every=section["save_every"],
                                          dtype=dtype, log=log)
        for k in ("conv_loss_coarse", "conv_loss_fine"):
            conv.setdefault(prefix + k, []).append(pair[k])
        return time.perf_counter() - t0

    pair_wall = 0.0
    for name, lam in zip(PROBLEMS, lams, strict=True):
        key = quadratic.job_key(config["seed"], FIGURE, optimizer, kind, name)
        out, w = quadratic.run(lam, section["x0"], hp, s_eff, key, name=optimizer, kind=kind,
                               runs=section["runs"], n_saves=n_saves,
                               save_every=section["save_every"], substeps=substeps, dtype=dtype,
                               log=log, save_x=True)
        wall += w
        if kind == "sde":
            pair_wall += add_pair("", optimizer, lam, key)
        x = out["x"].astype(float)  # (G, R, T, d)
        inside = snr_max(x, lam, s_eff[:, None, None]) < 1.0  # (G, R, T)
        loss.append(out["loss"])
        abs_x.append(np.abs(x).mean(axis=1))
        frac.append(inside.mean(axis=1))
        e, r = entry_index(inside)
        entry.append(e)
        reexit.append(r)
        if optimizer == "signsgd" and kind == "sde":  # the SDE Theorem 2 is derived for
            key = quadratic.job_key(config["seed"], FIGURE, "signsgd_phase3", kind, name)
            out, w = quadratic.run(lam, section["x0"], hp, s_eff, key, name="signsgd_phase3",
                                   kind=kind, runs=section["runs"], n_saves=n_saves,
                                   save_every=section["save_every"], substeps=substeps,
                                   dtype=dtype, log=log, save_x=True)
            wall += w
            pair_wall += add_pair("phase3_sde_", "signsgd_phase3", lam, key)
            e, r = entry_index(snr_max(out["x"].astype(float), lam, s_eff[:, None, None]) < 1.0)
            p3_loss.append(out["loss"])
            p3_entry.append(e)
            p3_reexit.append(r)
    arrays = {
        "loss": np.stack(loss),
        "abs_x_mean": np.stack(abs_x),
        "phase3_fraction": np.stack(frac),
        "phase3_entry": np.stack(entry),
        "phase3_reexit": np.stack(reexit),
        "lam": lams,
        "sigmas": sigmas,
        "batch_sizes": batch_sizes,
        "times": np.arange(n_saves + 1) * section["save_every"] * float(hp["eta"]),
    }
    if p3_loss:
        arrays.update(phase3_sde_loss=np.stack(p3_loss), phase3_sde_entry=np.stack(p3_entry),
                      phase3_sde_reexit=np.stack(p3_reexit))
    arrays.update({k: np.stack(v) for k, v in conv.items()})
    extra = {"optimizer": optimizer, "kind": kind, "problems": list(PROBLEMS)}
    if kind == "sde":
        extra["convergence_pair_wall_time_s"] = pair_wall
    jobs.save_artifact(config, section, out_path, arrays, name=f"{FIGURE}/{optimizer}_{kind}",
                       wall_time_s=wall + pair_wall, extra=extra, log=log)


def check(section: dict) -> list[str]:
    """Cross-key checks of the ``bounds`` section and the memory of its jobs."""
    from adasde.limits import memory_errors

    sim, where = section["simulate"], f"{FIGURE}.simulate"
    errors = quadratic.common_checks(where, sim)
    n_saves = sim["iterations"] // sim["save_every"]
    points = len(PROBLEMS) * len(sim["sigmas"]) * len(sim["batch_sizes"])
    nbytes = quadratic.grid_bytes(points, sim["runs"], n_saves, sim["problem"]["d"])
    errors += memory_errors(where, [(
        "per optimizer", nbytes,
        f"2 problems x sigmas={len(sim['sigmas'])} x batch_sizes={len(sim['batch_sizes'])} x "
        f"runs={sim['runs']} x (iterations/save_every={n_saves} + problem.d)")])
    return errors
