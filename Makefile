# Two commands for a newcomer: `make run` and `make test`. Both install into .venv/ first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck contracts check lock clean

install: $(STAMP)

# Reinstall whenever the declared or pinned dependencies change.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable '.[dev]'
	touch $(STAMP)

# The service on the embedded SQLite default, seeded once with the demo province.
run: install
	$(BIN)/custody demo --if-empty
	$(BIN)/custody serve

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy custody storage labels routes scanners province api

contracts: install
	$(BIN)/lint-imports

# Everything CI checks besides the PostgreSQL run.
check: test lint typecheck contracts

# Re-pin after changing dependencies in pyproject.toml (needs the network).
lock:
	rm -rf /tmp/custody-lock && $(PYTHON) -m venv /tmp/custody-lock
	/tmp/custody-lock/bin/pip install --quiet '.[dev]'
	/tmp/custody-lock/bin/pip freeze --exclude custody > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
