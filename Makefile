# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install the project, run the scoring job on the embedded default
#   make test   - create .venv, install the project, run the test suite (what CI runs)
#   make test-fast - the same without the tests marked slow (the edit-test loop)
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) pipelines/score.py

test: $(VENV)/.installed
	$(PY) -m pytest -q

# The edit-test loop: everything but the tests marked slow (make test still runs them all).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

.PHONY: install demo test test-fast
