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
    assert set(arrays) == {"iterations", "loss_signsgd_optim", "loss_signsgd_sde",
                           "loss_signsgd_ode", "loss_adamw_optim", "loss_adamw_sde",
                           "loss_adamw_ode", "loss_adamw_malladi"}
    np.testing.assert_array_equal(arrays["iterations"], [0, 2, 4])
    assert arrays["loss_adamw_malladi"].shape == (2, 3)
    assert arrays["loss_adamw_sde"].shape == (2, 3) and arrays["loss_adamw_ode"].shape == (1, 3)
    assert meta["config"]["seeds"] == 2 and meta["problem"] == "mlp-breast_cancer"
    assert meta["wall_time_s"] > 0 and meta["cpu_time_s"] > 0
    assert any("compile" in line and "adamw/malladi" in line for line in lines)
    assert set(meta["timings"]) == {"signsgd_optim", "signsgd_sde", "adamw_optim", "adamw_sde",
                                    "adamw_malladi"}
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
