"""One progress report per command: log lines off a terminal, one bar on it, phases with their durations."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from tqdm.auto import tqdm

from forecasting import progress
from forecasting.cli import main
from forecasting.evaluation.backtest import backtest
from forecasting.executors import SerialExecutor, run_chunked, use_executor
from forecasting.models import auto as auto_module
from forecasting.models import auto_members as auto_members_module
from forecasting.models.cv import MIN_TRAIN
from forecasting.models.registry import make_model
from forecasting.sample import SAMPLE_PATH

LINE = re.compile(r"event=progress .*done=(\d+) total=(\d+) percent=\d+ elapsed=\S+ eta=\S+")


class FakeClock:
    """A clock that moves only when told: log lines due by time come exactly when a test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress, "clock", fake)
    monkeypatch.setattr(progress, "HEARTBEAT", 3600.0)  # no background tick during a test
    return fake


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="forecasting.progress")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture, event: str = "progress") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"event={event} ")]


def _counts(caplog: pytest.LogCaptureFixture) -> list[tuple[int, int]]:
    return [(int(m[1]), int(m[2])) for line in _lines(caplog) if (m := LINE.search(line))]


def test_off_a_terminal_a_line_every_tenth_of_the_work(clock: FakeClock, logged) -> None:
    with progress.progress_scope("demo") as report:
        assert not report.interactive  # pytest captures stderr: not a terminal
        progress.plan(200)
        for _ in range(40):
            clock.now += 1.0
            progress.complete(5)
    counts = _counts(logged)
    assert counts[0] == (0, 200)  # the total, as soon as it is known
    assert counts[1:] == [(20 * k, 200) for k in range(1, 11)]  # every 10 %, never twice the same
    last = _lines(logged)[-1]
    assert "percent=100 elapsed=40s eta=0s" in last


def test_off_a_terminal_a_line_every_30_seconds_even_when_nothing_finishes(clock: FakeClock, logged) -> None:
    with progress.progress_scope("demo") as report:
        progress.plan(1000)
        clock.now += 29.0
        report.tick()  # what the heartbeat thread calls every second
        assert len(_lines(logged)) == 1  # only the first line, with the total
        clock.now += 2.0
        report.tick()
        progress.complete(1)  # 1 of 1,000 and 1 s later: no line due
        clock.now += 31.0
        progress.complete(1)
    lines = _lines(logged)
    assert "done=0 total=1000 percent=0 elapsed=31s eta=?" in lines[1]
    # the ETA's rate counts from the first step (2 in 31 s), not from the 31 s of loading before it
    assert "done=2 total=1000 percent=0 elapsed=1m02s eta=4h17m" in lines[2]


def test_the_eta_follows_the_pace_of_the_last_five_minutes(clock: FakeClock) -> None:
    """A retrain runs cheap baselines, then ARIMA at a tenth of their pace per unit: the ETA at the
    pace since the start said 7 minutes where 25 were left, and then 2 hours where 25 were left."""
    with progress.progress_scope("demo") as report:
        progress.plan(1000)
        for _ in range(100):  # 500 units in 100 s
            clock.now += 1.0
            progress.complete(5)
        for _ in range(60):  # then one every 10 s for 600 s
            clock.now += 10.0
            progress.complete(1)
        status = report.status()
    # 440 left at 0.1 a second, not at the 560 in 700 s of the whole run (550 s)
    assert status["eta"] == progress.duration(4400) == "1h13m"


def test_the_eta_weighs_each_unit_by_its_models_fit_cost(clock: FakeClock) -> None:
    """On the full BTS retrain the ETA said 11 s at 30 % with 14 minutes to go: the baselines' units
    came first, at a hundredth of ARIMA's cost each. Counted in cost, their pace foretells ARIMA's."""
    cheap, costly = make_model("seasonal_naive").fit_cost, make_model("arima").fit_cost
    assert costly >= 50 * cheap
    with progress.progress_scope("demo") as report:
        progress.plan(1000, 500 * cheap + 500 * costly)
        for _ in range(50):  # the 500 baseline fits in 5 s, at their pace in cost
            progress.complete(10, cheap)
            clock.now += 0.1
        status = report.status()
        assert status["percent"] == "50"
        # the cost to come (500 ARIMA fits) at the baselines' pace in cost, not the 5 s the units say
        assert status["eta"] == progress.duration(5.0 * 500 * costly / (500 * cheap)) == "8m20s"
        for _ in range(500):
            clock.now += 2.0
            progress.complete(1, costly)
        assert report.status()["eta"] == "0s"


def test_units_a_backtest_cannot_score_leave_the_etas_cost_to_come(clock: FakeClock, small_panel) -> None:
    """A fold without a series to score costs nothing: counted done, but its cost is not paced."""
    models = [make_model("seasonal_naive"), make_model("arima")]
    n = len(small_panel)
    months = small_panel.records.groupby("series_id", observed=True).size().min()
    with progress.progress_scope("demo") as report:
        step = months - 3 - (MIN_TRAIN - 1)  # the earliest fold's cutoff leaves every series too short
        backtest(models, small_panel, horizon=3, folds=2, step=step)
        assert report.done == report.total == n * 2 * 2
        assert report.cost_total == pytest.approx(n * (0.01 + 1.0))  # the fold that ran
        assert report.cost_done == pytest.approx(report.cost_total)


def test_a_combination_costs_what_its_members_do() -> None:
    assert make_model("ensemble", members=["ets", "theta"]).fit_cost == pytest.approx(0.65 + 0.3)
    auto = make_model("auto")
    members = sum(make_model(name).fit_cost for name in auto.candidates)
    assert auto.fit_cost == pytest.approx(auto_module.FIT_COST_SHARE * members)  # some fit fewer series


def _counted_bars(monkeypatch) -> list[tqdm]:
    """Every bar the progress module makes from now on, as if on a terminal."""
    bars: list[tqdm] = []

    class CountingBar(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(progress, "tqdm", CountingBar)
    monkeypatch.setattr(progress, "interactive", lambda stream=None: True)
    return bars


def test_nested_scopes_and_steps_share_the_one_bar(clock: FakeClock, monkeypatch) -> None:
    bars = _counted_bars(monkeypatch)
    with progress.progress_scope("outer") as outer, progress.progress_scope("inner") as inner:
        assert inner is outer
        progress.plan(10)
        with progress.step(10):
            for _ in range(3):
                with progress.step(4):  # nested: half of what the step has left, never past it
                    progress.advance(4)
            assert 0 < outer.done < 10
        assert outer.done == pytest.approx(10)
        progress.expect(99)  # the total was planned: nothing more is expected
    assert len(bars) == 1 and bars[0].total == 10 and bars[0].n == 10
    assert bars[0].postfix == "eta 0s"  # the bar shows this module's ETA, not tqdm's own
    assert "<" not in str(bars[0])  # tqdm's remaining time is not drawn


def test_a_step_that_announces_its_work_counts_nested_steps_exactly(clock: FakeClock) -> None:
    with progress.progress_scope("demo") as report:
        progress.plan(10)
        with progress.step(10):
            progress.announce(40)  # known only once the step runs: the total stays, the share is exact
            assert report.total == 10
            for _ in range(3):
                with progress.step(10):  # exactly its share (10 of 40), not half of what is left
                    pass
            assert report.done == pytest.approx(7.5)
        assert report.done == report.total == 10


def test_announced_work_is_shared_by_cost_so_the_bar_fills_as_the_time_goes(clock: FakeClock) -> None:
    """``auto``'s ETS fits cost 65 times its seasonal naive ones: a unit of each must not count alike
    (the forecast's ETA said 4x the time left on BTS when they did)."""
    with progress.progress_scope("demo") as report:
        progress.plan(10, 10.0)
        with progress.step(10):
            progress.announce(20, cost=10 * 0.65 + 10 * 0.01)
            with progress.step(10, 0.65):
                pass
            assert report.done == pytest.approx(10 * 6.5 / 6.6)
            progress.skip(4, 0.01)  # units a backtest fold skips: their share at their cost too
            assert report.done == pytest.approx(10 * (6.5 + 0.04) / 6.6)
            with progress.step(6, 0.01):
                pass
        assert report.done == pytest.approx(10) and report.cost_done == pytest.approx(10)


def test_auto_announces_its_backtests_and_fits_so_the_bar_tracks_them(clock: FakeClock, small_panel) -> None:
    """The bar must not reach 100 % while ``auto`` still fits (it did, 30 minutes early, on BTS)."""
    seen: list[tuple[float, float]] = []
    fit_one = auto_members_module._backtest_and_fit_one

    def recording(member, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        outcome = fit_one(member, *args, **kwargs)
        report = progress.current()
        seen.append((report.done, report.total))  # a member's backtest and final fit are done
        return outcome

    announce = progress.announce
    work = {}
    with pytest.MonkeyPatch.context() as patch, progress.progress_scope("demo") as report:
        patch.setattr(auto_members_module, "_backtest_and_fit_one", recording)
        patch.setattr(
            progress,
            "announce",
            lambda units, cost: (work.update(units=units, cost=cost), announce(units, cost)),
        )
        progress.plan(len(small_panel))
        with progress.step(len(small_panel)):
            model = make_model("auto", horizon=3).fit(small_panel)
    assert work["units"] > 3 * len(small_panel)  # every member's folds and fits
    assert 0.01 * work["units"] < work["cost"] < 0.65 * work["units"]  # each at its member's fit_cost
    assert {total for _, total in seen} == {len(small_panel)}  # one unit a series: the members share them
    done = [value for value, _ in seen]
    assert len(done) == len(model.members_) and done == sorted(done) and done[-2] < len(small_panel)
    assert done[-1] == pytest.approx(len(small_panel))  # the last member ends the step exactly
    assert report.done == pytest.approx(report.total)


def test_a_step_never_counts_more_than_its_units_and_a_failed_step_nothing(clock: FakeClock) -> None:
    with progress.progress_scope("demo") as report:
        progress.plan(20)
        with progress.step(10):
            progress.advance(25)  # a model's fit and predict both report every series
            assert report.done == 10
        with pytest.raises(RuntimeError), progress.step(10):
            progress.advance(3)
            raise RuntimeError("fit failed")
        assert report.done == 13
        progress.advance(5)  # outside any step: not counted
        assert report.done == 13


def test_run_chunked_counts_finished_chunks_into_the_step(clock: FakeClock) -> None:
    tasks = [(i,) for i in range(13)]
    calls: list[int] = []
    with progress.progress_scope("demo") as report, use_executor(SerialExecutor(), progress=calls.append):
        progress.plan(13)
        with progress.step(13):
            run_chunked(abs, tasks)
            assert report.done == 13 and calls == [4, 3, 3, 3]
        assert report.executors == {"serial": 1}


@pytest.mark.parametrize("n_jobs", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_backtest_counts_series_models_and_folds(clock: FakeClock, small_panel, n_jobs: int) -> None:
    """Joblib workers cannot reach the bar: the parent counts each fold x model as it comes back."""
    models = [make_model("naive"), make_model("seasonal_naive")]
    with progress.progress_scope("demo") as report:
        backtest(models, small_panel, horizon=3, folds=2, n_jobs=n_jobs)
    assert report.total == len(small_panel) * 2 * 2 and report.done == report.total


def test_without_a_scope_nothing_is_counted_or_logged(logged) -> None:
    assert progress.current() is None
    with progress.phase("fit"), progress.step(5):
        progress.expect(5)
        progress.advance(5)
    assert not logged.records


def test_cli_backtest_off_a_terminal_logs_progress_phases_and_executor(
    clock: FakeClock, logged, capsys
) -> None:
    args = ["backtest", "--input", str(SAMPLE_PATH), "--horizon", "3", "--folds", "2"]
    assert main([*args, "--models", "naive,seasonal_naive", "--executor", "serial"]) == 0
    assert "seasonal_naive" in capsys.readouterr().out
    counts = _counts(logged)
    n_series = 11  # the bundled sample
    assert counts[0] == (0, n_series * 2 * 2) and counts[-1] == (n_series * 2 * 2, n_series * 2 * 2)
    assert all(done <= total for done, total in counts)
    phases = _lines(logged, "phase")
    assert [re.search(r"phase=(\w+)", line)[1] for line in phases] == ["load", "backtest"]
    assert all(re.search(r"seconds=\d+\.\d", line) for line in phases)
    assert "executor=serial workers=1" in phases[1]
    assert _lines(logged, "executor") == ["event=executor task=backtest kind=serial workers=1"]


@pytest.mark.slow
def test_cli_forecast_reconciled_counts_exactly_what_it_planned(
    clock: FakeClock, logged, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    panel = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(SAMPLE_PATH), "--output", str(panel)]) == 0
    args = ["forecast", "--input", str(panel), "--horizon", "3", "--output", str(tmp_path / "f.csv")]
    assert main([*args, "--model", "seasonal_naive", "--reconcile", "mint_shrink"]) == 0
    counts = _counts(logged)
    total = counts[0][1]
    assert counts[-1] == (total, total) and {t for _, t in counts} == {total}  # planned once, exactly
    phases = [re.search(r"phase=(\w+)", line)[1] for line in _lines(logged, "phase")]
    assert phases == ["load", "fit", "reconcile", "export"]  # the run opens beside the fit


@pytest.mark.slow
def test_one_bar_for_a_command_whose_model_backtests_inside(clock: FakeClock, monkeypatch, capsys) -> None:
    """``auto`` backtests its members inside each fold: still one bar, ending full."""
    bars = _counted_bars(monkeypatch)
    args = ["backtest", "--input", str(SAMPLE_PATH), "--horizon", "3", "--folds", "2"]
    assert main([*args, "--models", "naive,auto", "--executor", "serial"]) == 0
    assert len(bars) == 1
    # each fold's auto moves its units with its members' backtests and fits, and adds none
    assert bars[0].total == 11 * 2 * 2 and bars[0].n == bars[0].total
    assert "backtest" in capsys.readouterr().err  # the bar's label, on stderr


@pytest.mark.slow
def test_a_retrain_with_auto_plans_its_work_up_front_and_never_sets_the_bar_back(
    clock: FakeClock, logged, tmp_path: Path
) -> None:
    """On the BTS panel the bar went from 66 % back to 33 % (and the ETA from 7 to 28 minutes) when
    ``auto``'s first fold announced its members' work and grew the total; now they share its units."""
    from test_retrain import write_job

    from forecasting.jobs.config import load_config
    from forecasting.jobs.retrain import run_retrain

    run_retrain(load_config(write_job(tmp_path, ["naive", "auto"])))
    counts = _counts(logged)
    total = counts[0][1]
    assert {t for _, t in counts} == {total} and counts[-1] == (total, total)
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)


def test_durations_read_like_a_person_writes_them() -> None:
    assert [progress.duration(s) for s in (0, 42.4, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]


@pytest.mark.slow
def test_retrain_counts_exactly_what_it_planned_with_the_champion_backtested(
    clock: FakeClock, logged, tmp_path: Path
) -> None:
    """The second run re-backtests the first run's champion, not among its candidates: planned too."""
    from test_retrain import write_job

    from forecasting.jobs.config import load_config
    from forecasting.jobs.retrain import run_retrain

    for models in (["naive"], ["seasonal_naive", "drift"]):
        logged.clear()
        run_retrain(load_config(write_job(tmp_path, models)))
        counts = _counts(logged)
        total = counts[0][1]
        assert counts[-1] == (total, total) and {t for _, t in counts} == {total}
        phases = [re.search(r"phase=(\w+)", line)[1] for line in _lines(logged, "phase")]
        assert phases[:2] == ["load", "log_dataset"] and phases[-2:] == ["fit", "export"]
    assert "champion" in phases
