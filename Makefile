# The two commands a fresh machine needs: `make run` and `make test`.
# Both install into .venv first (from constraints.txt, so versions are reproducible).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	$(PY) -m devstack fetch
	touch $@

run: install
	$(PY) -m devstack run $(RUN_ARGS)

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m pip install --quiet ruff mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
