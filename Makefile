# The two commands: `make run` and `make test`. Only Python 3.11+ is needed; everything else installs
# into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# `make run` embeds a private Redis-compatible server (valkey, from a Python wheel) on this port so
# that the gateway, the Celery worker and the back-office commands share one channel layer and broker.
# Point REDIS_URL at your own Redis to use that instead.
DEV_REDIS_PORT ?= 6390
# `make test` runs the suite in this many pytest-xdist workers, a test file per worker at a time.
TEST_WORKERS ?= 2
run: export REDIS_URL ?= redis://127.0.0.1:$(DEV_REDIS_PORT)/0
run: export CSMS_AUTO_REGISTER ?= 1

.PHONY: setup run test lint migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/honcho -f Procfile.dev start

# The independent charger client of the gateway tests (ocpp-rpc); skipped without npm, except in CI.
tests/peers/node_modules: tests/peers/package.json
	command -v npm >/dev/null && npm install --prefix tests/peers --no-package-lock --no-audit --no-fund --silent || true

test: setup tests/peers/node_modules
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-wal db.sqlite3-shm
