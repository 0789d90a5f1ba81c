"""scaling_curves analysis on small synthetic artifacts: speed (samples to a level in the
transient) and plateau claims, each shown to hold and to fail; the reference found by value."""

import numpy as np
import pytest

from adasde import artifacts, scaling
from adasde.figures import scaling_curves as F

CONFIG = {"sigma": 1.0, "batch_size": 1, "curves": {"base": {"beta1": 0.975, "beta2": 0.9875}}}
ANALYSE = {"tolerance": 0.05, "speed_tolerance": 0.1, "speed_level": 3.0, "claim_max_delta": 8,
           "plateau_fraction": 0.5, "n_boot": 50}


def arrays(opt, rules, deltas, tau, plateau, runs=32, seed=0):
    """Loss curves P + (5 - P) exp(-n / tau) (1% noise) for rule r, delta k:
    ``tau(r, d)``, ``plateau(r, d)``."""
    n = np.arange(0, 2001, 10.0)
    rng = np.random.default_rng(seed)
    loss = np.zeros((len(rules), len(deltas), runs, n.size))
    hp = {k: np.full((len(rules), len(deltas)), np.nan) for k in scaling.HP_KEYS}
    for r, rule in enumerate(rules):
        for k, d in enumerate(deltas):
            P = plateau(r, d)
            curve = P + (5 - P) * np.exp(-n / tau(r, d))
            loss[r, k] = curve * (1 + 0.01 * rng.standard_normal((runs, n.size)))
            s = scaling.scale(rule, {"eta": 0.01, "beta1": 0.975, "beta2": 0.9875, "eps": 0.0,
                                     "theta": 1.0, "B": 1.0}, d)
            for key in scaling.HP_KEYS:
                hp[key][r, k] = s.hp[key]
    return {"loss": loss, "defined": np.ones((len(rules), len(deltas)), bool),
            "rules": np.array(rules), "deltas": np.array(deltas, float), "samples": n,
            "lam": np.array([0.5, 2.0]), **{f"hp_{k}": v for k, v in hp.items()}}


def data(deltas=(4, 1, 16), tau=None, plateau=None):
    tau = tau or (lambda r, d: 100.0 if r == 0 else 100.0 * np.sqrt(d))
    plateau = plateau or (lambda r, d: 0.01 if r == 0 else 0.01 * d ** 0.25)
    a = arrays("adamw", ["this_paper", "malladi"], list(deltas), tau, plateau)
    return {"arrays": {"adamw": a}, "metas": {"adamw": {"config": CONFIG, "seed": 0}},
            "config": CONFIG}


def by_id(cs):
    return {c.id: c for c in cs}


def test_load(tmp_path):
    d = data()
    p = tmp_path / "adamw.npz"
    artifacts.save(p, d["arrays"]["adamw"], {"config": CONFIG, "seed": 0})
    loaded = F.load({"adamw": str(p)})
    assert list(loaded["arrays"]) == ["adamw"]


def test_reference_by_value_and_speed_ratio():
    m = F.measure(data(deltas=(4, 1, 16)), ANALYSE)
    p = m["per"]["adamw"]
    assert p["k0"] == 1
    rr, _ = p["ratio"]["speed"]
    assert rr[0, 1] == 1.0
    assert rr[1, 0] == pytest.approx(2.0, rel=0.05)  # Malladi: tau * sqrt(4)
    with pytest.raises(ValueError):
        F.measure(data(deltas=(4, 2)), ANALYSE)


def test_claims_hold_and_discriminate():
    cs = by_id(F.claims(F.measure(data(), ANALYSE)))
    for cid in ("adamw_this_paper_transient_speed", "adamw_this_paper_plateau"):
        assert cs[cid].verdict == "holds", cid
        assert cs[cid].discriminates, cid
        assert "Malladi" in cs[cid].alternative


def test_speed_claim_fails_when_the_transient_is_slower():
    d = data(tau=lambda r, d: 100.0 * np.sqrt(d) ** 0.5)  # 1.41x slower at delta = 4
    c = by_id(F.claims(F.measure(d, ANALYSE)))["adamw_this_paper_transient_speed"]
    assert c.verdict == "fails"
    assert c.measured == pytest.approx(np.sqrt(2), rel=0.05)


def test_plateau_claim_fails_when_the_plateau_moves():
    d = data(plateau=lambda r, d: 0.01 * d ** 0.25)
    c = by_id(F.claims(F.measure(d, ANALYSE)))["adamw_this_paper_plateau"]
    assert c.verdict == "fails"


def test_delta_beyond_claim_max_is_not_claimed():
    d = data(tau=lambda r, d: 100.0 * (2.0 if d == 16 else 1.0))
    c = by_id(F.claims(F.measure(d, ANALYSE)))["adamw_this_paper_transient_speed"]
    assert c.verdict == "holds"  # delta = 16 (2x slower) is reported only


def test_plot_and_table():
    m = F.measure(data(), ANALYSE)
    assert F.plot(m).axes
    assert len(F.gap_table(m)) == 6


def test_hitting_samples_interpolates_in_log():
    from adasde.figures import stats

    x = np.array([0.0, 10.0, 20.0])
    curve = np.array([1.0, 0.1, 0.01])
    assert stats.hitting_samples(x, curve, np.sqrt(0.1)) == pytest.approx(5.0)
    assert np.isnan(stats.hitting_samples(x, curve, 0.001))
    runs = np.tile(curve, (16, 1)) * (1 + 0.01 * np.random.default_rng(0).standard_normal((16, 3)))
    v, se = stats.hitting_samples_boot(x, runs, 0.05, n_boot=30)
    assert 10 < v < 20 and 0 < se < 1
