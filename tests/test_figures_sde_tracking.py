"""The sde_tracking analysis (adasde.figures.sde_tracking) on small synthetic artifacts: the
mean tracking error and the across-seed spread ratio with their bootstrap intervals, measure,
every claim kind holding and failing, the alternatives (drift-only ODE, Malladi et al.'s SDE)
discriminating or not, and the figure."""

from __future__ import annotations

import numpy as np
import pytest

from adasde import artifacts
from adasde.figures import sde_tracking as F

J = 21  # saved times (0..20)
T = np.arange(J)
MU = 0.1 + np.exp(-T / 5.0)  # a decaying mean loss curve


def runs(rng, n, scale=1.0, spread=0.1, shift=0.0):
    """n loss curves with mean MU * (1 + shift) and a seed-persistent relative spread ~ spread
    (plus a little per-time noise); time 0 is f(x0) for every run."""
    z = rng.standard_normal((n, 1)) + 0.3 * rng.standard_normal((n, J))
    out = MU * (1.0 + shift) * (1.0 + spread * scale * z)
    out[:, 0] = MU[0]
    return out


def artifact(rng, n=200, sde=None, ode=None, malladi=None, optimizers=("signsgd", "adamw")):
    """The arrays and meta of a tracking artifact: every optimizer gets the same synthetic
    optimizer runs, model curves built by the callables ``sde``, ``ode``, ``malladi``."""
    sde = sde or (lambda: runs(rng, n))
    ode = ode or (lambda: MU[None, :].copy())
    malladi = malladi or (lambda: runs(rng, n, shift=0.5, scale=2.0))
    arrays = {"iterations": T * 10}
    for opt in optimizers:
        arrays[f"loss_{opt}_optim"] = runs(rng, n)
        arrays[f"loss_{opt}_sde"] = sde()
        arrays[f"loss_{opt}_ode"] = ode()
        if opt != "signsgd":
            arrays[f"loss_{opt}_malladi"] = malladi()
    hp = {"signsgd": {"eta": 1e-3},
          "adamw": {"eta": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 0.0, "theta": 0.1}}
    meta = {"artifact": "sde_tracking_toy/tracking", "config": {
        "sigma": 0.01, "seeds": n, "iterations": 200, "save_every": 10,
        "optimizers": {o: hp[o] for o in optimizers}}, "seed": 0, "problem": "toy",
        "n_params": 3, "n_train": 10, "timings": {"signsgd_sde": {"compile_s": 1.0, "run_s": 2.0}}}
    return arrays, meta


def data_of(arrays, meta):
    opts = [o for o in F.ORDER if o in meta["config"]["optimizers"]]
    return {"arrays": arrays, "meta": meta, "spec": meta["config"], "optimizers": opts}


ANALYSE = {"tolerance": 0.1, "spread_tolerance": 0.3, "noise_tolerance": 0.2, "bootstrap": 300}


def by_id(records):
    return {c.id: c for c in records}


# ------------------------------------------------------------------------------ statistics
def test_tracking_error_exact_cases():
    opt = np.ones((4, 6))
    sde = np.full((4, 6), 1.05)
    sde[:, 0] = opt[:, 0] = 2.0  # time 0 (both at f(x0)) is left out
    out = F.tracking_error(sde, opt, n_boot=200)
    assert out["error"] == pytest.approx(0.05, rel=1e-12)
    assert out["stderr"] == pytest.approx(0.0, abs=1e-12) and out["floor"] == 0.0
    assert out["interval"] == pytest.approx([0.05, 0.05], rel=1e-12)
    np.testing.assert_allclose(out["curve"], 0.05, rtol=1e-12)
    assert out["curve"].shape == (5,)
    one = F.tracking_error(sde[:1], opt)  # a single deterministic path (the ODE)
    assert one["error"] == pytest.approx(0.05, rel=1e-12) and one["floor"] == 0.0
    sde[1, 3] = np.nan
    bad = F.tracking_error(sde, opt)
    assert bad["error"] == np.inf and bad["interval"] is None


def test_tracking_error_monte_carlo_error_is_calibrated():
    """With loss_opt ~ N(1, s^2) and loss_sde ~ N(1.2, s^2) independently per run and time,
    e estimates 0.2 within its stated error; the bootstrap standard error matches the spread
    of e over independent repetitions (to 30%) and the 95% interval covers 0.2."""
    rng = np.random.default_rng(0)
    n_runs, times, s = 16, 40, 0.3
    reps, ses, cover = [], [], 0
    for _ in range(60):
        opt = 1.0 + s * rng.standard_normal((n_runs, times))
        sde = 1.2 + s * rng.standard_normal((n_runs, times))
        out = F.tracking_error(sde, opt, n_boot=300, seed=1)
        reps.append(out["error"])
        ses.append(out["stderr"])
        cover += out["interval"][0] <= 0.2 <= out["interval"][1]
    reps, se = np.asarray(reps), float(np.mean(ses))
    assert abs(reps.mean() - 0.2) < 3 * reps.std(ddof=1) / np.sqrt(len(reps)) + 0.01
    assert se == pytest.approx(reps.std(ddof=1), rel=0.3)
    assert cover >= 52  # of 60 (nominal 57; the percentile interval covers about 39)
    floor = F.tracking_error(sde, opt)["floor"]  # sqrt(2) s / sqrt(runs) / 1
    assert floor == pytest.approx(np.sqrt(2) * s / np.sqrt(n_runs), rel=0.25)


def test_spread_ratio_exact_cases():
    rng = np.random.default_rng(1)
    opt = runs(rng, 30)
    double = MU + 2.0 * (opt - MU)  # the same runs with twice the deviation from MU
    for inc in (False, True):
        out = F.spread_ratio(double, opt, n_boot=200, increments=inc)
        assert out["ratio"] == pytest.approx(2.0, rel=1e-9)
        assert out["interval"][0] < 2.0 < out["interval"][1]  # resampled independently
        np.testing.assert_allclose(out["spread"], 2 * out["spread_opt"], rtol=1e-9)
        assert out["spread"].shape == (J - 1,)
        ode = F.spread_ratio(MU[None, :], opt, n_boot=200, increments=inc)  # one path
        assert ode["ratio"] == 0.0 and ode["interval"] == [0.0, 0.0]
    # geometric mean: spreads 4x at half of the times and 1x at the others give 2
    half = opt.copy()
    half[:, 1::2] = MU[1::2] + 4.0 * (opt[:, 1::2] - MU[1::2])
    assert F.spread_ratio(half, opt)["ratio"] == pytest.approx(2.0)  # times 1..20
    assert F.seed_spread(MU[None, :]).tolist() == [0.0] * J
    bad = double.copy()
    bad[2, 5] = np.inf
    assert np.isnan(F.spread_ratio(bad, opt)["ratio"])
    assert F.spread_ratio(bad, opt)["interval"] is None


def test_spread_ratio_interval_covers_the_true_ratio():
    """Independent runs and paths with spreads in ratio 1.5: the 95% bootstrap interval covers
    1.5 in most repetitions and its width shrinks with the number of seeds; the increments'
    ratio (fresh noise at every time) is much tighter than the levels' (seed-persistent)."""
    rng = np.random.default_rng(2)
    cover, widths = 0, {}
    for n in (16, 64):
        w = []
        for _ in range(30):
            out = F.spread_ratio(runs(rng, n, scale=1.5), runs(rng, n), n_boot=300,
                                 seed=int(rng.integers(1 << 30)))
            lo, hi = out["interval"]
            cover += lo <= 1.5 <= hi
            w.append(hi - lo)
        widths[n] = np.mean(w)
    assert cover >= 48  # of 60 (nominal 57; the percentile bootstrap is a little narrow)
    assert widths[64] < 0.65 * widths[16]
    inc = F.spread_ratio(runs(rng, 64, scale=1.5), runs(rng, 64), n_boot=300, increments=True)
    assert inc["interval"][0] < 1.5 < inc["interval"][1]
    assert inc["interval"][1] - inc["interval"][0] < 0.5 * widths[64]


# ---------------------------------------------------------------------- load and measure
def test_load_and_measure_from_a_saved_artifact(tmp_path):
    rng = np.random.default_rng(3)
    arrays, meta = artifact(rng, n=12)
    path = tmp_path / "sde_tracking_toy" / "tracking.npz"
    artifacts.save(path, arrays, meta)
    data = F.load({"tracking": str(path)})
    assert data["optimizers"] == ["signsgd", "adamw"] and data["spec"]["seeds"] == 12
    m = F.measure(data, ANALYSE)
    assert m["figure"] == "sde_tracking_toy" and m["problem"] == "toy"
    assert set(m["per_opt"]["signsgd"]["mean"]) == {"sde", "ode"}
    assert set(m["per_opt"]["adamw"]["mean"]) == {"sde", "ode", "malladi"}
    assert m["per_opt"]["adamw"]["rows"] == {"optim": 12, "sde": 12, "ode": 1, "malladi": 12}
    assert m["per_opt"]["signsgd"]["spread"]["ode"]["ratio"] == 0.0
    assert m["tolerance"] == 0.1 and m["spread_tolerance"] == 0.3 and m["bootstrap"] == 300
    assert len(F.table(m)) == 5 and list(F.timings(data)["run"]) == ["signsgd_sde"]
    defaults = F.measure(data, {})
    assert defaults["spread_tolerance"] == F.DEFAULTS["spread_tolerance"]


# ---------------------------------------------------------------------------------- claims
def test_claims_hold_and_discriminate_when_the_sde_matches():
    """SDE paths from the optimizer's distribution (400 seeds): mean and spread hold; the
    spread claims rule out the ODE (R = 0) and Malladi's SDE (R = 2); the mean claim rules out
    Malladi's SDE (50% off), but not the ODE, whose mean is the optimizer's."""
    rng = np.random.default_rng(4)
    m = F.measure(data_of(*artifact(rng, n=400)), ANALYSE)
    c = by_id(F.claims(m, ANALYSE))
    assert set(c) == {f"{o}_{s}" for o in ("signsgd", "adamw") for s in ("mean", "spread", "noise")
                      } | {f"adamw_{s}_vs_malladi" for s in ("mean", "spread", "noise")}
    for opt in ("signsgd", "adamw"):
        for stat in ("spread", "noise"):
            assert c[f"{opt}_{stat}"].verdict == "holds" and c[f"{opt}_{stat}"].discriminates
            assert c[f"{opt}_{stat}"].alternative_value == 0.0
        assert c[f"{opt}_mean"].verdict == "holds" and not c[f"{opt}_mean"].discriminates
        assert "does not test the diffusion" in c[f"{opt}_mean"].note
    assert c["adamw_mean_vs_malladi"].discriminates
    assert c["adamw_spread_vs_malladi"].discriminates
    assert c["adamw_spread"].band == pytest.approx([0.7, 1.3])
    assert c["adamw_noise"].band == pytest.approx([0.8, 1.2])
    assert c["adamw_mean"].band == [None, 0.1] and c["adamw_mean"].runs == 400
    assert all(r.figure == "sde_tracking_toy" for r in c.values())
    lo, hi = c["adamw_spread"].interval
    assert lo < c["adamw_spread"].measured < hi  # the bootstrap interval, passed through


def test_mean_claim_discriminates_an_ode_that_misses_the_mean():
    """Where the noise shifts the mean (here the ODE's loss is 30% lower), the mean claim rules
    the ODE out too."""
    rng = np.random.default_rng(5)
    m = F.measure(data_of(*artifact(rng, n=400, ode=lambda: 0.7 * MU[None, :])), ANALYSE)
    c = by_id(F.claims(m, ANALYSE))
    assert c["signsgd_mean"].verdict == "holds" and c["signsgd_mean"].discriminates
    assert c["signsgd_mean"].alternative_value == pytest.approx(0.3 * (MU[1:] / MU[1:]).mean(),
                                                                rel=0.05)


def test_spread_claim_fails_for_a_drift_only_model():
    """A "SDE" whose paths all follow the mean (no diffusion) passes the mean claim but fails
    the spread claim: R = 0, interval [0, 0]."""
    rng = np.random.default_rng(6)
    m = F.measure(data_of(*artifact(rng, n=200, sde=lambda: np.repeat(MU[None, :], 200, 0))),
                  ANALYSE)
    c = by_id(F.claims(m, ANALYSE))
    assert c["signsgd_mean"].verdict == "holds"
    for stat in ("spread", "noise"):
        assert c[f"signsgd_{stat}"].verdict == "fails"
        assert c[f"signsgd_{stat}"].measured == pytest.approx(0.0, abs=1e-6)


def test_spread_claim_fails_for_too_much_noise_and_mean_claim_fails_for_an_offset():
    rng = np.random.default_rng(7)
    arrays, meta = artifact(rng, n=200, sde=lambda: runs(rng, 200, scale=2.0, shift=0.3))
    c = by_id(F.claims(F.measure(data_of(arrays, meta), ANALYSE), ANALYSE))
    for opt in ("signsgd", "adamw"):
        assert c[f"{opt}_spread"].verdict == "fails" and c[f"{opt}_noise"].verdict == "fails"
        assert c[f"{opt}_mean"].verdict == "fails"


def test_claims_are_inconclusive_with_few_seeds():
    """8 seeds: the spread's interval is wider than the band, so the claim is inconclusive and
    states how many runs would settle it."""
    rng = np.random.default_rng(8)
    c = by_id(F.claims(F.measure(data_of(*artifact(rng, n=8)), ANALYSE), ANALYSE))
    sp = c["signsgd_spread"]
    assert sp.verdict == "inconclusive" and sp.runs_to_settle > 8


def test_malladi_inside_the_band_cannot_discriminate():
    rng = np.random.default_rng(9)
    arrays, meta = artifact(rng, n=400, malladi=lambda: runs(rng, 400, scale=1.1, shift=0.02))
    c = by_id(F.claims(F.measure(data_of(arrays, meta), ANALYSE), ANALYSE))
    for cid in ("adamw_mean_vs_malladi", "adamw_spread_vs_malladi", "adamw_noise_vs_malladi"):
        assert c[cid].verdict == "holds" and not c[cid].discriminates
    assert "our -theta*X extension" in c["adamw_mean_vs_malladi"].alternative


def test_diverged_paths_fail_the_claims():
    rng = np.random.default_rng(10)

    def broken():
        out = runs(rng, 50)
        out[3, 7:] = np.nan
        return out

    m = F.measure(data_of(*artifact(rng, n=50, sde=broken)), ANALYSE)
    c = by_id(F.claims(m, ANALYSE))
    assert m["per_opt"]["signsgd"]["diverged"]["sde"] == 1
    assert c["signsgd_mean"].verdict == "fails" and c["signsgd_spread"].verdict == "fails"
    assert c["signsgd_noise"].verdict == "fails"
    assert "1 SDE paths diverged" in c["signsgd_mean"].note


def test_analyse_tolerances_change_the_band():
    rng = np.random.default_rng(11)
    m = F.measure(data_of(*artifact(rng, n=50)), ANALYSE)
    c = by_id(F.claims(m, {"tolerance": 0.2, "spread_tolerance": 0.5, "noise_tolerance": 0.4,
                           "bootstrap": 10}))
    assert c["signsgd_mean"].band == [None, 0.2]
    assert c["signsgd_spread"].band == pytest.approx([0.5, 1.5])
    assert c["signsgd_noise"].band == pytest.approx([0.6, 1.4])


def test_plot_has_three_panels_per_optimizer():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(12)
    m = F.measure(data_of(*artifact(rng, n=10)), ANALYSE)
    fig = F.plot(m)
    assert len(fig.axes) == 8
    for ax in (fig.axes[1], fig.axes[2]):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("drift-only ODE" in t and "R = 0" in t for t in labels)
    plt.close(fig)


# ----------------------------------------------------------------- convergence in dt (pair)
def with_pair(arrays, meta, rng, opts=("signsgd", "adamw"), paths=8, factor=1.0, noise=1e-3,
              requested=None, substeps=1):
    """Add a coupled pair to a synthetic artifact: fine paths from the optimizer's law, coarse
    = fine * factor * (1 + noise z) per time (a weak dt-error ``factor - 1`` plus the pair's
    small path-wise difference)."""
    for opt in opts:
        fine = runs(rng, paths)
        coarse = fine * factor * (1.0 + noise * rng.standard_normal(fine.shape))
        coarse[:, 0] = fine[:, 0]
        arrays[f"conv_loss_{opt}_coarse"], arrays[f"conv_loss_{opt}_fine"] = coarse, fine
    meta["config"]["sde_substeps"] = substeps
    meta["config"]["convergence_runs"] = paths
    if requested is not None:
        meta["convergence_runs_requested"] = requested
    return arrays, meta


def test_relative_loss_exact_cases():
    loss = np.array([[9.0, 2.0, 1.0], [9.0, 4.0, 3.0]])
    ref = np.array([5.0, 2.0, 1.0])  # time 0 is left out
    np.testing.assert_allclose(F.relative_loss(loss, ref), [1.0, 2.5])
    c = F.convergence({"conv_loss_x_coarse": 1.1 * loss, "conv_loss_x_fine": loss}, "x", ref)
    np.testing.assert_allclose(c["coarse"], 1.1 * c["fine"])
    np.testing.assert_allclose(c["curve"], [0.1 * 3.0 / 2.0, 0.1 * 2.0 / 1.0])
    assert c["paths"] == 2 and F.convergence({}, "x", ref) is None


def test_convergence_claim_holds_for_a_converged_pair():
    """A pair whose chains differ by 0.1% per path: the relative move of the loss is ~0 +- 1e-3,
    inside +-0.5 x 0.1; the alternative (a dt-error of 0.1) lies outside: it discriminates.
    No claim for Malladi's SDE and none for an optimizer without a pair."""
    rng = np.random.default_rng(20)
    arrays, meta = with_pair(*artifact(rng, n=50), rng, opts=("adamw",))
    m = F.measure(data_of(arrays, meta), ANALYSE)
    c = by_id(F.claims(m, ANALYSE))
    conv = c["adamw_sde_converged_dt"]
    assert conv.verdict == "holds" and conv.discriminates
    assert conv.band == pytest.approx([-0.05, 0.05]) and conv.alternative_value == 0.1
    assert abs(conv.measured) < 2e-3 and conv.runs == 8
    assert "dt = eta halves" in conv.statement and "clamped" not in conv.note
    assert "mean-loss tolerance 0.1" in conv.statement
    assert "signsgd_sde_converged_dt" not in c
    assert not any("malladi" in cid and "converged" in cid for cid in c)
    assert m["per_opt"]["adamw"]["convergence"]["curve"].shape == (J - 1,)


def test_convergence_claim_fails_when_halving_dt_moves_the_loss():
    """The failing case: coarse = 1.12 x fine on every path (a weak dt-error of 12%, more than
    the band 0.05): the claim fails; at 1.04 it holds, and a band from convergence_fraction
    0.2 (0.02) makes the same 4% fail."""
    rng = np.random.default_rng(21)
    arrays, meta = with_pair(*artifact(rng, n=50), rng, factor=1.12)
    c = by_id(F.claims(F.measure(data_of(arrays, meta), ANALYSE), ANALYSE))
    for opt in ("signsgd", "adamw"):
        assert c[f"{opt}_sde_converged_dt"].verdict == "fails"
        assert c[f"{opt}_sde_converged_dt"].measured == pytest.approx(0.12, abs=0.01)
    arrays, meta = with_pair(*artifact(rng, n=50), rng, factor=1.04)
    m = F.measure(data_of(arrays, meta), ANALYSE)
    assert by_id(F.claims(m, ANALYSE))["adamw_sde_converged_dt"].verdict == "holds"
    strict = by_id(F.claims(m, {**ANALYSE, "convergence_fraction": 0.2}))
    assert strict["adamw_sde_converged_dt"].band == pytest.approx([-0.02, 0.02])
    assert strict["adamw_sde_converged_dt"].verdict == "fails"
    m2 = F.measure(data_of(arrays, meta), {**ANALYSE, "convergence_fraction": 0.2})
    assert by_id(F.claims(m2))["adamw_sde_converged_dt"].verdict == "fails"


def test_convergence_claim_states_clamp_substeps_and_diverged_paths():
    rng = np.random.default_rng(22)
    arrays, meta = with_pair(*artifact(rng, n=50), rng, paths=8, requested=16, substeps=4)
    arrays["conv_loss_adamw_fine"][2, 5:] = np.nan
    m = F.measure(data_of(arrays, meta), ANALYSE)
    assert m["substeps"] == 4 and m["convergence_runs_requested"] == 16
    c = by_id(F.claims(m, ANALYSE))
    assert "dt = eta/4 halves" in c["adamw_sde_converged_dt"].statement
    assert "convergence_runs = 16 clamped to the job's 8 seeds" in c["signsgd_sde_converged_dt"].note
    assert "1 non-finite paths dropped" in c["adamw_sde_converged_dt"].note
    assert c["adamw_sde_converged_dt"].runs == 7


def test_plot_shows_the_dt_move():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(23)
    arrays, meta = with_pair(*artifact(rng, n=10), rng, substeps=2)
    fig = F.plot(F.measure(data_of(arrays, meta), ANALYSE))
    labels = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    assert any("dt -> dt/2 (8 paths)" in t for t in labels)
    assert any("0.5 x tolerance" in t for t in labels)
    assert r"\eta/2" in fig._suptitle.get_text()
    plt.close(fig)
