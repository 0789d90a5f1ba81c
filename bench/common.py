"""Shared benchmark machinery: device description, ahead-of-time compilation (so compile time is
reported apart), interleaved timing, the record schema and the printed table.

A record compares *ours* with one *peer* on the same work, in one process, same dtype, same
sizes: ``ratio = peer_s / ours_s`` (above 1: ours is faster), ``work`` counts ``unit`` (so the
throughput is ``work / ours_s``), and ``target`` is the ratio the project promises (``meets`` is
``None`` where a record is for information only).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

RECORD_KEYS = ("name", "ours_s", "peer", "peer_s", "ratio", "work", "unit", "device", "target",
               "meets")


def device_name() -> str:
    """``platform: device kind`` of JAX's default device (CPU: with the core count)."""
    import jax

    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"cpu: {platform.processor() or platform.machine()} x{os.cpu_count()} cores"
    return f"{dev.platform}: {dev.device_kind}"


def compile_aot(fn: Callable, *args):
    """Trace, lower and compile ``fn`` for ``args``; returns ``(compiled, seconds)``."""
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def _run_once(fn: Callable, args) -> tuple[float, float]:
    import jax

    t0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0, time.process_time() - c0


def time_interleaved(contenders: dict[str, tuple[Callable, Sequence]], repeats: int,
                     warmup: int = 1) -> dict[str, dict]:
    """Time every contender ``repeats`` times, interleaved (A B C A B C ...) so that a burst of
    load from other processes hits all of them alike. Returns, per contender, the minimum and
    median wall seconds and the process CPU seconds of the fastest run (all threads)."""
    for fn, args in contenders.values():
        for _ in range(warmup):
            _run_once(fn, args)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, (fn, args) in contenders.items():
            runs[name].append(_run_once(fn, args))
    out = {}
    for name, r in runs.items():
        best = min(r)
        out[name] = {"min_s": best[0], "median_s": statistics.median(w for w, _ in r),
                     "cpu_s": best[1], "repeats": len(r)}
    return out


def record(name: str, ours_s: float, peer: str, peer_s: float, work: float, unit: str,
           device: str, target_ratio: float | None = None, **extra) -> dict:
    """One benchmark record (see the module docstring); ``extra`` keys follow the schema's."""
    ratio = peer_s / ours_s if ours_s > 0 else float("inf")
    rec = {
        "name": name,
        "ours_s": round(ours_s, 6),
        "peer": peer,
        "peer_s": round(peer_s, 6),
        "ratio": round(ratio, 4),
        "work": float(work),
        "unit": unit,
        "device": device,
        "target": (f"ratio >= {target_ratio:g}" if target_ratio is not None
                   else "none (for information)"),
        "meets": None if target_ratio is None else bool(ratio >= target_ratio),
    }
    rec["throughput"] = float(f"{work / ours_s:.4g}") if ours_s > 0 else None
    for k, v in extra.items():
        rec[k] = round(v, 6) if isinstance(v, float) else v
    return rec


def check_records(records) -> None:
    """Raise ``ValueError`` unless ``records`` follows the schema (used by the tests)."""
    if not isinstance(records, list):
        raise ValueError("bench records must be a list")
    for r in records:
        missing = [k for k in RECORD_KEYS if k not in r]
        if missing:
            raise ValueError(f"record {r.get('name')!r} lacks {missing}")
        for k in ("ours_s", "peer_s", "ratio", "work"):
            if not isinstance(r[k], (int, float)) or r[k] < 0:
                raise ValueError(f"record {r['name']!r}: {k} must be a number >= 0, got {r[k]!r}")
        if r["meets"] not in (True, False, None):
            raise ValueError(f"record {r['name']!r}: meets must be true, false or null")
        if not isinstance(r["target"], str) or not r["target"]:
            raise ValueError(f"record {r['name']!r}: target must be a non-empty string")


def _fmt_s(s: float) -> str:
    return f"{s:.3g} s" if s < 100 else f"{s:.0f} s"


def table(records) -> str:
    """The records as a fixed-width text table (one line each), then the targets' verdicts."""
    head = ("name", "ours", "peer", "peer time", "ratio", "ours throughput", "target", "met")
    rows = []
    for r in records:
        thr = r.get("throughput")
        rows.append((
            r["name"], _fmt_s(r["ours_s"]), r["peer"], _fmt_s(r["peer_s"]), f"{r['ratio']:.3g}x",
            f"{thr:.3g} {r['unit']}/s" if thr else "-",
            r["target"].replace("none (for information)", "-"),
            {True: "MET", False: "MISSED", None: "-"}[r["meets"]],
        ))
    widths = [min(max(len(str(x[i])) for x in [head, *rows]), 60) for i in range(len(head))]

    def line(cells):
        return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths, strict=True))

    out = [line(head), line("-" * w for w in widths), *map(line, rows)]
    judged = [r for r in records if r["meets"] is not None]
    met = sum(r["meets"] for r in judged)
    out.append(f"targets: {met} of {len(judged)} met; device: "
               f"{'; '.join(sorted({r['device'] for r in records}))}")
    return "\n".join(out)


def write_json(path, records) -> None:
    """Write ``records`` as JSON atomically (write to ``path.tmp``, then rename)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(records, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
