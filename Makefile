# Vigie — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8001

.PHONY: run test install migrate demo lint format messages clean bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Vigie needs Python 3.12 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

locale/en/LC_MESSAGES/django.mo locale/fr/LC_MESSAGES/django.mo: locale/en/LC_MESSAGES/django.po locale/fr/LC_MESSAGES/django.po | $(STAMP)
	$(BIN)/python manage.py compile_translations --verbosity 0

install: $(STAMP) locale/en/LC_MESSAGES/django.mo locale/fr/LC_MESSAGES/django.mo

migrate: install
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py demo --if-empty
	$(BIN)/python manage.py demo_api_key --if-empty

# Everything on one machine with embedded defaults (SQLite database and Celery broker under var/):
# web, worker, beat and the sandbox, each under bin/respawn, which starts it again if it stops.
run: demo
	@echo
	@echo "  Vigie:        http://$(HOST):$(PORT)/"
	@echo "  Back-office:  http://$(HOST):$(PORT)/back-office/"
	@cat var/demo-logins.txt 2>/dev/null || true
	@echo
	@echo "  A process that stops (worker, beat, sandbox, web) is started again after a few seconds,"
	@echo "  with a [respawn] line in this log saying why (bin/respawn). Ctrl-C stops everything."
	@echo
	PORT=$(PORT) HOST=$(HOST) SANDBOX_PORT=$(SANDBOX_PORT) \
	VIGIE_SANDBOX_URL=$${VIGIE_SANDBOX_URL:-http://127.0.0.1:$(SANDBOX_PORT)} $(BIN)/honcho start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite, ruff and mypy (docs/STYLE.md §Types) included. With DATABASE_URL and
# REDIS_URL set, on PostgreSQL and Redis.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run --verbosity 1
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks, not part of `make test` (about 14 minutes): a fresh PostgreSQL database
# (BENCH_DATABASE_URL, default vigie_bench), Redis db 5 (BENCH_REDIS_URL), the sandbox, workers,
# beat and gunicorn on loopback; rewrites docs/PERFORMANCE.md. BENCH_QUICK=1: smaller N, no rewrite.
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Extract new strings into the English catalogue (needs GNU gettext); translate, then commit.
messages: install
	$(BIN)/python manage.py makemessages -l en --ignore=.venv --ignore=tests --ignore=bench --no-obsolete
	$(BIN)/python manage.py french_plurals
	$(BIN)/python manage.py compile_translations

clean:
	rm -rf var/ staticfiles/ .pytest_cache .ruff_cache
