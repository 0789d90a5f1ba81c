#!/usr/bin/env bash
# One short device check, sized to finish within ~8 minutes on one H200:
#   1. the benchmark on the GPU (python -m bench.run --device gpu): SDE throughput against
#      diffrax and the RNG bound, the grid against optax loops, the recompilation check;
#   2. the paper-scale noise_resilience simulation jobs (config/paper.yaml, 8 jobs) through
#      Snakemake with the GPU profile (workflow/profiles/gpu);
#   3. the table of (1) and the wall time of every job of (2).
# Usage (from anywhere):
#   bench/device.sh          GPU machine. Python: $ADASDE_PYTHON, else .venv-cuda, else .venv or
#                            python3 if its JAX sees a GPU, else a fresh .venv-cuda installed from
#                            envs/cuda.txt (needs the package index or PIP_FIND_LINKS).
#   bench/device.sh --cpu    The same path on a CPU with .venv: tiny benchmark sizes
#                            (--quick) and config/smoke.yaml, to check the script itself.
# Outputs go to $OUT if set (the device runner's output folder), else results/device/:
# bench.json, bench.txt, sim_times.txt, and the jobs' logs and metadata.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE=gpu
if [[ "${1:-}" == "--cpu" ]]; then MODE=cpu; fi
DEST="${OUT:-results/device}"
mkdir -p "$DEST"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-300}"
SIM_TIMEOUT="${SIM_TIMEOUT:-120}"
START=$(date +%s)
log() { echo "[device $(($(date +%s) - START))s] $*" >&2; }

sees_gpu() {  # does this interpreter have our dependencies and a JAX that sees a GPU?
  "$1" -c "import jax, diffrax, optax, snakemake, adasde; assert jax.devices('gpu')" \
    >/dev/null 2>&1
}

pick_python() {
  if [[ -n "${ADASDE_PYTHON:-}" ]]; then echo "$ADASDE_PYTHON"; return; fi
  if [[ "$MODE" == cpu ]]; then echo ".venv/bin/python"; return; fi
  local p
  for p in .venv-cuda/bin/python .venv/bin/python "$(command -v python3 || true)"; do
    if [[ -n "$p" && -x "$p" ]] && sees_gpu "$p"; then echo "$p"; return; fi
  done
  log "no Python with CUDA JAX found: installing envs/cuda.txt into .venv-cuda"
  local base
  base="$(command -v python3.11 || command -v python3)"
  if ! { "$base" -m venv .venv-cuda && .venv-cuda/bin/python -m pip install --quiet -r envs/cuda.txt \
         && .venv-cuda/bin/python -m pip install --quiet --no-deps -e .; } >&2; then
    log "installing envs/cuda.txt failed (no package index? set PIP_FIND_LINKS to a wheelhouse,"
    log "or ADASDE_PYTHON to an interpreter with this project's dependencies and CUDA JAX)"
    exit 3
  fi
  echo ".venv-cuda/bin/python"
}

# this checkout's src/ (and bench/) first, whatever an editable install points at
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="$(pick_python)"
log "python: $PY ($("$PY" -c 'import jax; print(jax.__version__, jax.devices())' 2>&1 | tail -1))"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
fi

if [[ "$MODE" == gpu ]]; then
  BENCH_FLAGS=(--device gpu)
  CONFIG=config/paper.yaml
else
  BENCH_FLAGS=(--device cpu --quick)
  CONFIG=config/smoke.yaml
fi

# 1. benchmark (results are written after every comparison, so a timeout keeps what ran)
log "benchmark: $PY -m bench.run ${BENCH_FLAGS[*]}"
rc_bench=0
timeout "$BENCH_TIMEOUT" "$PY" -m bench.run "${BENCH_FLAGS[@]}" --out "$DEST/bench.json" \
  > "$DEST/bench.txt" 2> "$DEST/bench.err" || rc_bench=$?
if [[ $rc_bench -ne 0 ]]; then
  log "benchmark exit status $rc_bench (124: timed out after ${BENCH_TIMEOUT}s)"
  tail -20 "$DEST/bench.err" >&2 || true
fi

# 2. paper-scale noise_resilience jobs with the GPU profile; concurrent JAX processes on one
#    device must not preallocate it (the profile allows 2 GPU jobs at a time)
mapfile -t TARGETS < <("$PY" - "$CONFIG" <<'EOF'
import sys, yaml
sec = yaml.safe_load(open(sys.argv[1]))["noise_resilience"]
for opt in sec["optimizers"]:
    for kind in ("optim", "sde"):
        print(f"results/noise_resilience/{opt}_{kind}.npz")
EOF
)
log "simulations: ${#TARGETS[@]} noise_resilience jobs, $CONFIG, profile workflow/profiles/gpu"
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.45}"
rc_sim=0
sim_t0=$(date +%s)
timeout "$SIM_TIMEOUT" "$PY" -m snakemake --profile workflow/profiles/gpu --configfile "$CONFIG" \
  --force "${TARGETS[@]}" > "$DEST/snakemake.log" 2>&1 || rc_sim=$?
sim_wall=$(($(date +%s) - sim_t0))
if [[ $rc_sim -ne 0 ]]; then
  log "snakemake exit status $rc_sim (124: timed out after ${SIM_TIMEOUT}s)"
  tail -30 "$DEST/snakemake.log" >&2 || true
fi
mkdir -p "$DEST/logs" "$DEST/meta"
cp results/logs/noise_resilience/*.log "$DEST/logs/" 2>/dev/null || true
cp results/noise_resilience/*.meta.json "$DEST/meta/" 2>/dev/null || true
{
  echo "noise_resilience, $CONFIG: snakemake wall ${sim_wall} s (exit $rc_sim); per job:"
  for f in results/logs/noise_resilience/*.log; do
    [[ -e "$f" ]] || continue
    printf '  %-22s %s\n' "$(basename "$f" .log)" \
      "$(grep -h -E 'done in|job wall time' "$f" | sed 's/^\[adasde\] //' | paste -sd '|' - \
        | sed 's/|/; /g')"
  done
} > "$DEST/sim_times.txt"

# 3. the table
echo "== benchmark ($MODE, $("$PY" -c 'from bench.common import device_name; print(device_name())' 2>/dev/null)) =="
if [[ -s "$DEST/bench.json" ]]; then
  "$PY" -c "import json, sys; from bench.common import table; \
print(table(json.load(open(sys.argv[1]))))" "$DEST/bench.json"
else
  echo "(no benchmark records)"
fi
echo "== simulations =="
cat "$DEST/sim_times.txt"
log "total $(($(date +%s) - START)) s; outputs in $DEST"
[[ $rc_bench -eq 0 && $rc_sim -eq 0 ]]
