# Shared set-up: config validation (before any job), the interpreter, and the figure registry.
import shlex
import sys

from adasde import config as adasde_config

PY = shlex.quote(sys.executable)

try:
    adasde_config.validate(config, workflow.source_path("../../config/schema.yaml"))
except adasde_config.ConfigError as err:
    raise WorkflowError(str(err)) from None

# FIGURES[name] = {"notebook": path, "data": [artifact paths], "params": {papermill params},
#                  "extra_figures": [other figure names the notebook writes]}
# Each simulation section registers its figures in simulate.smk / train.smk; figures.smk runs
# every registered notebook with papermill.
FIGURES = {}


def register_figure(name, notebook, data, params=None, extra_figures=()):
    FIGURES[name] = {
        "notebook": notebook,
        "data": list(data),
        "params": dict(params or {}),
        "extra_figures": list(extra_figures),
    }


def figure_outputs():
    out = []
    for name, spec in FIGURES.items():
        for fig in [name, *spec["extra_figures"]]:
            out += [f"figures/{fig}.pdf", f"figures/{fig}.png"]
        out += [f"results/notebooks/{name}.ipynb", f"results/{name}/numbers.json"]
    return out


def print_claims_summary(path):
    """At the end of a run: how many claims, how many hold, and each failing one."""
    from pathlib import Path

    from adasde import claims as adasde_claims

    if Path(path).exists():
        print(adasde_claims.summary(adasde_claims.read_numbers(path)), flush=True)
