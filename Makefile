# ASI-GEST — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/asigest_test
PYTEST_ARGS ?= -q
# Where `make run` listens: HOST=0.0.0.0 serves the LAN (a tablet at a machine).
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-pg lint screenshots venv translations extract-messages clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# Compiled catalogs are built, not committed.
translations: venv
	$(BIN)/pybabel compile -d asigest/translations

## Serve the demo on http://$(HOST):$(PORT) (creates the demo databases on first run).
run: translations
	$(FLASK) demo
	@echo "ASI-GEST su http://$(HOST):$(PORT) (Ctrl+C per fermare)"
ifeq ($(HOST),0.0.0.0)
	@echo "Da un tablet o un PC della rete: http://<indirizzo IP di questo computer>:$(PORT)"
endif
	$(BIN)/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

## Every test, on SQLite and then on PostgreSQL.
test: test-sqlite test-pg

test-sqlite: translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-pg: translations
	@$(BIN)/python -c "import psycopg,sys; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=5).close()" \
	  || { echo "PostgreSQL non raggiungibile su 127.0.0.1:5432: avviarlo (vedi README) o usare 'make test-sqlite'."; exit 1; }
	ASIGEST_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

## Lint, format check and type check (settings in pyproject.toml); nothing to report is the rule.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Retake the guides' screenshots in docs/img/ (browser walkthroughs on the demo data).
## Italian date fields need Debian's chromium-l10n next to chromium.
screenshots: translations
	ASIGEST_DOCS_IMG=docs/img $(BIN)/python -m pytest -q tests/e2e/test_guide_browser.py

## Refresh the message catalog after changing user-facing text.
extract-messages: venv
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l -o asigest/translations/messages.pot .
	$(BIN)/pybabel update -i asigest/translations/messages.pot -d asigest/translations

clean:
	rm -rf $(VENV) .pytest_cache
