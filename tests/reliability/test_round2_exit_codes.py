"""Bad input on the command line: one line on stderr naming what is wrong, exit 2, never a traceback.

Each case is the smallest reproduction of an input that used to end in a
traceback and exit 1 (issue 18, item 8) or in a misleading success (item 14).
They run in-process through :func:`forecasting.cli.main`.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import cli

from .jobkit import empty_store

pytestmark = pytest.mark.timeout(120)

Case = Callable[[Path, pytest.MonkeyPatch], list[str]]
DIRECTORY = r"(?i)is a directory|not a regular file|replace a directory"
"""An output path naming a folder (the wording may come from the OS or from a path check)."""


def long_csv(path: Path, n_months: int = 36, *, bad_month: str | None = None) -> Path:
    """One seeded series; ``bad_month`` replaces the sixth month (file line 7)."""
    months = pd.period_range("2019-01", periods=n_months, freq="M").astype(str).tolist()
    if bad_month is not None:
        months[5] = bad_month
    values = 100 + np.random.default_rng(0).normal(0, 5, n_months)
    pd.DataFrame({"series_id": "a", "month": months, "value": values}).to_csv(path, index=False)
    return path


def job_toml(root: Path, body: str = "", *, job: str = '[job]\nname = "tiny"\n') -> Path:
    """A job config with a store in ``root`` and the given extra TOML."""
    path = root / "job.toml"
    database = root / "mlruns" / "mlflow.db"
    if not database.exists():  # a copy of a migrated empty store: no schema migrations per case
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(empty_store(), database)
    store = f'[tracking]\nuri = "sqlite:///{database}"\n'
    text = job + f'models_dir = "{root / "models"}"\noutput_dir = "{root / "exports"}"\n'
    path.write_text(text + (store if "[tracking]" not in body else "") + body, encoding="utf-8")
    return path


def spec_toml(root: Path, **options: str) -> Path:
    path = root / "spec.toml"
    extra = "".join(f"{key} = {value}\n" for key, value in options.items())
    path.write_text(
        'name = "t"\nseries_prefix = "t"\ndate_column = "month"\nunit = "USD"\n'
        f'{extra}[values.value]\nflow = "trade_value"\nmeasure = "goods"\ndirection = "export"\n',
        encoding="utf-8",
    )
    return path


def backtest(path: Path, *options: str) -> list[str]:
    return ["backtest", "--input", str(path), "--horizon", "3", "--models", "naive", *options]


def no_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if dask.distributed were not installed: importing it fails."""
    monkeypatch.setitem(sys.modules, "distributed", None)


CASES: dict[str, tuple[Case, str]] = {
    # month typos outside pandas' timestamp range, in data and in options
    "data check month 3022-12": (
        lambda t, m: ["data", "check", str(long_csv(t / "d.csv", bad_month="3022-12"))],
        "row 7, column 'month': month '3022-12' is outside",
    ),
    "backtest month 9999-12": (
        lambda t, m: backtest(long_csv(t / "d.csv", bad_month="9999-12")),
        "row 7, column 'month'",
    ),
    "config event start 3022-12": (
        lambda t, m: [
            "retrain",
            "--config",
            str(job_toml(t, '[[regressors.events]]\nname = "x"\nkind = "step"\nstart = "3022-12"\n')),
        ],
        "regressors.events[0].start",
    ),
    # backtest options
    "backtest --folds 0": (lambda t, m: backtest(long_csv(t / "d.csv"), "--folds", "0"), "'--folds'"),
    "backtest --horizon 0": (
        lambda t, m: ["backtest", "--input", str(long_csv(t / "d.csv")), "--horizon", "0"],
        "'--horizon'",
    ),
    "backtest --horizon -3": (
        lambda t, m: ["backtest", "--input", str(long_csv(t / "d.csv")), "--horizon", "-3"],
        "'--horizon'",
    ),
    "backtest --models bogus": (
        lambda t, m: [*backtest(long_csv(t / "d.csv"))[:-1], "bogus"],
        "'--models': unknown model 'bogus'",
    ),
    "backtest --models ,": (lambda t, m: [*backtest(long_csv(t / "d.csv"))[:-1], ","], "'--models'"),
    "backtest --n-jobs 0": (lambda t, m: backtest(long_csv(t / "d.csv"), "--n-jobs", "0"), "'--n-jobs'"),
    # too little data (item 14): not an empty leaderboard with exit 0
    "backtest too little data": (
        lambda t, m: backtest(long_csv(t / "d.csv", n_months=4)),
        "too little data to backtest: 1 series over 4 months",
    ),
    "backtest horizon as long as the data": (
        lambda t, m: ["backtest", "--input", str(long_csv(t / "d.csv", n_months=12)), "--horizon", "12"],
        "horizon 12 with 3 fold(s) 4 month(s) apart needs at least 22 months",
    ),
    # run ids
    "promote --run garbage": (
        lambda t, m: ["promote", "--run", "garbage", "--config", str(job_toml(t))],
        "'--run': no run 'garbage'",
    ),
    "compare --runs with a quote": (
        lambda t, m: ["compare", "--config", str(job_toml(t)), "--runs", "abc' or '1'='1"],
        "'--runs': not a run id",
    ),
    "promote --run with a quote": (
        lambda t, m: ["promote", "--config", str(job_toml(t)), "--run", "x' or name != '"],
        "'--run': not a run id",
    ),
    # paths that are directories
    "forecast --output a directory": (
        lambda t, m: [
            "forecast",
            "--input",
            str(long_csv(t / "d.csv")),
            "--horizon",
            "2",
            "--model",
            "naive",
            "--output",
            str(t),
            "--experiment",
            "exit-codes",
        ],
        DIRECTORY,
    ),
    "series build --output a directory": (
        lambda t, m: ["series", "build", "--input", str(long_csv(t / "d.csv")), "--output", str(t)],
        DIRECTORY,
    ),
    "retrain --config a directory": (lambda t, m: ["retrain", "--config", str(t)], DIRECTORY),
    "compare --config a directory": (lambda t, m: ["compare", "--config", str(t)], DIRECTORY),
    # job config values
    "config n_jobs = 0": (
        lambda t, m: ["retrain", "--config", str(job_toml(t, job='[job]\nname = "t"\nn_jobs = 0\n'))],
        "'job.n_jobs': must not be 0",
    ),
    "config sliding window without a length": (
        lambda t, m: ["retrain", "--config", str(job_toml(t, '[backtest]\nwindow = "sliding"\n'))],
        "'backtest.window_length': is required",
    ),
    "config sliding window of one month": (
        lambda t, m: [
            "retrain",
            "--config",
            str(job_toml(t, '[backtest]\nwindow = "sliding"\nwindow_length = 1\n')),
        ],
        "'backtest.window_length': must be at least 2 months",
    ),
    "config unknown tracking scheme": (
        lambda t, m: ["retrain", "--config", str(job_toml(t, '[tracking]\nuri = "bogus://x/y"\n'))],
        "'tracking.uri': unknown tracking URI scheme 'bogus'",
    ),
    "env unknown tracking scheme": (
        lambda t, m: (
            m.setenv("MLFLOW_TRACKING_URI", "ftp://example.org/store"),
            ["rollback", "--config", str(job_toml(t, "[tracking]\n"))],
        )[1],
        "'MLFLOW_TRACKING_URI': unknown tracking URI scheme 'ftp'",
    ),
    "config 300-character job name": (
        lambda t, m: ["retrain", "--config", str(job_toml(t, job=f'[job]\nname = "{"a" * 300}"\n'))],
        "'job.name': must be 1 to 64",
    ),
    "config job name with a trailing newline": (
        lambda t, m: ["retrain", "--config", str(job_toml(t, job='[job]\nname = "tiny\\n"\n'))],
        "'job.name'",
    ),
    # source specs the CSV reader would choke on
    "spec bad encoding": (
        lambda t, m: [
            "data",
            "check",
            str(long_csv(t / "d.csv")),
            "--format",
            str(spec_toml(t, encoding='"utf-99"')),
        ],
        "'encoding': unknown text encoding 'utf-99'",
    ),
    "spec two-character quote": (
        lambda t, m: [
            "data",
            "check",
            str(long_csv(t / "d.csv")),
            "--format",
            str(spec_toml(t, quotechar="\"''\"")),
        ],
        "'quotechar': must be one character",
    ),
    "spec thousands separator of two characters": (
        lambda t, m: [
            "data",
            "check",
            str(long_csv(t / "d.csv")),
            "--format",
            str(spec_toml(t, thousands='" ,"')),
        ],
        "'thousands': must be one character",
    ),
    "spec thousands separator equal to the decimal mark": (
        lambda t, m: [
            "data",
            "check",
            str(long_csv(t / "d.csv")),
            "--format",
            str(spec_toml(t, thousands='"."')),
        ],
        "'thousands': must differ from decimal",
    ),
    # dask requested but not installed
    "backtest --executor dask without dask": (
        lambda t, m: (no_dask(m), backtest(long_csv(t / "d.csv"), "--executor", "dask"))[1],
        "pip install 'forecasting[dask]'",
    ),
    "config executor dask without dask": (
        lambda t, m: (
            no_dask(m),
            ["retrain", "--config", str(job_toml(t, job='[job]\nname = "t"\nexecutor = "dask"\n'))],
        )[1],
        "pip install 'forecasting[dask]'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    argv = build(tmp_path, monkeypatch)
    code = cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("forecasting: error: "), err
    assert re.search(expected, lines[0]) if expected is DIRECTORY else expected in lines[0], err
    assert len(lines[0]) < 400, err
