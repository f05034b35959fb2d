# The few commands people type. `make dev` and `make test` are the two set-up commands of the
# README's quick start: each installs what it needs on a fresh Debian machine (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: dev test lint format check-migrations bench services-up services-down clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,bench]'
	@touch $(STAMP)

venv: $(STAMP)

# A second environment with Django 4.2 LTS: make test runs the suite on both supported LTS lines.
VENV42 := .venv-django42
STAMP42 := $(VENV42)/.installed
$(STAMP42): pyproject.toml
	@test -x $(VENV42)/bin/python || $(PYTHON) -m venv $(VENV42)
	$(VENV42)/bin/pip install -q --upgrade pip
	$(VENV42)/bin/pip install -q -e '.[dev]' 'Django>=4.2,<4.3'
	@touch $(STAMP42)

## make dev: the app on 127.0.0.1:8000 on embedded defaults (SQLite, embedded FalkorDB). Ctrl-C stops it.
dev: $(STAMP)
	@scripts/dev.sh

## make test: installs and starts PostgreSQL, Redis, RabbitMQ, FalkorDB; lint, migrations check, pytest.
test: $(STAMP) $(STAMP42)
	@scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

services-up: $(STAMP)
	scripts/services.sh install
	scripts/services.sh start test

services-down:
	scripts/services.sh stop test

bench: $(STAMP)
	@scripts/bench.sh

clean:
	-scripts/services.sh stop test
	-scripts/services.sh stop dev
	rm -rf .run
