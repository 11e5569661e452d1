"""Growth statements to levels, Denton-Cholette disaggregation and benchmarking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.interp import dentonm

from forecasting.errors import DataError
from forecasting.features.mixed_frequency import (
    GrowthStatement,
    benchmark,
    denton_proportional,
    disaggregate,
    level_from_growth,
    levels_from_growth,
    period_months,
)


def _indicator(n_months: int = 48, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n_months)
    values = 100 + t + 25 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, n_months)
    return pd.Series(values, index=pd.period_range("2016-01", periods=n_months, freq="M"))


def test_growth_statements_become_levels() -> None:
    assert level_from_growth(760_000, 150) == pytest.approx(304_000)
    levels = levels_from_growth({"2024": 31.35e9}, [GrowthStatement("2024", "2023", 19.1)])
    assert list(levels.index) == ["2023", "2024"]
    assert levels["2023"] == pytest.approx(31.35e9 / 1.191)
    chained = levels_from_growth(
        {"2022-01": 100.0},
        [GrowthStatement("2023-01", "2022-01", 82.9), GrowthStatement("2024-01", "2023-01", -10.0)],
    )
    assert chained["2024-01"] == pytest.approx(100 * 1.829 * 0.9)


def test_inconsistent_or_unanchored_statements_raise() -> None:
    with pytest.raises(DataError, match="imply"):
        levels_from_growth({"2023": 100.0, "2024": 120.0}, [GrowthStatement("2024", "2023", 19.1)])
    with pytest.raises(DataError, match="anchor"):
        levels_from_growth({"2020": 1.0}, [GrowthStatement("2024", "2023", 5.0)])


def test_period_labels() -> None:
    assert [str(m) for m in period_months("2017H1")] == [f"2017-0{m}" for m in range(1, 7)]
    assert len(period_months("2024")) == 12 and len(period_months("2024Q2")) == 3
    assert str(period_months("2023-01")[0]) == "2023-01" and len(period_months("2023-01")) == 1
    assert len(period_months("2022-02..2023-01")) == 12
    assert len(period_months(pd.Period("2020", "Y"))) == 12
    with pytest.raises(DataError):
        period_months("last spring")


def test_annual_totals_are_met_exactly_and_match_statsmodels_dentonm() -> None:
    indicator = _indicator()
    totals = pd.Series([1500.0, 1800.0, 1700.0, 2100.0], index=["2016", "2017", "2018", "2019"])
    monthly = denton_proportional(indicator, totals)
    assert monthly.groupby(monthly.index.year).sum().to_numpy() == pytest.approx(totals.to_numpy(), rel=1e-12)
    reference = dentonm(indicator.to_numpy(), totals.to_numpy(), freq="other", k=12).ravel()
    np.testing.assert_allclose(monthly.to_numpy(), reference, rtol=1e-9)


def test_disaggregation_follows_the_indicator_shape() -> None:
    indicator = _indicator()
    totals = indicator.groupby(indicator.index.year).sum() * 1.3
    totals.index = totals.index.astype(str)
    monthly = disaggregate(totals, indicator)
    # totals proportional to the indicator: the result is the scaled indicator itself
    np.testing.assert_allclose(monthly.to_numpy(), 1.3 * indicator.to_numpy(), rtol=1e-9)
    ratio = monthly / indicator
    assert np.corrcoef(monthly, indicator)[0, 1] > 0.99 and ratio.std() < 1e-9


def test_irregular_overlapping_totals_half_year_and_single_months() -> None:
    indicator = _indicator()
    totals = pd.Series({"2017H1": 900.0, "2018-01": 150.0, "2018": 1800.0, "2019Q3": 400.0})
    monthly = benchmark(indicator, totals)
    assert monthly["2017-01":"2017-06"].sum() == pytest.approx(900.0, rel=1e-12)
    assert monthly["2018-01"] == pytest.approx(150.0, rel=1e-12)
    assert monthly["2018-01":"2018-12"].sum() == pytest.approx(1800.0, rel=1e-12)
    assert monthly["2019-07":"2019-09"].sum() == pytest.approx(400.0, rel=1e-12)
    ratio = (monthly / indicator).to_numpy()
    assert ratio[:6] == pytest.approx(np.full(6, ratio[0]))  # flat before the first constraint ends


def test_disaggregation_without_indicator_is_smooth_and_exact() -> None:
    monthly = disaggregate(pd.Series({"2020": 120.0, "2021": 240.0}))
    assert monthly.sum() == pytest.approx(360.0)
    assert (np.diff(monthly.to_numpy()) >= -1e-9).all()


def test_bad_indicator_raises() -> None:
    indicator = _indicator()
    totals = pd.Series({"2016": 1000.0})
    with pytest.raises(DataError, match="positive"):
        denton_proportional(indicator.where(indicator.index != pd.Period("2016-03", "M"), 0.0), totals)
    with pytest.raises(DataError, match="consecutive"):
        denton_proportional(indicator.drop(pd.Period("2016-05", "M")), totals)
    with pytest.raises(DataError, match="outside"):
        denton_proportional(indicator, pd.Series({"2030": 5.0}))
