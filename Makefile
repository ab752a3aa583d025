# Colis: `make run` serves the local stack, `make test` passes the tests.
SHELL := /bin/bash
# Python 3.13, the Lambda runtime's: `python3.13` when it runs (pyenv picks it from .python-version),
# else pyenv's own install of it (a pyenv shim outside that directory refuses `python3.13`).
ifndef PYTHON
PYTHON := $(shell for p in python3.13 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; done)
endif
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint openapi bench build system-deps browser-deps clean

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

.venv-sam/.installed: requirements-sam.lock
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found: install it (pyenv install 3.13) or pass PYTHON=/path/to/python3.13" >&2; exit 1; }
	$(PYTHON) -m venv --clear .venv-sam
	.venv-sam/bin/pip install -q --disable-pip-version-check -r requirements-sam.lock
	touch $@

# The browser tooling (playwright-core, axe-core, Lighthouse), pinned by its lock file; it drives
# Debian's Chromium (system-deps), never a browser of its own. Without npm, outside CI, the browser
# tests and the Lighthouse bench skip and say why; on CI that is an error.
BROWSER_TOOLS := tests/browser
$(BROWSER_TOOLS)/node_modules/.installed: $(BROWSER_TOOLS)/package.json $(BROWSER_TOOLS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci in $(BROWSER_TOOLS)"; \
		cd $(BROWSER_TOOLS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "browser-deps: npm (Node.js 20) not found: the browser tests will skip (on CI: an error)" >&2; test -z "$$CI"; \
	fi

install: $(VENV)/.installed

browser-deps: $(BROWSER_TOOLS)/node_modules/.installed

## Local stack on http://127.0.0.1:3000 (moto on :5000); Ctrl-C stops it.
run: install
	$(PY) -m local

## Everything CI checks: lint, template checks, OpenAPI drift, the test suites.
test: install .venv-sam/.installed system-deps browser-deps lint
	$(PY) -m pytest -q -n 2 --dist loadgroup

lint: install .venv-sam/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared
	$(VENV)/bin/cfn-lint -a cfn_lint_serverless.rules -- template.yaml
	$(SAM) validate --lint
	$(PY) -m cli.openapi --check

## Rewrite the committed OpenAPI document from the code.
openapi: install
	$(PY) -m cli.openapi --write

bench: install system-deps browser-deps
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

build: .venv-sam/.installed
	$(SAM) build

## Test set-up: system packages some suites drive (headless Chromium, LibreOffice).
system-deps:
	@bash scripts/install-system-deps.sh

# `sam build` (BuildMethod: makefile) calls build-<LogicalId>: each function gets its code and
# shared/, nothing else (no tests, no local tooling); dependencies come from the layer.
# Both ship bytecode compiled by the runtime's Python: without it every cold start compiles every
# module (about 3x the import CPU). Hashes unchecked: SAM's zips stamp every file 1980, so
# timestamp-checked .pyc files would never be valid in Lambda.
COMPILE = $(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash
build-%:
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found (see PYTHON above)" >&2; exit 1; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R functions shared "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(COMPILE) "$(ARTIFACTS_DIR)"

clean:
	rm -rf .aws-sam artifacts
