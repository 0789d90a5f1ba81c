"""The Kubernetes profile (workflow/profiles/kubernetes): a dry run of the smoke workflow.

There is no Kubernetes cluster in CI, so this checks what can be checked without one: the
profile parses with the installed executor plugin and storage plugin, the DAG is the same as a
local dry run's, every input and output goes through the storage provider, and no pod would ask
for a GPU. KUBECONFIG points at a file that does not exist, so no real cluster can be contacted.
The storage prefix (the checkout's path on the shared volume) is the one site-specific setting
given on the command line, here the temporary copy of the checkout.
"""

from __future__ import annotations

import re

import yaml

from tests.test_slurm import (
    REPO,
    copy_checkout,
    gpu_requests,
    job_stats,
    snakemake_cmd,
    workflow_env,
)

PROFILE = "workflow/profiles/kubernetes"


def _run(cmd, cwd, env):
    import subprocess

    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-4000:]}"
    return out


def test_kubernetes_profile_dry_run(tmp_path):
    work = copy_checkout(tmp_path / "repo")
    env = workflow_env(work)
    env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    local = _run(snakemake_cmd("--cores", "1", "--dry-run"), work, env)
    out = _run(snakemake_cmd("--profile", PROFILE, "--default-storage-prefix", str(work),
                             "--dry-run"), work, env)
    # "Using profiles ... and workflow specific profile profiles/default" with the default one
    assert re.search(r"Using profiles? workflow/profiles/kubernetes\b", out), out[-2000:]
    stats = job_stats(out)
    assert stats == job_stats(local), "the profile changed the DAG"
    # Inputs and outputs are storage objects under the prefix (no shared file system in pods).
    outputs = re.findall(r"^\s+output: (.*)$", out, re.M)
    assert outputs and all("(send to storage)" in o for o in outputs)
    assert all(f"{work}/" in o for o in outputs)
    requests = gpu_requests(out)
    gpu_rules = sorted(k for k, v in requests.items() if v)
    assert requests and not gpu_rules, (
        f"rules request GPUs under {PROFILE}: {gpu_rules}; use gpu=GPUS_PER_JOB"
    )
    # The plugin refuses a `gpu` resource without a vendor, even gpu=0.
    for line in re.findall(r"^\s+resources: (.*gpu=.*)$", out, re.M):
        assert "gpu_manufacturer=nvidia" in line

    cfg = yaml.safe_load((REPO / PROFILE / "config.yaml").read_text())
    assert cfg["executor"] == "kubernetes"
    assert cfg["default-storage-provider"] == "fs"
    mount = cfg["default-storage-prefix"]
    assert any(v.split(":", 1)[1] == mount for v in cfg["kubernetes-persistent-volumes"]), (
        "the storage prefix must be the path where the shared volume is mounted in the pods"
    )
    assert (REPO / PROFILE / "Dockerfile").is_file()
