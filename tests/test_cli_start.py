"""``forecasting --help`` starts without the heavy libraries (issue 29): the module set, not the time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mlflow", "sklearn", "statsforecast", "statsmodels", "matplotlib", "dask", "pandas")

HELP_EVERYWHERE = """
import argparse, json, sys
import forecasting
import forecasting.cli as cli

def helps(parser):
    parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                helps(sub)

helps(cli.build_parser())
print(json.dumps(sorted(name for name in HEAVY if name in sys.modules)))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_parser_and_every_help_import_no_heavy_library():
    done = _run(f"HEAVY = {HEAVY!r}\n" + HELP_EVERYWHERE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    "argv", [["--help"], ["forecast", "--help"], ["compare", "--help"], ["data", "check", "--help"]]
)
def test_help_under_importtime_loads_no_heavy_module(argv):
    """``python -X importtime -m forecasting.cli ... --help``: no heavy top-level package is imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "forecasting.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: forecasting" in done.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_import_forecasting_is_light():
    done = _run(
        "import json, sys\nimport forecasting\n"
        f"print(json.dumps(sorted(n for n in {HEAVY!r} if n in sys.modules)))\n"
        "print(forecasting.__version__)"
    )
    assert done.returncode == 0, done.stderr
    heavy, version = done.stdout.strip().splitlines()[-2:]
    assert json.loads(heavy) == []
    assert version


def test_defaults_in_help_are_the_modules_defaults():
    """The constants the parser shows are the ones the heavy modules use (moved, re-exported)."""
    from forecasting import cli, executors
    from forecasting.data import staleness
    from forecasting.reconciliation import frames

    assert cli.DEFAULT_MAX_STALE_MONTHS == staleness.DEFAULT_MAX_STALE_MONTHS
    assert cli.RESIDUAL_MONTHS == frames.RESIDUAL_MONTHS
    assert cli.DEFAULT_EXECUTOR == executors.DEFAULT_EXECUTOR
    args = cli.build_parser().parse_args(["forecast", "--input", "x.csv", "--horizon", "3", "--output", "-"])
    from forecasting.jobs.commands import aligned_staleness

    # forecast leaves it unset (so --align series can refuse it when given) and resolves it to the default
    assert args.max_stale_months is None
    assert aligned_staleness(args) == ("calendar", staleness.DEFAULT_MAX_STALE_MONTHS, False)
    checked = cli.build_parser().parse_args(["data", "check", "x.csv"])
    assert checked.max_stale_months == staleness.DEFAULT_MAX_STALE_MONTHS
