# incidentbot developer tasks. Needs only python3 (3.11+), pip and make; everything else is installed here.
#   make run     run the bot, migrating its database first (reads .env / the environment); without
#                SLACK_BOT_TOKEN: the local sandbox at http://127.0.0.1:3000/sandbox (touches no database file)
#   make test    install the test extras and the test binaries (Prometheus, Alertmanager, Chromium), run pytest
#   make lint    ruff check + ruff format --check + lint-imports (the layering contracts)
#   make bench   run every bench/*.py
#   make drill SCENARIO=db-down   a practice incident in the local sandbox (examples/drills: db-down,
#                high-latency, error-spike, circuit-breaker)
#   make clean   remove the virtualenv and caches (keeps your incidentbot.db)
# Variables: PYTHON (interpreter used to create the venv), PYTEST_ARGS (passed to pytest).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# ruff skips .venv, build, dist, caches by default; pyproject.toml holds the rules.
LINT_PATHS := .

# Stamps: reinstall only when pyproject.toml is newer than the last successful install.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help run test lint bench clean test-deps drill

help:
	@sed -n '2,9s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# A Debian python3 without python3-venv has no ensurepip: `-m venv` then fails and leaves a broken
# .venv behind. Fall back to a venv without pip and install pip into it with the interpreter's own pip.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "incidentbot needs Python >= 3.11; set PYTHON=python3.11 (or newer)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV) || { \
		echo "'$(PYTHON) -m venv' failed (no ensurepip?): retrying without pip, then installing pip" >&2; \
		rm -rf $(VENV) && $(PYTHON) -m venv --without-pip $(VENV) && \
		$(PYTHON) -m pip --python $(BIN)/python install pip; } || { rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

# The test extras are a superset of the plain install, so this stamp also satisfies `make run`.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@ $(STAMP)

# `serve --migrate` migrates only the database the bot will use: without Slack tokens the sandbox runs on
# its own throw-away database, and ./incidentbot.db is not created.
run: $(STAMP)
	exec $(BIN)/incidentbot serve --migrate

SCENARIO ?= db-down
drill: $(STAMP)
	exec $(BIN)/incidentbot sandbox --drill $(SCENARIO)

test-deps:
	bash scripts/install-test-deps.sh

# The layering contracts first (a second), then pytest, whose own exit code is the result (5 = no tests
# collected is a failure, not success). Two workers (pytest-xdist), one per core of the project's
# machines: most tests wait on sockets and timers, so the suite takes half the time.
PYTEST_WORKERS ?= 2
test: $(TEST_STAMP) test-deps
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Both checks always run, so one pass shows every problem; fails if either does.
lint: $(TEST_STAMP)
	@status=0; \
	echo "$(BIN)/ruff check $(LINT_PATHS)"; $(BIN)/ruff check $(LINT_PATHS) || status=1; \
	echo "$(BIN)/ruff format --check $(LINT_PATHS)"; $(BIN)/ruff format --check $(LINT_PATHS) || status=1; \
	echo "$(BIN)/lint-imports"; $(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

bench: $(TEST_STAMP) test-deps
	@set -e; for script in bench/[!_]*.py; do \
		[ -e "$$script" ] || continue; \
		echo "==> $(BIN)/python $$script"; \
		$(BIN)/python "$$script"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
