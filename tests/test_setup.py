"""What a new user does first works as the README says: the environment, Jupyter, the UI, a source spec."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import tracking
from forecasting.cli import main
from forecasting.data.loaders import load
from forecasting.data.sources import SourceSpec, load_source
from forecasting.sample import load_sample

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPEC = ROOT / "examples" / "heihe_customs.toml"
TABLE = ROOT / "examples" / "heihe_customs.csv"


def test_the_readme_says_how_to_get_the_command_on_the_path() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["forecasting"] == "forecasting.cli:main"  # what lands in .venv/bin
    assert "source .venv/bin/activate" in README and ".venv/bin/forecasting" in README
    assert "forecasting --help" in README


def test_the_notebooks_extra_brings_jupyter() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = {re.split(r"[<>=\[]", item)[0] for item in project["optional-dependencies"]["notebooks"]}
    assert {"jupyterlab", "ipykernel", "jupytext"} <= extra
    assert "pip install -e '.[notebooks]'" in README


def test_notebooks_log_to_the_project_store_without_a_variable(monkeypatch) -> None:
    """From notebooks/, with no MLFLOW_TRACKING_URI, the store is the one `make ui` shows."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    assert tracking.resolve_tracking_uri() == f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}"
    assert (ROOT / "mlruns" / ".gitkeep").is_file()  # the checkout is a project: it ships mlruns/
    for source in sorted((ROOT / "notebooks").glob("[0-9]*.py")):
        assert "os.environ" not in source.read_text(encoding="utf-8"), f"{source.name} sets the store"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_ui_takes_a_port_and_shows_the_project_store() -> None:
    dry = subprocess.run(
        ["make", "-n", "ui", "PORT=5123"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    command = dry.replace("\\\n", " ")
    assert re.search(r"mlflow ui .*--port 5123", command), command
    assert "--backend-store-uri sqlite:///mlruns/mlflow.db" in command
    assert "127.0.0.1:5123/#/experiments?workflowType=machine_learning" in command
    default = subprocess.run(["make", "-n", "ui"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--port 5000" in default.stdout


def test_the_example_source_spec_reads_its_table_back_to_the_sample() -> None:
    """examples/heihe_customs.csv is the sample's Heihe trade in thousands of CNY: read back to whole CNY."""
    loaded = load_source(SourceSpec.from_toml(SPEC), TABLE)
    assert sorted(loaded.records["series_id"].unique()) == [
        "heihe-blagoveshchensk/goods/export",
        "heihe-blagoveshchensk/goods/import",
    ]
    sample = load_sample().to_long().set_index(["series_id", "month"])["value"]
    for direction in ("export", "import"):
        ours = loaded.records[loaded.records["series_id"] == f"heihe-blagoveshchensk/goods/{direction}"]
        expected = sample.loc[f"heihe-blagoveshchensk/trade_value/{direction}"].loc[ours["month"]]
        whole_cny = expected.round().to_numpy()  # the table keeps three decimals of thousands
        np.testing.assert_allclose(ours["value"].to_numpy(), whole_cny, rtol=0, atol=1e-3)
    reasons = [issue.reason for issue in loaded.report.issues]
    assert "column 'Remarks' not loaded: free-text notes from the customs office" in reasons
    assert set(loaded.records["unit"]) == {"CNY"} and set(loaded.records["region"]) == {"heilongjiang"}


@pytest.mark.slow
def test_the_example_source_spec_runs_through_the_commands(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert main(["data", "check", str(TABLE), "--format", str(SPEC)]) == 0
    assert "result:    usable" in capsys.readouterr().out
    assert len(load(TABLE, str(SPEC)).records) == 2 * 126
    out = tmp_path / "f.csv"
    argv = ["forecast", "--input", str(TABLE), "--format", str(SPEC), "--horizon", "3", "--output", str(out)]
    assert main([*argv, "--model", "seasonal_naive"]) == 0
    table = pd.read_csv(out, dtype={"month": str})
    assert sorted(table["month"].unique()) == ["2025-07", "2025-08", "2025-09"]
    assert set(table["series_id"]) == {f"heihe-blagoveshchensk/goods/{d}" for d in ("export", "import")}
