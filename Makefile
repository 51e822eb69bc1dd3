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
.PHONY: help install run serve test migrate downgrade revision create-admin lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.12 or similar)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Make .venv and install the dependencies

run: $(VENV)/.installed ## Serve with reload on HOST:PORT (embedded PostgreSQL unless DATABASE_URL)
	$(PY) -m inventory run $(SERVER_FLAGS)

serve: $(VENV)/.installed ## Production server: migrate once, then WORKERS workers (default: one per core)
	$(PY) -m inventory serve $(SERVER_FLAGS) $(if $(WORKERS),--workers $(WORKERS))

test: $(VENV)/.installed ## Run the test suite against a throwaway PostgreSQL (or TEST_DATABASE_URL)
	$(PY) -m pytest $(ARGS)

migrate: $(VENV)/.installed ## Upgrade the database to the latest migration
	$(PY) -m inventory migrate

downgrade: $(VENV)/.installed ## Revert the last migration (or to: make downgrade to=base)
	$(PY) -m inventory downgrade $(or $(to),-1)

revision: $(VENV)/.installed ## New migration from the model changes: make revision m="add things"
	@test -n "$(m)" || (echo 'usage: make revision m="what changes"'; exit 2)
	$(PY) -m inventory migrate
	$(VENV)/bin/alembic revision --autogenerate -m "$(m)"

create-admin: $(VENV)/.installed ## Create an admin (asks, or: make create-admin username=x password=y)
	$(PY) -m inventory create-admin $(if $(username),--username $(username)) $(if $(password),--password $(password))

lint: $(VENV)/.installed ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed ## Fix what ruff can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: bench bench-smoke
bench: $(VENV)/.installed ## Load benchmark against a bare app (needs wrk: apt-get install wrk); ARGS="--products 1000000"
	$(PY) -m bench $(ARGS)

bench-smoke: $(VENV)/.installed ## A 2-second bench run (2,000 products, one scenario), as CI runs it
	$(PY) -m bench --smoke

clean: ## Remove the virtual environment and caches (keeps the database in .pgdata)
	rm -rf $(VENV) .pytest_cache .ruff_cache
