"""forecast --reconcile: finds the hierarchy series build wrote, and the export sums up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import trade_records

from forecasting.cli import main
from forecasting.data.summing import SummingStructure
from forecasting.export import export_columns
from forecasting.panel import SeriesPanel

MONTHS = pd.period_range("2019-01", "2022-12", freq="M")


def _write_input(path) -> None:
    records = trade_records(MONTHS, seed=11)
    records.assign(month=records["month"].astype(str)).to_csv(path, index=False)


def _write_job(
    config: Path, tmp_path: Path, panel: Path, *, name: str, models: list[str], folds: int, reconcile: str
) -> None:
    """A job on the panel ``series build`` wrote, exporting to and tracking in ``tmp_path``."""
    config.write_text(
        f"""
[job]
name = "{name}"
horizon = 3
output_dir = "{tmp_path / "exports"}"
models_dir = "{tmp_path / "models"}"

[tracking]
uri = "sqlite:///{tmp_path / "mlruns" / "mlflow.db"}"

[[sources]]
path = "{panel}"
format = "long"

[candidates]
models = {json.dumps(models)}

[backtest]
folds = {folds}

[reconcile]
{reconcile}
""",
        encoding="utf-8",
    )


@pytest.mark.slow
def test_forecast_reconcile_writes_coherent_numbers(tmp_path, monkeypatch, caplog) -> None:
    method = "mint_shrink"
    caplog.set_level(logging.INFO, logger="forecasting.jobs")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    _write_input(tmp_path / "input.csv")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel)]) == 0
    out = tmp_path / "forecast.csv"
    args = ["forecast", "--input", str(panel), "--horizon", "3", "--output", str(out)]
    assert main([*args, "--model", "seasonal_naive", "--reconcile", method]) == 0
    table = pd.read_csv(out, dtype={"month": str})
    assert list(table.columns) == export_columns()
    edges = pd.read_csv(tmp_path / "panel.hierarchy.csv")
    forecast = table.pivot(index="month", columns="series_id", values="forecast")
    for parent, children in edges.groupby("parent")["child"]:
        np.testing.assert_allclose(forecast[parent], forecast[list(children)].sum(axis=1), rtol=1e-6)
    by_series = table.groupby("series_id")["reconciliation"].first()
    assert set(by_series[list(edges["parent"].unique())]) == {method}
    assert by_series["total/trade_value/balance"] == "none"  # a signed combination, not a sum
    assert (table["lower_95"] <= table["lower_80"]).all() and (table["upper_80"] <= table["upper_95"]).all()
    factors = [r.getMessage() for r in caplog.records if "event=reconciled_interval_factor" in r.getMessage()]
    assert {m.split("interval=")[1].split()[0] for m in factors} == {"80", "95"}
    assert {m.split("level=")[1].split()[0] for m in factors} == {"bottom", "crossing", "region", "total"}
    # the covariance came from seasonal naive's in-sample errors, the last 24 months (36 - 12 without one)
    assert "residuals=in_sample residual_rows=36" in caplog.text
    # no trade value in the hierarchy is negative: reconciled without going below zero, by default
    assert f"event=reconcile method={method} nonnegative=true" in caplog.text
    assert (
        (table.loc[table["reconciliation"] == method, ["forecast", "lower_80", "lower_95"]] >= 0).all().all()
    )
    caplog.clear()
    assert main([*args, "--model", "seasonal_naive", "--reconcile", method, "--residual-months", "24"]) == 0
    assert "residuals=in_sample residual_rows=24" in caplog.text
    caplog.clear()
    assert main([*args, "--model", "seasonal_naive", "--reconcile", method, "--residuals", "backtest"]) == 0
    assert "residuals=backtest residual_rows=6" in caplog.text  # 2 folds x 3 months


@pytest.mark.slow
def test_forecast_reconcile_mint_guarded_keeps_what_the_backtest_says_mint_would_hurt(
    tmp_path, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="forecasting.jobs")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    _write_input(tmp_path / "input.csv")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel)]) == 0
    args = ["forecast", "--input", str(panel), "--horizon", "3"]
    outputs = {name: tmp_path / f"{name}.csv" for name in ("base", "guarded", "theta")}
    assert main([*args, "--output", str(outputs["base"]), "--model", "ets"]) == 0
    assert (
        main([*args, "--output", str(outputs["guarded"]), "--model", "ets", "--reconcile", "mint_guarded"])
        == 0
    )
    # on this panel plain MinT made ETS's totals worse on the backtest; keeping the bottom made none worse
    candidates = [
        r.getMessage() for r in caplog.records if "event=reconcile_guard_candidate" in r.getMessage()
    ]
    names = [m.split("candidate='")[1].split("'")[0] for m in candidates]
    assert names[:2] == ["base", "keep none"] and "keep bottom" in names
    assert "candidate='keep none' accepted=false" in caplog.text
    assert "event=reconcile_guard method=mint_guarded reconciled=true kept_at_base='bottom'" in caplog.text
    base, guarded = (pd.read_csv(outputs[name], dtype={"month": str}) for name in ("base", "guarded"))
    edges = pd.read_csv(tmp_path / "panel.hierarchy.csv")
    forecast = guarded.pivot(index="month", columns="series_id", values="forecast")
    for parent, children in edges.groupby("parent")["child"]:
        np.testing.assert_allclose(forecast[parent], forecast[list(children)].sum(axis=1), rtol=1e-6)
    bottom = sorted(set(edges["child"]))
    expected = base.pivot(index="month", columns="series_id", values="forecast")[bottom]
    np.testing.assert_allclose(forecast[bottom], expected, rtol=1e-9)
    by_series = guarded.groupby("series_id")["reconciliation"].first()
    assert set(by_series[bottom]) == {"mint_guarded"}
    caplog.clear()
    # with theta every candidate made some level worse: the base forecasts stay, not reconciled
    assert (
        main([*args, "--output", str(outputs["theta"]), "--model", "theta", "--reconcile", "mint_guarded"])
        == 0
    )
    assert "reconciled=false reason='every candidate made some level worse" in caplog.text
    assert set(pd.read_csv(outputs["theta"])["reconciliation"]) == {"none"}


@pytest.mark.slow
def test_forecast_reconcile_needs_a_hierarchy_and_a_known_method(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    _write_input(tmp_path / "input.csv")
    args = ["forecast", "--input", str(tmp_path / "input.csv"), "--horizon", "3"]
    args += ["--output", str(tmp_path / "f.csv"), "--model", "seasonal_naive"]
    assert main([*args, "--reconcile", "mint_shrink"]) == 2
    assert "needs a hierarchy" in capsys.readouterr().err
    assert main([*args, "--reconcile", "middle_out"]) == 2
    assert "--reconcile" in capsys.readouterr().err
    assert main([*args, "--nonnegative"]) == 2
    assert "--nonnegative/--allow-negative" in capsys.readouterr().err
    assert main([*args, "--allow-negative"]) == 2
    assert "only applies with --reconcile" in capsys.readouterr().err
    with pytest.raises(SystemExit) as both:  # argparse: the two are mutually exclusive
        main([*args, "--reconcile", "ols", "--nonnegative", "--allow-negative"])
    assert both.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main([*args, "--residuals", "backtest"]) == 2
    assert "--residuals" in capsys.readouterr().err
    assert main([*args, "--reconcile", "mint_shrink", "--residuals", "fitted"]) == 2
    assert "in_sample, backtest. Got 'fitted'" in capsys.readouterr().err
    assert main([*args, "--reconcile", "mint_shrink", "--residual-months", "0"]) == 2
    assert "--residual-months" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_job_config_reconcile_section(tmp_path) -> None:
    from forecasting.errors import ConfigError
    from forecasting.jobs.config import load_config

    path = tmp_path / "job.toml"
    path.write_text('[job]\nname = "border"\n\n[reconcile]\nmethod = "mint_shrink"\nnonnegative = true\n')
    config = load_config(path)
    assert config.reconcile == "mint_shrink" and config.reconcile_nonnegative is True
    assert load_config(None).reconcile is None
    assert load_config(None).reconcile_nonnegative is None  # "auto": decided from the data
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nnonnegative = "auto"\n')
    assert load_config(path).reconcile_nonnegative is None
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nnonnegative = "yes"\n')
    with pytest.raises(ConfigError, match="must be true, false or \"auto\". Got 'yes'") as raised:
        load_config(path)
    assert raised.value.key == "reconcile.nonnegative"
    path.write_text('[reconcile]\nmethod = "middle_out"\n')
    with pytest.raises(ConfigError, match="reconcile.method"):
        load_config(path)
    assert load_config(None).reconcile_choose_on == "base"
    path.write_text('[reconcile]\nchoose_on = "reconciled"\n')  # a section without a method: the guarded one
    assert (load_config(path).reconcile, load_config(path).reconcile_choose_on) == (
        "mint_guarded",
        "reconciled",
    )
    default = load_config(None)
    assert (default.reconcile_residuals, default.reconcile_residual_months) == ("in_sample", 120)
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nresiduals = "backtest"\nresidual_months = 36\n')
    config = load_config(path)
    assert (config.reconcile_residuals, config.reconcile_residual_months) == ("backtest", 36)
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nresiduals = "fitted"\n')
    with pytest.raises(ConfigError, match="Got 'fitted'") as raised:
        load_config(path)
    assert raised.value.key == "reconcile.residuals"
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nresidual_months = 0\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.key == "reconcile.residual_months"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('method = "ols"\nchoose_on = "best"', "must be one of \\['base', 'reconciled'\\]. Got 'best'"),
        ('method = "ols"\nchoose_on = true', "must be a string"),
        ('method = "ols"\nchoose_on = "reconciled"\n[backtest]\nfolds = 1', "needs backtest.folds >= 2"),
    ],
)
def test_a_bad_choose_on_is_a_config_error_naming_the_key(tmp_path, capsys, section, message) -> None:
    from forecasting.errors import ConfigError
    from forecasting.jobs.config import load_config

    path = tmp_path / "job.toml"
    path.write_text(f"[reconcile]\n{section}\n")
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert raised.value.key == "reconcile.choose_on"
    assert main(["retrain", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "key 'reconcile.choose_on'" in err and "Traceback" not in err


def test_job_config_chooses_on_reconciled_backtests(tmp_path) -> None:
    from forecasting.jobs.config import load_config

    path = tmp_path / "job.toml"
    path.write_text('[reconcile]\nmethod = "mint_shrink"\nchoose_on = "reconciled"\n')
    config = load_config(path)
    assert (config.reconcile, config.reconcile_choose_on) == ("mint_shrink", "reconciled")


def _hand_built_backtest() -> tuple[pd.DataFrame, SummingStructure]:
    """total = a + b over two folds of two months; scale 10 everywhere.

    ``sharp_leaves`` forecasts a and b exactly but the total 50% too high;
    ``steady`` is 5% too high everywhere (coherent). On base scores steady
    wins; bottom-up makes sharp_leaves exact and leaves steady as it is.
    """
    structure = SummingStructure.from_edges(
        pd.DataFrame({"parent": ["total", "total"], "child": ["a", "b"], "level": ["total", "total"]})
    )
    rows = []
    for cutoff, months in (("2024-02", ("2024-03", "2024-04")), ("2024-04", ("2024-05", "2024-06"))):
        for step, month in enumerate(months, start=1):
            actual = {"a": 100.0 + 10 * step, "b": 50.0 + 5 * step}
            actual["total"] = actual["a"] + actual["b"]
            for model, factor in (("sharp_leaves", {"a": 1.0, "b": 1.0, "total": 1.5}), ("steady", None)):
                for series_id, value in actual.items():
                    forecast = value * (factor[series_id] if factor else 1.05)
                    rows.append(
                        {
                            "series_id": series_id,
                            "model": model,
                            "cutoff": cutoff,
                            "month": month,
                            "step": step,
                            "actual": value,
                            "forecast": forecast,
                            "lower_80": forecast - 10,
                            "upper_80": forecast + 10,
                            "lower_95": forecast - 20,
                            "upper_95": forecast + 20,
                            "scale_mase": 10.0,
                            "scale_rmsse": 100.0,
                        }
                    )
    return pd.DataFrame(rows), structure


def test_reconciled_scores_change_which_model_is_chosen() -> None:
    from forecasting.evaluation.metrics import leaderboard
    from forecasting.jobs.reconcile import ReconciledScoring

    results, structure = _hand_built_backtest()
    base = leaderboard(results)
    assert list(base["model"]) == ["steady", "sharp_leaves"]
    # steady: a (5.5, 6) b (2.75, 3) total (8.25, 9) over scale 10; sharp_leaves: total (82.5, 90)
    assert base.set_index("model")["mase"].to_dict() == pytest.approx(
        {"steady": (0.575 + 0.2875 + 0.8625) / 3, "sharp_leaves": 8.625 / 3}
    )
    scoring = ReconciledScoring(structure, "bottom_up")
    board = scoring.leaderboard(results)
    assert list(board["model"]) == ["sharp_leaves", "steady"]
    assert board.set_index("model").loc["sharp_leaves", "mase"] == pytest.approx(0.0, abs=1e-12)
    # steady is coherent: bottom-up keeps it; only the second fold is scored (the first lends its errors)
    later = results[(results["model"] == "steady") & (results["cutoff"] == "2024-04")]
    assert board.set_index("model").loc["steady", "mase"] == pytest.approx(leaderboard(later)["mase"].iloc[0])
    steady = scoring.scores(results[results["model"] == "steady"])
    assert steady["mase"] == pytest.approx(leaderboard(later)["mase"].iloc[0])
    assert steady["coverage_95"] == pytest.approx(leaderboard(later)["coverage_95"].iloc[0])


@pytest.mark.slow
def test_retrain_with_a_reconcile_section_exports_numbers_that_add_up(tmp_path) -> None:
    _write_input(tmp_path / "input.csv")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel)]) == 0
    config = tmp_path / "job.toml"
    _write_job(
        config,
        tmp_path,
        panel,
        name="coherent",
        models=["seasonal_naive"],
        folds=2,
        reconcile='method = "wls_struct"',
    )
    assert main(["retrain", "--config", str(config)]) == 0
    table = pd.read_csv(tmp_path / "exports" / "forecasts_coherent_latest.csv", dtype={"month": str})
    assert list(table.columns) == export_columns()
    edges = pd.read_csv(tmp_path / "panel.hierarchy.csv")
    forecast = table.pivot(index="month", columns="series_id", values="forecast")
    for parent, children in edges.groupby("parent")["child"]:
        np.testing.assert_allclose(forecast[parent], forecast[list(children)].sum(axis=1), rtol=1e-6)
    assert set(table.loc[table["series_id"].isin(edges["parent"]), "reconciliation"]) == {"wls_struct"}
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    run = mlflow.get_run(table["run_id"].iloc[0])
    metrics = run.data.metrics
    for level in ("bottom", "crossing", "region", "total"):
        assert f"mase_{level}_base" in metrics and f"mase_{level}_reconciled" in metrics


def test_backtest_reconcile_prints_base_and_reconciled_per_level(tmp_path, capsys) -> None:
    from forecasting.data.loaders import load
    from forecasting.evaluation.backtest import backtest
    from forecasting.evaluation.reconciled import leaderboard_by_level, reconciled_backtest
    from forecasting.models.registry import make_model

    _write_input(tmp_path / "input.csv")
    panel_path = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel_path)]) == 0
    panel = SeriesPanel.from_load(load(panel_path))
    results = backtest([make_model("seasonal_naive")], panel, horizon=3, folds=3)
    both = reconciled_backtest(results, panel.structure, "mint_shrink")
    assert set(both["model"]) == {"seasonal_naive", "seasonal_naive+mint_shrink"}
    assert both["cutoff"].nunique() == 2  # the first fold only lends its errors
    reconciled = both[both["model"] == "seasonal_naive+mint_shrink"]
    for _, fold in reconciled.groupby(["cutoff", "month"]):
        values = fold.set_index("series_id")["forecast"]
        for parent, children in panel.structure.children.items():
            assert values[parent] == pytest.approx(values[list(children)].sum(), rel=1e-6)
    board = leaderboard_by_level(both, panel.structure)
    assert set(board["level"]) == {"bottom", "crossing", "region", "total"}
    assert len(board) == 8
    args = ["backtest", "--input", str(panel_path), "--horizon", "3", "--folds", "3"]
    assert main([*args, "--models", "seasonal_naive", "--reconcile", "ols"]) == 0
    out = capsys.readouterr().out
    assert "seasonal_naive+ols" in out and "reconciled with ols" in out
    assert main([*args, "--models", "seasonal_naive", "--reconcile", "nope"]) == 2


@pytest.mark.slow
def test_retrain_chooses_and_gates_on_reconciled_backtests(tmp_path) -> None:
    import mlflow

    _write_input(tmp_path / "input.csv")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel)]) == 0
    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    config = tmp_path / "job.toml"
    reconcile = 'method = "mint_shrink"\nchoose_on = "reconciled"'
    _write_job(
        config,
        tmp_path,
        panel,
        name="chosen",
        models=["seasonal_naive", "naive"],
        folds=3,
        reconcile=reconcile,
    )
    mlflow.set_tracking_uri(store)
    runs = []
    for _ in range(2):  # the second run re-scores the champion, also on reconciled backtests
        assert main(["retrain", "--config", str(config)]) == 0
        table = pd.read_csv(tmp_path / "exports" / "forecasts_chosen_latest.csv", dtype={"month": str})
        runs.append(mlflow.get_run(table["run_id"].iloc[0]))
    first, second = runs
    artifacts = mlflow.artifacts.download_artifacts(run_id=first.info.run_id)
    reconciled = pd.read_csv(f"{artifacts}/leaderboard_reconciled.csv")
    base = pd.read_csv(f"{artifacts}/leaderboard.csv")
    assert set(reconciled["model"]) == {"seasonal_naive", "naive"}
    assert not np.allclose(
        reconciled.set_index("model")["mase"].sort_index(), base.set_index("model")["mase"].sort_index()
    )
    tags = first.data.tags
    assert tags["promotion.scored_on"] == "reconciled"
    assert tags["promotion.candidate_model"] == reconciled["model"].iloc[0]
    assert float(tags["promotion.candidate_mase"]) == pytest.approx(reconciled["mase"].iloc[0], rel=1e-5)
    assert (Path(artifacts) / "plots" / "reconciled_by_level.png").exists()
    kept = second.data.tags
    assert kept["promotion.decision"] == "kept"
    assert float(kept["promotion.champion_mase"]) == pytest.approx(reconciled["mase"].iloc[0], rel=1e-5)


def test_series_moved_beyond_their_own_forecast_or_below_zero_are_warned_about(caplog) -> None:
    from forecasting.jobs.reconcile import log_large_adjustments

    months = ["2024-01", "2024-02"]
    base = pd.DataFrame(
        {
            "series_id": ["small"] * 2 + ["big"] * 2 + ["moved"] * 2,
            "month": months * 3,
            "forecast": [10.0, 12.0, 10_000.0, 10_000.0, 100.0, 100.0],
        }
    )
    reconciled = base.assign(forecast=[-5.0, 11.0, 10_015.0, 9_990.0, 100.0, 260.0])
    caplog.set_level(logging.WARNING, logger="forecasting.jobs")
    flagged = log_large_adjustments(base, reconciled, "ols")
    # small: -5 for 10 (1.5x its forecast, below zero); moved: +160 % in February; big: 0.15 %
    assert flagged["series_id"].tolist() == ["moved", "small"]
    assert flagged["largest_change"].tolist() == pytest.approx([1.6, 1.5])
    assert flagged["negative"].tolist() == [False, True]
    assert "series=2 of 3 moved_over_100pct=2 negative=1 examples=moved,small" in caplog.text
    assert "--nonnegative" in caplog.text and "wls_var and mint_shrink" in caplog.text
    caplog.clear()
    log_large_adjustments(base, reconciled.assign(forecast=reconciled["forecast"].abs()), "mint_shrink")
    assert "negative=0" in caplog.text and "--nonnegative" not in caplog.text
    assert "wls_var and mint_shrink" not in caplog.text
    caplog.clear()
    assert log_large_adjustments(base, base, "ols").empty and not caplog.text


def test_reconciliation_is_nonnegative_by_default_only_where_no_history_is_negative() -> None:
    from forecasting.jobs.reconcile import resolve_nonnegative

    structure = SummingStructure.from_edges(
        pd.DataFrame({"parent": ["total", "total"], "child": ["a", "b"], "level": ["total", "total"]})
    )
    months = pd.period_range("2024-01", periods=3, freq="M")
    values = {"a": [1.0, 0.0, 2.0], "b": [5.0, 6.0, 7.0], "total": [6.0, 6.0, 9.0]}
    records = pd.DataFrame(
        [(sid, m, v) for sid, vs in values.items() for m, v in zip(months, vs, strict=True)],
        columns=["series_id", "month", "value"],
    )
    counts = SeriesPanel(records, structure=structure)
    assert resolve_nonnegative(None, counts, structure) is True
    signed = SeriesPanel(records.assign(value=records["value"].where(records["series_id"] != "a", -1.0)))
    assert resolve_nonnegative(None, signed, structure) is False
    assert resolve_nonnegative(False, counts, structure) is False  # an explicit choice wins
    assert resolve_nonnegative(True, signed, structure) is True


def test_parents_left_at_their_base_forecasts_are_one_line_and_one_artifact(tmp_path, caplog) -> None:
    """The full BTS retrain logged 121 lines, one per parent not the sum of its children."""
    import mlflow

    from forecasting.data.loaders import load
    from forecasting.jobs.reconcile import NOT_RECONCILED_FILE, required_structure

    _write_input(tmp_path / "input.csv")
    panel_path = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel_path)]) == 0
    records = pd.read_csv(panel_path, dtype={"month": str})
    parents = sorted(set(pd.read_csv(tmp_path / "panel.hierarchy.csv")["parent"]))[:2]
    records.loc[records["series_id"].isin(parents) & (records["month"] == "2022-03"), "value"] += 5.0
    records.to_csv(panel_path, index=False)
    panel = SeriesPanel.from_load(load(panel_path))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    caplog.set_level(logging.WARNING, logger="forecasting.jobs")
    with mlflow.start_run() as run:
        structure = required_structure(panel, key="--reconcile")
    assert not set(parents) & set(structure.aggregates)
    lines = [r.getMessage() for r in caplog.records if "event=not_reconciled" in r.getMessage()]
    assert len(lines) == 1 and "parents=2 " in lines[0] and f"all_in={NOT_RECONCILED_FILE}" in lines[0]
    artifact = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/{NOT_RECONCILED_FILE}")
    listed = pd.read_csv(artifact, dtype={"first_month": str})
    assert sorted(listed["parent"]) == parents and listed["first_month"].tolist() == ["2022-03"] * 2


@pytest.mark.slow
@pytest.mark.parametrize(("folds", "own_backtests"), [(2, 0), (1, 1)])
def test_a_retrain_reconciles_on_its_own_backtest_of_the_serving_model(
    tmp_path, monkeypatch, folds: int, own_backtests: int
) -> None:
    """The reconciliation backtested the served model again (8 of a 39-minute BTS retrain): the job's
    backtest, with the two folds the guard and the calibration need, now stands in for it."""
    import forecasting.jobs.reconcile as reconcile_module

    calls = []
    original = reconcile_module.backtest

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(kwargs.get("folds"))
        return original(*args, **kwargs)

    monkeypatch.setattr(reconcile_module, "backtest", counted)
    _write_input(tmp_path / "input.csv")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(panel)]) == 0
    config = tmp_path / "job.toml"
    _write_job(config, tmp_path, panel, name="reuse", models=["seasonal_naive"], folds=folds, reconcile="")
    assert main(["retrain", "--config", str(config)]) == 0
    assert len(calls) == own_backtests
    table = pd.read_csv(tmp_path / "exports" / "forecasts_reuse_latest.csv", dtype={"month": str})
    assert set(table["reconciliation"]) <= {"mint_guarded", "none"} and table["forecast"].notna().all()
