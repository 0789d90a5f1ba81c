"""Tests for adasde.data: shapes, dtypes, determinism, offline loading and dispatch."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
import sklearn.datasets

from adasde import data


def _assert_same(a: data.Dataset, b: data.Dataset) -> None:
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert (a.n_classes, a.name, a.vocab_size) == (b.n_classes, b.name, b.vocab_size)


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1)
    return x[np.lexsort(x.T[::-1])]


def test_digits_shapes_dtypes_range():
    ds = data.load_digits(0)
    assert ds.name == "digits" and ds.n_classes == 10 and ds.vocab_size is None
    assert ds.x_train.shape == (1348, 64) and ds.x_test.shape == (449, 64)
    assert ds.y_train.shape == (1348,) and ds.y_test.shape == (449,)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int32 and ds.y_test.dtype == np.int32
    assert ds.n_train == 1348 and ds.n_test == 449 and ds.input_shape == (64,)
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() == 1.0
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert ds.y_test.min() >= 0 and ds.y_test.max() < 10


def test_digits_split_is_a_partition_of_the_bundled_data():
    ds = data.load_digits(3)
    raw = sklearn.datasets.load_digits()
    full = np.concatenate([ds.x_train, ds.x_test]) * 16.0
    labels = np.concatenate([ds.y_train, ds.y_test])
    rows = np.concatenate([full, labels[:, None]], axis=1)
    raw_rows = np.concatenate([raw.data, raw.target[:, None]], axis=1)
    np.testing.assert_allclose(_sorted_rows(rows), _sorted_rows(raw_rows), atol=1e-5)


def test_digits_as_images_matches_flat():
    flat = data.load_digits(1)
    img = data.load_digits(1, as_images=True)
    assert img.x_train.shape == (1348, 1, 8, 8) and img.x_test.shape == (449, 1, 8, 8)
    assert img.input_shape == (1, 8, 8) and img.x_train.dtype == np.float32
    np.testing.assert_array_equal(img.x_train.reshape(-1, 64), flat.x_train)
    np.testing.assert_array_equal(img.x_test.reshape(-1, 64), flat.x_test)
    np.testing.assert_array_equal(img.y_train, flat.y_train)


def test_digits_test_fraction():
    ds = data.load_digits(0, test_fraction=0.5)
    assert ds.n_train + ds.n_test == 1797 and abs(ds.n_test - 898) <= 1
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="test_fraction"):
            data.load_digits(0, test_fraction=bad)


def test_n_train_keeps_the_first_rows_of_the_training_split():
    full, sub = data.load_digits(4), data.load_digits(4, n_train=100, as_images=True)
    assert sub.n_train == 100 and sub.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(sub.x_train.reshape(100, 64), full.x_train[:100])
    np.testing.assert_array_equal(sub.y_train, full.y_train[:100])
    np.testing.assert_array_equal(sub.x_test.reshape(-1, 64), full.x_test)  # test split kept
    _assert_same(data.load("digits", 4, n_train=100), data.load_digits(4, n_train=100))
    bc = data.load_breast_cancer(4, n_train=50)
    assert bc.n_train == 50 and bc.n_test == data.load_breast_cancer(4).n_test
    np.testing.assert_allclose(bc.x_train.mean(axis=0), 0.0, atol=1e-5)  # its own statistics
    for bad in (0, 1349):
        with pytest.raises(ValueError, match=r"n_train must be in \[1, 1348\]"):
            data.load_digits(0, n_train=bad)


def test_breast_cancer_shapes_and_standardization():
    ds = data.load_breast_cancer(0)
    assert ds.name == "breast_cancer" and ds.n_classes == 2
    assert ds.x_train.shape == (427, 30) and ds.x_test.shape == (142, 30)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.x_test.dtype == np.float32 and ds.y_test.dtype == np.int32
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-4)
    # The test split uses the train statistics, so it is not exactly standardized.
    assert not np.allclose(ds.x_test.mean(axis=0), 0.0, atol=1e-5)
    assert set(np.unique(ds.y_train)) == {0, 1}


def test_sequence_task_shapes_and_rule():
    ds = data.make_sequence_task(0, n_train=300, n_test=100, seq_len=7, vocab=6)
    assert ds.name == "sequence" and ds.n_classes == 2 and ds.vocab_size == 6
    assert ds.x_train.shape == (300, 7) and ds.x_test.shape == (100, 7)
    assert ds.x_train.dtype == np.int32 and ds.y_train.dtype == np.int32
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 5
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        expected = (np.sum(x < 3, axis=1) > 3.5).astype(np.int32)
        np.testing.assert_array_equal(y, expected)
    # Roughly balanced for odd seq_len and even vocab.
    assert 0.35 < ds.y_train.mean() < 0.65


def test_sequence_task_defaults_and_validation():
    ds = data.make_sequence_task(0)
    assert ds.x_train.shape == (512, 9) and ds.x_test.shape == (256, 9) and ds.vocab_size == 8
    with pytest.raises(ValueError, match="vocab"):
        data.make_sequence_task(0, vocab=1)
    with pytest.raises(ValueError, match="seq_len"):
        data.make_sequence_task(0, seq_len=0)
    with pytest.raises(ValueError, match="n_train"):
        data.make_sequence_task(0, n_train=0)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "sequence"])
def test_determinism(name):
    _assert_same(data.load(name, 7), data.load(name, 7))
    a, b = data.load(name, 7), data.load(name, 8)
    assert not np.array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, b.y_train)


def test_no_network_access(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during dataset loading")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for name in data.DATASETS:
        ds = data.load(name, 0)
        assert ds.n_train > 0 and ds.n_test > 0


def test_load_dispatch_and_kwargs():
    _assert_same(data.load("digits", 2), data.load_digits(2))
    _assert_same(data.load("breast_cancer", 2), data.load_breast_cancer(2))
    _assert_same(data.load("sequence", 2), data.make_sequence_task(2))
    assert data.load("digits", 2, as_images=True).input_shape == (1, 8, 8)
    assert data.load("sequence", 2, seq_len=5, vocab=4).x_train.shape[1] == 5


def test_load_bad_name():
    with pytest.raises(ValueError, match="mnist") as err:
        data.load("mnist", 0)
    for allowed in ("digits", "breast_cancer", "sequence"):
        assert allowed in str(err.value)


def test_dataset_is_frozen():
    ds = data.load_breast_cancer(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
