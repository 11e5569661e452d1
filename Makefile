# Two entry points: `make run` (main job on the bundled sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test test-fast lint notebooks ui browser bench clean

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
test: $(VENV)/.installed-dev browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# tests/test_mlflow_ui.py opens the MLflow UI in headless Chromium: Debian's package, installed where it
# is missing and apt-get can (as root); elsewhere that test skips, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	echo "no Chromium (apt-get install chromium): tests/test_mlflow_ui.py will skip"

# Everything but the tests marked slow (notebooks, reliability, real data, long fits): under a minute.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/ruff check forecasting tests benchmarks notebooks && $(BIN)/ruff format --check forecasting tests benchmarks notebooks

# The notebooks' source is notebooks/NN_*.py (jupytext percent format): rewrite the paired .ipynb from it.
notebooks: $(VENV)/.installed-dev
	$(BIN)/jupytext --update --to ipynb notebooks/[0-9]*.py

# The project's store (forecasting/tracking.py) on http://127.0.0.1:$(PORT); `make ui PORT=5001` for another port.
# The link opens MLflow 3's model-training view (its GenAI / Model training switch, top left).
ui: $(VENV)/.installed-run
	@echo "MLflow UI: http://127.0.0.1:$(PORT)/#/experiments?workflowType=machine_learning"
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db \
		--default-artifact-root ./mlruns --host 127.0.0.1 --port $(PORT)

bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,dask,bench]'
	$(BIN)/python benchmarks/accuracy.py --peers

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
