# Two entry points for a fresh machine with Python 3.11:
#   make run   - build .venv if needed, then start the dashboard on the built-in data
#   make test  - build .venv if needed, install Debian chromium if missing, run the tests
# CPU-only torch (no CUDA libraries, a much smaller venv), for machines that reach PyTorch's wheel index:
#   make clean && make venv TORCH=cpu
PYTHON ?= python3.11
VENV   ?= .venv
PORT   ?= 8501
STAMP  := $(VENV)/.requirements.stamp
PY     := $(VENV)/bin/python
# TORCH=cpu takes the requirements.txt torch/torchvision pins from TORCH_CPU_INDEX before the rest;
# the default (TORCH empty) is PyPI's build of the same pins (with CUDA).
TORCH  ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PINS = $(shell grep -E '^torch(vision)?==' requirements.txt)

.PHONY: run test venv browser postgres bench clean

venv: $(STAMP)

# Rebuilt only when missing or when a requirements file changed (stale).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(TORCH),cpu)
	$(PY) -m pip install --quiet --index-url $(TORCH_CPU_INDEX) $(TORCH_PINS)
else ifneq ($(TORCH),)
	$(error TORCH is empty (PyPI build) or cpu, not '$(TORCH)')
endif
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: venv
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The votes tests start a throw-away PostgreSQL server (tests/support/postgres.py) with these binaries.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql for the votes tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: venv browser postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache
