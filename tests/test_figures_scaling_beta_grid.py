"""scaling_beta_grid analysis on small synthetic artifacts: measure and every claim kind, each
shown to hold on data that follow the prediction and to fail on data that do not."""

import itertools

import numpy as np
import pytest

from adasde import artifacts, scaling
from adasde.figures import scaling_beta_grid as F

RULES = ["this_paper", "malladi", "alternative"]
SECTION = {"problem": {"d": 2, "lambda_min": 0.5, "lambda_max": 2.0}, "x0": 1.0, "sigma": 1.0,
           "batch_size": 1, "base": {"eta": 0.01, "eps": 0.0, "theta": 1.0}}
ANALYSE = {"tolerance": 0.05, "closed_form_tolerance": 0.1, "claim_max_delta": 8,
           "plateau_fraction": 0.5}


def make_data(deltas=(2, 1, 4, 8), b1=(0.975,), b2=(0.9875,), runs=64, saves=11, scale=None, seed=0):
    """Artifacts whose plateaus equal the closed forms (optimizer: finite momentum; SDE: its
    scheme's discrete form) times ``scale[kind](i, j, k, r)`` (default 1), with 1% noise."""
    lam = np.array([0.5, 2.0])
    shape = (len(b1), len(b2), len(deltas), len(RULES))
    hp = {k: np.full(shape, np.nan) for k in scaling.HP_KEYS}
    defined = np.zeros(shape, bool)
    for (i, x1), (j, x2), (k, d), (r, rule) in itertools.product(
            enumerate(b1), enumerate(b2), enumerate(deltas), enumerate(RULES)):
        s = scaling.scale(rule, {"eta": 0.01, "beta1": x1, "beta2": x2, "eps": 0.0,
                                 "theta": 1.0, "B": 1.0}, d)
        for key in scaling.HP_KEYS:
            hp[key][idx := (i, j, k, r)] = s.hp[key]
        defined[idx] = s.defined
    rng = np.random.default_rng(seed)
    data = {"metas": {}, "config": SECTION}
    for kind, form in (("optim", "finite_momentum"), ("sde", "eq2_em")):
        loss = np.full(shape + (runs, saves), np.nan)
        for idx in zip(*np.nonzero(defined), strict=True):
            h = {key: hp[key][idx] for key in F.HP_KEYS}
            level = F._loss(form, lam, 1.0, h) * (scale[kind](*idx) if scale else 1.0)
            loss[idx] = level * (1 + 0.01 * rng.standard_normal((runs, saves)))
        data[kind] = {"loss": loss, "defined": defined, "beta1": np.array(b1),
                      "beta2": np.array(b2), "deltas": np.array(deltas, float),
                      "rules": np.array(RULES), "iterations": np.arange(saves) * 10,
                      "lam": lam, **{f"hp_{k}": v for k, v in hp.items()}}
        data["metas"][f"adamw_{kind}"] = {"config": SECTION, "seed": 0}
    return data


def by_id(records):
    return {c.id: c for c in records}


def test_load_reads_exactly_the_inputs(tmp_path):
    data = make_data()
    paths = {}
    for kind in F.KINDS:
        p = tmp_path / f"adamw_{kind}.npz"
        artifacts.save(p, data[kind], data["metas"][f"adamw_{kind}"])
        paths[f"adamw_{kind}"] = str(p)
    loaded = F.load(paths)
    assert loaded["config"] == SECTION
    np.testing.assert_array_equal(loaded["optim"]["deltas"], [2, 1, 4, 8])


def test_reference_is_delta_one_by_value():
    m = F.measure(make_data(deltas=(2, 1, 4)), ANALYSE)
    assert m["k0"] == 1
    np.testing.assert_array_equal(m["optim"]["ratio"][:, :, 1], 1.0)
    # delta = 2 is not the reference: under Malladi's rule its ratio is the closed form's
    r = RULES.index("malladi")
    assert m["optim"]["ratio"][0, 0, 0, r] == pytest.approx(
        m["pred"]["finite_momentum"][0, 0, 0, r], rel=0.02)
    assert m["pred"]["finite_momentum"][0, 0, 0, r] > 1.1


def test_reference_missing_raises():
    with pytest.raises(ValueError, match="reference 1"):
        F.measure(make_data(deltas=(2, 4)), ANALYSE)


def test_claims_hold_on_closed_form_data():
    cs = by_id(F.claims(F.measure(make_data(), ANALYSE), ANALYSE))
    c = cs["this_paper_optim_b1_0.975_b2_0.9875"]
    assert c.verdict == "holds" and c.discriminates
    for cid in ("malladi_optim_deviates", "alternative_optim_deviates",
                "malladi_optim_closed_form", "alternative_optim_closed_form",
                "this_paper_sde_discrete_closed_form", "malladi_sde_discrete_closed_form"):
        assert cs[cid].verdict == "holds", cid
    for cid in ("malladi_optim_deviates", "malladi_optim_closed_form",
                "this_paper_sde_discrete_closed_form"):
        assert cs[cid].discriminates, cid
    # at this one base Malladi's SDE ratio is within 10% of the continuous form too
    assert not cs["malladi_sde_discrete_closed_form"].discriminates
    # eq. (2)'s scheme is not invariant under this paper's rule: the paper's form fails
    pf = cs["this_paper_sde_invariant"]
    assert pf.role == "paper_form" and pf.pair == "this_paper_sde_discrete_closed_form"
    assert pf.verdict == "fails"
    assert cs["this_paper_sde_discrete_closed_form"].role == "correction"


def test_this_paper_claim_fails_when_the_loss_moves():
    k4 = 2  # delta = 4
    scale = {"optim": lambda i, j, k, r: 1.2 if (k == k4 and r == 0) else 1.0,
             "sde": lambda *idx: 1.0}
    c = by_id(F.claims(F.measure(make_data(scale=scale), ANALYSE)))[
        "this_paper_optim_b1_0.975_b2_0.9875"]
    assert c.verdict == "fails"
    assert c.measured == pytest.approx(1.2, rel=0.02)


def test_this_paper_claim_inconclusive_when_noisy():
    scale = {"optim": lambda i, j, k, r: 1.05 if (k == 2 and r == 0) else 1.0,
             "sde": lambda *idx: 1.0}
    c = by_id(F.claims(F.measure(make_data(scale=scale), ANALYSE)))[
        "this_paper_optim_b1_0.975_b2_0.9875"]
    assert c.verdict == "inconclusive" and c.runs_to_settle


def test_deviates_claim_fails_when_the_rule_preserves_the_loss():
    # Malladi's optimizer data equal to its delta = 1 level everywhere
    data = make_data()
    r = RULES.index("malladi")
    loss = data["optim"]["loss"]
    loss[:, :, :, r] = loss[:, :, 1:2, r]
    c = by_id(F.claims(F.measure(data, ANALYSE)))["malladi_optim_deviates"]
    assert c.verdict == "fails"


def test_closed_form_claims_fail_off_the_closed_form():
    scale = {"optim": lambda i, j, k, r: 1.3 if k == 2 else 1.0,
             "sde": lambda i, j, k, r: 1.3 if k == 2 else 1.0}
    cs = by_id(F.claims(F.measure(make_data(scale=scale), ANALYSE)))
    for cid in ("malladi_optim_closed_form", "alternative_optim_closed_form",
                "this_paper_sde_discrete_closed_form", "alternative_sde_discrete_closed_form"):
        assert cs[cid].verdict == "fails", cid


def test_sde_paper_form_holds_on_invariant_data():
    # an SDE whose plateau does not move (what the paper's form says) makes the paper's form
    # hold and the scheme's closed form fail
    data = make_data()
    loss = data["sde"]["loss"]
    for r in range(len(RULES)):
        loss[:, :, :, r] = loss[:, :, 1:2, r]
    cs = by_id(F.claims(F.measure(data, ANALYSE)))
    assert cs["this_paper_sde_invariant"].verdict == "holds"
    assert cs["this_paper_sde_discrete_closed_form"].verdict == "fails"


def test_plot_and_table():
    m = F.measure(make_data(), ANALYSE)
    fig = F.plot(m)
    assert len(fig.axes) >= 1
    t = F.ratio_table(m)
    assert set(t["kind"]) == {"optim", "sde"}


def test_shared_helpers_reference_and_decisive():
    from adasde.figures import stats

    assert stats.reference_index([2, 1, 4]) == 1
    with pytest.raises(ValueError):
        stats.reference_index([2, 4])
    with pytest.raises(ValueError):
        stats.reference_index([1, 1.0, 4])
    se = np.array([0.01, 0.01, 0.01])
    # all inside: the one closest to an edge; one straddling: it; one wholly outside: it
    assert stats.decisive([1.0, 1.03, 0.99], se, 0.95, 1.05) == 1
    assert stats.decisive([1.0, 1.045, 1.03], se, 0.95, 1.05) == 1
    assert stats.decisive([1.0, 1.045, 0.9], se, 0.95, 1.05) == 2
    assert stats.decisive([np.nan, np.nan], [0.1, 0.1], 0.0, 1.0) is None
    assert stats.ratio_stderr(2.0, 0.2, 1.0, 0.0) == pytest.approx(0.2)
