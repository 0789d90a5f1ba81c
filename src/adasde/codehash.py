"""Which library code an output depends on: the closure of ``adasde`` modules a job or a
notebook imports, hashed by content.

A rule puts :func:`code_hash` of its entry modules in its ``params``; Snakemake reruns a job
whose params changed, so editing a module a job imports reruns that job (and nothing that does
not import it). The hash is of each module's syntax tree (``ast.dump``), so a comment-only or
formatting edit changes nothing, while any change of code, including a docstring, reruns.
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

PACKAGE = "adasde"
SRC = Path(__file__).resolve().parent


def set_source(path: str | Path) -> None:
    """Hash the ``adasde`` package found at ``path`` (a checkout's ``src/adasde``) instead of
    the imported one (the workflow hashes the code of the checkout it runs from)."""
    global SRC
    SRC = Path(path).resolve()
    _module_info.cache_clear()


def module_path(module: str) -> Path | None:
    """The source file of ``adasde[.x[.y]]`` (a package's ``__init__.py``), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = SRC.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports_of_tree(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The ``adasde`` modules a syntax tree imports (absolute and relative, ``from adasde
    import x`` resolving ``x`` to a module where one exists)."""
    out = set()
    pkg = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == PACKAGE:
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != PACKAGE:
                continue
            out.add(name)
            for a in node.names:
                if module_path(f"{name}.{a.name}") is not None:
                    out.add(f"{name}.{a.name}")
    return out


@cache
def _module_info(module: str) -> tuple[str, frozenset]:
    path = module_path(module)
    if path is None:
        return "", frozenset()
    tree = ast.parse(path.read_text(), filename=str(path))
    digest = hashlib.sha256(ast.dump(tree).encode()).hexdigest()
    imports = _imports_of_tree(tree, module, path.name == "__init__.py")
    # a submodule import also runs its parent packages' __init__
    parents = {".".join(m.split(".")[:i]) for m in imports for i in range(1, m.count(".") + 1)}
    return digest, frozenset((imports | parents) - {module})


def closure(*modules: str) -> list[str]:
    """Every ``adasde`` module that importing ``modules`` loads (sorted)."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m in seen or module_path(m) is None:
            continue
        seen.add(m)
        todo.extend(_module_info(m)[1])
    return sorted(seen)


def notebook_imports(path: str | Path) -> list[str]:
    """The ``adasde`` modules the code cells of a notebook import."""
    nb = json.loads(Path(path).read_text())
    out = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            out |= _imports_of_tree(ast.parse(src), "__main__", False)
        except SyntaxError:
            continue
    return sorted(out)


def code_hash(*modules: str) -> str:
    """SHA-256 (16 hex digits) over the syntax trees of :func:`closure` of ``modules``."""
    h = hashlib.sha256()
    for m in closure(*modules):
        h.update(m.encode() + b"\0" + _module_info(m)[0].encode() + b"\0")
    return h.hexdigest()[:16]
