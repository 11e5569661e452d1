"""Reconciliation: each method equals its textbook formula on a hand-built 3-level hierarchy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.reconciliation import reconcile, reconcile_forecasts, residual_matrix, shrunk_covariance
from forecasting.reconciliation.methods import METHODS, PROJECTIONS

# total = A + B; A = AA + AB; B = BA + BB + BC
EDGES = pd.DataFrame(
    [
        ("total", "A", "total"),
        ("total", "B", "total"),
        ("A", "AA", "region"),
        ("A", "AB", "region"),
        ("B", "BA", "region"),
        ("B", "BB", "region"),
        ("B", "BC", "region"),
    ],
    columns=["parent", "child", "level"],
)
STRUCTURE = SummingStructure.from_edges(EDGES)
# rows of S: A, B, total, AA, AB, BA, BB, BC
S_BY_HAND = np.array(
    [
        [1, 1, 0, 0, 0],
        [0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1],
        *np.eye(5),
    ]
)
BASE = np.array([52.0, 95.0, 140.0, 30.0, 20.0, 41.0, 35.0, 22.0])  # incoherent: 52 != 50, 140 != 147


def _residuals(rows: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bottom = rng.multivariate_normal(np.zeros(5), 4.0 * np.eye(5) + 2.0, size=rows)
    return bottom @ S_BY_HAND.T + rng.normal(0.0, 1.0, (rows, 8))


def _hts_shrink(x: np.ndarray) -> np.ndarray:
    """shrink.estim of the R package hts, written out densely."""
    n = x.shape[0]
    covm = x.T @ x / n
    sd = np.sqrt(np.diag(covm))
    corm = covm / np.outer(sd, sd)
    xs = x / sd
    v = (xs**2).T @ (xs**2) - (xs.T @ xs) ** 2 / n
    v = v / (n * (n - 1))
    np.fill_diagonal(v, 0.0)
    d = corm - np.eye(len(sd))
    lam = np.clip(v.sum() / (d**2).sum(), 0.0, 1.0)
    return lam * np.diag(np.diag(covm)) + (1 - lam) * covm


def _textbook(w: np.ndarray, base: np.ndarray = BASE) -> np.ndarray:
    s = S_BY_HAND
    w_inv = np.linalg.inv(w)
    return s @ np.linalg.inv(s.T @ w_inv @ s) @ s.T @ w_inv @ base


def test_summing_matrix_is_the_one_drawn_by_hand() -> None:
    assert STRUCTURE.series == ["A", "B", "total", "AA", "AB", "BA", "BB", "BC"]
    np.testing.assert_array_equal(STRUCTURE.S.toarray(), S_BY_HAND)
    assert STRUCTURE.level_of()["A"] == "region" and STRUCTURE.level_of()["BC"] == "bottom"


def test_projections_equal_the_dense_textbook_formula() -> None:
    residuals = _residuals()
    covariance = shrunk_covariance(residuals, centered=False)
    weights = {
        "ols": np.eye(8),
        "wls_struct": np.diag(S_BY_HAND.sum(axis=1)),
        "wls_var": np.diag(np.diag(_hts_shrink(residuals))),
        "mint_shrink": _hts_shrink(residuals),
    }
    np.testing.assert_allclose(covariance.dense(), weights["mint_shrink"], rtol=1e-10)
    assert 0 < covariance.shrinkage < 1
    for method in PROJECTIONS:
        got = reconcile(STRUCTURE, BASE, method, covariance=covariance)
        np.testing.assert_allclose(got, _textbook(weights[method]), rtol=1e-10, err_msg=method)


def test_centered_covariance_is_the_sample_covariance_shrunk_like_hierarchicalforecast() -> None:
    residuals = _residuals(rows=30, seed=4) + 3.0  # biased errors: centring matters
    rows = residuals.shape[0]
    centered = residuals - residuals.mean(axis=0)
    expected = _hts_shrink(centered * np.sqrt(rows / (rows - 1)))
    np.testing.assert_allclose(shrunk_covariance(residuals).dense(), expected, rtol=1e-10)
    np.testing.assert_allclose(np.diag(expected), residuals.var(axis=0, ddof=1), rtol=1e-10)
    assert not np.allclose(shrunk_covariance(residuals, centered=False).dense(), expected)


def test_bottom_up_and_top_down_by_forecast_proportions() -> None:
    np.testing.assert_allclose(reconcile(STRUCTURE, BASE, "bottom_up"), S_BY_HAND @ BASE[3:])
    total, a, b = BASE[2], BASE[0], BASE[1]
    aa, ab, ba, bb, bc = BASE[3:]
    expected_bottom = [
        total * a / (a + b) * aa / (aa + ab),
        total * a / (a + b) * ab / (aa + ab),
        total * b / (a + b) * ba / (ba + bb + bc),
        total * b / (a + b) * bb / (ba + bb + bc),
        total * b / (a + b) * bc / (ba + bb + bc),
    ]
    got = reconcile(STRUCTURE, BASE, "top_down")
    np.testing.assert_allclose(got, S_BY_HAND @ np.array(expected_bottom))
    assert got[2] == pytest.approx(total)


def test_top_down_refuses_a_grouped_structure() -> None:
    grouped = pd.concat(
        [EDGES, pd.DataFrame([("G", "AA", "group"), ("G", "BA", "group")], columns=EDGES.columns)]
    )
    structure = SummingStructure.from_edges(grouped)
    with pytest.raises(DataError, match="strict hierarchy"):
        reconcile(structure, np.ones(len(structure)), "top_down")
    assert np.isfinite(reconcile(structure, np.ones(len(structure)), "ols")).all()


def test_coherent_forecasts_come_back_unchanged_by_every_method() -> None:
    coherent = S_BY_HAND @ np.array([[3.0, 1.0], [2.0, 5.0], [7.0, 0.5], [1.0, 2.0], [4.0, 4.0]])
    covariance = shrunk_covariance(_residuals())
    for method in METHODS:
        got = reconcile(STRUCTURE, coherent, method, covariance=covariance)
        np.testing.assert_allclose(got, coherent, rtol=1e-10, err_msg=method)


def test_results_are_coherent_and_nonnegative_never_below_zero() -> None:
    base = np.array([2.0, 40.0, 30.0, -5.0, 9.0, 20.0, 1.0, -3.0])
    covariance = shrunk_covariance(_residuals())
    for method in METHODS:
        plain = reconcile(STRUCTURE, base, method, covariance=covariance)
        np.testing.assert_allclose(plain, S_BY_HAND @ plain[3:], err_msg=method)
        clipped = reconcile(STRUCTURE, base, method, covariance=covariance, nonnegative=True)
        assert (clipped >= 0).all(), method
        np.testing.assert_allclose(clipped, S_BY_HAND @ np.maximum(plain[3:], 0.0), err_msg=method)
    assert (reconcile(STRUCTURE, base, "ols") < 0).any()  # so the option has something to do


def test_methods_that_need_residuals_say_so() -> None:
    with pytest.raises(DataError, match="needs residuals"):
        reconcile(STRUCTURE, BASE, "mint_shrink")
    with pytest.raises(ValueError, match="'method' parameter"):
        reconcile(STRUCTURE, BASE, "middle_out")
    with pytest.raises(DataError, match="finite"):
        reconcile(STRUCTURE, np.full(8, np.nan), "ols")


def _forecast_table(base: np.ndarray, sigma: np.ndarray, months: pd.PeriodIndex) -> pd.DataFrame:
    rows = []
    for i, series_id in enumerate(STRUCTURE.series):
        for month in months:
            rows.append(
                {
                    "series_id": series_id,
                    "month": str(month),
                    "model": "ets",
                    "forecast": base[i],
                    "lower_80": base[i] - 1.2816 * sigma[i],
                    "upper_80": base[i] + 1.2816 * sigma[i],
                    "lower_95": base[i] - 1.96 * sigma[i],
                    "upper_95": base[i] + 1.96 * sigma[i],
                }
            )
    return pd.DataFrame(rows)


def test_reconciled_intervals_cover_at_their_levels() -> None:
    """Coherent truth with correlated bottom errors; MinT intervals from residual-correlated paths."""
    rng = np.random.default_rng(7)
    covariance_bottom = 4.0 * np.eye(5) + 2.0
    joint = S_BY_HAND @ covariance_bottom @ S_BY_HAND.T
    mean = S_BY_HAND @ np.array([30.0, 20.0, 40.0, 35.0, 22.0])
    history = rng.multivariate_normal(np.zeros(5), covariance_bottom, size=200) @ S_BY_HAND.T
    residuals = pd.DataFrame(history, columns=STRUCTURE.series)
    months = pd.period_range("2024-01", periods=2, freq="M")
    table = _forecast_table(mean, np.sqrt(np.diag(joint)), months)
    out = reconcile_forecasts(table, STRUCTURE, "mint_shrink", residuals=residuals, samples=4000, seed=3)
    assert set(out["reconciliation"]) == {"mint_shrink"}
    truth = rng.multivariate_normal(np.zeros(5), covariance_bottom, size=4000) @ S_BY_HAND.T + mean
    first = out[out["month"] == "2024-01"].set_index("series_id").loc[STRUCTURE.series]
    for level, (low, high) in {80: (0.77, 0.83), 95: (0.93, 0.97)}.items():
        inside = (truth >= first[f"lower_{level}"].to_numpy()) & (truth <= first[f"upper_{level}"].to_numpy())
        assert low <= inside.mean() <= high, level
    np.testing.assert_allclose(first["forecast"], mean)


def test_forecast_table_month_by_month_with_a_closed_bottom_series() -> None:
    months = pd.period_range("2024-01", periods=3, freq="M")
    table = _forecast_table(BASE, np.ones(8), months)
    closed = table["series_id"].eq("BC")
    table.loc[closed, "month"] = ["2019-01", "2019-02", "2019-03"]  # its forecasts lie elsewhere
    out = reconcile_forecasts(table, STRUCTURE, "ols")
    assert set(out.loc[closed, "reconciliation"]) == {"none"}
    np.testing.assert_array_equal(out.loc[closed, "forecast"], table.loc[closed, "forecast"])
    january = out[out["month"] == "2024-01"].set_index("series_id")["forecast"]
    assert january["B"] == pytest.approx(january["BA"] + january["BB"])
    assert january["total"] == pytest.approx(january[["AA", "AB", "BA", "BB"]].sum())
    lows = out[out["month"] == "2024-01"].set_index("series_id")
    assert (lows["lower_95"] < lows["lower_80"]).all() and (lows["upper_80"] < lows["upper_95"]).all()


def test_residual_matrix_from_a_backtest_table() -> None:
    results = pd.DataFrame(
        {
            "series_id": ["A", "A", "B", "B"],
            "model": "ets",
            "cutoff": ["2023-12"] * 4,
            "month": ["2024-01", "2024-02"] * 2,
            "actual": [10.0, 12.0, 5.0, 6.0],
            "forecast": [9.0, 13.0, 5.5, 6.0],
        }
    )
    matrix = residual_matrix(results)
    np.testing.assert_allclose(matrix["A"], [1.0, -1.0])
    np.testing.assert_allclose(matrix["B"], [-0.5, 0.0])


def test_a_parent_that_is_not_the_sum_of_its_children_is_left_out_and_reported() -> None:
    from forecasting.panel import SeriesPanel
    from forecasting.reconciliation import structure_to_reconcile

    months = pd.period_range("2022-01", periods=24, freq="M")
    rng = np.random.default_rng(5)
    bottom = rng.uniform(10, 20, (len(months), 5))
    values = bottom @ S_BY_HAND.T
    values[3, 0] += 4.0  # A in 2022-04 is not AA + AB
    records = pd.DataFrame(
        [
            (series_id, month, values[t, i])
            for i, series_id in enumerate(STRUCTURE.series)
            for t, month in enumerate(months)
        ],
        columns=["series_id", "month", "value"],
    )
    panel = SeriesPanel(records, structure=STRUCTURE)
    structure, mismatched = structure_to_reconcile(panel)
    assert mismatched["parent"].tolist() == ["A"] and mismatched["first_month"].tolist() == ["2022-04"]
    assert structure.aggregates == ["B", "total"]
    out = reconcile_forecasts(_forecast_table(BASE, np.ones(8), months[:1]), structure, "ols")
    row = out.set_index("series_id").loc["A"]
    assert row["reconciliation"] == "none" and row["forecast"] == BASE[0]


def test_interval_factors_scale_the_widest_interval_and_share_it_by_the_score_quantiles() -> None:
    from forecasting.reconciliation import interval_factors

    # total: 9 rows, 95 % half-width 20 on both sides, actuals 1..9 away (alternating sides)
    # -> scores against the widest interval 0.05..0.45
    distance = np.arange(1.0, 10.0) * np.where(np.arange(9) % 2, 1.0, -1.0)
    rows = pd.DataFrame(
        {
            "series_id": "total",
            "forecast": 100.0,
            "actual": 100.0 + distance,
            "lower_80": 90.0,
            "upper_80": 110.0,
            "lower_95": 80.0,
            "upper_95": 120.0,
        }
    )
    # AA: one row without an actual, and a 95 % interval with no width above the forecast
    aa = rows.assign(series_id="AA", actual=[np.nan, *rows["actual"][1:]], upper_95=100.0)
    factors = interval_factors(pd.concat([rows, aa]), STRUCTURE).set_index(["level", "interval"])
    # 80 %: rank ceil(10 * 0.8) = 8 of 9 -> 0.40; 95 %: rank ceil(9.5) = 10 > 9 -> the largest, 0.45
    assert factors.loc[("total", 80), "quantile"] == pytest.approx(0.40)
    assert factors.loc[("total", 95), "quantile"] == pytest.approx(0.45)
    assert factors.loc[("total", 95), "n_scores"] == 9
    # the 95 % interval over-covered: not narrowed; the 80 % one gets 0.40 / 0.45 of it
    assert factors.loc[("total", 95), "factor"] == pytest.approx(1.0)
    assert factors.loc[("total", 80), "factor"] == pytest.approx(0.40 / 0.45)
    wide = interval_factors(rows.assign(actual=100.0 + 3 * distance), STRUCTURE).set_index("interval")
    # scores 0.15..1.35: the widest is stretched by 1.35, the 80 % one gets 1.20 / 1.35 of that
    assert wide.loc[95, "factor"] == pytest.approx(1.35) and wide.loc[80, "factor"] == pytest.approx(1.20)
    # AA: 8 actuals, the 4 above the forecast meet no 95 % width there and are no scores
    assert factors.loc[("bottom", 95), "n_scores"] == 4
    assert ("region", 80) not in factors.index
    assert interval_factors(rows.assign(actual=100.0), STRUCTURE).empty  # perfect forecasts: no scale
    with pytest.raises(DataError, match="upper_95"):
        interval_factors(rows.drop(columns="upper_95"), STRUCTURE)


def test_calibrated_intervals_are_shares_of_the_widest_and_stay_nested() -> None:
    from forecasting.reconciliation import calibrate_intervals

    table = _forecast_table(BASE, np.ones(8), pd.period_range("2024-01", periods=1, freq="M"))
    table["reconciliation"] = ["ols"] * 7 + ["none"]  # BC kept its base forecast
    factors = pd.DataFrame(
        {"level": ["bottom", "bottom", "total"], "interval": [80, 95, 95], "factor": [1.8, 1.5, 2.0]}
    )
    out = calibrate_intervals(table, factors, STRUCTURE, nonnegative=True).set_index("series_id")
    before = table.set_index("series_id")
    np.testing.assert_array_equal(out["forecast"], before["forecast"])
    # every factor multiplies the raw 95 % half-width (1.96 here)
    assert out.loc["AA", "upper_80"] - 30.0 == pytest.approx(1.8 * 1.96)
    # nested: the 80 % interval (1.8 x 1.96) pushes the 95 % one (1.5 x 1.96) out with it
    assert out.loc["AA", "upper_95"] == pytest.approx(out.loc["AA", "upper_80"])
    assert out.loc["total", "lower_95"] == pytest.approx(140.0 - 2.0 * 1.96)
    assert out.loc["total", "upper_80"] == before.loc["total", "upper_80"]  # no factor: unchanged
    assert out.loc["A", "lower_95"] == before.loc["A", "lower_95"]  # region: no factor
    assert out.loc["BC"].equals(before.loc["BC"])  # not reconciled: its own intervals
    wide = calibrate_intervals(table, factors.assign(factor=40.0), STRUCTURE, nonnegative=True)
    assert (wide["lower_80"] >= 0).all() and (wide["lower_95"] >= 0).all()
    assert calibrate_intervals(table, factors.iloc[:0], STRUCTURE).equals(table)


COVARIANCE_BOTTOM = 4.0 * np.eye(5) + 2.0
TRUE_SIGMA = np.sqrt(np.diag(S_BY_HAND @ COVARIANCE_BOTTOM @ S_BY_HAND.T))
TRUE_MEAN = S_BY_HAND @ np.array([30.0, 20.0, 40.0, 35.0, 22.0])


def _calibrated_against_true_errors(base_sigma: np.ndarray, draw_errors) -> dict[int, tuple[float, float]]:
    """OLS-reconciled forecasts with ``base_sigma`` intervals, calibrated on 150 months, scored on 2,000.

    ``draw_errors(months)`` returns ``months x 5`` bottom errors; actuals are coherent.
    Returns raw and calibrated coverage per interval level.
    """
    from forecasting.reconciliation import calibrate_intervals, interval_factors

    one_month = _forecast_table(TRUE_MEAN, base_sigma, pd.period_range("2000-01", periods=1, freq="M"))
    reconciled = reconcile_forecasts(one_month, STRUCTURE, "ols", samples=4000, seed=2).drop(columns="month")

    def reconciled_with_actuals(months: int, start: str) -> pd.DataFrame:
        periods = pd.period_range(start, periods=months, freq="M")
        errors = draw_errors(months) @ S_BY_HAND.T
        out = reconciled.merge(pd.DataFrame({"month": periods.astype(str)}), how="cross")
        truth = pd.DataFrame(
            TRUE_MEAN[:, None] + errors.T, index=STRUCTURE.series, columns=periods.astype(str)
        )
        actual = truth.stack().rename("actual").rename_axis(["series_id", "month"]).reset_index()
        return out.merge(actual, on=["series_id", "month"])

    calibration = reconciled_with_actuals(150, "2100-01")
    test = reconciled_with_actuals(2000, "1900-01")
    calibrated = calibrate_intervals(test, interval_factors(calibration, STRUCTURE), STRUCTURE)

    def coverage(table: pd.DataFrame, level: int) -> float:
        return float(
            (
                (table["actual"] >= table[f"lower_{level}"]) & (table["actual"] <= table[f"upper_{level}"])
            ).mean()
        )

    return {level: (coverage(test, level), coverage(calibrated, level)) for level in (80, 95)}


def test_calibration_on_earlier_errors_brings_too_narrow_intervals_to_their_coverage() -> None:
    """Base intervals half as wide as the true errors; OLS keeps them too narrow, calibration fixes it."""
    rng = np.random.default_rng(11)
    result = _calibrated_against_true_errors(
        TRUE_SIGMA / 2, lambda months: rng.multivariate_normal(np.zeros(5), COVARIANCE_BOTTOM, size=months)
    )
    for level, (low, high) in {80: (0.76, 0.84), 95: (0.93, 0.97)}.items():
        raw, calibrated = result[level]
        assert raw < low - 0.1 and low <= calibrated <= high, (level, raw, calibrated)


def test_calibration_gives_heavy_tailed_errors_narrower_80_percent_intervals_than_gaussian_ones() -> None:
    """Student-t errors (3 degrees of freedom) with Gaussian intervals as wide as their 95 % spread.

    The Gaussian 80 % bounds, at 0.65 of the 95 % distance, over-cover such errors; the share
    of the widest interval taken from the calibration scores brings them to 80 %.
    """
    rng = np.random.default_rng(12)
    t95 = 3.182  # two-sided 95 % quantile of Student t with 3 degrees of freedom
    variance_of_t = 3.0  # df / (df - 2)

    def student_t(months: int) -> np.ndarray:
        gaussian = rng.multivariate_normal(np.zeros(5), COVARIANCE_BOTTOM / variance_of_t, size=months)
        return gaussian / np.sqrt(rng.chisquare(3, size=(months, 1)) / 3)

    result = _calibrated_against_true_errors(TRUE_SIGMA * t95 / 1.96 / np.sqrt(variance_of_t), student_t)
    raw80, calibrated80 = result[80]
    assert raw80 > 0.83 and 0.77 <= calibrated80 <= 0.82, result  # widening alone keeps raw80
    assert 0.93 <= result[95][1] <= 0.97, result


def test_series_with_the_same_gaps_get_their_sample_covariance_over_the_rows_they_share() -> None:
    """A gap scales the observed errors to a full window: no shrinking of the covariance by n / T."""
    residuals = _residuals(rows=30, seed=6)
    residuals[:12, 3:5] = np.nan  # AA and AB started later
    covariance = shrunk_covariance(residuals)
    dense = covariance.dense()
    kept = 1.0 - covariance.shrinkage
    shared = np.cov(residuals[12:, 3], residuals[12:, 4])
    assert dense[3, 4] == pytest.approx(kept * shared[0, 1], rel=1e-10)
    np.testing.assert_allclose(np.diag(dense)[3:5], np.diag(shared), rtol=1e-10)
    full = np.cov(residuals[:, 0], residuals[:, 1])[0, 1]
    assert dense[0, 1] == pytest.approx(kept * full, rel=1e-10)
