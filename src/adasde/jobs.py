"""Job scaffolding shared by every simulation/training job: the job's config (seed, dtype and
its section), its log, and the provenance of what it saves.

A Snakemake rule passes ``params.job = {"seed", "dtype", "section"}`` (exactly the values the
job reads, so that changing any of them reruns it) and :func:`job_config` rebuilds the
``{"seed", "dtype", <section name>: section}`` mapping the experiments read.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

#: Keys of a simulate section that only its SDE jobs read (dt = eta / sde_substeps and the
#: coupled (dt, dt/2) pair): the workflow leaves them out of an optimizer job's params, so
#: changing them reruns the SDE jobs and not the optimizers, and an optimizer job's provenance
#: lacks them.
SDE_ONLY_KEYS = ("sde_substeps", "convergence_runs")


def without(mapping: dict, drop) -> dict:
    """``mapping`` less the keys of ``drop``; a dotted key such as ``"grid.sde_substeps"``
    drops a nested one. Copied where it changes, never modified in place."""
    out = dict(mapping)
    for key in drop:
        head, _, rest = key.partition(".")
        if rest and isinstance(out.get(head), dict):
            out[head] = without(out[head], (rest,))
        elif not rest:
            out.pop(head, None)
    return out


def job_config(job: dict | str, section_name: str) -> dict:
    """``{"seed", "dtype", section_name: section}`` from a rule's ``params.job`` (a mapping or
    its canonical JSON text)."""
    if isinstance(job, str):
        import json

        job = json.loads(job)
    return {"seed": int(job["seed"]), "dtype": job.get("dtype", "float32"),
            section_name: job["section"]}


def dtype_of(config: dict):
    """The numpy float type of a job's config (``dtype``: float32 or float64)."""
    return np.float64 if config.get("dtype") == "float64" else np.float32


@contextlib.contextmanager
def job_log(path):
    """Send a job's stdout/stderr to its log file (line-buffered) and yield a ``log(msg)``
    function; the wall time is logged at the end, and errors are logged before re-raising."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), \
            contextlib.redirect_stderr(fh):

        def log(msg):
            print(msg, flush=True)

        try:
            yield log
        except BaseException as e:
            log(f"[adasde] FAILED after {time.perf_counter() - start:.1f} s: {e!r}")
            raise
        log(f"[adasde] job wall time {time.perf_counter() - start:.1f} s")


def save_artifact(config: dict, section: dict, out_path, arrays: dict, *, name: str,
                  wall_time_s: float | None = None, extra: dict | None = None,
                  log=print) -> None:
    """The tail of every job: write ``arrays`` at ``out_path`` (atomically) with the provenance
    of ``section`` (what the job read), the config's seed and dtype, and log the path
    (:func:`adasde.artifacts.provenance`, :func:`adasde.artifacts.save`)."""
    from adasde import artifacts

    meta = artifacts.provenance(section, config["seed"], dtype=config.get("dtype", "float32"),
                                name=name, wall_time_s=wall_time_s, extra=extra)
    artifacts.save(out_path, arrays, meta)
    log(f"[adasde] wrote {out_path}")
