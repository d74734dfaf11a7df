# The project's commands. `make install` builds .venv; the others build on it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint format typecheck bench worker beat clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The demo: SQLite, tasks in-process, seeded data, on http://$(HOST):$(PORT)
run: install
	DEBUG=True $(BIN)/python manage.py migrate --noinput
	DEBUG=True $(BIN)/python manage.py seed_demo
	DEBUG=True $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The whole suite, one process per core. DATABASE_URL picks the database (SQLite when unset);
# PYTEST_ARGS replaces the defaults, e.g. PYTEST_ARGS="tests/gates -x".
PYTEST_ARGS ?= -n auto --dist loadgroup
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The settings module loads during type checking; it needs a key, not a secret one.
typecheck: install
	SECRET_KEY=typecheck-only $(BIN)/mypy .

worker: install
	$(BIN)/celery -A prm worker --loglevel=INFO

beat: install
	$(BIN)/celery -A prm beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache test-results
