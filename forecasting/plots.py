"""Report-ready matplotlib figures: series, seasonality, forecasts, backtests, hierarchies, reconciliation.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot``: nothing is kept in pyplot's global figure registry, so a figure is
freed as soon as it is dropped (no ``plt.close`` bookkeeping in long jobs), it
works under any backend (Agg in jobs and tests) and goes straight to
``fig.savefig`` or ``mlflow.log_figure``. In Jupyter a returned figure shows as
the cell's output. Values carry their unit on the axis (from the panel's
``unit``/``currency`` metadata, or ``unit=``) and ticks use thousands separators.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence

import holidays
import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator, PercentFormatter
from statsmodels.tsa.seasonal import STL

from forecasting.core.constants import SEASON_LENGTH
from forecasting.errors import DataError
from forecasting.evaluation.metrics import metrics_by_horizon
from forecasting.evaluation.reconciled import RECONCILED_SEPARATOR
from forecasting.panel import SeriesPanel

MAX_LEGEND_ENTRIES = 12
"""Above this many lines a legend hides the data; seasonal plots switch to a colour bar."""

_REFERENCE_LINES: dict[str, tuple[float, str]] = {
    "mase": (1.0, "in-sample seasonal naive"),
    "rmsse": (1.0, "in-sample seasonal naive"),
}
"""Plus ``coverage_<l>``: the nominal l % (:func:`_reference`)."""
_METRIC_LABELS: dict[str, str] = {
    "mase": "MASE",
    "rmsse": "RMSSE",
    "smape": "sMAPE",
    "mape": "MAPE",
    "bias": "bias",
}
_LEVEL_METRIC = re.compile(r"(coverage|width|msis)_(\d+)")


def _metric_label(metric: str) -> str:
    """``MASE``, ``80% interval coverage``, ``MSIS (95%)``: any level the request asked for."""
    match = _LEVEL_METRIC.fullmatch(metric)
    if match is None:
        return _METRIC_LABELS.get(metric, metric)
    kind, level = match.groups()
    return f"MSIS ({level}%)" if kind == "msis" else f"{level}% interval {kind}"


def _is_coverage(metric: str) -> bool:
    return re.fullmatch(r"coverage_\d+", metric) is not None


def _reference(metric: str) -> tuple[float, str] | None:
    if _is_coverage(metric):
        level = int(metric.removeprefix("coverage_"))
        return level / 100, f"nominal {level}%"
    return _REFERENCE_LINES.get(metric)


# --- shared helpers -------------------------------------------------------------------------------------
def format_number(value: float, _position: int | None = None) -> str:
    """Tick text with thousands separators: ``1,250,000``; small non-integers keep two decimals."""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def value_label(panel: SeriesPanel, series_ids: str | Iterable[str]) -> str:
    """The axis label for some series, e.g. ``"tonnes"`` or ``"CNY"``, from their ``unit``/``currency``.

    Several distinct units are joined with " | " so a mixed axis is visible, never hidden.
    """
    ids = [series_ids] if isinstance(series_ids, str) else list(series_ids)
    unknown = sorted(set(ids) - set(panel.metadata.index))
    if unknown:
        raise DataError(f"unknown series {unknown[:5]}")
    labels = []
    for series_id in ids:
        row = panel.metadata.loc[series_id]
        parts = [str(row[c]) for c in ("unit", "currency") if c in row.index and not pd.isna(row[c])]
        label = " ".join(dict.fromkeys(parts)) or "value"  # unit "USD" with currency "USD" reads "USD"
        if label not in labels:
            labels.append(label)
    return " | ".join(labels)


def _new_figure(
    nrows: int = 1, ncols: int = 1, *, width: float = 8.0, height: float = 4.5, **subplot_kw: object
) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return figure, axes


class ValueFormatter(Formatter):
    """Tick labels with thousands separators, in millions ("250 M") or billions ("31.4 bn") on big axes.

    The scale follows the axis' visible range, so every tick of one axis uses the same one and
    10-digit trade values stay readable.
    """

    def __call__(self, value: float, position: int | None = None) -> str:
        largest = max(abs(v) for v in self.axis.get_view_interval()) if self.axis is not None else abs(value)
        for divisor, suffix, threshold in ((1e9, " bn", 2e9), (1e6, " M", 1e7)):
            if largest >= threshold:
                return f"{format_number(value / divisor)}{suffix}" if value else "0"
        return format_number(value)


def _thousands(ax: Axes, axis: str = "y") -> None:
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(ValueFormatter())


def _monthly(series: pd.Series, what: str = "series") -> pd.Series:
    """``series`` on a sorted monthly PeriodIndex covering first to last observed month (NaN in gaps)."""
    if not isinstance(series, pd.Series):
        raise TypeError(
            f"The '{what}' parameter must be a pandas Series. Got {type(series).__name__} instead."
        )
    index = series.index
    if isinstance(index, pd.DatetimeIndex):
        index = index.to_period("M")
    if not isinstance(index, pd.PeriodIndex):
        raise DataError(
            f"{what} must be indexed by months (PeriodIndex or DatetimeIndex)", series=series.name
        )
    monthly = pd.Series(series.to_numpy(dtype="float64"), index=index.asfreq("M"), name=series.name)
    if monthly.index.has_duplicates:
        raise DataError(f"{what} has duplicate months", series=_name(series))
    monthly = monthly.sort_index().dropna()
    if monthly.empty:
        raise DataError(f"{what} has no observed values", series=_name(series))
    full = pd.period_range(monthly.index.min(), monthly.index.max(), freq="M")
    return monthly.reindex(full)


def _name(series: pd.Series) -> str:
    return str(series.name) if series.name is not None else "series"


def _x(months: pd.PeriodIndex | pd.Series) -> pd.DatetimeIndex:
    """Month periods as timestamps (first day of the month), which matplotlib's date axis understands."""
    return pd.PeriodIndex(months, freq="M").to_timestamp()


def _short_labels(series_ids: Sequence[str]) -> list[str]:
    """Legend labels without the "/"-tokens every id in a group shares ("inbound", not the full id)."""
    tokens = [sid.split("/") for sid in series_ids]
    if len(series_ids) < 2 or len({len(t) for t in tokens}) != 1:
        return list(series_ids)
    varying = [i for i in range(len(tokens[0])) if len({t[i] for t in tokens}) > 1]
    return ["/".join(t[i] for i in varying) for t in tokens]


def series_label(panel: SeriesPanel, series_id: str) -> str:
    """The series as a reader knows it: a port's name in place of its code, where the panel has both.

    BTS ids carry the port code (``bts/2309/trucks``) and the records the port
    name (``crossing`` "Blaine, Washington", ``port_code`` "2309"): the label
    is ``Blaine, Washington/trucks`` (the source prefix dropped). Other ids,
    which are names already (``heihe-blagoveshchensk/cargo/road/export``), stay as they are.
    """
    if series_id not in panel.metadata.index:
        raise DataError("unknown series", series=series_id)
    row = panel.metadata.loc[series_id]
    code, name = row.get("port_code"), row.get("crossing")
    if pd.isna(code) or pd.isna(name):
        return series_id
    tokens = series_id.split("/")
    wanted = str(code).lstrip("0")
    if not any(token.lstrip("0") == wanted for token in tokens):
        return series_id
    named = [str(name) if token.lstrip("0") == wanted else token for token in tokens]
    if len(named) > 1 and named[0] == row.get("source"):
        named = named[1:]
    return "/".join(named)


MONTHLY_TICKS_UP_TO = 36
"""Axes spanning more months than this get yearly ticks."""


class MonthTicks(mdates.DateLocator):
    """Ticks on the first day of a month (at most ``max_ticks``), or of a year (at most ``max_years``).

    matplotlib's automatic date ticks go down to days: on a few months (the
    first months of live accuracy) their labels overlapped. A monthly series
    has nothing between month starts to mark.
    """

    def __init__(self, max_ticks: int = 6, max_years: int = 8) -> None:
        super().__init__()
        self.max_ticks = max_ticks
        self.max_years = max_years
        self.yearly = False

    def __call__(self) -> list[float]:
        vmin, vmax = self.viewlim_to_dt()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: dt.datetime, vmax: dt.datetime) -> list[float]:
        months = (vmax.year - vmin.year) * 12 + vmax.month - vmin.month + 1
        self.yearly = months > MONTHLY_TICKS_UP_TO
        if self.yearly:
            locator = mdates.YearLocator(base=max(1, math.ceil(months / 12 / self.max_years)))
        else:
            locator = mdates.MonthLocator(interval=max(1, math.ceil(months / self.max_ticks)))
        return list(locator.tick_values(vmin, vmax))


class MonthLabels(Formatter):
    """``YYYY-MM`` (the package's month notation) at month ticks, ``YYYY`` at yearly ones."""

    def __init__(self, locator: MonthTicks) -> None:
        self.locator = locator

    def __call__(self, value: float, position: int | None = None) -> str:
        return mdates.num2date(value).strftime("%Y" if self.locator.yearly else "%Y-%m")


def _month_axis(ax: Axes) -> None:
    locator = MonthTicks()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(MonthLabels(locator))


# --- series ---------------------------------------------------------------------------------------------
def plot_series_overview(
    panel: SeriesPanel, by: Sequence[str] = ("crossing", "flow"), *, ncols: int = 3, max_panels: int = 30
) -> Figure:
    """Small multiples: one axes per combination of the ``by`` dimensions, one line per series.

    Units differ between flows, so each axes gets its own y scale and unit label.
    Series without a value for a dimension are grouped under "n/a".
    """
    by = list(by)
    unknown = [c for c in by if c not in panel.metadata.columns]
    if unknown:
        raise DataError(f"unknown dimension(s) {unknown}; known: {list(panel.metadata.columns)}")
    if by:
        keys = panel.metadata[by].astype("string").fillna("n/a")
        groups = {
            (key if isinstance(key, tuple) else (key,)): list(ids)
            for key, ids in keys.groupby(by, sort=True).groups.items()
        }
    else:
        groups = {("all series",): panel.series_ids}
    if len(groups) > max_panels:
        raise ValueError(
            f"The panel has {len(groups)} groups by {by}, more than max_panels={max_panels} fit one figure; "
            "select series first, e.g. panel.filter(flow='cargo')."
        )
    ncols = max(1, min(ncols, len(groups)))
    nrows = math.ceil(len(groups) / ncols)
    figure, axes = _new_figure(nrows, ncols, width=4.2 * ncols, height=2.8 * nrows + 0.6, sharex=True)
    for ax, (key, ids) in zip(axes.flat, groups.items(), strict=False):
        labels = _short_labels([series_label(panel, series_id) for series_id in ids])
        for series_id, label in zip(ids, labels, strict=True):
            values = panel.series(series_id)
            ax.plot(_x(values.index), values.to_numpy(), linewidth=1.1, label=label)
        ax.set_title(" / ".join(key), fontsize="medium")
        ax.set_ylabel(value_label(panel, ids))
        _month_axis(ax)
        _thousands(ax)
        if len(ids) <= MAX_LEGEND_ENTRIES:
            ax.legend(fontsize="x-small", frameon=False)
    for ax in axes.flat[len(groups) :]:
        figure.delaxes(ax)
    grouping = " and ".join(by) if by else "series"
    figure.suptitle(f"{len(panel)} monthly series by {grouping}")
    return figure


def plot_seasonal(series: pd.Series, *, unit: str | None = None) -> Figure:
    """One line per year over January..December, to see the yearly pattern and how it moves.

    Up to 12 years get a legend; longer histories get a colour bar (a second axes).
    """
    values = _monthly(series)
    figure, axes = _new_figure(width=8.0, height=4.5)
    ax = axes[0, 0]
    years = sorted({int(y) for y in values.dropna().index.year})
    colours = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(vmin=years[0], vmax=max(years[-1], years[0] + 1))
    for year in years:
        part = values[values.index.year == year]
        ax.plot(
            part.index.month,
            part.to_numpy(),
            marker="o",
            markersize=3,
            color=colours(norm(year)),
            label=str(year),
        )
    ax.set_xticks(range(1, 13), [calendar.month_abbr[m] for m in range(1, 13)])
    ax.set_xlim(0.7, 12.3)
    ax.set_xlabel("month")
    ax.set_ylabel(unit or "value")
    _thousands(ax)
    ax.set_title(f"Seasonal plot: {_name(series)} ({years[0]}-{years[-1]})")
    if len(years) <= MAX_LEGEND_ENTRIES:
        ax.legend(fontsize="x-small", ncols=2, frameon=False)
    else:
        bar = figure.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=colours), ax=ax)
        bar.set_label("year")
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def plot_stl(
    series: pd.Series, *, period: int = SEASON_LENGTH, robust: bool = True, unit: str | None = None
) -> Figure:
    """STL decomposition (observed, trend, seasonal, residual), robust to outliers by default.

    STL needs a gap-free series: interior missing months are linearly
    interpolated, drawn as crosses and counted in the title.
    """
    values = _monthly(series)
    n_observed = int(values.notna().sum())
    if n_observed < 2 * period + 1:
        raise DataError(
            f"STL needs at least {2 * period + 1} observed months (two seasons); got {n_observed}",
            series=_name(series),
        )
    filled = values.interpolate(method="linear")
    result = STL(filled.to_numpy(), period=period, robust=robust).fit()
    x = _x(values.index)
    figure, axes = _new_figure(4, 1, width=9.0, height=8.0, sharex=True)
    observed, trend, seasonal, residual = axes[:, 0]
    observed.plot(x, values.to_numpy(), color="black", linewidth=1.0, label="observed")
    gaps = values.isna().to_numpy()
    if gaps.any():
        observed.plot(x[gaps], filled.to_numpy()[gaps], "x", color="tab:red", label="interpolated")
        observed.legend(fontsize="x-small", frameon=False)
    trend.plot(x, result.trend, color="tab:blue", label="trend")
    seasonal.plot(x, result.seasonal, color="tab:green", label="seasonal")
    residual.plot(x, result.resid, "o", markersize=2.5, color="tab:gray", label="residual")
    residual.axhline(0.0, color="black", linewidth=0.6, label="_zero")
    for ax, title in zip(axes[:, 0], ("observed", "trend", "seasonal", "residual"), strict=True):
        ax.set_title(title, fontsize="medium", loc="left")
        ax.set_ylabel(unit or "value")
        _month_axis(ax)
        _thousands(ax)
    note = f"; {int(gaps.sum())} missing month(s) interpolated" if gaps.any() else ""
    figure.suptitle(
        f"STL decomposition of {_name(series)} (period {period}{', robust' if robust else ''}{note})"
    )
    return figure


def spring_festival_dates(years: Iterable[int]) -> pd.Series:
    """The first day of Chinese New Year (Spring Festival) per year, from the ``holidays`` package."""
    years = sorted({int(y) for y in years})
    china = holidays.country_holidays("CN", years=years, language="en_US")
    days = [day for day, name in china.items() if name.startswith("Chinese New Year (Spring Festival)")]
    stamps = pd.DatetimeIndex(sorted(days))
    first = pd.Series(stamps, index=stamps.year).groupby(level=0).min()
    missing = sorted(set(years) - set(first.index))
    if missing:
        raise DataError(f"the holidays package has no Spring Festival date for {missing}")
    return first.loc[years].rename("spring_festival")


def spring_festival_table(series: pd.Series) -> pd.DataFrame:
    """Per year: Spring Festival date, January and February values, January's share, Jan+Feb vs Dec+Mar.

    ``jan_share`` is January / (January + February); ``jan_feb_vs_neighbours`` is
    (January + February) / (previous December + March), NaN when a month is
    missing or the denominator is zero. Years without both January and February
    are not in the table.
    """
    values = _monthly(series)
    frame = pd.DataFrame({"year": values.index.year, "month": values.index.month, "value": values.to_numpy()})
    by_month = frame.pivot(index="year", columns="month", values="value").reindex(columns=range(1, 13))
    december_before = by_month[12].shift(1)  # years are contiguous: _monthly covers every month
    table = pd.DataFrame(
        {
            "january": by_month[1],
            "february": by_month[2],
            "previous_december": december_before,
            "march": by_month[3],
        }
    ).dropna(subset=["january", "february"])
    table.index = table.index.astype(int)
    table.index.name = "year"
    jan_feb = table["january"] + table["february"]
    table.insert(0, "spring_festival", spring_festival_dates(table.index).to_numpy())
    table["day_of_year"] = pd.DatetimeIndex(table["spring_festival"]).day_of_year
    table["jan_share"] = (table["january"] / jan_feb).where(jan_feb != 0)
    neighbours = table["previous_december"] + table["march"]
    table["jan_feb_vs_neighbours"] = (jan_feb / neighbours).where(neighbours != 0)
    return table


def plot_spring_festival_effect(series: pd.Series) -> Figure:
    """January and February against the date of Chinese New Year, one point per year.

    Left: January's share of January+February falls as the festival moves
    later. Right: January+February relative to the neighbouring December and
    March shows whether the festival lowers the two months together (the
    reason customs publish them as one figure). A least-squares line shows the
    slope per day of festival timing.
    """
    table = spring_festival_table(series)
    if table["jan_share"].notna().sum() < 3:
        raise DataError(
            "the Spring Festival plot needs at least 3 years with January and February observed "
            f"and not both zero; got {int(table['jan_share'].notna().sum())}",
            series=_name(series),
        )
    figure, axes = _new_figure(1, 2, width=11.0, height=4.5)
    panels = (
        ("jan_share", "January share of January+February", True),
        ("jan_feb_vs_neighbours", "(January+February) / (previous December+March)", False),
    )
    for ax, (column, label, as_share) in zip(axes[0], panels, strict=True):
        _festival_scatter(ax, table, column, as_share)
        ax.set_ylabel("share" if as_share else "ratio (unit-free)")
        ax.set_title(label, fontsize="medium")
    excluded = table.index[table["jan_share"].isna()].tolist()
    note = f"; excluded (January+February = 0): {excluded}" if excluded else ""
    figure.suptitle(f"Spring Festival effect: {_name(series)}{note}")
    return figure


def _festival_scatter(ax: Axes, table: pd.DataFrame, column: str, as_share: bool) -> None:
    points = table.dropna(subset=[column])
    x, y = points["day_of_year"].to_numpy(dtype="float64"), points[column].to_numpy(dtype="float64")
    ax.scatter(x, y, color="tab:red", zorder=3, label="years")
    for year, xi, yi in zip(points.index, x, y, strict=True):
        ax.annotate(f"{year}", (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize="xx-small")
    if len(points) >= 3 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.array([x.min(), x.max()])
        per_day = f"{slope * 100:+.2f} pp" if as_share else f"{slope:+.4f}"
        ax.plot(
            grid, intercept + slope * grid, color="black", linewidth=1, label=f"fit: {per_day} per day later"
        )
        ax.legend(fontsize="x-small", frameon=False)
    ax.xaxis.set_major_formatter(FuncFormatter(_day_of_year_label))
    ax.set_xlabel("date of Chinese New Year")
    if as_share:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    else:
        _thousands(ax)


def _day_of_year_label(day: float, _position: int | None = None) -> str:
    return (dt.date(2001, 1, 1) + dt.timedelta(days=round(day) - 1)).strftime("%d %b")


# --- forecasts and backtests ----------------------------------------------------------------------------
ID_COLUMNS = ("series_id", "unique_id")
TIME_COLUMNS = ("month", "ds")
TARGET_COLUMNS = ("value", "y")
"""Column names tried, in order, when a wide frame's own are not given: ours, then statsforecast's."""
_WIDE_BOUND = re.compile(r"(.+)-(lo|hi)-(\d+)")


def long_forecasts(
    frame: pd.DataFrame,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    target_col: str | None = None,
) -> pd.DataFrame:
    """Any forecast table in the package's long layout: ``series_id, month, model, forecast,
    lower_<l>, upper_<l>`` (and ``cutoff``, ``actual`` when the frame has them).

    Reads the long tables of ``predict``, the backtest and the export as they
    are, and ``Forecaster``'s wide output (one column per model and
    ``<model>-lo-<l>``/``<model>-hi-<l>`` per bound, the id and time columns
    named as in its input: ``series_id, month`` or ``unique_id, ds`` unless
    given). Months become ``Period[M]``, series ids text.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The forecast must be a pandas DataFrame. Got {type(frame).__name__} instead.")
    id_col = id_col or _first_present(frame, ID_COLUMNS, "series id")
    time_col = time_col or _first_present(frame, TIME_COLUMNS, "month")
    for column in (id_col, time_col):
        if column not in frame.columns:
            raise DataError("the forecast frame lacks this column", column=column)
    keys = pd.DataFrame(
        {"series_id": frame[id_col].astype(str).to_numpy(), "month": _periods(frame[time_col])}
    )
    if "cutoff" in frame.columns:
        keys["cutoff"] = _periods(frame["cutoff"])
    if "forecast" in frame.columns:  # long already
        rest = frame.drop(columns=[c for c in (id_col, time_col, "cutoff") if c in frame.columns])
        return pd.concat([keys, rest.reset_index(drop=True)], axis=1)
    return _melt_wide(frame.reset_index(drop=True), keys, {id_col, time_col, "cutoff"}, target_col)


def _first_present(frame: pd.DataFrame, names: Sequence[str], what: str) -> str:
    for name in names:
        if name in frame.columns:
            return name
    raise DataError(
        f"the forecast frame has no {what} column (tried {list(names)}; columns: {list(frame.columns)})"
    )


def _periods(values: pd.Series) -> pd.PeriodIndex:
    if isinstance(values.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(values).asfreq("M")
    return pd.PeriodIndex(pd.to_datetime(values), freq="M")


def _melt_wide(
    frame: pd.DataFrame, keys: pd.DataFrame, used: set[str], target_col: str | None
) -> pd.DataFrame:
    """Forecaster's wide layout, one block of rows per model."""
    bounds: dict[str, dict[str, str]] = {}
    for column in map(str, frame.columns):
        match = _WIDE_BOUND.fullmatch(column)
        if match:
            model, side, level = match.groups()
            bounds.setdefault(model, {})[f"{'lower' if side == 'lo' else 'upper'}_{level}"] = column
    bound_columns = {c for columns in bounds.values() for c in columns.values()}
    target = target_col or next((c for c in TARGET_COLUMNS if c in frame.columns and c not in bounds), None)
    if target is not None and target in frame.columns:
        keys = keys.assign(actual=frame[target].to_numpy(dtype="float64"))
    models = [
        c
        for c in map(str, frame.columns)
        if c not in used | bound_columns | {target} and pd.api.types.is_numeric_dtype(frame[c])
    ]
    if not models:
        raise DataError(f"the forecast frame holds no model column (columns: {list(frame.columns)})")
    blocks = [
        keys.assign(
            model=model,
            forecast=frame[model].to_numpy(dtype="float64"),
            **{
                name: frame[column].to_numpy(dtype="float64")
                for name, column in bounds.get(model, {}).items()
            },
        )
        for model in models
    ]
    return pd.concat(blocks, ignore_index=True)


def _chosen_levels(table: pd.DataFrame, levels: Sequence[int] | None) -> tuple[int, ...]:
    """The levels to draw: the given ones, or every level the table holds; a lone bound is an error."""
    if levels is None:
        found = {int(m.group(2)) for c in map(str, table.columns) if (m := _BOUND_COLUMN.fullmatch(c))}
        levels = sorted(found)
    for level in levels:
        for side in ("lower", "upper"):
            if f"{side}_{level}" not in table.columns:
                raise DataError("the forecast frame lacks this column", column=f"{side}_{level}")
    return tuple(sorted(levels))


_BOUND_COLUMN = re.compile(r"(lower|upper)_(\d+)")


def _chosen_models(table: pd.DataFrame, models: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(table["model"].astype(str))) if "model" in table.columns else ["forecast"]
    if models is None:
        return present
    unknown = [m for m in models if m not in present]
    if unknown:
        raise ValueError(f"The 'models' parameter names {unknown}, not in the forecast (models: {present}).")
    return list(models)


def plot_forecast(
    history: pd.Series,
    forecast: pd.DataFrame,
    levels: Sequence[int] | None = None,
    *,
    unit: str | None = None,
    history_months: int | None = None,
    models: Sequence[str] | None = None,
    label: str | None = None,
) -> Figure:
    """Fan chart of one series: history, each model's forecast and shaded intervals (widest palest).

    ``forecast`` is any forecast table of one series (:func:`long_forecasts`:
    a model's ``predict``, ``Forecaster``'s wide or long output, the export),
    with one or several models (overlaid, one colour each; ``models`` picks
    some) and, for a backtest or ``cross_validation``, several cutoffs (each
    cutoff's forecast drawn from its own origin). ``levels`` default to every
    level the table holds. ``label`` names the series in the title (default:
    its id); ``history_months`` limits the history shown to its last months.
    """
    if not any(c in forecast.columns for c in ID_COLUMNS):  # one series' frame, named by its history
        forecast = forecast.assign(series_id=_name(history))
    table = long_forecasts(forecast)
    if table.empty:
        raise DataError("the forecast frame is empty")
    _one_series(table)
    figure, axes = _new_figure(width=9.0, height=4.5)
    ax = axes[0, 0]
    series_id = str(table["series_id"].iloc[0])
    drawn = _draw_forecast(ax, history, table, levels, models, history_months)
    ax.set_title(f"{label or series_id}: {drawn}")
    ax.set_ylabel(unit or "value")
    ax.legend(fontsize="small", frameon=False, loc="upper left")
    return figure


def _one_series(table: pd.DataFrame) -> None:
    if table["series_id"].nunique() > 1:
        found = sorted(map(str, table["series_id"].unique()))[:5]
        raise ValueError(
            f"plot_forecast draws one series; the forecast has several series_ids {found}. "
            f"Select one first, e.g. forecast[forecast['series_id'] == {found[0]!r}], "
            "or draw several with plot_forecasts."
        )


def _draw_forecast(
    ax: Axes,
    history: pd.Series,
    table: pd.DataFrame,
    levels: Sequence[int] | None,
    models: Sequence[str] | None,
    history_months: int | None,
) -> str:
    """History, then per model and cutoff the forecast line and bands; returns what was drawn, for a title."""
    chosen = _chosen_models(table, models)
    levels = _chosen_levels(table, levels)
    past = _monthly(history, "history")
    if history_months is not None:
        past = past.iloc[-history_months:]
    ax.plot(_x(past.index), past.to_numpy(), color="black", linewidth=1.2, label="history")
    cutoffs = sorted(table["cutoff"].unique()) if "cutoff" in table.columns else [None]
    colours = mpl.colormaps["tab10"].colors
    for index, model in enumerate(chosen):
        rows = table if "model" not in table.columns else table[table["model"].astype(str) == model]
        colour = colours[index % len(colours)]
        name = "forecast" if len(chosen) == 1 else model
        for n, cutoff in enumerate(cutoffs):
            part = rows if cutoff is None else rows[rows["cutoff"] == cutoff]
            if not part.empty:
                _draw_one(ax, part.sort_values("month"), levels, colour, name, len(chosen), first=n == 0)
    starts = [table["month"].min()] if cutoffs == [None] else [cutoff + 1 for cutoff in cutoffs]
    for start in starts:
        ax.axvline(_x([start])[0], color="gray", linestyle=":", linewidth=1, label="_forecast start")
    _month_axis(ax)
    _thousands(ax)
    ax.set_xlabel("month")
    return _forecast_title(table, chosen, cutoffs)


def _forecast_title(table: pd.DataFrame, models: Sequence[str], cutoffs: Sequence[object]) -> str:
    """``ets forecast, 6 months ahead``; ``3 models' backtest, 2 cutoffs, 6 months ahead each``."""
    groups = [c for c in ("cutoff", "model") if c in table.columns]
    steps = int(table.groupby(groups).size().max()) if groups else len(table)
    if len(models) > 1:
        who = f"{len(models)} models' "
    else:
        who = f"{models[0]} " if "model" in table.columns else ""
    if cutoffs == [None]:
        return f"{who}forecast, {steps} months ahead"
    plural = "s" if len(cutoffs) > 1 else ""
    return f"{who}backtest, {len(cutoffs)} cutoff{plural}, {steps} months ahead each"


def _draw_one(
    ax: Axes, part: pd.DataFrame, levels: Sequence[int], colour: object, name: str, n_models: int, first: bool
) -> None:
    """One model's forecast from one origin: the line, then its bands (widest palest) beneath it."""
    x = _x(part["month"])
    shown = name if first else f"_{name}"
    ax.plot(x, part["forecast"].to_numpy(dtype="float64"), color=colour, linewidth=1.8, label=shown)
    for i, level in enumerate(sorted(levels, reverse=True)):
        band = f"{level}% interval" if n_models == 1 else f"{name} {level}% interval"
        ax.fill_between(
            x,
            part[f"lower_{level}"].to_numpy(dtype="float64"),
            part[f"upper_{level}"].to_numpy(dtype="float64"),
            color=colour,
            alpha=(0.18 + 0.17 * i) / n_models,
            linewidth=0,
            label=band if first else f"_{band}",
            zorder=1,
        )


def plot_forecasts(
    panel: SeriesPanel,
    forecasts: pd.DataFrame,
    series_ids: Sequence[str] | None = None,
    *,
    levels: Sequence[int] | None = None,
    models: Sequence[str] | None = None,
    history_months: int | None = None,
    max_series: int = 8,
    ncols: int = 2,
    id_col: str | None = None,
    time_col: str | None = None,
    target_col: str | None = None,
) -> Figure:
    """Fan charts of several series, one axes each, titled by name (:func:`series_label`), with units.

    ``forecasts`` is any table :func:`long_forecasts` reads; ``series_ids``
    default to the first ``max_series`` of it (the title says when there are more).
    """
    table = long_forecasts(forecasts, id_col=id_col, time_col=time_col, target_col=target_col)
    present = list(dict.fromkeys(table["series_id"]))
    chosen = present[:max_series] if series_ids is None else [str(s) for s in series_ids]
    unknown = [s for s in chosen if s not in present]
    if unknown:
        raise DataError(f"series {unknown[:5]} are not in the forecasts", series=unknown[0])
    if not chosen:
        raise DataError("the forecast frame is empty")
    ncols = max(1, min(ncols, len(chosen)))
    nrows = math.ceil(len(chosen) / ncols)
    figure, axes = _new_figure(nrows, ncols, width=5.5 * ncols, height=3.2 * nrows + 0.6)
    for ax, series_id in zip(axes.flat, chosen, strict=False):
        drawn = _draw_forecast(
            ax,
            panel.series(series_id),
            table[table["series_id"] == series_id],
            levels,
            models,
            history_months,
        )
        ax.set_title(f"{series_label(panel, series_id)}\n{drawn}", fontsize="medium")
        ax.set_ylabel(value_label(panel, series_id))
        ax.legend(fontsize="x-small", frameon=False, loc="upper left")
    for ax in axes.flat[len(chosen) :]:
        figure.delaxes(ax)
    more = (
        f" (first {len(chosen)} of {len(present)})"
        if series_ids is None and len(present) > len(chosen)
        else ""
    )
    figure.suptitle(f"Forecasts of {len(chosen)} series{more}")
    return figure


def plot_error_by_horizon(results: pd.DataFrame, metric: str = "mase") -> Figure:
    """One line per model: a backtest metric against months ahead (from ``metrics_by_horizon``)."""
    table = metrics_by_horizon(results)
    if metric not in table.columns:
        raise ValueError(
            f"The 'metric' parameter must be one of {list(table.columns)}. Got {metric!r} instead."
        )
    figure, axes = _new_figure(width=8.0, height=4.5)
    ax = axes[0, 0]
    by_model = table[metric].unstack("model")
    for model in by_model.columns:
        ax.plot(
            by_model.index.to_numpy(), by_model[model].to_numpy(dtype="float64"), marker="o", label=str(model)
        )
    _reference_line(ax, metric, "y")
    label = _metric_label(metric)
    ax.set_title(f"Backtest {label} by forecast horizon")
    ax.set_xlabel("months ahead")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _value_axis(ax, metric, "y")
    ax.legend(fontsize="small", frameon=False)
    return figure


def plot_leaderboard(leaderboard: pd.DataFrame, metrics: Sequence[str] | None = None) -> Figure:
    """Horizontal bars per model, one axes per metric, best model on top and highlighted.

    ``metrics`` default to ``mase`` and the coverage at the widest level the leaderboard
    holds (``coverage_95`` at the default levels). Rows are kept in the leaderboard's order
    (sorted by MASE); dotted lines mark the reference (1 = in-sample seasonal naive error,
    nominal coverage).
    """
    if metrics is None:
        coverage = sorted(
            (c for c in map(str, leaderboard.columns) if _is_coverage(c)), key=lambda c: int(c[9:])
        )
        metrics = ("mase", *coverage[-1:])
    missing = [c for c in ("model", *metrics) if c not in leaderboard.columns]
    if missing:
        raise DataError(f"the leaderboard lacks column(s) {missing}", column=missing[0])
    if leaderboard.empty:
        raise DataError("the leaderboard is empty")
    figure, axes = _new_figure(
        1, len(metrics), width=4.5 * len(metrics), height=1.2 + 0.45 * len(leaderboard)
    )
    models = leaderboard["model"].astype(str).to_numpy()
    positions = np.arange(len(models))
    for ax, metric in zip(axes[0], metrics, strict=True):
        values = leaderboard[metric].to_numpy(dtype="float64")
        colours = ["tab:blue" if i == 0 else "tab:gray" for i in positions]
        bars = ax.barh(positions, values, color=colours, label=metric)
        fmt = (lambda v: f"{v:.0%}") if _is_coverage(metric) else format_number
        ax.bar_label(bars, labels=[fmt(v) for v in values], padding=2, fontsize="x-small")
        ax.set_yticks(positions, models)
        ax.invert_yaxis()
        _reference_line(ax, metric, "x")
        _value_axis(ax, metric, "x")
        ax.set_title(_metric_label(metric), fontsize="medium")
        ax.margins(x=0.15)
    figure.suptitle(f"Leaderboard: {len(models)} models")
    return figure


def _reference_line(ax: Axes, metric: str, axis: str) -> None:
    reference = _reference(metric)
    if reference is None:
        return
    value, label = reference
    draw = ax.axhline if axis == "y" else ax.axvline
    draw(value, color="black", linestyle=":", linewidth=1, label=f"_{label}")


def _value_axis(ax: Axes, metric: str, axis: str) -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    if _is_coverage(metric):
        target.set_major_formatter(PercentFormatter(xmax=1.0))
    else:
        target.set_major_formatter(ValueFormatter())


# --- hierarchy ------------------------------------------------------------------------------------------
def hierarchy_shares(panel: SeriesPanel, parent: str, children: Sequence[str]) -> pd.DataFrame:
    """Each child's share of the parent per month (NaN where the parent is missing or zero).

    A ``sum of children`` column shows how far the children are from adding up
    to the total: the remainder is other crossings or a reporting discrepancy.
    """
    children = list(children)
    if not children:
        raise ValueError("The 'children' parameter must name at least one series. Got an empty list instead.")
    if parent in children:
        raise ValueError(f"The parent series {parent!r} is also listed among the children.")
    labels = {value_label(panel, sid) for sid in [parent, *children]}
    if len(labels) > 1:
        raise DataError(f"parent and children are in different units {sorted(labels)}; convert them first")
    total = panel.series(parent)
    levels = pd.concat({sid: panel.series(sid) for sid in children}, axis=1)
    levels = levels.reindex(total.index.union(levels.index))
    denominator = total.reindex(levels.index)
    shares = levels.div(denominator.where(denominator != 0), axis=0)
    shares["sum of children"] = shares[children].sum(axis=1, min_count=len(children))
    shares.index.name = "month"
    return shares


def plot_hierarchy_shares(panel: SeriesPanel, parent: str, children: Sequence[str]) -> Figure:
    """Top: the total and its parts in levels. Bottom: each part's share of the total, in percent."""
    shares = hierarchy_shares(panel, parent, children)
    figure, axes = _new_figure(2, 1, width=9.0, height=7.0, sharex=True)
    level_ax, share_ax = axes[:, 0]
    total = panel.series(parent)
    name = series_label(panel, parent)
    labels = {child: series_label(panel, child) for child in children}
    level_ax.plot(_x(total.index), total.to_numpy(), color="black", linewidth=1.6, label=f"{name} (total)")
    for series_id in children:
        values = panel.series(series_id)
        level_ax.plot(_x(values.index), values.to_numpy(), linewidth=1.1, label=labels[series_id])
    level_ax.set_ylabel(value_label(panel, parent))
    level_ax.set_title("levels", fontsize="medium", loc="left")
    _thousands(level_ax)
    level_ax.legend(fontsize="x-small", frameon=False)
    x = _x(shares.index)
    for series_id in children:
        share_ax.plot(x, shares[series_id].to_numpy(), linewidth=1.1, label=labels[series_id])
    share_ax.plot(
        x,
        shares["sum of children"].to_numpy(),
        color="black",
        linestyle="--",
        linewidth=1,
        label="sum of children",
    )
    share_ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    share_ax.set_ylabel("share of total")
    share_ax.set_title("shares of the total", fontsize="medium", loc="left")
    share_ax.set_xlabel("month")
    share_ax.legend(fontsize="x-small", frameon=False)
    _month_axis(share_ax)
    parts = f"{len(children)} part{'s' if len(children) > 1 else ''}"
    figure.suptitle(f"{name}: {parts} and their shares of the total")
    return figure


def plot_reconciled_hierarchy(
    panel: SeriesPanel,
    base: pd.DataFrame,
    reconciled: pd.DataFrame,
    parent: str,
    children: Sequence[str] | None = None,
    *,
    history_months: int | None = 36,
    ncols: int = 3,
) -> Figure:
    """A parent and its children on one time axis: history, base and reconciled forecasts of each.

    Top: the parent, its base (dashed) and reconciled (solid) forecast, and the
    sum of its children's base forecasts (dotted): the gap between dashed and
    dotted is the incoherence reconciliation removes, given in the title for
    both. Below: one axes per child with the same lines, sharing the time axis.
    ``children`` default to the parent's bottom-level series in the panel's
    hierarchy (``panel.structure``). ``base`` and ``reconciled`` are forecast
    tables of one model each (:func:`long_forecasts`); of a backtest, the last cutoff is drawn.
    """
    if children is None:
        if parent not in panel.structure.children:
            raise DataError("not a parent in the panel's hierarchy; give its children", series=parent)
        children = list(panel.structure.children[parent])
    children = list(children)
    if not children:
        raise ValueError("The 'children' parameter must name at least one series. Got an empty list instead.")
    tables = {
        "base": _last_cutoff(long_forecasts(base)),
        "reconciled": _last_cutoff(long_forecasts(reconciled)),
    }
    for kind, table in tables.items():
        missing = sorted({parent, *children} - set(table["series_id"]))
        if missing:
            raise DataError(f"the {kind} forecasts lack series {missing[:5]}", series=missing[0])
    nrows = 1 + math.ceil(len(children) / ncols)
    figure = Figure(figsize=(4.0 * ncols, 3.4 + 2.6 * (nrows - 1)), layout="constrained")
    grid = figure.add_gridspec(nrows, ncols, height_ratios=[1.4] + [1.0] * (nrows - 1))
    top = figure.add_subplot(grid[0, :])
    gaps = {kind: _incoherence(table, parent, children) for kind, table in tables.items()}
    _draw_base_and_reconciled(top, panel, parent, tables, history_months)
    sums = tables["base"][tables["base"]["series_id"].isin(children)].groupby("month")["forecast"].sum()
    top.plot(
        _x(sums.index),
        sums.to_numpy(),
        color="gray",
        linestyle=":",
        linewidth=1.4,
        label="sum of children (base)",
    )
    top.set_title(
        f"{series_label(panel, parent)}: parent of {len(children)} series; largest gap to the sum of "
        f"the children: base {gaps['base']:.1%}, reconciled {gaps['reconciled']:.1%}",
        fontsize="medium",
    )
    top.legend(fontsize="x-small", frameon=False, loc="upper left")
    labels = _short_labels([series_label(panel, child) for child in children])
    for index, (child, label) in enumerate(zip(children, labels, strict=True)):
        ax = figure.add_subplot(grid[1 + index // ncols, index % ncols], sharex=top)
        _draw_base_and_reconciled(ax, panel, child, tables, history_months)
        ax.set_title(label, fontsize="small")
    models = " / ".join(str(t["model"].iloc[0]) for t in tables.values() if "model" in t.columns)
    figure.suptitle(f"Base and reconciled forecasts linked by the hierarchy ({models})")
    return figure


def _last_cutoff(table: pd.DataFrame) -> pd.DataFrame:
    if "cutoff" not in table.columns:
        return table
    return table[table["cutoff"] == table["cutoff"].max()]


def _incoherence(table: pd.DataFrame, parent: str, children: Sequence[str]) -> float:
    """Largest |parent - sum of children| over the forecast months, relative to the parent."""
    by_month = table.pivot_table(index="month", columns="series_id", values="forecast", aggfunc="first")
    gap = (by_month[parent] - by_month[list(children)].sum(axis=1, min_count=len(children))).abs()
    return float((gap / by_month[parent].abs().where(by_month[parent] != 0)).max())


def _draw_base_and_reconciled(
    ax: Axes, panel: SeriesPanel, series_id: str, tables: dict[str, pd.DataFrame], history_months: int | None
) -> None:
    past = panel.series(series_id)
    if history_months is not None:
        past = past.iloc[-history_months:]
    ax.plot(_x(past.index), past.to_numpy(), color="black", linewidth=1.0, label="history")
    styles = {"base": ("tab:orange", "--"), "reconciled": ("tab:blue", "-")}
    for kind, table in tables.items():
        rows = table[table["series_id"] == series_id].sort_values("month")
        colour, style = styles[kind]
        ax.plot(
            _x(rows["month"]),
            rows["forecast"].to_numpy(dtype="float64"),
            color=colour,
            linestyle=style,
            linewidth=1.6,
            label=kind,
        )
    ax.set_ylabel(value_label(panel, series_id))
    _month_axis(ax)
    _thousands(ax)


def plot_live_accuracy(history: pd.DataFrame) -> Figure:
    """Live MASE against the backtest MASE the forecasts were promoted on, and live coverage, per month.

    ``history`` is :func:`forecasting.evaluation.live.live_history` (index:
    target month; ``mase``, ``backtest_mase`` and ``coverage_<l>`` columns).
    """
    if history.empty:
        raise DataError("no live accuracy to plot: no forecast has been scored yet")
    figure, axes = _new_figure(2, 1, width=8.0, height=6.0, sharex=True)
    months = _x(pd.PeriodIndex(history.index, freq="M"))
    top, bottom = axes[0, 0], axes[1, 0]
    top.plot(months, history["mase"].to_numpy(dtype="float64"), marker="o", label="live MASE")
    top.plot(
        months, history["backtest_mase"].to_numpy(dtype="float64"), linestyle="--", label="backtest MASE"
    )
    top.set_title("Forecasts in service: live against backtest MASE")
    top.set_ylabel("MASE")
    top.legend(fontsize="small", frameon=False)
    for column in [c for c in history.columns if c.startswith("coverage_")]:
        level = int(column.removeprefix("coverage_"))
        line = bottom.plot(months, history[column].to_numpy(dtype="float64"), marker="o", label=f"{level}%")
        bottom.axhline(level / 100, color=line[0].get_color(), linestyle=":", linewidth=1)
    bottom.set_title("Live interval coverage (dotted: nominal)")
    bottom.set_ylabel("coverage")
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
    bottom.set_xlabel("forecast month")
    bottom.legend(fontsize="small", frameon=False)
    _month_axis(bottom)  # shared with the top axes
    return figure


def plot_reconciled_by_level(board: pd.DataFrame, metric: str = "mase") -> Figure:
    """Base against reconciled accuracy at each level of the hierarchy: one group of bars per level.

    ``board`` is :func:`forecasting.evaluation.reconciled.leaderboard_by_level`
    (one row per level and model; reconciled rows are ``<model>+<method>``; a board of
    base models alone compares them level by level).
    Levels keep the board's order; each model (base or reconciled) is one bar
    colour, labelled with its value.
    """
    missing = [c for c in ("level", "model", metric) if c not in board.columns]
    if missing:
        raise DataError(f"the per-level leaderboard lacks column(s) {missing}", column=missing[0])
    if board.empty:
        raise DataError("the per-level leaderboard is empty")
    table = board.assign(level=board["level"].astype(str), model=board["model"].astype(str))
    values = table.pivot(index="level", columns="model", values=metric)
    levels = list(dict.fromkeys(table["level"]))
    models = sorted(values.columns, key=lambda m: (RECONCILED_SEPARATOR in m, m))  # base first
    values = values.reindex(index=levels, columns=models)
    figure, axes = _new_figure(width=max(6.0, 1.6 * len(levels) + 2.0), height=4.5)
    ax = axes[0, 0]
    positions = np.arange(len(levels), dtype="float64")
    width = 0.8 / len(models)
    fmt = (lambda v: f"{v:.0%}") if _is_coverage(metric) else (lambda v: f"{v:.3g}")
    for index, model in enumerate(models):
        heights = values[model].to_numpy(dtype="float64")
        offset = (index - (len(models) - 1) / 2) * width
        bars = ax.bar(positions + offset, heights, width=width, label=model)
        ax.bar_label(bars, labels=["" if np.isnan(v) else fmt(v) for v in heights], fontsize="x-small")
    ax.set_xticks(positions, levels)
    _reference_line(ax, metric, "y")
    _value_axis(ax, metric, "y")
    label = _metric_label(metric)
    ax.set_ylabel(label)
    ax.set_xlabel("level of the hierarchy")
    reconciled = any(RECONCILED_SEPARATOR in m for m in models)
    ax.set_title(f"Backtest {label} by level" + (": base against reconciled" if reconciled else ""))
    ax.legend(fontsize="small", frameon=False)
    ax.margins(y=0.12)
    return figure
