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
    back = artifacts.read_arrays(tmp_path / "x.npz")
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
    assert m["seed"] == 3 and m["dtype"] == "float32"
    assert m["config_hash"] == artifacts.config_hash(
        {"section": {"eta": 0.1}, "seed": 3, "dtype": "float32"})
    assert {"sha", "dirty"} <= set(m["git"]) and m["packages"]["jax"]
    assert m["device"].startswith("cpu") or m["device"] == "unknown"


def test_missing_artifact_names_path(tmp_path):
    with pytest.raises(artifacts.ArtifactError, match="nothere.npz"):
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
    assert text.startswith("claims: 4, reproduced: 0,") and "unexpected: 2" in text
    assert "cannot discriminate: 2" in text  # holding claims that name no alternative
    assert "f/b" in text and "f/d" in text
    with pytest.raises(ValueError, match="comparison"):
        claims.Claim("f", "e", "s", 1.0, 1.0, 0.1, comparison="approx")


def test_truncated_npz_is_named_with_the_rebuild_command(tmp_path):
    path = tmp_path / "r.npz"
    artifacts.save(path, {"x": np.arange(1000.0)}, artifacts.provenance({}, 1, name="t"))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(artifacts.ArtifactError, match=r"r\.npz is damaged.*rm -f .*make figures"):
        artifacts.load(path)


@pytest.mark.parametrize("damage,needle", [
    (lambda m: m.unlink(), "has no provenance file"),
    (lambda m: m.write_text("{not json"), "is not valid JSON"),
    (lambda m: m.write_text("[1, 2]"), "lacks its config and seed"),
])
def test_damaged_or_deleted_meta_is_never_used_silently(tmp_path, damage, needle):
    path = tmp_path / "r.npz"
    artifacts.save(path, {"x": np.zeros(3)}, artifacts.provenance({}, 1, name="t"))
    damage(artifacts.meta_path(path))
    with pytest.raises(artifacts.ArtifactError, match=needle):
        artifacts.load(path)
