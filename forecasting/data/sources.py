"""Declarative source descriptions: a new customs table in a few lines of TOML.

A :class:`SourceSpec` says how a table is written (separator, quoting,
thousands separator, decimal mark (``.``, ``,`` or ``auto``: the one that reads
every cell of the column), date column and format) and what each value
column means (flow, measure, direction), in which unit and currency, and by
how much to scale it to base units (``scale = 1e6`` for "millions of USD").
One generic loader, :func:`load_source`, reads every table so described;
the three agency trade tables in ``shared/data/trade`` are built in
(:data:`BUILTIN_SPECS`).

Example (a table of monthly exports in thousands of CNY, dates "2023-01")::

    name = "heihe_customs"
    series_prefix = "heihe"
    date_column = "Period"
    date_format = "%Y-%m"
    unit = "CNY"
    currency = "CNY"
    scale = 1000
    scale_label = "thousand CNY"
    regressors = ["Working days"]
    [values.Exports]
    flow = "trade_value"
    measure = "goods"
    direction = "export"

``regressors`` names columns known in advance (working days, a tariff flag):
they are loaded as numbers beside every series of the table, and
:class:`~forecasting.Forecaster` passes them to the models that take
regressors; the rest of a frame's columns it carries and never uses.
"""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.data.parsing import DECIMAL_MARKS, parse_months, parse_numbers
from forecasting.data.records import (
    Conflicts,
    LoadResult,
    check_negative_counts,
    drop_blank_values,
    finish_records,
    resolve_duplicates,
)
from forecasting.data.report import DataQualityReport
from forecasting.data.schema import DIRECTIONS, FLOWS, REGRESSORS_ATTR
from forecasting.data.tables import read_header, read_table, require_columns
from forecasting.data.transforms import ytd_to_monthly
from forecasting.errors import ConfigError, shorten
from forecasting.files import read_config_text


@dataclass(frozen=True)
class ValueColumn:
    """What one value column holds; the series id is ``<prefix>/<measure>/<direction>``."""

    flow: str
    measure: str
    direction: str
    series: str | None = None
    """Series id suffix after the prefix, instead of ``<measure>/<direction>``."""


@dataclass(frozen=True)
class SourceSpec:
    """How to read one published table into canonical records (see the module docstring)."""

    name: str
    series_prefix: str
    date_column: str
    values: Mapping[str, ValueColumn]
    unit: str
    currency: str | None = None
    scale: float = 1.0
    scale_label: str = ""
    date_format: str | None = None
    separator: str = ","
    quotechar: str = '"'
    thousands: str | None = ","
    decimal: str = "."
    encoding: str = "utf-8"
    source: str = ""
    crossing: str | None = None
    region: str | None = None
    ignore: Mapping[str, str] = field(default_factory=dict)
    """Columns deliberately not loaded -> the reason (reported on every load)."""
    cumulative: bool = False
    """Year-to-date cumulative values, converted to monthly ones on load."""
    regressors: tuple[str, ...] = ()
    """Columns of regressors known in advance, loaded as numbers beside every series (unscaled)."""

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, file: str | None = None) -> SourceSpec:
        """Build a spec from a mapping (parsed TOML), naming any bad key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; known: {sorted(known)}", key=unknown[0], file=file)
        for key in ("name", "series_prefix", "date_column", "values", "unit"):
            if key not in config:
                raise ConfigError("required key is missing", key=key, file=file)
        values = config["values"]
        if not isinstance(values, Mapping) or not values:
            raise ConfigError(
                "must map at least one column to {flow, measure, direction}", key="values", file=file
            )
        _check_reading_options(config, file)
        _check_decimal(config.get("decimal", "."), file)
        parsed = {str(column): _value_column(column, entry, file) for column, entry in values.items()}
        scale = config.get("scale", 1.0)
        if not isinstance(scale, int | float) or scale <= 0:
            raise ConfigError(f"must be a positive number. Got {scale!r} instead.", key="scale", file=file)
        regressors = _regressor_columns(config, file)
        return cls(
            **{
                **config,
                "values": parsed,
                "scale": float(scale),
                "ignore": dict(config.get("ignore", {})),
                "regressors": regressors,
            }
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> SourceSpec:
        """Read a spec from a TOML file (see the module docstring for an example)."""
        try:
            config = tomllib.loads(read_config_text(path))  # a regular file of at most 1 MiB
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid TOML: {error}", file=str(path)) from error
        return cls.from_dict(config, file=str(path))

    @property
    def columns(self) -> list[str]:
        """Every column the table is described to have."""
        return [self.date_column, *self.values, *self.regressors, *self.ignore]


def _regressor_columns(config: Mapping[str, Any], file: str | None) -> tuple[str, ...]:
    """``regressors``: distinct column names, none of them the date, a value or an ignored column."""
    regressors = config.get("regressors", ())
    if not isinstance(regressors, list | tuple) or not all(isinstance(c, str) and c for c in regressors):
        raise ConfigError(
            f"must be a list of column names. Got {shorten(regressors)} instead.", key="regressors", file=file
        )
    taken = {config["date_column"], *config["values"], *config.get("ignore", {})}
    clashing = [c for c in regressors if c in taken or regressors.count(c) > 1]
    if clashing:
        raise ConfigError(
            f"column {shorten(clashing[0])} is named twice (a regressor is not the date, a value "
            "or an ignored column)",
            key="regressors",
            file=file,
        )
    return tuple(regressors)


def _check_decimal(decimal: Any, file: str | None) -> None:
    """``decimal`` is ``.``, ``,`` or ``auto`` (with ``decimal = ","`` alone, thousands default to ``.``)."""
    if decimal not in (*DECIMAL_MARKS, "auto"):
        raise ConfigError(f"must be '.', ',' or 'auto'. Got {decimal!r} instead.", key="decimal", file=file)


_DEFAULT_MARKS = {"decimal": ".", "separator": ","}


def _check_reading_options(config: Mapping[str, Any], file: str | None) -> None:
    """Encoding, separator, quote, thousands and decimal marks the CSV reader accepts (else a traceback)."""
    encoding = config.get("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ConfigError(f"unknown text encoding {shorten(encoding)}", key="encoding", file=file) from None
    marks = {key: config[key] for key in ("separator", "quotechar", "decimal") if key in config}
    if marks.get("decimal") == "auto":
        del marks["decimal"]  # not a mark: the column decides (checked by _check_decimal)
    if config.get("thousands") is not None:
        marks["thousands"] = config["thousands"]
    for key, mark in marks.items():
        if not isinstance(mark, str) or len(mark) != 1 or mark in "\r\n":
            message = f"must be one character (not a line break). Got {shorten(mark)}"
            raise ConfigError(message, key=key, file=file)
    for first, second in (("thousands", "decimal"), ("quotechar", "separator")):
        if first in marks and marks[first] == marks.get(second, _DEFAULT_MARKS[second]):
            raise ConfigError(f"must differ from {second} (both {marks[first]!r})", key=first, file=file)


def _value_column(column: str, entry: Any, file: str | None) -> ValueColumn:
    key = f"values.{column}"
    if isinstance(entry, ValueColumn):
        return entry
    if not isinstance(entry, Mapping):
        raise ConfigError("must be a table with flow, measure and direction", key=key, file=file)
    try:
        spec = ValueColumn(**entry)
    except TypeError as error:
        raise ConfigError(
            f"needs flow, measure, direction (and optional series): {error}", key=key, file=file
        ) from error
    if spec.flow not in FLOWS:
        raise ConfigError(f"flow must be one of {FLOWS}. Got {spec.flow!r} instead.", key=key, file=file)
    if spec.direction not in DIRECTIONS:
        raise ConfigError(
            f"direction must be one of {DIRECTIONS}. Got {spec.direction!r} instead.", key=key, file=file
        )
    return spec


_TRADE_VALUES = {
    "Exports": ValueColumn(flow="trade_value", measure="goods", direction="export"),
    "Imports": ValueColumn(flow="trade_value", measure="goods", direction="import"),
}

BUILTIN_SPECS: dict[str, SourceSpec] = {
    "us_census": SourceSpec(
        name="us_census",
        series_prefix="us-china",
        date_column="Month",
        date_format="%B %Y",
        values=_TRADE_VALUES,
        unit="USD",
        currency="USD",
        scale=1e6,
        scale_label="million USD",
        separator=";",
        thousands=",",
        source="US Census Bureau",
        region="US-China",
        ignore={"Balance": "derived (Exports - Imports, negative); recompute it from the two loaded flows"},
    ),
    "japan_mof": SourceSpec(
        name="japan_mof",
        series_prefix="japan-china",
        date_column="Date",
        date_format="%Y/%m",
        values=_TRADE_VALUES,
        unit="JPY",
        currency="JPY",
        scale=1e3,
        scale_label="thousand JPY",
        separator=";",
        source="Ministry of Finance Japan",
        region="Japan-China",
    ),
    "kosis": SourceSpec(
        name="kosis",
        series_prefix="korea-china",
        date_column="Date",
        date_format="%Y.%m",
        values=_TRADE_VALUES,
        unit="USD",
        currency="USD",
        scale=1e3,
        scale_label="thousand USD",
        separator=",",
        quotechar='"',
        source="KOSIS",
        region="Korea-China",
        ignore={"Country": "the partner country, constant (China)"},
    ),
}
"""The agency trade tables in shared/data/trade; values are scaled to USD or JPY."""


def detect_spec(path: str | Path) -> str | None:
    """The name of the built-in spec whose columns are exactly the table's header, if any."""
    header = set(read_header(path))
    for name, spec in BUILTIN_SPECS.items():
        if header == set(spec.columns):
            return name
    return None


def load_source(spec: SourceSpec, path: str | Path, *, conflicts: Conflicts = "error") -> LoadResult:
    """Load a table described by ``spec``: parse, scale to base units, report every step."""
    file = str(path)
    raw = read_table(path, sep=spec.separator, quotechar=spec.quotechar, encoding=spec.encoding)
    require_columns(raw, [spec.date_column, *spec.values, *spec.regressors], file=file)
    report = DataQualityReport(source=file, rows_read=len(raw))
    _report_unused_columns(spec, raw, report, file)
    formats = [spec.date_format] if spec.date_format else None
    months = parse_months(raw[spec.date_column], file=file, column=spec.date_column, formats=formats)
    regressors = {
        column: parse_numbers(
            raw[column], thousands=spec.thousands, decimal=spec.decimal, file=file, column=column
        )
        for column in spec.regressors
    }
    parts = []
    for column, meaning in spec.values.items():
        values = parse_numbers(
            raw[column], thousands=spec.thousands, decimal=spec.decimal, file=file, column=column
        )
        suffix = meaning.series or f"{meaning.measure}/{meaning.direction}"
        parts.append(
            pd.DataFrame(
                {
                    "series_id": f"{spec.series_prefix}/{suffix}",
                    "month": months,
                    "value": values * spec.scale,
                    "crossing": spec.crossing,
                    "region": spec.region,
                    "flow": meaning.flow,
                    "measure": meaning.measure,
                    "direction": meaning.direction,
                    "unit": spec.unit,
                    "currency": spec.currency,
                    "source": spec.source or spec.name,
                    **regressors,
                },
                index=raw.index,
            )
        )
        if spec.scale != 1.0:
            report.add(
                "converted",
                f"column {column!r} scaled by {spec.scale:g} "
                f"({spec.scale_label or 'as published'} -> {spec.unit})",
                count=int(values.notna().sum()),
                file=file,
            )
    records = pd.concat(parts)
    records.attrs[REGRESSORS_ATTR] = list(spec.regressors)
    records = drop_blank_values(records, report, file=file)
    if spec.cumulative:
        records = ytd_to_monthly(records, report, file=file)
    check_negative_counts(records, file=file)
    records = resolve_duplicates(records, report, file=file, conflicts=conflicts)
    return finish_records(records, report, file=file)


def _report_unused_columns(spec: SourceSpec, raw: pd.DataFrame, report: DataQualityReport, file: str) -> None:
    for column, reason in spec.ignore.items():
        if column in raw.columns:
            report.add("dropped", f"column {column!r} not loaded: {reason}", count=len(raw), file=file)
    for column in [c for c in raw.columns if c not in spec.columns]:
        report.add(
            "warning",
            f"column {column!r} is not described by spec {spec.name!r}; not loaded",
            count=len(raw),
            file=file,
        )
