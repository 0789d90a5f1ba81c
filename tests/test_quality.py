"""Quality gates: ruff, snakefmt --check and snakemake --lint are clean; notebooks are
committed without outputs."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def _run(*cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_clean():
    paths = [p for p in ("src", "tests", "bench", "workflow/scripts") if (ROOT / p).exists()]
    proc = _run(str(BIN / "ruff"), "check", *paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean():
    proc = _run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_clean():
    proc = _run(sys.executable, "-m", "snakemake", "--lint", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]


def test_notebooks_have_no_outputs_and_a_parameters_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), f"{nb_path.name} has outputs"
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code), nb_path


def test_no_control_characters_in_sources():
    """A backslash escape written through a non-raw string (``"\\frac"``) leaves a form feed or
    backspace in a docstring; no tracked source or document may hold one."""
    import re

    files = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.smk", "*.yaml", "*.ipynb",
                            "Snakefile"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
    hits = [f for f in files if (ROOT / f).is_file() and bad.search((ROOT / f).read_text())]
    assert not hits, hits
