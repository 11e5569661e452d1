"""Issue 27, item 3: every file a command reads is an input that no output may replace.

Besides ``--input`` a command reads the hierarchy written next to the panel
(``panel.hierarchy.csv``), a source spec (``--format spec.toml``, covered in
test_round2_data_safety.py) and, for the job, its config and each source with
its hierarchy. Writing a CSV over any of
them destroyed the input; each case is refused with exit 2 naming the path,
before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecasting.cli import main

from .jobkit import Job, make_job, retrain, run_cli, write_panel

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def panel(tmp_path: Path) -> Path:
    """A long panel with its hierarchy beside it, as ``series build`` writes them."""
    path = write_panel(tmp_path / "panel.csv")
    (tmp_path / "panel.hierarchy.csv").write_text("parent,child,level\n", encoding="utf-8")  # no roll-ups
    return path


def _spelled(tmp_path: Path, real: Path, spelling: str) -> Path:
    """Another name for ``real``: itself, through ``..``, a symbolic link or a hard link."""
    if spelling == "same":
        return real
    if spelling == "dotdot":
        (tmp_path / "sub").mkdir(exist_ok=True)
        return tmp_path / "sub" / ".." / real.name
    other = tmp_path / f"{spelling}-{real.name}"
    if spelling == "symlink":
        other.symlink_to(real)
    else:
        os.link(real, other)
    return other


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["forecast", "series"])
def test_output_over_the_input_hierarchy_is_refused(
    command: str,
    spelling: str,
    panel: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    hierarchy = tmp_path / "panel.hierarchy.csv"
    before = hierarchy.read_bytes()
    output = _spelled(tmp_path, hierarchy, spelling)
    argv = {
        "forecast": ["forecast", "--input", str(panel), "--horizon", "2", "--model", "naive"],
        "series": ["series", "build", "--input", str(panel)],
    }[command] + ["--output", str(output)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the same file as the input" in err and str(output) in err, err
    assert hierarchy.read_bytes() == before
    assert not (tmp_path / "mlruns").exists(), "refused before any work"


def test_series_build_never_writes_its_hierarchy_over_an_input(
    panel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--output out.csv`` also writes ``out.hierarchy.csv``: refused up front when that is an input."""
    output = tmp_path / "out.csv"
    os.link(panel, tmp_path / "out.hierarchy.csv")  # the output's hierarchy name is the input panel
    before = panel.read_bytes()
    assert main(["series", "build", "--input", str(panel), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "the same file as the input" in err and "out.hierarchy.csv" in err, err
    assert panel.read_bytes() == before
    assert not output.exists(), "the panel was written before the hierarchy was refused"


def _job_reading(root: Path, *, source: Path, config: Path | None = None) -> Job:
    """A tiny job whose source (and config, if given) live where its exports go."""
    job = make_job(root)
    text = job.config.read_text(encoding="utf-8").replace(str(root / "tiny.csv"), str(source))
    (config or job.config).write_text(text, encoding="utf-8")
    return job


def test_the_retrain_never_exports_over_its_own_source(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A source panel named like the export the run would write (2020-01..2022-06: the 2022-06 export)."""
    source = tmp_path / "exports" / "forecasts_tiny_2022-06.csv"
    source.parent.mkdir()
    job = _job_reading(tmp_path, source=write_panel(source))
    before = source.read_bytes()
    capfd.readouterr()
    assert retrain(job) == 2
    err = capfd.readouterr().err
    assert "the same file as the input" in err and f"file {source}" in err, err
    assert source.read_bytes() == before
    assert not job.latest.exists()


@pytest.mark.parametrize("name", ["forecasts_tiny_latest.csv", "accuracy_tiny.csv"])
def test_the_retrain_never_writes_over_its_config(
    tmp_path: Path, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "exports" / name
    config.parent.mkdir()
    _job_reading(tmp_path, source=tmp_path / "tiny.csv", config=config)
    before = config.read_bytes()
    capfd.readouterr()
    assert run_cli(["retrain", "--config", str(config)]) == 2
    err = capfd.readouterr().err
    assert "the same file as the input" in err and str(config) in err, err
    assert config.read_bytes() == before
