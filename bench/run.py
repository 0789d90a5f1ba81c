"""``make bench``: run every comparison, each in its own process, write ``results/bench.json``
(a list of records, see :mod:`bench.common`) and print them as a table.

    python -m bench.run                       # CPU: SDE throughput, RNG bounds, equal accuracy,
                                              # grid, recompilation
    python -m bench.run --pipeline            # also the pipeline (a full default run, ~10+ min)
    python -m bench.run --device gpu          # on a GPU (JAX_PLATFORMS=cuda), GPU-sized cases
    python -m bench.run --quick               # tiny sizes: checks the machinery, not the speed

Exit status: 0 when every comparison ran (whether or not its target was met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import check_records, table, write_json

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("recompile", "grid", "sde", "accuracy", "pipeline")


def jobs(profile: str, parts, configfile: str, cores: int) -> list[tuple[str, list[str]]]:
    """(label, module arguments) of every comparison to run, in order."""
    out = []
    if "recompile" in parts:
        out.append(("recompilation check", ["bench.grid", "--what", "recompile",
                                            "--profile", profile]))
    if "grid" in parts:
        out.append(("hyper-parameter grid", ["bench.grid", "--profile", profile]))
    if "sde" in parts:
        for size in ("base", "large"):
            for sde in ("signsgd", "adamw"):
                out.append((f"{sde} SDE ({size})", ["bench.sde", "--sde", sde, "--size", size,
                                                    "--profile", profile]))
    if "accuracy" in parts:
        for case in ("ou", "eq2"):
            out.append((f"equal accuracy ({case})", ["bench.accuracy", "--case", case,
                                                     "--profile", profile]))
    if "pipeline" in parts:
        out.append(("pipeline", ["bench.pipeline", "--configfile", configfile,
                                 "--cores", str(cores), "--log-dir", "results/logs/bench"]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (machinery check only)")
    ap.add_argument("--pipeline", action="store_true",
                    help="also time `snakemake figures` from scratch and a notebook-only rerun")
    ap.add_argument("--only", default=",".join(p for p in PARTS if p != "pipeline"),
                    help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--configfile", default=None,
                    help="config of the pipeline benchmark (default: config/config.yaml; "
                         "with --quick config/smoke.yaml)")
    ap.add_argument("--cores", type=int, default=2, help="--cores of the pipeline benchmark")
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args(argv)

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if args.pipeline:
        parts.add("pipeline")
    unknown = parts - set(PARTS)
    if unknown:
        ap.error(f"unknown --only parts {sorted(unknown)}; allowed: {', '.join(PARTS)}")
    profile = "quick" if args.quick else args.device
    configfile = args.configfile or ("config/smoke.yaml" if args.quick else "config/config.yaml")
    env = dict(os.environ)
    if args.device == "gpu":
        env["JAX_PLATFORMS"] = "cuda"  # fail loudly rather than fall back to the CPU
    else:
        env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))

    out_path = Path(args.out) if os.path.isabs(args.out) else ROOT / args.out
    records, failed = [], []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adasde-bench-") as tmp:
        for i, (label, cmd) in enumerate(jobs(profile, parts, configfile, args.cores)):
            out = Path(tmp) / f"{i}.json"
            t0 = time.perf_counter()
            print(f"[bench] {label} ...", file=sys.stderr, flush=True)
            proc = subprocess.run([sys.executable, "-m", *cmd, "--json", str(out)], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
            if proc.returncode != 0 or not out.exists():
                failed.append(label)
                print(f"[bench] {label} FAILED ({proc.returncode}):\n{proc.stderr[-4000:]}",
                      file=sys.stderr, flush=True)
                continue
            recs = json.loads(out.read_text())
            check_records(recs)
            records += recs
            write_json(out_path, records)  # after every comparison: a timeout keeps the rest
            print(f"[bench] {label}: {len(recs)} records in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    write_json(out_path, records)
    print(table(records))
    print(f"[bench] wrote {args.out} ({len(records)} records) in "
          f"{time.perf_counter() - start:.0f} s" + ("" if "pipeline" in parts else
                                                    "; pipeline not timed (make bench PIPELINE=1)"))
    if failed:
        print(f"[bench] failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
