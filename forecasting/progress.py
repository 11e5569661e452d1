"""One progress report per command: a bar in a terminal or notebook, log lines everywhere else.

A command (``forecasting forecast``, ``backtest``, ``retrain``) fits many
series with several models over several folds, and the rolling-origin
backtest (:mod:`forecasting.models.cv`), the executors and the jobs each do a
part of it. They all report into the one :class:`Progress` of the command,
held in a context variable, so a person sees one bar whatever runs inside
(``auto``'s own backtests included) instead of a bar per fold and model.

Unit of work: one series fitted by one model for one fold of a backtest, or
for the final fit; a command's total is series x models x folds (+ series).
A model that fits other models per series (``auto``: every member at each of
its own backtest folds) counts one unit a series too, about what a fold of
ARIMA costs on BTS: its members' fits share its units exactly
(:func:`announce`), and the total, planned up front, never grows, so the bar
does not go back when it begins.

- :func:`progress_scope` opens the command's report; a scope opened inside
  it (``run_retrain`` under the command line) reuses it, so no second bar.
- :func:`expect` adds work to the total where it becomes known;
  :func:`plan` sets the whole command's total up front, after which the
  ``expect`` calls of what it runs add nothing.
- :func:`step` is a block that completes its units when it ends. Per-series
  tasks finishing inside it (:func:`advance`, called by
  :func:`forecasting.executors.run_chunked` in the parent process as each
  chunk comes back, since worker processes cannot reach the bar) move the
  bar within the step, never past it. A step opened inside another (a
  combination's own backtest) gets half of what its parent has left: how
  much nested work is still to come is not known, so the bar keeps moving
  and the parent's count is exact when the parent ends.
- :func:`phase` logs how long a named phase took (load, log_dataset,
  backtest, champion, fit, reconcile, export) and which executor ran its work.

The ETA is not extrapolated from the units: a retrain's baselines fit a
series a hundred times faster than ARIMA or ``auto``, and at their pace the
ETA said 11 seconds with 14 minutes left. Each unit also carries a cost, its
model's :attr:`~forecasting.models.base.PanelForecaster.fit_cost` (time per
series relative to ARIMA's), given with the units to :func:`plan`,
:func:`expect` and :func:`step`; the ETA is the cost still to come at the
recent pace of cost done. The bar and the log lines still count units.

On a terminal or in a notebook the report is a ``tqdm.auto`` bar with an
ETA; elsewhere (cron, a log file) it is a ``event=progress`` log line every
:data:`LOG_INTERVAL` seconds or every :data:`LOG_FRACTION` of the work,
whichever comes first. Nothing here touches results, and without a scope
every function is a no-op.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

logger = logging.getLogger("forecasting.progress")

LOG_INTERVAL = 30.0
"""Seconds between two progress log lines at most (when not on a terminal)."""
LOG_FRACTION = 0.10
"""Share of the total work after which a progress log line is due in any case."""
HEARTBEAT = 1.0
"""Seconds between checks for a due log line or a bar refresh while nothing finishes."""
NESTED_SHARE = 0.5
"""Share of its parent's remaining units that a nested step may fill."""
PACE_WINDOW = 300.0
"""Seconds of recent work the log line's ETA extrapolates: a retrain's models differ in cost per
unit by a factor of ten or more, and the pace since the start would carry the last one's into the next."""


BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
"""tqdm's bar with the elapsed time and this module's ETA (the postfix) instead of tqdm's own."""


def clock() -> float:
    """Seconds on a monotonic clock; a module function so tests can replace it."""
    return time.monotonic()


@dataclass
class _Step:
    """A block of work: ``budget`` units of the bar, reached by ``size`` units of its own, each of the
    bar's units costing ``unit_cost`` (a nested step's units cost what its outermost step's do)."""

    size: float
    budget: float
    unit_cost: float = 1.0
    credited: float = 0.0
    exact: bool = False
    """Steps nested in this one announced their units (:func:`announce`): each gets its exact share."""
    nested_cost: float = 0.0
    """What the announced nested units cost in all: a nested step's share is its units' cost over it."""

    @property
    def left(self) -> float:
        return self.budget - self.credited


@dataclass
class _Phase:
    """An open phase: its name, start time and the executors that ran work in it."""

    name: str
    start: float
    executors: dict[str, int] = field(default_factory=dict)


class Progress:
    """The report of one command: counts units, draws the bar or writes the log lines."""

    def __init__(
        self,
        task: str,
        *,
        interactive: bool,
        interval: float = LOG_INTERVAL,
        fraction: float = LOG_FRACTION,
        stream: TextIO | None = None,
    ) -> None:
        self.task = task
        self.total = 0
        self.done = 0.0
        self.cost_total = 0.0
        self.cost_done = 0.0
        self.fixed = False
        self.interactive = interactive
        self.interval = interval
        self.fraction = fraction
        self.executors: dict[str, int] = {}
        self.phases: list[_Phase] = []
        self._lock = threading.RLock()
        self._start = clock()
        self._pace: deque[tuple[float, float]] = deque()  # (time, cost_done): the first step or the window
        self._last_time = self._start
        self._last_done: float | None = None
        self._bar: Any = None
        if interactive:
            self._bar = tqdm(
                total=0, desc=task, unit="fit", file=stream, dynamic_ncols=True, bar_format=BAR_FORMAT
            )

    # --- counting ------------------------------------------------------------------------
    def begin_work(self) -> None:
        """The first step opens: the ETA's rate counts from here, not from the load before it."""
        with self._lock:
            if not self._pace:
                self._pace.append((clock(), self.cost_done))

    def grow(self, units: int, cost: float | None = None) -> None:
        """Add ``units`` to the total (work that has become known), costing ``cost`` (None: one a unit)."""
        with self._lock:
            first = self.total == 0
            self.total += int(units)
            self.cost_total += float(units) if cost is None else cost
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()
            elif first and self.total:
                self._log_line()

    def credit(self, steps: tuple[_Step, ...], amount: float) -> None:
        """Count ``amount`` units done inside ``steps`` (outermost first), never past any of them."""
        with self._lock:
            amount = min([amount, *(s.left for s in steps)])
            if amount <= 0:
                return
            for s in steps:
                s.credited += amount
            before = self.shown_done
            self.done += amount
            self.cost_done += amount * steps[0].unit_cost
            self._record_pace()
            if self.shown_done > self.total:  # work nobody expected: the total follows, never over 100 %
                extra = self.shown_done - self.total
                self.grow(extra, extra * steps[0].unit_cost)
            if self._bar is not None:
                self._show_eta()
                if self.shown_done != before:
                    self._bar.update(self.shown_done - before)
            else:
                self._maybe_log()

    def skip(self, units: int, cost: float) -> None:
        """``units`` of the total turn out to need no work (series a fold cannot score): counted done
        at once, and their ``cost`` leaves the work to come, so the ETA's pace does not count them."""
        with self._lock:
            self.cost_total -= cost
            self.credit((_Step(size=float(units), budget=float(units), unit_cost=0.0),), float(units))

    def _record_pace(self) -> None:
        """Keep (time, cost done) of the last :data:`PACE_WINDOW` seconds, and the one sample before them."""
        now = clock()
        self._pace.append((now, self.cost_done))
        while len(self._pace) > 1 and self._pace[1][0] <= now - PACE_WINDOW:
            self._pace.popleft()

    def _eta(self, now: float) -> float | None:
        """Seconds left: the cost to come at the pace of cost done in the last :data:`PACE_WINDOW`
        seconds of work (since the first step, when it opened less long ago); None before anything
        is done, 0 once every unit is."""
        if self.total and self.shown_done >= self.total:
            return 0.0
        if not self._pace:
            return None
        since, done_then = self._pace[0]
        if self.cost_done <= done_then or now <= since:
            return None
        return (now - since) * max(self.cost_total - self.cost_done, 0.0) / (self.cost_done - done_then)

    def _show_eta(self) -> None:
        """The bar's ETA is this one, not tqdm's (which extrapolates units, whatever they cost)."""
        eta = self._eta(clock())
        self._bar.set_postfix_str(f"eta {'?' if eta is None else duration(eta)}", refresh=False)

    @property
    def shown_done(self) -> int:
        """Units done as shown (whole units; float sums of shares land a hair under the whole)."""
        return int(self.done + 1e-6)

    # --- phases and executors --------------------------------------------------------------
    def open_phase(self, name: str) -> _Phase:
        with self._lock:
            opened = _Phase(name, clock())
            self.phases.append(opened)
            self._describe()
            return opened

    def close_phase(self, opened: _Phase, status: str) -> None:
        """Log the phase's duration and executors, then show the enclosing phase again."""
        with self._lock:
            self.phases.remove(opened)
            fields = {"task": self.task, "phase": opened.name, "seconds": f"{clock() - opened.start:.1f}"}
            if opened.executors:
                fields["executor"] = ",".join(opened.executors)
                fields["workers"] = ",".join(str(n) for n in opened.executors.values())
            if status != "ok":
                fields["status"] = status
            self._write(_line("phase", fields))
            self._describe()

    def _describe(self) -> None:
        """The bar's label: the command and its innermost open phase (``forecast fit``)."""
        if self._bar is not None:
            inner = self.phases[-1].name if self.phases else self.task
            self._bar.set_description(self.task if inner == self.task else f"{self.task} {inner}")

    def note_executor(self, kind: str, workers: int) -> None:
        """Record where work ran: logged once per command, and with each open phase's duration."""
        with self._lock:
            if kind not in self.executors:
                self._write(_line("executor", {"task": self.task, "kind": kind, "workers": workers}))
            self.executors[kind] = workers
            for opened in self.phases:
                opened.executors[kind] = workers

    # --- output ----------------------------------------------------------------------------
    def tick(self) -> None:
        """Called every :data:`HEARTBEAT` seconds: a due log line, or a fresh elapsed time on the bar."""
        with self._lock:
            if self._bar is not None:
                self._show_eta()
                self._bar.refresh()
            else:
                self._maybe_log()

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            elif self.total and self._last_done != self.done:
                self._log_line()

    def status(self) -> dict[str, Any]:
        """``done, total, percent, elapsed, eta`` as the log line shows them.

        ``elapsed`` counts from the command's start; ``eta`` extrapolates the
        pace of cost done in the last :data:`PACE_WINDOW` seconds of work (since
        the first step opened, so a long load does not inflate it).
        """
        with self._lock:
            now = clock()
            elapsed = now - self._start
            done, total = self.shown_done, self.total
            eta = self._eta(now)
            return {
                "done": done,
                "total": total,
                "percent": f"{100 * done / total:.0f}" if total else "0",
                "elapsed": duration(elapsed),
                "eta": "?" if eta is None else duration(eta),
            }

    def _maybe_log(self) -> None:
        if not self.total:
            return
        now = clock()
        step_due = self._last_done is None or self.done - self._last_done >= self.fraction * self.total
        if now - self._last_time >= self.interval or (step_due and self.done > 0):
            self._log_line()

    def _log_line(self) -> None:
        phase = {"phase": self.phases[-1].name} if self.phases else {}
        self._write(_line("progress", {"task": self.task, **phase, **self.status()}))
        self._last_time = clock()
        self._last_done = self.done

    def _write(self, text: str) -> None:
        logger.info(text)


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a log line, exact enough for a person."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _line(event: str, fields: dict[str, Any]) -> str:
    return " ".join([f"event={event}", *(f"{key}={value}" for key, value in fields.items())])


_CURRENT: ContextVar[Progress | None] = ContextVar("forecasting_progress", default=None)
_STEPS: ContextVar[tuple[_Step, ...]] = ContextVar("forecasting_progress_steps", default=())


def current() -> Progress | None:
    """The report of the command running in this context, or None."""
    return _CURRENT.get()


def interactive(stream: TextIO | None = None) -> bool:
    """True on a terminal or in a Jupyter kernel: there a bar is seen, elsewhere only log lines are."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) or _in_notebook()


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


@contextmanager
def progress_scope(task: str, *, stream: TextIO | None = None) -> Iterator[Progress]:
    """The command's report for the block; inside another scope, that one (no second bar)."""
    active = _CURRENT.get()
    if active is not None:
        yield active
        return
    shown = interactive(stream)
    report = Progress(task, interactive=shown, interval=LOG_INTERVAL, fraction=LOG_FRACTION, stream=stream)
    token, steps = _CURRENT.set(report), _STEPS.set(())
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(report, stop), name="forecasting-progress", daemon=True)
    with ExitStack() as stack:
        if shown and not _in_notebook():
            stack.enter_context(logging_redirect_tqdm())  # log lines above the bar, not through it
        beat.start()
        try:
            yield report
        finally:
            stop.set()
            beat.join()
            report.close()
            _STEPS.reset(steps)
            _CURRENT.reset(token)


def _heartbeat(report: Progress, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT):
        report.tick()


def expect(units: int, unit_cost: float = 1.0) -> None:
    """Add ``units`` of work, each costing ``unit_cost``, to the command's total, unless planned
    already or nested in a step."""
    report = _CURRENT.get()
    if report is not None and not report.fixed and not _STEPS.get():
        report.grow(units, units * unit_cost)


def plan(units: int, cost: float | None = None) -> None:
    """Set the command's total up front: ``units`` costing ``cost`` in all (None: one a unit) now,
    and the ``expect`` calls that follow add nothing."""
    report = _CURRENT.get()
    if report is not None and not report.fixed and not _STEPS.get():
        report.grow(units, cost)
        report.fixed = True


@contextmanager
def step(units: int, unit_cost: float = 1.0) -> Iterator[None]:
    """A block that completes ``units`` of work, each costing ``unit_cost``, when it ends without an error.

    Outside any step the block counts exactly ``units`` of the total (which
    :func:`expect` or :func:`plan` announced); inside one it may fill
    :data:`NESTED_SHARE` of what its parent has left, as its own ``units`` come in,
    or exactly its share of the parent when the parent announced its work (its
    units' cost over the announced cost). Nested, the bar's units cost what the
    outermost step's do.
    """
    report = _CURRENT.get()
    if report is None:
        yield
        return
    outer = _STEPS.get()
    budget = float(units) if not outer else _nested_budget(outer[-1], units, unit_cost)
    budget = budget if units > 0 else 0.0
    if units > 0:
        report.begin_work()
    own = _Step(size=float(units), budget=budget, unit_cost=unit_cost)
    token = _STEPS.set((*outer, own))
    try:
        yield
    finally:
        _STEPS.reset(token)
    report.credit((*outer, own), own.left)


def _nested_budget(parent: _Step, units: int, unit_cost: float) -> float:
    if parent.exact:
        return min(units * unit_cost * parent.budget / parent.nested_cost, parent.left)
    return parent.left * NESTED_SHARE


def announce(units: int, cost: float | None = None) -> None:
    """The innermost step turns out to hold ``units`` of nested work costing ``cost`` in all (None:
    one a unit; ``auto`` knows both once it has planned its members' backtests and fits): the
    steps nested in it then count their exact share of its units, their units' cost over ``cost``,
    so the bar neither stalls at 100 % nor jumps at the end, and fills as the time goes (an ETS
    fit's unit counts 65 times a seasonal naive one's). The command's total does not change: a
    retrain's percentage never goes back when ``auto``'s fold begins."""
    steps = _STEPS.get()
    if _CURRENT.get() is None or not steps or units <= 0:
        return
    inner = steps[-1]
    inner.size, inner.exact = float(units), True
    inner.nested_cost = float(units) if cost is None else float(cost)


def complete(units: int, unit_cost: float = 1.0) -> None:
    """``units`` of work, each costing ``unit_cost``, done elsewhere (a worker's tasks): a step at once."""
    with step(units, unit_cost):
        pass


def skip(units: int, unit_cost: float = 1.0) -> None:
    """``units`` of the planned work, each planned at ``unit_cost``, need no work (a fold with no
    series to score): done now, and left out of the ETA's cost to come."""
    report = _CURRENT.get()
    if report is None or units <= 0:
        return
    if _STEPS.get():  # inside a step: a share of its units, whose cost was planned as the step's
        complete(units, unit_cost)
        return
    report.skip(units, units * unit_cost)


def advance(units: int) -> None:
    """``units`` tasks of the innermost step finished (run_chunked's chunks, counted in the parent)."""
    report, steps = _CURRENT.get(), _STEPS.get()
    if report is None or not steps or steps[-1].size <= 0:
        return
    inner = steps[-1]
    report.credit(steps, units * inner.budget / inner.size)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """A named phase of the command; its duration (and executors) is logged when it ends."""
    report = _CURRENT.get()
    if report is None:
        yield
        return
    opened = report.open_phase(name)
    status = "failed"
    try:
        yield
        status = "ok"
    finally:
        report.close_phase(opened, status)


def note_executor(kind: str, workers: int) -> None:
    """The executor that runs the next tasks (``serial``, ``local``, ``dask``) and its workers."""
    report = _CURRENT.get()
    if report is not None:
        report.note_executor(kind, workers)
