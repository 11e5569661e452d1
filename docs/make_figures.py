"""Regenerate the README figures from the package: ``.venv/bin/python docs/make_figures.py``.

The fan chart is a real forecast of the bundled (simulated) sample: ARIMA fitted
to Heihe goods exports, 12 months ahead with 80% and 95% intervals, drawn by
:func:`forecasting.plots.plot_forecast`. Nothing here is hand-drawn, so the
image changes only when the sample, the model or the plot changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from forecasting.models.registry import make_model
from forecasting.plots import plot_forecast, value_label
from forecasting.sample import load_sample

IMAGE_DIR = Path(__file__).resolve().parent / "img"
SERIES_ID = "heihe-blagoveshchensk/trade_value/export"
HORIZON = 12


def fan_chart(path: Path) -> Path:
    """Fit ARIMA to one sample series and save its fan chart as a PNG."""
    panel = load_sample().subset([SERIES_ID])
    forecast = make_model("arima").fit(panel).predict(HORIZON)
    figure = plot_forecast(
        panel.series(SERIES_ID), forecast, unit=value_label(panel, SERIES_ID), history_months=60
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the PNG metadata, so regenerating an unchanged figure leaves the file unchanged.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=IMAGE_DIR, help="folder for the images (default docs/img)"
    )
    args = parser.parse_args()
    print(fan_chart(args.out / "fan_chart.png"))


if __name__ == "__main__":
    main()
