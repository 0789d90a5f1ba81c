# adasde: the two user commands, `make figures` and `make test`, bootstrap everything.
#   make figures                       default config (laptop scale, 2-core CPU)
#   make figures CONFIG=config/paper.yaml GPU=1   paper scale, JAX with CUDA
#   make test                          the test suite (includes a smoke run of the workflow)
SHELL := /bin/bash
# The first Python 3.11-3.13 found (pyproject's requires-python), 3.11 preferred.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV ?= .venv
CONFIG ?= config/config.yaml
CORES ?= all
GPU ?= 0
PROFILE ?=
REQ := $(if $(filter 1,$(GPU)),envs/cuda.txt,envs/cpu.txt)
STAMP := $(VENV)/.installed-$(if $(filter 1,$(GPU)),cuda,cpu)
BIN := $(VENV)/bin
SNAKEMAKE_ARGS ?=
TARGETS ?= figures

.PHONY: figures test venv bench report lint clean help check-config unlock

help:
	@echo "make figures [CONFIG=config/config.yaml] [GPU=1] [CORES=all]   build every figure"
	@echo "make test                                                     run the test suite"
	@echo "make bench | make report | make lint | make clean"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: no Python 3.11-3.13 found (set PYTHON=/path/to/python3.x)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(REQ) envs/cpu.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(REQ)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# The config is read as plain data and validated (duplicate keys, tags, YTE templates, NaN,
# sizes, memory) before Snakemake sees it: Snakemake would evaluate a YTE template even under -n.
check-config: $(STAMP)
	@$(BIN)/python -m adasde.cli validate $(CONFIG) --quiet

# Resumes by default: every write is atomic and deterministic, so rerunning incomplete jobs is
# safe. A run killed hard (SIGKILL) leaves Snakemake's lock: the message names `make unlock`.
figures: check-config
	@$(BIN)/snakemake $(TARGETS) --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete \
		$(if $(PROFILE),--profile $(PROFILE),$(if $(filter 1,$(GPU)),--profile workflow/profiles/gpu,)) \
		$(SNAKEMAKE_ARGS) || { rc=$$?; \
		if ls .snakemake/locks/* >/dev/null 2>&1; then \
		echo "make: Snakemake holds a lock on this folder; unless another run is active here, a killed run left it: clear it with: make unlock CONFIG=$(CONFIG)" >&2; fi; \
		exit $$rc; }

unlock: $(STAMP)
	$(BIN)/snakemake figures --unlock --cores 1 --configfile $(CONFIG)

# pytest-xdist: one worker per logical CPU; the tests sharing the smoke run stay on one worker.
TEST_WORKERS ?= logical
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# Benchmarks against peers (bench/): writes results/bench.json and prints the table.
#   make bench               CPU, ~10 minutes on 2 cores   make bench GPU=1   on the GPU
#   make bench PIPELINE=1    also time `snakemake figures` from scratch + a notebook-only rerun
PIPELINE ?= 0
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(filter 1,$(GPU)),--device gpu,) \
		$(if $(filter 1,$(PIPELINE)),--pipeline,) $(BENCH_ARGS)

report: figures
	$(BIN)/snakemake figures --cores $(CORES) --configfile $(CONFIG) --report report.html
	@echo "wrote report.html"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --configfile config/smoke.yaml

clean:
	rm -rf results figures/*.pdf figures/*.png .snakemake report.html
