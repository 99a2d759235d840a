# Quorum: `make demo` runs the marketplace locally; `make test` runs the whole test suite.
# Both set up everything they need first (a pinned virtualenv from uv.lock).

SHELL := /bin/bash
PY := .venv/bin/python
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: setup demo serve test test-unit test-browser bench clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

setup: .venv/.synced

# 1) Set up, migrate SQLite, seed demo data (printing the log-ins), serve on :8000 and start a
#    simulated crowd (CROWD workers, default 12; CROWD=0 for none) labeling through the API.
#    Ctrl-C stops both (demo_run stops the crowd, which prints its report, then the server).
#    The pilot pays cents, so the demo's minimum payout is 0.10 unless QUORUM_MIN_PAYOUT is given:
#    the seed and the server it starts keep the one rule, and the seeded payouts obey it.
DEMO_ENV := QUORUM_MIN_PAYOUT=$${QUORUM_MIN_PAYOUT:-0.10}
demo: setup
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	$(DEMO_ENV) DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	$(DEMO_ENV) DEBUG=$${DEBUG:-1} $(PY) manage.py demo_run --host $${HOST:-127.0.0.1} --port $${PORT:-8000} --crowd $${CROWD:-12}

# Production (README, "Running in production"): migrate, collect static files, then honcho runs the
# Procfile's processes (web: gunicorn + uvicorn workers; worker and beat: Celery) until Ctrl-C.
# Needs DATABASE_URL (PostgreSQL), REDIS_URL and SECRET_KEY; HOST/PORT default 127.0.0.1:8000.
SERVE_ENV := QUORUM_TASKS=$${QUORUM_TASKS:-celery} QUORUM_DB_POOL_MAX=$${QUORUM_DB_POOL_MAX:-20}
serve: setup
	@[[ "$$DATABASE_URL" == postgres* && -n "$$REDIS_URL" ]] || \
	  { echo "make serve needs DATABASE_URL=postgres://... and REDIS_URL=redis://... (README, Running in production)"; exit 2; }
	$(SERVE_ENV) $(PY) manage.py migrate --noinput
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	mkdir -p var
	$(SERVE_ENV) PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) deploy/honcho_graceful.py start -p $${PORT:-8000}

# 2) Set up and run every test: SQLite unless DATABASE_URL is set (then PostgreSQL-only tests run too).
#    First the layers (import-linter: contracts in pyproject.toml); then the tests. Browser tests run in
#    a pytest process of their own (Playwright's loop must not leak into async tests).
TEST_ENV := SECRET_KEY=$${SECRET_KEY:-insecure-test-only-secret-key-at-least-fifty-characters-long}
test: setup
	.venv/bin/lint-imports --no-cache
	$(TEST_ENV) $(PY) -m pytest -m "not browser" $(PYTEST_ARGS)
	$(TEST_ENV) $(PY) -m pytest -m browser tests/browser $(PYTEST_ARGS)

test-unit: setup
	$(TEST_ENV) $(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

test-browser: setup
	$(TEST_ENV) $(PY) -m pytest -m browser tests/browser $(PYTEST_ARGS)

bench: setup
	SECRET_KEY=$${SECRET_KEY:-insecure-bench-only-secret-key-at-least-fifty-characters-long} $(PY) -m bench $(BENCH)

clean:
	rm -rf .venv .tools var
