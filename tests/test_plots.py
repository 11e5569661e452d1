"""Each plot returns a Figure with the expected axes, titles, units and the input's numbers on it."""

from __future__ import annotations

import gc
import weakref

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import seasonal_panel  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from statsmodels.tsa.seasonal import STL  # noqa: E402

from forecasting import plots  # noqa: E402
from forecasting.errors import DataError  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402


def _line(ax, label: str):
    found = [line for line in ax.get_lines() if line.get_label() == label]
    assert len(found) == 1, (
        f"expected one line labelled {label!r}, got {[x.get_label() for x in ax.get_lines()]}"
    )
    return found[0]


def _x_months(line) -> pd.PeriodIndex:
    return pd.DatetimeIndex(line.get_xdata()).to_period("M")


@pytest.fixture
def border_panel() -> SeriesPanel:
    """Two crossings x two flows x two directions, plus a crossing total, with units."""
    rng = np.random.default_rng(7)
    months = pd.period_range("2014-01", "2021-12", freq="M")
    t = np.arange(len(months))
    frames = []
    for crossing, scale in (("heihe", 1_000.0), ("manzhouli", 50_000.0)):
        for flow, unit, directions in (
            ("cargo", "tonnes", ("import", "export")),
            ("passengers", "persons", ("inbound", "outbound")),
        ):
            for direction in directions:
                values = scale * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.05, len(t)))
                frames.append(
                    pd.DataFrame(
                        {
                            "series_id": f"{crossing}/{flow}/{direction}",
                            "month": months,
                            "value": values,
                            "crossing": crossing,
                            "flow": flow,
                            "direction": direction,
                            "unit": unit,
                        }
                    )
                )
    records = pd.concat(frames, ignore_index=True)
    cargo = records[records["flow"] == "cargo"]
    total = cargo.groupby("month", as_index=False)["value"].sum()
    total = total.assign(series_id="total/cargo/both", crossing="total", flow="cargo", direction="both")
    total["unit"] = "tonnes"
    return SeriesPanel(pd.concat([records, total], ignore_index=True))


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """Plots build Figures without pyplot, so nothing accumulates in pyplot's registry."""
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def test_dropped_figures_are_freed(border_panel):
    """No pyplot registry holds them, so a long job that makes many plots does not leak memory."""
    figure = plots.plot_series_overview(border_panel)
    figure.canvas.draw()
    reference = weakref.ref(figure)
    del figure
    gc.collect()
    assert reference() is None


def test_format_number_uses_thousands_separators():
    assert plots.format_number(1_234_567.0) == "1,234,567"
    assert plots.format_number(2.5) == "2.5"
    assert plots.format_number(0.25) == "0.25"
    assert plots.format_number(-1200.4) == "-1,200"


def test_value_formatter_scales_big_axes_to_millions_and_billions():
    figure = Figure()
    ax = figure.subplots()
    formatter = plots.ValueFormatter()
    ax.yaxis.set_major_formatter(formatter)
    ax.set_ylim(0, 50_000)
    assert formatter(12_500.0, 0) == "12,500"
    ax.set_ylim(0, 40_000_000)
    assert formatter(12_500_000.0, 0) == "12.5 M"
    ax.set_ylim(0, 1.5e9)
    assert formatter(1_250_000_000.0, 0) == "1,250 M"
    ax.set_ylim(0, 5.5e9)
    assert formatter(2_500_000_000.0, 0) == "2.5 bn"
    assert formatter(0.0, 0) == "0"


def test_value_label_reads_unit_and_currency():
    records = pd.DataFrame(
        {
            "series_id": ["a", "b", "c", "d"],
            "month": pd.PeriodIndex(["2020-01"] * 4, freq="M"),
            "value": [1.0, 2.0, 3.0, 4.0],
            "unit": ["tonnes", "million", pd.NA, "USD"],
            "currency": [pd.NA, "CNY", pd.NA, "USD"],
        }
    )
    panel = SeriesPanel(records)
    assert plots.value_label(panel, "a") == "tonnes"
    assert plots.value_label(panel, "b") == "million CNY"
    assert plots.value_label(panel, "c") == "value"
    assert plots.value_label(panel, "d") == "USD"
    assert plots.value_label(panel, ["a", "b", "a"]) == "tonnes | million CNY"
    with pytest.raises(DataError, match="unknown series"):
        plots.value_label(panel, "zzz")


def test_series_overview_one_axes_per_crossing_and_flow(border_panel):
    figure = plots.plot_series_overview(border_panel, by=("crossing", "flow"), ncols=2)
    assert isinstance(figure, Figure)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "heihe / cargo",
        "heihe / passengers",
        "manzhouli / cargo",
        "manzhouli / passengers",
        "total / cargo",
    ]
    assert "9 monthly series by crossing and flow" in figure.get_suptitle()
    heihe_cargo = figure.axes[0]
    assert heihe_cargo.get_ylabel() == "tonnes"
    assert figure.axes[1].get_ylabel() == "persons"
    line = _line(heihe_cargo, "import")  # the shared "heihe/cargo" tokens are dropped from the legend
    expected = border_panel.series("heihe/cargo/import")
    assert list(_x_months(line)) == list(expected.index)
    np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    assert heihe_cargo.yaxis.get_major_formatter()(12_500.0, 0) == "12,500"


def test_series_overview_rejects_unknown_dimension_and_too_many_panels(border_panel):
    with pytest.raises(DataError, match="unknown dimension"):
        plots.plot_series_overview(border_panel, by=("port",))
    with pytest.raises(ValueError, match="max_panels=2"):
        plots.plot_series_overview(border_panel, by=("crossing", "flow"), max_panels=2)


def test_series_overview_groups_missing_dimension_as_na():
    panel = seasonal_panel(n_series=2, n_months=24)  # no "crossing" metadata
    figure = plots.plot_series_overview(panel)
    assert [ax.get_title() for ax in figure.axes] == ["n/a / cargo"]
    assert sorted(line.get_label() for line in figure.axes[0].get_lines()) == ["s0", "s1"]


def test_seasonal_plot_has_one_line_per_year_with_month_positions(border_panel):
    series = border_panel.series("heihe/cargo/import")
    figure = plots.plot_seasonal(series, unit="tonnes")
    ax = figure.axes[0]
    assert len(figure.axes) == 1  # 8 years: a legend, no colour bar
    assert ax.get_title() == "Seasonal plot: heihe/cargo/import (2014-2021)"
    assert ax.get_ylabel() == "tonnes"
    assert [line.get_label() for line in ax.get_lines()] == [str(y) for y in range(2014, 2022)]
    line_2017 = _line(ax, "2017")
    np.testing.assert_array_equal(line_2017.get_xdata(), np.arange(1, 13))
    np.testing.assert_allclose(line_2017.get_ydata(), series["2017-01":"2017-12"].to_numpy())


def test_seasonal_plot_uses_colour_bar_for_long_histories():
    series = seasonal_panel(n_series=1, n_months=15 * 12).series("s0")
    figure = plots.plot_seasonal(series)
    assert len(figure.axes) == 2
    assert figure.axes[1].get_ylabel() == "year"
    assert len(figure.axes[0].get_lines()) == 15


def test_seasonal_plot_accepts_datetime_index_and_rejects_other_indexes():
    series = seasonal_panel(n_series=1, n_months=24).series("s0")
    by_timestamp = series.set_axis(series.index.to_timestamp())
    figure = plots.plot_seasonal(by_timestamp)
    np.testing.assert_allclose(_line(figure.axes[0], "2016").get_ydata(), series["2016"].to_numpy())
    with pytest.raises(DataError, match="indexed by months"):
        plots.plot_seasonal(pd.Series([1.0, 2.0], name="x"))


def test_stl_plot_shows_statsmodels_components_and_interpolated_gaps(border_panel):
    series = border_panel.series("manzhouli/cargo/export")
    gappy = series.drop(series.index[[20, 21]])
    figure = plots.plot_stl(gappy, unit="tonnes")
    assert len(figure.axes) == 4
    assert [ax.get_title(loc="left") for ax in figure.axes] == ["observed", "trend", "seasonal", "residual"]
    assert "2 missing month(s) interpolated" in figure.get_suptitle()
    assert all(ax.get_ylabel() == "tonnes" for ax in figure.axes)
    observed = _line(figure.axes[0], "observed")
    assert np.isnan(observed.get_ydata()[[20, 21]]).all()
    np.testing.assert_allclose(np.delete(observed.get_ydata(), [20, 21]), gappy.to_numpy())
    interpolated = _line(figure.axes[0], "interpolated")
    assert list(_x_months(interpolated)) == list(series.index[[20, 21]])
    filled = gappy.reindex(series.index).interpolate().to_numpy()
    expected = STL(filled, period=12, robust=True).fit()
    np.testing.assert_allclose(_line(figure.axes[1], "trend").get_ydata(), expected.trend)
    np.testing.assert_allclose(_line(figure.axes[2], "seasonal").get_ydata(), expected.seasonal)
    np.testing.assert_allclose(_line(figure.axes[3], "residual").get_ydata(), expected.resid)


def test_stl_plot_needs_two_seasons():
    short = seasonal_panel(n_series=1, n_months=20).series("s0")
    with pytest.raises(DataError, match="at least 25 observed months"):
        plots.plot_stl(short)


def test_spring_festival_dates_come_from_holidays():
    dates = plots.spring_festival_dates([2020, 2024, 2026])
    assert list(dates.dt.strftime("%Y-%m-%d")) == ["2020-01-25", "2024-02-10", "2026-02-17"]


def _festival_series() -> pd.Series:
    """January's share falls by 0.5 percentage points per day the festival comes later."""
    months = pd.period_range("2010-12", "2020-03", freq="M")
    values = pd.Series(100.0, index=months, name="festival")
    dates = plots.spring_festival_dates(range(2011, 2021))
    for year, date in dates.items():
        share = 0.5 - 0.005 * (date.day_of_year - 35)
        values[pd.Period(f"{year}-01", "M")] = 200.0 * share
        values[pd.Period(f"{year}-02", "M")] = 200.0 * (1 - share)
    return values


def test_spring_festival_table_and_plot_follow_the_lunar_date():
    series = _festival_series()
    table = plots.spring_festival_table(series)
    assert list(table.index) == list(range(2011, 2021))
    expected_share = 0.5 - 0.005 * (table["day_of_year"] - 35)
    np.testing.assert_allclose(table["jan_share"], expected_share)
    np.testing.assert_allclose(table["jan_feb_vs_neighbours"], 1.0)  # 200 / (100 + 100)

    figure = plots.plot_spring_festival_effect(series)
    assert len(figure.axes) == 2
    assert figure.axes[0].get_title() == "January share of January+February"
    points = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], table["day_of_year"])
    np.testing.assert_allclose(points[:, 1], table["jan_share"])
    fit = [line for line in figure.axes[0].get_lines() if line.get_label().startswith("fit")]
    assert fit[0].get_label() == "fit: -0.50 pp per day later"
    assert figure.axes[0].xaxis.get_major_formatter()(25, 0) == "25 Jan"


def test_spring_festival_plot_reports_years_it_cannot_use():
    series = _festival_series()
    series[pd.Period("2015-01", "M")] = 0.0
    series[pd.Period("2015-02", "M")] = 0.0
    figure = plots.plot_spring_festival_effect(series)
    assert "excluded (January+February = 0): [2015]" in figure.get_suptitle()
    assert len(figure.axes[0].collections[0].get_offsets()) == 9
    with pytest.raises(DataError, match="at least 3 years"):
        plots.plot_spring_festival_effect(series["2010-12":"2012-06"])


def _forecast_frame(series_id: str = "heihe/cargo/import", start: str = "2022-01") -> pd.DataFrame:
    months = pd.period_range(start, periods=6, freq="M")
    mean = np.linspace(1_000.0, 1_100.0, 6)
    spread = np.linspace(50.0, 100.0, 6)
    return pd.DataFrame(
        {
            "series_id": series_id,
            "month": months,
            "model": "ets",
            "forecast": mean,
            "lower_80": mean - spread,
            "upper_80": mean + spread,
            "lower_95": mean - 2 * spread,
            "upper_95": mean + 2 * spread,
        }
    )


def test_forecast_fan_chart_draws_history_forecast_and_intervals(border_panel):
    history = border_panel.series("heihe/cargo/import")
    forecast = _forecast_frame()
    figure = plots.plot_forecast(history, forecast, unit="tonnes", history_months=24)
    ax = figure.axes[0]
    assert len(figure.axes) == 1
    assert ax.get_title() == "heihe/cargo/import: ets forecast, 6 months ahead"
    assert ax.get_ylabel() == "tonnes"
    past = _line(ax, "history")
    assert list(_x_months(past)) == list(history.index[-24:])
    np.testing.assert_allclose(past.get_ydata(), history.to_numpy()[-24:])
    ahead = _line(ax, "forecast")
    assert list(_x_months(ahead)) == list(forecast["month"])
    np.testing.assert_allclose(ahead.get_ydata(), forecast["forecast"])
    bands = {c.get_label(): c for c in ax.collections}
    assert set(bands) == {"80% interval", "95% interval"}
    for level in (80, 95):
        vertices = bands[f"{level}% interval"].get_paths()[0].vertices[:, 1]
        assert vertices.max() == pytest.approx(forecast[f"upper_{level}"].max())
        assert vertices.min() == pytest.approx(forecast[f"lower_{level}"].min())
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["history", "forecast"]


def test_forecast_fan_chart_rejects_several_series_or_missing_levels(border_panel):
    history = border_panel.series("heihe/cargo/import")
    two = pd.concat([_forecast_frame(), _forecast_frame("heihe/cargo/export")])
    with pytest.raises(ValueError, match="several series_ids"):
        plots.plot_forecast(history, two)
    with pytest.raises(DataError, match="'upper_95'"):
        plots.plot_forecast(history, _forecast_frame().drop(columns="upper_95"))
    # Levels other than the default are read from their own columns.
    only_80 = plots.plot_forecast(
        history, _forecast_frame().drop(columns=["lower_95", "upper_95"]), levels=(80,)
    )
    assert [c.get_label() for c in only_80.axes[0].collections] == ["80% interval"]


def _backtest_table() -> pd.DataFrame:
    """Two models, two series, one cutoff, three steps; absolute error = step x model factor, scale 2."""
    rows = []
    for model, factor in (("good", 1.0), ("bad", 3.0)):
        for series_id in ("a", "b"):
            for step in (1, 2, 3):
                error = factor * step
                rows.append(
                    {
                        "series_id": series_id,
                        "model": model,
                        "cutoff": pd.Period("2020-12", "M"),
                        "month": pd.Period("2020-12", "M") + step,
                        "step": step,
                        "actual": 100.0,
                        "forecast": 100.0 + error,
                        "lower_80": 100.0 + error - 1,
                        "upper_80": 100.0 + error + 1,
                        "lower_95": 90.0,
                        "upper_95": 110.0,
                        "scale_mase": 2.0,
                        "scale_rmsse": 4.0,
                    }
                )
    return pd.DataFrame(rows)


def test_error_by_horizon_has_one_line_per_model_with_metric_per_step():
    figure = plots.plot_error_by_horizon(_backtest_table(), metric="mase")
    ax = figure.axes[0]
    assert ax.get_title() == "Backtest MASE by forecast horizon"
    assert ax.get_xlabel() == "months ahead"
    good, bad = _line(ax, "good"), _line(ax, "bad")
    np.testing.assert_array_equal(good.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(good.get_ydata(), [0.5, 1.0, 1.5])  # |e| / scale = step / 2
    np.testing.assert_allclose(bad.get_ydata(), [1.5, 3.0, 4.5])
    with pytest.raises(ValueError, match="'metric' parameter"):
        plots.plot_error_by_horizon(_backtest_table(), metric="r2")


def test_leaderboard_bars_follow_the_table_order():
    leaderboard = pd.DataFrame(
        {"model": ["ets", "arima", "naive"], "mase": [0.8, 0.95, 1.4], "coverage_95": [0.93, 0.96, 0.71]}
    )
    figure = plots.plot_leaderboard(leaderboard)
    assert [ax.get_title() for ax in figure.axes] == ["MASE", "95% interval coverage"]
    assert figure.get_suptitle() == "Leaderboard: 3 models"
    for ax, metric in zip(figure.axes, ("mase", "coverage_95"), strict=True):
        widths = [patch.get_width() for patch in ax.patches]
        np.testing.assert_allclose(widths, leaderboard[metric])
        assert [label.get_text() for label in ax.get_yticklabels()] == ["ets", "arima", "naive"]
    coverage_labels = [t.get_text() for t in figure.axes[1].texts]
    assert coverage_labels == ["93%", "96%", "71%"]
    with pytest.raises(DataError, match="lacks column"):
        plots.plot_leaderboard(leaderboard, metrics=("rmsse",))


def test_hierarchy_shares_lines_are_child_over_total(border_panel):
    children = [
        "heihe/cargo/import",
        "heihe/cargo/export",
        "manzhouli/cargo/import",
        "manzhouli/cargo/export",
    ]
    figure = plots.plot_hierarchy_shares(border_panel, "total/cargo/both", children)
    assert len(figure.axes) == 2
    level_ax, share_ax = figure.axes
    assert level_ax.get_ylabel() == "tonnes"
    assert share_ax.get_ylabel() == "share of total"
    total = border_panel.series("total/cargo/both")
    np.testing.assert_allclose(_line(level_ax, "total/cargo/both (total)").get_ydata(), total.to_numpy())
    share = _line(share_ax, "heihe/cargo/import").get_ydata()
    np.testing.assert_allclose(share, border_panel.series("heihe/cargo/import").to_numpy() / total.to_numpy())
    np.testing.assert_allclose(_line(share_ax, "sum of children").get_ydata(), 1.0)


def test_hierarchy_shares_refuse_mixed_units_and_bad_children(border_panel):
    with pytest.raises(DataError, match="different units"):
        plots.hierarchy_shares(border_panel, "total/cargo/both", ["heihe/passengers/inbound"])
    with pytest.raises(ValueError, match="at least one series"):
        plots.hierarchy_shares(border_panel, "total/cargo/both", [])
    with pytest.raises(ValueError, match="also listed among the children"):
        plots.hierarchy_shares(border_panel, "total/cargo/both", ["total/cargo/both"])


def test_hierarchy_share_is_missing_where_the_total_is_zero(border_panel):
    records = border_panel.to_long()
    zero = (records["series_id"] == "total/cargo/both") & (records["month"] == pd.Period("2016-03", "M"))
    records.loc[zero, "value"] = 0.0
    shares = plots.hierarchy_shares(SeriesPanel(records), "total/cargo/both", ["heihe/cargo/import"])
    assert np.isnan(shares.loc[pd.Period("2016-03", "M"), "heihe/cargo/import"])
    assert shares["heihe/cargo/import"].notna().sum() == len(shares) - 1


def test_spring_festival_effect_on_real_us_imports_from_china(shared_data):
    """US Census imports from China, 2001-2019: January's share falls as the festival comes later."""
    from forecasting.data.loaders import BUILTIN_SPECS, load_source

    loaded = load_source(BUILTIN_SPECS["us_census"], shared_data / "trade" / "usa-china-trade-data.csv")
    imports = SeriesPanel.from_load(loaded).series("us-china/goods/import")
    table = plots.spring_festival_table(imports)
    assert list(table.index) == list(range(2001, 2020))
    assert table.loc[2019, "spring_festival"] == pd.Timestamp("2019-02-05")
    january, february = imports[pd.Period("2019-01", "M")], imports[pd.Period("2019-02", "M")]
    assert table.loc[2019, "jan_share"] == pytest.approx(january / (january + february))
    figure = plots.plot_spring_festival_effect(imports)
    np.testing.assert_allclose(figure.axes[0].collections[0].get_offsets()[:, 1], table["jan_share"])
    slope = np.polyfit(table["day_of_year"], table["jan_share"], 1)[0]
    assert slope < 0
    fit = [line.get_label() for line in figure.axes[0].get_lines()]
    assert fit == [f"fit: {slope * 100:+.2f} pp per day later"]


def _level_board() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "level": ["bottom", "bottom", "region", "region", "total", "total"],
            "model": ["ets+mint_shrink", "ets"] * 3,
            "mase": [0.91, 0.90, 0.70, 0.85, 0.52, 0.80],
            "coverage_95": [0.94, 0.93, 0.90, 0.88, 0.96, 0.90],
        }
    )


def test_reconciled_by_level_has_one_group_of_bars_per_level_base_first():
    board = _level_board()
    figure = plots.plot_reconciled_by_level(board)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["bottom", "region", "total"]
    base, reconciled = ax.containers
    assert base.get_label() == "ets" and reconciled.get_label() == "ets+mint_shrink"
    np.testing.assert_allclose([bar.get_height() for bar in base], [0.90, 0.85, 0.80])
    np.testing.assert_allclose([bar.get_height() for bar in reconciled], [0.91, 0.70, 0.52])
    for level, (left, right) in enumerate(zip(base, reconciled, strict=True)):  # side by side at each tick
        assert left.get_x() < level < right.get_x() + right.get_width()
    assert "base against reconciled" in ax.get_title()
    coverage = plots.plot_reconciled_by_level(board, metric="coverage_95").axes[0]
    assert coverage.get_ylabel() == "95% interval coverage"
    assert [t.get_text() for t in coverage.texts] == ["93%", "88%", "90%", "94%", "90%", "96%"]


def test_reconciled_by_level_names_a_missing_column_and_refuses_an_empty_board():
    with pytest.raises(DataError, match="mase"):
        plots.plot_reconciled_by_level(_level_board().drop(columns="mase"))
    with pytest.raises(DataError, match="empty"):
        plots.plot_reconciled_by_level(_level_board().iloc[:0])


# --- issue 29: any forecast table, several models, backtest cutoffs, names, month ticks, hierarchy -----
@pytest.fixture(scope="module")
def fitted_forecaster():
    """Two models on three seeded series: Forecaster's wide forecasts and cross-validation."""
    from forecasting import Forecaster

    df = seasonal_panel(n_series=3, n_months=60, seed=3).to_long()[["series_id", "month", "value"]]
    forecaster = Forecaster(["theta", "seasonal_naive"])
    wide = forecaster.forecast(df, 6)
    cv = forecaster.cross_validation(df, h=6, n_windows=2, step_size=6)
    return forecaster, df, wide, cv


def _forecast_lines(ax) -> list:
    return [
        line
        for line in ax.get_lines()
        if line.get_label() not in ("history",) and line.get_linestyle() == "-"
    ]


def test_plot_forecast_reads_the_forecasters_wide_output_and_overlays_models(fitted_forecaster):
    forecaster, df, wide, _ = fitted_forecaster
    history = forecaster.panel_.series("s0")
    one = wide[wide["series_id"] == "s0"]
    ax = plots.plot_forecast(history, one, history_months=24).axes[0]
    assert ax.get_title() == "s0: 2 models' forecast, 6 months ahead"
    for model in ("theta", "seasonal_naive"):
        line = _line(ax, model)
        assert list(_x_months(line)) == list(one["month"])
        np.testing.assert_allclose(line.get_ydata(), one[model])
    bands = {c.get_label(): c for c in ax.collections}
    assert set(bands) == {f"{m} {level}% interval" for m in ("theta", "seasonal_naive") for level in (80, 95)}
    upper = bands["theta 95% interval"].get_paths()[0].vertices[:, 1]
    assert upper.max() == pytest.approx(one["theta-hi-95"].max())
    # One model picked, one level: the single-model fan chart, as from a model's own predict.
    single = plots.plot_forecast(history, one, levels=(80,), models=["theta"]).axes[0]
    assert single.get_title() == "s0: theta forecast, 6 months ahead"
    np.testing.assert_allclose(_line(single, "forecast").get_ydata(), one["theta"])
    assert [c.get_label() for c in single.collections] == ["80% interval"]
    # Long output and statsforecast's column names draw the same lines.
    long = forecaster.set_params(output="long").predict(6)
    forecaster.set_params(output="wide")
    from_long = plots.plot_forecast(history, long[long["series_id"] == "s0"]).axes[0]
    np.testing.assert_allclose(_line(from_long, "seasonal_naive").get_ydata(), one["seasonal_naive"])
    theirs = one.rename(columns={"series_id": "unique_id", "month": "ds"})
    theirs["ds"] = theirs["ds"].dt.to_timestamp()
    assert _x_months(_line(plots.plot_forecast(history, theirs).axes[0], "theta")).equals(
        pd.PeriodIndex(one["month"])
    )
    with pytest.raises(ValueError, match="'models' parameter names \\['arima'\\]"):
        plots.plot_forecast(history, one, models=["arima"])


def test_plot_forecast_draws_a_backtest_from_each_cutoff(fitted_forecaster):
    forecaster, _, _, cv = fitted_forecaster
    one = cv[cv["series_id"] == "s1"]
    ax = plots.plot_forecast(forecaster.panel_.series("s1"), one, models=["theta"]).axes[0]
    assert ax.get_title() == "s1: theta backtest, 2 cutoffs, 6 months ahead each"
    cutoffs = sorted(one["cutoff"].unique())
    lines = [line for line in ax.get_lines() if line.get_label() in ("forecast", "_forecast")]
    assert [line.get_label() for line in lines] == ["forecast", "_forecast"]  # one legend entry
    for line, cutoff in zip(lines, cutoffs, strict=True):
        rows = one[one["cutoff"] == cutoff]
        assert list(_x_months(line)) == list(pd.period_range(cutoff + 1, periods=6, freq="M"))
        np.testing.assert_allclose(line.get_ydata(), rows["theta"])
    starts = [line for line in ax.get_lines() if line.get_label() == "_forecast start"]
    assert [_x_months(line)[0] for line in starts] == [cutoff + 1 for cutoff in cutoffs]


def test_forecaster_plot_titles_series_by_port_name_not_code():
    from forecasting import Forecaster

    records = seasonal_panel(n_series=2, n_months=48, seed=1).to_long()
    records["series_id"] = records["series_id"].map({"s0": "bts/2309/trucks", "s1": "bts/0101/buses"})
    records["crossing"] = records["series_id"].map(
        {"bts/2309/trucks": "Blaine, Washington", "bts/0101/buses": "Portland, Maine"}
    )
    records["port_code"] = records["series_id"].str.split("/").str[1].astype(int)  # as a CSV reads it
    records["source"] = "bts"
    forecaster = Forecaster(["seasonal_naive"])
    figure = forecaster.plot(forecaster.forecast(records, 3), max_series=1)
    (ax,) = figure.axes
    assert ax.get_title().splitlines()[0] == "Portland, Maine/buses"
    assert figure.get_suptitle() == "Forecasts of 1 series (first 1 of 2)"
    panel = forecaster.panel_
    assert plots.series_label(panel, "bts/2309/trucks") == "Blaine, Washington/trucks"
    overview = plots.plot_series_overview(panel, by=("crossing",))
    assert {line.get_label() for ax in overview.axes for line in ax.get_lines()} == {
        "Blaine, Washington/trucks",
        "Portland, Maine/buses",
    }
    plain = seasonal_panel(n_series=1)
    assert plots.series_label(plain, "s0") == "s0"  # no port code: the id is the name


def test_live_accuracy_axis_ticks_month_starts_only():
    """Three scored months got daily ticks whose labels overlapped; now one tick per month."""
    months = pd.period_range("2025-04", periods=3, freq="M")
    history = pd.DataFrame(
        {"mase": [0.8, 1.1, 0.9], "backtest_mase": 0.9, "coverage_95": [1.0, 0.9, 1.0]}, index=months
    )
    bottom = plots.plot_live_accuracy(history).axes[1]
    locator, formatter = bottom.xaxis.get_major_locator(), bottom.xaxis.get_major_formatter()
    ticks = [t for t in locator() if bottom.get_xlim()[0] <= t <= bottom.get_xlim()[1]]
    dates = [mdates.num2date(t) for t in ticks]
    assert [d.day for d in dates] == [1] * len(dates) and 3 <= len(dates) <= 4
    assert [formatter(t) for t in ticks][:3] == ["2025-04", "2025-05", "2025-06"]
    # Long axes get yearly ticks, at most eight.
    locator.axis.axes.set_xlim(
        mdates.date2num(pd.Timestamp("1996-01-01")), mdates.date2num(pd.Timestamp("2023-12-01"))
    )
    long_ticks = locator()
    shown = [formatter(t) for t in long_ticks if 1996 <= mdates.num2date(t).year <= 2023]
    assert shown == ["1996", "2000", "2004", "2008", "2012", "2016", "2020"]  # 28 years: every 4th


def _hierarchy_panel() -> SeriesPanel:
    """``region`` = ``a`` + ``b``, 36 months."""
    from forecasting.data.summing import SummingStructure

    months = pd.period_range("2020-01", periods=36, freq="M")
    a, b = np.full(36, 40.0), np.full(36, 60.0)
    records = pd.concat(
        [
            pd.DataFrame({"series_id": sid, "month": months, "value": values, "unit": "tonnes"})
            for sid, values in (("region", a + b), ("x/a", a), ("x/b", b))
        ]
    )
    edges = pd.DataFrame({"parent": "region", "child": ["x/a", "x/b"], "level": "region"})
    return SeriesPanel(records, structure=SummingStructure.from_edges(edges))


def _flat_forecast(values: dict[str, float], model: str) -> pd.DataFrame:
    months = pd.period_range("2023-01", periods=3, freq="M")
    return pd.concat(
        [
            pd.DataFrame({"series_id": sid, "month": months, "model": model, "forecast": v})
            for sid, v in values.items()
        ]
    )


def test_reconciled_hierarchy_links_parent_and_children_base_and_reconciled():
    panel = _hierarchy_panel()
    base = _flat_forecast({"region": 110.0, "x/a": 40.0, "x/b": 60.0}, "ets")
    reconciled = _flat_forecast({"region": 105.0, "x/a": 42.0, "x/b": 63.0}, "ets+mint_shrink")
    figure = plots.plot_reconciled_hierarchy(panel, base, reconciled, "region")
    top, *children = figure.axes
    assert len(children) == 2  # the structure's children of the parent
    assert "base 9.1%, reconciled 0.0%" in top.get_title()  # |110 - 100| / 110
    np.testing.assert_allclose(_line(top, "base").get_ydata(), 110.0)
    np.testing.assert_allclose(_line(top, "reconciled").get_ydata(), 105.0)
    np.testing.assert_allclose(_line(top, "sum of children (base)").get_ydata(), 100.0)
    assert [ax.get_title() for ax in children] == ["a", "b"]  # the tokens that tell them apart
    np.testing.assert_allclose(_line(children[1], "reconciled").get_ydata(), 63.0)
    assert all(top.get_shared_x_axes().joined(top, ax) for ax in children)
    assert figure.get_suptitle().endswith("(ets / ets+mint_shrink)")
    with pytest.raises(DataError, match=r"reconciled forecasts lack series \['x/b'\]"):
        plots.plot_reconciled_hierarchy(panel, base, reconciled[reconciled["series_id"] != "x/b"], "region")
    with pytest.raises(DataError, match="not a parent"):
        plots.plot_reconciled_hierarchy(panel, base, reconciled, "x/a")
