# Shared set-up: config validation (before any job), the interpreter, and the figure registry.
import os
import shlex
import sys

import yaml

from adasde import config as adasde_config

PY = shlex.quote(sys.executable)

# GPU profile: jobs sharing one device must not preallocate it; each may use 0.9 / (gpu slots).
# Snakemake 9 has no profile key for environment variables; jobs inherit these.
_gpu_slots = workflow.global_resources.get("gpu")
if _gpu_slots is not None and getattr(_gpu_slots, "value", _gpu_slots):
    _n = int(getattr(_gpu_slots, "value", _gpu_slots))
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / _n:.2f}")

try:
    adasde_config.validate(config, workflow.source_path("../../config/schema.yaml"))
except adasde_config.ConfigError as err:
    raise WorkflowError(str(err)) from None

# The `gpu` resource of every simulation/training job (config key gpus_per_job, default 1):
# the GPU profile caps concurrent GPU jobs with it; CPU cluster profiles set it to 0.
GPUS_PER_JOB = config["gpus_per_job"]

# FIGURES[name] = {"notebook": path, "data": [artifact paths], "params": {papermill params}}
# One notebook job per figure name (several names may share a notebook file with other params).
# Each simulation section registers its figures in simulate.smk / train.smk; figures.smk runs
# every registered notebook with papermill.
FIGURES = {}


CAPTIONS = yaml.safe_load(open(workflow.source_path("../report/captions.yaml"))) or {}


def register_figure(name, notebook, data, params=None):
    """Register figure ``name``: ``notebook`` turns the artifacts ``data`` into
    figures/<name>.pdf/.png and results/<name>/numbers.json (papermill ``params`` extra).
    """
    FIGURES[name] = {
        "notebook": notebook,
        "data": list(data),
        "params": dict(params or {}),
    }


def caption(figure):
    """The report caption of ``figure`` (workflow/report/captions.yaml)."""
    return CAPTIONS.get(figure, f"Figure ``{figure}``; see its executed notebook.")


def figure_outputs():
    out = []
    for name in FIGURES:
        out += [f"figures/{name}.pdf", f"figures/{name}.png"]
        out += [f"results/notebooks/{name}.ipynb", f"results/{name}/numbers.json"]
    return out


def print_claims_summary(path):
    """At the end of a run: how many claims, how many hold, and each failing one."""
    from pathlib import Path

    from adasde import claims as adasde_claims

    if Path(path).exists():
        print(adasde_claims.summary(adasde_claims.read_numbers(path)), flush=True)


def papermill_params(wildcards, output):
    """The ``-p name value`` arguments of a figure's notebook. The folders come from the job's
    own output paths, so they are right under a storage provider too (e.g. Kubernetes).
    """
    import os

    spec = FIGURES[wildcards.figure]
    params = {
        "figure": wildcards.figure,
        "results_dir": os.path.dirname(output.numbers),
        "figures_dir": os.path.dirname(output.pdf),
        **spec["params"],
    }
    return " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in params.items())
