"""The benchmark machinery (bench/): record schema, verdicts, the RNG-only bound drawing exactly
our increments, and the grid's hyper-parameters. Nothing here times anything against a
threshold; timings are only checked to be numbers."""

import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ lives at the repository root, beside src/
    sys.path.insert(0, str(ROOT))

from bench import common, grid, sde  # noqa: E402
from bench.common import RECORD_KEYS, check_records, record, table  # noqa: E402


def test_record_ratio_and_verdict():
    fast = record("x", 1.0, "peer", 4.0, 100.0, "steps", "cpu", 3.0)
    slow = record("y", 2.0, "peer", 4.0, 100.0, "steps", "cpu", 3.0)
    info = record("z", 2.0, "peer", 1.0, 100.0, "steps", "cpu")
    assert fast["ratio"] == 4.0 and fast["meets"] is True  # ratio = peer_s / ours_s
    assert slow["ratio"] == 2.0 and slow["meets"] is False
    assert info["meets"] is None and info["target"].startswith("none")
    assert fast["throughput"] == 100.0
    for r in (fast, slow, info):
        assert set(RECORD_KEYS) <= set(r)
    check_records([fast, slow, info])
    text = table([fast, slow, info])
    assert "MET" in text and "MISSED" in text and "targets: 1 of 2 met" in text
    json.dumps([fast, slow, info])


@pytest.mark.parametrize("bad", [
    {"ours_s": -1.0},
    {"meets": "yes"},
    {"target": ""},
])
def test_check_records_rejects(bad):
    r = {**record("x", 1.0, "peer", 2.0, 10.0, "steps", "cpu", 1.0), **bad}
    with pytest.raises(ValueError):
        check_records([r])
    r = record("x", 1.0, "peer", 2.0, 10.0, "steps", "cpu", 1.0)
    del r["device"]
    with pytest.raises(ValueError, match="device"):
        check_records([r])


def test_rng_bound_draws_our_increments():
    """The RNG-only peer sums exactly the increments our integrator uses (same keys, blocks)."""
    d, paths, steps, se_ = 3, 4, 12, 4
    fn, (key,) = sde.rng_peer(d, paths, steps, se_, per_step=False)
    sums = np.asarray(fn(key))[0]  # (paths, d)
    from adasde import integrate

    keys = jax.random.split(key, paths)
    x0 = jnp.ones(d, jnp.float32)
    for p in range(paths):
        dw = integrate.brownian_increments(keys[p], x0, steps // se_, se_, 1.0)
        np.testing.assert_allclose(sums[p], np.asarray(dw).sum(0), rtol=1e-5, atol=1e-5)


def test_sde_case_records_tiny():
    spec = {"d": 2, "paths": 4, "steps": 6, "save_every": 3, "repeats": 1, "peers": ("rng",)}
    recs = sde.run_case("signsgd", "base", spec=spec)
    check_records(recs)
    (r,) = recs
    assert r["work"] == 4 * 2 * 6 and r["unit"] == "path-coordinate-steps"
    assert r["target"] == "ratio >= 0.7" and isinstance(r["meets"], bool)
    assert r["ours_compile_s"] > 0 and math.isfinite(r["ratio"])


def test_grid_points():
    hp, sigma = grid.grid()
    assert sigma.shape == (45,) and all(v.shape == (45,) for v in hp.values())
    assert np.all((hp["beta1"] > 0) & (hp["beta1"] < 1) & (hp["beta2"] > 0) & (hp["beta2"] < 1))
    # this paper's rule with B -> delta B: sigma = 1/sqrt(delta), eta and theta scale by sqrt(delta)
    delta = 1.0 / sigma**2
    np.testing.assert_allclose(hp["eta"], 1e-2 * np.sqrt(delta))
    np.testing.assert_allclose(hp["theta"], np.sqrt(delta))


def test_run_rejects_unknown_part():
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--only", "nope", "--out",
                           "/dev/null"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown --only parts" in proc.stderr


def test_device_script_parses():
    assert subprocess.run(["bash", "-n", str(ROOT / "bench" / "device.sh")]).returncode == 0


def test_common_has_no_jax_at_import():
    """bench.common is imported by the driver before any device is chosen."""
    src = (ROOT / "bench" / "common.py").read_text()
    assert "\nimport jax" not in src
    assert common.RECORD_KEYS[0] == "name"


def test_bits_bound_draws_our_two_point_words():
    """The bits-only peer XORs exactly the words of the two-point run: rebuild them from the
    integrator's unit increments (z = 1 - 2 bit, bit i of the block's word is step i)."""
    from adasde import integrate
    from bench import sde as bs

    d, paths, steps, se_ = 3, 4, 64, 32
    fn, (key,) = bs.bits_peer(d, paths, steps, se_)
    got = np.asarray(fn(key))  # (paths, 1, d)
    keys = jax.random.split(key, paths)
    x0 = jnp.ones(d, jnp.float32)
    for p in range(paths):
        z = np.asarray(integrate.unit_increments(keys[p], x0, steps // se_, se_, "two_point"))
        bits = ((1 - z) / 2).astype(np.uint64).reshape(steps // 32, 32, d)
        words = (bits << np.arange(32, dtype=np.uint64)[None, :, None]).sum(1)
        np.testing.assert_array_equal(got[p, 0], np.bitwise_xor.reduce(words, 0))


def test_accuracy_exact_laws_and_tiny_case():
    from scipy.linalg import solve_continuous_lyapunov

    from bench import accuracy

    lam = accuracy.lambdas(5)
    for case in accuracy.CASES:
        a, b, y0 = accuracy.matrices(case, lam)
        p = solve_continuous_lyapunov(a[2], -np.outer(b[2], b[2]))
        q = np.outer(b[2], b[2])[None]
        np.testing.assert_allclose(accuracy._lyap_continuous(a[2:3], q)[0], p, rtol=1e-10,
                                   atol=1e-14)
        # the scheme's law by iterating its recursion
        n, h = 400, accuracy.T / 400
        tot = 0.0
        for j in range(lam.size):
            r = np.eye(a.shape[-1]) + a[j] * h
            m, c = y0[j], np.zeros_like(a[j])
            for _ in range(n):
                m, c = r @ m, r @ c @ r.T + h * np.outer(b[j], b[j])
            tot += 0.5 * lam[j] * (m[0] ** 2 + c[0, 0])
        np.testing.assert_allclose(accuracy.scheme_loss(case, lam, "euler", n), tot, rtol=1e-10)
        n2 = accuracy.best_steps(case, lam, "weak2", multiple=8)
        assert accuracy.relative_error(case, lam, "weak2", n2) < accuracy.TOL
        assert accuracy.best_steps(case, lam, "euler") > n2
    recs = accuracy.run_case("ou", "quick")
    check_records(recs)
    assert recs[0]["target"] == "ratio >= 5" and [r["meets"] for r in recs[1:]] == [None, None]
    assert all(r["ours_steps"] <= r["peer_steps"] for r in recs)
