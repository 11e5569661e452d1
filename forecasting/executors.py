"""Where per-series work runs: in this process, on local cores, or on a Dask cluster.

Models stay simple: they never take an executor parameter. A
:class:`~forecasting.models.base.LocalForecaster` hands its per-series tasks
to :func:`run_chunked`, which uses the executor set by :func:`use_executor`
(or :func:`executor_scope`) for the current context, and otherwise a
:class:`LocalExecutor` when the model's ``n_jobs`` asks for more than one
process, else :class:`SerialExecutor`.

Work is sent in chunks of series (about four per worker) so per-task overhead
stays small, and each chunk carries only its own series' arrays, never the
whole panel. Results come back in task order whatever the executor, so
forecasts are identical to a serial run. Global models (GBM) and MLflow
logging stay on the driver: only ``run_chunked`` calls leave it. Models that
fit other models (``auto``) may run them side by side in threads
(:func:`run_concurrently`), all handing work to the same workers.

Example::

    with executor_scope("dask", address="tcp://scheduler:8786"):
        run_retrain(config)
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import os
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, Self

from joblib.externals.loky import get_reusable_executor

from forecasting import progress as command_progress
from forecasting.core.constants import DEFAULT_EXECUTOR as DEFAULT_EXECUTOR  # re-exported
from forecasting.core.threads import limit_threads
from forecasting.errors import ConfigError

logger = logging.getLogger(__name__)

ExecutorKind = Literal["serial", "local", "dask"]
EXECUTORS: tuple[str, ...] = ("serial", "local", "dask")
CHUNKS_PER_WORKER = 4
"""Enough chunks to balance uneven series costs, few enough that per-task overhead is negligible."""
MIN_PARALLEL_TASKS = 32
"""Fewer series than this run in the calling process even on the local executor: starting the worker
processes (each imports the package) costs more than fitting a few dozen series saves. Heavy tasks
(``run_chunked(..., heavy=True)``: a model fitted on a whole panel) go to the workers from two on."""

DASK_MISSING = "the dask executor needs dask.distributed: pip install 'forecasting[dask]'"

Progress = Callable[[int], None]
"""Called on the driver with the number of tasks in each chunk as it completes."""


class Executor(ABC):
    """Runs a function over chunks of tasks and returns the chunk results in order."""

    kind: str = "executor"

    @property
    @abstractmethod
    def n_workers(self) -> int:
        """How many chunks can run at once; sets the chunk count."""

    @abstractmethod
    def _run(
        self, function: Callable[..., Any], chunks: list[list[tuple]], heavy: bool
    ) -> Iterator[tuple[int, list]]:
        """Yield ``(chunk index, results)`` as chunks complete, in any order."""

    def map_chunks(
        self,
        function: Callable[..., Any],
        chunks: list[list[tuple]],
        progress: Progress | None = None,
        *,
        heavy: bool = False,
    ) -> list[list]:
        """``[[function(*task) for task in chunk] for chunk in chunks]``, reporting each finished chunk.

        ``heavy``: each task is worth a worker of its own, however few there are.
        """
        done: dict[int, list] = {}
        for index, results in self._run(function, chunks, heavy):
            done[index] = results
            if progress is not None:
                progress(len(chunks[index]))
        return [done[index] for index in range(len(chunks))]

    def in_process(self, chunks: list[list[tuple]], heavy: bool) -> bool:
        """Whether these chunks run in the calling process, where their tasks reach the command's progress."""
        return False

    @property
    def shares_files(self) -> bool:
        """Whether every worker runs on this machine, so reads the files this process writes (a cache)."""
        return True

    def ran_as(self, chunks: list[list[tuple]], heavy: bool) -> tuple[str, int]:
        """The kind and worker count that run these chunks, as progress reports name them."""
        return ("serial", 1) if self.in_process(chunks, heavy) else (self.kind, self.n_workers)

    def close(self) -> None:  # noqa: B027 - optional hook: only executors that start workers override it
        """Release workers this executor started (nothing for serial)."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook: only executors with worker processes override it
        """Stop the work in flight at once (an interrupt while several threads wait on it)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_workers={self.n_workers})"


class SerialExecutor(Executor):
    """Everything in the calling process: the reference the others must match."""

    kind = "serial"

    @property
    def n_workers(self) -> int:
        return 1

    def in_process(self, chunks: list[list[tuple]], heavy: bool) -> bool:
        return True

    def _run(
        self, function: Callable[..., Any], chunks: list[list[tuple]], heavy: bool
    ) -> Iterator[tuple[int, list]]:
        for index, chunk in enumerate(chunks):
            yield index, run_chunk(function, chunk)


class LocalExecutor(Executor):
    """Process-based on this machine's cores (joblib/loky); ``n_jobs=-1`` means all cores."""

    kind = "local"

    def __init__(self, n_jobs: int = -1) -> None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
            raise ValueError(f"The 'n_jobs' parameter must be a non-zero int. Got {n_jobs!r} instead.")
        self.n_jobs = n_jobs
        self._workers = worker_count(n_jobs)
        self._pool: Any = None  # the worker pool this executor last handed work to

    @property
    def n_workers(self) -> int:
        return self._workers

    def in_process(self, chunks: list[list[tuple]], heavy: bool) -> bool:
        """Too little work to be worth starting the worker processes."""
        few = not heavy and sum(map(len, chunks)) < MIN_PARALLEL_TASKS
        return self.n_workers == 1 or len(chunks) < 2 or few

    def _run(
        self, function: Callable[..., Any], chunks: list[list[tuple]], heavy: bool
    ) -> Iterator[tuple[int, list]]:
        if self.in_process(chunks, heavy):
            yield from SerialExecutor()._run(function, chunks, heavy)
            return
        _wait_for_warm_up()
        pool = self._pool = worker_pool(self.n_workers)
        futures = [pool.submit(_indexed_chunk, index, function, chunk) for index, chunk in enumerate(chunks)]
        yield from _as_completed(futures, pool)

    def interrupt(self) -> None:
        """Kill the pool this executor handed work to (asking ``worker_pool`` for one after an
        interrupt killed it would start new workers only to kill them)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, kill_workers=True)


class DaskExecutor(Executor):
    """A Dask distributed scheduler at ``address``, or a LocalCluster it starts (and closes).

    Workers must have this package installed (same version) since tasks are
    pickled functions of :mod:`forecasting`.
    """

    kind = "dask"

    def __init__(self, address: str | None = None, n_workers: int = 2, processes: bool = True) -> None:
        self.address = address
        self.local_workers = n_workers
        self.processes = processes
        self._client: Any = None
        self._cluster: Any = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client``, connected (or its LocalCluster started) on first use."""
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise ConfigError(DASK_MISSING, key="executor") from None
            if self.address is None:
                self._cluster = LocalCluster(
                    n_workers=self.local_workers,
                    threads_per_worker=1,
                    processes=self.processes,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address)
        return self._client

    @property
    def n_workers(self) -> int:
        return max(len(self.client.scheduler_info(n_workers=-1)["workers"]), 1)

    def _run(
        self, function: Callable[..., Any], chunks: list[list[tuple]], heavy: bool
    ) -> Iterator[tuple[int, list]]:
        from distributed import as_completed

        client = self.client
        # pure=False: identical chunks from two fits must both run, never share a cached key.
        futures = [
            client.submit(_indexed_chunk, index, function, chunk, pure=False)
            for index, chunk in enumerate(chunks)
        ]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.release()

    @property
    def shares_files(self) -> bool:
        """A LocalCluster's workers run here; a scheduler at ``address`` may have them anywhere."""
        return self.address is None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __repr__(self) -> str:
        where = self.address or f"LocalCluster(n_workers={self.local_workers}, processes={self.processes})"
        return f"DaskExecutor({where})"


_CURRENT: ContextVar[tuple[Executor, Progress | None] | None] = ContextVar(
    "forecasting_executor", default=None
)


def current_executor() -> Executor | None:
    """The executor set by :func:`use_executor` for this context, or None."""
    current = _CURRENT.get()
    return None if current is None else current[0]


def workers_share_files() -> bool:
    """Whether the executor in use (none: this process or its local workers) runs work on this machine."""
    executor = current_executor()
    return executor is None or executor.shares_files


@contextmanager
def use_executor(executor: Executor, progress: Progress | None = None) -> Iterator[Executor]:
    """Run every model's per-series work in ``executor`` inside the block (not closed on exit)."""
    if not isinstance(executor, Executor):
        raise TypeError(f"use_executor expects an Executor. Got {type(executor).__name__} instead.")
    token = _CURRENT.set((executor, progress))
    try:
        yield executor
    finally:
        _CURRENT.reset(token)


def make_executor(
    kind: str, *, address: str | None = None, n_jobs: int = -1, processes: bool = True
) -> Executor:
    """An executor by name: ``serial``, ``local`` (``n_jobs`` processes) or ``dask`` (``address``)."""
    if kind not in EXECUTORS:
        raise ValueError(f"The 'executor' parameter must be one of {list(EXECUTORS)}. Got {kind!r} instead.")
    if address is not None and kind != "dask":
        raise ValueError(
            f"A Dask scheduler address only applies to the dask executor. Got executor {kind!r}."
        )
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(n_jobs)
    if importlib.util.find_spec("distributed") is None:  # fail before any work, not at the first fit
        raise ConfigError(DASK_MISSING, key="executor")
    return DaskExecutor(address, processes=processes)


@contextmanager
def executor_scope(
    kind: str | None, *, address: str | None = None, n_jobs: int = -1, progress: Progress | None = None
) -> Iterator[Executor | None]:
    """Create, use and close the named executor for the block.

    An executor already in use (set by an outer scope, e.g. the command line
    overriding a job config) wins; ``kind=None`` changes nothing.
    """
    if kind is None or current_executor() is not None:
        yield current_executor()
        return
    with make_executor(kind, address=address, n_jobs=n_jobs) as executor, use_executor(executor, progress):
        yield executor


WORKER_IDLE_TIMEOUT = 300
"""Seconds an idle local worker process lives on for the next command in the same session (joblib's)."""


THREAD_LIMIT_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""The thread pools joblib's loky backend limits in its workers (OpenMP: scikit-learn's GBM trees)."""


def worker_pool(workers: int) -> Any:
    """The session's loky process pool of ``workers`` processes, started or resized on demand.

    A ``concurrent.futures`` executor, so ``auto``'s members can hand it work
    from several threads at once (:func:`run_concurrently`); ``joblib.Parallel``
    is not safe to call that way. Arrays are pickled, never memory-mapped
    read-only (statsmodels' Kalman filter rejects read-only buffers).
    """
    return get_reusable_executor(max_workers=workers, timeout=WORKER_IDLE_TIMEOUT, env=worker_env(workers))


def worker_env(workers: int) -> dict[str, str]:
    """As joblib's loky backend sets them: each worker's thread pools get its share of the cores (a
    value the user set wins), so ``workers`` processes of OpenMP trees never oversubscribe the machine."""
    threads = str(max((os.cpu_count() or 1) // workers, 1))
    env = {variable: os.environ.get(variable, threads) for variable in THREAD_LIMIT_VARIABLES}
    if "ENABLE_IPC" not in os.environ:  # TBB's schedulers coordinate across the processes
        env["ENABLE_IPC"] = "1"
    return env


def _as_completed(futures: list[Future], pool: Any) -> Iterator[tuple[int, list]]:
    """Each future's result as it completes. A failed chunk, or a caller that stops reading, cancels
    the chunks not yet started (a chunk in a worker finishes and is dropped, since another thread's
    work may share the workers); an interrupt (Ctrl-C) stops the workers at once."""
    try:
        for future in as_completed(futures):
            yield future.result()
    except (Exception, GeneratorExit):
        for future in futures:
            future.cancel()
        raise
    except BaseException:
        pool.shutdown(wait=False, kill_workers=True)
        raise


class WorkerWarmUp(threading.Thread):
    """Starts the local executor's worker processes and imports the models in them, in the background.

    A fresh worker imports the package, statsforecast and scikit-learn (about 4 s) when the first
    fit reaches it; started at the command's start, the workers do it while this process imports
    and loads the data and the tracking store. ``pids`` holds the workers that imported them.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(name="forecasting-warm-up", daemon=True)
        self.workers = workers
        self.pids: list[int] = []

    def run(self) -> None:
        pool = worker_pool(self.workers)
        self.pids = [future.result() for future in [pool.submit(_import_models) for _ in range(self.workers)]]


_WARM_UP: list[WorkerWarmUp] = []
_WARM_UP_LOCK = threading.Lock()


def warm_up_workers(n_jobs: int) -> WorkerWarmUp | None:
    """Start :class:`WorkerWarmUp` for a local executor of ``n_jobs`` (none for one process)."""
    workers = worker_count(n_jobs)
    if workers < 2:
        return None
    warm_up = WorkerWarmUp(workers)
    with _WARM_UP_LOCK:
        _WARM_UP.append(warm_up)
    warm_up.start()
    return warm_up


def _import_models() -> int:
    importlib.import_module("forecasting.models.registry")
    return os.getpid()


def _wait_for_warm_up() -> None:
    """Let a warm-up finish before the first real work resizes or reuses the same worker processes."""
    with _WARM_UP_LOCK:
        while _WARM_UP:
            _WARM_UP.pop().join()


def run_concurrently(calls: Sequence[Callable[[], Any]]) -> list:
    """``[call() for call in calls]``, the calls at once when the executor in use has workers to share.

    Each call runs in a thread of its own, in a copy of this context (the
    executor and the command's progress), and hands its per-series work to the
    same workers: ``auto``'s members backtest side by side, so the workers stay
    busy while one member's last chunks finish or the driver prepares the next.
    Results come back in call order and match a serial run's; the first call
    (in order) that failed has its error raised once every call has ended.
    Without an executor in use, or with one worker, the calls run one after another.
    """
    executor = current_executor()
    if executor is None or len(calls) < 2 or executor.n_workers < 2:
        return [call() for call in calls]
    # Neither ``warnings.catch_warnings`` (before Python 3.14) nor threadpoolctl's limits are
    # thread-safe: blocks in two threads (two GBMs holding OpenMP to their n_jobs) can restore each
    # other's setting and leave it in place. This block puts back the filters and limits of before,
    # once the threads have ended (OpenBLAS ignores a new limit while a thread that set one lives).
    with warnings.catch_warnings(), limit_threads(None):
        threads = ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="forecasting-member")
        try:
            futures = [threads.submit(contextvars.copy_context().run, call) for call in calls]
            wait(futures)
        except BaseException:  # an interrupt: stop the workers so the threads' waits end at once
            executor.interrupt()
            threads.shutdown(wait=False, cancel_futures=True)
            raise
        threads.shutdown()
    return [future.result() for future in futures]


def split_chunks(tasks: Sequence[tuple], n_chunks: int) -> list[list[tuple]]:
    """Contiguous, nearly equal chunks (sizes differ by at most one), in task order."""
    n_chunks = max(min(n_chunks, len(tasks)), 1)
    size, extra = divmod(len(tasks), n_chunks)
    bounds = [i * size + min(i, extra) for i in range(n_chunks + 1)]
    return [list(tasks[bounds[i] : bounds[i + 1]]) for i in range(n_chunks) if bounds[i] < bounds[i + 1]]


def run_chunked(
    function: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    n_jobs: int = 1,
    heavy: bool = False,
) -> list:
    """``[function(*task) for task in tasks]`` on the current executor, in chunks, results in order.

    ``function`` and each chunk's tasks are pickled for process and Dask
    executors, so pass a small callable (e.g. an unfitted clone's method) and
    only the arrays each task needs. ``heavy`` tasks (a whole-panel fit) use
    the workers however few they are; light ones (one series each) stay in
    this process below ``MIN_PARALLEL_TASKS``. Each finished chunk is counted
    here, in the calling process, into the command's progress
    (:mod:`forecasting.progress`): a worker process cannot reach its bar.
    """
    current = _CURRENT.get()
    executor, callback = current if current is not None else (_default_executor(n_jobs), None)
    if not tasks:
        return []
    chunks = split_chunks(tasks, executor.n_workers * CHUNKS_PER_WORKER)
    command_progress.note_executor(*executor.ran_as(chunks, heavy))

    def progress(n_done: int) -> None:
        command_progress.advance(n_done)
        if callback is not None:
            callback(n_done)

    done = executor.map_chunks(function, chunks, progress, heavy=heavy)
    return [result for chunk in done for result in chunk]


def run_nested(
    function: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    n_jobs: int = 1,
    units: int = 1,
    unit_costs: Sequence[float] | None = None,
    spread: bool = False,
) -> list:
    """``[function(*task) for task in tasks]`` for tasks that fit whole models themselves (a
    backtest's folds x models), results in order, each worth ``units`` of the command's progress.

    With an executor in use they run here, one after another, and the executor
    takes the per-series work of the models inside them: many small tasks
    spread best, and no task carries a whole panel. ``spread``: the models
    inside have no per-series work to hand out (one global regressor per
    fold), so the executor in use takes the tasks themselves. Without one,
    ``n_jobs`` local processes take them as heavy tasks and the models inside
    run in those processes (``n_jobs=1``: here). Here, each task is a progress
    step of ``units`` that its models' work moves; a task back from a worker
    counts ``units`` as it arrives. ``unit_costs``: each task's cost per unit
    for the ETA (its model's ``fit_cost``; None: one), the tasks' mean for a
    worker's, whose chunk is not known when it comes back.
    """
    costs = [1.0] * len(tasks) if unit_costs is None else list(unit_costs)
    executor = _nested_executor(n_jobs, spread)
    chunks = split_chunks(tasks, executor.n_workers * CHUNKS_PER_WORKER)
    if executor.in_process(chunks, heavy=True):
        outputs = []
        for task, cost in zip(tasks, costs, strict=True):
            with command_progress.step(units, cost):
                outputs.append(function(*task))
        return outputs
    command_progress.note_executor(*executor.ran_as(chunks, True))
    mean_cost = sum(costs) / len(costs) if costs else 1.0
    done = executor.map_chunks(
        function, chunks, lambda n_done: command_progress.complete(n_done * units, mean_cost), heavy=True
    )
    return [result for chunk in done for result in chunk]


def _nested_executor(n_jobs: int, spread: bool) -> Executor:
    """The executor that takes :func:`run_nested`'s tasks themselves (serial: they run here)."""
    current = _CURRENT.get()
    if current is None:
        return _default_executor(n_jobs)
    return current[0] if spread else SerialExecutor()


def worker_count(n_jobs: int) -> int:
    """Processes for joblib's ``n_jobs`` (-1: all cores, -2: all but one), at most one per core.

    More processes than cores only add memory and start-up time: ``--n-jobs 100000``
    started hundreds of workers. A larger request is capped, with a warning.
    """
    cores = os.cpu_count() or 1
    if n_jobs < 0:
        return max(cores + 1 + n_jobs, 1)
    if n_jobs > cores:
        logger.warning("event=n_jobs_capped requested=%d workers=%d reason=cores", n_jobs, cores)
        return cores
    return n_jobs


def _default_executor(n_jobs: int | None) -> Executor:
    n_jobs = n_jobs or 1
    return SerialExecutor() if n_jobs == 1 else LocalExecutor(n_jobs)


def run_chunk(function: Callable[..., Any], chunk: list[tuple]) -> list:
    """One chunk, inside a worker: the tasks one after another."""
    return [function(*task) for task in chunk]


def _indexed_chunk(index: int, function: Callable[..., Any], chunk: list[tuple]) -> tuple[int, list]:
    return index, run_chunk(function, chunk)
