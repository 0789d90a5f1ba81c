"""``adasde scale`` and its API (adasde.scaling.scale_hparams): every rule on hand-computed
cases, the domain checks, the JSON output, every bad-input message, and the pasted optax lines
against the optimizers the experiments run."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adasde import cli, optim, scale_tool, scaling
from tests.conftest import ROOT

ADAMW = {"eta": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "theta": 0.1}
EXAMPLE = ["--optimizer", "adamw", "--lr", "3e-4", "--betas", "0.9", "0.999", "--eps", "1e-8",
           "--weight-decay", "0.1", "--batch", "256", "--to-batch", "1024"]


def approx(d):
    return pytest.approx(d, rel=1e-12, abs=1e-15)


# ------------------------------------------------------------- rules, by hand


@pytest.mark.parametrize("optimizer,hp,batch,to_batch,rule,expected", [
    # adamw, delta = 4 (sqrt 2): the issue's example
    ("adamw", ADAMW, 256, 1024, "this_paper",
     {"eta": 6e-4, "beta1": 0.6, "beta2": 0.996, "eps": 5e-9, "theta": 0.2}),
    ("adamw", ADAMW, 256, 1024, "malladi",
     {"eta": 6e-4, "beta1": 0.6, "beta2": 0.996, "eps": 5e-9, "theta": 0.1}),
    ("adamw", ADAMW, 256, 1024, "alternative",
     {"eta": 6e-4, "beta1": 0.8, "beta2": 0.998, "eps": 5e-9, "theta": 0.2}),
    # rmspropw, delta = 1/4 (a smaller batch; sqrt 1/2)
    ("rmspropw", {"eta": 3e-4, "beta2": 0.99, "eps": 1e-8, "theta": 0.1}, 256, 64, "this_paper",
     {"eta": 1.5e-4, "beta2": 0.9975, "eps": 2e-8, "theta": 0.05}),
    ("rmspropw", {"eta": 3e-4, "beta2": 0.99, "eps": 1e-8, "theta": 0.1}, 256, 64, "malladi",
     {"eta": 1.5e-4, "beta2": 0.9975, "eps": 2e-8, "theta": 0.1}),
    ("rmspropw", {"eta": 3e-4, "beta2": 0.99, "eps": 1e-8, "theta": 0.1}, 256, 64, "alternative",
     {"eta": 1.5e-4, "beta2": 0.995, "eps": 2e-8, "theta": 0.05}),
    # adam, delta = 9 (sqrt 3)
    ("adam", {"eta": 1e-3, "beta1": 0.99, "beta2": 0.999, "eps": 3e-8}, 100, 900, "this_paper",
     {"eta": 3e-3, "beta1": 0.91, "beta2": 0.991, "eps": 1e-8}),
    ("adam", {"eta": 1e-3, "beta1": 0.99, "beta2": 0.999, "eps": 3e-8}, 100, 900, "malladi",
     {"eta": 3e-3, "beta1": 0.91, "beta2": 0.991, "eps": 1e-8}),
    ("adam", {"eta": 1e-3, "beta1": 0.99, "beta2": 0.999, "eps": 3e-8}, 100, 900, "alternative",
     {"eta": 3e-3, "beta1": 0.97, "beta2": 0.997, "eps": 1e-8}),
    # signsgd, delta = 9/4 (a non-integer ratio; sqrt 3/2)
    ("signsgd", {"eta": 1e-2}, 64, 144, "signsgd", {"eta": 1.5e-2}),
    # adamw, delta = 100/256 = 25/64 (sqrt 5/8)
    ("adamw", ADAMW, 256, 100, "this_paper",
     {"eta": 1.875e-4, "beta1": 1 - 0.1 * 25 / 64, "beta2": 1 - 0.001 * 25 / 64, "eps": 1.6e-8,
      "theta": 0.0625}),
])
def test_every_rule_on_hand_computed_cases(optimizer, hp, batch, to_batch, rule, expected):
    r = scaling.scale_hparams(optimizer, hp, batch, to_batch, rule)
    assert r.hp == approx(expected)
    assert set(r.hp) == set(scaling.OPTIMIZERS[optimizer])
    assert r.delta == to_batch / batch and (r.batch, r.to_batch) == (batch, to_batch)
    assert r.base == approx(hp) and r.defined


@pytest.mark.parametrize("optimizer", list(scaling.OPTIMIZERS))
@pytest.mark.parametrize("to_batch", [32, 100, 1024, 4096])
def test_values_are_exactly_those_the_figures_use(optimizer, to_batch):
    """scale_hparams goes through scaling.scale, as the experiments do: same floats."""
    hp = {k: ADAMW[k] for k in scaling.OPTIMIZERS[optimizer]}
    for r in scaling.scale_all(optimizer, hp, 256, to_batch):
        s = scaling.scale(r.rule, {**hp, "B": 256.0}, to_batch / 256)
        assert r.hp == {k: s.hp[k] for k in hp}
        assert r.defined == s.defined
    assert [r.rule for r in scaling.scale_all(optimizer, hp, 256, to_batch)] == \
        list(scaling.OPTIMIZER_RULES[optimizer])


def test_library_names_map_one_to_one():
    hp = scaling.hparams_from_library("adamw", 3e-4, (0.9, 0.999), 1e-8, 0.1)
    assert hp == ADAMW
    assert scaling.hparams_from_library("rmspropw", 1e-3, [0.99], None, 0.0) == \
        {"eta": 1e-3, "beta2": 0.99, "eps": 0.0, "theta": 0.0}
    assert scaling.hparams_from_library("signsgd", 1e-3) == {"eta": 1e-3}
    r = scaling.scale_hparams("adamw", hp, 256, 1024, "this_paper")
    lib = r.library()
    assert lib["betas"] == approx((0.6, 0.996))
    assert {k: lib[k] for k in ("lr", "eps", "weight_decay")} == approx(
        {"lr": 6e-4, "eps": 5e-9, "weight_decay": 0.2})
    assert r.library("base") == {"lr": 3e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                                 "weight_decay": 0.1}
    assert scaling.library_hparams("rmspropw", {"eta": 1.0, "beta2": 0.9, "eps": 0.0,
                                                "theta": 0.0})["betas"] == (0.9,)


# ------------------------------------------------------------- domain checks


def kinds(r):
    return [(i.key, i.kind) for i in r.issues]


def test_example_leaves_the_small_beta_regime_with_a_reason_and_a_hint():
    rs = {r.rule: r for r in scaling.scale_all("adamw", ADAMW, 256, 1024)}
    r = rs["this_paper"]
    assert r.defined and not r.in_domain and not r.base_issues
    assert kinds(r) == [("beta1", "not_small")]
    assert "1 - beta1' = 0.4 > 0.1" in r.issues[0].reason
    assert "2.5 steps" in r.issues[0].reason
    assert "a base beta1 >= 0.975 stays inside at this delta" in r.issues[0].reason
    assert kinds(rs["malladi"]) == [("beta1", "not_small"), ("theta", "derivation")]
    assert "1/sqrt(delta) = 0.5" in rs["malladi"].issues[1].reason
    assert kinds(rs["alternative"]) == [("beta1", "not_small")]
    assert "a base beta1 >= 0.95 stays" in rs["alternative"].issues[0].reason


def test_undefined_beta_is_reported_not_raised():
    r = scaling.scale_hparams("adamw", ADAMW, 16, 256, "this_paper")  # delta 16: beta1' = -0.6
    assert not r.defined and not r.in_domain
    assert kinds(r) == [("beta1", "undefined")]
    assert r.hp["beta1"] == pytest.approx(-0.6)
    assert "beta1' = -0.6 is outside (0, 1)" in r.issues[0].reason
    assert "a base beta1 >= 0.99375" in r.issues[0].reason
    # beta pushed exactly to 0 is undefined too (delta = 20 on 1 - beta2 = 0.05)
    r = scaling.scale_hparams("rmspropw", {"eta": 1e-3, "beta2": 0.95, "eps": 0.0, "theta": 0.0},
                              1, 20, "malladi")
    assert not r.defined and kinds(r) == [("beta2", "undefined")]


def test_the_threshold_is_inclusive_and_robust_to_rounding():
    # 1 - beta1' = 4*(1 - 0.975) = 0.1 (computed as 0.10000000000000009): inside
    r = scaling.scale_hparams("adamw", {**ADAMW, "beta1": 0.975}, 256, 1024, "this_paper")
    assert r.in_domain and r.issues == () and scaling.SMALL == 0.1
    r = scaling.scale_hparams("adamw", {**ADAMW, "beta1": 0.974}, 256, 1024, "this_paper")
    assert kinds(r) == [("beta1", "not_small")]


def test_per_step_decay_must_be_small():
    hp = {**ADAMW, "beta1": 0.99, "eta": 0.1, "theta": 0.4}  # base lr*wd = 0.04
    r = scaling.scale_hparams("adamw", hp, 1, 4, "this_paper")  # 0.2 * 0.8 = 0.16
    assert kinds(r) == [("eta*theta", "not_small")]
    assert "lr'*weight_decay' = 0.16 > 0.1" in r.issues[0].reason
    assert "flips" not in r.issues[0].reason
    r = scaling.scale_hparams("adamw", {**hp, "theta": 3.0}, 1, 4, "alternative")  # 0.2*6 = 1.2
    assert "(it flips or zeroes the weights)" in r.issues[-1].reason
    # Malladi keeps theta: lr*wd grows by sqrt(4) only, 0.08, inside the regime
    r = scaling.scale_hparams("adamw", hp, 1, 4, "malladi")
    assert kinds(r) == [("theta", "derivation")]


def test_base_outside_the_regime_is_reported_for_every_rule():
    for r in scaling.scale_all("adamw", {**ADAMW, "beta1": 0.5}, 256, 64):
        assert [(i.key, i.kind) for i in r.base_issues] == [("beta1", "not_small")]
        assert "1 - beta1 = 0.5 > 0.1" in r.base_issues[0].reason
        assert not r.in_domain


def test_smaller_batch_stays_inside_and_no_decay_means_malladi_is_this_paper():
    for r in scaling.scale_all("adamw", {**ADAMW, "theta": 0.0}, 1024, 256):
        assert r.in_domain and r.delta == 0.25
    hp = {**ADAMW, "beta1": 0.95, "theta": 0.0}
    rs = {r.rule: r for r in scaling.scale_all("adamw", hp, 256, 512)}
    assert rs["malladi"].hp == rs["this_paper"].hp and rs["malladi"].issues == ()
    assert any("coincide" in n for n in rs["malladi"].notes)
    r = scaling.scale_hparams("signsgd", {"eta": 0.1}, 8, 8000, "signsgd")
    assert r.in_domain and any("Phase 1" in n for n in r.notes)


# ------------------------------------------------------------- the command


def run(capsys, argv):
    assert cli.main(["scale", *argv]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    return out.out


def test_text_report_of_the_example(capsys):
    out = run(capsys, EXAMPLE)
    assert out.startswith("adamw: batch 256 -> 1024, delta = 4\n"
                          "base: lr=0.0003, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.1\n")
    for line in [
        "  lr                     0.0003 -> 0.0006",
        "  betas            (0.9, 0.999) -> (0.6, 0.996)  !",
        "  eps                     1e-08 -> 5e-09",
        "  weight_decay              0.1 -> 0.2",
        "  weight_decay              0.1 -> 0.1  !",
        "  lr*weight_decay         3e-05 -> 0.00012",
        "  optax: optax.adamw(learning_rate=0.0006, b1=0.6, b2=0.996, eps=5e-09, "
        "weight_decay=0.2)",
        "  torch: torch.optim.AdamW(model.parameters(), lr=0.0006, betas=(0.6, 0.996), "
        "eps=5e-09, weight_decay=0.2)",
        "  optax: optax.adamw(learning_rate=0.0006, b1=0.8, b2=0.998, eps=5e-09, "
        "weight_decay=0.2)",
    ]:
        assert line + "\n" in out, line
    assert out.count("domain: OUTSIDE") == 3
    assert "the decay is multiplied by the learning rate" in " ".join(out.split())


def test_readme_example_is_the_real_output(capsys):
    """README's '## adasde scale' example is what the command prints now."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## adasde scale\n", 1)[1].split("```console\n", 1)[1]
    block = block.split("\n```\n", 1)[0]
    command, expected = block.split("\n", 1)
    assert command.startswith("$ adasde scale ")
    assert run(capsys, command.split()[3:]) == expected + "\n"


def test_json_output_is_one_object_with_the_same_content(capsys):
    data = json.loads(run(capsys, [*EXAMPLE, "--json"]))
    assert data["optimizer"] == "adamw" and data["delta"] == 4.0
    assert (data["batch"], data["to_batch"], data["small_threshold"]) == (256, 1024, 0.1)
    assert data["base"] == {"lr": 3e-4, "betas": [0.9, 0.999], "eps": 1e-8,
                            "weight_decay": 0.1, "per_step_decay": pytest.approx(3e-5)}
    assert data["base_issues"] == []
    assert [r["rule"] for r in data["rules"]] == ["this_paper", "malladi", "alternative"]
    tp = data["rules"][0]
    assert tp["scaled"]["lr"] == pytest.approx(6e-4)
    assert tp["scaled"]["betas"] == pytest.approx([0.6, 0.996])
    assert tp["scaled"]["weight_decay"] == pytest.approx(0.2)
    assert tp["per_step_decay"] == pytest.approx(1.2e-4)
    assert tp["defined"] is True and tp["in_domain"] is False
    assert tp["issues"][0]["key"] == "beta1" and tp["issues"][0]["kind"] == "not_small"
    assert tp["optax"].startswith("optax.adamw(learning_rate=0.0006, b1=0.6")
    assert tp["torch"].startswith("torch.optim.AdamW(model.parameters(), lr=0.0006")
    assert tp["formula"].endswith("weight_decay*sqrt(d)")
    assert data["rules"][1]["scaled"]["weight_decay"] == 0.1
    assert [i["kind"] for i in data["rules"][1]["issues"]] == ["not_small", "derivation"]
    assert "multiplied by the learning rate" in data["conventions"]["optax"]
    assert "multiplied by the learning rate" in data["conventions"]["torch"]
    # the API's own dict is what the JSON carries
    r = scaling.scale_hparams("adamw", ADAMW, 256, 1024, "alternative")
    d = r.to_dict()
    assert json.loads(json.dumps(d))["scaled"] == data["rules"][2]["scaled"]


@pytest.mark.parametrize("argv,keys", [
    (["--optimizer", "rmspropw", "--lr", "1e-3", "--betas", "0.99", "--weight-decay", "0",
      "--batch", "64", "--to-batch", "32"], {"lr", "betas", "eps", "weight_decay"}),
    (["--optimizer", "adam", "--lr", "1e-3", "--betas", "0.9", "0.999", "--batch", "64",
      "--to-batch", "128"], {"lr", "betas", "eps"}),
    (["--optimizer", "signsgd", "--lr", "1e-3", "--batch", "64", "--to-batch", "128"], {"lr"}),
])
def test_other_optimizers_in_json(capsys, argv, keys):
    data = json.loads(run(capsys, [*argv, "--json"]))
    assert set(data["base"]) - {"per_step_decay"} == keys
    assert all(set(r["scaled"]) == keys for r in data["rules"])
    if "eps" in keys:
        assert data["base"]["eps"] == 1e-8  # the default of torch and optax alike


def test_rmspropw_and_signsgd_lines(capsys):
    out = run(capsys, ["--optimizer", "rmspropw", "--lr", "1e-3", "--betas", "0.99",
                       "--weight-decay", "0.01", "--batch", "64", "--to-batch", "256"])
    assert "  beta2             0.99 -> 0.96\n" in out
    assert "optax.chain(optax.scale_by_rms(decay=0.96, eps=5e-09, eps_in_sqrt=False), " \
           "optax.add_decayed_weights(0.02), optax.scale_by_learning_rate(0.002))" in out
    assert "torch.optim.RMSprop(model.parameters(), lr=0.002, alpha=0.96, eps=5e-09, " \
           "weight_decay=0)" in out
    assert "[p.mul_(1 - 4e-05) for p in model.parameters()]" in out
    assert "weight_decay is coupled L2" in " ".join(out.split())
    out = run(capsys, ["--optimizer", "signsgd", "--lr", "1e-3", "--batch", "64",
                       "--to-batch", "16"])
    assert "delta = 1/4 = 0.25" in out and "optax.sign_sgd(learning_rate=0.0005)" in out


# ------------------------------------------------------------- bad input

BASE_ARGS = {"--optimizer": ["adamw"], "--lr": ["3e-4"], "--betas": ["0.9", "0.999"],
             "--eps": ["1e-8"], "--weight-decay": ["0.1"], "--batch": ["256"],
             "--to-batch": ["1024"]}


def argv_with(**changes):
    args = dict(BASE_ARGS)
    for k, v in changes.items():
        flag = "--" + k.replace("_", "-")
        if v is None:
            args.pop(flag)
        else:
            args[flag] = v if isinstance(v, list) else [v]
    return [x for k, v in args.items() for x in (k, *v)]


BAD = [
    (argv_with(lr="-0.1"), "--lr: -0.1 must be positive"),
    (argv_with(lr="0"), "--lr: 0.0 must be positive"),
    (argv_with(lr="abc"), "--lr: 'abc' is not a number"),
    (argv_with(lr="inf"), "--lr: inf must be finite"),
    (argv_with(lr=None), "the following arguments are required: --lr"),
    (argv_with(betas=["0.9", "1.0"]), "--betas: beta2 = 1.0 must be in (0, 1)"),
    (argv_with(betas=["0", "0.999"]), "--betas: beta1 = 0.0 must be in (0, 1)"),
    (argv_with(betas=["-0.1", "0.999"]), "--betas: beta1 = -0.1 must be in (0, 1)"),
    (argv_with(betas=["1.5", "0.999"]), "--betas: beta1 = 1.5 must be in (0, 1)"),
    (argv_with(betas=["0.9"]), "--betas: adamw takes two betas (beta1 beta2), got 1"),
    (argv_with(betas=None), "--betas: adamw takes two betas (beta1 beta2), got 0"),
    (argv_with(betas=["x", "0.9"]), "--betas: 'x' is not a number"),
    (argv_with(eps="-1e-8"), "--eps: -1e-08 must be >= 0"),
    (argv_with(batch="-256.5"), "--batch: '-256.5' must be a positive integer"),
    (argv_with(lr="-abc"), "--lr: expected one argument"),
    (argv_with(weight_decay="-0.1"), "--weight-decay: -0.1 must be >= 0"),
    (argv_with(weight_decay=None), "--weight-decay: adamw needs its weight decay (0 for none)"),
    (argv_with(batch="256.5"), "--batch: '256.5' must be a positive integer"),
    (argv_with(batch="0"), "--batch: 0 must be a positive integer"),
    (argv_with(batch="-256"), "--batch: -256 must be a positive integer"),
    (argv_with(to_batch="1e3"), "--to-batch: '1e3' must be a positive integer"),
    (argv_with(to_batch="0"), "--to-batch: 0 must be a positive integer"),
    (argv_with(to_batch=None), "the following arguments are required: --to-batch"),
    (argv_with(optimizer="sgd"), "--optimizer: invalid choice: 'sgd'"),
    (argv_with(optimizer="adam"), "--weight-decay: adam has no decoupled weight decay; "
                                  "use adamw"),
    (argv_with(optimizer="rmspropw"), "--betas: rmspropw takes one beta (beta2), got 2"),
    (argv_with(optimizer="signsgd", betas=None, weight_decay=None),
     "--eps: signsgd has no eps"),
    (argv_with(optimizer="signsgd", eps=None, weight_decay=None),
     "--betas: signsgd takes no betas, got 2"),
    ([*argv_with(), "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_naming_the_argument(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        cli.main(["scale", *argv])
    assert e.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1, out.err
    assert out.err.startswith("adasde scale: " + message), out.err


def test_bad_input_end_to_end_exit_status():
    p = subprocess.run([sys.executable, "-m", "adasde.cli", "scale", *argv_with(lr="-0.1")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == "adasde scale: --lr: -0.1 must be positive\n"


@pytest.mark.parametrize("call,message", [
    (lambda: scaling.scale_hparams("adamw", {**ADAMW, "eta": -1.0}, 1, 2, "this_paper"),
     "eta: -1.0 must be positive"),
    (lambda: scaling.scale_hparams("adamw", ADAMW, 1.5, 2, "this_paper"),
     "batch: 1.5 must be a positive integer"),
    (lambda: scaling.scale_hparams("adamw", ADAMW, 1, True, "this_paper"),
     "to_batch: True must be a positive integer"),
    (lambda: scaling.scale_hparams("adamw", ADAMW, 1, 2, "signsgd"),
     "rule: rule 'signsgd' does not apply to adamw; allowed: this_paper, malladi, alternative"),
    (lambda: scaling.scale_hparams("adamw", {**ADAMW, "B": 4}, 1, 2, "this_paper"),
     "B: adamw does not use 'B'"),
    (lambda: scaling.scale_hparams("adam", ADAMW, 1, 2, "this_paper"),
     "theta: adam does not use 'theta'"),
    (lambda: scaling.scale_hparams("rmspropw", {"eta": 1.0}, 1, 2, "this_paper"),
     "beta2: missing"),
    (lambda: scaling.scale_hparams("lion", ADAMW, 1, 2, "this_paper"),
     "optimizer: unknown optimizer 'lion'"),
])
def test_api_errors_name_the_key(call, message):
    with pytest.raises(scaling.HparamError) as e:
        call()
    assert str(e.value).startswith(message)
    assert isinstance(e.value, ValueError)


def test_api_accepts_integral_floats_and_a_zero_theta_for_adam():
    r = scaling.scale_hparams("adam", {**ADAMW, "theta": 0.0}, 256.0, np.int64(512), "malladi")
    assert (r.batch, r.to_batch) == (256, 512) and "theta" not in r.hp


# ------------------------------------------------------------- pasted lines do what they say


def _steps(opt, hp_opt, params, grads):
    """Apply ``opt`` to ``grads`` (a list of per-step gradients) from ``params``."""
    state = opt.init(params)
    for g in grads:
        u, state = opt.update(g, state, params)
        params = optax.apply_updates(params, u)
    return params


@pytest.mark.parametrize("optimizer,argv", [
    ("adamw", EXAMPLE),
    ("adam", ["--optimizer", "adam", "--lr", "0.01", "--betas", "0.9", "0.99", "--eps", "1e-3",
              "--batch", "4", "--to-batch", "2"]),
    ("rmspropw", ["--optimizer", "rmspropw", "--lr", "0.01", "--betas", "0.95", "--eps", "1e-3",
                  "--weight-decay", "0.5", "--batch", "4", "--to-batch", "8"]),
    ("signsgd", ["--optimizer", "signsgd", "--lr", "0.01", "--batch", "4", "--to-batch", "8"]),
])
def test_pasted_optax_lines_match_the_experiments_optimizers(optimizer, argv):
    """eval(the optax line) and adasde.optim (eps outside the sqrt, decay -eta*theta*x) take the
    same steps, so the pasted lines are the optimizer the rules were derived and tested for."""
    results = scale_tool.compute(scale_tool.parser().parse_args(argv))
    key = jax.random.PRNGKey(0)
    params = {"w": jax.random.normal(key, (5,))}
    grads = [{"w": jax.random.normal(k, (5,))} for k in jax.random.split(key, 4)]
    for r in results:
        pasted = eval(scale_tool.optax_code(r), {"optax": optax})
        ours = optim.make(optimizer, r.hp)
        a, b = _steps(pasted, r.hp, params, grads), _steps(ours, r.hp, params, grads)
        np.testing.assert_allclose(a["w"], b["w"], rtol=1e-5, atol=1e-7)
        assert not jnp.allclose(a["w"], params["w"])
