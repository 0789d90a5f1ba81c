"""Atomic, deterministic artifacts: ``<name>.npz`` plus ``<name>.meta.json`` (provenance).

* Atomic: every file is written to a temporary file in the same folder and renamed into place,
  so an interrupted job never leaves a partial artifact that Snakemake would take as done.
* Deterministic: the ``.npz`` zip members carry a fixed timestamp and are written in sorted
  order, so the same arrays give byte-identical files (``np.savez`` stamps the current time).
* Provenance (``meta.json``): the resolved config section and its hash, seed, git sha with a
  dirty flag, package versions, JAX device and wall time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGES = ("adasde", "jax", "jaxlib", "optax", "diffrax", "equinox", "numpy", "scipy",
            "snakemake", "papermill", "matplotlib")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: str = "wb"):
    """Yield a file object for a temporary file beside ``path``; rename it onto ``path`` only
    when the block finishes without an exception (otherwise the temporary file is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_npz(path, arrays: dict) -> None:
    """Write ``arrays`` (name -> array) as an uncompressed ``.npz``, byte-deterministically."""
    with atomic_path(path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON with sorted keys, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    with atomic_path(path, "w") as fh:
        fh.write(text)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def config_hash(section) -> str:
    """SHA-256 of the canonical JSON of a config section (first 16 hex digits)."""
    blob = json.dumps(section, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_info(cwd: str | os.PathLike | None = None) -> dict:
    """``{"sha": ..., "dirty": bool}`` of the repository at ``cwd`` ("unknown" outside git)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=cwd, capture_output=True, text=True, check=True,
                                timeout=10).stdout
        return {"sha": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"sha": "unknown", "dirty": None}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_info() -> str:
    """The JAX device of the running job (``unknown`` where jax was not loaded: this module
    is also read by the analysis layer, which never imports jax)."""
    import sys

    jax = sys.modules.get("jax")
    if jax is None:
        return "unknown"
    devs = jax.devices()
    return f"{devs[0].platform}:{devs[0].device_kind} x{len(devs)}"


def provenance(section: dict, seed: int, *, name: str, dtype: str = "float32",
               wall_time_s: float | None = None, extra: dict | None = None) -> dict:
    """The ``meta.json`` record of one artifact: the section the job read, its seed and dtype
    (``config_hash`` covers all three), git, packages, device and timings."""
    meta = {
        "artifact": name,
        "config": section,
        "config_hash": config_hash({"section": section, "seed": int(seed), "dtype": dtype}),
        "seed": int(seed),
        "dtype": dtype,
        "git": git_info(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "device": device_info(),
        "wall_time_s": wall_time_s,
        "created_unix": time.time(),
    }
    if extra:
        meta.update(extra)
    return meta


def meta_path(npz_path) -> Path:
    """``results/x/foo.npz`` -> ``results/x/foo.meta.json``."""
    p = Path(npz_path)
    return p.with_name(p.name.removesuffix(".npz") + ".meta.json")


def save(npz_path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` to ``npz_path`` and ``meta`` beside it (meta last: it marks completion)."""
    write_npz(npz_path, arrays)
    write_json(meta_path(npz_path), meta)


class ArtifactError(RuntimeError):
    """A missing, truncated or damaged artifact; the message names the file and how to rebuild
    it."""


def _rebuild_hint(npz_path) -> str:
    p = Path(npz_path)
    return (f"delete it and rebuild: rm -f {p} {meta_path(p)} && make figures "
            "(add CONFIG=... for another config)")


def read_arrays(npz_path) -> dict:
    """The arrays of an ``.npz`` (no provenance); a missing or damaged file raises
    :class:`ArtifactError` naming it."""
    npz_path = Path(npz_path)
    if not npz_path.exists():
        raise ArtifactError(f"artifact {npz_path} does not exist; build it with `make figures`")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ArtifactError(f"artifact {npz_path} is damaged ({type(e).__name__}: {e}); "
                            + _rebuild_hint(npz_path)) from None


def load(npz_path) -> tuple[dict, dict]:
    """Read an artifact: ``(arrays, meta)``. A missing or truncated ``.npz`` and a missing or
    unreadable ``.meta.json`` raise :class:`ArtifactError` naming the file and the command that
    rebuilds it: an artifact is never used without its provenance."""
    npz_path = Path(npz_path)
    arrays = read_arrays(npz_path)
    mp = meta_path(npz_path)
    if not mp.exists():
        raise ArtifactError(f"artifact {npz_path} has no provenance file {mp}; "
                            + _rebuild_hint(npz_path))
    try:
        meta = json.loads(mp.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"provenance file {mp} is not valid JSON ({e}); "
                            + _rebuild_hint(npz_path)) from None
    if not isinstance(meta, dict) or "config" not in meta or "seed" not in meta:
        raise ArtifactError(f"provenance file {mp} lacks its config and seed; "
                            + _rebuild_hint(npz_path))
    return arrays, meta
