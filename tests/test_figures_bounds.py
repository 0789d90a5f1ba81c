"""Analysis layer of figure ``bounds`` on small synthetic artifacts: the per-path lagged excess,
the simultaneous band, and every claim kind both holding and failing."""

from __future__ import annotations

import numpy as np
import pytest

from adasde import artifacts, theory
from adasde.figures import bounds as F

ETA, SAVE_EVERY, T, R, X0 = 0.01, 10, 101, 64, 3.0


def _cfg():
    return {"problem": {"d": 2, "lambda_min": 0.5, "lambda_max": 2.0, "spacing": "linear"},
            "isotropic_lambda": 1.0, "x0": X0, "sigmas": [1.0], "batch_sizes": [1],
            "iterations": (T - 1) * SAVE_EVERY, "save_every": SAVE_EVERY, "runs": R,
            "optimizers": {"sgd": {"eta": ETA}, "signsgd": {"eta": ETA}}}


LAMS = np.array([[0.5, 2.0], [1.0, 1.0]])


def _bound_and_factor(bname, lam, delta_bound, delta_plateau):
    """The bound from f(x0) on the saved grid and the factor (1 + delta_bound) for t > 0 while
    its transient dominates (bound > 2 x limit), (1 + delta_plateau) on the plateau."""
    f0 = 0.5 * lam.sum() * X0**2
    b = F.bound_fn(bname, lam, 1.0, ETA, 1.0, SAVE_EVERY * ETA)(np.arange(T), f0)
    lim = F.limit(bname, lam, 1.0, ETA, 1.0)
    factor = np.where(b > 2 * lim, 1 + delta_bound, 1 + delta_plateau)
    factor[0] = 1.0
    return b, factor


def _curves(bname, delta_bound, delta_plateau, rng):
    """loss (problem, G=1, R, T): each path is the bound from f(x0) at t = 0 (entry 0), times
    (1 + delta_bound) for t > 0 while the bound's transient dominates and (1 + delta_plateau)
    on the plateau, with 1% multiplicative noise."""
    t = np.arange(T) * SAVE_EVERY * ETA
    out = np.empty((2, 1, R, T))
    for p, lam in enumerate(LAMS):
        b, factor = _bound_and_factor(bname, lam, delta_bound, delta_plateau)
        noise = 1 + 0.01 * rng.standard_normal((R, T))
        noise[:, 0] = 1.0
        out[p, 0] = b * factor * noise
    return out, LAMS, t


RC = 16  # paths of the coupled (dt, dt/2) pair


def make_data(delta_bound=-0.2, delta_plateau=0.0, seed=0, signsgd_bound="thm2",
              conv_transient=0.0, conv_plateau=0.0):
    """Synthetic ``load`` output: every series follows its bound (Theorem 1 for SGD,
    ``signsgd_bound`` for SignSGD and the Phase-3 SDE; with Theorem 2 the erf checks then see a
    loss below their looser bound). Each SDE's coupled pair: the fine chain is the first
    ``RC`` paths, the coarse chain the same times ``1 + conv_transient`` where the bound's
    transient dominates and ``1 + conv_plateau`` on the plateau, with 0.1% per-path jitter."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for series in F.SERIES:
        bname = "thm1" if series.startswith("sgd") else signsgd_bound
        loss, lams, t = _curves(bname, delta_bound, delta_plateau, rng)
        arrays[series] = {"loss": loss, "phase3_entry": np.zeros((2, 1, R), np.int32),
                          "phase3_reexit": np.zeros((2, 1, R), bool)}
        if series.endswith("_sde"):
            fine = loss[:, :, :RC]
            move = np.stack([_bound_and_factor(bname, lam, conv_transient, conv_plateau)[1]
                             for lam in LAMS])[:, None, None, :]
            jitter = 1 + 1e-3 * rng.standard_normal(fine.shape[:3] + (1,))
            arrays[series].update(conv_loss_fine=fine, conv_loss_coarse=fine * move * jitter)
    arrays["sgd_optim"].update(lam=lams, sigmas=np.array([1.0]), batch_sizes=np.array([1.0]),
                               times=t)
    metas = {f"{o}_{k}": {"config": _cfg(), "seed": 0} for o in F.OPTIMIZERS for k in F.KINDS}
    return {"arrays": arrays, "metas": metas, "config": _cfg()}


def by_id(records):
    return {c.id.rsplit("_s1_B1", 1)[0]: c for c in records}


# ------------------------------------------------------------------ statistics
def test_lagged_excess_aligns_every_path_at_its_own_entry():
    loss = np.array([[9.0, 5.0, 3.0, 2.0],
                     [9.0, 8.0, 4.0, 1.0],
                     [9.0, 9.0, 9.0, 9.0]])
    entry = np.array([0, 1, -1])

    def bound(j, f0):
        return f0 * 0.5**j

    D, B = F.lagged_excess(loss, entry, bound)
    # path 0 from 9: bounds 4.5, 2.25, 1.125; path 1 from 8: 4, 2, (no lag 3); path 2 left out
    np.testing.assert_allclose(B[0], [4.5, 2.25, 1.125])
    np.testing.assert_allclose(D[0], [0.5, 0.75, 0.875])
    np.testing.assert_allclose(B[1, :2], [4.0, 2.0])
    np.testing.assert_allclose(D[1, :2], [0.0, -1.0])
    assert np.isnan(D[1, 2]) and np.all(np.isnan(D[2]))
    D, _ = F.lagged_excess(loss, entry, bound, max_lag=1)
    assert D.shape == (3, 1)


@pytest.mark.parametrize("shift, verdict", [(-0.1, "below"), (0.1, "above"), (0.0, "straddle")])
def test_simultaneous_max_band_decides_in_all_three_directions(shift, verdict):
    rng = np.random.default_rng(1)
    B = np.ones((400, 50))
    D = shift + 0.2 * rng.standard_normal((400, 50))
    res = F.simultaneous_max(D, B, n_boot=400)
    lo, hi = res["interval"]
    assert lo <= res["measured"] <= hi
    # 50 independent lags: the simultaneous critical value is near the max-of-50 quantile (3.2)
    assert 2.9 < res["c"] < 3.6
    if verdict == "below":
        assert hi < 0
    elif verdict == "above":
        assert lo > 0
    else:
        assert lo < 0 < hi


def test_simultaneous_max_leaves_out_lags_with_too_few_paths():
    D = np.full((10, 3), np.nan)
    D[:, 0] = -1.0
    D[:2, 1] = 5.0  # only 2 of 10 paths: left out at min_paths = 0.5
    res = F.simultaneous_max(D, np.ones_like(D), n_boot=100)
    assert res["measured"] == -1.0 and res["interval"] == [-1.0, -1.0]
    assert np.isnan(res["e"][1]) and res["paths"] == 10
    empty = F.simultaneous_max(np.full((4, 2), np.nan), np.ones((4, 2)))
    assert empty["interval"] is None


def test_drift_only_alternatives():
    lam = np.array([1.0, 1.0])
    f, y = F.drift_only_loss(lam, 3.0, 0.5, 0.01, 100, 10, "gradient")
    np.testing.assert_allclose(f, 9.0 * 0.99 ** (2 * np.arange(11) * 10))
    f_erf, y_erf = F.drift_only_loss(lam, 3.0, 0.5, 0.01, 100, 10, "erf")
    f_lin, _ = F.drift_only_loss(lam, 3.0, 0.5, 0.01, 100, 10, "linear")
    assert y_erf[0] == pytest.approx(3.0 / (np.sqrt(2) * 0.5))
    assert np.all(f_erf[1:] > f_lin[1:])  # erf is weaker than its linearisation
    with pytest.raises(ValueError):
        F.drift_only_loss(lam, 3.0, 0.5, 0.01, 10, 10, "bogus")


def test_bounds_and_rates_match_theory():
    lam = np.array([0.5, 2.0])
    b = F.bound_fn("thm2", lam, 2.0, 0.01, 4.0, 0.2)(np.arange(3), 5.0)
    np.testing.assert_allclose(b, theory.signsgd_bound(np.arange(3) * 0.2, 5.0, 0.5, 2.0, 2,
                                                       2.0, 0.01, 4.0))
    assert F.rate("thm1", lam, 2.0, 4.0) == 1.0
    assert F.rate("erf", lam, 2.0, 4.0) / F.rate("thm2", lam, 2.0, 4.0) == pytest.approx(
        np.sqrt(np.pi) * 0.8427007929 / 2)
    with pytest.raises(ValueError):
        F.bound_fn("thm3", lam, 1.0, 0.01, 1.0, 0.1)


# ------------------------------------------------------------------ claims
def test_claims_hold_below_the_bounds():
    m = F.measure(make_data(delta_bound=-0.2, delta_plateau=-0.05), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert len(c) == len(F.CHECKS) + len(F.SERIES) + 2 * len(F.CONVERGENCE)
    for cid in ("sgd_optim_thm1_spectrum", "signsgd_optim_thm2_spectrum",
                "phase3_sde_thm2_iso", "signsgd_optim_erf_iso", "signsgd_optim_plateau_iso",
                "sgd_optim_plateau_iso", "phase3_sde_plateau_iso"):
        assert c[cid].verdict == "holds", (cid, c[cid])
    # Theorem 1 on the spectrum: gradient flow without noise lies under the bound as well
    assert not c["sgd_optim_thm1_spectrum"].discriminates
    assert c["sgd_optim_thm1_spectrum"].alternative_value < 0
    # Theorem 2 for its SDE on H = lambda I: SignSGD's noise-free erf drift exceeds the bound
    assert c["phase3_sde_thm2_iso"].discriminates
    assert c["phase3_sde_thm2_iso"].alternative_value > 0
    # the erf correction rules out zero effect; the plateau rules out the other noise scaling
    assert c["signsgd_optim_erf_iso"].discriminates
    assert c["signsgd_optim_plateau_iso"].discriminates
    assert c["sgd_optim_plateau_iso"].discriminates
    # pairs and roles
    pf, corr = c["signsgd_optim_thm2_iso"], c["signsgd_optim_erf_iso"]
    assert pf.role == "paper_form" and corr.role == "correction"
    assert pf.pair == corr.id and corr.pair == pf.id
    # the simultaneous interval, not a standard-error allowance
    assert c["phase3_sde_thm2_iso"].comparison == "le"
    assert c["phase3_sde_thm2_iso"].tolerance == 0.0
    assert c["phase3_sde_thm2_iso"].interval[1] < 0


def test_claims_fail_above_the_bounds_and_off_the_limit():
    m = F.measure(make_data(delta_bound=0.2, delta_plateau=0.3), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    for cid in ("sgd_optim_thm1_spectrum", "sgd_sde_thm1_spectrum",
                "signsgd_optim_thm2_spectrum", "phase3_sde_thm2_iso", "signsgd_optim_thm2_iso",
                "sgd_optim_plateau_iso", "signsgd_sde_plateau_iso", "phase3_sde_plateau_iso"):
        assert c[cid].verdict == "fails", (cid, c[cid])


def test_the_correction_fails_above_the_erf_bound():
    m = F.measure(make_data(delta_bound=0.2, signsgd_bound="erf"), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert c["signsgd_optim_erf_iso"].verdict == "fails"
    assert c["signsgd_sde_erf_iso"].verdict == "fails"


def test_a_loss_on_the_bound_is_inconclusive_not_holds():
    m = F.measure(make_data(delta_bound=0.0, delta_plateau=0.0), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert c["phase3_sde_thm2_iso"].verdict == "inconclusive"
    assert c["sgd_optim_thm1_spectrum"].verdict == "inconclusive"


# ------------------------------------------------------------------ convergence in dt
CONV_IDS = [f"{series}_converged_dt_{w}_{F.PROBLEM_TAGS[prob]}"
            for series, prob in F.CONVERGENCE for w in F.CONVERGENCE_WINDOWS]


def test_convergence_claims_hold_when_the_pair_agrees():
    m = F.measure(make_data(conv_transient=0.002, conv_plateau=-0.002), {"bootstrap": 50})
    c = by_id(F.claims(m, {}))
    for cid in CONV_IDS:
        r = c[cid]
        assert r.verdict == "holds" and r.discriminates, (cid, r)
        assert r.comparison == "absolute" and r.predicted == 0.0
        assert r.tolerance == pytest.approx(0.5 * F.ANALYSE_DEFAULTS["tolerance"])
        assert r.alternative_value == F.ANALYSE_DEFAULTS["tolerance"] and r.runs == RC
        expected = 0.002 if "_transient_" in cid else -0.002
        assert r.measured == pytest.approx(expected, abs=5e-4), (cid, r.measured)
    # the move scales with the analyse settings
    c = by_id(F.claims(m, {"tolerance": 0.2, "convergence_fraction": 0.25}))
    assert c[CONV_IDS[0]].tolerance == pytest.approx(0.05)


@pytest.mark.parametrize("transient, plateau", [(0.1, 0.0), (0.0, -0.1)])
def test_convergence_claims_fail_when_halving_dt_moves_the_curve(transient, plateau):
    """A coarse chain 10% off its fine chain (a dt-error as large as the tolerance) fails, in
    the window where the move is, and only there."""
    m = F.measure(make_data(conv_transient=transient, conv_plateau=plateau), {"bootstrap": 50})
    c = by_id(F.claims(m, {}))
    for cid in CONV_IDS:
        moved = ("_transient_" in cid) == bool(transient)
        assert c[cid].verdict == ("fails" if moved else "holds"), (cid, c[cid])


def test_convergence_transient_window_is_above_twice_the_plateau():
    ref = np.array([10.0, 5.0, 3.0, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0])
    fine = np.tile(ref, (4, 1))
    coarse = fine * np.array([1.0, 1.1, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0])
    v = F.convergence_values(coarse, fine, ref, 0.25)
    np.testing.assert_array_equal(v["transient_times"], [1, 2])  # t = 0 and f <= 2 left out
    np.testing.assert_allclose(v["transient"][0], 1.1)
    np.testing.assert_allclose(v["transient"][1], 1.0)
    np.testing.assert_allclose(v["plateau"][0], v["plateau"][1])
    # no saved time above twice the plateau: the first saved time after 0
    v = F.convergence_values(fine, fine, np.ones(9), 0.25)
    np.testing.assert_array_equal(v["transient_times"], [1])


def test_paths_that_never_enter_phase_3_are_left_out_and_noted():
    data = make_data()
    data["arrays"]["signsgd_optim"]["phase3_entry"][:, :, : R // 4] = -1
    m = F.measure(data, {"bootstrap": 100})
    c = by_id(F.claims(m, {}))
    assert c["signsgd_optim_erf_iso"].runs == R - R // 4
    assert "25.0% of paths never enter Phase 3" in c["signsgd_optim_erf_iso"].note
    data["arrays"]["signsgd_optim"]["phase3_entry"][:] = -1
    m = F.measure(data, {"bootstrap": 100})
    c = by_id(F.claims(m, {}))
    assert c["signsgd_optim_erf_iso"].verdict == "fails"  # nothing measured never holds
    assert "run longer" in c["signsgd_optim_erf_iso"].note


def test_load_reads_the_four_artifacts_and_needs_the_phase3_sde(tmp_path):
    data = make_data()
    inputs = {}
    for opt in F.OPTIMIZERS:
        for kind in F.KINDS:
            stem = f"{opt}_{kind}"
            a = {k: v for k, v in data["arrays"][stem].items()}
            if stem != "sgd_optim":
                a.update({k: data["arrays"]["sgd_optim"][k]
                          for k in ("lam", "sigmas", "batch_sizes", "times")})
            if stem == "signsgd_sde":
                p3 = data["arrays"]["phase3_sde"]
                a.update(phase3_sde_loss=p3["loss"], phase3_sde_entry=p3["phase3_entry"],
                         phase3_sde_reexit=p3["phase3_reexit"],
                         phase3_sde_conv_loss_coarse=p3["conv_loss_coarse"],
                         phase3_sde_conv_loss_fine=p3["conv_loss_fine"])
            inputs[stem] = tmp_path / f"{stem}.npz"
            artifacts.save(inputs[stem], a, data["metas"][stem])
    loaded = F.load(inputs)
    assert set(loaded["arrays"]) == set(F.SERIES)
    np.testing.assert_allclose(loaded["arrays"]["phase3_sde"]["loss"],
                               data["arrays"]["phase3_sde"]["loss"])
    np.testing.assert_allclose(loaded["arrays"]["phase3_sde"]["conv_loss_fine"],
                               data["arrays"]["phase3_sde"]["conv_loss_fine"])
    a, meta = artifacts.load(inputs["sgd_sde"])
    del a["conv_loss_coarse"]
    artifacts.save(inputs["sgd_sde"], a, meta)
    with pytest.raises(artifacts.ArtifactError, match="conv_loss_coarse"):
        F.load(inputs)
    a, meta = artifacts.load(inputs["signsgd_sde"])
    del a["phase3_sde_loss"]
    artifacts.save(inputs["signsgd_sde"], a, meta)
    with pytest.raises(artifacts.ArtifactError, match="phase3_sde_loss"):
        F.load(inputs)


def test_plot_and_tables():
    m = F.measure(make_data(), {"bootstrap": 100})
    fig = F.plot(m)
    assert len(fig.axes) >= 6
    t = F.tables(m)
    assert len(t) == 5 and (t["never"] == 0).all()
