"""adasde.figures.noise_resilience on small synthetic artifacts: every claim kind holds when the
data follow the predicted form and fails (or cannot discriminate) when they follow its
alternative."""

from __future__ import annotations

import numpy as np
import pytest

from adasde import artifacts
from adasde.figures import noise_resilience as F

LAM = np.linspace(0.5, 2.0, 4)
SIGMAS = np.array([0.1, 1.0, 10.0, 100.0])
HP = {"sgd": {"eta": 1e-3}, "signsgd": {"eta": 1e-3},
      "adam": {"eta": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 0.0},
      "adamw": {"eta": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 0.0, "theta": 1.0}}
SECTION = {"problem": {"d": 4, "lambda_min": 0.5, "lambda_max": 2.0, "spacing": "linear"},
           "x0": 1.0, "batch_size": 1, "sigmas": SIGMAS.tolist(), "iterations": 400,
           "save_every": 10, "runs": 64, "sde_substeps": 1, "optimizers": HP}


def level(opt, kind="optim"):
    """The predicted plateau per sigma of (opt, kind)."""
    f = F.sde_limit if kind == "sde" else F.paper_limit
    return np.array([f(opt, LAM, s, HP[opt], 1) for s in SIGMAS])


def arrays(plateau, runs=64, times=41, rel_noise=0.01, seed=0):
    """Loss curves (sigma, run, time) flat at ``plateau`` with a per-run relative spread."""
    rng = np.random.default_rng(seed)
    per_run = 1 + rel_noise * rng.standard_normal((len(SIGMAS), runs, 1))
    loss = np.asarray(plateau, float)[:, None, None] * per_run * np.ones((1, 1, times))
    return {"loss": loss, "lam": LAM, "sigmas": SIGMAS, "iterations": np.arange(times) * 10}


def data(overrides=None, **kw):
    """Every optimizer and kind at its predicted plateau, unless ``overrides`` says otherwise."""
    overrides = overrides or {}
    runs = {}
    for i, opt in enumerate(HP):
        for j, kind in enumerate(F.KINDS):
            runs[opt, kind] = arrays(overrides.get((opt, kind), level(opt, kind)),
                                     seed=10 * i + j, **kw)
    return {"runs": runs, "metas": {}, "section": SECTION}


def by_id(records):
    return {r.id: r for r in records}


def run(d, analyse=None):
    m = F.measure(d, analyse or {})
    return m, by_id(F.claims(m, analyse or {}))


def test_load_reads_exactly_the_inputs(tmp_path):
    d = data()
    inputs = {}
    for (opt, kind), a in list(d["runs"].items())[:3]:
        p = tmp_path / f"{opt}_{kind}.npz"
        artifacts.save(p, a, {"config": SECTION, "seed": 1})
        inputs[f"{opt}_{kind}"] = str(p)
    (tmp_path / "adam_optim.npz").write_bytes(b"not read")  # not in inputs: never globbed
    loaded = F.load(inputs)
    assert set(loaded["runs"]) == {("sgd", "optim"), ("sgd", "sde"), ("signsgd", "optim")}
    assert loaded["section"] == SECTION
    with pytest.raises(ValueError):
        F.load({})


def _narrowed(opt, kind, section=SECTION):
    """The provenance a workflow job records: its own optimizer's entry, and the SDE-only keys
    only for an SDE job (workflow/rules/common.smk, ``sde_params``)."""
    cfg = {**section, "optimizers": {opt: section["optimizers"][opt]}}
    if kind == "optim":
        cfg = {k: v for k, v in cfg.items() if k not in ("sde_substeps", "convergence_runs")}
    return cfg


def _save(tmp_path, d, sections):
    inputs = {}
    for (opt, kind), a in d["runs"].items():
        p = tmp_path / f"{opt}_{kind}.npz"
        artifacts.save(p, a, {"config": sections(opt, kind), "seed": 1})
        inputs[f"{opt}_{kind}"] = str(p)
    return inputs


def test_load_merges_each_jobs_own_optimizer_settings(tmp_path):
    """Each job records only its optimizer's settings (and an optimizer job no SDE-only key):
    the loaded section is the whole one, the SDE's ``sde_substeps`` included."""
    d = data()
    section = {**SECTION, "sde_substeps": 2}
    loaded = F.load(_save(tmp_path, d, lambda o, k: _narrowed(o, k, section)))
    assert loaded["section"] == section


@pytest.mark.parametrize("change", ["shared", "optimizer"])
def test_load_refuses_artifacts_made_with_different_settings(tmp_path, change):
    """Artifacts from two configs (a shared key, or one optimizer's optim and SDE jobs) are
    never mixed into one figure: the error names both files and the key."""
    d = data()

    def sections(opt, kind):
        cfg = _narrowed(opt, kind)
        if change == "shared" and (opt, kind) == ("adam", "optim"):
            cfg = {**cfg, "runs": 32}
        if change == "optimizer" and (opt, kind) == ("adam", "optim"):
            cfg = {**cfg, "optimizers": {"adam": {**HP["adam"], "eta": 2e-3}}}
        return cfg

    inputs = _save(tmp_path, d, sections)
    with pytest.raises(artifacts.ArtifactError) as err:
        F.load(inputs)
    msg = str(err.value)
    assert "adam_optim.npz" in msg and "make figures" in msg, msg
    assert ("key runs" if change == "shared" else "optimizers.adam") in msg, msg


def test_predicted_data_hold_and_discriminate():
    m, c = run(data())
    assert m["optimizers"] == ["sgd", "signsgd", "adam", "adamw"]
    for r in c.values():
        if r.id.startswith("adamw_optim_plateau_sigma"):
            # Lemma C.57 is 1% from its finite-momentum correction at eta = 1e-3: no decision
            assert r.role == "paper_form" and r.verdict == "holds" and not r.discriminates
        elif r.role == "paper_form":
            assert r.verdict == "fails" and r.discriminates, r.id
            assert c[r.pair].role == "correction" and c[r.pair].pair == r.id
        else:
            assert r.verdict == "holds", (r.id, r.interval, r.band)
    # SGD's plateau equals the sigma-linear alternative at sigma = 1 (B = 1): no discrimination
    assert not c["sgd_optim_plateau_sigma1"].discriminates
    assert c["sgd_optim_plateau_sigma10"].discriminates
    for opt in ("signsgd", "adam", "adamw_optim_plateau_momentum"):
        for s in SIGMAS:
            rid = f"{opt}_sigma{s:g}" if opt.startswith("adamw") else \
                f"{opt}_optim_plateau_sigma{s:g}"
            assert c[rid].discriminates
    for key in ("plateau_exponent",):
        for opt in HP:
            assert c[f"{opt}_optim_{key}"].discriminates
    assert c["adamw_optim_plateau_below_cap"].discriminates
    assert not any(k.startswith(("rmsprop",)) or "diverged" in k for k in c)
    # no 3-standard-error allowance: tolerances are the stated bands
    assert c["sgd_optim_plateau_sigma10"].tolerance == F.DEFAULTS["tolerance"]
    assert c["adamw_optim_plateau_below_cap"].tolerance == 0.0


def test_plateau_fails_at_the_alternative():
    sgd_like_adam = np.array([F.alternative_limit("sgd", LAM, s, HP["sgd"], 1)[1] for s in SIGMAS])
    sign_like_adam = level("adam")
    _, c = run(data({("sgd", "optim"): sgd_like_adam, ("signsgd", "optim"): sign_like_adam,
                     ("adam", "optim"): level("adam", "sde")}))
    assert c["sgd_optim_plateau_sigma10"].verdict == "fails"
    assert c["signsgd_optim_plateau_sigma1"].verdict == "fails"
    assert c["adam_optim_plateau_sigma1"].verdict == "fails"
    # exponent: SGD growing like sigma fails its exponent of 2
    r = c["sgd_optim_plateau_exponent"]
    assert r.verdict == "fails" and abs(r.measured - 1.0) < 0.05


def test_eq2_pair_flips_when_the_sde_sits_at_the_paper_limit():
    _, c = run(data({("adam", "sde"): level("adam"), ("adamw", "sde"): level("adamw")}))
    for opt in ("adam", "adamw"):
        assert c[f"{opt}_sde_plateau_sigma1"].verdict == "holds"
        assert c[f"{opt}_sde_plateau_eq2_sigma1"].verdict == "fails"


def test_adamw_pair_decides_at_large_eta():
    """At eta = 1e-2 (rho1 = 10) Lemma C.57 is 9% above the finite-momentum limit."""
    hp = {**HP["adamw"], "eta": 1e-2}
    section = {**SECTION, "optimizers": {**HP, "adamw": hp}}
    fm = np.array([F.theory.adamw_momentum_asymptotic_loss(LAM, s, 1e-2, 0.9, 1.0, 1)
                   for s in SIGMAS])
    d = data({("adamw", "optim"): fm})
    d["section"] = section
    _, c = run(d)
    for s in SIGMAS:
        assert c[f"adamw_optim_plateau_sigma{s:g}"].verdict == "fails"
        assert c[f"adamw_optim_plateau_sigma{s:g}"].discriminates
        assert c[f"adamw_optim_plateau_momentum_sigma{s:g}"].verdict == "holds"


def test_cap_and_saturation_fail_without_weight_decay():
    _, c = run(data({("adamw", "optim"): level("adam")}))
    assert c["adamw_optim_plateau_below_cap"].verdict == "fails"
    assert c["adamw_optim_plateau_exponent"].verdict == "fails"


def test_noisy_data_are_inconclusive_with_runs_to_settle():
    _, c = run(data(rel_noise=0.3))  # 95% interval +-7% against a 5% band
    r = c["adam_optim_plateau_sigma1"]
    assert r.verdict == "inconclusive" and r.runs_to_settle > 64


def test_diverged_runs_fail_their_claims():
    bad = data()
    loss = bad["runs"]["signsgd", "optim"]["loss"]
    loss[3, :2, -5:] = np.nan
    m, c = run(bad)
    r = c["signsgd_optim_diverged_sigma100"]
    assert r.verdict == "fails" and r.measured == pytest.approx(2 / 64)
    assert c["signsgd_optim_plateau_sigma100"].verdict == "fails"  # no finite measurement
    assert c["signsgd_optim_plateau_sigma100"].measured is None
    fig = F.plot(m)  # every optimizer drawn; diverged runs annotated, not drawn
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    assert any("diverged" in t.get_text() for t in fig.axes[1].texts)


def _with_pair(d, opt, move, runs=16, seed=3):
    """Add the coupled (dt, dt/2) pair to (opt, "sde"): the fine chain at the SDE's level and
    the coarse chain ``move`` (relative) above it, with a small path-wise difference."""
    rng = np.random.default_rng(seed)
    fine = arrays(level(opt, "sde"), runs=runs, seed=seed)["loss"]
    coarse = fine * (1 + move + 0.002 * rng.standard_normal(fine.shape[:2] + (1,)))
    d["runs"][opt, "sde"] = {**d["runs"][opt, "sde"], "conv_loss_coarse": coarse,
                             "conv_loss_fine": fine}
    return d


def test_convergence_in_dt_holds_when_the_pair_agrees_and_fails_when_it_moves():
    tol, frac = F.DEFAULTS["tolerance"], F.DEFAULTS["convergence_fraction"]
    d = _with_pair(_with_pair(data(), "sgd", 0.0), "adamw", 2 * frac * tol, seed=4)
    _, c = run(d)
    for s in SIGMAS:
        ok, moved = c[f"sgd_sde_converged_dt_sigma{s:g}"], c[f"adamw_sde_converged_dt_sigma{s:g}"]
        assert ok.verdict == "holds" and ok.discriminates, (ok.interval, ok.band)
        assert ok.band == pytest.approx([-frac * tol, frac * tol])
        assert ok.alternative_value == tol and ok.runs == 16
        # a move of twice the allowed fraction (equal to the tolerance) fails
        assert moved.verdict == "fails", (moved.measured, moved.band)
        assert moved.measured == pytest.approx(2 * frac * tol, abs=2e-3)
    # no pair in the artifact (signsgd, adam): no convergence claim, never a silent pass
    assert not any(k.startswith(("signsgd_sde_converged", "adam_sde_converged")) for k in c)
    # the fraction is an analysis setting
    _, c2 = run(d, {"convergence_fraction": 1.0})
    assert c2["adamw_sde_converged_dt_sigma1"].band == pytest.approx([-tol, tol])
