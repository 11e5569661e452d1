"""Live accuracy of the forecasts in service: the join, the drift rule, the exit code, crash safety, a replay.

Job tests run the real retrain on small seeded panels with cheap candidates,
each in its own ``tmp_path`` (exports, models, SQLite store); the replay test
runs ``benchmarks/replay.py`` on a few series of the bundled sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import load_benchmark, seasonal_panel  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from scipy.stats import binom  # noqa: E402

from forecasting.cli import main  # noqa: E402
from forecasting.core.scales import series_scales  # noqa: E402
from forecasting.errors import DataError  # noqa: E402
from forecasting.evaluation.backtest import backtest  # noqa: E402
from forecasting.evaluation.live import DriftRule, drift_report, score_forecasts  # noqa: E402
from forecasting.evaluation.metrics import metrics_by_series  # noqa: E402
from forecasting.export import export_forecasts, forecast_table, round_forecasts  # noqa: E402
from forecasting.files import csv_dialect_of  # noqa: E402
from forecasting.jobs import monitoring  # noqa: E402
from forecasting.jobs.config import JobConfig, MonitoringConfig, load_config  # noqa: E402
from forecasting.jobs.retrain import run_retrain  # noqa: E402
from forecasting.models.registry import make_model  # noqa: E402
from forecasting.panel import SeriesPanel  # noqa: E402

JOB = "live"


# --- helpers ------------------------------------------------------------------------------------------
def level_shift_panel(shift_month: str = "2021-01", n_months: int = 84, seed: int = 3) -> SeriesPanel:
    """Three seasonal series: ``steady`` (2 % noise), ``noisy`` (noise sd = the shift), ``shifted``.

    ``shifted`` has the steady series' noise and jumps by 20 % of its level at
    ``shift_month``; ``noisy`` has noise whose sd equals that 20 % all along.
    """
    rng = np.random.default_rng(seed)
    months = pd.period_range("2015-01", periods=n_months, freq="M")
    season = 1 + 0.25 * np.sin(2 * np.pi * np.arange(n_months) / 12)
    after = (months >= pd.Period(shift_month, freq="M")).astype(float)
    values = {
        "steady": 1000 * season + rng.normal(0, 20, n_months),
        "noisy": 1000 * season + rng.normal(0, 200, n_months),
        "shifted": 1000 * season + 200 * after + rng.normal(0, 20, n_months),
    }
    frames = [
        pd.DataFrame({"series_id": k, "month": months, "value": v, "flow": "cargo"})
        for k, v in values.items()
    ]
    return SeriesPanel(pd.concat(frames, ignore_index=True))


def write_data(panel: SeriesPanel, path: Path) -> Path:
    records = panel.to_long()
    records["month"] = records["month"].astype(str)
    records["unit"] = "tonnes"
    records[["series_id", "month", "value", "flow", "unit"]].to_csv(path, index=False)
    return path


def job_config(
    folder: Path, *, models: tuple[str, ...] = ("seasonal_naive",), monitoring_toml: str = ""
) -> Path:
    """A job over ``folder/panel.csv`` (rewritten per run), everything under ``folder``."""
    text = f"""
[job]
name = "{JOB}"
horizon = 4
output_dir = "{folder / "exports"}"
models_dir = "{folder / "models"}"

[tracking]
uri = "sqlite:///{folder / "mlruns" / "mlflow.db"}"

[[sources]]
path = "{folder / "panel.csv"}"
format = "long"

[candidates]
models = {json.dumps(list(models))}

[backtest]
folds = 2

[monitoring]
{monitoring_toml}
"""
    path = folder / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_until(folder: Path, panel: SeriesPanel, month: str, config: JobConfig):
    write_data(panel.until(month), folder / "panel.csv")
    return run_retrain(config)


def accuracy(folder: Path) -> pd.DataFrame:
    return monitoring.read_accuracy(monitoring.accuracy_path(folder / "exports", JOB))


def seasonal_scale(history: pd.Series) -> float:
    """In-sample mean |y_t - y_{t-12}| written out independently of ``series_scales``."""
    values = history.to_numpy(dtype="float64")
    diffs = values[12:] - values[:-12]
    return float(np.nanmean(np.abs(diffs)))


# --- the join -------------------------------------------------------------------------------------------
def test_score_forecasts_scores_rows_with_actuals_like_a_backtest_row() -> None:
    panel = seasonal_panel(n_series=2, n_months=60, seed=4)
    origin = pd.Period("2018-12", freq="M")
    forecasts = make_model("seasonal_naive").fit(panel.until(origin)).predict(6)
    known = panel.until("2019-03")  # three of the six months have arrived
    rows = score_forecasts(forecasts, known, origin=origin)

    assert sorted(rows["step"].unique()) == [1, 2, 3] and len(rows) == 2 * 3
    for row in rows.itertuples():
        history = panel.series(row.series_id)
        actual = history[row.month]
        assert row.actual == actual
        scale = seasonal_scale(history[history.index <= origin])
        assert row.scale_mase == pytest.approx(scale, rel=1e-12)
        assert row.mase == pytest.approx(abs(row.forecast - actual) / scale, rel=1e-12)
        assert row.bias == pytest.approx((row.forecast - actual) / scale, rel=1e-12)
        assert row.smape == pytest.approx(
            200 * abs(row.forecast - actual) / (abs(actual) + abs(row.forecast))
        )
        assert row.coverage_80 == float(row.lower_80 <= actual <= row.upper_80)


def test_exports_of_either_csv_dialect_are_scored_exactly(tmp_path, monkeypatch) -> None:
    """A job that switched to ``csv_dialect = "excel-eu"`` (and ``round``) still scores its older exports;
    every forecast is read back bit for bit, so the rows equal scoring the tables written."""
    panel = seasonal_panel(n_series=3, n_months=60, seed=4)
    no_promise = monitoring.read_serving([])  # no MLflow store here: scored without a promise
    monkeypatch.setattr(monitoring, "read_serving", lambda run_ids: no_promise)
    config = JobConfig(name=JOB, horizon=4, output_dir=str(tmp_path))
    written = {}
    for origin, dialect, digits in (("2018-10", "default", None), ("2018-11", "excel-eu", 5)):
        forecasts = make_model("seasonal_naive").fit(panel.until(origin)).predict(4)
        forecasts[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]] *= 1 / 3  # long fractions
        table = round_forecasts(forecast_table(forecasts, panel.metadata, run_id=f"run-{origin}"), digits)
        export_forecasts(table, tmp_path, JOB, origin, dialect=dialect)
        written[origin] = table
    assert csv_dialect_of(tmp_path / f"forecasts_{JOB}_2018-11.csv") == "excel-eu"
    known = panel.until("2019-01")
    scored = monitoring.read_accuracy(monitoring.accuracy_path(tmp_path, JOB))
    rows = monitoring.score_in_service(config, known, scored, run_id="scorer")
    assert len(rows) == 3 * (3 + 2)  # 2018-10: three months arrived, 2018-11: two
    for origin, table in written.items():
        expected = score_forecasts(table, known, origin=pd.Period(origin, freq="M"))
        got = rows[rows["origin"] == pd.Period(origin, freq="M")]
        for column in ("forecast", "lower_80", "upper_95", "mase", "smape"):
            np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy())
    monitoring.append_accuracy(monitoring.accuracy_path(tmp_path, JOB), scored, rows, (80, 95))
    by_flow = monitoring.accuracy_summary(config, by="flow")["flow"]  # reads the excel-eu latest export
    assert "(unknown)" not in by_flow["flow"].tolist()


@pytest.mark.slow
def test_each_origin_series_step_is_scored_exactly_once_and_none_is_missed(tmp_path) -> None:
    panel = seasonal_panel(n_series=3, n_months=60, seed=5)
    config = load_config(job_config(tmp_path))
    first = run_until(tmp_path, panel, "2018-08", config)
    assert first.live is not None and first.live.new_rows.empty  # nothing in service yet
    second = run_until(tmp_path, panel, "2018-09", config)
    assert len(second.live.new_rows) == 3  # 2018-08's step 1 for three series
    again = run_until(tmp_path, panel, "2018-09", config)  # the same data: nothing new
    assert again.live.new_rows.empty
    # Two months arrive at once; one series does not report 2018-11 yet.
    late = panel.to_long()
    late = late[~((late["series_id"] == "s2") & (late["month"] == pd.Period("2018-11", freq="M")))]
    fourth = run_until(tmp_path, SeriesPanel(late), "2018-11", config)
    table = accuracy(tmp_path)

    assert not table.duplicated(["origin", "series_id", "step"]).any()
    expected = {
        (origin, series, (month - pd.Period(origin, freq="M")).n)
        for origin in ("2018-08", "2018-09")
        for series in ("s0", "s1", "s2")
        for month in pd.period_range("2018-09", "2018-11", freq="M")
        if month > pd.Period(origin, freq="M") and not (series == "s2" and str(month) == "2018-11")
    }
    got = {(str(o), s, int(k)) for o, s, k in table[["origin", "series_id", "step"]].itertuples(index=False)}
    assert got == expected
    assert len(fourth.live.new_rows) == len(expected) - 3
    # When s2's 2018-11 arrives, exactly its two forecasts (origins 08 and 09) are added; 2018-11's export
    # has nothing to score yet.
    fifth = run_until(tmp_path, panel, "2018-11", config)
    assert sorted(map(str, fifth.live.new_rows["origin"])) == ["2018-08", "2018-09"]
    assert set(fifth.live.new_rows["series_id"]) == {"s2"}


@pytest.mark.slow
def test_a_revised_actual_keeps_the_scored_value_and_is_listed_in_the_quality_report(tmp_path) -> None:
    panel = seasonal_panel(n_series=2, n_months=60, seed=6)
    config = load_config(job_config(tmp_path))
    run_until(tmp_path, panel, "2018-08", config)
    run_until(tmp_path, panel, "2018-09", config)
    scored = accuracy(tmp_path)
    before = scored.loc[scored["series_id"] == "s0", "actual"].item()

    revised = panel.to_long()
    hit = (revised["series_id"] == "s0") & (revised["month"] == pd.Period("2018-09", freq="M"))
    revised.loc[hit, "value"] = before + 10.0
    result = run_until(tmp_path, SeriesPanel(revised), "2018-10", config)

    table = accuracy(tmp_path)
    kept = table[(table["series_id"] == "s0") & (table["month"] == pd.Period("2018-09", freq="M"))]
    assert kept["actual"].tolist() == [before]  # the row keeps the value it was scored against
    assert result.live.revisions[["series_id", "scored", "current"]].values.tolist() == [
        ["s0", before, before + 10]
    ]
    text = mlflow.artifacts.load_text(f"runs:/{result.run_id}/data_quality_report.txt")
    assert "actual revised after it was scored" in text and "series 's0'" in text and "month 2018-09" in text
    assert f"scored {before:g}" in text and f"now {before + 10:g}" in text


# --- the drift rule -------------------------------------------------------------------------------------
class LiveReplay:
    """What the job does each month, without MLflow: forecast at each origin with its promise, then score."""

    def __init__(self, panel: SeriesPanel, origins: pd.PeriodIndex) -> None:
        self.panel = panel
        self.made = {}
        for origin in origins:
            history = panel.until(origin)
            model = make_model("seasonal_naive")
            promised = backtest([model], history, horizon=12, folds=3)
            mase = metrics_by_series(promised)["mase"].droplevel("model").rename("backtest_mase")
            self.made[origin] = (model.fit(history).predict(12), mase)

    def table(self, known: pd.Period) -> pd.DataFrame:
        """The live table as the run on data up to ``known`` has it."""
        frames = [
            score_forecasts(forecasts, self.panel.until(known), origin=origin).join(promise, on="series_id")
            for origin, (forecasts, promise) in self.made.items()
            if origin < known
        ]
        return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.slow
def test_drift_fires_on_a_level_shift_within_three_months_for_that_series_only(seed) -> None:
    panel = level_shift_panel(shift_month="2021-01", seed=seed)
    replay = LiveReplay(panel, pd.period_range("2020-01", "2021-02", freq="M"))
    months = pd.period_range("2020-02", "2021-03", freq="M")
    flagged = {str(known): drift_report(replay.table(known), DriftRule()).series for known in months}
    # Before the shift nothing fires, not even the series whose noise is as large as the shift.
    assert all(flagged[str(m)] == [] for m in pd.period_range("2020-02", "2020-12", freq="M"))
    # One shifted month is not yet a shift; the second is, and only the shifted series is flagged.
    assert (
        flagged["2021-01"] == [] and flagged["2021-02"] == ["shifted"] and flagged["2021-03"] == ["shifted"]
    )


def test_drift_rule_coverage_band_and_job_level_wait_for_a_full_window() -> None:
    rows = pd.DataFrame(
        {
            "series_id": ["a", "b"] * 3,
            "month": pd.PeriodIndex(["2024-01"] * 2 + ["2024-02"] * 2 + ["2024-03"] * 2, freq="M"),
            "mase": [1.0] * 6,
            "backtest_mase": [1.0] * 6,
            "coverage_80": [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        }
    )
    rule = DriftRule(months=3, coverage_band=(0.6, 0.95), min_forecasts=1)
    assert drift_report(rows.iloc[:2], rule).coverage_drift is False  # one month: too early to judge
    report = drift_report(rows, rule)
    assert report.coverage == pytest.approx(1 / 6) and report.coverage_drift and report.series == []
    assert report.reasons() == ["live 80% coverage 0.167 outside [0.6, 0.95] over 2024-01..2024-03"]


def coverage_rows(monthly_hits: dict[str, int], n_series: int, origins: int = 1) -> pd.DataFrame:
    """Live rows: per month the first ``hits`` of ``n_series`` series covered, ``origins`` times."""
    rows = [
        {
            "origin": pd.Period(month, freq="M") - step,
            "series_id": f"s{i:03d}",
            "month": pd.Period(month, freq="M"),
            "mase": 1.0,
            "backtest_mase": 1.0,
            "coverage_80": float(i < hits),
        }
        for month, hits in monthly_hits.items()
        for i in range(n_series)
        for step in range(1, origins + 1)
    ]
    return pd.DataFrame(rows)


def test_coverage_counts_each_series_month_once_however_many_origins_scored_it() -> None:
    once = drift_report(coverage_rows({"2024-01": 5, "2024-02": 5, "2024-03": 5}, 10), DriftRule())
    thrice = drift_report(
        coverage_rows({"2024-01": 5, "2024-02": 5, "2024-03": 5}, 10, origins=3), DriftRule()
    )
    assert once.coverage == thrice.coverage == 0.5
    assert once.coverage_pairs == thrice.coverage_pairs == 30
    assert thrice.coverage_p_value == pytest.approx(once.coverage_p_value)
    assert once.coverage_p_value == pytest.approx(binom.cdf(15, 30, 0.6))  # 15 of 30 covered, edge 0.6


def test_coverage_below_the_band_by_sampling_noise_is_not_drift_but_a_significant_breach_is() -> None:
    rule = DriftRule(coverage_band=(0.6, 0.95))
    few = drift_report(coverage_rows({"2024-01": 6, "2024-02": 6, "2024-03": 6}, 11), rule)
    assert few.coverage == pytest.approx(6 / 11) and few.coverage_months_out == 3
    assert few.coverage_p_value == pytest.approx(binom.cdf(18, 33, 0.6)) and not few.coverage_drift
    many = drift_report(coverage_rows({"2024-01": 60, "2024-02": 60, "2024-03": 60}, 110), rule)
    assert many.coverage == pytest.approx(6 / 11) and many.coverage_p_value < 0.05 and many.coverage_drift
    wide = drift_report(coverage_rows({"2024-01": 110, "2024-02": 110, "2024-03": 110}, 110), rule)
    assert wide.coverage == 1.0 and wide.coverage_p_value == pytest.approx(0.95**330) and wide.coverage_drift
    strict = DriftRule(coverage_band=(0.6, 0.95), coverage_alpha=1e-6)
    assert not drift_report(coverage_rows({"2024-01": 60, "2024-02": 60, "2024-03": 60}, 110), strict).drifted


def test_coverage_must_stay_outside_the_band_without_its_worst_month_not_only_in_one_shocked_month() -> None:
    one_month = drift_report(coverage_rows({"2024-01": 80, "2024-02": 0, "2024-03": 80}, 100), DriftRule())
    assert one_month.coverage == pytest.approx(0.8 * 2 / 3) and one_month.coverage_p_value < 0.05
    assert one_month.coverage_months_out == 1 and one_month.coverage_without_worst == pytest.approx(0.8)
    assert not one_month.coverage_drift and not one_month.drifted
    # A second month below the band that the others outweigh is not a persistent breach either.
    two_months = drift_report(coverage_rows({"2024-01": 80, "2024-02": 0, "2024-03": 50}, 100), DriftRule())
    assert two_months.coverage_months_out == 2 and two_months.coverage_without_worst == pytest.approx(0.65)
    assert not two_months.coverage_drift
    lasting = drift_report(coverage_rows({"2024-01": 80, "2024-02": 0, "2024-03": 30}, 100), DriftRule())
    assert lasting.coverage_without_worst == pytest.approx(0.55) and lasting.coverage_drift
    # min_months = 3: without its two worst months the window is the first one, inside the band.
    strict = drift_report(
        coverage_rows({"2024-01": 80, "2024-02": 0, "2024-03": 30}, 100), DriftRule(min_months=3)
    )
    assert strict.coverage_without_worst == pytest.approx(0.8) and not strict.coverage_drift


def common_event_panel(event: str, *, lasting: bool, n_series: int = 12, seed: int = 5) -> SeriesPanel:
    """Seasonal series with 2 % noise that all move up 20 % at ``event``: for good, or for that month only.

    The one-month move is what a holiday that changed month does to every
    series of a job at once (the Spring Festival in February instead of January).
    """
    rng = np.random.default_rng(seed)
    months = pd.period_range("2015-01", periods=84, freq="M")
    season = 1 + 0.25 * np.sin(2 * np.pi * np.arange(len(months)) / 12)
    moved = months >= pd.Period(event, freq="M") if lasting else months == pd.Period(event, freq="M")
    frames = []
    for i in range(n_series):
        level = 1000.0 * (i + 1)
        values = level * season * (1 + 0.2 * moved) + rng.normal(0, 0.02 * level, len(months))
        frames.append(
            pd.DataFrame({"series_id": f"s{i:02d}", "month": months, "value": values, "flow": "cargo"})
        )
    return SeriesPanel(pd.concat(frames, ignore_index=True))


@pytest.mark.slow
def test_coverage_drift_fires_on_a_lasting_shift_of_every_series_not_on_a_one_month_move_of_that_size() -> (
    None
):
    origins = pd.period_range("2020-01", "2021-04", freq="M")
    known = pd.period_range("2020-04", "2021-05", freq="M")
    lasting = LiveReplay(common_event_panel("2021-01", lasting=True), origins)
    one_month = LiveReplay(common_event_panel("2021-01", lasting=False), origins)
    shift = {str(k): drift_report(lasting.table(k), DriftRule()) for k in known}
    move = {str(k): drift_report(one_month.table(k), DriftRule()) for k in known}
    before = [str(k) for k in known if k < pd.Period("2021-01", freq="M")]
    assert not any(shift[k].coverage_drift or move[k].coverage_drift for k in before)
    # The shift's first month alone is one month; its second makes the breach persist.
    assert not shift["2021-01"].coverage_drift
    assert shift["2021-02"].coverage_drift and shift["2021-03"].coverage_drift
    # The one-month move misses as badly in its month (no series covered) but is never coverage drift.
    assert move["2021-01"].coverage_months_out == 1 and shift["2021-01"].coverage == move["2021-01"].coverage
    assert not any(report.coverage_drift for report in move.values())


# --- the job: exit code, MLflow, compare, accuracy command, config ----------------------------------------
@pytest.mark.slow
def test_drift_exits_3_tags_the_run_and_shows_in_compare_and_accuracy(tmp_path, capsys) -> None:
    panel = level_shift_panel(shift_month="2021-01")
    path = job_config(tmp_path)
    for month in ("2020-11", "2020-12", "2021-01"):  # the shift's first month alone is not yet drift
        write_data(panel.until(month), tmp_path / "panel.csv")
        assert main(["retrain", "--config", str(path)]) == 0
    write_data(panel.until("2021-02"), tmp_path / "panel.csv")
    assert main(["retrain", "--config", str(path)]) == 3
    out = capsys.readouterr().out
    assert "drift: series shifted: live MASE" in out

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    runs = MlflowClient().search_runs(
        [mlflow.get_experiment_by_name(JOB).experiment_id],
        filter_string="tags.`forecasting.run_type` = 'retrain'",
        order_by=["attributes.start_time DESC"],
    )
    latest = runs[0].data
    assert latest.tags["monitoring.drift"] == "true" and latest.tags["monitoring.drift_series"] == "shifted"
    assert latest.metrics["live_mase"] > latest.metrics["live_backtest_mase"]
    history = MlflowClient().get_metric_history(runs[0].info.run_id, "mase_by_month")
    assert [m.step for m in history] == [
        pd.Period(m, freq="M").ordinal for m in ("2020-12", "2021-01", "2021-02")
    ]
    assert "plots/live_accuracy.png" in [
        a.path for a in MlflowClient().list_artifacts(runs[0].info.run_id, "plots")
    ]
    assert runs[1].data.tags["monitoring.drift"] == "false"

    assert main(["compare", "--config", str(path)]) == 0
    compare_out = capsys.readouterr().out
    live_line = next(line for line in compare_out.splitlines() if "live (champion)" in line)
    assert live_line.split()[-1] == "true" and "drift" in compare_out.splitlines()[0]

    assert main(["accuracy", "--config", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "live accuracy by model:" in printed and "live accuracy by step:" in printed
    assert "live accuracy by flow:" in printed and "cargo" in printed


@pytest.mark.slow
def test_accuracy_by_job_name_before_anything_is_scored_and_a_bad_name(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["accuracy", "--job", "border"]) == 0
    assert capsys.readouterr().out.startswith("border: no forecast scored yet (exports/accuracy_border.csv)")
    assert main(["accuracy", "--job", "../etc"]) == 2
    assert "key '--job'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("months = 0", "monitoring.months"),
        ("months = 2\nmin_months = 3", "monitoring.min_months"),
        ("mase_factor = 0.5", "monitoring.mase_factor"),
        ("coverage_level = 90", "monitoring.coverage_level"),
        ("coverage_band = [0.9, 0.5]", "monitoring.coverage_band"),
        ("coverage_band = [0.5]", "monitoring.coverage_band"),
        ("coverage_alpha = 1.0", "monitoring.coverage_alpha"),
        ("coverage_alpha = 0", "monitoring.coverage_alpha"),
        ("force_challenger_on_drift = 'yes'", "monitoring.force_challenger_on_drift"),
        ("threshold = 2", "monitoring.threshold"),
    ],
)
def test_bad_monitoring_settings_exit_2_naming_the_key(tmp_path, capsys, setting, key) -> None:
    path = job_config(tmp_path, monitoring_toml=setting)
    assert main(["retrain", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"key '{key}'" in err and "Traceback" not in err


@pytest.mark.slow
def test_monitoring_settings_parse_and_drift_relaxes_the_gate(tmp_path) -> None:
    text = "months = 6\nmase_factor = 1.5\ncoverage_band = [0.7, 0.9]\nforce_challenger_on_drift = true"
    config = load_config(job_config(tmp_path, monitoring_toml=text))
    rule = DriftRule(months=6, mase_factor=1.5, coverage_band=(0.7, 0.9))
    assert config.monitoring == MonitoringConfig(rule=rule, force_challenger_on_drift=True)
    replay = LiveReplay(level_shift_panel(), pd.period_range("2020-06", "2021-01", freq="M"))
    drifted = drift_report(replay.table(pd.Period("2021-02", freq="M")), DriftRule())
    check = monitoring.LiveCheck(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), drifted, None)
    assert check.drifted
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run():
        assert monitoring.gate_config(config, check).margin == 0.0
    calm = JobConfig(margin=0.02)
    assert monitoring.gate_config(calm, check).margin == 0.02  # the option is off by default


# --- crash safety -----------------------------------------------------------------------------------------
KILL_MID_APPEND = """
import os, sys
from pathlib import Path
import forecasting.files as files
from forecasting.jobs import monitoring

path, levels = Path(sys.argv[1]), (80, 95)
scored = monitoring.read_accuracy(path)
new_rows = scored.assign(origin=scored["origin"] + 1)
real_fsync = os.fsync

def die_after_writing(descriptor):
    real_fsync(descriptor)  # the new table is complete in the temporary file, not yet renamed
    {action}

files.os.fsync = die_after_writing
monitoring.append_accuracy(path, scored, new_rows, levels)
"""


@pytest.fixture(scope="module")
def scored_job(tmp_path_factory) -> Path:
    """A job folder after two runs: an accuracy table with four rows."""
    folder = tmp_path_factory.mktemp("scored_job")
    panel = seasonal_panel(n_series=2, n_months=60, seed=7)
    config = load_config(job_config(folder))
    run_until(folder, panel, "2018-08", config)
    run_until(folder, panel, "2018-10", config)
    assert len(accuracy(folder)) == 2 * 2  # origin 2018-08, months 09 and 10
    return monitoring.accuracy_path(folder / "exports", JOB)


@pytest.mark.parametrize(
    ("action", "returncode"), [("os._exit(9)", 9), ("raise RuntimeError('killed mid-append')", 1)]
)
@pytest.mark.slow
def test_a_run_killed_mid_append_leaves_the_accuracy_table_as_it_was(
    scored_job, tmp_path, action, returncode
) -> None:
    path = tmp_path / scored_job.name
    path.write_bytes(scored_job.read_bytes())
    before = path.read_bytes()

    script = KILL_MID_APPEND.format(action=action)
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == returncode, done.stderr
    assert path.read_bytes() == before
    # The next append clears a dead writer's temporary file and keeps every old row byte for byte.
    scored = monitoring.read_accuracy(path)
    monitoring.append_accuracy(path, scored, scored.assign(origin=scored["origin"] + 2), (80, 95))
    assert path.read_bytes().startswith(before) and len(monitoring.read_accuracy(path)) == 2 * len(scored)
    assert not list(path.parent.glob(f".{path.name}.*.tmp"))


def test_a_table_that_is_not_an_accuracy_table_is_a_data_error(tmp_path) -> None:
    path = tmp_path / "accuracy_live.csv"
    path.write_text("origin,month\n2024-01,2024-02\n", encoding="utf-8")
    with pytest.raises(DataError, match="not an accuracy table"):
        monitoring.read_accuracy(path)


# --- the replay -------------------------------------------------------------------------------------------
REPLAY_SERIES = (
    "harbin-airport/cargo/air/export",
    "heihe-blagoveshchensk/passengers/inbound",
    "zabaykalsk-manzhouli/cargo/rail/export",
)


@pytest.mark.slow
def test_a_short_replay_of_the_sample_scores_everything_once_and_matches_a_recomputation(tmp_path) -> None:
    replay = load_benchmark("replay")
    shift = replay.Shift("zabaykalsk-manzhouli/cargo/rail/export", "2024-09", 2.0)
    runs = replay.replay(
        tmp_path,
        start="2024-08",
        end="2024-10",
        candidates=("seasonal_naive", "ets"),
        shift=shift,
        series_ids=REPLAY_SERIES,
        horizon=6,
        folds=2,
    )
    assert [r.origin for r in runs] == ["2024-08", "2024-09", "2024-10"]
    # The shift's second month raises the flag, for that series only; nothing fires before.
    assert [r.drift_series for r in runs] == [(), (), (shift.series_id,)]

    from forecasting.sample import load_sample

    full = replay.shifted(load_sample(), shift)
    table = monitoring.read_accuracy(monitoring.accuracy_path(tmp_path / "exports", replay.JOB))
    assert not table.duplicated(["origin", "series_id", "step"]).any()
    expected = {
        (str(origin), series, step)
        for origin in pd.period_range("2024-08", "2024-09", freq="M")
        for series in REPLAY_SERIES
        for step in range(1, 7)
        if origin + step <= pd.Period("2024-10", freq="M")
    }
    assert {
        (str(o), s, int(k)) for o, s, k in table[["origin", "series_id", "step"]].itertuples(index=False)
    } == expected

    for origin, rows in table.groupby("origin"):
        export = pd.read_csv(tmp_path / "exports" / f"forecasts_replay_{origin}.csv", dtype={"month": str})
        export = export.set_index(["series_id", "month"])
        for row in rows.itertuples():
            history = full.series(row.series_id)
            actual = history[row.month]
            forecast = export.loc[(row.series_id, str(row.month)), "forecast"]
            scale = seasonal_scale(history[history.index <= origin])
            assert (row.actual, row.forecast) == (actual, forecast)
            assert row.step == (row.month - origin).n
            assert row.mase == pytest.approx(abs(forecast - actual) / scale, rel=1e-9)
            assert row.coverage_95 == float(
                export.loc[(row.series_id, str(row.month)), "lower_95"]
                <= actual
                <= export.loc[(row.series_id, str(row.month)), "upper_95"]
            )
    scales = series_scales(full.subset(REPLAY_SERIES).until("2024-08").wide())
    august = table[table["origin"] == pd.Period("2024-08", freq="M")]
    assert august["scale_mase"].tolist() == scales.loc[august["series_id"], "scale_mase"].tolist()
