"""The pipeline benchmark: wall time of ``snakemake figures`` from an empty ``results/`` on a
config (default: ``config/config.yaml``), then of a rerun after touching one notebook (its bytes
change, its cells do not; see :func:`run_pipeline`).

It never touches the working tree's ``results/``: the files git knows about (tracked, plus
untracked files that are not ignored) are copied to a temporary directory, and Snakemake runs
there with ``PYTHONPATH`` pointing at the copy's ``src/``. Targets: the full run within 20
minutes and the notebook-only rerun within 1 minute (on a 2-core CPU; ``--cores`` is passed on).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import device_name, record

ROOT = Path(__file__).resolve().parents[1]
BUDGET_FULL_S = 20 * 60
BUDGET_RERUN_S = 60


def copy_tree(dst: Path) -> int:
    """Copy tracked and untracked-but-not-ignored files of the repository to ``dst``."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    n = 0
    for f in filter(None, files):
        src = ROOT / f
        if not src.is_file():
            continue  # deleted but still tracked
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / f)
        n += 1
    return n


def _jobs(stdout: str) -> dict[str, int]:
    """Job counts per rule from Snakemake's 'Job stats' table."""
    m = re.search(r"Job stats:\n(.*?)\n\s*total\s+(\d+)", stdout, re.S)
    if not m:
        return {}
    out = {}
    for line in m.group(1).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def snakemake(workdir: Path, configfile: str, cores: int, *extra, log=None) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(workdir / "src")}
    env.pop("SNAKEMAKE_PROFILE", None)
    cmd = [str(Path(sys.executable).parent / "snakemake"), "figures", "--cores", str(cores),
           "--configfile", configfile, *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    if log is not None:
        log.write_text(text)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}) in {workdir}:\n"
                           f"{text[-3000:]}")
    return wall, text


def run_pipeline(configfile: str = "config/config.yaml", cores: int = 2,
                 touch: str | None = None, keep: bool = False, log_dir=None) -> list[dict]:
    """Run the two timings in a fresh copy; return their records."""
    tmp = Path(tempfile.mkdtemp(prefix="adasde-pipeline-"))
    log_dir = Path(log_dir) if log_dir else tmp
    try:
        n = copy_tree(tmp)
        full, text = snakemake(tmp, configfile, cores, log=log_dir / "pipeline_full.log")
        jobs_full = _jobs(text)
        nbs = sorted((tmp / "notebooks").glob("*.ipynb"))
        default = tmp / "notebooks" / "noise_resilience.ipynb"
        nb = tmp / touch if touch else (default if default.exists() else nbs[0])
        # A bare `touch` changes only the mtime; Snakemake 9 then compares the checksum of the
        # (small) input with the one it recorded and reruns nothing. Record that, then change
        # the file's bytes without changing the notebook (a trailing newline after the JSON),
        # as an edit would, and time that rerun.
        nb.touch()
        _, dry = snakemake(tmp, configfile, cores, "-n")
        jobs_touch = _jobs(dry)
        with open(nb, "a") as fh:
            fh.write("\n")
        rerun, text2 = snakemake(tmp, configfile, cores, log=log_dir / "pipeline_rerun.log")
        jobs_rerun = _jobs(text2)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    dev = device_name()
    nb_rel = nb.relative_to(tmp)
    return [
        record(f"pipeline: snakemake figures --cores {cores} from empty results/ ({configfile})",
               full,
               "budget: 20 minutes on a 2-core CPU", BUDGET_FULL_S, sum(jobs_full.values()),
               "jobs", dev, 1.0, jobs=jobs_full, files_copied=n,
               note="measured in a fresh copy of the tree; compile times included"),
        record(f"pipeline: rerun after editing {nb_rel}", rerun, "budget: 1 minute",
               BUDGET_RERUN_S, sum(jobs_rerun.values()), "jobs", dev, 1.0, jobs=jobs_rerun,
               jobs_after_bare_touch=jobs_touch,
               note="jobs rerun: " + ", ".join(f"{k} x{v}" for k, v in jobs_rerun.items())
               + f"; a bare touch (mtime only) would rerun {sum(jobs_touch.values())} jobs "
               "(Snakemake 9 checks the checksum of small inputs whose mtime changed)"),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pipeline")
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--touch", help="the notebook to touch (default: the first one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    ap.add_argument("--log-dir", default="results/logs/bench",
                    help="where the two Snakemake logs go (relative to the repository root)")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    log_dir = ROOT / args.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    records = run_pipeline(args.configfile, args.cores, args.touch, args.keep, log_dir=log_dir)
    with open(args.json, "w") as fh:
        json.dump(records, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
