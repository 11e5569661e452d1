"""``data check`` says usable exactly when the other commands accept the file.

It ran the loaders' row checks but not the panel's: a dimension that changes
within a series, a hierarchy naming series that are not in the panel, and
conflicting duplicates (dropped to list them all) passed it as "usable" while
``forecast``, ``backtest`` and the retrain stopped with exit 2. The panel's
checks are one function now, run by every command, and every such error names
its file (the hierarchy's error named none).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecasting.cli import main

from .jobkit import write_panel

pytestmark = pytest.mark.timeout(120)

COMMANDS = {
    "data": ["data", "check"],
    "backtest": ["backtest", "--horizon", "2", "--models", "naive", "--input"],
    "forecast": ["forecast", "--horizon", "2", "--model", "naive", "--output", "-", "--input"],
}


def _panel(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    path = write_panel(tmp_path / "panel.csv")
    return path, pd.read_csv(path, dtype=str, keep_default_na=False)


def _changing_region(tmp_path: Path) -> tuple[Path, Path]:
    path, frame = _panel(tmp_path)
    frame["region"] = "north"
    frame.loc[frame.index[7], "region"] = "south"  # one month of s0 elsewhere
    frame.to_csv(path, index=False)
    return path, path


def _changing_extra_dimension(tmp_path: Path) -> tuple[Path, Path]:
    path, frame = _panel(tmp_path)
    frame["port_code"] = "0101"
    frame.loc[frame.index[-1], "port_code"] = "0102"
    frame.to_csv(path, index=False)
    return path, path


def _write_hierarchy(tmp_path: Path, rows: str) -> Path:
    hierarchy = tmp_path / "panel.hierarchy.csv"
    hierarchy.write_text(f"parent,child,level\n{rows}", encoding="utf-8")
    return hierarchy


def _with_total(tmp_path: Path) -> Path:
    """The panel plus a series ``total`` equal to s0 (the parent of s0 alone)."""
    path, frame = _panel(tmp_path)
    total = frame[frame["series_id"] == "s0/cargo/inbound"].assign(series_id="total")
    pd.concat([frame, total]).to_csv(path, index=False)
    return path


def _absent_parent(tmp_path: Path) -> tuple[Path, Path]:
    path, _ = _panel(tmp_path)
    return path, _write_hierarchy(tmp_path, "total,s0/cargo/inbound,total\ntotal,s1/cargo/inbound,total\n")


def _absent_child(tmp_path: Path) -> tuple[Path, Path]:
    path = _with_total(tmp_path)
    return path, _write_hierarchy(tmp_path, "total,s0/cargo/inbound,total\ntotal,s9/cargo/inbound,total\n")


def _conflicting_duplicate(tmp_path: Path) -> tuple[Path, Path]:
    path, frame = _panel(tmp_path)
    clash = frame.iloc[[3]].assign(value="1")
    pd.concat([frame, clash]).to_csv(path, index=False)
    return path, path


CASES = {
    "changing_region": (_changing_region, "dimension 'region' changes within the series"),
    "changing_extra_dimension": (_changing_extra_dimension, "dimension 'port_code' changes"),
    "absent_parent": (_absent_parent, "hierarchy names series that are not in the panel: ['total']"),
    "absent_child": (_absent_child, "hierarchy names series that are not in the panel: ['s9/cargo/inbound']"),
    "conflicting_duplicate": (_conflicting_duplicate, "conflicting duplicate"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_every_command_refuses_what_data_check_refuses(
    tmp_path: Path,
    case: str,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'never.db'}")  # refused before MLflow
    make, message = CASES[case]
    panel, named = make(tmp_path)
    assert main([*COMMANDS[command], str(panel)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("forecasting: error:")]
    assert len(errors) == 1 and f"file {named}" in errors[0] and message in errors[0], errors
    assert not (tmp_path / "never.db").exists()


def test_a_file_every_command_accepts_is_usable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    panel = _with_total(tmp_path)
    _write_hierarchy(tmp_path, "total,s0/cargo/inbound,total\n")
    assert main(["data", "check", str(panel)]) == 0
    assert "result:    usable" in capsys.readouterr().out
    assert main([*COMMANDS["backtest"], str(panel)]) == 0
