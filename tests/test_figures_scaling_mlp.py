"""scaling_mlp analysis on small synthetic artifacts: speed claims (held, failed, outside the
rule's domain), the plateau claimed only where the run is flat, the reference by value."""

import numpy as np
import pytest

from adasde import artifacts, scaling
from adasde.figures import scaling_mlp as F

BASE = {"eta": 0.001, "beta1": 0.975, "beta2": 0.9875, "eps": 1e-8, "theta": 0.1}
CONFIG = {"dataset": "digits", "batch_size": 8, "base": BASE}
ANALYSE = {"levels": [0.3, 0.1], "speed_tolerance": 0.1, "tolerance": 0.05,
           "plateau_fraction": 0.25, "stationary_slope": 0.05, "n_boot": 50}
RULES = ["this_paper", "malladi"]


def data(deltas=(4, 1, 16), tau=None, floor=0.0, runs=8, seed=0):
    """Training loss 2 exp(-n / tau(r, d)) + floor (1% noise)."""
    tau = tau or (lambda r, d: 5000.0 if r == 0 else 5000.0 * d ** 0.5)
    n = np.arange(0, 65537, 1024.0)
    rng = np.random.default_rng(seed)
    shape = (len(RULES), len(deltas), runs, n.size)
    train = np.zeros(shape)
    hp = {k: np.full(shape[:2], np.nan) for k in scaling.HP_KEYS}
    for r, rule in enumerate(RULES):
        for k, d in enumerate(deltas):
            train[r, k] = (2 * np.exp(-n / tau(r, d)) + floor) * (
                1 + 0.01 * rng.standard_normal((runs, n.size)))
            s = scaling.scale(rule, {**BASE, "B": 8.0}, d)
            for key in scaling.HP_KEYS:
                hp[key][r, k] = s.hp[key]
    a = {"train_loss": train, "test_loss": train * 1.1, "defined": np.ones(shape[:2], bool),
         "rules": np.array(RULES), "deltas": np.array(deltas, float), "samples": n,
         **{f"hp_{k}": v for k, v in hp.items()}}
    return {"arrays": a, "metas": {"adamw": {"config": CONFIG, "seed": 0}}, "config": CONFIG,
            "problem": "mlp-digits", "n_params": 100}


def by_id(cs):
    return {c.id: c for c in cs}


def test_load(tmp_path):
    d = data()
    p = tmp_path / "adamw.npz"
    artifacts.save(p, d["arrays"], {"config": CONFIG, "seed": 0, "problem": "x"})
    assert F.load({"adamw": str(p)})["problem"] == "x"


def test_reference_by_value():
    m = F.measure(data(deltas=(4, 1, 16)), ANALYSE)
    assert m["k0"] == 1
    np.testing.assert_array_equal(m["speed"][:, 1], 1.0)
    assert m["speed"][1, 0, 0] == pytest.approx(2.0, rel=0.05)


def test_speed_claims_hold_inside_the_domain_and_discriminate():
    cs = by_id(F.claims(F.measure(data(), ANALYSE)))
    c = cs["mlp_this_paper_speed_L0.1_delta4"]
    assert c.verdict == "holds" and c.discriminates
    assert c.band == pytest.approx([0.9, 1.1])


def test_speed_claim_fails_when_slower():
    d = data(tau=lambda r, d: 5000.0 * (1.3 if d == 4 else 1.0))
    c = by_id(F.claims(F.measure(d, ANALYSE)))["mlp_this_paper_speed_L0.3_delta4"]
    assert c.verdict == "fails"


def test_outside_the_domain_band_is_the_bracket():
    # delta = 16 sends beta' to (0.6, 0.8): band [1 - tol, sqrt(16)], the note says why
    cs = by_id(F.claims(F.measure(data(), ANALYSE)))
    c = cs["mlp_this_paper_speed_L0.1_delta16"]
    assert c.band == pytest.approx([0.9, 4.0])
    assert "outside the rule's domain" in c.note
    assert c.verdict == "holds"
    # a competitor inside the bracket (Malladi 1.8x slower) cannot be ruled out
    d = data(tau=lambda r, d: 5000.0 * (1.5 if d == 16 else 1.0) * (1.0 if r == 0 else 1.2))
    c = by_id(F.claims(F.measure(d, ANALYSE)))["mlp_this_paper_speed_L0.1_delta16"]
    assert c.verdict == "holds" and not c.discriminates
    # faster than delta = 1 is outside even the bracket
    d = data(tau=lambda r, d: 5000.0 * (0.5 if d == 16 else 1.0))
    assert by_id(F.claims(F.measure(d, ANALYSE)))[
        "mlp_this_paper_speed_L0.1_delta16"].verdict == "fails"


def test_no_plateau_claim_while_still_training():
    m = F.measure(data(), ANALYSE)
    assert not F.stationary(m, 0)
    assert not [c for c in F.claims(m) if "plateau" in c.id]


def test_plateau_claim_where_flat():
    flat = data(tau=lambda r, d: 2000.0, floor=0.05)
    cs = by_id(F.claims(F.measure(flat, {**ANALYSE, "levels": [0.3]})))
    assert cs["mlp_this_paper_plateau_delta4"].verdict == "holds"
    assert "mlp_this_paper_plateau_delta16" not in cs  # outside the domain: not claimed
    moved = data(tau=lambda r, d: 2000.0, floor=0.05)
    moved["arrays"]["train_loss"][0, 0] *= 1.2  # delta = 4 plateau 20% higher
    cs = by_id(F.claims(F.measure(moved, {**ANALYSE, "levels": [0.3]})))
    assert cs["mlp_this_paper_plateau_delta4"].verdict == "fails"


def test_plot_and_summary():
    m = F.measure(data(), ANALYSE)
    assert F.plot(m).axes
    assert any("still training" in s for s in F.summary_lines(m))
