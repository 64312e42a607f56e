# Gigforge: `make run` (the product with demo data), `make test` (the whole suite).
# The distribution's optimised python3.11 when there is one (scripts/pick_python.sh).
PYTHON ?= $(shell scripts/pick_python.sh)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers: each gets its own database, Redis db and folders.
TEST_WORKERS ?= 2

.PHONY: run test test-pgbouncer lint install browser stop bench bench-peer clean

run: install ## Set up and run the product with demo tenants (http://acme.localhost:5000)
	$(BIN)/python -m app.demo.devserver

test: install ## Set up and run lint plus the whole test suite (then isolation and an order flow via PgBouncer)
	@scripts/ensure_packages.sh || echo "!!! some tests will be skipped: see the message above !!!"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -rs --durations=25 $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-pgbouncer

# Tenant isolation and the order flow again, through PgBouncer in transaction mode (tests/pgbouncer.py).
test-pgbouncer: install
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then \
	  GIGFORGE_TEST_PGBOUNCER=1 $(BIN)/python -m pytest -q -p no:xdist -m "not browser" \
	    tests/isolation tests/orders/test_done_when.py; \
	elif [ -n "$$GIGFORGE_REQUIRE_PGBOUNCER" ]; then echo "pgbouncer is required" >&2; exit 1; \
	else echo "!!! PgBouncer run skipped: no pgbouncer !!!"; fi

install: $(STAMP)
	@scripts/venv_note.sh $(VENV) "$(PYTHON)"

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

# The django-tenants peer: its own venv (bench/peer/.venv, from bench/peer/requirements.txt),
# which nothing but this target installs. BENCH_PEER_ARGS go to bench.peer_compare.
PEER_VENV  := bench/peer/.venv
PEER_STAMP := $(PEER_VENV)/.installed

bench-peer: install $(PEER_STAMP) ## Gigforge beside django-tenants, in one run (docs/benchmarks.md)
	$(BIN)/python -m bench.peer_compare $(BENCH_PEER_ARGS)

$(PEER_STAMP): bench/peer/requirements.txt
	test -d $(PEER_VENV) || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet -r bench/peer/requirements.txt
	touch $(PEER_STAMP)

clean: stop
	rm -rf instance
