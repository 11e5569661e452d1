"""Error and report messages: capped echoes, file lines, the file named, future months flagged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import cli
from forecasting.data.loaders import load_long
from forecasting.data.records import finish_records
from forecasting.data.report import DataQualityReport
from forecasting.errors import ECHO_LIMIT, ConfigError, DataError
from forecasting.jobs.config import check_job_name
from forecasting.panel import SeriesPanel

pytestmark = pytest.mark.timeout(60)


def _write(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _rows(n: int = 30, start: str = "2019-01", series: str = "a") -> list[dict]:
    months = pd.period_range(start, periods=n, freq="M").astype(str)
    return [{"series_id": series, "month": m, "value": float(10 + i)} for i, m in enumerate(months)]


@pytest.mark.parametrize("column", ["value", "month"])
def test_a_huge_cell_is_echoed_capped(
    tmp_path: Path, column: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows()
    rows[3][column] = "9" * 20 + "x" * 2_000_000  # a 2 MB cell
    path = _write(tmp_path / "huge.csv", rows)
    assert cli.main(["data", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "row 5" in err and f"column '{column}'" in err
    assert "\u2026" in err and len(err) < 400


def test_huge_series_ids_and_keys_are_capped_in_locations() -> None:
    error = DataError("bad", series="s" * 10_000, column="c" * 10_000)
    assert len(str(error)) < 3 * ECHO_LIMIT
    assert len(str(ConfigError("x" * 100_000, key="k" * 10_000))) < 1200


def test_validation_errors_name_the_file_line_not_a_sorted_position() -> None:
    """Records sorted by series and month no longer sit at their file lines."""
    frame = pd.DataFrame(
        {
            "series_id": ["b", "a", "a"],
            "month": pd.PeriodIndex(["2020-01", "2020-02", "2020-01"], freq="M"),
            "value": [1.0, np.inf, 2.0],
        },
        index=[2, 3, 4],  # line numbers in the file; sorted, the inf row is the second record
    )
    with pytest.raises(DataError, match=r"file f.csv, row 3, column 'value'.*a@2020-02"):
        finish_records(frame, DataQualityReport(source="f.csv"), file="f.csv")
    with pytest.raises(DataError) as raised:
        SeriesPanel(frame.reset_index(drop=True))
    assert str(raised.value).startswith("column 'value', series 'a':"), "no file, so no row to name"


def test_a_dimension_changing_within_a_series_names_the_file(tmp_path: Path) -> None:
    rows = [{**row, "crossing": "north" if i < 10 else "south"} for i, row in enumerate(_rows())]
    path = _write(tmp_path / "dims.csv", rows)
    with pytest.raises(DataError, match=rf"file {path}, column 'crossing', series 'a'.*'north', 'south'"):
        SeriesPanel.from_load(load_long(path))


def test_months_in_the_future_are_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = pd.Period(datetime.now(UTC).strftime("%Y-%m"), freq="M")
    rows = _rows(n=30, start=str(now - 27))  # the last two months are in the future
    path = _write(tmp_path / "future.csv", rows)
    report = load_long(path).report
    warned = [i for i in report.issues if "month in the future" in i.reason]
    assert len(warned) == 1 and warned[0].count == 2 and warned[0].month == str(now + 1)
    assert cli.main(["data", "check", str(path)]) == 0
    assert "month in the future" in capsys.readouterr().out
    assert not [
        i for i in load_long(_write(tmp_path / "p.csv", _rows())).report.issues if "future" in i.reason
    ]


@pytest.mark.parametrize("name", ["tiny\n", "tiny\r\n", "a" * 65, "tiny\x00"])
def test_job_names_are_matched_whole(name: str) -> None:
    with pytest.raises(ConfigError, match="job.name"):
        check_job_name(name)
    assert check_job_name("a" * 64) == "a" * 64
