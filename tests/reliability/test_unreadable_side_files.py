"""Damaged side files: an input's is exit 2 naming it; the job's own history never blocks the job.

A hierarchy beside a panel is input data: an empty, binary or malformed one
is a one-line error naming it (it ended in a traceback). What the job keeps
for itself is history it can rebuild: an accuracy table with one bad cell is
kept under another name and rebuilt from the dated exports, and an old export
that cannot be read (or a stray ``forecasts_<job>_2021-13.csv``, a name the job
never writes) is left alone and reported; the run goes on. ``forecasting
accuracy``, which only reads the table, names the bad cell (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from forecasting.errors import DataError
from forecasting.jobs.monitoring import accuracy_columns, read_accuracy

from .jobkit import Job, error_line, ran_once, retrain, run_cli, write_panel

TO_STDOUT = ["--output", "-"]
pytestmark = pytest.mark.timeout(300)

HIERARCHIES: dict[str, bytes] = {
    "empty": b"",
    "random_bytes": np.random.default_rng(7).bytes(2048),
    "utf16": "parent,child,level\ntotal,s0/cargo/inbound,total\n".encode("utf-16"),
    "wrong_columns": b"from,to\ntotal,s0/cargo/inbound\n",
    "nul_bytes": b"parent,child,level\ntotal,s0\x00,total\n",
}


@pytest.mark.parametrize("content", list(HIERARCHIES))
@pytest.mark.parametrize("command", ["data", "forecast"])
def test_a_damaged_hierarchy_is_exit_2_naming_it(
    tmp_path: Path, command: str, content: str, capfd: pytest.CaptureFixture[str]
) -> None:
    panel = write_panel(tmp_path / "panel.csv")
    hierarchy = tmp_path / "panel.hierarchy.csv"
    hierarchy.write_bytes(HIERARCHIES[content])
    argv = {
        "data": ["data", "check", str(panel)],
        "forecast": ["forecast", "--input", str(panel), "--horizon", "2", "--model", "naive", *TO_STDOUT],
    }[command]
    capfd.readouterr()
    assert run_cli(argv, timeout=90) == 2
    assert f"file {hierarchy}" in error_line(capfd.readouterr().err)
    assert hierarchy.read_bytes() == HIERARCHIES[content]


def _table_line(cells: dict[str, str]) -> str:
    row = {c: "" for c in accuracy_columns()}
    row.update(
        origin="2022-06", month="2022-07", series_id="s0/cargo/inbound", step="1", model="naive",
        champion_version="1", run_id="r", actual="1.5", forecast="2.5", actual_revised="False",
        scored_run_id="r", scored_at="2022-08-01T00:00:00Z",
    )  # fmt: skip
    row.update(cells)
    return ",".join(row[c] for c in accuracy_columns())


BAD_CELLS = {
    "forecast": "abc",
    "step": "x",
    "origin": "2021-13",
    "month": "July",
    "actual_revised": "maybe",
    "upper_95": "1.0.0",
}


@pytest.mark.parametrize("column", list(BAD_CELLS))
def test_one_bad_cell_of_the_accuracy_table_is_named(tmp_path: Path, column: str) -> None:
    path = tmp_path / "accuracy_tiny.csv"
    good = _table_line({})
    path.write_text(
        ",".join(accuracy_columns()) + f"\n{good}\n{_table_line({column: BAD_CELLS[column]})}\n", "utf-8"
    )
    with pytest.raises(DataError) as caught:
        read_accuracy(path)
    assert (caught.value.file, caught.value.row, caught.value.column) == (str(path), 3, column)


@pytest.mark.parametrize(
    "content", [b"", b"origin,month\n\x00\x01\x02", np.random.default_rng(3).bytes(512)], ids=str
)
def test_an_accuracy_table_that_is_not_one_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "accuracy_tiny.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"file {path}"):
        read_accuracy(path)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job that ran once on 2020-01..2022-06; 2022-07 has arrived since (its 2022-06 export gets scored)."""
    return ran_once(tmp_path_factory.mktemp("history"))


def test_the_accuracy_command_names_the_bad_cell(job: Job, capfd: pytest.CaptureFixture[str]) -> None:
    path = job.exports / f"accuracy_{job.name}.csv"
    path.write_text(",".join(accuracy_columns()) + f"\n{_table_line({'step': 'x'})}\n", "utf-8")
    try:
        capfd.readouterr()
        assert run_cli(["accuracy", "--config", str(job.config)], timeout=90) == 2
        line = error_line(capfd.readouterr().err)
        assert f"file {path}, row 2, column 'step'" in line, line
    finally:
        path.unlink()


def test_the_retrain_rebuilds_its_history_around_damaged_files(
    job: Job, capfd: pytest.CaptureFixture[str]
) -> None:
    table = job.exports / f"accuracy_{job.name}.csv"
    damaged = ",".join(accuracy_columns()) + f"\n{_table_line({'forecast': 'abc'})}\n"
    table.write_text(damaged, encoding="utf-8")
    stray = job.exports / f"forecasts_{job.name}_2021-13.csv"  # no such month: not the job's
    stray.write_text("series_id,month\nx,2021-13\n", encoding="utf-8")
    garbage = job.exports / f"forecasts_{job.name}_2021-05.csv"  # an earlier export gone bad
    garbage.write_bytes(np.random.default_rng(5).bytes(1024))
    headless = job.exports / f"forecasts_{job.name}_2021-06.csv"
    headless.write_text("series_id,month,forecast\ns0/cargo/inbound,2021-07,abc\n", encoding="utf-8")
    kept_before = {p: p.read_bytes() for p in (stray, garbage, headless)}

    capfd.readouterr()
    assert retrain(job) == 0
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    for path in (garbage, headless, stray):
        assert f"event=export_skipped file={path}" in err, err
        assert path.read_bytes() == kept_before[path]
    [kept] = job.exports.glob(f"{table.name}.unreadable-*")
    assert kept.read_text(encoding="utf-8") == damaged and "event=accuracy_table_unreadable" in err
    rebuilt = read_accuracy(table)  # the 2022-06 export scored anew against 2022-07's actuals
    assert sorted(rebuilt["series_id"]) == ["s0/cargo/inbound", "s1/cargo/inbound"]
    assert set(rebuilt["origin"].astype(str)) == {"2022-06"} and set(rebuilt["step"]) == {1}
    assert np.isfinite(rebuilt["forecast"]).all()
    assert not [p for p in os.listdir(job.exports) if p.endswith((".tmp", ".staged"))]
