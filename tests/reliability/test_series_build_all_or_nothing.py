"""``series build`` replaces the panel, its hierarchy and its report together, or none of them.

It wrote the panel, then the report, then the hierarchy, each renamed into
place at once: a failure at the hierarchy (disk full, a folder at its name
beside the output's link target) left the new panel standing with the old or
no hierarchy, which every later reconciliation read as the truth. Now all
three are written in full beside their targets first and renamed together;
any failure leaves the three previous files byte for byte.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forecasting.files
from forecasting.cli import main

pytestmark = pytest.mark.timeout(120)


def _write_source(path: Path, crossings: tuple[str, ...], seed: int = 0) -> Path:
    """Passenger counts of ``crossings`` in one region: ``series build`` rolls them up to region and total."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2020-01", periods=30, freq="M").astype(str)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"{crossing}/passengers/inbound",
                "month": months,
                "value": rng.integers(100, 200, len(months)),
                "crossing": crossing,
                "region": "r",
                "flow": "passengers",
                "measure": "border_crossings",
                "direction": "inbound",
                "unit": "persons",
            }
        )
        for crossing in crossings
    ]
    pd.concat(frames).to_csv(path, index=False)
    return path


def _build(source: Path, output: Path) -> int:
    return main(["series", "build", "--input", str(source), "--output", str(output)])


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A first build of a panel, and a changed source to build again: ``(source, output, first files)``."""
    source = _write_source(tmp_path / "source.csv", ("a", "b"))
    output = tmp_path / "out" / "panel.csv"
    output.parent.mkdir()
    assert _build(source, output) == 0
    _write_source(source, ("a", "b", "c"), seed=1)  # a new crossing: the next build differs in every file
    return source, output, _files(output.parent)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("failing_write", [1, 2, 3], ids=["panel", "report", "hierarchy"])
def test_a_disk_full_in_any_file_leaves_all_three_as_they_were(
    built: tuple[Path, Path, dict[str, bytes]], failing_write: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, output, before = built
    assert sorted(before) == ["panel.csv", "panel.hierarchy.csv", "panel.report.txt"]
    synced = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(descriptor)
        if len(synced) == failing_write:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(forecasting.files.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        _build(source, output)
    assert _files(output.parent) == before  # no new file, no temporary left


def test_a_folder_at_the_hierarchy_beside_a_linked_output_stops_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_source(tmp_path / "source.csv", ("a", "b"))
    real = tmp_path / "real"
    real.mkdir()
    (real / "panel.hierarchy.csv").mkdir()  # where the hierarchy of the link's target goes
    link = tmp_path / "panel.csv"
    link.symlink_to(real / "panel.csv")
    assert _build(source, link) == 2
    err = capsys.readouterr().err
    assert f"file {real / 'panel.hierarchy.csv'}" in err and "directory" in err, err
    assert sorted(p.name for p in real.iterdir()) == ["panel.hierarchy.csv"]
    assert not (tmp_path / "panel.hierarchy.csv").exists()


def test_a_complete_build_replaces_the_three_together(built: tuple[Path, Path, dict[str, bytes]]) -> None:
    source, output, before = built
    assert _build(source, output) == 0
    after = _files(output.parent)
    assert sorted(after) == sorted(before) and all(after[name] != before[name] for name in before)
    panel = pd.read_csv(output, dtype=str)
    hierarchy = pd.read_csv(output.with_name("panel.hierarchy.csv"), dtype=str)
    assert set(hierarchy["parent"]) | set(hierarchy["child"]) <= set(panel["series_id"])
    assert "c/passengers/inbound" in set(hierarchy["child"])
