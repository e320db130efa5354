# Slipway developer commands. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

# Tests run on real PostgreSQL and Redis (see README); override to point elsewhere.
TEST_DATABASE_URL      ?= postgres://postgres@127.0.0.1:5432/slipway
TEST_CELERY_BROKER_URL ?= redis://127.0.0.1:6379/15
# The suite runs in this many processes (pytest-xdist, whole files per process); each takes its own
# test database and the broker database below the previous one's (15, 14, ...). 0 runs it in one process.
PYTEST_WORKERS         ?= 2

.PHONY: install run test lint lint-deploy format services browser clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## make run: the portal with embedded defaults (SQLite + filesystem broker under var/),
## or PostgreSQL/Redis when DATABASE_URL / CELERY_BROKER_URL are set. Web on http://127.0.0.1:8000
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Starting web, worker and scheduler on http://127.0.0.1:8000 (Ctrl-C stops all three)"
	@exec $(BIN)/python manage.py serve --address 127.0.0.1:8000

## make test: the whole suite on PostgreSQL, Redis, a real Celery worker, the engine and Chromium.
test: install services browser
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_CELERY_BROKER_URL) \
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

services:
	@bash .ci/services

browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

## make lint: ruff, the import contract (pyproject.toml [tool.importlinter]), compose file and Dockerfile.
lint: install lint-deploy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

## The deployment files: docker-compose.yml against the compose specification (the schema that
## check-jsonschema vendors), and the Dockerfile through hadolint (.hadolint.yaml). No Docker needed.
lint-deploy: install
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/hadolint Dockerfile

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache
