"""Issue 27, item 2: a symbolic link at a name the job writes is refused, never followed or replaced.

The retrain writes ``forecasts_<job>_<YYYY-MM>.csv``, ``forecasts_<job>_latest.csv``
and ``accuracy_<job>.csv`` in ``output_dir``. The package never puts a link
there, so a link at one of those names was put there by someone else: following
it would overwrite (or create) its target outside ``exports/``, replacing it
would delete what the package did not write. The job stops with exit 2 naming
the link, and the link and its target stay as they were.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.export import export_forecasts
from forecasting.files import write_csv_atomic
from forecasting.jobs.config import load_config
from forecasting.jobs.publish import recover

from .jobkit import Job, champion, export_files, make_job, own_flip, retrain, run_cli, write_panel

pytestmark = pytest.mark.timeout(240)

PRECIOUS = "precious: outside exports/, never written by the job\n"


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job that ran once on 2020-01..2022-06, then got one more month (its next export: 2022-07)."""
    job = make_job(tmp_path_factory.mktemp("links"))
    assert retrain(job) == 0
    write_panel(job.root / f"{job.name}.csv", n_months=31)  # 2022-07 arrives: the 2022-06 export is scored
    return job


def _link(job: Job, name: str, *, dangling: bool) -> tuple[Path, Path]:
    """A link at ``exports/<name>`` to a file outside exports (absent when ``dangling``)."""
    target = job.root / ("created_through_link.csv" if dangling else "outside.csv")
    target.unlink(missing_ok=True)
    if not dangling:
        target.write_text(PRECIOUS, encoding="utf-8")
    link = job.exports / name
    moved = None
    if link.exists() and not link.is_symlink():  # keep the job's own file to put back afterwards
        moved = link.with_name(f"saved-{name}")
        link.rename(moved)
    link.symlink_to(target)
    return link, target


def _restore(link: Path) -> None:
    link.unlink()
    saved = link.with_name(f"saved-{link.name}")
    if saved.exists():
        saved.rename(link)


NAMES = {
    "latest": "forecasts_tiny_latest.csv",
    "next_dated": "forecasts_tiny_2022-07.csv",
    "accuracy": "accuracy_tiny.csv",
    "earlier_dated": "forecasts_tiny_2022-06.csv",
}


@pytest.mark.parametrize("dangling", [False, True], ids=["existing_target", "dangling"])
@pytest.mark.parametrize("name", list(NAMES))
def test_a_link_at_a_job_owned_name_stops_the_retrain(
    job: Job, name: str, dangling: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    link, target = _link(job, NAMES[name], dangling=dangling)
    version = champion(job)
    before = {n: data for n, data in export_files(job).items() if n != link.name}
    capfd.readouterr()
    code = retrain(job)
    err = capfd.readouterr().err
    assert code == 2, err
    assert f"file {link}" in err and "symbolic link" in err, err
    assert "Traceback" not in err and len([line for line in err.splitlines() if "error:" in line]) == 1
    assert link.is_symlink() and os.readlink(link) == str(target), "the link itself was replaced"
    if dangling:
        assert not target.exists(), "the job created a file outside exports/ through a link"
    else:
        assert target.read_text(encoding="utf-8") == PRECIOUS, "the job wrote through a link"
    after = {n: data for n, data in export_files(job).items() if n != link.name}
    assert after == before and champion(job) == version
    _restore(link)


def test_accuracy_command_refuses_a_link_at_the_accuracy_table(
    job: Job, capfd: pytest.CaptureFixture[str]
) -> None:
    link, target = _link(job, NAMES["accuracy"], dangling=False)
    capfd.readouterr()
    assert run_cli(["accuracy", "--config", str(job.config)]) == 2
    assert f"file {link}" in capfd.readouterr().err
    assert target.read_text(encoding="utf-8") == PRECIOUS
    _restore(link)


def test_a_journaled_publish_never_renames_over_a_link(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    """A journal left by a killed run is not replayed while a link sits at one of its export names."""

    def moved(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the journal was replayed: {args}")

    monkeypatch.setattr("forecasting.deployment.set_champion", moved)
    monkeypatch.setattr("forecasting.deployment.link_champion", moved)
    flip = own_flip(job)
    staged = Path(flip["exports"][0][0])
    staged.write_text("staged\n", encoding="utf-8")
    link, target = _link(job, NAMES["latest"], dangling=False)
    journal = job.models / f"{job.name}.publish.json"
    journal.write_text(json.dumps(flip), encoding="utf-8")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        recover(load_config(job.config))
    assert link.is_symlink() and target.read_text(encoding="utf-8") == PRECIOUS and staged.exists()
    journal.unlink()
    staged.unlink()
    _restore(link)


@pytest.mark.parametrize("dangling", [False, True], ids=["existing_target", "dangling"])
def test_job_writers_never_follow_a_link(tmp_path: Path, dangling: bool) -> None:
    """The writer's own guard, and the export helper: a link is refused, a regular file replaced."""
    target = tmp_path / "outside.csv"
    if not dangling:
        target.write_text(PRECIOUS, encoding="utf-8")
    exports = tmp_path / "exports"
    exports.mkdir()
    link = exports / "forecasts_job_latest.csv"
    link.symlink_to(target)
    frame = pd.DataFrame({"series_id": ["s"], "forecast": [1.0]})
    with pytest.raises(ConfigError, match="symbolic link") as refused:
        write_csv_atomic(frame, link, follow_links=False)
    assert refused.value.file == str(link)
    with pytest.raises(ConfigError, match="symbolic link"):
        export_forecasts(frame, exports, "job", "2023-01")
    assert link.is_symlink() and target.exists() != dangling
    assert dangling or target.read_text(encoding="utf-8") == PRECIOUS
    assert sorted(p.name for p in exports.iterdir()) == [link.name], "nothing else written"
