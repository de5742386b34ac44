# One place for every command the README and CI run, so they cannot drift.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
GRADER  := $(BIN)/grader

.PHONY: schema setup venv wheelhouse runtime docker image weights lint typecheck test ci demo clean

setup: venv runtime weights

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

wheelhouse:
	scripts/make-wheelhouse.sh

runtime: wheelhouse
	scripts/make-runtime.sh

weights: venv
	$(GRADER) weights standins

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup
	$(BIN)/pytest

ci: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

schema: venv
	$(GRADER) schema > questions/question.schema.json
