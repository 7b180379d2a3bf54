# Two commands: `make run` (setup + demo + full materialisation) and `make test` (setup + test suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
DEMO_CUSTOMERS ?= 10000
DEMO_DAYS ?= 365
DEMO_SEED ?= 42

.PHONY: install run demo test ui bench clean browser plotly-bundle

# Reinstall only when the project's dependency files change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/cx demo-data --customers $(DEMO_CUSTOMERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED)

run: install
	$(BIN)/cx run --customers $(DEMO_CUSTOMERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED)

# Browser tests drive Debian's chromium; install it when it is missing (CI runs as root).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

test: install browser
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest

ui: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/cx ui

bench: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m tests.benchmarks

# The reports' plotly.js with only the trace types they draw (committed; rebuild after a plotly upgrade or when a
# report starts using another trace type). Needs node and npm.
plotly-bundle:
	cd reports/plotlyjs && npm ci --no-audit --no-fund && node build.js

clean:
	rm -rf data reports/out dbt_models/target dbt_models/logs
