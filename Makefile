# One command per job. `make dev` and `make test` work on a fresh machine:
# they create .venv and install everything pinned in requirements/constraints.txt.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
PORT ?= 8000
# PostgreSQL for the second test run; the machine's server trusts local connections.
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install dev test test-sqlite test-postgres check fix bench migrate chromium constraints clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the app with its test tools

dev: $(STAMP) ## Run app, identity provider and WorkOS emulator on one machine (PORT=8000)
	$(BIN)/dashboard dev --port $(PORT)

chromium: ## Install Debian's Chromium for the browser tests when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: test-sqlite test-postgres ## Run the whole suite on SQLite, then on PostgreSQL

test-sqlite: $(STAMP) chromium ## The whole suite on SQLite (a temporary file)
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP) ## The whole suite on PostgreSQL ($$POSTGRES_TEST_URL), browser journeys aside
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(POSTGRES_TEST_URL))', connect_timeout=3).close()" 2>/dev/null; then \
	  TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -m "not browser" $(PYTEST_ARGS); \
	elif [ -n "$$REQUIRE_POSTGRES" ]; then \
	  echo "PostgreSQL is required but not reachable at $(POSTGRES_TEST_URL)"; exit 1; \
	else \
	  echo "PostgreSQL not reachable at $(POSTGRES_TEST_URL): skipped the PostgreSQL run (set POSTGRES_TEST_URL)"; \
	fi

check: $(STAMP) ## Format check, lint, type check
	$(BIN)/ruff format --check dashboard tests alembic benchmarks
	$(BIN)/ruff check dashboard tests alembic benchmarks
	$(BIN)/mypy

fix: $(STAMP) ## Apply the formatter and safe lint fixes
	$(BIN)/ruff format dashboard tests alembic benchmarks
	$(BIN)/ruff check --fix dashboard tests alembic benchmarks

bench: $(STAMP) ## Benchmarks (not part of `make test`); writes bench-results/latest.md
	$(BIN)/python -m benchmarks

migrate: $(STAMP) ## Apply migrations to $$DATABASE_URL (or .env)
	$(BIN)/dashboard db upgrade

constraints: ## Re-resolve dependencies and rewrite the pinned versions
	rm -rf /tmp/dashboard-constraints && $(PYTHON) -m venv /tmp/dashboard-constraints
	/tmp/dashboard-constraints/bin/pip install --quiet -e '.[dev]'
	{ head -3 $(CONSTRAINTS); /tmp/dashboard-constraints/bin/pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean: ## Remove the virtualenv, dev data and caches
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
