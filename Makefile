# morphopotency: the two commands the README gives.
#   make demo   set up .venv (once) and run the workflow on the embedded demo cohort
#   make test   set up .venv (once), install Chromium and poppler for the report tests (once), check style
#               (ruff, snakefmt), run the tests
# Both reuse .venv while pyproject.toml and constraints.txt are unchanged.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# The cellpose extra (imaging.segmenter: cellpose) without its declared deps: pyproject.toml says why; and
# stardist as files only (bench/segmentation_seg.py reads the annotated nuclei frame it ships, never imports it).
CELLPOSE := cellpose fastremap fill-voids roifile natsort stardist
# apt-get needs root: run it directly as root (CI), through sudo otherwise.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser demo test lint constraints clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,slurm,crops,olympus,zarr]"
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt $(CELLPOSE)
	touch $(STAMP)

# The demo ends by saying where the QC record's PDF is, or that Chromium is missing and `make browser`
# installs it: the demo needs no root, so it does not install system packages itself (README says why).
demo: setup
	$(BIN)/snakemake --cores $(CORES)
	@$(BIN)/python -m morphopotency.report.pdf .

# Debian's chromium + chromium-driver, for the tests that open the reports in a headless browser and print
# the QC report's PDF, and poppler-utils (pdftotext, pdfinfo) for the test that reads that PDF.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v pdftotext >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver poppler-utils; }

# Style first (seconds), then the tests. ruff: lint and format of the Python code; snakefmt: the Snakemake files.
test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/snakemake --lint

# Re-pin after changing a range in pyproject.toml: installs the newest allowed versions, then freezes them.
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[dev,slurm,crops,olympus,zarr]"
	.venv-pin/bin/python -m pip install --quiet --no-deps $(CELLPOSE)
	{ head -n 2 constraints.txt; .venv-pin/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-pin

clean-results:
	rm -rf results/demo results/provenance results/logs .snakemake
