"""``SeriesPanel``: the validated long table plus per-series metadata."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from forecasting.data.records import LoadResult, check_panel, spike_summary
from forecasting.data.report import DataQualityReport
from forecasting.data.schema import (
    declared_regressors,
    dimension_columns,
    normalize_records,
    validate_records,
)
from forecasting.data.staleness import DEFAULT_MAX_STALE_MONTHS, stale_series, valueless_summary
from forecasting.data.summing import SummingStructure, mismatched_parents
from forecasting.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


class SeriesPanel:
    """Monthly series in long format with one metadata row per series.

    ``records`` has the canonical columns (``series_id``, ``month``, ``value``
    and the dimensions); ``metadata`` is indexed by ``series_id`` and holds the
    dimension columns, which must be constant within a series. ``structure``
    says which series sum to which (empty when the panel has no hierarchy);
    it travels with the panel through ``until``, ``subset`` and ``filter``.
    """

    def __init__(
        self,
        records: pd.DataFrame,
        report: DataQualityReport | None = None,
        *,
        structure: SummingStructure | None = None,
    ) -> None:
        file = report.source or None if report is not None else None
        records = normalize_records(records, file=file)
        validate_records(records, file=file)
        check_panel(records, structure, file=file)  # what `data check` checks too
        self.records = records
        self.metadata = _series_metadata(records)
        self.report = report if report is not None else DataQualityReport()
        self.structure = structure if structure is not None else SummingStructure.empty()

    @classmethod
    def from_load(cls, result: LoadResult) -> SeriesPanel:
        """A loader's records as a validated panel carrying the load's quality report.

        With a summing structure (read from the file next to the input), every
        parent that is not the sum of its children is flagged in the report.
        """
        panel = cls(result.records, result.report, structure=result.structure)
        mismatched = panel.mismatched_parents()
        if mismatched.empty:
            return panel
        report = DataQualityReport(result.report.source, result.report.rows_read, list(result.report.issues))
        panel.report = report  # the load's own report stays as the loader left it
        for row in mismatched.itertuples(index=False):
            report.add(
                "flagged",
                f"not the sum of its children in the hierarchy (up to {row.max_relative_error:.2%} off); "
                "left out of reconciliation",
                count=row.months,
                series_id=row.parent,
                month=row.first_month,
            )
        return panel

    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        series_col: str = "series_id",
        month_col: str = "month",
        value_col: str = "value",
    ) -> SeriesPanel:
        """Build a panel from any long frame; months may be strings or timestamps."""
        renamed = frame.rename(columns={series_col: "series_id", month_col: "month", value_col: "value"})
        renamed = renamed.copy()
        if not isinstance(renamed["month"].dtype, pd.PeriodDtype):
            renamed["month"] = pd.PeriodIndex(pd.to_datetime(renamed["month"]), freq="M")
        return cls(renamed)

    # --- shape --------------------------------------------------------------
    @property
    def series_ids(self) -> list[str]:
        return [str(s) for s in self.metadata.index]

    @property
    def regressors(self) -> tuple[str, ...]:
        """The per-row regressor columns the source spec declared (``SourceSpec.regressors``)."""
        return declared_regressors(self.records)

    def __len__(self) -> int:
        return len(self.metadata)

    def __iter__(self) -> Iterator[tuple[str, pd.Series]]:
        for series_id, group in self.records.groupby("series_id", sort=True, observed=True):
            yield (
                str(series_id),
                pd.Series(
                    group["value"].to_numpy(), index=pd.PeriodIndex(group["month"]), name=str(series_id)
                ),
            )

    def __repr__(self) -> str:
        if self.records.empty:
            return "SeriesPanel(0 series)"
        first, last = self.records["month"].min(), self.records["month"].max()
        return f"SeriesPanel({len(self)} series, {len(self.records):,} rows, {first}..{last})"

    # --- access -------------------------------------------------------------
    def series(self, series_id: str) -> pd.Series:
        """One series on its full monthly range, with NaN where a month is missing."""
        if series_id not in self.metadata.index:
            raise DataError("unknown series", series=series_id)
        rows = self.records[self.records["series_id"] == series_id]
        observed = pd.Series(rows["value"].to_numpy(), index=pd.PeriodIndex(rows["month"]))
        full = pd.period_range(observed.index.min(), observed.index.max(), freq="M")
        return observed.reindex(full).rename(series_id)

    def wide(self) -> pd.DataFrame:
        """Month x series frame (PeriodIndex rows), NaN where not reported."""
        wide = self.records.pivot(index="month", columns="series_id", values="value")
        full = pd.period_range(wide.index.min(), wide.index.max(), freq="M")
        wide = wide.reindex(full)
        wide.index.name = "month"
        wide.columns = wide.columns.astype(str)
        wide.columns.name = "series_id"
        return wide

    def spans(self) -> pd.DataFrame:
        """First month, last month, observed months and missing months per series."""
        grouped = self.records.groupby("series_id", observed=True)["month"]
        spans = pd.DataFrame({"first": grouped.min(), "last": grouped.max(), "observed": grouped.size()})
        length = (spans["last"] - spans["first"]).map(lambda offset: offset.n) + 1
        spans["missing"] = length - spans["observed"]
        spans.index = spans.index.astype(str)
        return spans

    # --- selection ----------------------------------------------------------
    def subset(self, series_ids: Iterable[str]) -> SeriesPanel:
        wanted = list(series_ids)
        unknown = sorted(set(wanted) - set(self.metadata.index))
        if unknown:
            raise DataError(f"unknown series {unknown[:5]}")
        kept = self.records[self.records["series_id"].isin(wanted)]
        return self.part(kept, structure=self.structure.restrict(wanted))

    def filter(self, **dimensions: str | Iterable[str]) -> SeriesPanel:
        """Keep series whose dimensions match, e.g. ``filter(flow="cargo")``."""
        mask = np.ones(len(self.metadata), dtype=bool)
        for column, wanted in dimensions.items():
            if column not in self.metadata.columns:
                raise DataError(f"unknown dimension {column!r}; known: {list(self.metadata.columns)}")
            allowed = [wanted] if isinstance(wanted, str) else list(wanted)
            mask &= self.metadata[column].isin(allowed).to_numpy(dtype=bool)
        return self.subset(self.metadata.index[mask])

    def without(self, series_ids: Iterable[str]) -> SeriesPanel:
        """The panel less some series; the hierarchy counts them as absent (zero) where they were."""
        dropped = set(series_ids)
        kept = self.records[~self.records["series_id"].astype(str).isin(dropped)]
        return self.part(kept, structure=self.structure.drop_series(dropped))

    def select(
        self,
        *,
        ids: Iterable[str] | None = None,
        match: str | None = None,
        since: str | pd.Period | None = None,
        limit: int | None = None,
    ) -> SeriesPanel:
        """Part of the panel, to try a command small first (``--ids``, ``--match``, ``--since``, ``--limit``).

        ``ids`` keeps the named series (unknown ones are an error), ``match`` those
        whose id contains the regular expression, ``since`` the months from that
        one on, and ``limit`` the first N series (in id order) of what is left.
        The hierarchy keeps the parents whose children are all kept.
        """
        selected = self if ids is None else self.subset(ids)
        if match is not None:
            pattern = _pattern(match)
            matched = [sid for sid in selected.series_ids if pattern.search(sid)]
            if not matched:
                raise DataError(f"the selection leaves no series: no id matches --match {match!r}")
            selected = selected.subset(matched)
        if since is not None:
            start = _month(since, "--since")
            kept = selected.records[selected.records["month"] >= start]
            if kept.empty:
                raise DataError(f"the selection leaves no series: no month from --since {start} on")
            selected = selected._keeping(kept)
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigError(f"must be a positive integer. Got {limit!r}", key="--limit")
            selected = selected.subset(selected.series_ids[:limit])
        return selected

    def stale(self, max_stale_months: int = DEFAULT_MAX_STALE_MONTHS) -> pd.DataFrame:
        """Series that ended more than ``max_stale_months`` before the panel's last month
        (:mod:`forecasting.data.staleness`)."""
        return stale_series(self.records, max_stale_months)

    def valueless(self) -> list[str]:
        """Series the load's quality report names that hold no month here: every row of theirs
        was blank or dropped, so no command can forecast them (they must be reported, not vanish)."""
        named = {issue.series_id for issue in self.report.issues if issue.series_id}
        return sorted(named - set(self.series_ids))

    def steps_to_window(self, horizon: int) -> int:
        """Months to forecast so that the series that ends first reaches the run's window
        (the panel's last month + 1 .. + ``horizon``): ``horizon`` plus how early it ended."""
        last = self.spans()["last"]
        return horizon + (last.max() - last.min()).n

    def until(self, month: str | pd.Period) -> SeriesPanel:
        """The panel as it was known at the end of ``month`` (for backtests)."""
        cutoff = pd.Period(month, freq="M")
        kept = self.records[self.records["month"] <= cutoff]
        if kept.empty:
            raise DataError(f"no data on or before {cutoff}")
        return self._keeping(kept)

    def _keeping(self, records: pd.DataFrame) -> SeriesPanel:
        """A panel of some of these ``records``; the hierarchy keeps the parents whose children all stay."""
        return self.part(records, structure=self.structure.restrict(records["series_id"].unique()))

    def part(self, records: pd.DataFrame, *, structure: SummingStructure | None = None) -> SeriesPanel:
        """A panel of a selection of this panel's ``records`` (rows kept in their order), with
        ``structure`` (None: none).

        What validation checked of each row and each series still holds for a
        selection of them, so only the structure is checked again: a backtest
        cuts dozens of panels from one, and checking 60,000 rows again takes 0.2 s each time.
        """
        if records.empty:  # the constructor says why a panel cannot be empty
            return SeriesPanel(records, self.report, structure=structure)
        part = object.__new__(SeriesPanel)
        part.records = records.reset_index(drop=True)
        part.metadata = self.metadata[self.metadata.index.isin(part.records["series_id"].unique())]
        part.report = self.report
        part.structure = structure if structure is not None else SummingStructure.empty()
        part.structure.check_series(part.metadata.index)
        return part

    def estimated_share(self) -> pd.DataFrame | None:
        """Month x series share of each value that stands in for unreported children (None if unknown)."""
        if "estimated_share" not in self.records.columns:
            return None
        return self.records.pivot(index="month", columns="series_id", values="estimated_share")

    def mismatched_parents(self) -> pd.DataFrame:
        """Parents of the structure whose history is not the sum of their children (see ``summing``)."""
        if not self.structure.aggregates:
            return mismatched_parents(pd.DataFrame(), self.structure)
        return mismatched_parents(self.wide(), self.structure, self.estimated_share())

    def to_long(self) -> pd.DataFrame:
        return self.records.copy()


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as error:
        raise ConfigError(f"not a valid regular expression ({error}). Got {text!r}", key="--match") from None


def _month(value: str | pd.Period, key: str) -> pd.Period:
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if not re.fullmatch(r"\d{4}-\d{2}", str(value)):
        raise ConfigError(f"must be a month YYYY-MM. Got {value!r}", key=key)
    try:
        return pd.Period(str(value), freq="M")
    except ValueError:
        raise ConfigError(f"must be a month YYYY-MM. Got {value!r}", key=key) from None


def _series_metadata(records: pd.DataFrame) -> pd.DataFrame:
    """One row per series with its dimensions (checked constant within it by :func:`check_panel`)."""
    columns = dimension_columns(records)
    grouped = records.groupby("series_id", sort=True, observed=True)
    metadata = grouped[columns].first() if columns else pd.DataFrame(index=grouped.size().index)
    metadata.index = metadata.index.astype(str)
    metadata.index.name = "series_id"
    return metadata


def log_unusable_input(panel: SeriesPanel) -> tuple[int, str | None]:
    """Log what of the input (``panel`` as loaded, before a selection) no model can use as it stands:
    the series that hold no value at all, and isolated spikes (keying errors every model would
    learn). Every command that forecasts or backtests a file says so; returns the valueless count
    and the spikes' one-line summary (None without any), for a command's own summary line."""
    valueless = panel.valueless()
    if valueless:
        summary = json.dumps(valueless_summary(valueless))
        logger.warning("event=valueless_series series=%d summary=%s", len(valueless), summary)
    spikes = spike_summary(panel.report)
    if spikes is not None:
        logger.warning("event=isolated_spikes summary=%s", json.dumps(spikes))
    return len(valueless), spikes
