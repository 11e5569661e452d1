"""The bundled sample reproduces the published figures of docs/domain.md and regenerates exactly."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pandas as pd
import pytest

from forecasting.features.calendar import calendar_features
from forecasting.panel import SeriesPanel
from forecasting.sample import (
    COMBINED_JAN_FEB,
    SAMPLE_EVENTS,
    SAMPLE_PATH,
    load_sample,
    render_sample_csv,
)

HEIHE = "heihe-blagoveshchensk"
REGENERATE = "run `forecasting sample generate --output data/sample/border_panel.csv`"


@pytest.fixture(scope="module")
def sample() -> SeriesPanel:
    return load_sample()


def _total(panel: SeriesPanel, series_ids: list[str], first: str, last: str) -> float:
    wide = panel.wide().loc[pd.Period(first, "M") : pd.Period(last, "M"), series_ids]
    assert not wide.isna().any().any(), "a published period must be fully observed"
    return float(wide.to_numpy().sum())


def test_heihe_trade_2024_and_growth_on_2023(sample: SeriesPanel) -> None:
    ids = [f"{HEIHE}/trade_value/export", f"{HEIHE}/trade_value/import"]
    y2024 = _total(sample, ids, "2024-01", "2024-12")
    y2023 = _total(sample, ids, "2023-01", "2023-12")
    assert round(y2024 / 1e9, 2) == 31.35
    assert round(100 * (y2024 / y2023 - 1), 1) == 19.1


def test_heihe_passengers_2024_and_nearly_two_and_a_half_times_2023(sample: SeriesPanel) -> None:
    ids = [f"{HEIHE}/passengers/inbound", f"{HEIHE}/passengers/outbound"]
    y2024 = _total(sample, ids, "2024-01", "2024-12")
    y2023 = _total(sample, ids, "2023-01", "2023-12")
    assert round(y2024, -3) == 760_000
    assert 2.4 <= y2024 / y2023 < 2.5


def test_heilongjiang_trade_with_russia_2018(sample: SeriesPanel) -> None:
    ids = ["heilongjiang/trade_value/export", "heilongjiang/trade_value/import"]
    y2018 = _total(sample, ids, "2018-01", "2018-12")
    y2017 = _total(sample, ids, "2017-01", "2017-12")
    assert round(y2018 / 1e9) == 122
    assert round(100 * (y2018 / y2017 - 1), 1) == 64.7


def test_zabaykalsk_manzhouli_rail_cargo(sample: SeriesPanel) -> None:
    ids = ["zabaykalsk-manzhouli/cargo/rail/import", "zabaykalsk-manzhouli/cargo/rail/export"]
    jan2023 = _total(sample, ids, "2023-01", "2023-01")
    jan2022 = _total(sample, ids, "2022-01", "2022-01")
    assert round(jan2023 / 1e6, 1) == 1.5
    assert round(100 * (jan2023 / jan2022 - 1), 1) == 82.9
    assert round(_total(sample, ids, "2022-01", "2022-12") / 1e6) == 15


def test_harbin_air_cargo_first_half_2017(sample: SeriesPanel) -> None:
    ids = ["harbin-airport/cargo/air/export"]
    h1_2017 = _total(sample, ids, "2017-01", "2017-06")
    h1_2016 = _total(sample, ids, "2016-01", "2016-06")
    assert round(h1_2017) == 1830
    assert round(100 * (h1_2017 / h1_2016 - 1)) == 130


def test_sample_shape_labels_and_units(sample: SeriesPanel) -> None:
    assert 10 <= len(sample) <= 24
    records = sample.records
    assert records["month"].min() == pd.Period("2015-01", "M")
    assert records["month"].max() == pd.Period("2025-06", "M")
    assert records["source"].str.startswith("simulated").all()
    units = sample.metadata.groupby("flow")["unit"].unique().map(list).to_dict()
    assert units == {"cargo": ["tonnes"], "passengers": ["persons"], "trade_value": ["CNY"]}


def test_covid_closure_leaves_passengers_near_zero(sample: SeriesPanel) -> None:
    both = sample.wide()[[f"{HEIHE}/passengers/inbound", f"{HEIHE}/passengers/outbound"]].sum(axis=1)
    closed = both.loc[pd.Period("2020-02", "M") : pd.Period("2023-01", "M")]
    before = both.loc[pd.Period("2019-01", "M") : pd.Period("2019-12", "M")]
    assert closed.max() < 0.05 * before.mean()
    closure = next(e for e in SAMPLE_EVENTS if e.name == "covid_passenger_closure")
    assert (str(closure.start), str(closure.end)) == ("2020-02", "2023-01")


def test_spring_festival_lowers_the_festival_month_of_heihe_trade(sample: SeriesPanel) -> None:
    """Jan is lower than Feb in years the break falls in January, and the other way round."""
    trade = sample.wide()[f"{HEIHE}/trade_value/import"]
    months = pd.period_range("2015-01", "2025-02", freq="M")
    features = calendar_features(months).set_index("month")["spring_festival_days"]
    years = [y for y in range(2015, 2026) if y != 2019]  # 2019: January published with February
    ratios = {y: trade[pd.Period(f"{y}-01", "M")] / trade[pd.Period(f"{y}-02", "M")] for y in years}
    january_festival = [y for y in years if features[pd.Period(f"{y}-01", "M")] >= 4]
    other = [y for y in years if y not in january_festival]
    assert january_festival and other
    assert np.mean([ratios[y] for y in january_festival]) < np.mean([ratios[y] for y in other])


def test_defects_are_repaired_or_reported(sample: SeriesPanel) -> None:
    issues = sample.report.to_frame()
    gaps = issues[issues["reason"].str.contains("gap")]
    assert f"{HEIHE}/cargo/road/import" in set(gaps["series_id"])
    assert pd.isna(sample.series(f"{HEIHE}/cargo/road/import")[pd.Period("2020-04", "M")])
    combined = issues[issues["reason"].str.contains("combined January\\+February", regex=True)]
    assert set(combined["series_id"]) == set(COMBINED_JAN_FEB)
    assert (combined["action"] == "converted").all()
    raw = pd.read_csv(SAMPLE_PATH, dtype={"month": str})
    for series_id in COMBINED_JAN_FEB:
        series = sample.series(series_id)
        assert not series.isna().any()
        published = raw[(raw["series_id"] == series_id) & (raw["month"] == "2019-02")]["value"].item()
        # the split keeps the published two-month total
        assert series["2019-01":"2019-02"].sum() == pytest.approx(published, rel=1e-12)
        assert "2019-01" not in set(raw.loc[raw["series_id"] == series_id, "month"])


@pytest.mark.slow
def test_regeneration_is_deterministic_and_matches_the_committed_file() -> None:
    text = render_sample_csv()
    assert text == render_sample_csv()
    # Same rows, same text columns, and numbers equal to the last rounding digit: a roll-up of
    # float sums lying on .5 may round the other way under another numpy's summation order.
    regenerated, committed = (
        pd.read_csv(StringIO(t), dtype=str) for t in (text, SAMPLE_PATH.read_text("utf-8"))
    )
    assert list(regenerated.columns) == list(committed.columns), (
        "run `forecasting sample generate --output data/sample/border_panel.csv`"
    )
    assert regenerated.shape == committed.shape, (
        "run `forecasting sample generate --output data/sample/border_panel.csv`"
    )
    pd.testing.assert_frame_equal(regenerated.drop(columns="value"), committed.drop(columns="value"))
    np.testing.assert_allclose(
        regenerated["value"].astype(float), committed["value"].astype(float), rtol=1e-9, equal_nan=True
    )
    assert render_sample_csv(seed=1) != text
