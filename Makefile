# Samla's development commands. `make run` serves Samla; `make test` passes the tests on a
# fresh machine, installing what they need (redis-server, chromium) when it is missing.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVING := $(VENV)/.serving
LINTED := $(wildcard live rooms tests bench)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run demo test check lint format system bench messages clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Serving needs Samla and what it runs on; the tests add their tools (pytest, Playwright, …).
$(SERVING): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(SERVING)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $(SERVING) $(STAMP)

run: $(SERVING)
	$(BIN)/samla serve

demo: $(SERVING)
	$(BIN)/samla demo --serve

# What the tests drive for real: Redis, PostgreSQL, Debian's Chromium, and LibreOffice
# (headless) to open the archive's office files as their readers do.
system:
	@if ! command -v redis-server >/dev/null || ! test -x /usr/bin/chromium \
			|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
			|| ! command -v soffice >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			redis-server postgresql chromium \
			libreoffice-writer-nogui libreoffice-calc-nogui >/dev/null; \
	fi

check: $(STAMP)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

# Two workers on two cores (three starved the load tests of the breakout rooms: a thousand
# arrivals in ten seconds timed out; `PYTEST_ARGS="-n 0"` runs them in one process).
# The 25 slowest tests are listed at the end: where the suite's time goes.
test: $(STAMP) system check
	$(BIN)/python -m pytest -n 2 --durations=25 $(PYTEST_ARGS)

# The bench extra (the python-socketio peer) only when it is missing: a no-op install of the
# editable package costs seconds on every run.
bench: $(STAMP)
	$(BIN)/python -c "import socketio" 2>/dev/null || $(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.selection
	$(BIN)/python -m bench.balancing

# Refusals are extracted too, so those shown in the browser can be translated.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o live/locale/messages.pot --no-location --omit-header \
		-k _ -k Refused:2 -k invalid -k forbidden .
	$(BIN)/pybabel update -i live/locale/messages.pot -d live/locale -l sv --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
