# ASI-GEST — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/asigest_test
PYTEST_ARGS ?= -q
# Parallel test workers (pytest-xdist), one per core; each has its own databases.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) $(PYTEST_ARGS)
# The same under SlipCover: line coverage of asigest/ ([tool.slipcover] in pyproject.toml).
PYTEST_COV := $(BIN)/python -m slipcover -m pytest -n $(WORKERS) $(PYTEST_ARGS)
# Cases per API operation in the fuzzer's fuzzing and stateful phases during `make test`
# (`make fuzz` runs the full budget of tests/e2e/fuzz_api.toml).
FUZZ_ESEMPI ?= 10
# sqlmap's level in `make test` (its own default; `make scan` runs level 2).
SQLMAP_LEVEL ?= 1
# Where `make run` listens: HOST=0.0.0.0 serves the LAN (a tablet at a machine).
HOST ?= 127.0.0.1
PORT ?= 5000

# Keep compiled bytecode even where the environment turns it off: without it every test
# worker, server and CLI subprocess recompiles the project and pytest rewrites every test
# module's asserts again (measured: collection 44 s → 9 s on this machine).
unexport PYTHONDONTWRITEBYTECODE

# `make bench`: which parts (reads, trace, writes, oee), databases (sqlite, pg) and data set
# sizes (10k, 100k, 1M); e.g. `make bench BENCH=reads DB=sqlite SIZES=10k`.
BENCH ?= reads,trace,writes,oee
DB ?= sqlite,pg
SIZES ?= 10k,1M
BENCH_SECONDS ?= 5

.PHONY: run test collect test-fast test-sqlite test-pg lint coverage fuzz scan screenshots bench venv translations extract-messages clean dist test-dist

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

## Lint, then every test on SQLite and on PostgreSQL at the same time (each pass waits on
## servers, browsers and timeouts that the other fills), then the coverage report. Each
## pass's output appears when it ends.
test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint collect
	@echo "Test su SQLite e su PostgreSQL in parallelo: l'esito di ciascuno appare quando finisce."
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-pg
	@$(MAKE) --no-print-directory coverage

## Collect the suite once beside `make lint`: pytest rewrites every test module's asserts
## and Python compiles the project, and keeps both in __pycache__; on a fresh clone the four
## test workers would otherwise each do it at the same moment (measured: 10 s of CPU cold,
## 3.5 s warm, per process).
collect: translations
	@$(BIN)/python -m pytest --collect-only -q -p no:cacheprovider >/dev/null

## ruff (lint and format) and mypy, as configured in pyproject.toml.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The edit loop: unit and web tests on SQLite, no coverage (under a minute).
test-fast: translations
	$(PYTEST) tests/unit tests/web

## Everything on SQLite, the una_volta tests included (static scans, browser walkthroughs),
## with line coverage in build/coverage.json ([tool.slipcover]; `make coverage` reads it).
test-sqlite: translations
	@mkdir -p build
	ASIGEST_FUZZ_ESEMPI=$(FUZZ_ESEMPI) ASIGEST_SQLMAP_LEVEL=$(SQLMAP_LEVEL) $(PYTEST_COV)

## What the database can change, on PostgreSQL (una_volta tests are deselected).
test-pg: translations
	@$(BIN)/python -c "import psycopg,sys; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=5).close()" \
	  || { echo "PostgreSQL non raggiungibile su 127.0.0.1:5432: avviarlo (vedi README) o usare 'make test-sqlite'."; exit 1; }
	ASIGEST_FUZZ_ESEMPI=$(FUZZ_ESEMPI) ASIGEST_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST)

## The API fuzzer with its full budget (fuzz_api.toml), on SQLite and on PostgreSQL.
fuzz: translations
	$(BIN)/python -m pytest -n 2 -q tests/e2e/test_fuzz_api.py
	ASIGEST_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -n 2 -q tests/e2e/test_fuzz_api.py

## The sqlmap scan at level 2: more payloads per parameter than `make test`'s level 1
## (CI runs it after `make test`).
scan: translations
	ASIGEST_SQLMAP_LEVEL=2 $(BIN)/python -m pytest -q tests/test_sqlmap_scan.py

## The line coverage of asigest/ measured by the last `make test-sqlite` (files not fully
## covered, then the total); fails under COVERAGE_FLOOR percent.
COVERAGE_FLOOR ?= 95
coverage: venv
	@$(BIN)/python -m tests.copertura build/coverage.json --floor $(COVERAGE_FLOOR)

## Retake the guides' screenshots in docs/img/ (browser walkthroughs on the demo data).
## Italian date fields need Debian's chromium-l10n next to chromium.
screenshots: translations
	ASIGEST_DOCS_IMG=docs/img $(BIN)/python -m pytest -q tests/e2e/test_guide_browser.py tests/e2e/test_kiosk_ciclo_browser.py

## The release wheel in dist/: asigest with asigest/domain compiled by mypyc (setup.py),
## built from the committed tree (git archive HEAD: as a clean clone has it, nothing
## uncommitted, untracked or ignored comes along).
DIST_SRC := build/dist-src
dist: venv
	rm -rf $(DIST_SRC) dist
	mkdir -p $(DIST_SRC) dist
	git archive --format=tar HEAD | tar -x -C $(DIST_SRC)
	$(BIN)/pybabel compile -d $(DIST_SRC)/asigest/translations >/dev/null
	cd $(DIST_SRC) && $(CURDIR)/$(BIN)/pip wheel -q --no-deps --wheel-dir $(CURDIR)/dist .
	@ls -l dist/*.whl

## The wheel as a customer gets it: installed in a fresh virtualenv (a temp dir), the domain
## and license unit tests run against it, a smoke test (init, demo, /health, a lotto opened
## and closed through the API) and the tamper test (tests/dist/).
test-dist: dist
	ASIGEST_TEST_DIST=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/dist

## Every SPEC §11 figure in one table (docs/benchmark.md); data sets kept in .bench-cache/.
bench: translations
	$(BIN)/python -m bench.completo --parti $(BENCH) --db $(DB) --dimensioni $(SIZES) --seconds $(BENCH_SECONDS)

## Refresh the message catalog after changing user-facing text.
extract-messages: venv
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l -o asigest/translations/messages.pot .
	$(BIN)/pybabel update -i asigest/translations/messages.pot -d asigest/translations

clean:
	rm -rf build dist $(VENV) .pytest_cache .mypy_cache .ruff_cache
