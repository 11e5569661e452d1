"""Stale series and one forecast window: found once, reported everywhere, not forecast unless asked."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting.cli import main
from forecasting.data.staleness import stale_series
from forecasting.errors import ConfigError, DataError
from forecasting.jobs.config import JobConfig, parse_config
from forecasting.jobs.retrain import fit_and_forecast, forecastable
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel


def ragged_panel() -> SeriesPanel:
    """s0 runs to 2020-12 (the panel's end), s1 stops 3 months early, s2 two years early."""
    records = seasonal_panel(n_series=3, n_months=72).to_long()  # 2015-01..2020-12
    ends = {"s0": "2020-12", "s1": "2020-09", "s2": "2018-12"}
    keep = records["month"] <= records["series_id"].map(lambda sid: pd.Period(ends[sid], "M"))
    return SeriesPanel(records[keep.to_numpy()])


def test_stale_series_are_those_ended_more_than_the_limit_before_the_panel_end() -> None:
    panel = ragged_panel()
    stale = panel.stale(12)
    assert stale[["series_id", "months_behind"]].values.tolist() == [["s2", 24]]
    assert stale["last"].astype(str).tolist() == ["2018-12"]
    assert panel.stale(2)["series_id"].tolist() == ["s2", "s1"]
    assert panel.stale(24).empty
    assert stale_series(panel.records.iloc[:0]).empty


def test_a_run_forecasts_one_window_and_leaves_stale_series_out() -> None:
    panel = ragged_panel()
    config = JobConfig(horizon=6)
    live = forecastable(panel, config)
    assert live.series_ids == ["s0", "s1"]
    flagged = panel.report.to_frame()
    assert flagged[flagged["series_id"] == "s2"]["reason"].str.contains("not forecast unless").all()
    forecasts = fit_and_forecast(make_model("seasonal_naive"), live, config, None)
    months = sorted(forecasts["month"].astype(str).unique())
    assert months == ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05", "2021-06"]
    assert forecasts.groupby("series_id").size().to_dict() == {"s0": 6, "s1": 6}
    # s1 is forecast from its own end (2020-09): its 2021-01 value is seasonal naive's step 4, 2020-01.
    s1 = forecasts[forecasts["series_id"] == "s1"]
    s1 = s1.set_index(s1["month"].astype(str))["forecast"]
    assert s1["2021-01"] == pytest.approx(panel.series("s1")[pd.Period("2020-01", "M")])


def test_include_stale_forecasts_them_through_the_same_window() -> None:
    panel = ragged_panel()
    config = JobConfig(horizon=3, include_stale=True)
    forecasts = fit_and_forecast(make_model("naive"), forecastable(panel, config), config, None)
    assert forecasts.groupby("series_id")["month"].apply(lambda m: sorted(m.astype(str))).to_dict() == {
        sid: ["2021-01", "2021-02", "2021-03"] for sid in ("s0", "s1", "s2")
    }
    s2 = forecasts[forecasts["series_id"] == "s2"]["forecast"].to_numpy()
    np.testing.assert_allclose(s2, panel.series("s2").iloc[-1])


def test_job_settings_for_stale_series_are_checked() -> None:
    config = parse_config({"series": {"max_stale_months": 6, "include_stale": True}})
    assert (config.max_stale_months, config.include_stale) == (6, True)
    assert parse_config({}).max_stale_months == 12 and not parse_config({}).include_stale
    with pytest.raises(ConfigError, match="series.max_stale_months"):
        parse_config({"series": {"max_stale_months": -1}})
    with pytest.raises(ConfigError, match="series.include_stale"):
        parse_config({"series": {"include_stale": "yes"}})


def test_select_keeps_part_of_a_panel() -> None:
    panel = seasonal_panel(n_series=5, n_months=36)
    assert panel.select(ids=["s3", "s1"]).series_ids == ["s1", "s3"]
    assert panel.select(match=r"s[0-2]$", limit=2).series_ids == ["s0", "s1"]
    since = panel.select(since="2016-06")
    assert str(since.records["month"].min()) == "2016-06" and len(since) == 5
    with pytest.raises(DataError, match="leaves no series"):
        panel.select(match="nothing")
    with pytest.raises(ConfigError, match="--since.*YYYY-MM"):
        panel.select(since="June 2016")
    with pytest.raises(ConfigError, match="--match.*regular expression"):
        panel.select(match="(")
    with pytest.raises(ConfigError, match="--limit"):
        panel.select(limit=0)
    with pytest.raises(DataError, match="unknown series"):
        panel.select(ids=["s9"])


def test_data_check_reports_stale_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "panel.csv"
    records = ragged_panel().to_long()
    records.assign(month=records["month"].astype(str))[["series_id", "month", "value"]].to_csv(
        path, index=False
    )
    assert main(["data", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "series ended more than 12 month(s) before the panel's last month 2020-12" in out
    assert main(["data", "check", str(path), "--max-stale-months", "1"]) == 0
    assert "flagged         2         2  series ended more than 1 month(s)" in capsys.readouterr().out
    assert main(["data", "check", str(path), "--max-stale-months", "-3"]) == 2


def test_backtest_leaves_stale_series_out_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "panel.csv"
    records = ragged_panel().to_long()
    records = records.assign(month=records["month"].astype(str))[["series_id", "month", "value"]]
    records.to_csv(path, index=False)
    args = ["backtest", "--input", str(path), "--horizon", "3", "--folds", "1", "--models", "naive"]
    details = tmp_path / "details.csv"
    assert main([*args, "--details", str(details)]) == 0
    assert "event=stale_series series=1 action=left_out" in caplog.text
    rows = pd.read_csv(details)
    assert set(rows["series_id"]) == {"s0", "s1", "s2"}
    stale = rows[rows["series_id"] == "s2"]  # not backtested, but listed with why, as the summary counts it
    assert len(stale) == 1 and stale["reason"].iloc[0].startswith("series ended more than 12 month(s)")
    assert "      1 series/fold: stale: the whole series" in capsys.readouterr().out
    assert main([*args, "--include-stale", "--max-stale-months", "1", "--details", str(details)]) == 0
    assert set(pd.read_csv(details)["series_id"]) == {"s0", "s1", "s2"}  # s2: "no actual" listed


def _ragged_csv(tmp_path: Path) -> Path:
    path = tmp_path / "panel.csv"
    records = ragged_panel().to_long()
    records.assign(month=records["month"].astype(str))[["series_id", "month", "value"]].to_csv(
        path, index=False
    )
    return path


def test_align_series_forecasts_each_series_after_its_own_last_month() -> None:
    """Company, industry or macro series that end in different years (M1) each want their next months."""
    panel = ragged_panel()
    forecasts = fit_and_forecast(make_model("seasonal_naive"), panel, JobConfig(horizon=3), None, "series")
    months = forecasts.groupby("series_id")["month"].apply(lambda m: sorted(m.astype(str))).to_dict()
    assert months == {
        "s0": ["2021-01", "2021-02", "2021-03"],
        "s1": ["2020-10", "2020-11", "2020-12"],
        "s2": ["2019-01", "2019-02", "2019-03"],
    }
    s2 = forecasts[forecasts["series_id"] == "s2"]["forecast"].to_numpy()
    np.testing.assert_allclose(s2, panel.series("s2")[pd.period_range("2018-01", "2018-03", freq="M")])
    with pytest.raises(ConfigError, match="--align"):
        fit_and_forecast(make_model("naive"), panel, JobConfig(horizon=3), None, "own")


def test_forecast_align_series_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    path, output = _ragged_csv(tmp_path), tmp_path / "fc.csv"
    args = ["forecast", "--input", str(path), "--horizon", "3", "--model", "naive", "--output", str(output)]
    assert main([*args, "--align", "series"]) == 0
    assert "for 3 series" in capsys.readouterr().out  # none is stale: each is forecast from its own end
    last = pd.read_csv(output).groupby("series_id")["month"].max().to_dict()
    assert last == {"s0": "2021-03", "s1": "2020-12", "s2": "2019-03"}
    for refused in (["--include-stale"], ["--max-stale-months", "6"], ["--reconcile", "bottom_up"]):
        assert main([*args, "--align", "series", *refused]) == 2
        assert f"key '{refused[0]}': " in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices
        main([*args, "--align", "sideways"])
    assert exit_info.value.code == 2


def test_backtest_align_series_scores_every_series_at_its_own_cutoffs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, details = _ragged_csv(tmp_path), tmp_path / "details.csv"
    args = ["backtest", "--input", str(path), "--horizon", "3", "--folds", "2", "--models", "naive"]
    assert main([*args, "--align", "series", "--details", str(details)]) == 0
    out = capsys.readouterr().out
    assert "cutoffs: each series' own, the latest 2020-08, 2020-09" in out and "skipped: 0 series/fold" in out
    scored = pd.read_csv(details).dropna(subset=["mase"])
    assert scored.set_index("series_id")["folds"].to_dict() == {"s0": 2, "s1": 2, "s2": 2}
    assert main([*args, "--align", "series", "--include-stale"]) == 2
    assert main([*args, "--align", "series", "--reconcile", "bottom_up"]) == 2


def test_forecast_align_series_covers_m1s_held_out_months(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """M1's series end between 1964 and 1997: with ``--align series`` each one's forecast covers the
    18 months its test file holds (the default window leaves 611 of the 617 out as stale)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    m1, output = shared_data / "m1", tmp_path / "fc.csv"
    args = ["forecast", "--input", str(m1 / "m1_monthly_history.csv"), "--horizon", "18", "--limit", "60"]
    assert main([*args, "--model", "theta", "--align", "series", "--output", str(output)]) == 0
    forecasts = pd.read_csv(output, dtype={"series_id": str})
    test = pd.read_csv(m1 / "m1_monthly_test.csv", dtype={"series_id": str})
    test = test[test["series_id"].isin(forecasts["series_id"])]
    assert forecasts["series_id"].nunique() == 60
    merged = forecasts.merge(test, on=["series_id", "month"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == 60 * 18


def test_forecast_and_backtest_name_what_of_the_input_no_model_can_use(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port whose every month is blank held no record after loading and vanished without a word;
    a x1000 keying error was learnt as a level without one. Both are named where a user looks."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    caplog.set_level(logging.INFO)
    path, output = _ragged_csv(tmp_path), tmp_path / "fc.csv"
    records = pd.read_csv(path)
    records.loc[(records["series_id"] == "s0") & (records["month"] == "2019-08"), "value"] *= 1000
    records.to_csv(path, index=False)
    with path.open("a", encoding="utf-8") as file:
        file.write("closed port,2020-01,\nclosed port,2020-02,\n")
    args = ["--input", str(path), "--horizon", "3"]
    assert main(["forecast", *args, "--model", "naive", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "for 2 series" in out and "; 1 series with no value not forecast" in out
    assert "; 1 isolated spike(s) in the input (a unit or keying error?), e.g. s0@2019-08" in out
    run_id = out.split("(run ")[1].split()[0]
    report = mlflow.artifacts.load_text(f"runs:/{run_id}/data_quality_report.txt")
    assert "series 'closed port'" in report and "series 's2'" in report  # valueless; stale, by name
    assert "event=valueless_series series=1" in caplog.text and "e.g. closed port" in caplog.text
    assert "closed port" not in set(pd.read_csv(output)["series_id"])
    caplog.clear()
    assert main(["backtest", *args, "--folds", "1", "--models", "naive"]) == 0
    assert "event=valueless_series series=1" in caplog.text and "event=isolated_spikes" in caplog.text
