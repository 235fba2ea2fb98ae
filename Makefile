# The study's commands. `make report` and `make test` set everything up themselves on a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Reinstalls only when the pins (or the package metadata) change: Make compares this stamp's time with theirs.
STAMP := $(VENV)/.installed
PROFILES ?= host host-1t
PROFILE ?= host
ONLY ?=
FORCE ?=
MODEL ?=
ARGS ?=
export FORCE
# nbval compares the notebooks' committed outputs with a run against the committed results fixture
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

# The registry's connection drops now and then in the middle of a wheel: pip resumes it (--resume-retries), and the
# whole install is tried three times, since a wheel already downloaded is taken from pip's cache on the next try.
# A full disk is not retried: it names itself (pip's log is kept in $(VENV)/pip.log) and stops at once.
define pip_install
for attempt in 1 2 3; do $(PY) -m pip install --quiet $(1) 2>&1 | tee $(VENV)/pip.log; [ $${PIPESTATUS[0]} -eq 0 ] && break; \
  if grep -q 'No space left on device' $(VENV)/pip.log; then echo "error: pip install ran out of disk space in $$(df -P $(VENV) | awk 'NR==2 {print $$6}') ($$(df -Pk $(VENV) | awk 'NR==2 {printf "%.1f", $$4/1048576}') GB left; the pinned stack takes about $(VENV_GB) GB). Fix: free disk space (old clones: make distclean), then run the same make command again" >&2; exit 1; fi; \
  if [ $$attempt -eq 3 ]; then echo "error: pip install $(1) failed 3 times, see above (usually the network). Fix: check the connection to the package registry, then run the same make command again" >&2; exit 1; fi; \
  echo "pip install failed (attempt $$attempt of 3, see above); trying again in 20 s" >&2; sleep 20; done
endef
# What a fresh .venv takes on disk (8.8 GB measured on x86_64, torch's CUDA build from PyPI being 4 GB of it), with room
# for pip's unpacking: checked before a fresh install, so a full disk fails in a second instead of minutes in.
VENV_GB := 10

.DEFAULT_GOAL := help
.PHONY: help env test report compare bench convert validate phases lab notebooks fixture lock clean distclean

help: ## list every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILES='$(PROFILES)' (report), PROFILE=$(PROFILE) (bench, convert), FORCE=1 (redo measured work)"

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: Python 3.11 is needed, found " + sys.version.split()[0] + ". Fix: make PYTHON=/path/to/python3.11")'
	@test -x $(PY) || { free_gb=$$(df -Pk . | awk 'NR==2 {printf "%d", $$4/1048576}'); \
	  if [ $$free_gb -lt $(VENV_GB) ]; then echo "error: a fresh $(VENV) takes about $(VENV_GB) GB and only $$free_gb GB are free on $$(df -P . | awk 'NR==2 {print $$6}'). Fix: free disk space (old clones: make distclean), then run the same make command again" >&2; exit 1; fi; \
	  $(PYTHON) -m venv $(VENV); }
	$(call pip_install,"pip==26.3")
	$(call pip_install,--resume-retries 20 -r requirements.lock)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name study --display-name "Python 3 (study)" >/dev/null
	@touch $(STAMP)

env: $(STAMP) ## create .venv with Python 3.11 and install the pinned stack (when missing or the pins changed)

# The tests run on every CPU (pytest-xdist; a notebook's cells and the tiny study's readers each stay on one worker,
# see tests/conftest.py), except those marked serial, which time something and run alone afterwards.
test: $(STAMP) ## unit tests + nbval of every notebook against the committed results fixture (tests/fixtures)
	$(PY) -m pytest tests notebooks $(NBVAL) -n auto --dist loadgroup -m "not serial" --durations=15
	$(PY) -m pytest tests -m serial

report: $(STAMP) ## measure what is missing, run every notebook for each of PROFILES, write reports/index.html
	$(PY) -m study report --profiles $(PROFILES)

compare: $(STAMP) ## your model on every runtime, a table and the pick: make compare MODEL=path/to/model.onnx [ARGS="--threads 1,all"]
	@test -n "$(MODEL)" || { echo "error: no model given. Fix: make compare MODEL=path/to/model.onnx" >&2; exit 2; }
	$(PY) -m study compare "$(MODEL)" $(ARGS)

bench: $(STAMP) ## measure one profile (PROFILE=name, ONLY=comma-separated phases: make phases) into results/<profile>/
	$(PY) -m study bench --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

convert: $(STAMP) ## export the models of one profile (PROFILE=name) into artifacts/
	$(PY) -m study convert --profile $(PROFILE)

validate: $(STAMP) ## check every device profile in params/profiles against the schema
	$(PY) -m study validate

phases: $(STAMP) ## list the phases of a bench run (the registry in src/study/phases/__init__.py)
	@$(PY) -m study phases

lab: $(STAMP) ## start JupyterLab on notebooks/ with the study's kernel (prints the URL to open)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

notebooks: $(STAMP) ## re-execute the notebooks in place against the committed fixture (the outputs nbval compares)
	$(PY) -m study.report.fixture notebooks

fixture: $(STAMP) ## measure the `ci` profile afresh into tests/fixtures/study, then re-execute the notebooks
	$(PY) -m study.report.fixture regenerate

lock: $(STAMP) ## re-resolve requirements.in and rewrite requirements.lock from the result
	$(PY) -m pip install --quiet -r requirements.in
	$(PY) -m pip freeze --all --exclude-editable | grep -v '^study' > requirements.lock

clean: ## remove generated artifacts, results, reports and figures
	rm -rf artifacts results reports figures/*/

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)
