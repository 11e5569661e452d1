"""The MLflow UI as an analyst opens it: a real retrain's experiment and run, in headless Chromium.

A small retrain on the bundled sample fills a temporary SQLite store; ``mlflow ui`` serves it on a
free 127.0.0.1 port; Chromium (Debian's ``chromium``: ``make test`` installs it where apt-get can)
loads the pages with ``--dump-dom`` once the UI's scripts have run (``--virtual-time-budget``), and
the test reads what a person would see. Without Chromium the test skips, saying so. With
``FORECASTING_UI_SCREENSHOTS=docs/img`` the run page's screenshot is kept there (the README's).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
import pytest  # noqa: E402
from test_mlflow_server import running_mlflow  # noqa: E402
from test_run_content import small_job  # noqa: E402

from forecasting import tracking  # noqa: E402
from forecasting.jobs.retrain import RetrainResult, run_retrain  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAGE_BUDGET_MS = 15_000
"""Virtual time Chromium gives the UI's scripts and requests before it reads the page."""
SCREENSHOT = "mlflow_retrain_run.png"
JOB = "sample-ui"
SAMPLE_SERIES = (
    "heihe-blagoveshchensk/trade_value/export",
    "heihe-blagoveshchensk/passengers/inbound",
    "zabaykalsk-manzhouli/cargo/rail/import",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no Chromium to open the MLflow UI with (none of "
        f"{', '.join(BROWSERS)} on PATH): `apt-get install chromium`, or `make test` as root with apt-get"
    )


def _retrain_on_the_sample(folder: Path) -> RetrainResult:
    """A real retrain on three series of the bundled sample, with two fast candidates."""
    return run_retrain(small_job(folder, name=JOB, horizon=6, series_ids=SAMPLE_SERIES))


def _page(chromium: str, url: str, screenshot: Path | None = None) -> str:
    """The page's text as rendered after its scripts ran: styles, scripts and tags dropped, entities
    decoded, runs of white space one space."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += ["--window-size=1400,1400", f"--virtual-time-budget={PAGE_BUDGET_MS}"]
    command += [f"--screenshot={screenshot}"] if screenshot is not None else []
    done = subprocess.run([*command, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.sub(r"<(style|script)\b.*?</\1>", "", done.stdout, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


def _plain(markdown: str) -> str:
    """A markdown line as the UI shows it: without its emphasis and code marks."""
    return " ".join(markdown.removeprefix("- ").replace("**", "").replace("`", "").split())


def test_the_experiment_and_a_retrain_run_show_the_metric_and_the_decision(tmp_path, chromium) -> None:
    result = _retrain_on_the_sample(tmp_path)
    run = mlflow.get_run(result.run_id)
    description = run.data.tags[tracking.NOTE_TAG]
    mase = run.data.metrics["candidate_mase"]
    with running_mlflow(["ui", "--backend-store-uri", mlflow.get_tracking_uri()], tmp_path) as url:
        experiment = _page(chromium, f"{url}/{tracking.ui_path(run.info.experiment_id)}")
        screenshot = tmp_path / SCREENSHOT
        page = _page(chromium, f"{url}/{tracking.ui_path(run.info.experiment_id, result.run_id)}", screenshot)
    # the experiment opens on its training runs, not on the GenAI overview of traces
    assert run.info.run_name in experiment
    assert "Detect Issues" not in experiment
    # the run page: its description (the decision), its headline metric
    shown = page[page.find("Description") :]
    assert _plain(description.splitlines()[0]) in page, shown[:3000]
    assert _plain(description.splitlines()[2]) in page  # the backtest MASE of candidate and champion
    assert "candidate_mase" in page and f"{mase:.4g}"[:5] in page, page[-3000:]
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
    kept = os.environ.get("FORECASTING_UI_SCREENSHOTS")
    if kept:
        shutil.copyfile(screenshot, Path(kept) / SCREENSHOT)
