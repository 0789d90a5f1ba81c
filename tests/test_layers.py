"""Import rules between the layers (issue: analysis layer): the analysis layer
(adasde.figures, adasde.analysis, adasde.claims, adasde.plotting) never imports jax or the
experiments, so notebooks never simulate; the experiments and the core never import the
analysis layer or plotting, so compute never plots."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from adasde import codehash

SRC = Path(codehash.__file__).resolve().parent
ANALYSIS = ["adasde.analysis", "adasde.claims", "adasde.plotting"] + sorted(
    f"adasde.figures.{p.stem}" for p in (SRC / "figures").glob("*.py") if p.stem != "__init__")
COMPUTE = ["adasde.integrate", "adasde.sdes", "adasde.optim", "adasde.noise", "adasde.problems",
           "adasde.nets", "adasde.data", "adasde.jobs", "adasde.artifacts"] + sorted(
    f"adasde.experiments.{p.stem}" for p in (SRC / "experiments").glob("*.py")
    if p.stem != "__init__")


def third_party_imports(module: str) -> set[str]:
    """Top-level names of every non-adasde module imported anywhere in ``module``'s file."""
    tree = ast.parse(codehash.module_path(module).read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("module", ANALYSIS)
def test_analysis_layer_never_imports_jax_or_experiments(module):
    for m in codehash.closure(module):
        assert not m.startswith("adasde.experiments"), f"{module} imports {m} (via the closure)"
        bad = third_party_imports(m) & {"jax", "jaxlib", "equinox", "optax", "diffrax"}
        assert not bad, f"{module} loads {m}, which imports {sorted(bad)}"


@pytest.mark.parametrize("module", COMPUTE)
def test_compute_never_imports_analysis_or_plotting(module):
    for m in codehash.closure(module):
        assert not (m.startswith("adasde.figures") or m in ("adasde.plotting", "adasde.analysis",
                                                            "adasde.claims")), \
            f"{module} imports {m}"
        assert "matplotlib" not in third_party_imports(m), f"{module} loads {m}, which plots"


def test_the_rule_checker_sees_a_violation(tmp_path, monkeypatch):
    """The checks above can fail: a module that imports jax is caught."""
    pkg = tmp_path / "adasde"
    (pkg / "figures").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "figures" / "__init__.py").write_text("")
    (pkg / "figures" / "bad.py").write_text("import jax.numpy as jnp\nfrom adasde.experiments import x\n")
    (pkg / "experiments").mkdir()
    (pkg / "experiments" / "__init__.py").write_text("")
    (pkg / "experiments" / "x.py").write_text("")
    monkeypatch.setattr(codehash, "SRC", pkg)
    codehash._module_info.cache_clear()
    try:
        assert "jax" in third_party_imports("adasde.figures.bad")
        assert "adasde.experiments.x" in codehash.closure("adasde.figures.bad")
    finally:
        codehash._module_info.cache_clear()
