"""Small equinox networks and the :class:`NetProblem` interface used by the optimizers.

The models (:class:`MLP`, :class:`CNN`, :class:`ResNet`, :class:`Transformer`) act on a single
example; batching is done with ``jax.vmap``. :func:`build_problem` turns a model and a
:class:`~adasde.data.Dataset` into a :class:`NetProblem`: the trainable float leaves of the model
(``params0``) plus pure, jit- and vmap-compatible loss/metric functions of those parameters. The
data is closed over as constants, so ``jax.vmap(problem.loss)`` over a stacked batch of parameter
pytrees evaluates several independent networks (e.g. SDE paths) on the same data.

Cost note: on CPU, vmapping the conv nets over parameter batches lowers to grouped convolutions,
which XLA:CPU runs several times slower per path than an unbatched call (``jax.lax.map`` over
paths keeps the unbatched cost); the MLP and Transformer scale about linearly in the number of
paths. :func:`flatten_problem` turns the parameter pytree into one flat vector: a simulation
whose state is one array draws its noise with one PRNG call and compiles several times faster
than one over a pytree of many leaves (one PRNG call per leaf).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from adasde.data import Dataset

__all__ = [
    "ARCHS",
    "CNN",
    "MLP",
    "NetProblem",
    "ResNet",
    "Transformer",
    "build_problem",
    "count_params",
    "flatten_problem",
]

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}


def _activation(name: str) -> Callable[[jax.Array], jax.Array]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


class MLP(eqx.Module):
    """Fully connected network ``in_size -> widths... -> out_size`` on a flat input vector."""

    layers: list[eqx.nn.Linear]
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        widths: Sequence[int] = (32,),
        activation: str = "tanh",
        *,
        key: jax.Array,
    ):
        """Build the MLP; ``activation`` ("tanh" or "relu") follows every hidden layer."""
        _activation(activation)
        sizes = [in_size, *widths, out_size]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = [
            eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        ]
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits for one flat input ``x`` of shape ``(in_size,)``."""
        act = _activation(self.activation)
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return self.layers[-1](x)


class CNN(eqx.Module):
    """Two 3x3 convolutions (the second with stride 2) + ReLU and a linear head, for 1x8x8."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    head: eqx.nn.Linear

    def __init__(self, n_classes: int = 10, channels: int = 8, *, key: jax.Array):
        """Build the CNN: ``(1,8,8) -> (C,8,8) -> (C,4,4) -> n_classes``."""
        k1, k2, k3 = jax.random.split(key, 3)
        self.conv1 = eqx.nn.Conv2d(1, channels, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(channels, channels, 3, stride=2, padding=1, key=k2)
        self.head = eqx.nn.Linear(channels * 4 * 4, n_classes, key=k3)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits for one image ``x`` of shape ``(1, 8, 8)``."""
        x = jax.nn.relu(self.conv1(x))
        x = jax.nn.relu(self.conv2(x))
        return self.head(x.reshape(-1))


class ResidualBlock(eqx.Module):
    """Pre-activation residual block ``x + conv2(relu(conv1(relu(x))))`` (3x3, same size)."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d

    def __init__(self, channels: int, *, key: jax.Array):
        """Build a block with ``channels`` input and output channels."""
        k1, k2 = jax.random.split(key)
        self.conv1 = eqx.nn.Conv2d(channels, channels, 3, padding=1, key=k1)
        self.conv2 = eqx.nn.Conv2d(channels, channels, 3, padding=1, key=k2)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to ``x`` of shape ``(channels, H, W)``."""
        return x + self.conv2(jax.nn.relu(self.conv1(jax.nn.relu(x))))


class ResNet(eqx.Module):
    """Strided conv stem, ``n_blocks`` residual blocks at 4x4 resolution and a linear head.

    For 1x8x8 inputs: ``(1,8,8) -> stem (C,4,4) -> blocks (C,4,4) -> relu, flatten -> n_classes``.
    The stride-2 stem keeps a full-batch gradient cheap; there is no batch normalization (it would
    make the loss depend on batch statistics and carry state).
    """

    stem: eqx.nn.Conv2d
    blocks: list[ResidualBlock]
    head: eqx.nn.Linear

    def __init__(
        self, n_classes: int = 10, channels: int = 8, n_blocks: int = 2, *, key: jax.Array
    ):
        """Build the ResNet with ``channels`` channels and ``n_blocks`` residual blocks."""
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be >= 1, got {n_blocks!r}")
        keys = jax.random.split(key, n_blocks + 2)
        self.stem = eqx.nn.Conv2d(1, channels, 3, stride=2, padding=1, key=keys[0])
        self.blocks = [ResidualBlock(channels, key=k) for k in keys[1:-1]]
        self.head = eqx.nn.Linear(channels * 4 * 4, n_classes, key=keys[-1])

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits for one image ``x`` of shape ``(1, 8, 8)``."""
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(jax.nn.relu(x).reshape(-1))


class TransformerBlock(eqx.Module):
    """Pre-norm block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` with a GELU MLP."""

    norm1: eqx.nn.LayerNorm
    attn: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    fc1: eqx.nn.Linear
    fc2: eqx.nn.Linear

    def __init__(self, d_model: int, num_heads: int, d_hidden: int, *, key: jax.Array):
        """Build a block of width ``d_model`` with ``num_heads`` heads and MLP width ``d_hidden``."""
        k1, k2, k3 = jax.random.split(key, 3)
        self.norm1 = eqx.nn.LayerNorm(d_model)
        self.attn = eqx.nn.MultiheadAttention(num_heads, d_model, key=k1)
        self.norm2 = eqx.nn.LayerNorm(d_model)
        self.fc1 = eqx.nn.Linear(d_model, d_hidden, key=k2)
        self.fc2 = eqx.nn.Linear(d_hidden, d_model, key=k3)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the block to ``x`` of shape ``(seq_len, d_model)`` (no mask, no dropout)."""
        h = jax.vmap(self.norm1)(x)
        x = x + self.attn(h, h, h)
        h = jax.vmap(self.norm2)(x)
        h = jax.vmap(self.fc2)(jax.nn.gelu(jax.vmap(self.fc1)(h)))
        return x + h


class Transformer(eqx.Module):
    """Encoder-only Transformer classifier over a token sequence.

    Token embedding + learned positional embedding, ``n_blocks`` pre-norm attention blocks, a
    final LayerNorm, mean pooling over positions and a linear head.
    """

    tok_embed: eqx.nn.Embedding
    pos_embed: eqx.nn.Embedding
    blocks: list[TransformerBlock]
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        n_classes: int = 2,
        d_model: int = 32,
        num_heads: int = 2,
        n_blocks: int = 2,
        d_hidden: int = 64,
        *,
        key: jax.Array,
    ):
        """Build the Transformer for sequences of ``seq_len`` tokens in ``[0, vocab_size)``."""
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be >= 1, got {n_blocks!r}")
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        keys = jax.random.split(key, n_blocks + 3)
        self.tok_embed = eqx.nn.Embedding(vocab_size, d_model, key=keys[0])
        self.pos_embed = eqx.nn.Embedding(seq_len, d_model, key=keys[1])
        self.blocks = [TransformerBlock(d_model, num_heads, d_hidden, key=k) for k in keys[2:-1]]
        self.norm = eqx.nn.LayerNorm(d_model)
        self.head = eqx.nn.Linear(d_model, n_classes, key=keys[-1])

    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Logits for one integer token sequence of shape ``(seq_len,)``."""
        positions = jnp.arange(tokens.shape[0])
        x = jax.vmap(self.tok_embed)(tokens) + jax.vmap(self.pos_embed)(positions)
        for block in self.blocks:
            x = block(x)
        x = jax.vmap(self.norm)(x)
        return self.head(jnp.mean(x, axis=0))


class NetProblem(NamedTuple):
    """A training problem as pure functions of a parameter pytree.

    Attributes:
        params0: initial trainable parameters, the float-array part of
            ``eqx.partition(model, eqx.is_inexact_array)``.
        loss: ``params -> scalar`` full-batch mean cross-entropy on the training split.
        test_loss: ``params -> scalar`` mean cross-entropy on the test split.
        accuracy: ``params -> scalar`` classification accuracy on the test split.
        minibatch_loss: ``(params, idx) -> scalar`` mean cross-entropy over training rows
            ``idx`` (an integer array).
        n_train: number of training rows.
        n_params: number of scalar trainable parameters.
        name: ``"<arch>-<dataset>"``.
    """

    params0: Any
    loss: Callable[[Any], jax.Array]
    test_loss: Callable[[Any], jax.Array]
    accuracy: Callable[[Any], jax.Array]
    minibatch_loss: Callable[[Any, jax.Array], jax.Array]
    n_train: int
    n_params: int
    name: str


ARCHS = ("mlp", "cnn", "resnet", "transformer")


def count_params(params: Any) -> int:
    """Total number of scalars in the array leaves of ``params``."""
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))


def _cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean cross-entropy of ``logits`` (n, K) against integer ``labels`` (n,)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def _prepare_inputs(arch: str, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Reshape/validate the dataset inputs for ``arch``; raise ValueError if they do not fit."""
    x_tr, x_te = np.asarray(data.x_train), np.asarray(data.x_test)
    is_tokens = np.issubdtype(x_tr.dtype, np.integer)
    if arch == "transformer":
        if not is_tokens or x_tr.ndim != 2 or data.vocab_size is None:
            raise ValueError(
                f"arch 'transformer' needs an integer token dataset, got {data.name!r} "
                f"with inputs of dtype {x_tr.dtype} and shape {x_tr.shape[1:]}"
            )
        return x_tr, x_te
    if is_tokens:
        raise ValueError(
            f"arch {arch!r} needs float feature inputs, got token dataset {data.name!r}"
        )
    per_example = int(np.prod(x_tr.shape[1:]))
    if arch == "mlp":
        return x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    # cnn / resnet: single-channel 8x8 images, given flat (64,) or as (1, 8, 8).
    if per_example != 64 or x_tr.shape[1:] not in ((64,), (1, 8, 8), (8, 8)):
        raise ValueError(
            f"arch {arch!r} needs 1x8x8 image inputs, got {data.name!r} "
            f"with inputs of shape {x_tr.shape[1:]}"
        )
    return x_tr.reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8)


def _make_model(arch: str, data: Dataset, x_train: np.ndarray, key: jax.Array, **kw) -> Any:
    if arch == "mlp":
        return MLP(x_train.shape[1], data.n_classes, key=key, **kw)
    if arch == "cnn":
        return CNN(data.n_classes, key=key, **kw)
    if arch == "resnet":
        return ResNet(data.n_classes, key=key, **kw)
    return Transformer(data.vocab_size, x_train.shape[1], data.n_classes, key=key, **kw)


def build_problem(arch: str, dataset: Dataset, key: jax.Array, **arch_kwargs) -> NetProblem:
    """Initialise network ``arch`` for ``dataset`` and wrap it as a :class:`NetProblem`.

    Args:
        arch: one of ``"mlp"``, ``"cnn"``, ``"resnet"``, ``"transformer"``. The MLP takes any float
            features (images are flattened); CNN/ResNet need 8x8 single-channel images (flat
            64-vectors are reshaped); the Transformer needs integer token sequences.
        dataset: a :class:`~adasde.data.Dataset`.
        key: PRNG key for the parameter initialisation.
        **arch_kwargs: passed to the model constructor (e.g. ``widths``, ``activation`` for the
            MLP; ``channels``; ``d_model``, ``num_heads``, ``n_blocks``, ``d_hidden``).

    Raises:
        ValueError: if ``arch`` is unknown or does not fit the dataset's inputs.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; allowed: {list(ARCHS)}")
    x_tr_np, x_te_np = _prepare_inputs(arch, dataset)
    model = _make_model(arch, dataset, x_tr_np, key, **arch_kwargs)
    params0, static = eqx.partition(model, eqx.is_inexact_array)

    x_tr, y_tr = jnp.asarray(x_tr_np), jnp.asarray(dataset.y_train, dtype=jnp.int32)
    x_te, y_te = jnp.asarray(x_te_np), jnp.asarray(dataset.y_test, dtype=jnp.int32)

    def logits(params: Any, x: jax.Array) -> jax.Array:
        net = eqx.combine(params, static)
        return jax.vmap(net)(x)

    def loss(params: Any) -> jax.Array:
        """Full-batch mean cross-entropy on the training split."""
        return _cross_entropy(logits(params, x_tr), y_tr)

    def test_loss(params: Any) -> jax.Array:
        """Mean cross-entropy on the test split."""
        return _cross_entropy(logits(params, x_te), y_te)

    def accuracy(params: Any) -> jax.Array:
        """Test-split accuracy in [0, 1]."""
        pred = jnp.argmax(logits(params, x_te), axis=-1)
        return jnp.mean((pred == y_te).astype(jnp.float32))

    def minibatch_loss(params: Any, idx: jax.Array) -> jax.Array:
        """Mean cross-entropy over the training rows ``idx``."""
        return _cross_entropy(logits(params, x_tr[idx]), y_tr[idx])

    return NetProblem(
        params0=params0,
        loss=loss,
        test_loss=test_loss,
        accuracy=accuracy,
        minibatch_loss=minibatch_loss,
        n_train=int(x_tr.shape[0]),
        n_params=count_params(params0),
        name=f"{arch}-{dataset.name}",
    )


def flatten_problem(problem: NetProblem) -> NetProblem:
    """The same problem over one flat parameter vector (``jax.flatten_util.ravel_pytree``).

    ``params0`` becomes a 1-D array of length ``n_params`` and every function takes such a
    vector; the values (and, raveled, the gradients) equal those of ``problem``. Coordinate-wise
    optimizers and diagonal SDEs act the same on either layout.
    """
    from jax.flatten_util import ravel_pytree

    flat0, unravel = ravel_pytree(problem.params0)

    def loss(v: jax.Array) -> jax.Array:
        """Full-batch mean cross-entropy on the training split."""
        return problem.loss(unravel(v))

    def test_loss(v: jax.Array) -> jax.Array:
        """Mean cross-entropy on the test split."""
        return problem.test_loss(unravel(v))

    def accuracy(v: jax.Array) -> jax.Array:
        """Test-split accuracy in [0, 1]."""
        return problem.accuracy(unravel(v))

    def minibatch_loss(v: jax.Array, idx: jax.Array) -> jax.Array:
        """Mean cross-entropy over the training rows ``idx``."""
        return problem.minibatch_loss(unravel(v), idx)

    return problem._replace(params0=flat0, loss=loss, test_loss=test_loss, accuracy=accuracy,
                            minibatch_loss=minibatch_loss)
