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
    del cfg["noise_resilience"]["x0"]
    C.validate(cfg, SCHEMA)
    assert cfg["noise_resilience"]["x0"] == 1.0
    assert cfg["noise_resilience"]["optimizers"]["adam"]["eps"] == 0.0


@pytest.mark.parametrize("path,value,needle", [
    (("noise_resilience", "optimizers", "sgd", "eta"), -1, "noise_resilience.optimizers.sgd.eta"),
    (("noise_resilience", "optimizers", "adam", "beta1"), 1.0, "adam.beta1"),
    (("noise_resilience", "optimizers", "adam", "beta2"), 0.0, "adam.beta2"),
    (("noise_resilience", "problem", "d"), 0, "noise_resilience.problem.d"),
    (("noise_resilience", "runs"), "many", "noise_resilience.runs"),
    (("noise_resilience", "problem", "spacing"), "cubic", "spacing"),
])
def test_bad_values_name_the_key(cfg, path, value, needle):
    bad = copy.deepcopy(cfg)
    node = bad
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    with pytest.raises(C.ConfigError, match=needle.replace(".", r"\.")):
        C.validate(bad, SCHEMA)


def test_unknown_keys_and_optimizers_rejected(cfg):
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["optimizers"]["adamx"] = {"eta": 0.1}
    bad["colour"] = "red"
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "'adamx' was unexpected" in str(e.value) and "'colour' was unexpected" in str(e.value)
    assert "allowed keys" in str(e.value)


def test_cross_key_checks(cfg):
    bad = copy.deepcopy(cfg)
    bad["noise_resilience"]["problem"]["lambda_min"] = 5.0
    bad["noise_resilience"]["iterations"] = 1001
    with pytest.raises(C.ConfigError) as e:
        C.validate(bad, SCHEMA)
    assert "lambda_min" in str(e.value) and "save_every" in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load(tmp_path / "none.yaml", SCHEMA)
    (tmp_path / "bad.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(C.ConfigError, match="bad.yaml"):
        C.load(tmp_path / "bad.yaml", SCHEMA)
