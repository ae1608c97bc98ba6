# Ferry: the two commands are `make run` and `make test`; the rest supports them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0
REDIS_CACHE_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test test-integration lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per dependency set, rebuilt when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-run

# Plain HTTP on 127.0.0.1: cookies cannot require HTTPS here. Without an Intercom app
# (INTERCOM_CLIENT_ID), the Intercom sandbox stands in for Intercom, for a first try.
run: export FERRY_HTTPS ?= false
run: export INTERCOM_SANDBOX_URL ?= $(if $(INTERCOM_CLIENT_ID),,http://127.0.0.1:8799)
run: $(VENV)/.installed-run
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	exec $(BIN)/python manage.py serve

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -m "not integration"

# The same suite on PostgreSQL with Redis as broker and cache, plus the tests
# that need real worker processes. Fails at once if a server is unreachable.
test-integration: $(VENV)/.installed-dev
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) CACHE_URL=$(REDIS_CACHE_URL) \
		$(BIN)/python manage.py check_services
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) CACHE_URL=$(REDIS_CACHE_URL) \
		FERRY_REQUIRE_SERVICES=1 $(BIN)/pytest -p no:cacheprovider

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
