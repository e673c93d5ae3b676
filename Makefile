# Switchyard developer commands. `make serve` and `make test` work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test lint typecheck unit bench install install-dev clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/activate
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'

## Run the server on the embedded default: SQLite and a key file under ./switchyard-data.
serve: install
	$(BIN)/switchyard serve --host $(HOST) --port $(PORT)

## Lint, type-check and run every test (PostgreSQL tests skip with a reason when it is absent).
test: install-dev lint typecheck
	$(BIN)/pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python bench/vault.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
