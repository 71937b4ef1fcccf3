# morphopotency: the two commands the README gives.
#   make demo   set up .venv (once) and run the workflow on the embedded demo cohort
#   make test   set up .venv (once) and run the test suite
# Both reuse .venv while pyproject.toml and constraints.txt are unchanged.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: setup demo test lint constraints clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,slurm,crops]"
	touch $(STAMP)

demo: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/snakemake --lint

# Re-pin after changing a range in pyproject.toml: installs the newest allowed versions, then freezes them.
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[dev,slurm,crops]"
	{ head -n 2 constraints.txt; .venv-pin/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-pin

clean-results:
	rm -rf results/demo results/provenance results/logs .snakemake
