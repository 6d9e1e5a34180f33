# Two entry points on a fresh machine (see README): `make study` and `make test`.
# Both create the virtual environment first; it is rebuilt when pyproject.toml changes.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= 2
# The CPU wheel of torch must be installed BEFORE anything that depends on torch: with no torch
# present pip resolves a bare `torch` requirement to the newest CUDA build (several GB).
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: env study conservation test lint bench clean-results

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -c "import torch; assert not torch.version.cuda or torch.cuda.is_available(), 'a CUDA torch was installed on a CPU machine'"
	touch $@

env: $(STAMP)

## the embedded quick study, end to end (data -> train -> influence/equivariance -> report.html)
study: env
	$(VENV)/bin/snakemake --workflow-profile workflow/profiles/local --cores $(CORES) all

## the conservation study alone (docs/conservation.md): findings table, figure, report.html
conservation: env
	$(VENV)/bin/snakemake --configfile config/conservation.yaml --workflow-profile workflow/profiles/local --cores $(CORES)

## the whole test suite (what .ci/run calls)
test: env
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/snakefmt --check Snakefile workflow/rules
	$(VENV)/bin/snakemake --lint --cores 1

## benchmarks: the peer libraries they compare against are installed here, not in the test env
bench: env
	$(PY) -m pip install -q --no-deps curvlinops-for-pytorch backpack-for-pytorch einops einconv opt-einsum linear-operator unfoldnd
	$(PY) bench/generators.py
	$(PY) bench/train.py
	$(PY) bench/loader.py
	$(PY) bench/influence.py
	$(PY) bench/equivariance.py

clean-results:
	rm -rf results/quick results/tiny results/conservation
