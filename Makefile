# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := -q --disable-pip-version-check

.PHONY: demo test lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -U pip "setuptools>=64" wheel

# Reinstall only when the package metadata changes (the install is editable).
$(VENV)/.installed-demo: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -e ".[test]"
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(VENV)/bin/factorbench quickstart

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 -q

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) factorbench-out .pytest_cache
