# Two entry points: `make run` (main job on the bundled sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint notebooks ui bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,dask]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/forecasting retrain

# One test process per core (pytest-xdist), each test file on one worker so module fixtures are built once.
test: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# Everything but the tests marked slow (notebooks, reliability, real data, long fits): under a minute.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/ruff check forecasting tests benchmarks notebooks && $(BIN)/ruff format --check forecasting tests benchmarks notebooks

# The notebooks' source is notebooks/NN_*.py (jupytext percent format): rewrite the paired .ipynb from it.
notebooks: $(VENV)/.installed-dev
	$(BIN)/jupytext --update --to ipynb notebooks/[0-9]*.py

ui: $(VENV)/.installed-run
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --default-artifact-root ./mlruns --host 127.0.0.1

bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,dask,bench]'
	$(BIN)/python benchmarks/accuracy.py --peers

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
