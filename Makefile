# papertrends: two commands set everything up on a fresh machine.
#   make demo   creates .venv, installs, ingests generated listings from a local server, prints a trend
#   make test   runs the test suite (.ci/run calls exactly this)
#   make bench  runs the benchmarks (bench/run.py) and writes docs/benchmarks.md; never part of `make test`.
#               BENCH_SIZE=2700000 make bench runs them at arXiv scale (default 100000 papers).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Prefect runs without a server here; keep its state inside the project and stay offline.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test install clean bench browser

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "papertrends needs Python 3.11 or newer (found %s); set PYTHON=" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	@# setuptools explains its editable layout on every install; keep the log, show it only on failure.
	@$(BIN)/python -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@$(BIN)/python -m pip install --quiet -e '.[test]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@echo "installed papertrends and its test tools into $(VENV) (log: $(VENV)/install.log)"
	@touch $@

demo: $(STAMP)
	$(BIN)/papertrends demo

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The explorer's browser tests drive Debian's chromium (Playwright's own browser downloads are never
# used). Installed once when missing and apt-get is at hand; otherwise those tests skip and say why.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > $(VENV)/chromium-install.log 2>&1 \
		  || echo "chromium not installed (see $(VENV)/chromium-install.log): browser tests will skip"; } \
		|| echo "no /usr/bin/chromium and no root apt-get: browser tests will skip (apt-get install chromium)"; }

BENCH_SIZE ?= 100000
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) pyproject.toml
	@$(BIN)/python -m pip install --quiet -e '.[test,bench]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $@

bench: $(BENCH_STAMP)
	BENCH_SIZE=$(BENCH_SIZE) $(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .prefect .pytest_cache
