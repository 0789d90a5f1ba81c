"""Analysis layer of figure ``signsgd_phases`` on small synthetic artifacts: paths built from the
erf mean-path dynamics (every claim holds) and from perturbed dynamics (each claim kind
fails when it should)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest
from scipy.special import erf

from adasde import artifacts
from adasde.figures import signsgd_phases as F

LAM = np.array([1.0, 4.0])
X0, S, T_END, DT_SAVE, R = 5.0, 1.0, 8.0, 0.01, 64


def mean_path(phase1_speed=1.0, phase3="erf"):
    return _mean_path(phase1_speed, phase3).copy()


@lru_cache(maxsize=8)
def _mean_path(phase1_speed=1.0, phase3="erf"):
    """The mean path of each coordinate, x(t) (times, d): Euler at dt = 1e-4 of
    dx/dt = -A(Y), Y = lam x/(sqrt2 s), with A = erf(Y) (times ``phase1_speed`` where
    |Y| >= 3/2) and, where |Y| < 1, ``phase3``: erf(Y), its linearisation 2Y/sqrt(pi), or half
    of it ("slow")."""
    dt, every = 1e-4, int(round(DT_SAVE / 1e-4))
    n = int(round(T_END / dt))
    x = np.full(LAM.shape, X0)
    out = []
    for k in range(n + 1):
        if k % every == 0:
            out.append(x.copy())
        y = LAM * x / (math.sqrt(2.0) * S)
        a = erf(y)
        a = np.where(np.abs(y) >= 1.5, phase1_speed * a, a)
        if phase3 == "linear":
            a = np.where(np.abs(y) < 1, 2 / math.sqrt(math.pi) * y, a)
        elif phase3 == "slow":
            a = np.where(np.abs(y) < 1, 1 / math.sqrt(math.pi) * y, a)
        x = x - dt * a
    return np.array(out)


def make_data(seed=0, pair=None, **kw):
    """Synthetic artifacts of the three kinds; ``pair`` (a dict of :func:`mean_path` keywords
    for the coarse chain, ``{}`` for the same dynamics as the fine one) adds the coupled
    (dt, dt/2) pair of 16 paths to both SDE kinds (the fine chain follows ``kw``'s dynamics,
    each chain the same per-path noise: one Brownian path)."""
    rng = np.random.default_rng(seed)
    m = mean_path(**kw)
    t = np.arange(m.shape[0]) * DT_SAVE
    arrays = {}
    for kind in F.KINDS:
        x = m[None] + 1e-4 * rng.standard_normal((R, *m.shape))
        loss = 0.5 * np.sum(LAM * x * x, axis=-1)
        arrays[kind] = {"x": x, "loss": loss, "times": t, "lam": LAM, "x0": np.full(2, X0),
                        "sigma_eff": np.float64(S)}
        if pair is not None and kind != "optim":
            noise = 1e-4 * rng.standard_normal((16, *m.shape))
            xf = m[None] + noise
            xc = mean_path(**{**kw, **pair})[None] + noise
            arrays[kind].update({
                "conv_x_coarse": xc, "conv_x_fine": xf,
                "conv_loss_coarse": 0.5 * np.sum(LAM * xc * xc, axis=-1),
                "conv_loss_fine": 0.5 * np.sum(LAM * xf * xf, axis=-1)})
    cfg = {"sigma": S, "batch_size": 1, "eta": 0.001, "x0": X0}
    metas = {k: {"config": cfg, "seed": 0} for k in F.KINDS}
    return {"arrays": arrays, "metas": metas, "config": cfg}


@pytest.fixture(scope="module")
def good():
    return make_data()


def by_id(records):
    return {c.id: c for c in records}


# ------------------------------------------------------------------ statistics
def test_max_relative_error_and_its_simultaneous_interval():
    rng = np.random.default_rng(2)
    ref = np.linspace(1.0, 2.0, 30)
    v = ref * (1.0 + 0.05 * np.linspace(0, 1, 30)) + 0.01 * rng.standard_normal((200, 30))
    meas, iv, se, j, c = F.max_relative_error(v, ref, n_boot=300)
    assert j == 29 or abs(meas - 0.05) < 3 * se
    assert iv[0] <= meas <= iv[1] and c >= 1.96
    assert iv[0] > 0.04 and iv[1] < 0.06
    meas, iv, *_ = F.max_relative_error(np.tile(ref, (5, 1)), ref)  # exact: a point interval
    assert meas == 0.0 and iv == [0.0, 0.0]


def test_crossing_time_jackknife_and_windows():
    t = np.linspace(0, 10, 1001)
    assert F.crossing_time(t, 10 - t, 2.5) == pytest.approx(7.5)
    assert np.isnan(F.crossing_time(t, np.ones_like(t), 0.5))
    rng = np.random.default_rng(0)
    runs = 3.0 * np.exp(-t) + 0.01 * rng.standard_normal((400, t.size))
    start, stop = F.phase3_window(t, runs, lam_i=1.0, sigma_eff=1.0, floor_se=5.0)
    rate, se = F.jackknife(lambda r: F.decay_rate(t, r, start, stop), runs)
    assert rate == pytest.approx(1.0, abs=3 * se)
    assert F.transit_time(t, runs, 1.0, 1.0, 0.1) == pytest.approx(math.log(10), abs=0.02)
    assert F.mean_snr(runs[:, :, None], [1.0], 1.0).shape == (t.size, 1)


# ------------------------------------------------------------------ claims
def test_every_claim_holds_on_the_erf_dynamics(good):
    m = F.measure(good, {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    for kind in F.CLAIM_KINDS:
        assert c[f"phase1_loss_{kind}"].verdict == "holds"
        assert c[f"phase1_loss_{kind}"].role == "correction"
        assert c[f"phase1_loss_maxnorm_{kind}"].verdict == "fails"  # the max-norm reading
        assert c[f"phase1_loss_maxnorm_{kind}"].role == "paper_form"
        for i in (1, 2):
            for cid in (f"phase1_coord{i}_{kind}", f"phase3_rate_{kind}_coord{i}",
                        f"phase3_transit_{kind}_coord{i}"):
                assert c[cid].verdict == "holds", (cid, c[cid])
                assert c[cid].discriminates, cid
            assert c[f"phase3_transit_linear_{kind}_coord{i}"].verdict == "fails"
            assert c[f"phase3_transit_linear_{kind}_coord{i}"].pair == \
                f"phase3_transit_{kind}_coord{i}"
    # the alternatives: linearised drift from t = 0 (far off), SGD's rate lambda
    assert c["phase1_coord1_optim"].alternative_value > 0.5
    assert c["phase3_rate_optim_coord2"].alternative_value == 4.0


def test_phase1_claims_fail_when_phase_1_is_slower_than_signgd():
    m = F.measure(make_data(phase1_speed=0.9), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert c["phase1_coord1_optim"].verdict == "fails"
    assert c["phase1_coord2_sde"].verdict == "fails"
    assert c["phase1_loss_optim"].verdict == "fails"


def test_linearised_phase_3_makes_the_paper_form_hold_and_the_correction_fail():
    m = F.measure(make_data(phase3="linear"), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert c["phase3_transit_linear_optim_coord1"].verdict == "holds"
    assert c["phase3_transit_optim_coord1"].verdict == "fails"
    assert c["phase3_rate_optim_coord1"].verdict == "holds"


def test_a_slow_phase_3_fails_the_rate_claim():
    m = F.measure(make_data(phase3="slow"), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    assert c["phase3_rate_optim_coord1"].verdict == "fails"
    assert c["phase3_rate_sde_coord2"].verdict == "fails"


def test_load_and_plot(tmp_path, good):
    inputs = {}
    for kind in F.KINDS:
        inputs[kind] = tmp_path / f"{kind}.npz"
        artifacts.save(inputs[kind], good["arrays"][kind], good["metas"][kind])
    data = F.load(inputs)
    assert set(data["arrays"]) == set(F.KINDS) and data["config"]["sigma"] == S
    m = F.measure(data, {"bootstrap": 100})
    assert m["markers"]["optim"]["min_32"] < m["markers"]["optim"]["max_32"]
    fig = F.plot(m)
    assert len(fig.axes) >= 3


# ------------------------------------------------------------------ convergence in dt
CONVERGED = ["sde_loss_converged_dt", "phasewise_loss_converged_dt"] + [
    f"{q}_sde_coord{i}_converged_dt" for i in (1, 2) for q in ("phase3_rate", "phase3_transit")] + [
    f"phase1_coord{i}_sde_converged_dt" for i in (1, 2)]


def test_worst_time_and_linearised_values():
    rng = np.random.default_rng(5)
    fine = 1.0 + 0.01 * rng.standard_normal((16, 50))
    coarse = fine.copy()
    coarse[:, 30] += 0.2
    coarse[:, 10] += 0.5
    coarse[3, :] = np.nan  # a non-finite path is left out, not propagated
    assert F.worst_time(coarse, fine) == 10
    window = np.arange(50) > 20
    assert F.worst_time(coarse, fine, window) == 30
    # a linear functional: the values are the functional of each path, exactly
    base = np.linspace(2.0, 1.0, 50)
    paths = base + 0.1 * rng.standard_normal((16, 50))
    v = F.linearised_values(lambda p: 3.0 * p[7] - p[40], base, paths)
    np.testing.assert_allclose(v, 3.0 * paths[:, 7] - paths[:, 40], rtol=1e-8)
    # a nonlinear one (the decay rate): the mean of the values is the functional of the mean
    # path to first order, and the coupled difference its first-order change
    t = np.linspace(0.0, 3.0, 50)
    base = np.exp(-t)
    paths = base * (1 + 1e-3 * rng.standard_normal((16, 50)))
    rate = lambda p: F.decay_rate(t, p[None], 0, 50)  # noqa: E731
    v = F.linearised_values(rate, base, paths)
    assert v.mean() == pytest.approx(rate(paths.mean(0)), abs=1e-5)
    slower = paths + 0.01 * t * base  # d ln|x| = 0.01 t to first order: rate 1 -> 0.99
    dv = F.linearised_values(rate, base, slower) - v
    assert dv.mean() == pytest.approx(-0.01, rel=1e-4) and dv.std() < 1e-6


def test_convergence_in_dt_holds_when_the_pair_agrees():
    m = F.measure(make_data(pair={}), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    a = F.settings({})
    frac = a["convergence_fraction"]
    for cid in CONVERGED:
        # the tolerance of the matching claim: the rate's, the transit time's, else Phase 1's
        tol = a["rate_tolerance"] if "rate" in cid else \
            a["transit_tolerance"] if "transit" in cid else a["phase1_tolerance"]
        r = c[cid]
        assert r.verdict == "holds" and r.discriminates, (cid, r.interval, r.band)
        assert r.runs == 16 and abs(r.measured) < 1e-4, cid
        assert r.band == pytest.approx([-frac * tol, frac * tol]), cid
        assert r.alternative_value == tol
    # only the SDE kinds with a pair, never the optimizer; the claims of the figure stay
    assert not any("optim" in k and "converged" in k for k in c)
    assert {k for k in c if k.endswith("converged_dt")} == set(CONVERGED)
    # the fraction is an analysis setting
    c2 = by_id(F.claims(m, {"convergence_fraction": 1.0}))
    tol = a["phase1_tolerance"]
    assert c2["sde_loss_converged_dt"].band == pytest.approx([-tol, tol])


def test_convergence_in_dt_fails_when_phase_1_moves():
    """A coarse chain 5% slower in Phase 1 than the fine one (a discretisation error) moves the
    Phase-1 positions and the loss curve by more than the band."""
    m = F.measure(make_data(pair={"phase1_speed": 0.95}), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    for cid in ("sde_loss_converged_dt", "phasewise_loss_converged_dt",
                "phase1_coord1_sde_converged_dt", "phase1_coord2_sde_converged_dt"):
        assert c[cid].verdict == "fails", (cid, c[cid].measured, c[cid].band)
    # the main-run claims are unchanged by the pair
    assert c["phase1_coord1_sde"].verdict == "holds"


def test_convergence_in_dt_fails_when_phase_3_moves():
    """A coarse chain with half the Phase-3 drift: the rate and the transit time move."""
    m = F.measure(make_data(pair={"phase3": "slow"}), {"bootstrap": 200})
    c = by_id(F.claims(m, {}))
    for i in (1, 2):
        rate = c[f"phase3_rate_sde_coord{i}_converged_dt"]
        assert rate.verdict == "fails" and rate.measured < -0.2, (rate.measured, rate.band)
        assert c[f"phase3_transit_sde_coord{i}_converged_dt"].verdict == "fails"
    assert c["phase1_coord1_sde_converged_dt"].verdict == "holds"  # Phase 1 did not move


def test_no_pair_no_convergence_claim(good):
    c = by_id(F.claims(F.measure(good, {"bootstrap": 100}), {}))
    assert not any("converged" in k for k in c)
