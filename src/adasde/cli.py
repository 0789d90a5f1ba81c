"""Command-line helpers used by the workflow: ``python -m adasde.cli gather|summary|validate``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from adasde import claims


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


def _write_text(path, text):
    from adasde.artifacts import atomic_path

    with atomic_path(path, "w") as fh:
        fh.write(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m adasde.cli")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gather", help="gather numbers.json files into claims.json")
    g.add_argument("out")
    g.add_argument("numbers", nargs="*")
    g.add_argument("--html", help="also write the claims table as HTML here")
    b = sub.add_parser("bench-html", help="render results/bench.json as an HTML table")
    b.add_argument("bench")
    b.add_argument("out")
    s = sub.add_parser("summary", help="print the claims summary")
    s.add_argument("claims")
    v = sub.add_parser("validate", help="validate a config file against the schema")
    v.add_argument("config")
    v.add_argument("--schema", default="config/schema.yaml")
    args = ap.parse_args(argv)
    if args.cmd == "gather":
        records = claims.gather(args.numbers, args.out)
        if args.html:
            _write_text(args.html, claims.to_html(records))
        print(claims.summary(records))
    elif args.cmd == "bench-html":
        import json

        records = json.loads(Path(args.bench).read_text())
        cols = list(records[0]) if records else []
        _write_text(args.out, claims.records_html(records, cols, "Benchmarks", flag="meets"))
    elif args.cmd == "summary":
        print(claims.summary(claims.read_numbers(args.claims)))
    elif args.cmd == "validate":
        from adasde import config

        try:
            config.load(args.config, args.schema)
        except config.ConfigError as e:
            print(e, file=sys.stderr)
            return 2
        print(f"{args.config}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
