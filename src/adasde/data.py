"""Small offline datasets for the adasde experiments.

Every loader here builds its data from files bundled with scikit-learn or generates it from a
seed, so nothing is downloaded at run time. Each returns a :class:`Dataset` whose inputs are
``float32`` (or ``int32`` tokens for the sequence task) and whose labels are ``int32`` in
``[0, n_classes)``. Train/test splits are a seeded random permutation, so the same seed always
gives the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DATASETS",
    "Dataset",
    "load",
    "load_breast_cancer",
    "load_digits",
    "make_sequence_task",
]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A supervised classification dataset with a fixed train/test split.

    Attributes:
        x_train: training inputs, shape ``(n_train, *input_shape)``; ``float32`` features, or
            ``int32`` token ids for the sequence task.
        y_train: training labels, shape ``(n_train,)``, ``int32`` in ``[0, n_classes)``.
        x_test: test inputs, shape ``(n_test, *input_shape)``, same dtype as ``x_train``.
        y_test: test labels, shape ``(n_test,)``, ``int32``.
        n_classes: number of classes.
        name: dataset name (``"digits"``, ``"breast_cancer"`` or ``"sequence"``).
        vocab_size: token vocabulary size for token datasets, ``None`` for float features.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str
    vocab_size: int | None = None

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return int(self.x_test.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example (without the batch axis)."""
        return tuple(self.x_train.shape[1:])


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")


def _split(
    x: np.ndarray, y: np.ndarray, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle rows with ``np.random.default_rng(seed)`` and cut off the last ``test_fraction``."""
    _check_fraction(test_fraction)
    n = x.shape[0]
    n_test = int(round(test_fraction * n))
    n_test = min(max(n_test, 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    tr, te = perm[: n - n_test], perm[n - n_test :]
    return x[tr], y[tr], x[te], y[te]


def _subsample_train(x_tr, y_tr, n_train: int | None):
    """Keep the first ``n_train`` rows of the (already shuffled) training split; ``None``: all."""
    if n_train is None:
        return x_tr, y_tr
    if not 1 <= n_train <= len(x_tr):
        raise ValueError(f"n_train must be in [1, {len(x_tr)}] (the training split), got {n_train!r}")
    return x_tr[:n_train], y_tr[:n_train]


def load_digits(seed: int, test_fraction: float = 0.25, as_images: bool = False,
                n_train: int | None = None) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes).

    Pixels (integers 0..16) are scaled to ``[0, 1]``. With the default split this gives 1348
    training and 449 test rows.

    Args:
        seed: seed of the train/test shuffle.
        test_fraction: fraction of rows held out for testing.
        as_images: if True, inputs have shape ``(n, 1, 8, 8)`` (channel-first, for the CNN and
            ResNet); otherwise they are flat, shape ``(n, 64)``. The networks in
            :mod:`adasde.nets` accept either layout.
        n_train: keep only the first ``n_train`` rows of the shuffled training split (a cheaper
            full-batch gradient for the conv nets); ``None`` keeps all. The test split is the same.
    """
    import sklearn.datasets  # imported here: the workflow's config check imports this module

    raw = sklearn.datasets.load_digits()
    x = (np.asarray(raw.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(raw.target, dtype=np.int32)
    if as_images:
        x = x.reshape(-1, 1, 8, 8)
    x_tr, y_tr, x_te, y_te = _split(x, y, seed, test_fraction)
    x_tr, y_tr = _subsample_train(x_tr, y_tr, n_train)
    return Dataset(x_tr, y_tr, x_te, y_te, n_classes=10, name="digits")


def load_breast_cancer(seed: int, test_fraction: float = 0.25,
                       n_train: int | None = None) -> Dataset:
    """scikit-learn's bundled Wisconsin breast cancer data (569 rows, 30 features, 2 classes).

    Features are standardized with the mean and standard deviation of the training split only
    (constant features would be left centred, unscaled).

    Args:
        seed: seed of the train/test shuffle.
        test_fraction: fraction of rows held out for testing.
        n_train: keep only the first ``n_train`` rows of the shuffled training split (and
            standardize with their statistics); ``None`` keeps all.
    """
    import sklearn.datasets

    raw = sklearn.datasets.load_breast_cancer()
    x = np.asarray(raw.data, dtype=np.float64)
    y = np.asarray(raw.target, dtype=np.int32)
    x_tr, y_tr, x_te, y_te = _split(x, y, seed, test_fraction)
    x_tr, y_tr = _subsample_train(x_tr, y_tr, n_train)
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_tr = ((x_tr - mean) / std).astype(np.float32)
    x_te = ((x_te - mean) / std).astype(np.float32)
    return Dataset(x_tr, y_tr, x_te, y_te, n_classes=2, name="breast_cancer")


def make_sequence_task(
    seed: int,
    n_train: int = 512,
    n_test: int = 256,
    seq_len: int = 9,
    vocab: int = 8,
) -> Dataset:
    """Generated binary sequence classification task for a tiny Transformer.

    Each input is a sequence of ``seq_len`` tokens drawn i.i.d. uniformly from
    ``{0, ..., vocab - 1}``. The label is 1 if strictly more than half of the tokens lie in the
    lower half of the vocabulary (token id ``< vocab // 2``), else 0. With ``vocab`` even and
    ``seq_len`` odd the classes are exactly balanced in expectation. Train and test rows are drawn
    from ``np.random.default_rng(seed)`` (train first), so the task is deterministic in the seed.

    Inputs are ``int32`` token ids of shape ``(n, seq_len)``; the returned dataset has
    ``vocab_size=vocab`` and ``n_classes=2``.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train!r}, {n_test!r}")
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len!r}")
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2, got {vocab!r}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab, size=(n_train + n_test, seq_len)).astype(np.int32)
    n_lower = np.sum(x < vocab // 2, axis=1)
    y = (2 * n_lower > seq_len).astype(np.int32)
    return Dataset(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        n_classes=2,
        name="sequence",
        vocab_size=vocab,
    )


DATASETS = {
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "sequence": make_sequence_task,
}


def load(name: str, seed: int, **kw) -> Dataset:
    """Load dataset ``name`` ("digits", "breast_cancer" or "sequence") with ``seed``.

    Extra keyword arguments go to the matching loader (:func:`load_digits`,
    :func:`load_breast_cancer` or :func:`make_sequence_task`).

    Raises:
        ValueError: if ``name`` is not one of the allowed names.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {sorted(DATASETS)}")
    return DATASETS[name](seed, **kw)
