"""Tests for adasde.nets: the NetProblem interface for every (arch, dataset) pair."""

from __future__ import annotations

import math
import socket

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adasde import data, nets

CASES = [
    ("mlp", "digits"),
    ("mlp", "breast_cancer"),
    ("cnn", "digits"),
    ("resnet", "digits"),
    ("transformer", "sequence"),
]
IDS = [f"{a}-{d}" for a, d in CASES]
# Full-batch gradient-descent step sizes that decrease the loss in a few steps.
GD_LR = {"mlp": 0.5, "cnn": 0.5, "resnet": 0.2, "transformer": 0.1}


@pytest.fixture(scope="module")
def datasets():
    return {name: data.load(name, 0) for name in data.DATASETS}


@pytest.fixture(scope="module")
def problems(datasets):
    return {
        (arch, ds): nets.build_problem(arch, datasets[ds], jax.random.key(0)) for arch, ds in CASES
    }


def _three_copies(params):
    """Stack three distinct rescalings of ``params`` along a new leading axis."""
    return jax.tree_util.tree_map(lambda x: jnp.stack([0.7 * x, x, 1.3 * x]), params)


class Compiled:
    """Jitted functions of one problem, shared between tests to keep compile time down."""

    def __init__(self, prob: nets.NetProblem):
        def metrics(params, idx):
            return (
                prob.loss(params),
                prob.test_loss(params),
                prob.accuracy(params),
                prob.minibatch_loss(params, idx),
            )

        self.value_and_grad = jax.jit(jax.value_and_grad(prob.loss))
        self.metrics = jax.jit(metrics)
        self.batched_metrics = jax.jit(jax.vmap(metrics, in_axes=(0, None)))
        self.three_copies = jax.jit(_three_copies)


@pytest.fixture(scope="module")
def compiled(problems):
    return {case: Compiled(prob) for case, prob in problems.items()}


def _permutation(n: int) -> jax.Array:
    return jnp.asarray(np.random.default_rng(0).permutation(n), dtype=jnp.int32)


def test_model_classes_are_equinox_modules():
    key = jax.random.key(0)
    mlp = nets.MLP(64, 10, widths=(32, 16), activation="relu", key=key)
    cnn = nets.CNN(10, key=key)
    resnet = nets.ResNet(10, key=key)
    tf = nets.Transformer(vocab_size=8, seq_len=9, n_classes=2, key=key)
    for model in (mlp, cnn, resnet, tf):
        assert isinstance(model, eqx.Module)
    image = jax.ShapeDtypeStruct((1, 8, 8), jnp.float32)
    assert [layer.weight.shape for layer in mlp.layers] == [(32, 64), (16, 32), (10, 16)]
    assert jax.eval_shape(mlp, jax.ShapeDtypeStruct((64,), jnp.float32)).shape == (10,)
    assert jax.eval_shape(cnn, image).shape == (10,)
    assert jax.eval_shape(resnet, image).shape == (10,)
    assert jax.eval_shape(tf, jax.ShapeDtypeStruct((9,), jnp.int32)).shape == (2,)
    assert len(resnet.blocks) >= 2 and len(tf.blocks) >= 2
    assert isinstance(tf.blocks[0].attn, eqx.nn.MultiheadAttention)
    with pytest.raises(ValueError, match="sigmoid"):
        nets.MLP(4, 2, activation="sigmoid", key=key)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_problem_fields_and_init_loss(case, problems, compiled, datasets):
    arch, ds_name = case
    prob, ds = problems[case], datasets[ds_name]
    assert prob.name == f"{arch}-{ds_name}"
    assert prob.n_train == ds.n_train
    leaves = jax.tree_util.tree_leaves(prob.params0)
    assert leaves and all(x.dtype == jnp.float32 for x in leaves)
    assert prob.n_params == sum(x.size for x in leaves) == nets.count_params(prob.params0)
    perm = _permutation(prob.n_train)
    loss, test_loss, acc, mb = (float(x) for x in compiled[case].metrics(prob.params0, perm))
    assert math.isfinite(loss) and math.isfinite(test_loss)
    assert abs(loss - math.log(ds.n_classes)) < 0.25
    assert 0.0 <= acc <= 1.0
    # minibatch_loss over all rows (in any order) is the full-batch loss.
    assert mb == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_vmap_and_descent(case, problems, compiled):
    prob, fns = problems[case], compiled[case]

    # Gradient pytree has the structure, shapes and dtypes of params0.
    loss0, grad = fns.value_and_grad(prob.params0)
    assert jax.tree_util.tree_structure(grad) == jax.tree_util.tree_structure(prob.params0)
    grad_leaves = jax.tree_util.tree_leaves(grad)
    param_leaves = jax.tree_util.tree_leaves(prob.params0)
    for g, p in zip(grad_leaves, param_leaves, strict=True):
        assert g.shape == p.shape and g.dtype == p.dtype
        assert bool(jnp.all(jnp.isfinite(g)))

    # vmap over 3 different parameter pytrees equals 3 separate calls.
    perm = _permutation(prob.n_train)
    stacked = fns.three_copies(prob.params0)
    batched = fns.batched_metrics(stacked, perm)
    assert all(x.shape == (3,) for x in batched)
    for i in range(3):
        params_i = jax.tree_util.tree_map(lambda x, i=i: x[i], stacked)
        single = fns.metrics(params_i, perm)
        for b, s in zip(batched, single, strict=True):
            np.testing.assert_allclose(b[i], s, rtol=1e-4, atol=1e-5)
    assert len({float(x) for x in batched[0]}) == 3

    # A few full-batch gradient-descent steps reduce the training loss.
    lr = GD_LR[case[0]]
    params = prob.params0
    for _ in range(5):
        loss, grad = fns.value_and_grad(params)
        params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grad)
    assert float(fns.value_and_grad(params)[0]) < float(loss0) - 1e-3


def test_minibatch_subsets(problems):
    prob = problems[("mlp", "breast_cancer")]
    mb = jax.jit(prob.minibatch_loss)
    one, dup = mb(prob.params0, jnp.array([3, 3, 3, 3])), mb(prob.params0, jnp.array([3, 3]))
    np.testing.assert_allclose(one, dup, rtol=1e-6)
    pair = mb(prob.params0, jnp.array([3, 10, 3, 10]))
    expected = 0.5 * (mb(prob.params0, jnp.array([3, 3])) + mb(prob.params0, jnp.array([10, 10])))
    np.testing.assert_allclose(pair, expected, rtol=1e-5)


def test_determinism_of_init(datasets):
    ds = datasets["digits"]
    a = nets.build_problem("mlp", ds, jax.random.key(3))
    b = nets.build_problem("mlp", ds, jax.random.key(3))
    c = nets.build_problem("mlp", ds, jax.random.key(4))
    la, lb, lc = (jax.tree_util.tree_leaves(p.params0) for p in (a, b, c))
    assert all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(la, lc, strict=True))
    assert float(a.loss(a.params0)) == float(b.loss(b.params0))


def test_image_and_flat_inputs_give_same_problem(datasets):
    flat = datasets["digits"]
    img = data.load_digits(0, as_images=True)
    key = jax.random.key(0)
    for arch in ("mlp", "cnn"):
        p_flat = nets.build_problem(arch, flat, key)
        p_img = nets.build_problem(arch, img, key)
        np.testing.assert_allclose(p_flat.loss(p_flat.params0), p_img.loss(p_flat.params0))


def test_arch_kwargs_are_forwarded(datasets, problems):
    key = jax.random.key(0)
    small = nets.build_problem("mlp", datasets["digits"], key, widths=(16,), activation="relu")
    assert small.n_params == 64 * 16 + 16 + 16 * 10 + 10
    wide = nets.build_problem("cnn", datasets["digits"], key, channels=4)
    assert wide.n_params == (9 * 4 + 4) + (4 * 4 * 9 + 4) + (4 * 16 * 10 + 10)
    tf = nets.build_problem("transformer", datasets["sequence"], key, d_model=16, n_blocks=3)
    assert tf.n_params < problems[("transformer", "sequence")].n_params


def test_float64_params_under_x64(problems):
    with jax.enable_x64(True):
        for case in (("mlp", "breast_cancer"), ("transformer", "sequence")):
            prob = problems[case]
            p64 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), prob.params0)
            idx = jnp.arange(10, dtype=jnp.int64)

            def f(params, idx, prob=prob):
                return jax.value_and_grad(prob.loss)(params), prob.minibatch_loss(params, idx)

            (loss, grad), mb = jax.jit(f)(p64, idx)
            assert loss.dtype == jnp.float64 and math.isfinite(float(loss))
            assert mb.dtype == jnp.float64 and math.isfinite(float(mb))
            assert all(g.dtype == jnp.float64 for g in jax.tree_util.tree_leaves(grad))


@pytest.mark.parametrize("case", [("mlp", "digits"), ("transformer", "sequence")],
                         ids=["mlp-digits", "transformer-sequence"])
def test_flatten_problem_same_values_and_gradients(case, problems):
    from jax.flatten_util import ravel_pytree

    prob = problems[case]
    flat = nets.flatten_problem(prob)
    assert flat.params0.shape == (prob.n_params,) and flat.params0.dtype == jnp.float32
    assert (flat.n_params, flat.n_train, flat.name) == (prob.n_params, prob.n_train, prob.name)
    v = flat.params0 * 1.1
    tree = jax.tree_util.tree_map(lambda x: x * 1.1, prob.params0)
    idx = jnp.arange(7)
    for f_flat, f_tree in ((flat.loss, prob.loss), (flat.test_loss, prob.test_loss),
                           (flat.accuracy, prob.accuracy)):
        np.testing.assert_allclose(f_flat(v), f_tree(tree), rtol=1e-6)
    np.testing.assert_allclose(flat.minibatch_loss(v, idx), prob.minibatch_loss(tree, idx),
                               rtol=1e-6)
    g_flat = jax.grad(flat.loss)(v)
    g_tree, _ = ravel_pytree(jax.grad(prob.loss)(tree))
    np.testing.assert_allclose(g_flat, g_tree, rtol=1e-5, atol=1e-7)


def test_build_without_network(monkeypatch, datasets):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    prob = nets.build_problem("mlp", data.load("breast_cancer", 1), jax.random.key(0))
    assert math.isfinite(float(prob.loss(prob.params0)))


def test_bad_arch_and_mismatches(datasets):
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="vgg") as err:
        nets.build_problem("vgg", datasets["digits"], key)
    for allowed in nets.ARCHS:
        assert allowed in str(err.value)
    bad_pairs = [
        ("cnn", "breast_cancer"),
        ("resnet", "breast_cancer"),
        ("cnn", "sequence"),
        ("mlp", "sequence"),
        ("transformer", "digits"),
        ("transformer", "breast_cancer"),
    ]
    for arch, ds in bad_pairs:
        with pytest.raises(ValueError, match=arch):
            nets.build_problem(arch, datasets[ds], key)
