# Two commands do everything on a fresh machine:
#   make demo   installs nborch and runs the main job on the embedded default
#   make test   installs what the tests need (PostgreSQL and a Docker engine included, when
#               root) and runs them
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pip's output goes to a log, shown only when it fails.
PIP = $(PY) -m pip install --quiet $(1) >$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
STAMP = $(VENV)/.installed-$(1)-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# The editable install puts the Jupyter server extension's config where a wheel install puts
# it, and builds no JavaScript (SKIP_JUPYTER_BUILDER: `make labextension` does, below).
EDITABLE = SKIP_JUPYTER_BUILDER=1 $(call PIP,-e $(1))

# The JupyterLab extension: built from labextension/ into labextension/dist/ (what the wheel
# carries, prebuilt; `pip wheel .` builds it the same way, through hatch-jupyter-builder)
# with Node.js and packages from the npm registry. Its node_modules are installed again only
# when the lockfile changes, and it is built again only when a source changed. The editable
# install gets a copy where a wheel install puts it (a copy, not a link: pip uninstalls the
# files it installed there, and through a link it would delete the build's own).
LABEXT_DIST := labextension/dist/package.json
LABEXT_MODULES := labextension/node_modules/.installed-$(shell cat labextension/package-lock.json | sha1sum | cut -c1-12)
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/*) labextension/package.json \
	labextension/package-lock.json labextension/tsconfig.json labextension/install.json
LABEXT_INSTALLED := $(VENV)/share/jupyter/labextensions/nborch-labextension
LABEXT_COPY = rm -rf $(LABEXT_INSTALLED) && mkdir -p $(dir $(LABEXT_INSTALLED)) && \
	cp -R labextension/dist $(LABEXT_INSTALLED)
NPM_LOG := $(abspath $(VENV))/npm.log

.PHONY: demo demo-docker test lint bench install install-test install-test-packages labextension \
	services clean

demo: install
	@bash scripts/demo.sh

# The same job on a docker pool (needs root, or a Docker engine you may use).
demo-docker: install
	@bash scripts/demo-docker.sh

test: install-test services lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check nborch tests bench
	$(VENV)/bin/mypy nborch

bench: install-test services
	@for script in bench/run_latency.py bench/burst.py bench/worker_memory.py \
		bench/run_overhead.py bench/throughput.py bench/claims.py bench/docker_overhead.py \
		bench/scheduler_tick.py "bench/start_lag.py --runs 30 --spacing 3" bench/api_throughput.py \
		bench/push_pools.py; do \
		echo "== $$script"; $(PY) $$script || exit 1; done

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(VENV)/bin/python
	@test -f $(call STAMP,app) || { echo "Installing nborch into $(VENV)..."; \
		$(call EDITABLE,.) && touch $(call STAMP,app); }

install-test: install-test-packages labextension

install-test-packages: $(VENV)/bin/python
	@test -f $(call STAMP,test) || { echo "Installing nborch and its test tools into $(VENV)..."; \
		$(call EDITABLE,'.[test]') && touch $(call STAMP,test) $(call STAMP,app); }

# Needs Node.js 18+ (installed with Debian's packages as root); skipped, saying so, without.
labextension: $(VENV)/bin/python
	@bash scripts/install-node.sh
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) -s --no-print-directory $(LABEXT_DIST) && $(LABEXT_COPY); \
	else echo "No Node.js: the JupyterLab extension is not built (its tests are skipped)."; fi

$(LABEXT_MODULES): labextension/package-lock.json
	@echo "Installing the JupyterLab extension's npm packages into labextension/node_modules..."
	@cd labextension && npm ci --no-audit --no-fund >$(NPM_LOG) 2>&1 || { cat $(NPM_LOG); exit 1; }
	@touch $@

$(LABEXT_DIST): $(LABEXT_MODULES) $(LABEXT_SOURCES)
	@echo "Building the JupyterLab extension into labextension/dist..."
	@cd labextension && npm run build >$(NPM_LOG) 2>&1 || { cat $(NPM_LOG); exit 1; }

services:
	@bash scripts/install-postgres.sh
	@bash scripts/install-docker.sh
	@bash scripts/install-chromium.sh

clean:
	rm -rf $(VENV) .demo build *.egg-info labextension/node_modules labextension/lib \
		labextension/dist
