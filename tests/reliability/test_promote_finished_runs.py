"""Issue 27, item 16: ``promote --run`` refuses a retrain that did not finish.

A retrain that failed after logging and registering its model (here: the disk
filled while its exports were written) left a model that no gate approved;
``promote --run`` put it into service. Only a FINISHED retrain (or one whose
publish a later start completed) can be promoted; anything else is exit 2
naming ``--run``, and the champion stays.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .jobkit import champion, disk_full, make_job, retrain, run_cli, run_statuses

pytestmark = pytest.mark.timeout(180)


def test_a_failed_retrain_cannot_be_promoted(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    job = make_job(tmp_path)
    assert retrain(job, fault=("export", disk_full)) == 1
    (failed,) = [run for run, status in run_statuses(job).items() if status == "FAILED"]
    before = champion(job)
    capfd.readouterr()
    assert run_cli(["promote", "--run", failed, "--config", str(job.config)]) == 2
    err = capfd.readouterr().err
    assert f"key '--run': run {failed} is FAILED, not FINISHED" in err, err
    assert champion(job) == before and not (job.models / job.name).exists()
