# Colis: `make run` serves the local stack, `make test` passes the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM := .venv-sam/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint openapi bench build system-deps clean

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

.venv-sam/.installed: requirements-sam.lock
	$(PYTHON) -m venv .venv-sam
	.venv-sam/bin/pip install -q --disable-pip-version-check -r requirements-sam.lock
	touch $@

install: $(VENV)/.installed

## Local stack on http://127.0.0.1:3000 (moto on :5000); Ctrl-C stops it.
run: install
	$(PY) -m local

## Everything CI checks: lint, template checks, OpenAPI drift, the test suites.
test: install .venv-sam/.installed system-deps lint
	$(PY) -m pytest -q -n 2 --dist loadgroup

lint: install .venv-sam/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint -a cfn_lint_serverless.rules -- template.yaml
	$(SAM) validate --lint
	$(PY) -m cli.openapi --check

## Rewrite the committed OpenAPI document from the code.
openapi: install
	$(PY) -m cli.openapi --write

bench: install
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

build: .venv-sam/.installed
	$(SAM) build

## Test set-up: system packages some suites drive (headless Chromium, LibreOffice).
system-deps:
	@bash scripts/install-system-deps.sh

# `sam build` (BuildMethod: makefile) calls build-<LogicalId>: each function gets its code and
# shared/, nothing else (no tests, no local tooling); dependencies come from the layer.
build-%:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R functions shared "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

clean:
	rm -rf .aws-sam artifacts
