"""Claim records: every statement a figure makes, measured against its prediction, with a
verdict that could have gone the other way.

A claim compares a Monte-Carlo measurement with a prediction through a **tolerance band**
and decides by an equivalence test on the measurement's 95% confidence interval:

* ``holds``: the whole interval lies inside the band;
* ``fails``: the whole interval lies outside it;
* ``inconclusive``: the interval straddles an edge of the band; ``runs_to_settle`` estimates
  how many runs would shrink the interval enough to decide (the half-width scales as
  :math:`1/\\sqrt{n}`).

The band comes from ``comparison`` and ``tolerance``:

* ``"relative"``: ``[p - tol*|p|, p + tol*|p|]``;
* ``"absolute"``: ``[p - tol, p + tol]``;
* ``"le"``: ``(-inf, p + tol]`` (an upper bound, e.g. a convergence bound; ``tol`` is a
  stated slack in the measured units, usually 0);
* ``"ge"``: ``[p - tol, +inf)``.

The interval is ``interval`` when given (e.g. a bootstrap interval), otherwise
``measured +/- 1.96 * stderr``; a claim without a standard error has the point interval
(an exact or deterministic measurement).

Every claim names the **alternative** it must rule out (``alternative``: a competing theory,
the paper's uncorrected form, the drift-only ODE, the Gaussian value, zero effect) with its
predicted value ``alternative_value``. If that value lies inside the band the claim **cannot
discriminate**: it is recorded, shown apart and never counted as support.

``role`` pairs a paper statement that this project's derivation contradicts
(``"paper_form"``, expected to fail) with the corrected form (``"correction"``, which must
hold); ``pair`` holds the partner's id.

Each figure writes ``results/<figure>/numbers.json`` (a list of records); :func:`gather`
recomputes every verdict from the recorded numbers (a hand-edited verdict is caught) and
writes ``results/claims.json``; :func:`summary` groups the claims into: reproduced,
contradicted (with a correction that holds), inconclusive, cannot discriminate and unexpected
failures, and compares every verdict with the repository's list of expected outcomes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from adasde.artifacts import write_json

COMPARISONS = ("relative", "absolute", "le", "ge")
VERDICTS = ("holds", "fails", "inconclusive")
ROLES = ("claim", "paper_form", "correction")
Z95 = 1.959963984540054
GROUPS = ("reproduced", "contradicted", "inconclusive", "cannot discriminate", "known failures",
          "unexpected")


class ClaimsError(ValueError):
    """A numbers.json or claims.json that cannot be trusted; the message names the file."""


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
    alternative: str = ""
    alternative_value: float | None = None
    runs: int | None = None
    interval: tuple | list | None = None
    role: str = "claim"
    pair: str = ""
    # derived in __post_init__ (and recomputed by gather)
    band: list = field(default_factory=list)
    verdict: str = "inconclusive"
    discriminates: bool = False
    runs_to_settle: int | None = None
    holds: bool = False

    def __post_init__(self):
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {COMPARISONS}, got {self.comparison!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        self.measured = _num(self.measured)
        self.predicted = _num(self.predicted)
        self.stderr = _num(self.stderr)
        self.alternative_value = _num(self.alternative_value)
        self.tolerance = float(self.tolerance)
        self.runs = None if self.runs is None else int(self.runs)
        if self.interval is not None:
            lo, hi = (_num(v) for v in self.interval)
            self.interval = None if lo is None or hi is None else [lo, hi]
        elif self.measured is not None:
            se = self.stderr or 0.0
            self.interval = [self.measured - Z95 * se, self.measured + Z95 * se]
        derived = decide(self.to_inputs())
        self.band = derived["band"]
        self.verdict = derived["verdict"]
        self.discriminates = derived["discriminates"]
        self.runs_to_settle = derived["runs_to_settle"]
        self.holds = self.verdict == "holds"

    def to_inputs(self) -> dict:
        return {k: getattr(self, k) for k in INPUT_KEYS}

    def to_dict(self) -> dict:
        return asdict(self)


INPUT_KEYS = ("measured", "predicted", "tolerance", "comparison", "stderr", "alternative",
              "alternative_value", "runs", "interval", "role")
DERIVED_KEYS = ("band", "verdict", "discriminates", "runs_to_settle", "holds")


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None  # NaN/inf (a diverged run) is recorded as null


def band_of(predicted, tolerance, comparison) -> list | None:
    """The tolerance band ``[lo, hi]`` (``None`` for an open end) around ``predicted``."""
    if predicted is None:
        return None
    if comparison == "relative":
        w = tolerance * abs(predicted)
        return [predicted - w, predicted + w]
    if comparison == "absolute":
        return [predicted - tolerance, predicted + tolerance]
    if comparison == "le":
        return [None, predicted + tolerance]
    if comparison == "ge":
        return [predicted - tolerance, None]
    raise ValueError(comparison)


def _inside(x, band) -> bool:
    lo, hi = band
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def decide(rec: dict) -> dict:
    """The derived fields of a claim from its inputs (see the module docstring)."""
    band = band_of(rec["predicted"], rec["tolerance"], rec["comparison"])
    out = {"band": band, "verdict": "fails", "discriminates": False, "runs_to_settle": None}
    interval = rec.get("interval")
    if band is None or interval is None or rec["measured"] is None:
        return out  # a missing or non-finite measurement never holds
    lo, hi = interval
    blo = -math.inf if band[0] is None else band[0]
    bhi = math.inf if band[1] is None else band[1]
    if lo >= blo and hi <= bhi:
        verdict = "holds"
    elif hi < blo or lo > bhi:
        verdict = "fails"
    else:
        verdict = "inconclusive"
        out["runs_to_settle"] = _runs_to_settle(rec["measured"], (lo, hi), (blo, bhi),
                                                rec.get("runs"))
    out["verdict"] = verdict
    alt = rec.get("alternative_value")
    out["discriminates"] = alt is not None and not _inside(alt, band)
    return out


def _runs_to_settle(m, interval, band, runs):
    """Runs that would make the 95% interval clear the nearest band edge (half-width ~ 1/sqrt n),
    assuming the point estimate stays where it is; ``None`` when unknown (no run count or the
    estimate sits on an edge)."""
    if not runs:
        return None
    half = (interval[1] - interval[0]) / 2
    gap = min(abs(m - e) for e in band if math.isfinite(e))
    if half <= 0 or gap <= 0:
        return None
    return int(math.ceil(runs * (half / gap) ** 2))


def relative_error(measured, predicted) -> float:
    return abs(measured - predicted) / abs(predicted)


def write_numbers(path, claims: list[Claim]) -> None:
    """Write a figure's claims as ``numbers.json`` (a JSON list of records)."""
    write_json(path, [c.to_dict() for c in claims])


def read_numbers(path) -> list[dict]:
    """Read a numbers.json / claims.json; a damaged file raises :class:`ClaimsError` naming it."""
    path = Path(path)
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        raise ClaimsError(f"{path} does not exist; rebuild it with `make figures`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ClaimsError(f"{path} is not valid JSON ({e}); delete it and rebuild with "
                          "`make figures`") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ClaimsError(f"{path} must hold a JSON list of claim records; delete it and rebuild "
                          "with `make figures`")
    return records


def recheck(record: dict, where: str = "") -> dict:
    """Recompute a record's verdict from its numbers; raise :class:`ClaimsError` when the
    recorded verdict differs (a hand-edited or stale numbers.json)."""
    missing = [k for k in ("figure", "id", *INPUT_KEYS, *DERIVED_KEYS) if k not in record]
    if missing:
        raise ClaimsError(f"{where}: claim {record.get('id')!r} lacks {', '.join(missing)}; "
                          "rebuild it with `make figures`")
    try:
        fresh = Claim(**{k: record[k] for k in ("figure", "id", "statement", "note", "pair",
                                                 *INPUT_KEYS) if k in record})
    except (TypeError, ValueError) as e:
        raise ClaimsError(f"{where}: claim {record.get('id')!r} is malformed ({e})") from None
    for k in DERIVED_KEYS:
        if record[k] != getattr(fresh, k):
            raise ClaimsError(
                f"{where}: claim {record['figure']}/{record['id']} records {k}={record[k]!r} but "
                f"its numbers give {getattr(fresh, k)!r}; the file was edited or is stale: "
                "delete it and rebuild with `make figures`")
    return fresh.to_dict()


def gather(paths, out_path, expected: dict | None = None) -> list[dict]:
    """Recheck and concatenate the ``numbers.json`` files ``paths`` into ``out_path``; each
    record gains ``group`` (see :func:`assign_groups`) against the ``expected`` outcomes."""
    records = []
    for p in sorted(str(p) for p in paths):
        records.extend(recheck(r, p) for r in read_numbers(p))
    assign_groups(records, expected or {})
    write_json(out_path, records)
    return records


def load_expected(path) -> dict:
    """The repository's expected outcomes: ``{"figure/id": verdict}`` (YAML mapping); claims
    not listed are expected to hold."""
    import yaml

    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ClaimsError(f"{path} must map 'figure/id' to an expected verdict")
    for k, v in data.items():
        if v not in (*VERDICTS, "cannot discriminate"):
            raise ClaimsError(f"{path}: {k}: expected outcome {v!r} is not one of "
                              f"{[*VERDICTS, 'cannot discriminate']}")
    return data


def load_expected_dir(folder) -> dict:
    """The expected outcomes of every ``<figure>.yaml`` in ``folder`` (see :func:`load_expected`)."""
    out = {}
    for p in sorted(Path(folder).glob("*.yaml")):
        out.update(load_expected(p))
    return out


def outcome(r: dict) -> str:
    """The outcome compared with the expected list: the verdict, or "cannot discriminate"."""
    if r["verdict"] == "holds" and not r["discriminates"]:
        return "cannot discriminate"
    return r["verdict"]


def assign_groups(records: list[dict], expected: dict) -> None:
    """Set each record's ``group`` and ``expected`` (its expected outcome).

    * reproduced: holds and discriminates (a paper statement or a correction);
    * contradicted: a ``paper_form`` that fails while its ``correction`` holds;
    * inconclusive; cannot discriminate;
    * known failures: a failure that the expected list records (its note says why);
    * unexpected: a verdict (holds or fails) that differs from the expected list (a listed
      failure that now holds too, like pytest's strict xfail), and any other failure.
    """
    by_id = {(r["figure"], r["id"]): r for r in records}
    for r in records:
        key = f"{r['figure']}/{r['id']}"
        exp = expected.get(key, "fails" if r.get("role") == "paper_form" else "holds")
        got = outcome(r)
        r["expected"] = exp
        partner = by_id.get((r["figure"], r.get("pair") or ""))
        if got == "inconclusive":
            grp = "inconclusive"
        elif got == "cannot discriminate":
            grp = "cannot discriminate"
        elif got != exp:
            grp = "unexpected"
        elif got == "holds":
            grp = "reproduced"
        elif r.get("role") == "paper_form" and partner is not None and outcome(partner) == "holds":
            grp = "contradicted"
        else:  # a failure the expected list records (with its reason in the claim's note)
            grp = "known failures"
        r["group"] = grp


def summary(records: list[dict]) -> str:
    """Plain-text summary grouped as reproduced, contradicted, inconclusive, cannot
    discriminate and unexpected, listing every claim outside "reproduced"."""
    if records and "group" not in records[0]:
        assign_groups(records, {})
    counts = {g: sum(r["group"] == g for r in records) for g in GROUPS}
    lines = [f"claims: {len(records)}, " + ", ".join(f"{g}: {counts[g]}" for g in GROUPS)]
    for g in GROUPS[1:]:
        members = [r for r in records if r["group"] == g]
        if not members:
            continue
        lines.append(f"{g}:")
        for r in members:
            extra = ""
            if r["verdict"] == "inconclusive" and r.get("runs_to_settle"):
                extra = f"; ~{r['runs_to_settle']} runs would settle it"
            if g == "unexpected":
                extra += f"; expected {r['expected']}"
            lines.append(
                f"  {r['verdict'].upper()} {r['figure']}/{r['id']}: measured={_fmt(r['measured'])} "
                f"CI={_fmt_iv(r.get('interval'))} band={_fmt_iv(r.get('band'))} "
                f"alternative {r.get('alternative') or '?'}={_fmt(r.get('alternative_value'))}"
                f"{extra}" + (f" -- {r['note']}" if r.get("note") else ""))
    return "\n".join(lines)


def _fmt(x):
    return "n/a" if x is None else f"{x:.4g}"


def _fmt_iv(iv):
    if not iv:
        return "n/a"
    lo, hi = iv
    return f"[{'-inf' if lo is None else f'{lo:.4g}'}, {'inf' if hi is None else f'{hi:.4g}'}]"


TABLE_COLUMNS = ["figure", "id", "group", "verdict", "measured", "stderr", "interval", "band",
                 "predicted", "tolerance", "comparison", "alternative", "alternative_value",
                 "discriminates", "role", "runs_to_settle", "holds", "statement", "note"]


def table(records: list[dict]):
    """The claims as a pandas DataFrame (for notebooks)."""
    import pandas as pd

    cols = [c for c in TABLE_COLUMNS if c != "group" or any("group" in r for r in records)]
    return pd.DataFrame(records, columns=cols)


def records_html(records: list[dict], columns: list[str], title: str, flag: str | None = None) -> str:
    """A self-contained HTML table of ``records`` (rows) over ``columns``; rows whose ``flag``
    column is false are highlighted."""
    import html

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return html.escape(_fmt_iv(v)) if len(v) == 2 else html.escape(str(v))
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
    """The claims table of the report: one row per claim, ordered by group; rows outside
    "reproduced" highlighted."""
    order = {g: i for i, g in enumerate(GROUPS)}
    recs = sorted(records, key=lambda r: order.get(r.get("group"), 9))
    for r in recs:
        r.setdefault("reproduced", r.get("group") == "reproduced")
    return records_html(recs, TABLE_COLUMNS, summary(records).splitlines()[0], flag="reproduced")
