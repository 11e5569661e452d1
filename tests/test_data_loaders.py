"""Month and number parsing, long and wide loaders, and every error path on small files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.data.loaders import load, load_long, load_wide, parse_months, parse_numbers
from forecasting.data.records import add_quality_warnings
from forecasting.data.report import DataQualityReport
from forecasting.errors import DataError
from forecasting.panel import SeriesPanel


def write(tmp_path: Path, text: str, name: str = "input.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "labels",
    [
        ["2023-01", "2023-02", "2023-12"],
        ["2023-01-01", "2023-02-01", "2023-12-31"],
        ["Jan 2023", "Feb 2023", "Dec 2023"],
        ["January 2023", "February 2023", "December 2023"],
        ["2023/01", "2023/02", "2023/12"],
        ["2023.01", "2023.02", "2023.12"],
    ],
)
def test_parse_months_reads_every_published_format(labels: list[str]) -> None:
    months = parse_months(labels)
    assert list(months.astype(str)) == ["2023-01", "2023-02", "2023-12"]
    assert months.freqstr == "M"


def test_parse_months_keeps_2023_10_apart_from_2023_1() -> None:
    # read as a float, "2023.10" would become "2023.1": the loaders read text, so October stays October
    assert list(parse_months(["2023.10", "2023.01"]).astype(str)) == ["2023-10", "2023-01"]


def test_parse_months_accepts_timestamps_and_periods() -> None:
    stamps = pd.Series(pd.to_datetime(["2021-03-15", "2021-04-01"]))
    assert list(parse_months(stamps).astype(str)) == ["2021-03", "2021-04"]
    periods = pd.Series(pd.period_range("2020-11", periods=2, freq="M"))
    assert list(parse_months(periods).astype(str)) == ["2020-11", "2020-12"]


def test_parse_months_names_file_row_column_and_value() -> None:
    cells = pd.Series(["2023-01", "2023-02", "2023-13"], index=[2, 3, 4])
    with pytest.raises(DataError) as caught:
        parse_months(cells, file="trade.csv", column="Period")
    message = str(caught.value)
    assert (
        "file trade.csv" in message
        and "row 4" in message
        and "'Period'" in message
        and "'2023-13'" in message
    )
    assert caught.value.row == 4


def test_parse_months_blank_cell_is_an_error() -> None:
    with pytest.raises(DataError, match="row 1.*blank month"):
        parse_months(["2023-01", " "])


def test_parse_months_with_declared_format_rejects_others() -> None:
    with pytest.raises(DataError, match="'2023-01'"):
        parse_months(["2023/01", "2023-01"], formats=["%Y/%m"])


def test_parse_numbers_thousands_and_decimal_marks() -> None:
    assert parse_numbers(["1,187.5", "-7,240.0", "8427.5"]).tolist() == [1187.5, -7240.0, 8427.5]
    assert parse_numbers(["1 187,5", "12\u00a0000,25"], thousands=" ", decimal=",").tolist() == [
        1187.5,
        12000.25,
    ]


def test_parse_numbers_blank_is_missing_but_text_and_inf_are_errors() -> None:
    assert np.isnan(parse_numbers(["1", ""]).iloc[1])
    missing = parse_numbers(["1", "NA", " #N/A", "N/A", "2,000"]).isna()
    assert missing.tolist() == [False, True, True, True, False]
    with pytest.raises(DataError, match="row 1.*'12a'"):
        parse_numbers(["3", "12a"])
    with pytest.raises(DataError, match="NaN or infinite"):
        parse_numbers(["3", "inf"])
    with pytest.raises(DataError, match="NaN or infinite"):
        parse_numbers(["nan"])


LONG = """series_id,month,value,flow,unit
a/cargo/import,2023-01,"1,000.5",cargo,tonnes
a/cargo/import,2023-02,1200,cargo,tonnes
b/passengers/inbound,Jan 2023,30,passengers,persons
b/passengers/inbound,Feb 2023,,passengers,persons
b/passengers/inbound,Mar 2023,40,passengers,persons
a/cargo/import,2023-02,1200,cargo,tonnes
"""


def test_load_long_parses_reports_blank_and_exact_duplicate(tmp_path: Path) -> None:
    result = load_long(write(tmp_path, LONG))
    records = result.records
    assert len(records) == 4
    assert records.loc[records["series_id"] == "a/cargo/import", "value"].tolist() == [1000.5, 1200.0]
    assert records["month"].dtype == pd.PeriodDtype("M")
    issues = result.report.to_frame()
    blank = issues[issues["reason"].str.startswith("blank value")]
    assert blank["rows"].tolist() == ["5"] and blank["series_id"].tolist() == ["b/passengers/inbound"]
    exact = issues[issues["reason"].str.startswith("exact duplicate")]
    assert exact["rows"].tolist() == ["7"]
    gaps = issues[issues["reason"].str.startswith("gap")]
    assert gaps["series_id"].tolist() == ["b/passengers/inbound"] and gaps["count"].tolist() == [1]
    assert result.report.rows_read == 6
    panel = SeriesPanel.from_load(result)
    assert panel.series_ids == ["a/cargo/import", "b/passengers/inbound"]
    assert panel.report is result.report


@pytest.mark.parametrize("suffix", ["parquet", "xlsx"])
def test_load_long_reads_parquet_and_excel(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame(
        {"series_id": ["x", "x", "x"], "month": ["2022-11", "2022-12", "2023-01"], "value": [1.0, 2.0, 3.5]}
    )
    path = tmp_path / f"long.{suffix}"
    frame.to_parquet(path) if suffix == "parquet" else frame.to_excel(path, index=False)
    records = load(path).records
    assert records["value"].tolist() == [1.0, 2.0, 3.5]
    assert list(records["month"].astype(str)) == ["2022-11", "2022-12", "2023-01"]


def test_load_wide_melts_columns_and_counts_blanks(tmp_path: Path) -> None:
    text = "month,heihe/cargo/export,manzhouli/cargo/export\n2023-01,5,\n2023-02,6,7\n2023-03,8,9\n"
    result = load_wide(write(tmp_path, text), dimensions={"flow": "cargo", "unit": "tonnes"})
    wide = SeriesPanel.from_load(result).wide()
    assert wide["heihe/cargo/export"].tolist() == [5.0, 6.0, 8.0]
    assert np.isnan(wide["manzhouli/cargo/export"].iloc[0])
    assert (result.records["unit"] == "tonnes").all()
    blank = result.report.to_frame().query("action == 'dropped'")
    assert blank["series_id"].tolist() == ["manzhouli/cargo/export"] and blank["rows"].tolist() == ["2"]


def test_auto_format_recognises_long_and_wide(tmp_path: Path) -> None:
    assert load(write(tmp_path, LONG)).records["series_id"].nunique() == 2
    wide = write(tmp_path, "month,s1,s2\n2023-01,1,2\n", "wide.csv")
    assert sorted(load(wide).records["series_id"]) == ["s1", "s2"]


def test_a_table_read_as_wide_only_by_elimination_says_so(tmp_path: Path) -> None:
    """M1's series list (series_id, type, description, n, h) passed as data: its first column is not
    months, and the error said only that, not that wide was a guess or what the header was."""
    listing = write(tmp_path, "series_id,type,n,h\nMRF1,MICRO1,42,18\n", "m1_monthly_series.csv")
    with pytest.raises(DataError) as error:
        load(listing)
    message = str(error.value)
    assert "row 2, column 'series_id': cannot read 'MRF1' as a month" in message
    assert "read as a wide table, the guess" in message and "the header is series_id, type, n, h" in message
    with pytest.raises(DataError) as named:  # a format the user named is not a guess
        load(listing, "wide")
    assert "guess" not in str(named.value)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "empty input"),
        ("series_id,month,value\n", "header only"),
        ("series_id,value\nx,1\n", r"missing required column\(s\) \['month'\]"),
        ("series_id,month,value\nx,2023-01,1\nx,2023-02,abc\n", "row 3, column 'value'.*'abc'"),
        ("series_id,month,value\nx,2023-01,1\nx,20230-2,1\n", "row 3, column 'month'.*'20230-2'"),
        ("series_id,month,value\nx,2023-01,1\nx,2023-02,NaN\n", "row 3.*NaN or infinite"),
        ("series_id,month,value\nx,2023-01,inf\n", "row 2.*NaN or infinite"),
        (
            "series_id,month,value,flow\nx,2023-01,1,cargo\nx,2023-02,-4,cargo\n",
            "row 3, column 'value', series 'x': negative count",
        ),
        (
            "series_id,month,value\nx,2023-01,1\nx,2023-01,2\n",
            r"row 2, column 'value', series 'x': 1 conflicting duplicate.*x@2023-01 values \[1.0, 2.0\]"
            r".*series build --conflicts drop",
        ),
        (
            "series_id,month,value,unit\nx,2023-01,1,tonnes\nx,2023-02,2,thousand tonnes\n",
            "series 'x': mixed units",
        ),
        ("series_id,month,value\n,2023-01,1\n", "row 2: blank series_id"),
    ],
)
def test_load_long_errors_name_where(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        load_long(write(tmp_path, text))


def test_negative_trade_values_are_allowed(tmp_path: Path) -> None:
    # a balance or a correction can be negative; only counts (cargo, passengers) cannot
    text = "series_id,month,value,flow\nx,2023-01,-5,trade_value\n"
    assert load_long(write(tmp_path, text)).records["value"].tolist() == [-5.0]


def test_quality_warnings_short_series_and_zero_runs() -> None:
    months = pd.period_range("2020-01", periods=30, freq="M")
    values = np.r_[np.ones(10), np.zeros(7), np.ones(13)]
    records = pd.DataFrame(
        {
            "series_id": ["long"] * 30 + ["short"] * 5,
            "month": list(months) + list(months[:5]),
            "value": list(values) + [1.0] * 5,
        }
    )
    report = DataQualityReport()
    add_quality_warnings(records, report)
    issues = report.to_frame()
    zero = issues[issues["reason"].str.startswith("run of")]
    assert zero[["series_id", "month", "count"]].values.tolist() == [["long", "2020-11", 7]]
    short = issues[issues["reason"].str.startswith("short series")]
    assert short[["series_id", "count"]].values.tolist() == [["short", 5]]
    assert not issues["reason"].str.startswith("gap").any()


def test_load_long_guesses_semicolon_separator_and_drops_conflicts_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, "series_id;month;value\nx;2023/01;1,000\nx;2023/01;1,200\nx;2023/02;5\n")
    with pytest.raises(DataError, match="conflicting duplicate"):
        load(path)
    result = load(path, conflicts="drop")
    assert result.records["value"].tolist() == [5.0]
    dropped = result.report.to_frame().query("action == 'dropped'")
    assert dropped[["series_id", "month", "count"]].values.tolist() == [["x", "2023-01", 2]]


def test_load_long_excel_with_date_cells(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"series_id": ["x", "x"], "month": pd.to_datetime(["2023-01-31", "2023-02-28"]), "value": [1, 2]}
    )
    path = tmp_path / "dates.xlsx"
    frame.to_excel(path, index=False)
    assert list(load_long(path).records["month"].astype(str)) == ["2023-01", "2023-02"]


@given(
    month=st.integers(min_value=(1990 - 1970) * 12, max_value=(2040 - 1970) * 12),
    fmt=st.sampled_from(["%Y-%m", "%Y-%m-%d", "%b %Y", "%B %Y", "%Y/%m", "%Y.%m"]),
)
@settings(max_examples=60, deadline=None)
def test_parse_months_round_trips_every_format(month: int, fmt: str) -> None:
    period = pd.Period("1970-01", "M") + month
    label = period.to_timestamp().strftime(fmt)
    assert parse_months([label, label])[0] == period


def test_a_quarterly_file_is_refused_as_the_python_api_refuses_it(tmp_path: Path) -> None:
    """The command line forecast quarterly rows as monthly series with two months in three missing."""
    path = tmp_path / "quarterly.csv"
    months = pd.period_range("2019-01", periods=12, freq="Q").asfreq("M", how="start").astype(str)
    pd.DataFrame({"series_id": "q", "month": months, "value": range(12)}).to_csv(path, index=False)
    with pytest.raises(DataError, match="quarterly.csv.*3 apart \\(quarterly data\\)"):
        load(path)
    monthly = pd.DataFrame({"series_id": "m", "month": ["2019-02", "2019-03"], "value": [1.0, 2.0]})
    pd.concat([pd.read_csv(path), monthly]).to_csv(path, index=False)  # one monthly series: a panel
    assert len(load(path).records) == 14


def test_an_isolated_spike_among_regular_months_is_flagged_and_a_lumpy_series_shipment_is_not() -> None:
    """A x1000 keying error four months before the end made every forecast 25-45 times the level."""
    rng = np.random.default_rng(3)
    months = pd.period_range("2012-01", periods=96, freq="M")
    regular = rng.normal(4000, 400, 96)
    regular[91], regular[40] = regular[91] * 1000, regular[40] / 1000
    lumpy = np.where(rng.random(96) < 0.3, rng.lognormal(3, 2, 96), 0.0)
    lumpy[50] = 1e6  # one big shipment among small and empty months: lumpy by nature
    records = pd.DataFrame(
        {
            "series_id": np.repeat(["regular", "lumpy"], 96),
            "month": np.tile(months, 2),
            "value": np.r_[regular, lumpy],
        }
    )
    report = DataQualityReport(source="planted", rows_read=len(records))
    add_quality_warnings(records, report)
    spikes = {(i.series_id, i.month): i.reason for i in report.issues if "spike" in i.reason}
    assert set(spikes) == {("regular", "2015-05"), ("regular", "2019-08")}
    assert spikes[("regular", "2015-05")].startswith("isolated spike: 1/9")  # about a thousandth
    assert spikes[("regular", "2019-08")].startswith("isolated spike: 1,0")  # about a thousand times
