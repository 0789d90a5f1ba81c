"""The heavy_tails analysis (adasde.figures.heavy_tails) on small synthetic artifacts: the band
rule (excludes the Gaussian alternative), the Clopper-Pearson interval, SGD's rigorous
exceedance lower bound (against Monte Carlo) and the Gaussian Chernoff bound, measure, every
claim kind holding and failing, "cannot discriminate" at large nu, and the figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from adasde import artifacts, claims, theory
from adasde.figures import heavy_tails as F

LAM = np.linspace(0.5, 2.0, 4)
ETA = 0.01
SIGMA = 1.0
SAVES = 21
SECTION = {"sigma": SIGMA, "x0": 1.0, "iterations": 4000, "save_every": 200,
           "optimizers": {"sgd": {"eta": ETA}, "signsgd": {"eta": ETA}}}
ANALYSE = dict(F.DEFAULTS)


def signsgd_pred(nu):
    """The discrete-form prediction (F.signsgd_forms caches theory's fixed point)."""
    return F.signsgd_forms(LAM, SIGMA, ETA, nu)["discrete"]


def sgd_pred(nu):
    return theory.sgd_student_t_asymptotic_loss(LAM, SIGMA, ETA, nu)


def flat_runs(rng, value, n, rel_sd=0.1):
    """n constant-in-time loss curves with mean ``value`` and per-run relative s.d. rel_sd."""
    per_run = value * (1.0 + rel_sd * rng.standard_normal((n, 1)))
    return np.repeat(per_run, SAVES, axis=1)


def make_data(rng, nus=(1.0, 2.0, 3.0), n=400, signsgd_value=None, sgd_value=None,
              exceed=None, conv_move=None, conv_runs=16):
    """A data dict as :func:`F.load` returns. ``signsgd_value(nu)`` / ``sgd_value(nu)`` give
    the plateau level (default: the predictions; SGD for nu <= 2 at the Gaussian plateau);
    ``exceed(nu)`` the fraction of SGD runs whose final loss is put at 10x the level (default:
    0.97 at nu = 1 (Cauchy), 0.2 for other nu <= 2, else 0). The SDE's coupled pair: the fine
    chain is ``conv_runs`` SDE-like runs, the coarse chain the same times
    ``1 + conv_move(nu)`` (default 0) with a 0.1% per-path jitter."""
    nus_all = np.append(np.asarray(nus, float), np.inf)
    level = ANALYSE["exceed_factor"] * theory.sgd_asymptotic_loss(LAM, SIGMA, ETA)
    signsgd_value = signsgd_value or signsgd_pred
    sgd_value = sgd_value or (lambda nu: sgd_pred(nu if nu > 2 else np.inf))
    exceed = exceed or (lambda nu: 0.97 if nu == 1 else 0.2 if nu <= 2 else 0.0)
    arrays = {}
    for stem in F.JOBS:
        loss = []
        for nu in nus_all:
            if stem == "sgd_optim":
                runs = flat_runs(rng, sgd_value(nu), n)
                k = int(round(exceed(nu) * n))
                runs[:k, -1] = 10 * level
            else:
                runs = flat_runs(rng, signsgd_value(nu), n)
            loss.append(runs)
        arrays[stem] = {"loss": np.stack(loss), "nus": nus_all, "lam": LAM,
                        "iterations": np.arange(SAVES) * 200}
    move = conv_move or (lambda nu: 0.0)
    fine = np.stack([flat_runs(rng, signsgd_value(nu), conv_runs) for nu in nus_all])
    jitter = 1 + 1e-3 * rng.standard_normal(fine.shape[:2] + (1,))
    coarse = fine * jitter * np.array([1 + move(nu) for nu in nus_all])[:, None, None]
    arrays["signsgd_sde"].update(conv_loss_coarse=coarse, conv_loss_fine=fine)
    return {"arrays": arrays, "metas": {s: {"config": SECTION} for s in F.JOBS},
            "section": SECTION}


def by_id(records):
    return {r.id: r for r in records}


# ---------------------------------------------------------------------------------- helpers
def test_band_tolerance_excludes_the_alternative_and_is_below_half_the_gap():
    s = dict(ANALYSE)
    for nu in (1.0, 2.0, 3.0, 5.0):
        pred, alt = signsgd_pred(nu), signsgd_pred(np.inf)
        tol = F.band_tolerance(pred, alt, s)
        gap = abs(alt - pred) / pred
        assert tol < gap / 2 and tol >= s["min_tolerance"]
    # clipped at the top and bottom; no alternative: the widest band
    assert F.band_tolerance(1.0, 3.0, s) == s["tolerance"]
    assert F.band_tolerance(1.0, 1.001, s) == s["min_tolerance"]
    assert F.band_tolerance(1.0, None, s) == s["tolerance"]


def test_clopper_pearson_known_values():
    n = 200
    assert F.clopper_pearson(0, n) == (0.0, pytest.approx(1 - 0.025 ** (1 / n)))
    assert F.clopper_pearson(n, n) == (pytest.approx(0.025 ** (1 / n)), 1.0)
    lo, hi = F.clopper_pearson(10, n)
    assert lo < 0.05 < hi
    assert scipy.stats.binom.sf(9, n, lo) == pytest.approx(0.025)
    assert scipy.stats.binom.cdf(10, n, hi) == pytest.approx(0.025)


def test_exceedance_counts_non_finite_as_exceeding():
    ex = F.exceedance([0.1, 5.0, np.inf, np.nan], 1.0)
    assert (ex["k"], ex["n"], ex["p"]) == (3, 4, 0.75)


def test_cauchy_bound_is_theorys_exact_marginal_bound():
    level = 30 * theory.sgd_asymptotic_loss(LAM, SIGMA, ETA)
    assert F.sgd_exceedance_lower_bound(LAM, SIGMA, ETA, 1.0, level) == pytest.approx(
        theory.sgd_cauchy_exceedance_lower_bound(LAM, SIGMA, ETA, level))


@pytest.mark.parametrize("nu", [1.0, 1.5, 2.0])
def test_exceedance_lower_bound_against_monte_carlo(nu):
    """1-D SGD at eta * lambda = 0.1 for 100 steps from x0 = 0, 40 000 runs: the Monte-Carlo
    exceedance is at least the bound (minus 3 binomial s.e.), and the bound is not trivial
    (at least a third of the Monte-Carlo value)."""
    lam, eta, steps, n = np.array([1.0]), 0.1, 100, 40_000
    rng = np.random.default_rng(7)
    r = 1 - eta * lam[0]
    t = rng.standard_t(nu, size=(n, steps))
    x = -eta * SIGMA * (t * r ** np.arange(steps)[::-1]).sum(axis=1)
    f = 0.5 * lam[0] * x**2
    level = 30 * theory.sgd_asymptotic_loss(lam, SIGMA, eta)
    p = np.mean(f > level)
    se = math.sqrt(p * (1 - p) / n)
    bound = F.sgd_exceedance_lower_bound(lam, SIGMA, eta, nu, level, steps=steps, x0=0.0)
    assert p >= bound - 3 * se, (p, bound, se)
    assert bound >= p / 3, (p, bound)


def test_gaussian_exceedance_upper_bound():
    lam = np.array([1.0])
    plateau = theory.sgd_student_t_asymptotic_loss(lam, SIGMA, ETA, np.inf)
    for factor in (3.0, 10.0):
        exact = scipy.stats.chi2.sf(factor, 1)  # f / E f ~ chi^2_1 in 1-D
        bound = F.gaussian_exceedance_upper_bound(lam, SIGMA, ETA, factor * plateau)
        assert exact <= bound < 1
    assert F.gaussian_exceedance_upper_bound(LAM, SIGMA, ETA, 30 * plateau * 4) < 1e-20


# ------------------------------------------------------------------------------ measure/load
def test_load_reads_exactly_the_inputs(tmp_path):
    data = make_data(np.random.default_rng(0), n=20)
    paths = {}
    for stem in F.JOBS:
        paths[stem] = tmp_path / f"{stem}.npz"
        artifacts.save(paths[stem], data["arrays"][stem], {"config": SECTION, "seed": 0, "name": stem})
    loaded = F.load({k: str(v) for k, v in paths.items()})
    assert loaded["section"] == SECTION
    np.testing.assert_allclose(loaded["arrays"]["sgd_optim"]["loss"],
                               data["arrays"]["sgd_optim"]["loss"])
    with pytest.raises(ValueError, match="missing"):
        F.load({"sgd_optim": str(paths["sgd_optim"])})
    old = {k: v for k, v in data["arrays"]["signsgd_sde"].items() if not k.startswith("conv_")}
    artifacts.save(paths["signsgd_sde"], old, {"config": SECTION, "seed": 0})
    with pytest.raises(artifacts.ArtifactError, match="conv_loss_coarse"):
        F.load({k: str(v) for k, v in paths.items()})


def test_measure_predictions_and_alternatives():
    m = F.measure(make_data(np.random.default_rng(1)), ANALYSE)
    nus = list(m["nus"])
    r = m["signsgd"]["signsgd_optim", nus.index(2.0)]
    assert r["predicted"] == pytest.approx(signsgd_pred(2.0))
    assert r["alternative_value"] == pytest.approx(signsgd_pred(np.inf))
    g = m["signsgd"]["signsgd_sde", nus.index(np.inf)]
    assert g["alternative_value"] == pytest.approx(signsgd_pred(3.0))  # the largest finite nu
    assert m["sgd"][nus.index(3.0)]["alternative_value"] == pytest.approx(sgd_pred(np.inf))
    assert 0 < m["sgd"][nus.index(2.0)]["bound"] < m["sgd"][nus.index(2.0)]["tail"]
    assert m["gaussian_exceedance"] < 1e-20


# ------------------------------------------------------------------------------------ claims
def test_every_claim_holds_and_discriminates_on_the_predictions():
    recs = F.claims(F.measure(make_data(np.random.default_rng(2)), ANALYSE), ANALYSE)
    ids = {r.id for r in recs}
    assert {"signsgd_optim_plateau_nu2", "signsgd_sde_plateau_nuinf", "sgd_optim_exceed_nu1",
            "sgd_optim_exceed_nu2", "sgd_optim_plateau_nu3", "sgd_optim_plateau_nuinf"} <= ids
    for r in recs:
        assert claims.outcome(r.to_dict()) == "holds", (r.id, r.interval, r.band)
        assert r.discriminates, r.id


def test_signsgd_plateau_fails_at_the_gaussian_value():
    """No nu-dependence (every plateau at the Gaussian value): every finite-nu plateau fails."""
    data = make_data(np.random.default_rng(3), signsgd_value=lambda nu: signsgd_pred(np.inf))
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    for nu in ("1", "2", "3"):
        for kind in ("optim", "sde"):
            assert recs[f"signsgd_{kind}_plateau_nu{nu}"].verdict == "fails"
    assert recs["signsgd_optim_plateau_nuinf"].verdict == "holds"


def test_signsgd_plateau_inconclusive_with_too_few_runs():
    """A plateau on its band's edge with a wide interval: inconclusive, with runs to settle."""
    tol = F.band_tolerance(signsgd_pred(2.0), signsgd_pred(np.inf), ANALYSE)
    data = make_data(np.random.default_rng(4), n=20,
                     signsgd_value=lambda nu: signsgd_pred(nu) * (1 + tol if nu == 2 else 1))
    r = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))["signsgd_optim_plateau_nu2"]
    assert r.verdict == "inconclusive" and r.runs_to_settle


def test_large_nu_cannot_discriminate():
    """At nu = 1000 p_nu(0) is within 0.03% of the Gaussian: the band (the 1% floor) holds the
    Gaussian value, so the claim holds without discriminating."""
    data = make_data(np.random.default_rng(5), nus=(3.0, 1000.0), n=4000)
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    r = recs["signsgd_optim_plateau_nu1000"]
    assert r.tolerance == ANALYSE["min_tolerance"]
    assert claims.outcome(r.to_dict()) == "cannot discriminate"
    assert recs["signsgd_optim_plateau_nu3"].discriminates


def test_sgd_exceedance_fails_without_heavy_tails():
    """No run above the level (what Gaussian noise gives): the exceedance claims fail once the
    runs are enough for the interval's upper end (1 - 0.025^(1/n)) to drop below the bound;
    with 100 runs the nu = 2 claim is inconclusive."""
    few = make_data(np.random.default_rng(6), n=100, exceed=lambda nu: 0.0)
    r = by_id(F.claims(F.measure(few, ANALYSE), ANALYSE))["sgd_optim_exceed_nu2"]
    assert r.verdict == "inconclusive" and r.runs_to_settle
    data = make_data(np.random.default_rng(6), n=2000, exceed=lambda nu: 0.0)
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    assert recs["sgd_optim_exceed_nu2"].verdict == "fails"
    assert recs["sgd_optim_exceed_nu1"].verdict == "fails"
    assert recs["sgd_optim_exceed_nu2"].interval[0] == 0.0


def test_sde_convergence_claim_holds_for_a_small_move_and_fails_for_a_large_one():
    """The SDE plateau's move when dt halves against convergence_fraction x its plateau band:
    a 0.1% move holds at every nu; a move of the band itself (the alternative: a
    discretisation error as large as the SDE-vs-prediction tolerance) fails, and one on the
    edge of the convergence band is not counted as holding."""
    recs = by_id(F.claims(F.measure(make_data(np.random.default_rng(10),
                                              conv_move=lambda nu: 0.001), ANALYSE), ANALYSE))
    for nu in ("1", "2", "3", "inf"):
        r = recs[f"signsgd_sde_converged_dt_plateau_nu{nu}"]
        band = recs[f"signsgd_sde_plateau_nu{nu}"].tolerance
        assert r.verdict == "holds" and r.discriminates, r
        assert r.tolerance == pytest.approx(ANALYSE["convergence_fraction"] * band)
        assert r.measured == pytest.approx(0.001, abs=5e-4) and r.runs == 16
        assert r.comparison == "absolute" and r.predicted == 0.0
        assert "when dt = eta halves" in r.statement
    tol = {nu: F.band_tolerance(signsgd_pred(nu), signsgd_pred(np.inf), ANALYSE)
           for nu in (1.0, 2.0, 3.0)}
    tol[np.inf] = F.band_tolerance(signsgd_pred(np.inf), signsgd_pred(3.0), ANALYSE)
    data = make_data(np.random.default_rng(11), conv_move=lambda nu: tol[nu])
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    for nu in ("1", "2", "3", "inf"):
        assert recs[f"signsgd_sde_converged_dt_plateau_nu{nu}"].verdict == "fails"
    data = make_data(np.random.default_rng(12), conv_move=lambda nu: -0.5 * tol[nu])
    r = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))["signsgd_sde_converged_dt_plateau_nu2"]
    assert r.verdict != "holds"


def test_sde_convergence_claim_names_the_substep():
    data = make_data(np.random.default_rng(13), nus=(2.0,), n=50)
    data["section"] = {**SECTION, "sde_substeps": 4}
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    assert "when dt = eta/4 halves" in recs["signsgd_sde_converged_dt_plateau_nu2"].statement


def test_sgd_plateau_fails_at_the_gaussian_value():
    data = make_data(np.random.default_rng(8), sgd_value=lambda nu: sgd_pred(np.inf))
    recs = by_id(F.claims(F.measure(data, ANALYSE), ANALYSE))
    assert recs["sgd_optim_plateau_nu3"].verdict == "fails"
    assert recs["sgd_optim_plateau_nuinf"].verdict == "holds"


def test_plot_draws_four_panels():
    import matplotlib

    matplotlib.use("Agg")
    m = F.measure(make_data(np.random.default_rng(9), n=50), ANALYSE)
    fig = F.plot(m)
    assert len(fig.axes) == 4
    import matplotlib.pyplot as plt

    plt.close(fig)
