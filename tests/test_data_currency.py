"""Monthly average exchange rates (the real IMF table), currency conversion and unit scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.currency import convert_currency, monthly_average_rates, read_daily_rates, scale_units
from forecasting.data.loaders import load
from forecasting.data.report import DataQualityReport
from forecasting.errors import DataError

RATES = Path("trade") / "exchange-rates.csv"
# JPY per USD on the 19 trading days of January 2001 with a JPY rate in the IMF table (3 blanks)
JPY_JANUARY_2001 = [113.85, 116.5, 115.9, 117.05, 116.7, 118.1, 119.25, 118.35, 117.05, 119, 117.45]
JPY_JANUARY_2001 += [116.65, 117, 116.9, 117.7, 116.9, 117.66, 116.65, 116.15]


@pytest.fixture(scope="module")
def monthly_rates(shared_data: Path) -> pd.DataFrame:
    return monthly_average_rates(read_daily_rates(shared_data / RATES))


def test_imf_daily_rates_keep_blanks_as_missing(shared_data: Path) -> None:
    daily = read_daily_rates(shared_data / RATES)
    assert list(daily.columns) == ["CNY", "JPY", "KRW", "USD"]
    assert len(daily) == 4840
    assert np.isnan(daily.loc["2001-01-02", "JPY"]) and daily.loc["2001-01-02", "CNY"] == 8.2779
    assert daily.loc["2019-12-30", "KRW"] == 1160.9


def test_monthly_mean_matches_hand_computation(monthly_rates: pd.DataFrame) -> None:
    january = pd.Period("2001-01", "M")
    assert len(JPY_JANUARY_2001) == 19
    assert monthly_rates.loc[january, "JPY"] == pytest.approx(sum(JPY_JANUARY_2001) / 19, rel=1e-12)
    assert monthly_rates.loc[january, "USD"] == 1.0
    assert np.isnan(monthly_rates.loc[january, "KRW"])  # no KRW rate published that month
    assert monthly_rates.index.min() == january and monthly_rates.index.max() == pd.Period("2019-12", "M")


def test_japan_exports_converted_to_usd(shared_data: Path, monthly_rates: pd.DataFrame) -> None:
    records = load(shared_data / "trade" / "japan-china-trade-data.csv").records
    report = DataQualityReport()
    usd = convert_currency(records, monthly_rates, report, to="USD")
    january = usd[
        (usd["series_id"] == "japan-china/goods/export") & (usd["month"] == pd.Period("2001-01", "M"))
    ]
    assert january["value"].iloc[0] == pytest.approx(231_700_220e3 / (sum(JPY_JANUARY_2001) / 19))
    assert set(usd["currency"]) == {"USD"} and set(usd["unit"]) == {"USD"}
    assert [i.reason for i in report.issues] == ["JPY -> USD at monthly average exchange rates"] * 2
    assert report.count("converted") == 456


def conversion_records(currency: list[str], month: str = "2001-02") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": "x",
            "month": pd.PeriodIndex([month] * len(currency), freq="M"),
            "value": 100.0,
            "unit": currency,
            "currency": currency,
        }
    )


def test_conversion_errors_name_series_and_month(monthly_rates: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="series 'x': mixed currencies within one series"):
        convert_currency(
            conversion_records(["JPY", "CNY"]).assign(month=pd.period_range("2001-02", periods=2, freq="M")),
            monthly_rates,
            DataQualityReport(),
        )
    with pytest.raises(DataError, match="series 'x': no KRW/USD rate for 2001-02"):
        convert_currency(conversion_records(["KRW"]), monthly_rates, DataQualityReport())
    with pytest.raises(DataError, match=r"no exchange rates for \['RUB'\]"):
        convert_currency(conversion_records(["RUB"]), monthly_rates, DataQualityReport())


def test_cross_conversion_through_usd(monthly_rates: pd.DataFrame) -> None:
    cny = convert_currency(
        conversion_records(["JPY"], "2019-06"), monthly_rates, DataQualityReport(), to="CNY"
    )
    june = monthly_rates.loc[pd.Period("2019-06", "M")]
    assert cny["value"].iloc[0] == pytest.approx(100.0 / june["JPY"] * june["CNY"])
    assert cny["currency"].iloc[0] == "CNY"


def test_scale_units_to_base_units_and_reject_mixed_units() -> None:
    records = pd.DataFrame(
        {
            "series_id": ["coal", "coal", "trade"],
            "month": pd.period_range("2023-01", periods=3, freq="M"),
            "value": [1.5, 1500.0, 2.0],
            "unit": ["thousand tonnes", "tonnes", "hundred million CNY"],
        }
    )
    report = DataQualityReport()
    scaled = scale_units(records, report)
    assert scaled["value"].tolist() == [1500.0, 1500.0, 2e8]
    assert scaled["unit"].tolist() == ["tonnes", "tonnes", "CNY"]
    assert sorted(i.reason for i in report.issues) == [
        "hundred million CNY -> CNY (x1e+08)",
        "thousand tonnes -> tonnes (x1000)",
    ]
    mixed = records.assign(unit=["thousand tonnes", "TEU", "CNY"])
    with pytest.raises(DataError, match=r"series 'coal': mixed units within one series: \['TEU', 'tonnes'\]"):
        scale_units(mixed, DataQualityReport())


def test_bad_rate_cell_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("Date;JPY;USD\n02-Jan-2001;113.8;1\n03-Jan-2001;abc;1\n")
    with pytest.raises(DataError, match="row 3, column 'JPY'.*'abc'"):
        read_daily_rates(path)
    path.write_text("Date;JPY;USD\n2001-01-02;113.8;1\n")
    with pytest.raises(DataError, match="row 2, column 'Date'"):
        read_daily_rates(path)
