"""Executors: serial, local processes and Dask give the same forecasts; chunks and progress."""

from __future__ import annotations

import os
import threading
import time
import warnings
from functools import partial

import pandas as pd
import pytest
from conftest import seasonal_panel
from pandas.testing import assert_frame_equal
from sklearn.base import clone

from forecasting import progress
from forecasting.evaluation.backtest import backtest, fallbacks
from forecasting.executors import (
    DEFAULT_EXECUTOR,
    MIN_PARALLEL_TASKS,
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    current_executor,
    executor_scope,
    make_executor,
    run_chunked,
    run_concurrently,
    split_chunks,
    use_executor,
    warm_up_workers,
    workers_share_files,
)
from forecasting.models import auto_members
from forecasting.models.registry import make_model

MODELS = ("arima", "seasonal_naive", "drift")


def _square(i: int, x: float) -> tuple[int, float, int]:
    return i, x * x, os.getpid()


def _workload(panel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small retrain: 2-fold backtest of the candidates, then fit + predict of the first."""
    models = [make_model(name) for name in MODELS]
    results = backtest(models, panel, horizon=6, folds=2)
    forecasts = make_model(MODELS[0]).fit(panel).predict(6)
    return results, forecasts


@pytest.mark.slow
def test_auto_gives_the_same_forecasts_on_the_default_executor_as_serial(panel, spread_small_panels) -> None:
    """The command line's default executor (local) against serial, for the default model; on the
    local executor the members backtest and fit side by side, each in a thread of its own."""
    auto = make_model("auto", horizon=6, candidates=("ets", "theta", "seasonal_naive", "seasonal_profile"))
    threads: dict[str, set[str]] = {"serial": set(), "local": set()}
    run_one = auto_members._backtest_and_fit_one

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        threads[kind].add(threading.current_thread().name)
        return run_one(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auto_members, "_backtest_and_fit_one", recording)
        kind = "serial"
        with use_executor(SerialExecutor()):
            serial = clone(auto).fit(panel).predict(6)
        kind = "local"
        with executor_scope(DEFAULT_EXECUTOR):
            assert isinstance(current_executor(), LocalExecutor)
            local = clone(auto).fit(panel).predict(6)
    assert_frame_equal(local, serial, rtol=1e-9, atol=1e-9)
    assert threads["serial"] == {threading.current_thread().name}
    assert len(threads["local"]) == (4 if LocalExecutor(-1).n_workers > 1 else 1)  # one core: in turn


@pytest.fixture(scope="module")
def panel():
    # Series 3 has a gap and series 4 is too short for ARIMA: fallbacks must match across executors too.
    base = seasonal_panel(n_series=6, n_months=60, seed=3)
    records = base.records
    records = records[~((records["series_id"] == "s3") & records["month"].astype(str).isin(["2017-05"]))]
    records = records[~((records["series_id"] == "s4") & (records["month"] < pd.Period("2018-06", "M")))]
    return type(base)(records.reset_index(drop=True))


@pytest.fixture(scope="module")
def serial_run(panel):
    with use_executor(SerialExecutor()):
        return _workload(panel)


def _assert_same(run, reference) -> None:
    for got, expected in zip(run, reference, strict=True):
        assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), rtol=1e-9, atol=1e-9)
    assert_frame_equal(fallbacks(run[0]), fallbacks(reference[0]))


def test_split_chunks_keeps_order_and_balances_sizes() -> None:
    tasks = [(i,) for i in range(10)]
    chunks = split_chunks(tasks, 4)
    assert [len(chunk) for chunk in chunks] == [3, 3, 2, 2]
    assert [task for chunk in chunks for task in chunk] == tasks
    assert split_chunks(tasks[:2], 8) == [[(0,)], [(1,)]]


def test_run_chunked_reports_progress_once_per_chunk_and_keeps_order() -> None:
    tasks = [(i, float(i)) for i in range(13)]
    calls: list[int] = []
    with use_executor(SerialExecutor(), progress=calls.append):
        results = run_chunked(_square, tasks)
    assert calls == [4, 3, 3, 3]  # SerialExecutor: 1 worker x 4 chunks, sizes summing to 13
    assert [(i, x) for i, x, _ in results] == [(i, float(i * i)) for i in range(13)]


@pytest.mark.slow
def test_local_executor_uses_other_processes_and_reports_every_chunk() -> None:
    tasks = [(i, float(i)) for i in range(40)]
    calls: list[int] = []
    with use_executor(LocalExecutor(2), progress=calls.append):
        results = run_chunked(_square, tasks)
    assert sorted(calls, reverse=True) == [5] * 8  # 2 workers x 4 chunks
    assert [x for _, x, _ in results] == [float(i * i) for i in range(40)]
    assert os.getpid() not in {pid for _, _, pid in results}


def test_local_executor_keeps_a_few_series_in_this_process() -> None:
    """Below MIN_PARALLEL_TASKS series, starting worker processes would cost more than it saves."""
    tasks = [(i, float(i)) for i in range(MIN_PARALLEL_TASKS - 1)]
    with use_executor(LocalExecutor(2)):
        results = run_chunked(_square, tasks)
    assert {pid for _, _, pid in results} == {os.getpid()}


def test_local_executor_sends_a_few_heavy_tasks_to_its_workers() -> None:
    """Whole-panel fits (a GBM's final and calibration trees) are worth a worker each, however few."""
    tasks = [(i, float(i)) for i in range(4)]
    with use_executor(LocalExecutor(2)):
        results = run_chunked(_square, tasks, heavy=True)
    assert [x for _, x, _ in results] == [0.0, 1.0, 4.0, 9.0]
    assert os.getpid() not in {pid for _, _, pid in results}


@pytest.mark.slow
def test_backtest_folds_go_to_local_processes_without_an_executor_and_count_exactly(panel) -> None:
    """``backtest(n_jobs=2)`` sends its folds x models to a local executor's workers, as heavy tasks."""
    models = [make_model("seasonal_naive"), make_model("drift")]
    with use_executor(SerialExecutor()):
        serial = backtest(models, panel, horizon=6, folds=2)
    with progress.progress_scope("t") as report:
        parallel = backtest(models, panel, horizon=6, folds=2, n_jobs=2)
        assert report.executors == {"local": 2}
        assert report.done == report.total == len(panel) * 2 * 2
    assert_frame_equal(parallel, serial)


def test_backtest_counts_each_fold_in_this_process_as_a_step(panel) -> None:
    """In this process a fold's models move the bar within its step; it ends full, never beyond."""
    with progress.progress_scope("t") as report:
        backtest([make_model("naive"), make_model("ets")], panel, horizon=6, folds=2)
        assert report.executors == {"serial": 1}
        assert report.done == report.total == len(panel) * 2 * 2


@pytest.mark.slow
def test_a_global_model_s_folds_go_to_the_executor_in_use_with_serial_results(panel) -> None:
    """A GBM's fold is one regressor, nothing to hand out per series: the executor takes the folds.

    They ran one after another in the driver while both workers idled (about 5 s of the
    3-port smoke's 36 s fit).
    """
    gbm = make_model("gbm", calibration_windows=0, max_iter=20)
    with use_executor(SerialExecutor()):
        serial = backtest([gbm], panel, horizon=6, folds=2)
    with progress.progress_scope("t") as report, use_executor(LocalExecutor(2)):
        spread = backtest([gbm], panel, horizon=6, folds=2)
        assert report.executors == {"local": 2}
        assert report.done == report.total == len(panel) * 2
    assert_frame_equal(spread, serial)


@pytest.fixture
def spread_small_panels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the local executor use its workers for these six series (below MIN_PARALLEL_TASKS)."""
    monkeypatch.setattr("forecasting.executors.MIN_PARALLEL_TASKS", 0)


@pytest.mark.slow
def test_local_executor_gives_serial_forecasts(panel, serial_run, spread_small_panels) -> None:
    with use_executor(LocalExecutor(2)):
        run = _workload(panel)
    _assert_same(run, serial_run)
    assert len(serial_run[0]) > 0 and serial_run[1]["forecast"].notna().all()
    assert "s4" in set(fallbacks(serial_run[0])["series_id"])  # the short series fell back in some fold


@pytest.mark.slow
def test_n_jobs_shortcut_runs_local_processes_with_same_result(
    panel, serial_run, spread_small_panels
) -> None:
    fitted = make_model("arima", n_jobs=2).fit(panel)
    assert current_executor() is None
    assert_frame_equal(fitted.predict(6), serial_run[1])


@pytest.fixture(scope="module")
def dask_executor():
    # processes=True: real worker processes, as in production (pickling included).
    with DaskExecutor(n_workers=2, processes=True) as executor:
        yield executor


def test_dask_local_cluster_gives_serial_forecasts(panel, serial_run, dask_executor) -> None:
    calls: list[int] = []
    with use_executor(dask_executor, progress=calls.append):
        assert dask_executor.n_workers == 2
        run = _workload(panel)
    _assert_same(run, serial_run)
    # 3 models x 2 folds + the final model, each fit and predict reports every series once.
    assert sum(calls) == 2 * len(panel) * (len(MODELS) * 2 + 1)


def test_gbm_trains_its_regressors_on_workers_with_serial_results(panel, dask_executor) -> None:
    # The final and calibration regressors are independent tasks: one chunk each.
    def gbm_forecasts(executor, calls: list[int]) -> pd.DataFrame:
        with use_executor(executor, progress=calls.append):
            model = make_model("gbm", max_iter=40, calibration_windows=3).fit(panel)
            return model.predict(6)

    serial_calls: list[int] = []
    reference = gbm_forecasts(SerialExecutor(), serial_calls)
    assert serial_calls == [1, 1, 1, 1]  # the final fit and three calibration windows
    for executor in (LocalExecutor(2), dask_executor):
        assert_frame_equal(gbm_forecasts(executor, []), reference, rtol=1e-9, atol=1e-9)
    assert reference["forecast"].notna().all()
    assert (reference["upper_95"] >= reference["upper_80"]).all()


def test_retrain_on_dask_exports_the_serial_forecasts(tmp_path, dask_executor) -> None:
    from forecasting.jobs.config import load_config
    from forecasting.jobs.retrain import run_retrain

    exports, boards = {}, {}
    for name, executor in (("serial", SerialExecutor()), ("dask", dask_executor)):
        folder = tmp_path / name
        folder.mkdir()
        with use_executor(executor):
            result = run_retrain(load_config(_write_job(folder)))
        exports[name] = pd.read_csv(result.exports[1]).drop(columns=["run_id", "generated_at"])
        boards[name] = result.leaderboard
    assert len(exports["serial"]) == 4 * 6
    assert_frame_equal(exports["dask"], exports["serial"], rtol=1e-9, atol=1e-9)
    assert_frame_equal(boards["dask"], boards["serial"], rtol=1e-9, atol=1e-9)


def _write_job(folder) -> str:
    """A tiny retrain job (arima + baselines, 4 series) with its own SQLite store under ``folder``."""
    records = seasonal_panel(n_series=4, n_months=48, seed=5).to_long()
    records["month"] = records["month"].astype(str)
    records[["series_id", "month", "value", "flow"]].to_csv(folder / "panel.csv", index=False)
    text = f"""
[job]
name = "scale"
horizon = 6
output_dir = "{folder / "exports"}"
models_dir = "{folder / "models"}"

[tracking]
uri = "sqlite:///{folder / "mlflow.db"}"

[[sources]]
path = "{folder / "panel.csv"}"
format = "long"

[candidates]
models = ["arima", "seasonal_naive", "drift"]

[backtest]
folds = 2
"""
    (folder / "job.toml").write_text(text, encoding="utf-8")
    return str(folder / "job.toml")


@pytest.mark.slow
def test_executor_scope_starts_and_closes_a_local_cluster() -> None:
    with executor_scope("dask") as executor:
        assert isinstance(executor, DaskExecutor) and current_executor() is executor
        assert run_chunked(_square, [(1, 3.0), (2, 4.0)])[1][:2] == (2, 16.0)
        cluster = executor._cluster
    assert executor._client is None and cluster.status.name == "closed"
    assert current_executor() is None


def test_only_workers_on_this_machine_share_its_files() -> None:
    assert workers_share_files()  # no executor: this process, or local processes for n_jobs
    remote = DaskExecutor(address="tcp://scheduler:8786")  # never connected: the property asks nothing
    for executor, shared in (
        (SerialExecutor(), True),
        (LocalExecutor(2), True),
        (DaskExecutor(), True),
        (remote, False),
    ):
        assert executor.shares_files is shared
        with use_executor(executor):
            assert workers_share_files() is shared


def test_executor_scope_lets_the_outer_choice_win() -> None:
    outer = SerialExecutor()
    with use_executor(outer), executor_scope("local") as inner:
        assert inner is outer and current_executor() is outer
    assert current_executor() is None
    with executor_scope(None) as nothing:
        assert nothing is None


def test_make_executor_validates_its_arguments() -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("local", n_jobs=2).n_workers == 2
    assert make_executor("dask", address="tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"
    with pytest.raises(ValueError, match="'executor' parameter must be one of"):
        make_executor("spark")
    with pytest.raises(ValueError, match="only applies to the dask executor"):
        make_executor("local", address="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="'n_jobs' parameter must be a non-zero int"):
        LocalExecutor(0)
    with pytest.raises(TypeError, match="expects an Executor"), use_executor("dask"):  # type: ignore[arg-type]
        pass


def test_fitted_state_is_not_shipped_to_workers(panel) -> None:
    model = make_model("seasonal_naive").fit(panel)
    shipped = []

    class Recording(SerialExecutor):
        def map_chunks(self, function, chunks, progress=None, *, heavy=False):
            shipped.append(function.__self__)
            return super().map_chunks(function, chunks, progress, heavy=heavy)

    with use_executor(Recording()):
        model.fit(panel)
    assert not hasattr(shipped[0], "models_") and len(model.models_) == len(panel)


def test_job_config_executor_keys_are_validated_and_do_not_change_the_digest(tmp_path) -> None:
    from forecasting.errors import ConfigError
    from forecasting.jobs.config import load_config

    def config_with(job_lines: str):
        path = tmp_path / "job.toml"
        path.write_text(f'[job]\nname = "t"\n{job_lines}\n')
        return load_config(path)

    dask = config_with('executor = "dask"\ndask_address = "tcp://127.0.0.1:8786"')
    assert (dask.executor, dask.dask_address) == ("dask", "tcp://127.0.0.1:8786")
    assert config_with('executor = "local"').digest() == config_with("").digest()
    assert config_with("").n_jobs == -1  # the local executor's processes, as everywhere: all cores
    assert config_with("n_jobs = 1").digest() == config_with("").digest()
    with pytest.raises(ConfigError, match="job.executor"):
        config_with('executor = "gpu"')
    with pytest.raises(ConfigError, match="job.dask_address"):
        config_with('executor = "local"\ndask_address = "tcp://127.0.0.1:8786"')


@pytest.mark.slow
def test_cli_backtest_prints_the_same_leaderboard_on_every_executor(capsys) -> None:
    from conftest import PROJECT_ROOT

    from forecasting.cli import main

    sample = str(PROJECT_ROOT / "data" / "sample" / "border_panel.csv")
    outputs = {}
    for executor in ("serial", "local"):
        args = ["backtest", "--input", sample, "--horizon", "3", "--folds", "2", "--models", "naive,drift"]
        assert main([*args, "--executor", executor]) == 0
        outputs[executor] = capsys.readouterr().out
    assert outputs["serial"] == outputs["local"]
    assert main(["backtest", "--input", sample, "--horizon", "3", "--executor", "local",
                 "--dask-address", "tcp://127.0.0.1:1"]) == 2  # fmt: skip
    assert "--dask-address" in capsys.readouterr().err


def test_warm_up_imports_the_models_in_the_local_workers_and_none_for_one_process() -> None:
    """The command starts the workers at once so their imports overlap its own (about 4 s of the
    3-port smoke's fit went to the workers' first imports)."""
    assert warm_up_workers(1) is None
    warm_up = warm_up_workers(2)
    assert warm_up is not None
    warm_up.join(timeout=120)
    assert len(warm_up.pids) == 2 and os.getpid() not in warm_up.pids
    with use_executor(LocalExecutor(2)):  # the first real work waits for the warm-up, then runs
        results = run_chunked(_square, [(i, float(i)) for i in range(4)], heavy=True)
    assert [x for _, x, _ in results] == [0.0, 1.0, 4.0, 9.0]


def _meeting(barrier: threading.Barrier, value: int) -> tuple[int, str, object]:
    """Returns only once every other call has reached the barrier too: the calls ran at once."""
    barrier.wait()
    return value, threading.current_thread().name, current_executor()


def test_run_concurrently_runs_the_calls_side_by_side_in_this_context_and_in_order() -> None:
    executor = LocalExecutor(2)
    barrier = threading.Barrier(3, timeout=30)
    with use_executor(executor):
        results = run_concurrently([partial(_meeting, barrier, value) for value in range(3)])
    assert [value for value, _, _ in results] == [0, 1, 2]
    assert len({name for _, name, _ in results}) == 3 and threading.current_thread().name not in results[0][1]
    assert all(seen is executor for _, _, seen in results)  # the executor in use reaches every call


def test_run_concurrently_runs_one_call_after_another_with_one_worker() -> None:
    order: list[int] = []
    with use_executor(SerialExecutor()):
        results = run_concurrently([partial(order.append, value) for value in range(3)])
    assert results == [None, None, None] and order == [0, 1, 2]


def test_run_concurrently_raises_the_first_failure_in_call_order_once_every_call_ended() -> None:
    finished = threading.Event()

    def fails_late() -> None:
        time.sleep(0.2)
        raise ValueError("first in order")

    def fails_early() -> None:
        raise RuntimeError("second in order")

    def succeeds() -> None:
        time.sleep(0.5)
        finished.set()

    with use_executor(LocalExecutor(2)), pytest.raises(ValueError, match="first in order"):
        run_concurrently([fails_late, fails_early, succeeds])
    assert finished.is_set()


def test_run_concurrently_leaves_the_warning_filters_as_it_found_them() -> None:
    """Two threads' ``catch_warnings`` blocks, the first ending first, left the second's filter behind."""
    entered, first_left = threading.Event(), threading.Event()

    def silences_first() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            entered.set()
            time.sleep(0.2)
        first_left.set()

    def silences_second() -> None:
        entered.wait(10)
        with warnings.catch_warnings():  # saves the first thread's filter as the one to restore
            warnings.simplefilter("ignore", DeprecationWarning)
            first_left.wait(10)

    before = list(warnings.filters)
    with use_executor(LocalExecutor(2)):
        run_concurrently([silences_first, silences_second])
    assert warnings.filters == before


def _thread_limit() -> str | None:
    return os.environ.get("OMP_NUM_THREADS")


def test_local_workers_get_their_share_of_the_cores_for_openmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers each running GBM trees on every core would oversubscribe it (joblib limits them too)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with use_executor(LocalExecutor(2)):
        limits = run_chunked(_thread_limit, [()] * 4, heavy=True)
    assert set(limits) == {str(max((os.cpu_count() or 1) // 2, 1))}


def test_run_concurrently_leaves_the_thread_limits_as_it_found_them() -> None:
    """Two GBMs' ``limit_threads`` blocks in two threads could leave OpenMP held to one thread."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def leaks_a_limit() -> None:
        threadpool_limits(1)  # as two interleaved blocks, the second restoring the first's setting

    before = [(lib["user_api"], lib["num_threads"]) for lib in threadpool_info()]
    with use_executor(LocalExecutor(2)):
        run_concurrently([leaks_a_limit, leaks_a_limit])
    assert [(lib["user_api"], lib["num_threads"]) for lib in threadpool_info()] == before


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_caller_that_stops_reading_cancels_the_rest_and_leaves_the_workers_running() -> None:
    """Another thread's work may share the workers: only an interrupt may stop them."""
    executor = LocalExecutor(2)

    def worker_pids() -> set[int]:
        return {pid for _, [pid] in executor._run(_pid_after, [[(0.3,)], [(0.3,)]], heavy=True)}

    before = worker_pids()
    outputs = executor._run(_pid_after, [[(0.2,)] for _ in range(8)], heavy=True)
    next(outputs)
    outputs.close()
    after = worker_pids()
    assert after <= before and os.getpid() not in after  # the same processes, not new ones after a kill
