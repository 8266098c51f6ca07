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
# An editable install leaves out the wheel's data files: put the Jupyter server extension's
# config where a wheel install puts it, so Jupyter loads nborch's API and scheduler.
JUPYTER_CONF = mkdir -p $(VENV)/etc/jupyter/jupyter_server_config.d && \
	cp jupyter-config/jupyter_server_config.d/nborch.json $(VENV)/etc/jupyter/jupyter_server_config.d/

.PHONY: demo demo-docker test lint bench install install-test services clean

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
	@for script in bench/run_overhead.py bench/throughput.py bench/claims.py bench/docker_overhead.py \
		bench/scheduler_tick.py "bench/start_lag.py --runs 30" bench/api_throughput.py; do \
		echo "== $$script"; $(PY) $$script || exit 1; done

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(VENV)/bin/python
	@test -f $(call STAMP,app) || { echo "Installing nborch into $(VENV)..."; \
		$(call PIP,-e .) && $(JUPYTER_CONF) && touch $(call STAMP,app); }

install-test: $(VENV)/bin/python
	@test -f $(call STAMP,test) || { echo "Installing nborch and its test tools into $(VENV)..."; \
		$(call PIP,-e '.[test]') && $(JUPYTER_CONF) && touch $(call STAMP,test) $(call STAMP,app); }

services:
	@bash scripts/install-postgres.sh
	@bash scripts/install-docker.sh
	@bash scripts/install-chromium.sh

clean:
	rm -rf $(VENV) .demo build *.egg-info
