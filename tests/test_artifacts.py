"""Artifacts are atomic and byte-deterministic; claims decide and serialise correctly."""

import json

import numpy as np
import pytest

from adasde import artifacts, claims


def test_npz_is_byte_deterministic(tmp_path):
    arrays = {"b": np.arange(5.0), "a": np.ones((2, 3), np.float32)}
    artifacts.write_npz(tmp_path / "x.npz", arrays)
    first = (tmp_path / "x.npz").read_bytes()
    artifacts.write_npz(tmp_path / "x.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "x.npz").read_bytes() == first
    back, _ = artifacts.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(back["a"], arrays["a"])


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "y.json"
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target, "w") as fh:
            fh.write("partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_save_writes_meta_with_provenance(tmp_path):
    meta = artifacts.provenance({"eta": 0.1}, 3, name="t", wall_time_s=1.5)
    artifacts.save(tmp_path / "r.npz", {"x": np.zeros(2)}, meta)
    m = json.loads((tmp_path / "r.meta.json").read_text())
    assert m["seed"] == 3 and m["config_hash"] == artifacts.config_hash({"eta": 0.1})
    assert {"sha", "dirty"} <= set(m["git"]) and m["packages"]["jax"]
    assert m["device"].startswith("cpu")


def test_missing_artifact_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        artifacts.load(tmp_path / "nothere.npz")


def test_claims_decide_and_gather(tmp_path):
    ok = claims.Claim("f", "a", "s", measured=1.05, predicted=1.0, tolerance=0.1)
    bad = claims.Claim("f", "b", "s", measured=1.2, predicted=1.0, tolerance=0.1)
    le = claims.Claim("f", "c", "s", measured=2.0, predicted=1.9, tolerance=0.2, comparison="le")
    nan = claims.Claim("f", "d", "s", measured=float("nan"), predicted=1.0, tolerance=0.1)
    assert ok.holds and not bad.holds and le.holds and not nan.holds and nan.measured is None
    claims.write_numbers(tmp_path / "f" / "numbers.json", [ok, bad])
    claims.write_numbers(tmp_path / "g" / "numbers.json", [le, nan])
    recs = claims.gather([tmp_path / "g" / "numbers.json", tmp_path / "f" / "numbers.json"],
                         tmp_path / "claims.json")
    assert [r["id"] for r in recs] == ["a", "b", "c", "d"]
    text = claims.summary(recs)
    assert "claims: 4, hold: 2, fail: 2" in text and "f/b" in text and "f/d" in text
    with pytest.raises(ValueError, match="comparison"):
        claims.Claim("f", "e", "s", 1.0, 1.0, 0.1, comparison="approx")
