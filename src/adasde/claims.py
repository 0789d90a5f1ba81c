"""Claim records: every statement a figure makes, measured against its prediction.

A record is ``{figure, id, statement, measured, predicted, tolerance, comparison, holds,
stderr, note}``. ``comparison`` says how ``holds`` was decided:

* ``"relative"``: ``|measured - predicted| <= tolerance * |predicted|``
* ``"absolute"``: ``|measured - predicted| <= tolerance``
* ``"le"``: ``measured <= predicted + tolerance`` (an upper bound; tolerance is an allowance,
  e.g. 3 Monte-Carlo standard errors)
* ``"ge"``: ``measured >= predicted - tolerance``

Each figure writes ``results/<figure>/numbers.json`` (a list of records);
:func:`gather` collects them into ``results/claims.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from adasde.artifacts import write_json

COMPARISONS = ("relative", "absolute", "le", "ge")


@dataclass
class Claim:
    figure: str
    id: str
    statement: str
    measured: float | None
    predicted: float | None
    tolerance: float
    comparison: str = "relative"
    stderr: float | None = None
    note: str = ""
    holds: bool = field(default=False)

    def __post_init__(self):
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}, got {self.comparison!r}")
        self.measured = _num(self.measured)
        self.predicted = _num(self.predicted)
        self.stderr = _num(self.stderr)
        self.holds = decide(self.measured, self.predicted, self.tolerance, self.comparison)

    def to_dict(self) -> dict:
        return asdict(self)


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None  # NaN/inf (a diverged run) is recorded as null


def decide(measured, predicted, tolerance, comparison) -> bool:
    """Whether a claim holds; a missing or non-finite measurement never holds."""
    if measured is None or predicted is None:
        return False
    if comparison == "relative":
        return abs(measured - predicted) <= tolerance * abs(predicted)
    if comparison == "absolute":
        return abs(measured - predicted) <= tolerance
    if comparison == "le":
        return measured <= predicted + tolerance
    if comparison == "ge":
        return measured >= predicted - tolerance
    raise ValueError(comparison)


def relative_error(measured, predicted) -> float:
    return abs(measured - predicted) / abs(predicted)


def write_numbers(path, claims: list[Claim]) -> None:
    """Write a figure's claims as ``numbers.json`` (a JSON list of records)."""
    write_json(path, [c.to_dict() for c in claims])


def read_numbers(path) -> list[dict]:
    return json.loads(Path(path).read_text())


def gather(paths, out_path) -> list[dict]:
    """Concatenate the ``numbers.json`` files ``paths`` into ``out_path`` (``claims.json``)."""
    records = []
    for p in sorted(str(p) for p in paths):
        records.extend(read_numbers(p))
    write_json(out_path, records)
    return records


def summary(records: list[dict]) -> str:
    """A plain-text summary: counts, then every failing claim with its figure and numbers."""
    n = len(records)
    ok = sum(bool(r["holds"]) for r in records)
    lines = [f"claims: {n}, hold: {ok}, fail: {n - ok}"]
    for r in records:
        if not r["holds"]:
            lines.append(
                f"  FAIL {r['figure']}/{r['id']}: measured={_fmt(r['measured'])} "
                f"predicted={_fmt(r['predicted'])} ({r['comparison']}, tol={r['tolerance']:g})"
                + (f" -- {r['note']}" if r.get("note") else "")
            )
    return "\n".join(lines)


def _fmt(x):
    return "n/a" if x is None else f"{x:.4g}"


def table(records: list[dict]):
    """The claims as a pandas DataFrame (for notebooks)."""
    import pandas as pd

    cols = ["figure", "id", "measured", "predicted", "stderr", "comparison", "tolerance", "holds",
            "statement", "note"]
    return pd.DataFrame(records, columns=cols)


def records_html(records: list[dict], columns: list[str], title: str, flag: str | None = None) -> str:
    """A self-contained HTML table of ``records`` (rows) over ``columns``; rows whose ``flag``
    column is false are highlighted."""
    import html

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for r in records:
        bad = flag is not None and not r.get(flag)
        style = ' style="background:#fde0dc"' if bad else ""
        rows.append(f"<tr{style}>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns)
                    + "</tr>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;font-size:13px}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:left;vertical-align:top}th{background:#eee}</style></head><body>"
        f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{''.join(rows)}</table>"
        "</body></html>\n"
    )


def to_html(records: list[dict]) -> str:
    """The claims table of the report: one row per claim, failing claims highlighted."""
    cols = ["figure", "id", "holds", "measured", "predicted", "stderr", "comparison", "tolerance",
            "statement", "note"]
    return records_html(records, cols, summary(records).splitlines()[0], flag="holds")
