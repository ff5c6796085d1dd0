# The two commands: `make run` (a running demo site on SQLite) and `make test` (the whole suite).
PYTHON ?= python
UV := $(PYTHON) -m uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
# Production-like settings for `check --deploy` (values only for the check).
DEPLOY_ENV := DEBUG=false SECRET_KEY=check-deploy-$$(date +%s)-not-a-real-secret-value-0123456789abcdef ALLOWED_HOSTS=dashboard.example.com

.PHONY: run worker test test-sqlite test-postgres lint serve install system-deps bench clean

$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.synced

# The site and one background worker; the worker stops when the server does. Both share a file
# cache (CACHE_DIR), so the worker's dashboard recounts reach the site.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Open http://127.0.0.1:8000/ and sign in with one of the logins above."
	export CACHE_DIR=$${CACHE_DIR:-.cache}; \
	  $(PY) manage.py run_worker --verbosity 0 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:8000

# One background worker in the foreground (webhook deliveries, periodic work), settings from the
# environment; run as many as needed, on any host that reaches the database.
worker: install
	$(PY) manage.py run_worker

# Debian's Chromium for the browser tests, PostgreSQL's server binaries and Redis (the shared
# cache's test), when missing.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING

test-sqlite: install
	$(PYTEST) -n 2 -m "not e2e"

# One throwaway cluster for both runs; the browser tests get a pytest run of their own, the only
# one with DJANGO_ALLOW_ASYNC_UNSAFE (Playwright's sync API keeps an event loop in its thread).
test-postgres: install system-deps
	$(PY) -m tests.throwaway_postgres sh -c '$(PYTEST) -n 2 -m "not e2e" && DJANGO_ALLOW_ASYNC_UNSAFE=true $(PYTEST) -n 2 -m e2e'


test: lint test-sqlite test-postgres

serve: install
	DEBUG=$${DEBUG:-false} $(PY) manage.py collectstatic --noinput -v0
	DEBUG=$${DEBUG:-false} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-false} $(VENV)/bin/gunicorn -c gunicorn.conf.py mediaanalysis.wsgi

bench: install
	DEBUG=false SECRET_KEY=bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz ALLOWED_HOSTS="*" SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false \
	  $(PY) -m tests.throwaway_postgres --set autovacuum=on sh -c "$(PY) manage.py migrate -v0 && $(PY) manage.py collectstatic --noinput -v0 && $(PY) manage.py seed_bulk && $(PY) manage.py bench --json bench.json"

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-* .cache
