"""The standard-library docstring corpus (adasde.corpus): determinism and hash, the
document-level split, the byte-level encoding."""

import hashlib
import platform

import numpy as np
import pytest

from adasde import corpus

SOURCE = '''"""Module doc."""


class A:
    """Class A."""

    def f(self):
        """Method f."""

        def inner():
            """Nested."""


def g():
    pass


async def h():
    """Async h."""
'''


def test_docstrings_in_source_order():
    assert corpus.docstrings(SOURCE) == ["Module doc.", "Class A.", "Method f.", "Nested.",
                                         "Async h."]


def test_module_path_of_modules_and_packages(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""pkg"""')
    (tmp_path / "pkg" / "sub.py").write_text('"""sub"""')
    (tmp_path / "mod.py").write_text('"""mod"""')
    assert corpus.module_path("pkg", tmp_path) == tmp_path / "pkg" / "__init__.py"
    assert corpus.module_path("pkg.sub", tmp_path) == tmp_path / "pkg" / "sub.py"
    assert corpus.documents(("mod", "pkg.sub", "pkg"), tmp_path) == ["mod", "sub", "pkg"]
    with pytest.raises(FileNotFoundError, match="'nothere'"):
        corpus.module_path("nothere", tmp_path)


def test_split_is_every_kth_module_and_a_partition():
    mods = tuple(f"m{i}" for i in range(12))
    train, test = corpus.split_modules(mods, 5)
    assert test == ("m4", "m9")
    assert set(train) | set(test) == set(mods) and not set(train) & set(test)
    assert list(train) == [m for m in mods if m not in test]  # order kept
    with pytest.raises(ValueError, match="test_every"):
        corpus.split_modules(mods, 1)


def test_encode_decode_round_trip_and_unknown_bytes():
    text = "héllo, wörld\n"
    vocab = np.unique(np.frombuffer(text.encode(), np.uint8))
    ids = corpus.encode(text, vocab)
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < len(vocab)
    assert corpus.decode(ids, vocab) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        corpus.encode("z", vocab)


def test_build_from_documents_hash_split_and_encoding():
    docs = ["alpha doc", "beta doc", "gamma é", "delta", "epsilon doc"]
    mods = ("a", "b", "c", "d", "e")
    c = corpus.build_from_documents(docs, mods, 2, python="x")
    text = corpus.SEPARATOR.join(docs)
    assert c.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert c.n_bytes == len(text.encode())
    assert c.test_modules == ("b", "d") and c.train_modules == ("a", "c", "e")
    assert corpus.decode(c.train, c.vocab) == "alpha doc\n\ngamma é\n\nepsilon doc"
    assert corpus.decode(c.test, c.vocab) == "beta doc\n\ndelta"
    assert list(c.vocab) == sorted(set(text.encode()))
    again = corpus.build_from_documents(list(docs), mods, 2, python="x")
    assert again.sha256 == c.sha256 and np.array_equal(again.train, c.train)
    with pytest.raises(ValueError, match="documents"):
        corpus.build_from_documents(docs[:-1], mods, 2)


def test_stdlib_corpus_is_deterministic_and_recorded():
    c = corpus.build(5)
    assert c.python == platform.python_version()
    assert len(c.train_modules) + len(c.test_modules) == len(corpus.MODULES)
    assert c.test_modules == corpus.MODULES[4::5]
    # The hash is of the text, independent of the split, and reproducible from scratch.
    assert corpus.sha256() == c.sha256
    assert corpus.sha256_text(corpus.SEPARATOR.join(corpus.documents())) == c.sha256
    assert 32 < c.vocab_size < 256
    assert len(c.train) > 100_000 and len(c.test) > 20_000
    rec = c.provenance()
    assert rec["corpus_sha256"] == c.sha256 and rec["python"] == c.python
    # Held-out text comes from other modules: a held-out module's first docstring is not in
    # the training text.
    first = corpus.docstrings(corpus.module_path(c.test_modules[0]).read_text())[0]
    assert first not in corpus.decode(c.train, c.vocab)
    assert first in corpus.decode(c.test, c.vocab)


def test_sources_fingerprint_is_cheap_stable_and_tracks_the_sources(tmp_path, monkeypatch):
    """The workflow's rerun fingerprint: stable, and a changed source file changes it."""
    a = corpus.sources_sha256()
    corpus.sources_sha256.cache_clear()
    assert corpus.sources_sha256() == a and len(a) == 64
    root = tmp_path / "lib"
    for m in corpus.MODULES[:2]:
        src = corpus.module_path(m)
        dst = root / src.relative_to(corpus.stdlib_dir())
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    monkeypatch.setattr(corpus, "stdlib_dir", lambda: root)
    two = corpus.MODULES[:2]
    before = corpus.sources_sha256(two)
    first = corpus.module_path(two[0])
    first.write_bytes(first.read_bytes() + b"\n# edited\n")
    corpus.sources_sha256.cache_clear()
    assert corpus.sources_sha256(two) != before
