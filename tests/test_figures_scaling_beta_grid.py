"""scaling_beta_grid analysis on small synthetic artifacts: measure and every claim kind, each
shown to hold on data that follow the prediction and to fail on data that do not."""

import itertools
import re

import numpy as np
import pytest

from adasde import artifacts, scaling
from adasde.figures import scaling_beta_grid as F

RULES = ["this_paper", "malladi", "alternative"]
SECTION = {"problem": {"d": 2, "lambda_min": 0.5, "lambda_max": 2.0}, "x0": 1.0, "sigma": 1.0,
           "batch_size": 1, "base": {"eta": 0.01, "eps": 0.0, "theta": 1.0}}
ANALYSE = {"tolerance": 0.05, "closed_form_tolerance": 0.1, "claim_max_delta": 8,
           "plateau_fraction": 0.5}


def make_data(deltas=(2, 1, 4, 8), b1=(0.975,), b2=(0.9875,), runs=64, saves=11, scale=None, seed=0,
              dt_move=None, conv_runs=16, substeps=None):
    """Artifacts whose plateaus equal the closed forms (optimizer: finite momentum; SDE: its
    scheme's discrete form at ``substeps``, default 1) times ``scale[kind](i, j, k, r)``
    (default 1), with 1% noise. With ``dt_move`` (a function of (i, j, k, r)) the SDE artifact
    also has the coupled pair: ``conv_loss_fine`` at the SDE's level with 1% noise per path and
    ``conv_loss_coarse`` = fine x (1 + dt_move(idx)) x (1 + 0.1% path noise), NaN where the point
    is undefined (as the job writes them)."""
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
    k_sub = 1 if substeps is None else substeps
    for kind, form in (("optim", "finite_momentum"), ("sde", "eq2_sim")):
        loss = np.full(shape + (runs, saves), np.nan)
        levels = np.full(shape, np.nan)
        for idx in zip(*np.nonzero(defined), strict=True):
            h = {key: hp[key][idx] for key in F.HP_KEYS}
            levels[idx] = F._loss(form, lam, 1.0, h, k_sub) * (scale[kind](*idx) if scale else 1.0)
            loss[idx] = levels[idx] * (1 + 0.01 * rng.standard_normal((runs, saves)))
        data[kind] = {"loss": loss, "defined": defined, "beta1": np.array(b1),
                      "beta2": np.array(b2), "deltas": np.array(deltas, float),
                      "rules": np.array(RULES), "iterations": np.arange(saves) * 10,
                      "lam": lam, **{f"hp_{k}": v for k, v in hp.items()}}
        data["metas"][f"adamw_{kind}"] = {"config": SECTION, "seed": 0}
        if kind == "sde" and dt_move is not None:
            fine = np.full(shape + (conv_runs, saves), np.nan)
            coarse = np.full_like(fine, np.nan)
            for idx in zip(*np.nonzero(defined), strict=True):
                fine[idx] = levels[idx] * (1 + 0.01 * rng.standard_normal((conv_runs, saves)))
                coarse[idx] = fine[idx] * (1 + dt_move(*idx)) * (
                    1 + 0.001 * rng.standard_normal((conv_runs, 1)))
            data[kind]["conv_loss_coarse"], data[kind]["conv_loss_fine"] = coarse, fine
    if substeps is not None:
        data["metas"]["adamw_sde"]["sde_substeps"] = substeps
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


# ------------------------------------------------------------------ convergence in dt
def no_move(*idx):
    return 0.0


def conv_claims(records):
    return {c.id: c for c in records if "_sde_converged_" in c.id}


def test_convergence_claims_hold_when_the_pair_agrees():
    m = F.measure(make_data(dt_move=no_move), ANALYSE)
    assert m["conv"]["paths"] == 16
    cs = conv_claims(F.claims(m, ANALYSE))
    # one per rule and claimed delta (2, 4, 8; delta = 1 is the reference)
    assert set(cs) == {f"{r}_sde_converged_delta_{d}" for r in RULES for d in (2, 4, 8)}
    for cid, c in cs.items():
        assert c.verdict == "holds" and c.discriminates, cid
        assert c.runs == 16 and abs(c.measured) < 0.005
    # the band is convergence_fraction x the tolerance of the rule's SDE claims
    assert cs["this_paper_sde_converged_delta_8"].band == pytest.approx([-0.025, 0.025])
    assert cs["malladi_sde_converged_delta_8"].band == pytest.approx([-0.05, 0.05])
    assert cs["malladi_sde_converged_delta_8"].alternative_value == pytest.approx(0.1)
    assert "SDE-invariance tolerance 0.05" in cs["this_paper_sde_converged_delta_2"].statement
    assert "SDE-vs-closed-form tolerance 0.1" in cs["malladi_sde_converged_delta_2"].statement


def test_convergence_claim_fails_when_the_sde_moves_with_dt():
    # the delta = 8 loss drops by 3% when dt halves at every rule: outside this paper's
    # 0.5 x 5% band (fails), inside the others' 0.5 x 10% band (holds)
    k8 = 3

    def move(i, j, k, r):
        return 0.03 if k == k8 else 0.0

    cs = conv_claims(F.claims(F.measure(make_data(dt_move=move), ANALYSE), ANALYSE))
    c = cs["this_paper_sde_converged_delta_8"]
    assert c.verdict == "fails"
    assert c.measured == pytest.approx(0.03, abs=0.002)
    assert cs["malladi_sde_converged_delta_8"].verdict == "holds"
    assert cs["this_paper_sde_converged_delta_4"].verdict == "holds"


def test_convergence_move_of_the_reference_enters_the_ratio():
    # only the delta = 1 loss moves (by 4%): every ratio moves by about 1/1.04 - 1
    def move(i, j, k, r):
        return 0.04 if k == 1 else 0.0

    m = F.measure(make_data(dt_move=move), ANALYSE)
    cs = conv_claims(F.claims(m, ANALYSE))
    c = cs["this_paper_sde_converged_delta_2"]
    assert c.measured == pytest.approx(1 / 1.04 - 1, abs=0.002)
    assert c.verdict == "fails"
    ref = re.search(r"delta = 1 loss itself moves by ([-+.\d]+)", c.note)
    assert float(ref.group(1)) == pytest.approx(0.04, abs=0.002)


def test_convergence_skips_undefined_points():
    # base beta1 = 0.9 is undefined at delta = 16 under this paper's rule (NaN in the pair)
    data = make_data(deltas=(1, 2, 16), b1=(0.9, 0.975), dt_move=no_move)
    r = RULES.index("this_paper")
    assert np.isnan(data["sde"]["conv_loss_coarse"][0, 0, 2, r]).all()
    m = F.measure(data, {**ANALYSE, "claim_max_delta": 16})
    assert np.isnan(m["conv"]["move"][0, 0, 2, r])
    c = conv_claims(F.claims(m))["this_paper_sde_converged_delta_16"]
    assert c.verdict == "holds" and "(0.9, 0.9875)" not in c.note
    t = F.ratio_table(m)
    assert t.query("kind == 'sde' and defined")["dt_move"].notna().all()
    assert t.query("kind == 'optim'")["dt_move"].isna().all()


def test_no_convergence_claims_without_the_pair():
    assert not conv_claims(F.claims(F.measure(make_data(), ANALYSE)))


def test_substeps_select_the_scheme_form_and_the_alternative():
    data = make_data(substeps=4, dt_move=no_move)
    m = F.measure(data, ANALYSE)
    assert m["substeps"] == 4
    r = RULES.index("malladi")
    # at dt = eta'/4 the scheme is between the dt = eta' scheme and the continuous SDE
    em, sim, cont = (m["pred_loss"][f][0, 0, 3, r] for f in ("eq2_em", "eq2_sim", "eq2"))
    assert min(em, cont) < sim < max(em, cont)
    cs = by_id(F.claims(m, ANALYSE))
    c = cs["this_paper_sde_discrete_closed_form"]
    assert c.verdict == "holds" and "eta'/4" in c.statement
    assert "dt = eta'" in c.alternative
    assert "dt = eta'/4 halves" in cs["this_paper_sde_converged_delta_8"].statement
    # the substeps recorded in the job's config are used when the meta lacks the key
    del data["metas"]["adamw_sde"]["sde_substeps"]
    data["metas"]["adamw_sde"]["config"] = {**SECTION, "grid": {"sde_substeps": 2}}
    assert F.sde_substeps(data) == 2
