"""The sde_tracking experiment: the resolved per-architecture settings, the drift-only ODE,
the simulations on tiny networks (shapes, start point, determinism, vmap vs lax.map over
seeds), the job's artifact and the config checks."""

import jax
import numpy as np
import pytest

from adasde import artifacts, config
from adasde.experiments import tracking
from tests.conftest import ROOT

HP = {
    "signsgd": {"eta": 1e-3},
    "rmspropw": {"eta": 1e-3, "beta2": 0.99, "eps": 0.0, "theta": 0.1},
    "adamw": {"eta": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 0.0, "theta": 0.1},
}


def test_kinds_and_names():
    assert tracking.kinds_for("signsgd") == ("optim", "sde", "ode")
    assert tracking.kinds_for("adamw") == ("optim", "sde", "ode", "malladi")
    assert tracking.sde_name("adamw", "ode") == "adamw"
    assert tracking.sde_name("rmspropw", "malladi") == "malladi_rmsprop"
    assert tracking.sde_name("adam", "malladi") == "malladi_adam"
    assert tracking.sde_name("adamw", "sde") == "adamw"
    with pytest.raises(ValueError, match="no SDE for 'signsgd'"):
        tracking.sde_name("signsgd", "malladi")
    with pytest.raises(ValueError, match="not an SDE"):
        tracking.sde_name("adamw", "optim")
    assert tracking.figure_name("cnn_digits") == "sde_tracking_cnn_digits"


@pytest.mark.parametrize("opt", ["signsgd", "adamw"])
def test_ode_is_the_sde_without_diffusion(tiny_mlp, opt):
    """Kind "ode" is deterministic (the key does not matter), equals the explicit Euler scheme
    of the drift alone, and, as the 0-scaled path of our SDE's program, leaves the SDE's own
    paths unchanged."""
    from adasde import sdes

    keys = jax.random.split(jax.random.key(4), 2)
    kw = dict(n_saves=3, save_every=2)
    ode, _, _ = tracking.simulate(tiny_mlp, opt, "ode", HP[opt], 0.5, keys, **kw)
    np.testing.assert_array_equal(ode[0], ode[1])
    sde = sdes.make(opt, jax.grad(tiny_mlp.loss), HP[opt], 0.5)
    y = sde.init(tiny_mlp.params0)
    manual = [float(tiny_mlp.loss(y[0]))]
    for n in range(6):
        b = sde.drift(n * HP[opt]["eta"], y)
        y = tuple(yi + HP[opt]["eta"] * bi for yi, bi in zip(y, b, strict=True))
        if n % 2 == 1:
            manual.append(float(tiny_mlp.loss(y[0])))
    np.testing.assert_allclose(ode[0], manual, rtol=1e-5)
    paths, _, _ = tracking.simulate(tiny_mlp, opt, "sde", HP[opt], 0.5, keys, **kw)
    joint, _, _ = tracking.simulate(tiny_mlp, opt, "sde", HP[opt], 0.5,
                                    jax.numpy.concatenate([keys, keys[:1]]),
                                    noise_scale=np.r_[1.0, 1.0, 0.0], **kw)
    np.testing.assert_allclose(joint[:2], paths, rtol=1e-5)
    np.testing.assert_allclose(joint[2], ode[0], rtol=1e-5)
    assert np.abs(paths[:, -1] - ode[0, -1]).max() > 0  # the diffusion does something
    with pytest.raises(ValueError, match="one value per key"):
        tracking.simulate(tiny_mlp, opt, "sde", HP[opt], 0.5, keys, noise_scale=[0.0], **kw)


def test_arch_settings_merge_optimizers_and_seeds():
    section = {"seeds": 8, "optimizers": {"signsgd": HP["signsgd"], "rmspropw": HP["rmspropw"]},
               "archs": {"a": {"arch": "mlp", "dataset": "breast_cancer", "seeds": 16,
                               "optimizers": {"rmspropw": {**HP["rmspropw"], "beta2": 0.999}}},
                         "b": {"arch": "mlp", "dataset": "digits"}}}
    a = tracking.arch_settings(section, "a")
    assert a["seeds"] == 16 and a["optimizers"]["rmspropw"]["beta2"] == 0.999
    assert a["optimizers"]["signsgd"] == HP["signsgd"]
    b = tracking.arch_settings(section, "b")
    assert b["seeds"] == 8 and b["optimizers"]["rmspropw"]["beta2"] == 0.99
    assert "seeds" not in section["archs"]["b"]  # the config is not modified
    with pytest.raises(ValueError, match="'c' is not in config key sde_tracking.archs"):
        tracking.arch_settings(section, "c")


@pytest.fixture(scope="module")
def tiny_mlp():
    spec = {"arch": "mlp", "dataset": "breast_cancer", "data": {"n_train": 64},
            "net": {"widths": [4]}}
    return tracking.build_problem(spec, 0)


def test_build_problem_is_flat_and_deterministic(tiny_mlp):
    assert tiny_mlp.params0.ndim == 1 and tiny_mlp.params0.size == tiny_mlp.n_params
    assert tiny_mlp.n_train == 64 and tiny_mlp.n_params == 30 * 4 + 4 + 4 * 2 + 2
    again = tracking.build_problem({"arch": "mlp", "dataset": "breast_cancer",
                                    "data": {"n_train": 64}, "net": {"widths": [4]}}, 0)
    np.testing.assert_array_equal(again.params0, tiny_mlp.params0)


@pytest.mark.parametrize("opt,kind", [("signsgd", "sde"), ("rmspropw", "malladi"),
                                      ("adamw", "optim")])
def test_simulate_shapes_start_and_batching(tiny_mlp, opt, kind):
    keys = jax.random.split(jax.random.key(1), 3)
    loss, comp, run = tracking.simulate(tiny_mlp, opt, kind, HP[opt], 0.01, keys, n_saves=4,
                                        save_every=3)
    assert loss.shape == (3, 5) and np.isfinite(loss).all() and comp > 0 and run > 0
    np.testing.assert_allclose(loss[:, 0], float(tiny_mlp.loss(tiny_mlp.params0)), rtol=1e-6)
    assert loss[:, -1].mean() < loss[:, 0].mean()  # it trains
    assert len(set(loss[:, -1].tolist())) == 3  # independent noise per seed
    mapped, _, _ = tracking.simulate(tiny_mlp, opt, kind, HP[opt], 0.01, keys, n_saves=4,
                                     save_every=3, seed_batch=1)
    np.testing.assert_allclose(mapped, loss, rtol=1e-5)
    again, _, _ = tracking.simulate(tiny_mlp, opt, kind, HP[opt], 0.01, keys, n_saves=4,
                                    save_every=3)
    np.testing.assert_array_equal(again, loss)


@pytest.mark.parametrize("spec", [
    {"arch": "cnn", "dataset": "digits", "data": {"n_train": 32}, "net": {"channels": 2}},
    {"arch": "resnet", "dataset": "digits", "data": {"n_train": 32},
     "net": {"channels": 2, "n_blocks": 2}},
    {"arch": "transformer", "dataset": "sequence", "data": {"n_train": 32, "n_test": 8},
     "net": {"d_model": 8, "num_heads": 2, "n_blocks": 1, "d_hidden": 8}},
], ids=["cnn", "resnet", "transformer"])
def test_simulate_other_archs(spec):
    prob = tracking.build_problem(spec, 0)
    keys = jax.random.split(jax.random.key(2), 2)
    loss, _, _ = tracking.simulate(prob, "adamw", "malladi", HP["adamw"], 0.01, keys,
                                   n_saves=2, save_every=2, seed_batch=1)
    assert loss.shape == (2, 3) and np.isfinite(loss).all()
    np.testing.assert_allclose(loss[:, 0], float(prob.loss(prob.params0)), rtol=1e-6)


def test_simulate_job_writes_artifact(tmp_path):
    cfg = {"seed": 3, "dtype": "float32", "sde_tracking": {
        "seeds": 2, "optimizers": {"signsgd": HP["signsgd"], "adamw": HP["adamw"]},
        "archs": {"tiny": {"arch": "mlp", "dataset": "breast_cancer", "data": {"n_train": 32},
                           "net": {"widths": [3]}, "sigma": 0.01, "iterations": 4,
                           "save_every": 2, "seed_batch": 0}}}}
    out = tmp_path / "sde_tracking_tiny" / "tracking.npz"
    lines = []
    tracking.simulate_job(cfg, "tiny", out, log=lines.append)
    arrays, meta = artifacts.load(out)
    # the convergence pair: our SDEs only (not Malladi's), convergence_runs (default 16)
    # clamped to the job's 2 seeds, and the job says so
    assert set(arrays) == {"iterations", "loss_signsgd_optim", "loss_signsgd_sde",
                           "loss_signsgd_ode", "loss_adamw_optim", "loss_adamw_sde",
                           "loss_adamw_ode", "loss_adamw_malladi",
                           "conv_loss_signsgd_coarse", "conv_loss_signsgd_fine",
                           "conv_loss_adamw_coarse", "conv_loss_adamw_fine"}
    np.testing.assert_array_equal(arrays["iterations"], [0, 2, 4])
    assert arrays["loss_adamw_malladi"].shape == (2, 3)
    assert arrays["loss_adamw_sde"].shape == (2, 3) and arrays["loss_adamw_ode"].shape == (1, 3)
    assert arrays["conv_loss_adamw_coarse"].shape == arrays["conv_loss_adamw_fine"].shape == (2, 3)
    assert meta["config"]["seeds"] == 2 and meta["problem"] == "mlp-breast_cancer"
    assert meta["config"]["sde_substeps"] == 1 and meta["config"]["convergence_runs"] == 2
    assert meta["convergence_runs_requested"] == 16
    assert any("convergence_runs = 16 exceeds" in line and "clamped" in line for line in lines)
    assert meta["wall_time_s"] > 0 and meta["cpu_time_s"] > 0
    assert any("compile" in line and "adamw/malladi" in line for line in lines)
    assert set(meta["timings"]) == {"signsgd_optim", "signsgd_sde", "adamw_optim", "adamw_sde",
                                    "adamw_malladi", "signsgd_sde_pair", "adamw_sde_pair"}
    # the main run does not depend on the pair (same keys, same arrays as before it existed)
    prob = tracking.build_problem(tracking.arch_settings(cfg["sde_tracking"], "tiny"), 3)
    keys = jax.random.split(tracking.job_key(3, "sde_tracking", "tiny", "adamw", "malladi"), 2)
    alone, _, _ = tracking.simulate(prob, "adamw", "malladi", HP["adamw"], 0.01, keys,
                                    n_saves=2, save_every=2)
    np.testing.assert_array_equal(alone, arrays["loss_adamw_malladi"])
    # Wall times live in meta.json only, so the .npz is byte-identical across identical runs
    # (the simulations themselves are deterministic: test_simulate_shapes_start_and_batching).
    assert all(t["compile_s"] > 0 and t["run_s"] > 0 for t in meta["timings"].values())


def _smoke_config():
    import yaml

    return yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())


@pytest.mark.parametrize("edit,message", [
    (lambda a: a.update(iterations=21), "is not a multiple of save_every"),
    (lambda a: a.update(arch="cnn"), "does not fit arch 'cnn'"),
    (lambda a: a.update(net={"channels": 4}), "net.channels': not a parameter of arch 'mlp'"),
    (lambda a: a.update(data={"seq_len": 4}), "data.seq_len': not a parameter of dataset"),
    (lambda a: a.update(sigma=0.0), "sigma"),
    (lambda a: a.update(seed_batch=-1), "seed_batch"),
])
def test_config_errors_name_the_key(edit, message):
    cfg = _smoke_config()
    edit(cfg["sde_tracking"]["simulate"]["archs"]["mlp_breast_cancer"])
    with pytest.raises(config.ConfigError, match=message):
        config.validate(cfg, ROOT / "config" / "schema.yaml")


def test_transformer_heads_must_divide_width():
    cfg = _smoke_config()
    cfg["sde_tracking"]["simulate"]["archs"]["t"] = {"arch": "transformer", "dataset": "sequence",
                                         "net": {"d_model": 10, "num_heads": 4}, "sigma": 0.01,
                                         "iterations": 4, "save_every": 2}
    with pytest.raises(config.ConfigError, match="d_model': 10 is not divisible by num_heads"):
        config.validate(cfg, ROOT / "config" / "schema.yaml")


@pytest.mark.parametrize("name", ["config", "smoke", "paper"])
def test_shipped_configs_hold_the_section(name):
    cfg = config.load(ROOT / "config" / f"{name}.yaml", ROOT / "config" / "schema.yaml")
    sec = cfg["sde_tracking"]["simulate"]
    assert cfg["sde_tracking"]["analyse"]["spread_tolerance"] > 0  # schema default filled
    if name != "smoke":
        assert sec["seeds"] >= 8
        assert set(sec["archs"]) == {"mlp_digits", "cnn_digits", "resnet_digits",
                                     "transformer_sequence", "mlp_breast_cancer"}
        assert set(sec["optimizers"]) == {"signsgd", "rmspropw", "adamw"}
    for a in sec["archs"].values():
        if a["arch"] == "resnet":
            assert a.get("net", {}).get("n_blocks", 2) >= 2
        if a["arch"] == "transformer":
            assert a.get("net", {}).get("n_blocks", 2) >= 2
    assert all("seed_batch" in a for a in sec["archs"].values())  # schema default filled


@pytest.mark.parametrize("name", ["signsgd", "rmspropw", "adamw", "malladi_rmsprop"])
def test_scaled_sde_evaluates_the_gradient_once_per_step(tiny_mlp, name):
    """The ODE wrapper keeps the SDE's combined drift_diffusion: tracing one Euler-Maruyama
    step calls the gradient once, as for the SDE itself."""
    from adasde import integrate, sdes

    calls = []

    def grad(x):
        calls.append(1)
        return jax.grad(tiny_mlp.loss)(x)

    hp = HP.get(name, HP["rmspropw"])
    for scale in (None, 0.0):
        sde = sdes.make(name, grad, hp, 0.01)
        if scale is not None:
            sde = tracking.scale_diffusion(sde, scale)
        y = sde.init(tiny_mlp.params0)
        calls.clear()
        jax.make_jaxpr(lambda y, sde=sde: integrate.em_step(sde, 0.0, y, y[0], 1e-3))(y)
        assert len(calls) == 1


# ------------------------------------------------------------------ substeps and the dt pair
@pytest.mark.parametrize("opt", ["signsgd", "adamw"])
def test_pair_without_noise_is_the_ode_at_dt_and_half_dt(tiny_mlp, opt):
    """At vanishing noise (sigma = 1e-9: the diffusion is ~0, the drift is the SDE's) the
    pair's coarse chain is the explicit Euler ODE at dt = eta/k and its fine chain the ODE at
    eta/(2k), observed at the optimizer's saved iterations: the substeps and the observation
    grid are wired as stated."""
    keys = jax.random.split(jax.random.key(5), 2)
    kw = dict(n_saves=3, save_every=2)
    ode = {k: tracking.simulate(tiny_mlp, opt, "ode", HP[opt], 1e-9, keys[:1], substeps=k,
                                **kw)[0][0] for k in (1, 2, 4)}
    assert np.abs(ode[1] - ode[2]).max() > 0  # the step matters
    for k in (1, 2):
        coarse, fine, comp, run = tracking.simulate_pair(tiny_mlp, opt, HP[opt], 1e-9, keys,
                                                         substeps=k, **kw)
        assert coarse.shape == fine.shape == (2, 4) and comp > 0 and run > 0
        np.testing.assert_allclose(coarse, np.broadcast_to(ode[k], (2, 4)), rtol=2e-5)
        np.testing.assert_allclose(fine, np.broadcast_to(ode[2 * k], (2, 4)), rtol=2e-5)


def test_pair_is_coupled_deterministic_and_batched(tiny_mlp):
    """With noise the two chains of a pair differ by far less than two independent paths do
    (one Brownian path), each key gives its own path, lax.map equals vmap, reruns are
    identical."""
    keys = jax.random.split(jax.random.key(6), 4)
    kw = dict(n_saves=4, save_every=5)
    hp = HP["adamw"]
    coarse, fine, _, _ = tracking.simulate_pair(tiny_mlp, "adamw", hp, 0.5, keys, **kw)
    paths, _, _ = tracking.simulate(tiny_mlp, "adamw", "sde", hp, 0.5, keys, **kw)
    pair_gap = np.abs(coarse[:, -1] - fine[:, -1]).mean()
    path_gap = np.abs(paths[:, -1] - paths[:, -1].mean()).mean()
    assert 0 < pair_gap < 0.2 * path_gap
    assert len(set(fine[:, -1].tolist())) == 4
    mapped = tracking.simulate_pair(tiny_mlp, "adamw", hp, 0.5, keys, seed_batch=1, **kw)
    np.testing.assert_allclose(mapped[0], coarse, rtol=1e-5)
    np.testing.assert_allclose(mapped[1], fine, rtol=1e-5)
    again = tracking.simulate_pair(tiny_mlp, "adamw", hp, 0.5, keys, **kw)
    np.testing.assert_array_equal(again[0], coarse)
    with pytest.raises(ValueError, match="substeps must be a positive integer"):
        tracking.simulate_pair(tiny_mlp, "adamw", hp, 0.5, keys, substeps=0, **kw)
    with pytest.raises(ValueError, match="substeps must be a positive integer"):
        tracking.simulate(tiny_mlp, "adamw", "sde", hp, 0.5, keys, substeps=0, **kw)


def test_job_substeps_and_convergence_runs(tmp_path):
    """sde_substeps = 2 halves the SDEs' step (the optimizer is unchanged) and the pair runs at
    eta/2 and eta/4; convergence_runs below the seeds is used as given (no clamp)."""
    base = {"seeds": 3, "optimizers": {"rmspropw": HP["rmspropw"]},
            "archs": {"tiny": {"arch": "mlp", "dataset": "breast_cancer", "data": {"n_train": 32},
                               "net": {"widths": [3]}, "sigma": 0.01, "iterations": 4,
                               "save_every": 2, "seed_batch": 0}}}
    out = {}
    for k in (1, 2):
        cfg = {"seed": 1, "dtype": "float32",
               "sde_tracking": {**base, "sde_substeps": k, "convergence_runs": 2}}
        lines = []
        path = tmp_path / f"k{k}" / "tracking.npz"
        tracking.simulate_job(cfg, "tiny", path, log=lines.append)
        out[k] = artifacts.load(path)
        assert not any("clamped" in line for line in lines)
        assert any(f"dt pair (eta/{k}, eta/{2 * k}; 2 paths)" in line for line in lines)
    (a1, _), (a2, m2) = out[1], out[2]
    assert m2["config"]["sde_substeps"] == 2 and m2["config"]["convergence_runs"] == 2
    assert a2["conv_loss_rmspropw_fine"].shape == (2, 3)
    np.testing.assert_array_equal(a1["loss_rmspropw_optim"], a2["loss_rmspropw_optim"])
    for kind in ("sde", "ode", "malladi"):
        assert not np.array_equal(a1[f"loss_rmspropw_{kind}"], a2[f"loss_rmspropw_{kind}"])
        np.testing.assert_array_equal(a1[f"loss_rmspropw_{kind}"][:, 0],
                                      a2[f"loss_rmspropw_{kind}"][:, 0])
