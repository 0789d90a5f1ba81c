"""Configuration validation: every bad key is named, defaults are filled."""

import copy

import pytest
import yaml

from adasde import config as C

SCHEMA = "config/schema.yaml"


@pytest.fixture
def cfg(root, monkeypatch):
    monkeypatch.chdir(root)
    return yaml.safe_load(open("config/config.yaml"))


@pytest.mark.parametrize("name", ["config/config.yaml", "config/smoke.yaml", "config/paper.yaml"])
def test_shipped_configs_are_valid(root, monkeypatch, name):
    monkeypatch.chdir(root)
    C.load(name, SCHEMA)


def test_defaults_filled(cfg):
    del cfg["noise_resilience"]["simulate"]["x0"]
    del cfg["noise_resilience"]["analyse"]
    C.validate(cfg, SCHEMA)
    assert cfg["noise_resilience"]["simulate"]["x0"] == 1.0
    assert cfg["noise_resilience"]["simulate"]["optimizers"]["adam"]["eps"] == 0.0
    assert cfg["noise_resilience"]["analyse"]["tolerance"] == 0.05


NR = ("noise_resilience", "simulate")


@pytest.mark.parametrize("path,value,needle", [
    ((*NR, "optimizers", "sgd", "eta"), -1, "noise_resilience.simulate.optimizers.sgd.eta"),
    ((*NR, "optimizers", "adam", "beta1"), 1.0, "adam.beta1"),
    ((*NR, "optimizers", "adam", "beta2"), 0.0, "adam.beta2"),
    ((*NR, "problem", "d"), 0, "noise_resilience.simulate.problem.d"),
    ((*NR, "runs"), "many", "noise_resilience.simulate.runs"),
    ((*NR, "problem", "spacing"), "cubic", "spacing"),
    # non-finite numbers anywhere
    ((*NR, "optimizers", "sgd", "eta"), float("nan"), "noise_resilience.simulate.optimizers.sgd.eta"),
    ((*NR, "x0"), float("inf"), "noise_resilience.simulate.x0': inf is not a finite"),
    ((*NR, "sigmas"), [1.0, float("-inf")], "noise_resilience.simulate.sigmas.1"),
    (("noise_resilience", "analyse", "tolerance"), float("nan"), "analyse.tolerance"),
    # floats for integer keys, seeds outside [0, 2^32 - 1]
    ((*NR, "runs"), 8.0, "noise_resilience.simulate.runs': 8.0 is not of type 'integer'"),
    (("seed",), 7.0, "'seed': 7.0 is not of type 'integer'"),
    (("seed",), -1, "'seed': -1 is out of range"),
    (("seed",), 2**32, "'seed': 4294967296 is out of range"),
    (("seed",), True, "'seed': True is not of type 'integer'"),
    # absurd sizes
    ((*NR, "runs"), 10**12, "noise_resilience.simulate.runs': 1000000000000 is out of range"),
    ((*NR, "iterations"), 2 * 10**9, "noise_resilience.simulate.iterations"),
    ((*NR, "problem", "d"), 10**9, "noise_resilience.simulate.problem.d"),
    (("sde_tracking", "simulate", "seeds"), 10**9, "sde_tracking.simulate.seeds"),
    (("sde_tracking", "analyse", "bootstrap"), 10**12, "sde_tracking.analyse.bootstrap"),
    # a name pattern must not accept a trailing newline
    (("sde_tracking", "simulate", "archs", "mlp\n"), {"arch": "mlp", "dataset": "digits",
                                                      "sigma": 0.01, "iterations": 10,
                                                      "save_every": 5}, "archs"),
])
def test_bad_values_name_the_key(cfg, path, value, needle):
    bad = copy.deepcopy(cfg)
    node = bad
    for p in path[:-1]:
        node = node.setdefault(p, {})
    node[path[-1]] = value
    with pytest.raises(C.ConfigError, match=needle.replace(".", r"\.")):
        C.validate(bad, SCHEMA)


def test_unknown_keys_and_optimizers_rejected(cfg):
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["simulate"]["optimizers"]["adamx"] = {"eta": 0.1}
    bad["colour"] = "red"
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "'adamx' was unexpected" in str(e.value) and "'colour' was unexpected" in str(e.value)
    assert "allowed keys" in str(e.value)


def test_cross_key_checks(cfg):
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["simulate"]["problem"]["lambda_min"] = 5.0
    bad["noise_resilience"]["simulate"]["iterations"] = 1001
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "lambda_min" in str(e.value) and "save_every" in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load(tmp_path / "none.yaml", SCHEMA)
    (tmp_path / "bad.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(C.ConfigError, match="bad.yaml"):
        C.load(tmp_path / "bad.yaml", SCHEMA)


def test_trailing_newline_name_is_refused(cfg):
    bad = copy.deepcopy(cfg)
    archs = bad["sde_tracking"]["simulate"]["archs"]
    archs["mlp\n"] = archs.pop("mlp_digits")
    with pytest.raises(C.ConfigError, match="does not match"):
        C.validate(bad, SCHEMA)


def test_a_job_that_would_not_fit_in_memory_is_refused(cfg, monkeypatch):
    """Each size key is within its maximum, but together the arrays exceed the machine: the
    message names the job, the keys that drive it and by how much."""
    monkeypatch.setenv("ADASDE_MEMORY_LIMIT_GB", "1")
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["simulate"]["runs"] = 100000
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    msg = str(e.value)
    assert "noise_resilience.simulate" in msg and "GiB" in msg and "runs=100000" in msg
    assert "reduce them by a factor of" in msg


def test_the_default_configs_fit_in_this_machine(root, monkeypatch):
    monkeypatch.chdir(root)
    for name in ("config/config.yaml", "config/smoke.yaml"):
        C.load(name, SCHEMA)


def test_a_single_error_is_one_line(cfg):
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["simulate"]["runs"] = 8.0
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text,needle", [
    ("seed: 7\nseed: 8\n", "duplicate key 'seed' (first on line 1)"),
    ("seed: 7\nnoise_resilience:\n  simulate: {runs: 2}\nnoise_resilience: {}\n",
     "duplicate key 'noise_resilience'"),
    ("seed: 7\nx: {a: 1, a: 2}\n", "duplicate key 'a'"),
    ("seed: !!python/object/apply:os.system ['true']\n", "tags are not allowed"),
    ("seed: !custom 7\n", "tags are not allowed"),
    ("__use_yte__: true\nseed: ?1+1\n", "__use_yte__"),
    ("seed: 7\n\tdtype: float32\n", "line 2"),
    ("seed: [1, 2\n", "bad.yaml"),
])
def test_unsafe_or_ambiguous_yaml_is_one_clear_line(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(C.ConfigError) as e:
        C.load(path, SCHEMA)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and str(path) in msg


def test_json_nan_is_refused(tmp_path, root, monkeypatch):
    """A JSON config (Snakemake accepts them) with NaN: refused, naming the key."""
    import json

    monkeypatch.chdir(root)
    cfg = yaml.safe_load(open("config/smoke.yaml"))
    cfg["bounds"]["simulate"]["x0"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(cfg))
    assert "NaN" in path.read_text()
    loaded = json.loads(path.read_text())
    with pytest.raises(C.ConfigError, match="bounds.simulate.x0"):
        C.validate(loaded, SCHEMA)
    with pytest.raises(C.ConfigError, match="bounds.simulate.x0"):
        C.load(path, SCHEMA)


def test_cli_validate_prints_one_line_and_exits_2(tmp_path, root):
    import subprocess
    import sys

    path = tmp_path / "missing.yaml"
    proc = subprocess.run([sys.executable, "-m", "adasde.cli", "validate", str(path),
                           "--schema", str(root / SCHEMA)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
