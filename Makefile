# Two entry points on a fresh machine (see README): `make study` and `make test`.
# Both create the virtual environment first; it is rebuilt when pyproject.toml changes.
SHELL := /bin/bash
VENV ?= .venv
# any Python 3.11-3.13 (make env PYTHON=python3.12)
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the optional extras the test suite exercises (symaudit audit on real neuraloperator FNOs);
# `make study` does not need them, and `pip install symaudit` never pulls them
EXTRAS_STAMP := $(VENV)/.installed-extras
CORES ?= 2
# torch is installed BEFORE anything that depends on torch: with no torch present pip resolves
# `torch==2.13.0` from PyPI to the CUDA build (several GB), even on a machine without a GPU.
# Default: the CPU build, from PyTorch's CPU wheel index or any index / wheel directory pip is
# configured with.  A CUDA build (GPU nodes): make env TORCH=torch==2.13.0 TORCH_INDEX=
# (PyPI's Linux wheel is the CUDA build) or TORCH_INDEX=https://download.pytorch.org/whl/cu128.
# macOS has no +cpu wheels: make env TORCH=torch==2.13.0 TORCH_INDEX=
TORCH ?= torch==2.13.0+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=

.PHONY: env study conservation test lint bench clean-results

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || { \
	  echo "make env: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); symaudit needs 3.11-3.13 (make env PYTHON=python3.12)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# TORCH_INDEX where it answers; else (an offline site, a local mirror) pip's configured sources
	if [ -n "$(TORCH_INDEX)" ] && $(PY) -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=20)" "$(TORCH_INDEX)/" 2>/dev/null; then \
	  $(PY) -m pip install -q --extra-index-url "$(TORCH_INDEX)" "$(TORCH)"; \
	else \
	  echo "make env: TORCH_INDEX=$(TORCH_INDEX) does not answer; installing $(TORCH) from pip's configured sources"; \
	  $(PY) -m pip install -q "$(TORCH)"; \
	fi
	$(PY) -m pip install -q -e '.[test]'
	@# a CUDA build without a visible GPU is normal on a login node: say so, do not fail
	@$(PY) -c "import torch; cuda = torch.version.cuda; n = torch.cuda.device_count() if cuda else 0; \
	  print(f'make env: torch {torch.__version__}, ' + (f'CUDA {cuda} build, {n} GPU(s) visible' if cuda else 'CPU build')); \
	  cuda and not n and print('make env: warning: a CUDA build of torch but no GPU visible here (fine on a login node; on a CPU-only machine use the default TORCH)')"
	touch $@

env: $(STAMP)

# local runs: the Slurm executor plugin's start-up probe (`scontrol show config`, 10 s when no
# controller answers) fails at once against an empty Slurm config (workflow/profiles/local/no-slurm.conf)
LOCAL_ENV := SLURM_CONF=$(CURDIR)/workflow/profiles/local/no-slurm.conf

$(EXTRAS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,neuraloperator]'
	touch $@

## the embedded quick study, end to end (data -> train -> influence/equivariance -> report.html)
study: env
	$(LOCAL_ENV) $(VENV)/bin/snakemake --workflow-profile workflow/profiles/local --cores $(CORES) all

## the conservation study alone (docs/conservation.md): findings table, figure, report.html
conservation: env
	$(LOCAL_ENV) $(VENV)/bin/snakemake --configfile config/conservation.yaml --workflow-profile workflow/profiles/local --cores $(CORES)

## the whole test suite (what .ci/run calls)
test: env $(EXTRAS_STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
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
