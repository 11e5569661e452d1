"""The analyst notebooks run top to bottom on a fresh kernel, and are committed clean and in sync.

Their source is the jupytext percent-format ``notebooks/NN_name.py`` (ruff checks it),
paired to the ``.ipynb`` readers open; ``make notebooks`` rewrites the ``.ipynb`` from it.
Each notebook is executed with nbclient on an ipykernel kernel of the running
interpreter (ipykernel comes with the dev extra, so a fresh ``make test``
suffices), in ``notebooks/`` as working directory, with MLflow pointed at a
temporary SQLite store; any cell error fails the test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from ipykernel.kernelspec import install as install_kernel
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
EXPECTED = ["01_explore", "02_fit_and_compare", "03_retrain_and_export", "04_bring_your_own_data"]
PAIRING = "ipynb,py:percent"
CELL_TIMEOUT = 170
"""Seconds any one cell may take; each notebook must run in well under 3 minutes."""
NOTEBOOK_BUDGET = 180.0
KERNEL_NAME = "forecasting-tests"


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> Path:
    """A kernelspec for *this* interpreter in a temporary JUPYTER_PATH.

    JUPYTER_PATH comes first in Jupyter's search order, so a user-level
    ``python3`` kernel pointing at another Python cannot take the tests'
    place, and nothing is installed into the user's home.
    """
    prefix = tmp_path_factory.mktemp("jupyter")
    install_kernel(kernel_name=KERNEL_NAME, prefix=str(prefix), display_name="forecasting tests")
    return prefix / "share" / "jupyter"


def test_every_analyst_notebook_is_present_as_source_and_notebook():
    assert [path.stem for path in _notebooks()] == EXPECTED
    assert sorted(path.stem for path in NOTEBOOK_DIR.glob("*.py")) == EXPECTED


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{path.name} has no code"
    for cell in code_cells:
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name} {cell.id} has outputs"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_is_in_sync_with_its_source(path):
    """Editing only one side of a pair fails: the .ipynb holds exactly the cells of its .py."""
    source = jupytext.read(path.with_suffix(".py"))
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["jupytext"]["formats"] == PAIRING
    assert source.metadata["jupytext"]["formats"] == PAIRING
    cells = [(cell.cell_type, cell.source) for cell in notebook.cells]
    expected = [(cell.cell_type, cell.source) for cell in source.cells]
    assert cells == expected, f"{path.name} is stale: run make notebooks"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda path: path.name)
def test_notebook_runs_top_to_bottom(path, jupyter_path, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv[0] == sys.executable
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    before = set(NOTEBOOK_DIR.iterdir())
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, on any error
    elapsed = time.perf_counter() - started
    assert elapsed < NOTEBOOK_BUDGET, f"{path.name} took {elapsed:.0f} s"
    written = sorted(p.name for p in set(NOTEBOOK_DIR.iterdir()) - before)
    assert written == [], (
        f"{path.name} wrote {written} into notebooks/ (MLflow runs or exports belong in a temp dir)"
    )
