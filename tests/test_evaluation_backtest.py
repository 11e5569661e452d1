"""Rolling-origin backtest: fold layout, scales, skipped series and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting.core.request import ForecastRequest
from forecasting.evaluation.backtest import (
    ALL_ZERO_REASON,
    DETAIL_COLUMNS,
    backtest,
    fallbacks,
    fold_cutoffs,
    skipped,
)
from forecasting.models.base import PanelForecaster, predict_fallbacks
from forecasting.models.baselines import Drift, Naive, SeasonalNaive
from forecasting.panel import SeriesPanel

SEEN: list[tuple[str, pd.Period | None, pd.Period]] = []


class ExogSpy(PanelForecaster):
    """Naive forecasts that record the last exogenous month seen in fit and predict."""

    name = "spy"
    uses_exog = True

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        self.inner_ = Naive().fit(panel)
        self.fallbacks_ = self.inner_.fallbacks_
        cutoff = panel.records["month"].max()
        SEEN.append(("fit", X["month"].max() if X is not None else None, cutoff))
        self.cutoff_ = cutoff

    def _predict(
        self, request: ForecastRequest, X_future: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        SEEN.append(("predict", X_future["month"].max() if X_future is not None else None, self.cutoff_))
        forecasts = self.inner_.predict(request.horizon, None, request.levels)
        return forecasts, predict_fallbacks(forecasts)


trained_on: list[tuple[str, list[str]]] = []


class TrainingSpy(Naive):
    """Naive forecasts that record the series each fit trains on."""

    name = "local_spy"

    def _fit(self, panel: SeriesPanel, X: pd.DataFrame | None) -> None:
        trained_on.append((self.model_name, sorted(panel.series_ids)))
        super()._fit(panel, X)


class GlobalTrainingSpy(TrainingSpy):
    """The same, fitted as one piece on the panel as a global model is."""

    name = "global_spy"
    fits_in_one_piece = True


def test_fold_layout_and_scales(small_panel: SeriesPanel) -> None:
    results = backtest([SeasonalNaive(), Drift()], small_panel, horizon=6, folds=3)
    cutoffs = [pd.Period(m, "M") for m in ("2020-02", "2020-04", "2020-06")]
    assert fold_cutoffs(pd.Period("2020-12", "M"), horizon=6, folds=3) == cutoffs
    assert sorted(results["cutoff"].unique()) == cutoffs
    assert len(results) == 3 * 2 * 3 * 6
    assert (results["month"] - results["cutoff"]).map(lambda o: o.n).eq(results["step"]).all()
    assert set(results["step"]) == set(range(1, 7))
    # Actuals are the panel's values; scales come from the fold's training window only.
    row = results[(results["series_id"] == "s1") & (results["cutoff"] == cutoffs[0])].iloc[0]
    y = small_panel.series("s1")
    assert row["actual"] == y[row["month"]]
    train = y[: cutoffs[0]].to_numpy()
    assert row["scale_mase"] == pytest.approx(np.mean(np.abs(train[12:] - train[:-12])))
    assert row["scale_rmsse"] == pytest.approx(np.mean((train[12:] - train[:-12]) ** 2))


def test_sliding_window_scales_and_naive_scale_for_short_windows(small_panel: SeriesPanel) -> None:
    results = backtest([Naive()], small_panel, horizon=3, folds=2, step=3, window="sliding", window_length=10)
    row = results.iloc[0]
    train = small_panel.series(row["series_id"])[row["cutoff"] - 9 : row["cutoff"]].to_numpy()
    assert len(train) == 10
    # Ten months is less than a year and a month: the scale falls back to naive (m=1) differences.
    assert row["scale_mase"] == pytest.approx(np.mean(np.abs(np.diff(train))))
    # The naive forecast is the last value of the window.
    assert row["forecast"] == pytest.approx(train[-1])
    with pytest.raises(ValueError, match="window_length"):
        backtest([Naive()], small_panel, horizon=3, window="sliding")


def test_planted_future_spike_moves_no_forecast(small_panel: SeriesPanel) -> None:
    models = [SeasonalNaive(), Drift(), Naive()]
    clean = backtest(models, small_panel, horizon=6, folds=3, step=2)
    spiked_month = max(clean["cutoff"]) + 1
    records = small_panel.to_long()
    spike = (records["series_id"] == "s0") & (records["month"] >= spiked_month)
    records.loc[spike, "value"] *= 1000.0
    spiked = backtest(models, SeriesPanel(records), horizon=6, folds=3, step=2)
    columns = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95", "scale_mase", "scale_rmsse"]
    pd.testing.assert_frame_equal(clean[columns], spiked[columns])
    # The spike is in the actuals, so the test could have failed.
    assert (spiked["actual"] != clean["actual"]).sum() == 3 * 3 * 6 - 3 * 2 * 1 - 3 * 4


def test_exogenous_rows_after_the_cutoff_only_reach_predict(small_panel: SeriesPanel) -> None:
    months = pd.period_range("2015-01", "2022-12", freq="M")
    X = pd.DataFrame({"month": months, "feature": np.arange(len(months), dtype=float)})
    SEEN.clear()
    backtest([ExogSpy()], small_panel, horizon=4, folds=2, X=X)
    assert len(SEEN) == 4
    for (_, fit_last, cutoff), (_, future_last, _) in zip(SEEN[::2], SEEN[1::2], strict=True):
        assert fit_last == cutoff
        assert future_last == cutoff + 4


def test_short_and_ended_series_are_skipped_and_reported() -> None:
    panel = seasonal_panel(n_series=2, n_months=48)
    records = panel.to_long()
    late = records[records["series_id"] == "s0"].assign(series_id="late")
    late = late[late["month"] >= pd.Period("2018-06", "M")]  # one observation at the first cutoff
    ended = records[records["series_id"] == "s1"].assign(series_id="ended")
    ended = ended[ended["month"] <= pd.Period("2018-06", "M")]
    gappy = records[(records["series_id"] == "s1") & (records["month"] != pd.Period("2018-12", "M"))]
    panel = SeriesPanel(pd.concat([records[records["series_id"] == "s0"], late, ended, gappy]))
    results = backtest([Naive()], panel, horizon=3, folds=2, step=3)
    assert [str(c) for c in results.attrs["backtest"].cutoffs] == ["2018-06", "2018-09"]
    report = skipped(results)
    first, second = results.attrs["backtest"].cutoffs
    assert ("late", first) in set(zip(report["series_id"], report["cutoff"], strict=True))
    assert "1 training observation(s)" in report[report["series_id"] == "late"]["reason"].iloc[0]
    assert set(report.loc[report["series_id"] == "ended", "cutoff"]) == {first, second}
    assert report[report["series_id"] == "s1"]["reason"].tolist() == [
        "1 test month(s) without an actual, not scored"
    ]
    scored = results.groupby("cutoff")["series_id"].unique().map(sorted)
    assert scored[first] == ["s0", "s1"]
    assert scored[second] == ["late", "s0", "s1"]
    assert len(results[(results["series_id"] == "s1") & (results["cutoff"] == second)]) == 2
    assert fallbacks(results).empty


def test_a_global_model_trains_on_unscored_series_a_local_one_does_not() -> None:
    panel = seasonal_panel(n_series=2, n_months=48)
    records = panel.to_long()
    ended = records[records["series_id"] == "s1"].assign(series_id="ended")
    ended = ended[ended["month"] <= pd.Period("2018-06", "M")]  # no actual after either cutoff
    late = records[records["series_id"] == "s0"].assign(series_id="late")
    late = late[late["month"] >= pd.Period("2018-06", "M")]  # one observation at the first cutoff
    panel = SeriesPanel(pd.concat([records, ended, late]))
    trained_on.clear()
    models = [TrainingSpy(min_obs=5), GlobalTrainingSpy(min_obs=5)]
    results = backtest(models, panel, horizon=3, folds=2, step=3)
    everything = ["ended", "late", "s0", "s1"]
    by_fold = [("local_spy", ["s0", "s1"]), ("global_spy", everything)]
    by_fold += [("local_spy", ["late", "s0", "s1"]), ("global_spy", everything)]
    assert trained_on == by_fold
    # Only scoring skips series: the report, the scored rows and the fallbacks are the local model's.
    local, glob = (
        results[results["model"] == name].drop(columns="model") for name in ("local_spy", "global_spy")
    )
    pd.testing.assert_frame_equal(local.reset_index(drop=True), glob.reset_index(drop=True))
    assert set(skipped(results)["series_id"]) == {"ended", "late"}
    reported = fallbacks(results)
    assert set(reported["series_id"]) == {"late"}  # 4 observations at the second cutoff, scored there
    assert reported.groupby("model")["cutoff"].apply(list).to_dict() == {
        "global_spy": [pd.Period("2018-09", "M")],
        "local_spy": [pd.Period("2018-09", "M")],
    }


@pytest.mark.slow
def test_models_are_cloned_and_results_reproducible(small_panel: SeriesPanel) -> None:
    model = SeasonalNaive()
    serial = backtest([model], small_panel, horizon=3, folds=2)
    parallel = backtest([model, Drift()], small_panel, horizon=3, folds=2, n_jobs=2)
    assert not hasattr(model, "models_")
    pd.testing.assert_frame_equal(
        serial, parallel[parallel["model"] == "seasonal_naive"].reset_index(drop=True)
    )


def test_fallbacks_are_collected_and_bad_arguments_rejected(small_panel: SeriesPanel) -> None:
    short = SeriesPanel(small_panel.records[small_panel.records["month"] >= pd.Period("2020-01", "M")])
    results = backtest([SeasonalNaive()], short, horizon=2, folds=1)
    assert set(fallbacks(results)["fallback"]) == {"naive"}
    assert len(fallbacks(results)) == 3
    with pytest.raises(ValueError, match="distinct model names"):
        backtest([Naive(), Naive()], small_panel, horizon=3)
    with pytest.raises(ValueError, match="'horizon'"):
        backtest([Naive()], small_panel, horizon=0)


def test_a_fit_given_for_the_earliest_fold_is_scored_there_and_must_match_the_model(
    small_panel: SeriesPanel,
) -> None:
    """``earliest_fit``: the earliest fold forecasts from the given fit (here fitted on other
    history, so its scores show it was used); the later folds refit; a fit of another model, or
    of a global model, is refused."""
    from forecasting.models.cv import backtest as cv_backtest
    from forecasting.models.gbm import GradientBoosting

    other = SeriesPanel(small_panel.records.assign(value=small_panel.records["value"] * 2))
    given = Naive().fit(other.until(pd.Period("2020-06", "M")))
    plain = cv_backtest([Naive()], small_panel, horizon=3, folds=2, step=3)
    reused = cv_backtest([Naive()], small_panel, horizon=3, folds=2, step=3, earliest_fit=given)
    earliest = plain["cutoff"] == plain["cutoff"].min()
    assert earliest.any() and (~earliest).any()
    pd.testing.assert_frame_equal(reused[~earliest], plain[~earliest])
    np.testing.assert_allclose(reused.loc[earliest, "forecast"], 2 * plain.loc[earliest, "forecast"])
    with pytest.raises(ValueError, match="'earliest_fit'.*the one model backtested"):
        cv_backtest([SeasonalNaive()], small_panel, horizon=3, folds=2, earliest_fit=given)
    with pytest.raises(ValueError, match="'earliest_fit'.*per-series model"):
        gbm = GradientBoosting()
        cv_backtest([gbm], small_panel, horizon=3, folds=2, earliest_fit=gbm)


def test_cli_backtest_prints_the_leaderboard(capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import PROJECT_ROOT

    from forecasting.cli import main

    sample = PROJECT_ROOT / "data" / "sample" / "border_panel.csv"
    code = main(
        ["backtest", "--input", str(sample), "--horizon", "3", "--folds", "2", "--models", "naive,drift"]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["model", "mase", "mase_median", "mase_mean", "rmsse"]
    assert {lines[1].split()[0], lines[2].split()[0]} == {"naive", "drift"}
    assert "cutoffs:" in lines[-1] and "skipped: 0" in lines[-1]


def test_seasonal_naive_mase_on_real_trade_series_matches_hand_computation(shared_data) -> None:
    from forecasting.data.loaders import load
    from forecasting.evaluation.metrics import metrics_by_series

    panel = SeriesPanel.from_load(load(shared_data / "trade" / "usa-china-trade-data.csv")).until("2017-12")
    results = backtest([SeasonalNaive()], panel, horizon=12, folds=1)
    assert results.attrs["backtest"].cutoffs == [pd.Period("2016-12", "M")]
    mase = metrics_by_series(results)["mase"]
    for series_id in panel.series_ids:
        y = panel.series(series_id)
        train, test = y[:"2016-12"].to_numpy(), y["2017-01":"2017-12"].to_numpy()
        expected = np.mean(np.abs(test - train[-12:])) / np.mean(np.abs(train[12:] - train[:-12]))
        assert mase[("seasonal_naive", series_id)] == pytest.approx(expected)


JUMP = [3771.0, 5806.0, 315.0, 249.0, 4100.0, 3900.0, 4400.0, 4000.0, 4200.0]
"""2021-04..12 of the planted jump series (its first four are Tornillo's 2023-09..12 loaded containers)."""


def _planted_panel_csv(path) -> None:  # noqa: ANN001 - a pytest tmp path
    """100 ordinary series, a Tornillo-like jump, an all-zero, a late, two ended and a gappy series."""
    rng = np.random.default_rng(7)
    months = pd.period_range("2018-01", "2021-12", freq="M")
    t = np.arange(len(months))
    series = {
        f"c{i:03d}": 100 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, len(t)) for i in range(100)
    }
    jump = np.zeros(len(t))
    jump[16] = 1.0  # 2019-05: the blip
    jump[-9:] = JUMP
    series |= {"tornillo/loaded": jump, "allzero": np.zeros(len(t))}
    series["late"] = np.where(months >= pd.Period("2021-06", "M"), 50.0, np.nan)
    for name in ("ended-a", "ended-b"):
        series[name] = np.where(months <= pd.Period("2020-12", "M"), 30.0 + t, np.nan)
    series["gappy"] = np.where(months == pd.Period("2021-08", "M"), np.nan, 70.0 + t)
    frames = [
        pd.DataFrame({"series_id": sid, "month": months.astype(str), "value": values})
        for sid, values in series.items()
    ]
    pd.concat(frames).dropna().to_csv(path, index=False)


def test_cli_backtest_names_what_dominates_and_what_was_left_out(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    from forecasting.cli import main

    source, details = tmp_path / "panel.csv", tmp_path / "out" / "details.csv"
    _planted_panel_csv(source)
    argv = ["backtest", "--input", str(source), "--horizon", "6", "--folds", "2", "--models", "naive"]
    code = main([*argv, "--executor", "serial", "--details", str(details)])
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["model", "mase", "mase_median", "mase_mean"]
    row = dict(zip(lines[0].split(), lines[1].split(), strict=True))
    assert float(row["mase"]) < 10 < 100 < float(row["mase_mean"])
    assert "cutoffs: 2021-03, 2021-06; skipped: 8 series/fold; fallbacks: 0" in lines
    counts = {line.split(":", 1)[1].strip(): line.split()[0] for line in lines if "series/fold:" in line}
    assert counts == {
        "no actual in the test window (series not reported there)": "4",
        "too little history at the cutoff": "2",
        "some test months without an actual (the rest scored)": "2",
        ALL_ZERO_REASON: "2",
    }
    warning = [line for line in captured.err.splitlines() if line.startswith("forecasting: warning:")]
    assert len(warning) == 1
    assert "1 of 102 series carry" in warning[0] and "naive's MASE" in warning[0]
    assert "tornillo/loaded (20,413)" in warning[0]

    table = pd.read_csv(details, dtype={"cutoff": str}, keep_default_na=False, na_values=[""])
    assert list(table.columns) == DETAIL_COLUMNS
    scored = table[table["reason"].isna()].set_index("series_id")
    assert len(scored) == 103 and set(scored["model"]) == {"naive"}  # with allzero: no MASE, a sMAPE
    jump = scored.loc["tornillo/loaded"]
    # Fold 2021-03 forecasts 0 over a scale of 2/27 (the blip's two seasonal pairs); fold 2021-06
    # forecasts 315 over (2 + 3771 + 5806 + 315) / 30.
    first = sum(JUMP[:6]) / (2 / 27)
    second = sum(abs(np.array(JUMP[3:]) - 315.0)) / ((2 + 3771 + 5806 + 315) / 30)
    assert (jump["folds"], jump["n_forecasts"]) == (2, 12)
    assert jump["mase"] == pytest.approx((first + second) / 12)
    assert np.isnan(scored.loc["allzero", "mase"]) and scored.loc["allzero", "smape"] == 0.0  # 0 for 0
    left = table[table["reason"].notna()]
    assert left["model"].isna().all() and left["mase"].isna().all()
    assert left[left["series_id"] == "late"][["cutoff", "reason"]].values.tolist() == [
        ["2021-03", "0 training observation(s), needs 2"],
        ["2021-06", "1 training observation(s), needs 2"],
    ]
    assert left[left["series_id"] == "allzero"]["reason"].tolist() == [ALL_ZERO_REASON] * 2
    assert left[left["series_id"] == "ended-a"]["reason"].tolist() == [
        "no actual in 2021-04..2021-09",
        "no actual in 2021-07..2021-12",
    ]
    assert main([*argv, "--details", "-"]) == 2
    assert "--details" in capsys.readouterr().err
