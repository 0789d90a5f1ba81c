"""The SLURM profile (workflow/profiles/slurm) on a real single-node SLURM cluster.

``test_smoke_pipeline_on_slurm`` installs Debian's ``slurm-wlm`` and ``munge`` when they are
missing, writes /etc/slurm/slurm.conf for this host (one node with this machine's CPUs and memory,
no accounting database), starts munged (unless one already answers), slurmctld and slurmd, runs

    snakemake figures/signsgd_phases.pdf figures/heavy_tails.pdf \
        --profile workflow/profiles/slurm --configfile config/smoke.yaml

in a temporary copy of the checkout (two figures: their simulation and notebook jobs exercise
the profile like every other rule's, at a fraction of the whole smoke DAG), checks that every
job of that DAG was submitted with sbatch and completed on the cluster, compares the artifacts
(.npz) and numbers.json byte for byte with the session's local smoke run (``smoke_run`` of
tests/conftest.py), and stops the daemons it started (a previous /etc/slurm/slurm.conf is
restored). It needs root (CI runs as root).

The config must sit at /etc/slurm/slurm.conf: the plugin's job step strips SLURM_* variables
(SLURM_CONF included) before calling srun inside the allocation, so srun reads the default path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = "workflow/profiles/slurm"
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by adasde tests/test_slurm.py"
# Fixed, so that daemons left behind by an interrupted run are found (and stopped) next time.
STATE = Path("/var/tmp/adasde-slurm-test")
PARTITION = "adasde"
DEBIAN_PACKAGES = ["slurm-wlm", "munge"]
SLURM_TOOLS = ["slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel", "munged",
               "munge", "unmunge"]
SNAKEMAKE_TIMEOUT_S = 1800


# ------------------------------------------------------------------------------------ helpers
def copy_checkout(dst: Path) -> Path:
    """Copy the checkout's files (tracked, and untracked but not ignored) to ``dst``: no results,
    no .snakemake, so a run there neither sees nor disturbs runs in the checkout."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode()
    for rel in filter(None, out.split("\0")):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def workflow_env(workdir: Path) -> dict:
    """Environment for a snakemake run in ``workdir``: that copy's sources shadow the editable
    install of the checkout; no SLURM variables leak in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env["PYTHONHASHSEED"] = "0"  # as tests/test_workflow.py; sbatch --export=ALL passes it on
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir / "src"),
                                                      env.get("PYTHONPATH")]))
    return env


# The SLURM run builds two figures of the smoke config (their simulation and notebook jobs go
# through sbatch like every other rule's); the session's local smoke run (``smoke_run``) is the
# byte-for-byte reference, so the suite runs the smoke pipeline once and not twice more here.
SLURM_TARGETS = ("figures/signsgd_phases.pdf", "figures/heavy_tails.pdf")


def snakemake_cmd(*args, targets=("figures",)) -> list[str]:
    return [sys.executable, "-m", "snakemake", *targets, "--configfile", "config/smoke.yaml",
            *args]


def job_stats(log: str) -> Counter:
    """The ``Job stats`` table that snakemake prints before running: rule -> number of jobs."""
    m = re.search(r"^job\s+count\n-+\s+-+\n(.*?)^total\s+(\d+)", log, re.M | re.S)
    assert m, f"no job stats table in the snakemake log:\n{log[-3000:]}"
    stats = Counter()
    for line in m.group(1).strip().splitlines():
        rule, count = line.split()
        stats[rule] = int(count)
    assert sum(stats.values()) == int(m.group(2))
    return stats


NORUN_RULES = """
import json
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    wf = api.workflow(ResourceSettings(), ConfigSettings(configfiles=[Path("config/smoke.yaml")]),
                      snakefile=Path("Snakefile"))
    print(json.dumps(sorted(r.name for r in wf._workflow.rules if r.norun)))
"""


def norun_rules(workdir: Path) -> set[str]:
    """Rules without shell/script/run (pure targets such as ``figures``): Snakemake completes
    their jobs on the submit host without running anything, so they are never submitted.
    (Read from the parsed workflow; ``_workflow`` is internal API of the pinned Snakemake.)"""
    r = _run([sys.executable, "-c", NORUN_RULES], cwd=workdir, env=workflow_env(workdir),
             timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


def compared_outputs(results: Path) -> list[str]:
    """Outputs that must be byte-identical between runs: artifacts, numbers, claims."""
    files = [*results.rglob("*.npz"), *results.rglob("numbers.json"), results / "claims.json"]
    return sorted(str(p.relative_to(results)) for p in files if p.is_file())


def gpu_requests(dry_run_log: str) -> dict[str, int]:
    """rule -> largest ``gpu`` resource among its jobs, from a dry run's job listing."""
    out: dict[str, int] = {}
    rule = None
    for line in dry_run_log.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif rule and (m := re.match(r"^\s+resources: (.*)$", line)):
            if g := re.search(r"(?:^|, )gpus?=(\d+)", m.group(1)):
                out[rule] = max(out.get(rule, 0), int(g.group(1)))
    return out


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _alive(pid: int, name: str) -> bool:
    """Whether process ``pid`` exists and runs the program ``name``."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name[:15]
    except OSError:
        return False


def _pids_named(name: str) -> list[int]:
    """Pids of the processes running the program ``name`` (from /proc; no procps needed)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == name[:15]:
                pids.append(int(comm.parent.name))
    return pids


def _stop(pid: int, name: str, timeout: float = 20.0) -> None:
    """SIGTERM one process we started (by pid), then SIGKILL if it outlives ``timeout``."""
    if not _alive(pid, name):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid, name):
        os.kill(pid, signal.SIGKILL)


def _pidfile(name: str) -> Path:
    return STATE / f"{name}.pid"


def _read_pid(name: str) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(_pidfile(name).read_text().split()[0])
    return None


# ------------------------------------------------------------------------------- cluster set-up
def ensure_packages() -> None:
    """apt-get install slurm-wlm munge (non-interactive) unless the tools are already there.
    A temporary policy-rc.d keeps the packages from starting their own daemons."""
    if all(shutil.which(t) for t in SLURM_TOOLS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        for cmd in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", *DEBIAN_PACKAGES]):
            r = _run(cmd, env=env, timeout=900)
            assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}{r.stderr}"
    finally:
        if own_policy:
            policy.unlink()
    missing = [t for t in SLURM_TOOLS if not shutil.which(t)]
    assert not missing, f"installed {DEBIAN_PACKAGES} but {missing} are not on PATH"


def ensure_munge() -> int | None:
    """Make sure a munged answers on the default socket; returns the pid if we started it."""
    if _run("munge -n | unmunge", shell=True).returncode == 0:
        return None
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        r = _run(["mungekey", "--create", f"--keyfile={key}"])
        assert r.returncode == 0, r.stderr
        shutil.chown(key, "munge", "munge")
        key.chmod(0o400)
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    pidfile = run_dir / "munged.pid"
    r = _run(["runuser", "-u", "munge", "--", "munged", f"--pid-file={pidfile}"])
    assert r.returncode == 0, f"munged did not start: {r.stdout}{r.stderr}"
    for _ in range(50):
        if _run("munge -n | unmunge", shell=True).returncode == 0:
            return int(pidfile.read_text().split()[0])
        time.sleep(0.1)
    raise AssertionError("munged started but munge -n | unmunge keeps failing")


def node_line() -> str:
    """This host as a SLURM node (``slurmd -C``: CPUs, sockets, cores, threads, RealMemory)."""
    r = _run(["slurmd", "-C"])
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("NodeName="))
    return f"{line} NodeAddr=127.0.0.1 State=UNKNOWN"


def slurm_conf(host: str) -> str:
    return f"""{MARKER}
# Single-node cluster for the test suite; no accounting database (sacct is unavailable).
ClusterName=adasde
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={STATE}/state
SlurmdSpoolDir={STATE}/spool
SlurmctldPidFile={_pidfile("slurmctld")}
SlurmdPidFile={_pidfile("slurmd")}
SlurmctldLogFile={STATE}/slurmctld.log
SlurmdLogFile={STATE}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
# squeue (the profile's status command, and this test) lists finished jobs for MinJobAge
# seconds: an hour, longer than the whole smoke run on a loaded 2-core machine.
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
{node_line()}
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def stop_stale_daemons() -> None:
    """Stop daemons that an interrupted earlier run of this test left behind (by pid file);
    refuse to touch a SLURM that this test did not start."""
    for name in ("slurmd", "slurmctld"):
        pid = _read_pid(name)
        if pid is not None:
            _stop(pid, name)
    for name in ("slurmctld", "slurmd"):
        pids = _pids_named(name)
        assert not pids, (
            f"a {name} not started by this test is running (pids {pids}); "
            "stop it before running tests/test_slurm.py"
        )


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM cluster (slurmctld + slurmd on this host, munge auth)."""
    if os.geteuid() != 0:
        pytest.fail("tests/test_slurm.py sets up a SLURM cluster and must run as root "
                    "(deselect it with -m 'not slow')")
    ensure_packages()
    stop_stale_daemons()
    shutil.rmtree(STATE, ignore_errors=True)
    for sub in ("state", "spool"):
        (STATE / sub).mkdir(parents=True)

    host = socket.gethostname().split(".")[0]
    backup = None
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        backup = SLURM_CONF.read_text()
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(host))

    munged_pid = None
    started: list[str] = []
    try:
        munged_pid = ensure_munge()
        for daemon in ("slurmctld", "slurmd"):
            r = _run([daemon], timeout=60)
            assert r.returncode == 0, f"{daemon} did not start: {r.stdout}{r.stderr}"
            started.append(daemon)
        wait_for(lambda: _run(["sinfo", "-h", "-N", "-o", "%T"]).stdout.strip() == "idle",
                 60, "the node to become idle")
        yield {"host": host, "state": STATE}
    finally:
        if started:
            _run(["scancel", "--partition", PARTITION], timeout=30)
            with contextlib.suppress(AssertionError):
                wait_for(lambda: not _run(["squeue", "-h", "--states=RUNNING,PENDING,COMPLETING",
                                           "-o", "%i"]).stdout.strip(), 30, "jobs to end")
        for daemon in reversed(started):
            pid = _read_pid(daemon)
            if pid is not None:
                _stop(pid, daemon)
        if munged_pid is not None:
            _stop(munged_pid, "munged")
        if backup is not None:
            SLURM_CONF.write_text(backup)
        elif SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
            SLURM_CONF.unlink()


# --------------------------------------------------------------------------------------- tests
def test_profile_requests_no_gpu(tmp_path):
    """Every rule that declares a GPU (``resources: gpu=1``) must be set to gpu=0 in the SLURM
    profile (it runs the CPU build): a dry run with the profile lists each job's resources."""
    work = copy_checkout(tmp_path / "repo")
    plain = _run(snakemake_cmd("--cores", "1", "--dry-run", "--forceall"), cwd=work,
                 env=workflow_env(work), timeout=300)
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
    assert gpu_requests(plain.stdout), "dry-run listing without resources: parser out of date?"
    r = _run(snakemake_cmd("--profile", PROFILE, "--dry-run", "--forceall"), cwd=work,
             env=workflow_env(work), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    requests = gpu_requests(r.stdout)
    assert requests, "no job resources in the dry-run output"
    gpu_rules = sorted(k for k, v in requests.items() if v)
    assert not gpu_rules, (
        f"rules request GPUs under {PROFILE}: {gpu_rules}; use gpu=GPUS_PER_JOB"
    )
    cfg = yaml.safe_load((REPO / PROFILE / "config.yaml").read_text())
    assert cfg["executor"] == "slurm"
    assert cfg["slurm-status-command"] == "squeue" and cfg["slurm-no-account"] is True


@pytest.mark.slow
def test_smoke_pipeline_on_slurm(slurm_cluster, smoke_run, tmp_path):
    """Two smoke figures through sbatch on a real cluster equal the local smoke run, byte for
    byte."""
    local = smoke_run[0]
    remote = copy_checkout(tmp_path / "slurm")
    t0 = time.perf_counter()
    r = _run(snakemake_cmd("--profile", PROFILE,
                           # test-scale polling (the profile's 10 s suits real clusters)
                           "--slurm-init-seconds-before-status-checks", "2",
                           targets=SLURM_TARGETS),
             cwd=remote, env=workflow_env(remote), timeout=SNAKEMAKE_TIMEOUT_S)
    slurm_wall = time.perf_counter() - t0
    log = r.stdout + r.stderr
    slurm_logs = "\n".join(
        f"--- {p}\n{p.read_text()[-1500:]}"
        for p in sorted((remote / ".snakemake" / "slurm_logs").rglob("*.log"))
    ) if (remote / ".snakemake" / "slurm_logs").exists() else ""
    assert r.returncode == 0, (
        f"snakemake on SLURM failed:\n{log[-6000:]}\n{slurm_logs[-6000:]}\n"
        f"slurmctld log:\n{(STATE / 'slurmctld.log').read_text()[-2000:]}"
    )

    # Every job of the DAG was submitted with sbatch and ran to completion on the cluster.
    stats = job_stats(log)
    assert {"signsgd_phases_simulate", "heavy_tails_simulate"} <= set(stats), stats
    norun = norun_rules(remote)
    on_host = set(re.findall(r"^localrule (\w+):", log, re.M))
    assert on_host <= norun, f"jobs of {sorted(on_host - norun)} ran on the submit host"
    stats = Counter({rule: n for rule, n in stats.items() if rule not in norun})
    n_jobs = sum(stats.values())
    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log)
    assert len(submitted) == n_jobs, f"{len(submitted)} sbatch submissions for {n_jobs} jobs"
    assert len({s for _, s in submitted}) == n_jobs
    queue = _run(["squeue", "-h", "--states=all", "-o", "%i|%T|%k"]).stdout.splitlines()
    jobs = {i: (state, comment) for i, state, comment in (q.split("|", 2) for q in queue)}
    for _, slurm_id in submitted:
        assert slurm_id in jobs, f"SLURM job {slurm_id} unknown to the controller"
        assert jobs[slurm_id][0] == "COMPLETED", f"SLURM job {slurm_id}: {jobs[slurm_id]}"
    # The plugin's --comment names the rule of each batch job: the rules match the DAG.
    ran = Counter(re.match(r"rule_(.+?)(?:_wildcards_.*)?$", jobs[s][1]).group(1)
                  for _, s in submitted)
    assert ran == stats, f"rules run on SLURM {dict(ran)} != DAG {dict(stats)}"
    ctld = (STATE / "slurmctld.log").read_text()
    batch_ids = set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld))
    assert {s for _, s in submitted} <= batch_ids

    # Same outputs as the local smoke run, byte for byte.
    names = compared_outputs(remote / "results")
    assert set(names) <= set(compared_outputs(local / "results"))
    for fig in ("signsgd_phases", "heavy_tails"):
        assert f"{fig}/numbers.json" in names
        assert any(n.startswith(f"{fig}/") and n.endswith(".npz") for n in names)
    differ = [n for n in names
              if (remote / "results" / n).read_bytes() != (local / "results" / n).read_bytes()]
    assert not differ, f"SLURM and local outputs differ: {differ}"
    figures = sorted(p.name for p in (remote / "figures").glob("*.p*"))
    assert figures == sorted(f"{f}.{e}" for f in ("heavy_tails", "signsgd_phases")
                             for e in ("pdf", "png"))
    print(f"SLURM smoke run: {n_jobs} jobs through sbatch in {slurm_wall:.0f} s "
          f"(+ {sorted(norun)} on the submit host: no command)")
