# Two commands do everything on a fresh machine: `make run` (the local stack) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime): from PATH, else pyenv's 3.13.x, else python3 with a warning.
PYTHON ?= $(shell \
	if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then echo python3.13; \
	elif command -v pyenv >/dev/null 2>&1 && v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | tail -1) && [ -n "$$v" ]; then echo "$$(pyenv root)/versions/$$v/bin/python3.13"; \
	else echo python3; fi)

VENV := .venv
TOOLS := .venv-tools
SCAN_VENV := .venv-scan
BIN := $(VENV)/bin
PY := $(BIN)/python
# sam build needs a python3.13 on PATH; the project venv provides one.
SAM := PATH="$(abspath $(BIN)):$$PATH" SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam

.PHONY: help venv tools scan-tools test unit lint template scan build run bench openapi lock clean

help:
	@echo "make run    start the local stack (API on http://127.0.0.1:\$${PORT:-3000})"
	@echo "make test   install what is needed, lint, check the template, run every test"
	@echo "make bench  run the benchmarks (not part of make test)"
	@echo "make openapi  regenerate openapi.json from the code (a test fails while it is stale)"

$(VENV)/.installed: requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' || \
		echo "WARNING: $(PYTHON) is not Python 3.13 (the Lambda runtime); install 3.13 (e.g. pyenv install 3.13) for faithful results." >&2
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $@

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements/tools.txt
	@touch $@

$(SCAN_VENV)/.installed: requirements/scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements/scan.txt
	@touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed
scan-tools: $(SCAN_VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=layers/shared:. $(BIN)/lint-imports

template: tools venv
	$(TOOLS)/bin/cfn-lint template.yaml
	$(SAM) validate --lint

build: template
	$(SAM) build --cached --parallel

# Security scan of the template: any finding not skipped (with its reason) in the template's
# Metadata fails the build. Offline: no downloads of external checks or guidelines.
scan: scan-tools
	$(SCAN_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

unit: venv
	$(BIN)/pytest

# Two workers by default (CI has two cores), then the fuzz tests in one process: Schemathesis
# makes one test per operation only without xdist, and its closing test counts them all.
PYTEST_WORKERS ?= 2

test: lint build scan
	$(BIN)/pytest -n $(PYTEST_WORKERS) --ignore=tests/fuzz
	$(BIN)/pytest tests/fuzz

run: venv
	$(PY) -m local

bench: venv
	$(PY) -m bench

# The API's OpenAPI document, generated from the handlers' routes and the template.
openapi: venv
	$(PY) -m local.aws.openapi

# Re-resolve the locked requirement files from their .in files. The layer's lock is resolved
# against the development lock (same versions as the tests run), with every package's hashes.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet -r requirements/dev.in && \
		(echo '# Locked with `make lock` from dev.in; do not edit by hand.'; .venv-lock/bin/pip freeze) > requirements/dev.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet -r requirements/tools.in && \
		(echo '# Locked with `make lock` from tools.in; do not edit by hand.'; .venv-lock/bin/pip freeze) > requirements/tools.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet -r requirements/scan.in && \
		(echo '# Locked with `make lock` from scan.in; do not edit by hand.'; .venv-lock/bin/pip freeze) > requirements/scan.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools==7.6.2 && \
		cd layers/shared && ../../.venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
		--strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt requirements.in
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(TOOLS) $(SCAN_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
