# Gigforge: `make run` (the product with demo data), `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers: each gets its own database, Redis db and folders.
TEST_WORKERS ?= 2

.PHONY: run test lint install browser stop bench clean

run: install ## Set up and run the product with demo tenants (http://acme.localhost:5000)
	$(BIN)/python -m app.demo.devserver

test: install ## Set up and run lint plus the whole test suite
	@scripts/ensure_chromium.sh || echo "!!! browser tests will be skipped: no Chromium !!!"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -rs $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

stop: install ## Stop the embedded PostgreSQL and Redis
	$(BIN)/flask --app wsgi embedded stop
	GIGFORGE_ENV=testing $(BIN)/flask --app wsgi embedded stop

bench: install ## Run the benchmarks (see docs/benchmarks.md)
	$(BIN)/python -m bench.run_all

clean: stop
	rm -rf instance
