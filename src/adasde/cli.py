"""Command-line helpers used by the workflow: ``python -m adasde.cli gather|summary|validate``,
and the ``adasde`` console script (the same commands, plus ``adasde scale``: the batch-size
scaling rules, :mod:`adasde.scale_tool`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adasde import claims


def _write_text(path, text):
    from adasde.artifacts import atomic_path

    with atomic_path(path, "w") as fh:
        fh.write(text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scale"]:  # its own parser: one-line errors, exit status 2
        from adasde import scale_tool

        return scale_tool.main(argv[1:])
    prog = "adasde" if Path(sys.argv[0]).name == "adasde" else "python -m adasde.cli"
    ap = argparse.ArgumentParser(prog=prog)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("scale", add_help=False,
                   help="batch-size scaling rules: new lr, betas, eps, weight decay "
                        "(adasde scale --help)")
    g = sub.add_parser("gather", help="gather numbers.json files into claims.json")
    g.add_argument("out")
    g.add_argument("numbers", nargs="*")
    g.add_argument("--html", help="also write the claims table as HTML here")
    g.add_argument("--expected", help="folder of expected outcomes (config/expected/*.yaml)")
    b = sub.add_parser("bench-html", help="render results/bench.json as an HTML table")
    b.add_argument("bench")
    b.add_argument("out")
    s = sub.add_parser("summary", help="print the claims summary")
    s.add_argument("claims")
    v = sub.add_parser("validate", help="validate a config file against the schema")
    v.add_argument("config")
    v.add_argument("--schema", default="config/schema.yaml")
    v.add_argument("--quiet", action="store_true", help="print nothing when valid")
    args = ap.parse_args(argv)
    if args.cmd == "gather":
        try:
            expected = claims.load_expected_dir(args.expected) if args.expected else {}
            records = claims.gather(args.numbers, args.out, expected)
        except claims.ClaimsError as e:
            print(f"adasde gather: {e}", file=sys.stderr)
            return 2
        if args.html:
            _write_text(args.html, claims.to_html(records))
        print(claims.summary(records))
    elif args.cmd == "bench-html":
        import json

        records = json.loads(Path(args.bench).read_text())
        cols = list(records[0]) if records else []
        _write_text(args.out, claims.records_html(records, cols, "Benchmarks", flag="meets"))
    elif args.cmd == "summary":
        try:
            print(claims.summary(claims.read_numbers(args.claims)))
        except claims.ClaimsError as e:
            print(f"adasde summary: {e}", file=sys.stderr)
            return 2
    elif args.cmd == "validate":
        from adasde import config

        try:
            config.load(args.config, args.schema)
        except config.ConfigError as e:
            print(e, file=sys.stderr)
            return 2
        if not args.quiet:
            print(f"{args.config}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
