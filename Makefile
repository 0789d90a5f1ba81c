# adasde: the two user commands, `make figures` and `make test`, bootstrap everything.
#   make figures                       default config (laptop scale, 2-core CPU)
#   make figures CONFIG=config/paper.yaml GPU=1   paper scale, JAX with CUDA
#   make test                          the test suite (includes a smoke run of the workflow)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
CONFIG ?= config/config.yaml
CORES ?= all
GPU ?= 0
PROFILE ?=
REQ := $(if $(filter 1,$(GPU)),envs/cuda.txt,envs/cpu.txt)
STAMP := $(VENV)/.installed-$(if $(filter 1,$(GPU)),cuda,cpu)
BIN := $(VENV)/bin
SNAKEMAKE_ARGS ?=

.PHONY: figures test venv bench report lint clean help

help:
	@echo "make figures [CONFIG=config/config.yaml] [GPU=1] [CORES=all]   build every figure"
	@echo "make test                                                     run the test suite"
	@echo "make bench | make report | make lint | make clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(REQ) envs/cpu.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(REQ)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

figures: $(STAMP)
	$(BIN)/snakemake figures --cores $(CORES) --configfile $(CONFIG) \
		$(if $(PROFILE),--profile $(PROFILE),$(if $(filter 1,$(GPU)),--profile workflow/profiles/gpu,)) \
		$(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

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
