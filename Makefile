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

# The leaderboard's browser tests drive Debian's chromium (browser downloads are impossible here); install it where
# it is missing. Without root or apt the tests skip and say why (under CI they fail instead).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			chromium fonts-dejavu-core fonts-liberation; \
	else echo "make: cannot install chromium (needs root and apt-get): the leaderboard browser tests will skip"; fi

test: $(VENV)/.installed-test | $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 -q

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) factorbench-out .pytest_cache
