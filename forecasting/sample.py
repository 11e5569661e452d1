"""The bundled SIMULATED sample: China-Russia border flows, 2015-01..2025-06.

Real monthly series for these crossings are not openly published, so the
sample is simulated, seeded and regenerable with ``forecasting sample
generate``. Each series is ``trend x seasonality x calendar x events x noise``:

- trend: log-linear between annual levels (placed mid-year) chosen by hand to
  be plausible;
- seasonality: a 12-month multiplicative profile per series;
- calendar: Spring Festival break, the days before it, Russian New Year and
  May holidays (:mod:`forecasting.features.calendar`), as log effects per
  share of the month;
- events: :data:`SAMPLE_EVENTS` through
  :func:`forecasting.features.interventions.intervention_features` (COVID-19
  passenger closure 2020-02..2023-01, Heihe bridge opening, a Manzhouli
  outbreak, 2022 sanctions);
- lognormal noise.

The simulated shapes are then calibrated to every figure of
``docs/domain.md`` inside the range (:data:`PUBLISHED_FIGURES`) by
Denton-Cholette proportional benchmarking
(:func:`forecasting.features.mixed_frequency.denton_proportional`): the
benchmark/indicator ratio moves smoothly, so seasonality is kept and the
published totals hold exactly (up to rounding to whole units). Finally two
real-world defects are written into the file: Heihe trade January and February
2019 published as one combined February figure, and a month not reported
(Heihe road cargo imports, 2020-04). :func:`load_sample` reads the file
through the ordinary loader, splits the combined figure by Chinese working days
and leaves the gap missing, all in ``panel.report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.loaders import load_long
from forecasting.data.report import DataQualityReport
from forecasting.data.schema import RECORD_COLUMNS
from forecasting.data.transforms import split_combined
from forecasting.features.calendar import calendar_features
from forecasting.features.interventions import Event, intervention_features
from forecasting.features.mixed_frequency import GrowthStatement, denton_proportional, levels_from_growth
from forecasting.files import render_csv, write_csv_atomic
from forecasting.panel import SeriesPanel

SEED = 20250324
FIRST_MONTH, LAST_MONTH = "2015-01", "2025-06"
SOURCE = "simulated: forecasting.sample (not official statistics)"
SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "sample" / "border_panel.csv"

HEIHE = "heihe-blagoveshchensk"
ZM = "zabaykalsk-manzhouli"
HARBIN = "harbin-airport"

SAMPLE_EVENTS: tuple[Event, ...] = (
    Event("covid_passenger_closure", "pulse", "2020-02", "2023-01", series={"flow": "passengers"}),
    Event("heihe_bridge_opening", "step", "2022-06", series={"crossing": HEIHE, "flow": "cargo"}),
    Event("manzhouli_covid_outbreak", "pulse", "2021-11", "2022-01", series={"crossing": ZM}),
    Event("sanctions_2022", "step", "2022-03", series={"flow": "trade_value"}),
)
"""The interventions in the sample, usable as regressors (``make_exog(..., events=SAMPLE_EVENTS)``)."""

COMBINED_JAN_FEB: dict[str, tuple[int, ...]] = {
    f"{HEIHE}/trade_value/export": (2019,),
    f"{HEIHE}/trade_value/import": (2019,),
}
"""Series whose January and February are published as one figure on the February row."""

NOT_REPORTED: dict[str, tuple[str, ...]] = {f"{HEIHE}/cargo/road/import": ("2020-04",)}
"""Months absent from the file (not reported), kept missing by the loader."""

_TRADE_SEASON = (0.80, 0.75, 0.95, 1.00, 1.02, 1.00, 1.02, 1.05, 1.08, 1.10, 1.10, 1.13)
_ROAD_SEASON = (0.90, 0.80, 0.90, 0.60, 0.90, 1.15, 1.20, 1.20, 1.15, 1.10, 0.90, 1.10)
_RAIL_SEASON = (1.10, 0.95, 1.02, 0.98, 1.00, 0.96, 0.98, 1.00, 0.98, 1.00, 1.00, 1.03)
_AIR_SEASON = (0.90, 0.75, 0.90, 0.95, 0.95, 0.95, 0.95, 1.00, 1.05, 1.15, 1.25, 1.20)
_INBOUND_SEASON = (1.05, 0.80, 0.85, 0.75, 1.05, 1.15, 1.25, 1.25, 1.00, 0.95, 0.90, 1.00)
_OUTBOUND_SEASON = (0.80, 0.90, 0.85, 0.80, 1.10, 1.15, 1.20, 1.20, 1.05, 1.15, 0.90, 0.90)

_TRADE_CALENDAR = {
    "spring_festival_days": -1.0,
    "days_before_spring_festival": -0.2,
    "ru_new_year_holidays": -0.3,
}
_ROAD_CALENDAR = {
    "spring_festival_days": -1.2,
    "days_before_spring_festival": -0.3,
    "ru_new_year_holidays": -0.8,
    "ru_may_holidays": -0.3,
}
_RAIL_CALENDAR = {"spring_festival_days": -0.2, "ru_new_year_holidays": -0.1}
_AIR_CALENDAR = {
    "spring_festival_days": -1.0,
    "days_before_spring_festival": 0.3,
    "ru_new_year_holidays": -0.5,
}
_INBOUND_CALENDAR = {"ru_new_year_holidays": 1.5, "ru_may_holidays": 1.0, "spring_festival_days": -0.5}
_OUTBOUND_CALENDAR = {"spring_festival_days": 0.8}

_CLOSURE = {"covid_passenger_closure": np.log(0.01)}
_HEIHE_CARGO_EVENTS = {"heihe_bridge_opening": np.log(1.5)}
_ZM_EVENTS = {"manzhouli_covid_outbreak": np.log(0.7)}
_TRADE_EVENTS = {"sanctions_2022": np.log(1.08)}
_ROAD_COMPONENTS = {
    "seasonal": _ROAD_SEASON,
    "calendar_effects": _ROAD_CALENDAR,
    "event_effects": _HEIHE_CARGO_EVENTS,
    "noise": 0.07,
}


@dataclass(frozen=True)
class SimulatedSeries:
    """How one sample series is simulated: its dimensions and its components."""

    series_id: str
    crossing: str | None
    region: str
    flow: str
    measure: str
    direction: str
    unit: str
    currency: str | None
    annual_levels: Mapping[int, float]
    seasonal: tuple[float, ...]
    calendar_effects: Mapping[str, float]
    event_effects: Mapping[str, float] = field(default_factory=dict)
    noise: float = 0.05
    decimals: int = 0


def _levels(years: range, values: tuple[float, ...]) -> dict[int, float]:
    return dict(zip(years, values, strict=True))


_YEARS = range(2015, 2026)


def _trade(
    crossing: str | None, region: str, prefix: str, direction: str, levels: tuple[float, ...]
) -> SimulatedSeries:
    return SimulatedSeries(
        f"{prefix}/trade_value/{direction}", crossing, region, "trade_value", "goods_trade", direction,
        "CNY", "CNY", _levels(_YEARS, levels), _TRADE_SEASON, _TRADE_CALENDAR, _TRADE_EVENTS, 0.05,
    )  # fmt: skip


def _cargo(
    crossing: str, region: str, mode: str, direction: str, levels: tuple[float, ...], **components
) -> SimulatedSeries:
    return SimulatedSeries(
        f"{crossing}/cargo/{mode}/{direction}", crossing, region, "cargo", f"{mode}_cargo", direction,
        "tonnes", None, _levels(_YEARS, levels), decimals=1, **components,
    )  # fmt: skip


def _passengers(direction: str, levels: tuple[float, ...], season: tuple, calendar: dict) -> SimulatedSeries:
    return SimulatedSeries(
        f"{HEIHE}/passengers/{direction}", HEIHE, "heilongjiang", "passengers", "border_crossings", direction,
        "persons", None, _levels(_YEARS, levels), season, calendar, _CLOSURE, 0.06,
    )  # fmt: skip


SAMPLE_SERIES: tuple[SimulatedSeries, ...] = (
    _trade(HEIHE, "heilongjiang", HEIHE, "export",
           (2.8e9, 2.6e9, 3.2e9, 4.0e9, 4.6e9, 4.3e9, 5.6e9, 8.2e9, 11.3e9, 14.1e9, 14.6e9)),
    _trade(HEIHE, "heilongjiang", HEIHE, "import",
           (5.2e9, 4.9e9, 5.8e9, 7.5e9, 8.4e9, 7.7e9, 9.9e9, 13.3e9, 15.0e9, 17.2e9, 17.9e9)),
    _trade(None, "heilongjiang", "heilongjiang", "export",
           (14e9, 12e9, 15e9, 20e9, 23e9, 21e9, 26e9, 35e9, 48e9, 46e9, 44e9)),
    _trade(None, "heilongjiang", "heilongjiang", "import",
           (56e9, 48e9, 59e9, 102e9, 104e9, 86e9, 104e9, 151e9, 170e9, 166e9, 161e9)),
    _passengers("inbound", (460e3, 400e3, 420e3, 450e3, 480e3, 480e3, 300e3, 80e3, 170e3, 380e3, 410e3),
                _INBOUND_SEASON, _INBOUND_CALENDAR),
    _passengers("outbound", (440e3, 380e3, 400e3, 430e3, 460e3, 460e3, 300e3, 80e3, 160e3, 380e3, 410e3),
                _OUTBOUND_SEASON, _OUTBOUND_CALENDAR),
    _cargo(HEIHE, "heilongjiang", "road", "export",
           (180e3, 170e3, 190e3, 210e3, 230e3, 200e3, 220e3, 260e3, 330e3, 360e3, 370e3),
           **_ROAD_COMPONENTS),
    _cargo(HEIHE, "heilongjiang", "road", "import",
           (250e3, 240e3, 260e3, 280e3, 300e3, 280e3, 300e3, 340e3, 420e3, 450e3, 460e3),
           **_ROAD_COMPONENTS),
    _cargo(ZM, "inner-mongolia", "rail", "import",
           (8.5e6, 9.0e6, 10.0e6, 10.5e6, 11.0e6, 11.5e6, 12.0e6, 13.0e6, 16.0e6, 15.5e6, 15.5e6),
           seasonal=_RAIL_SEASON, calendar_effects=_RAIL_CALENDAR, event_effects=_ZM_EVENTS, noise=0.04),
    _cargo(ZM, "inner-mongolia", "rail", "export",
           (1.4e6, 1.5e6, 1.6e6, 1.7e6, 1.8e6, 1.8e6, 1.9e6, 2.0e6, 2.5e6, 2.5e6, 2.5e6),
           seasonal=_RAIL_SEASON, calendar_effects=_RAIL_CALENDAR, event_effects=_ZM_EVENTS, noise=0.04),
    _cargo(HARBIN, "heilongjiang", "air", "export",
           (1200, 1600, 3600, 4200, 4600, 3500, 3900, 2600, 3300, 3900, 4100),
           seasonal=_AIR_SEASON, calendar_effects=_AIR_CALENDAR, noise=0.10),
)  # fmt: skip


@dataclass(frozen=True)
class PublishedFigure:
    """A figure from ``docs/domain.md`` that the sample reproduces, as known levels and growth."""

    name: str
    series_ids: tuple[str, ...]
    known: Mapping[str, float]
    statements: tuple[GrowthStatement, ...]
    source: str

    def totals(self) -> pd.Series:
        """The level of every period the figure pins down (growth resolved to levels)."""
        return levels_from_growth(self.known, self.statements)


PUBLISHED_FIGURES: tuple[PublishedFigure, ...] = (
    PublishedFigure(
        "Heihe goods trade, imports + exports (CNY)",
        (f"{HEIHE}/trade_value/export", f"{HEIHE}/trade_value/import"),
        {"2024": 31.35e9},
        (GrowthStatement("2024", "2023", 19.1),),
        "Xinhua, 2025-03-24",
    ),
    PublishedFigure(
        # "nearly 2.5x": the sample uses 2.47x (growth of 147%).
        "Heihe-Blagoveshchensk passengers, both directions",
        (f"{HEIHE}/passengers/inbound", f"{HEIHE}/passengers/outbound"),
        {"2024": 760_000.0},
        (GrowthStatement("2024", "2023", 147.0),),
        "Xinhua, 2025-03-24",
    ),
    PublishedFigure(
        "Heilongjiang trade with Russia (CNY)",
        ("heilongjiang/trade_value/export", "heilongjiang/trade_value/import"),
        {"2018": 122e9},
        (GrowthStatement("2018", "2017", 64.7),),
        "China Daily, 2019",
    ),
    PublishedFigure(
        "Zabaykalsk-Manzhouli rail cargo (tonnes)",
        (f"{ZM}/cargo/rail/import", f"{ZM}/cargo/rail/export"),
        {"2023-01": 1.5e6, "2022": 15e6},
        (GrowthStatement("2023-01", "2022-01", 82.9),),
        "Al Mayadeen, 2023-02-05",
    ),
    PublishedFigure(
        "Harbin airport air cargo to Russia (tonnes)",
        (f"{HARBIN}/cargo/air/export",),
        {"2017H1": 1830.0},
        (GrowthStatement("2017H1", "2016H1", 130.0),),
        "2017-07 report",
    ),
)


def sample_months() -> pd.PeriodIndex:
    return pd.period_range(FIRST_MONTH, LAST_MONTH, freq="M")


def _trend(levels: Mapping[int, float], months: pd.PeriodIndex) -> np.ndarray:
    """Monthly level, log-linear between annual totals placed at mid-year, flat beyond."""
    years = np.array(sorted(levels), dtype="float64")
    log_monthly = np.log([levels[int(y)] / 12.0 for y in years])
    position = months.year + (months.month - 0.5) / 12.0
    return np.exp(np.interp(position, years + 0.5, log_monthly))


def _log_effects(
    effects: Mapping[str, float], features: pd.DataFrame, scale: np.ndarray | float
) -> np.ndarray:
    total = np.zeros(len(features))
    for column, effect in effects.items():
        total += effect * features[column].to_numpy(dtype="float64") / scale
    return total


def simulate_shapes(seed: int = SEED) -> pd.DataFrame:
    """Uncalibrated monthly values, month x series_id (before benchmarking and defects)."""
    rng = np.random.default_rng(seed)
    months = sample_months()
    calendar = calendar_features(months)
    metadata = _metadata()
    events = intervention_features(SAMPLE_EVENTS, months, list(metadata.index), metadata)
    days = calendar["days_in_month"].to_numpy()
    shapes = {}
    for spec in SAMPLE_SERIES:
        season = np.asarray(spec.seasonal) / np.mean(spec.seasonal)
        own_events = events[events["series_id"] == spec.series_id].reset_index(drop=True)
        log_value = (
            np.log(_trend(spec.annual_levels, months))
            + np.log(season[months.month - 1])
            + _log_effects(spec.calendar_effects, calendar, days)
            + _log_effects(spec.event_effects, own_events, 1.0)
            + rng.normal(0.0, spec.noise, len(months))
        )
        shapes[spec.series_id] = np.exp(log_value)
    return pd.DataFrame(shapes, index=months)


def calibrate(shapes: pd.DataFrame) -> pd.DataFrame:
    """Benchmark each group of series to its published figures (ratio shared by the group)."""
    calibrated = shapes.copy()
    for figure in PUBLISHED_FIGURES:
        group = list(figure.series_ids)
        indicator = calibrated[group].sum(axis=1)
        ratio = denton_proportional(indicator, figure.totals()) / indicator
        calibrated[group] = calibrated[group].mul(ratio, axis=0)
    return calibrated


def _round_preserving_totals(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round so every running total stays within half a unit of the exact one."""
    scale = 10.0**decimals
    running = np.round(np.cumsum(values) * scale)
    return np.diff(running, prepend=0.0) / scale


def _metadata() -> pd.DataFrame:
    rows = {
        spec.series_id: {
            "crossing": spec.crossing,
            "region": spec.region,
            "flow": spec.flow,
            "measure": spec.measure,
            "direction": spec.direction,
            "unit": spec.unit,
            "currency": spec.currency,
            "source": SOURCE,
        }
        for spec in SAMPLE_SERIES
    }
    metadata = pd.DataFrame.from_dict(rows, orient="index")
    metadata.index.name = "series_id"
    return metadata


def _with_defects(records: pd.DataFrame) -> pd.DataFrame:
    """Write the documented defects: combined Jan+Feb figures and months not reported."""
    records = records.copy()
    drop = np.zeros(len(records), dtype=bool)
    for series_id, years in COMBINED_JAN_FEB.items():
        for year in years:
            in_series = records["series_id"] == series_id
            january = in_series & (records["month"] == pd.Period(f"{year}-01", "M"))
            february = in_series & (records["month"] == pd.Period(f"{year}-02", "M"))
            records.loc[february, "value"] += records.loc[january, "value"].sum()
            drop |= january.to_numpy()
    for series_id, months in NOT_REPORTED.items():
        absent = records["month"].isin([pd.Period(m, "M") for m in months])
        drop |= ((records["series_id"] == series_id) & absent).to_numpy()
    return records.loc[~drop].reset_index(drop=True)


def generate_sample(seed: int = SEED) -> pd.DataFrame:
    """The sample as written to the CSV: canonical long records, defects included."""
    calibrated = calibrate(simulate_shapes(seed))
    metadata = _metadata()
    frames = []
    for spec in SAMPLE_SERIES:
        values = _round_preserving_totals(calibrated[spec.series_id].to_numpy(), spec.decimals)
        frame = pd.DataFrame({"series_id": spec.series_id, "month": calibrated.index, "value": values})
        for column, value in metadata.loc[spec.series_id].items():
            frame[column] = value
        frames.append(frame)
    records = pd.concat(frames, ignore_index=True)[list(RECORD_COLUMNS)]
    return _with_defects(records)


def sample_table(seed: int = SEED) -> pd.DataFrame:
    """The sample's cells as written (month as YYYY-MM, fixed decimals per unit)."""
    records = generate_sample(seed)
    decimals = {spec.series_id: spec.decimals for spec in SAMPLE_SERIES}
    table = records.astype({"month": "string"}).astype(object)
    pairs = zip(records["series_id"], records["value"], strict=True)
    table["value"] = [f"{value:.{decimals[series_id]}f}" for series_id, value in pairs]
    return table


def render_sample_csv(seed: int = SEED) -> str:
    """The exact CSV text of the sample, as :func:`write_sample` writes it."""
    return render_csv(sample_table(seed))


def write_sample(path: str | Path, seed: int = SEED) -> Path | None:
    """Write the sample CSV (``forecasting sample generate --output PATH``; ``-`` writes to stdout).

    No default: the bundled :data:`SAMPLE_PATH`, which :func:`load_sample` and the tests read,
    is rewritten only when named.
    """
    return write_csv_atomic(sample_table(seed), path)


def load_sample(path: str | Path = SAMPLE_PATH) -> SeriesPanel:
    """The sample panel, read through the ordinary long loader, defects repaired and reported."""

    result = load_long(path)
    records = _repair(result.records, result.report, file=str(path))
    return SeriesPanel(records, result.report)


def _repair(records: pd.DataFrame, report: DataQualityReport, *, file: str) -> pd.DataFrame:
    """Split the combined Jan+Feb figures of :data:`COMBINED_JAN_FEB` by Chinese working days.

    Only the listed series are passed to the split, so a series that simply
    starts in a February is never mistaken for a combined figure.
    """
    combined = records["series_id"].isin(list(COMBINED_JAN_FEB))
    split = split_combined(records.loc[combined], report, rule="working_days", country="CN", file=file)
    return pd.concat([records.loc[~combined], split], ignore_index=True)
