r"""A text corpus that ships with Python: the docstrings of a fixed list of standard-library
modules, for the language-model experiment (figure ``scaling_lm``); nothing is downloaded.

* Text: for each module of :data:`MODULES`, in that order, the docstrings of the module and of
  every class and function in it (source order, ``ast.get_docstring(clean=True)``), joined by
  blank lines; the modules' texts (documents) are joined by blank lines too. The sources are
  *parsed*, never imported (no side effects), from the running interpreter's standard library
  (``sysconfig.get_paths()["stdlib"]``). Docstrings change between Python releases, so the
  corpus is a function of the Python version: every artifact records :func:`sha256` of the
  corpus and the Python version.
* Split: document-level and deterministic (no random numbers): the module at position ``i`` is
  held out when ``i % test_every == test_every - 1``, so the held-out text comes from modules
  the model never trains on.
* Encoding: byte level. The UTF-8 bytes of the text are mapped to token ids ``0..V-1`` through
  the sorted set of byte values occurring in the whole corpus (:attr:`Corpus.vocab`), so ``V``
  is about a hundred rather than 256; :func:`encode` / :func:`decode` invert each other.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Pure-Python standard-library modules with substantial docstrings, in a fixed order (changing
# this list changes the corpus and its hash). Dotted names are files inside packages.
MODULES: tuple[str, ...] = (
    "abc", "argparse", "ast", "asyncio.events", "base64", "bdb", "bisect", "calendar", "cmd",
    "code", "codecs", "collections", "colorsys", "configparser", "contextlib", "copy", "csv",
    "dataclasses", "datetime", "_pydecimal", "difflib", "dis", "doctest", "email.message",
    "enum", "filecmp", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext",
    "glob", "gzip", "heapq", "hmac", "html.parser", "http.client", "http.server", "imaplib",
    "inspect", "ipaddress", "json", "json.decoder", "locale", "logging", "mailbox", "numbers",
    "operator", "optparse", "os", "pathlib", "pdb", "pickle", "pickletools", "platform",
    "poplib", "pprint", "pydoc", "queue", "quopri", "random", "re", "reprlib", "sched",
    "secrets", "selectors", "shlex", "shutil", "smtplib", "socket", "socketserver",
    "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
    "timeit", "tokenize", "trace", "traceback", "types", "typing", "unittest.case",
    "urllib.parse", "urllib.request", "uuid", "warnings", "wave", "weakref", "zipfile",
    "zipimport",
)
SEPARATOR = "\n\n"
_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def stdlib_dir() -> Path:
    """The running interpreter's standard-library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def module_path(name: str, root: Path | None = None) -> Path:
    """Source file of standard-library module ``name`` (``a.b`` -> ``a/b.py`` or
    ``a/b/__init__.py``); raises FileNotFoundError naming the module if it is absent."""
    root = stdlib_dir() if root is None else Path(root)
    base = root.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    raise FileNotFoundError(f"standard-library module {name!r}: no source file under {root} "
                            f"(this Python installation ships without .py sources?)")


def docstrings(source: str) -> list[str]:
    """The docstrings of a module's source text: the module's, then every class and function
    (methods and nested definitions included) in source order."""
    out: list[str] = []

    def visit(node):
        if isinstance(node, _DOC_NODES):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return out


def documents(modules: tuple[str, ...] = MODULES, root: Path | None = None) -> list[str]:
    """One text per module of ``modules`` (its docstrings joined by blank lines)."""
    return [SEPARATOR.join(docstrings(module_path(m, root).read_text(encoding="utf-8")))
            for m in modules]


def sha256_text(text: str) -> str:
    """SHA-256 (hex) of the UTF-8 bytes of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode(text: str | bytes, vocab: np.ndarray) -> np.ndarray:
    """Token ids (int32) of ``text`` (its UTF-8 bytes) under ``vocab`` (sorted uint8 byte values);
    raises ValueError if ``text`` holds a byte outside the vocabulary."""
    raw = np.frombuffer(text.encode("utf-8") if isinstance(text, str) else bytes(text), np.uint8)
    vocab = np.asarray(vocab, np.uint8)
    ids = np.searchsorted(vocab, raw)
    bad = (ids >= len(vocab)) | (vocab[np.minimum(ids, len(vocab) - 1)] != raw)
    if bad.any():
        raise ValueError(f"byte {int(raw[np.argmax(bad)])} is not in the vocabulary")
    return ids.astype(np.int32)


def decode(ids, vocab: np.ndarray) -> str:
    """The text of token ids ``ids`` (invalid UTF-8 sequences, e.g. a cut multi-byte character,
    become U+FFFD)."""
    raw = np.asarray(vocab, np.uint8)[np.asarray(ids, np.int64)]
    return raw.tobytes().decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Corpus:
    """The encoded corpus and its split.

    Attributes:
        vocab: sorted byte values (uint8) occurring in the corpus; token id ``i`` is byte
            ``vocab[i]``.
        train, test: int32 token ids of the training and held-out text (each the
            concatenation of its documents, separated by blank lines).
        train_modules, test_modules: the modules of each split, in corpus order.
        sha256: SHA-256 of the whole corpus text (every module, in :data:`MODULES` order).
        n_bytes: length of the whole corpus in bytes.
        python: the Python version whose standard library gave the text.
    """

    vocab: np.ndarray
    train: np.ndarray
    test: np.ndarray
    train_modules: tuple[str, ...]
    test_modules: tuple[str, ...]
    sha256: str
    n_bytes: int
    python: str

    @property
    def vocab_size(self) -> int:
        return int(len(self.vocab))

    def provenance(self) -> dict:
        """What an artifact's ``meta.json`` records about the corpus."""
        return {
            "corpus_sha256": self.sha256,
            "corpus_bytes": self.n_bytes,
            "corpus_modules": len(self.train_modules) + len(self.test_modules),
            "corpus_train_tokens": int(len(self.train)),
            "corpus_test_tokens": int(len(self.test)),
            "corpus_test_modules": list(self.test_modules),
            "vocab_size": self.vocab_size,
            "python": self.python,
        }


def split_modules(modules: tuple[str, ...], test_every: int) -> tuple[tuple, tuple]:
    """``(train, test)`` module names: position ``i`` is held out when
    ``i % test_every == test_every - 1``."""
    if test_every < 2:
        raise ValueError(f"test_every must be >= 2, got {test_every!r}")
    test = tuple(m for i, m in enumerate(modules) if i % test_every == test_every - 1)
    train = tuple(m for i, m in enumerate(modules) if i % test_every != test_every - 1)
    return train, test


def build_from_documents(docs: list[str], modules: tuple[str, ...], test_every: int,
                         python: str = "") -> Corpus:
    """The :class:`Corpus` of ``docs`` (one text per module of ``modules``)."""
    if len(docs) != len(modules):
        raise ValueError(f"{len(docs)} documents for {len(modules)} modules")
    text = SEPARATOR.join(docs)
    raw = text.encode("utf-8")
    vocab = np.unique(np.frombuffer(raw, np.uint8))
    train_m, test_m = split_modules(tuple(modules), test_every)
    by_name = dict(zip(modules, docs, strict=True))
    train = encode(SEPARATOR.join(by_name[m] for m in train_m), vocab)
    test = encode(SEPARATOR.join(by_name[m] for m in test_m), vocab)
    return Corpus(vocab=vocab, train=train, test=test, train_modules=train_m,
                  test_modules=test_m, sha256=sha256_text(text), n_bytes=len(raw),
                  python=python)


@functools.lru_cache(maxsize=8)
def build(test_every: int = 5, modules: tuple[str, ...] = MODULES) -> Corpus:
    """The standard-library docstring corpus of this Python, split every ``test_every``-th
    module (cached per process)."""
    return build_from_documents(documents(modules), modules, test_every,
                                python=platform.python_version())


@functools.lru_cache(maxsize=1)
def sha256(modules: tuple[str, ...] = MODULES) -> str:
    """SHA-256 of the corpus text of this Python (independent of the split)."""
    return sha256_text(SEPARATOR.join(documents(modules)))


@functools.lru_cache(maxsize=1)
def sources_sha256(modules: tuple[str, ...] = MODULES) -> str:
    """SHA-256 of the Python version and the source files of ``modules`` (name and bytes, in
    order): a cheap fingerprint of the corpus for the workflow's rerun check (milliseconds,
    where :func:`sha256` parses every module). The docstrings are a function of these bytes and
    the parser, so equal fingerprints mean an equal corpus; a source edit that leaves the
    docstrings alone changes it too (a conservative rerun, never a missed one)."""
    h = hashlib.sha256(platform.python_version().encode())
    for m in modules:
        h.update(b"\0" + m.encode() + b"\0" + module_path(m).read_bytes())
    return h.hexdigest()
