# Shared set-up: config validation (before any job), the interpreter, and the figure registry.
import os
import shlex
import sys

import json

import yaml

from adasde import codehash
from adasde import config as adasde_config
from adasde import jobs as adasde_jobs

PY = shlex.quote(sys.executable)

# GPU profile: jobs sharing one device must not preallocate it; each may use 0.9 / (gpu slots).
# Snakemake 9 has no profile key for environment variables; jobs inherit these.
_gpu_slots = workflow.global_resources.get("gpu")
if _gpu_slots is not None and getattr(_gpu_slots, "value", _gpu_slots):
    _n = int(getattr(_gpu_slots, "value", _gpu_slots))
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / _n:.2f}")

# Jobs run, and code_hash() hashes, the library of this checkout (src/adasde beside the
# Snakefile), whatever adasde the interpreter has installed.
_SRC = os.path.join(workflow.basedir, "src")
if os.path.isdir(os.path.join(_SRC, "adasde")):
    _env = dict(os.environ)
    _env_path = [p for p in _env.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ.update({"PYTHONPATH": os.pathsep.join([_SRC] + _env_path)})
    codehash.set_source(os.path.join(_SRC, "adasde"))

try:
    # The files themselves first, with the strict loader (duplicate keys, tags, YTE); then the
    # merged config Snakemake built from them (and from --config), against the schema.
    for _path in workflow.configfiles:
        adasde_config.read_yaml(_path)
    adasde_config.validate(config, workflow.source_path("../../config/schema.yaml"))
except adasde_config.ConfigError as err:
    raise WorkflowError(str(err)) from None


def job_params(section, simulate=None, drop=(), only=None):
    """The ``job`` param of a simulation rule: exactly the values its job reads (the seed, the
    dtype and the section's ``simulate`` part, less the keys in ``drop``; a dotted key such as
    ``"grid.sde_substeps"`` drops a nested one), so that changing any of them reruns the job and
    changing anything else (e.g. ``analyse``) does not. ``only = (key, name)`` keeps just the
    entry ``name`` of the per-optimizer map at (dotted) ``key``: a job of one optimizer does
    not read the others' settings, and changing those does not rerun it. Canonical JSON
    (sorted keys): Snakemake compares params as text, and key order must not count.
    """
    sim = config[section]["simulate"] if simulate is None else simulate
    sim = adasde_jobs.without(sim, drop)
    if only is not None:
        sim = _only(sim, *only)
    return json.dumps(
        {
            "seed": config["seed"],
            "dtype": config["dtype"],
            "section": sim,
        },
        sort_keys=True,
    )


def _only(mapping, key, name):
    """``mapping`` with the map at (dotted) ``key`` cut down to its entry ``name``."""
    head, _, rest = key.partition(".")
    out = dict(mapping)
    if rest:
        out[head] = _only(out[head], rest, name)
    else:
        out[head] = {name: out[head][name]}
    return out


def sde_params(section, kind, drop=(), prefix="", optimizer=None):
    """:func:`job_params` of a job of wildcard ``kind`` (and ``optimizer``: only its entry of
    the section's ``optimizers``): the SDE-only keys (under ``prefix``, e.g. ``"grid."``) are
    dropped for ``kind == "optim"``."""
    extra = (
        tuple(prefix + k for k in adasde_jobs.SDE_ONLY_KEYS) if kind == "optim" else ()
    )
    only = None if optimizer is None else ("optimizers", optimizer)
    return job_params(section, drop=tuple(drop) + extra, only=only)


def code_hash(*modules):
    """The ``code`` param of a rule: a hash of the syntax trees of every adasde module that
    ``modules`` import (adasde.codehash), so that editing library code a job runs reruns it.
    """
    return codehash.code_hash(*modules)


# The `gpu` resource of every simulation/training job (config key gpus_per_job, default 1):
# the GPU profile caps concurrent GPU jobs with it; CPU cluster profiles set it to 0.
GPUS_PER_JOB = config["gpus_per_job"]

# FIGURES[name] = {"notebook": path, "inputs": {name: artifact .npz path}, "analyse": {...},
#                  "params": {extra papermill params}}
# One notebook job per figure name (several names may share a notebook file with other params).
# Each simulation section registers its figures in simulate.smk / train.smk; figures.smk runs
# every registered notebook with papermill.
FIGURES = {}


CAPTIONS = yaml.safe_load(open(workflow.source_path("../report/captions.yaml"))) or {}


def register_figure(name, notebook, data, analyse, params=None):
    """Register figure ``name``: ``notebook`` turns the artifacts ``data`` (.npz paths; each
    has its .meta.json beside it) into figures/<name>.pdf/.png and results/<name>/numbers.json
    with the settings ``analyse``. The notebook receives ``inputs`` ({stem: path}) and
    ``analyse`` and reads nothing else (papermill ``params`` extra).
    """
    FIGURES[name] = {
        "notebook": notebook,
        "inputs": (
            dict(data)
            if isinstance(data, dict)
            else {os.path.basename(p).removesuffix(".npz"): p for p in data}
        ),
        "analyse": dict(analyse),
        "params": dict(params or {}),
    }


def figure_inputs(figure):
    """Every file a figure's notebook reads: its artifacts and their provenance files."""
    paths = list(FIGURES[figure]["inputs"].values())
    return paths + [p.removesuffix(".npz") + ".meta.json" for p in paths]


def notebook_settings(figure):
    """The papermill parameters of a figure that are not paths of its own outputs, as one
    YAML (JSON) string: a plain function of the wildcards, so Snakemake reruns the notebook
    when any of them (an analysis setting, an input list) changes."""
    spec = FIGURES[figure]
    return json.dumps(
        {
            "figure": figure,
            "inputs": spec["inputs"],
            "analyse": spec["analyse"],
            **spec["params"],
        },
        sort_keys=True,
    )


def notebook_code(figure):
    """The ``code`` param of a figure's notebook: the adasde modules its cells import."""
    return code_hash(*codehash.notebook_imports(FIGURES[figure]["notebook"]))


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


def papermill_dirs(wildcards, output):
    """The ``-p results_dir/figures_dir`` arguments: the job's own output folders, so they are
    right under a storage provider too (e.g. Kubernetes)."""
    import os

    return (
        f"-p results_dir {shlex.quote(os.path.dirname(output.numbers))} "
        f"-p figures_dir {shlex.quote(os.path.dirname(output.pdf))}"
    )
