"""Claims: three-valued verdicts from the 95% interval against the tolerance band, the
alternative each claim must rule out, contradicted/corrected pairs, the expected-outcomes list
and a gather that recomputes (never copies) every verdict."""

import json

import pytest

from adasde import claims
from adasde.claims import Claim


def mk(measured, stderr=0.01, predicted=1.0, tol=0.1, alt=2.0, **kw):
    return Claim("f", kw.pop("id", "c"), "s", measured, predicted, tol, stderr=stderr,
                 alternative="alt", alternative_value=alt, runs=kw.pop("runs", 16), **kw)


def test_holds_only_when_the_whole_interval_is_inside_the_band():
    assert mk(1.05).verdict == "holds"
    c = mk(1.09)  # point inside, interval [1.07, 1.11] straddles 1.1
    assert c.verdict == "inconclusive" and not c.holds and c.runs_to_settle > 16


def test_outside_the_tolerance_never_holds_on_an_error_allowance():
    """The audit's case: 6.6% measured against a 5% tolerance passed on 3 s.e.; no more."""
    c = Claim("f", "dev", "s", 0.066, 0.0, 0.05, comparison="absolute", stderr=0.004,
              alternative="no rescaling", alternative_value=0.3, runs=512)
    assert c.verdict == "fails"
    c = Claim("f", "dev", "s", 0.058, 0.0, 0.05, comparison="absolute", stderr=0.005,
              alternative="no rescaling", alternative_value=0.3, runs=512)
    assert c.verdict == "inconclusive"


def test_fails_when_the_interval_is_wholly_outside():
    assert mk(1.3).verdict == "fails"
    assert mk(0.7).verdict == "fails"


@pytest.mark.parametrize("comparison,measured,stderr,verdict", [
    ("le", 0.9, 0.01, "holds"), ("le", 1.1, 0.01, "fails"), ("le", 1.0, 0.05, "inconclusive"),
    ("ge", 1.1, 0.01, "holds"), ("ge", 0.9, 0.01, "fails"), ("ge", 1.0, 0.05, "inconclusive"),
    ("absolute", 1.05, 0.01, "holds"), ("absolute", 1.2, 0.01, "fails"),
])
def test_every_comparison_can_hold_fail_or_be_inconclusive(comparison, measured, stderr,
                                                          verdict):
    c = Claim("f", "c", "s", measured, 1.0, 0.1 if comparison == "absolute" else 0.0,
              comparison=comparison, stderr=stderr, alternative="a", alternative_value=5.0)
    assert c.verdict == verdict


def test_a_band_containing_the_alternative_cannot_discriminate():
    c = mk(1.0, alt=1.05)
    assert c.verdict == "holds" and not c.discriminates
    assert claims.outcome(c.to_dict()) == "cannot discriminate"
    recs = [c.to_dict()]
    claims.assign_groups(recs, {})
    assert recs[0]["group"] == "cannot discriminate"
    assert mk(1.0, alt=None).discriminates is False  # no alternative named: no support


def test_an_explicit_interval_is_used():
    c = Claim("f", "c", "s", 1.0, 1.0, 0.1, interval=(0.85, 1.02), alternative="a",
              alternative_value=3.0)
    assert c.verdict == "inconclusive"


def test_non_finite_measurement_fails():
    assert mk(float("nan")).verdict == "fails"


def test_paper_form_and_correction_group_as_contradicted():
    paper = mk(0.9, tol=0.05, id="paper", role="paper_form", pair="fix", alt=0.9)
    fix = mk(0.9, predicted=0.9, tol=0.05, id="fix", role="correction", pair="paper", alt=1.0)
    recs = [paper.to_dict(), fix.to_dict()]
    claims.assign_groups(recs, {})
    assert [r["group"] for r in recs] == ["contradicted", "reproduced"]
    # a paper form that starts to hold is unexpected (strict, like pytest's xfail)
    recs = [mk(1.0, id="paper", role="paper_form", pair="fix").to_dict(), fix.to_dict()]
    claims.assign_groups(recs, {})
    assert recs[0]["group"] == "unexpected"


def test_expected_list_makes_changes_stand_out(tmp_path):
    a, b = mk(1.0, id="a").to_dict(), mk(1.5, id="b").to_dict()
    recs = [a, b]
    claims.assign_groups(recs, {"f/b": "fails"})
    assert [r["group"] for r in recs] == ["reproduced", "known failures"]
    claims.assign_groups(recs, {"f/a": "fails"})
    assert recs[0]["group"] == "unexpected" and recs[1]["group"] == "unexpected"
    (tmp_path / "f.yaml").write_text("f/b: fails  # the reason\n")
    assert claims.load_expected_dir(tmp_path) == {"f/b": "fails"}
    (tmp_path / "g.yaml").write_text("f/c: maybe\n")
    with pytest.raises(claims.ClaimsError, match="maybe"):
        claims.load_expected_dir(tmp_path)


def test_summary_groups_and_lists_what_is_not_reproduced():
    recs = [mk(1.0, id="ok").to_dict(), mk(1.09, id="unsure").to_dict(),
            mk(1.0, alt=1.0, id="blind").to_dict(), mk(2.0, id="bad").to_dict()]
    claims.assign_groups(recs, {})
    text = claims.summary(recs)
    first = text.splitlines()[0]
    assert first == ("claims: 4, reproduced: 1, contradicted: 0, inconclusive: 1, "
                     "cannot discriminate: 1, known failures: 0, unexpected: 1")
    assert "runs would settle it" in text and "f/bad" in text and "f/ok" not in text


def test_gather_recomputes_verdicts_and_catches_a_hand_edit(tmp_path):
    claims.write_numbers(tmp_path / "f" / "numbers.json", [mk(1.3, id="x")])
    recs = claims.gather([tmp_path / "f" / "numbers.json"], tmp_path / "claims.json")
    assert recs[0]["verdict"] == "fails"
    path = tmp_path / "f" / "numbers.json"
    data = json.loads(path.read_text())
    data[0]["verdict"], data[0]["holds"] = "holds", True  # flip the verdict by hand
    path.write_text(json.dumps(data))
    with pytest.raises(claims.ClaimsError, match="records verdict='holds' but its numbers"):
        claims.gather([path], tmp_path / "claims.json")


@pytest.mark.parametrize("text,needle", [
    ("{garbage", "is not valid JSON"), ('{"a": 1}', "JSON list of claim records"),
    ('[{"figure": "f", "id": "x"}]', "lacks"),
])
def test_gather_names_a_damaged_numbers_file(tmp_path, text, needle):
    path = tmp_path / "numbers.json"
    path.write_text(text)
    with pytest.raises(claims.ClaimsError, match=needle) as e:
        claims.gather([path], tmp_path / "claims.json")
    assert str(path) in str(e.value)
    assert not (tmp_path / "claims.json").exists()
