"""Issue 27, item 4: a control character in a text cell is a load error naming line and column.

A series id or dimension holding a line break or another control character
passed ``data check`` and reached the exports, whose rows it split. Every
loader, the hierarchy file and the ``Forecaster`` front end refuse it, the CLI
with exit 2 and one line naming the file, the line and the column. Blanks
around a cell are still cut first (test_security.py: a leading tab or CR is not
part of the id).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import Forecaster
from forecasting.cli import main
from forecasting.data.loaders import load
from forecasting.errors import DataError

pytestmark = pytest.mark.timeout(120)

CHARACTERS = {
    "cr": "\r",
    "lf": "\n",
    "crlf": "\r\n",
    "tab": "\t",
    "vertical_tab": "\x0b",
    "escape": "\x1b",
    "delete": "\x7f",
    "c1_next_line": "\x85",
    "line_separator": "\u2028",
    "paragraph_separator": "\u2029",
}


def _long(path: Path, column: str, text: str, *, line: int = 7) -> Path:
    """Two series over 30 months; the cell of ``column`` on file line ``line`` holds ``text``."""
    months = pd.period_range("2020-01", periods=30, freq="M").astype(str)
    rows = [
        {"series_id": f"s{i}", "month": month, "value": 10.0 + k, "crossing": f"c{i}", "flow": "cargo"}
        for i in range(2)
        for k, month in enumerate(months)
    ]
    frame = pd.DataFrame(rows)
    frame.loc[line - 2, column] = text
    if column == "series_id":  # the whole series, or it is a third one-month series
        frame.loc[frame["series_id"] == "s0", "series_id"] = text
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    return path


@pytest.mark.parametrize("column", ["series_id", "crossing"])
@pytest.mark.parametrize("name", list(CHARACTERS))
def test_data_check_refuses_a_control_character_naming_line_and_column(
    tmp_path: Path, name: str, column: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _long(tmp_path / "panel.csv", column, f"port{CHARACTERS[name]}east")
    assert main(["data", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert "usable" not in captured.out
    line = 2 if column == "series_id" else 7  # the id is the whole series s0's, the crossing one cell's
    assert f"file {path}, row {line}, column '{column}': control character" in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_forecast_writes_no_export_with_a_broken_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _long(tmp_path / "panel.csv", "series_id", "s0\r\n=HYPERLINK(1)")
    output = tmp_path / "out.csv"
    argv = ["forecast", "--input", str(path), "--horizon", "2", "--model", "naive", "--output", str(output)]
    assert main(argv) == 2
    assert "column 'series_id': control character" in capsys.readouterr().err
    assert not output.exists()


def test_the_line_named_is_the_first_in_the_file(tmp_path: Path) -> None:
    path = _long(tmp_path / "panel.csv", "crossing", "a\x1bb", line=40)
    with pytest.raises(DataError, match="control character") as error:
        load(path)
    assert (error.value.row, error.value.column) == (40, "crossing")


def test_a_wide_header_with_a_control_character_names_the_header_line(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text('month,"a\nb",c\n2020-01,1,2\n2020-02,3,4\n', encoding="utf-8")
    with pytest.raises(DataError, match="control character") as error:
        load(path, "wide")
    assert (error.value.row, error.value.column) == (1, "a\nb")


def test_a_hierarchy_with_a_control_character_is_refused(tmp_path: Path) -> None:
    path = _long(tmp_path / "panel.csv", "flow", "cargo")
    (tmp_path / "panel.hierarchy.csv").write_text(
        'parent,child,level\n"all\r",s0,total\n"all\r",s1,total\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match="control character") as error:
        load(path)
    assert (error.value.file, error.value.row, error.value.column) == (
        str(tmp_path / "panel.hierarchy.csv"),
        2,
        "parent",
    )


@pytest.mark.parametrize("column", ["unique_id", "flow"])
def test_forecaster_refuses_a_control_character_in_a_frame(column: str) -> None:
    months = pd.period_range("2020-01", periods=30, freq="M")
    frame = pd.DataFrame(
        {"unique_id": np.repeat(["a", "b"], 30), "ds": np.tile(months, 2), "y": np.arange(60.0) + 1}
    )
    frame["flow"] = "cargo"
    frame.loc[3, column] = "line\nbreak"
    with pytest.raises(DataError, match="control character") as error:
        Forecaster(["naive"]).forecast(frame, h=2)
    assert error.value.column == ("series_id" if column == "unique_id" else column)
