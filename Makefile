# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
# Every target makes the virtual environment and installs what it needs first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# HOST, PORT and WORKERS: from `make run PORT=8123`, the environment, or .env (default 127.0.0.1:8000).
HOST ?=
PORT ?=
WORKERS ?=
SERVER_FLAGS = $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

.DEFAULT_GOAL := help
.PHONY: help install run serve worker test migrate downgrade revision create-admin reindex eval-search lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# Two stamps: `run`, `serve` and the database targets need only the runtime requirements; the
# development tools (pytest, ruff, playwright, schemathesis, ...) come with test, lint and bench.
# --no-compile: Python compiles the modules a process imports when it first imports them, instead
# of pip compiling every module of every package up front (a third of the first run's time).
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

$(RUNTIME): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.12 or similar)")'
	@if test -x $(PY); then echo "Installing dependencies (requirements.txt changed)…"; \
	else echo "Creating $(VENV) and installing dependencies (first run)…"; $(PYTHON) -m venv $(VENV); fi
	@$(PY) -m pip install -qq --no-compile --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	@echo "Installing the development tools (tests, lint, bench)…"
	@$(PY) -m pip install -qq --no-compile --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(DEV) ## Make .venv and install the dependencies and the development tools

run: $(RUNTIME) ## Serve with reload on HOST:PORT, and a worker (embedded PostgreSQL unless DATABASE_URL)
	@$(PY) -m inventory run $(SERVER_FLAGS)

serve: $(RUNTIME) ## Production server: migrate once, then WORKERS workers (default: one per core)
	@$(PY) -m inventory serve $(SERVER_FLAGS) $(if $(WORKERS),--workers $(WORKERS))

worker: $(RUNTIME) ## Deliver webhooks (run several, on any host that reaches the database)
	@$(PY) -m inventory worker

test: $(DEV) ## Run the test suite against a throwaway PostgreSQL (or TEST_DATABASE_URL)
	$(PY) -m pytest $(ARGS)

migrate: $(RUNTIME) ## Upgrade the database to the latest migration
	$(PY) -m inventory migrate

downgrade: $(RUNTIME) ## Revert the last migration (or to: make downgrade to=base)
	$(PY) -m inventory downgrade $(or $(to),-1)

revision: $(RUNTIME) ## New migration from the model changes: make revision m="add things"
	@test -n "$(m)" || (echo 'usage: make revision m="what changes"'; exit 2)
	$(PY) -m inventory migrate
	$(VENV)/bin/alembic revision --autogenerate -m "$(m)"

create-admin: $(RUNTIME) ## Create an admin (asks, or: make create-admin username=x password=y)
	$(PY) -m inventory create-admin $(if $(username),--username $(username)) $(if $(password),--password $(password))

reindex: $(RUNTIME) ## Embed the products whose vector is missing or from another model (resumable)
	$(PY) -m inventory reindex $(if $(batch),--batch-size $(batch))

eval-search: $(DEV) ## recall@10 and nDCG@10 of text, semantic and hybrid search on bench/search_eval
	$(PY) -m bench.search_eval $(ARGS)

lint: $(DEV) ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(DEV) ## Fix what ruff can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: bench bench-smoke fuzz-long
bench: $(DEV) ## Load benchmark against a bare app (needs wrk: apt-get install wrk); ARGS="--products 1000000"
	$(PY) -m bench $(ARGS)

fuzz-long: $(DEV) ## schemathesis for 10 minutes with fresh seeds (not in CI); ARGS="--minutes 30"
	$(PY) -m bench.fuzz $(ARGS)

bench-smoke: $(DEV) ## A 2-second bench run (2,000 products, one scenario), as CI runs it
	$(PY) -m bench --smoke

clean: ## Remove the virtual environment and caches (keeps the database in .pgdata)
	rm -rf $(VENV) .pytest_cache .ruff_cache
