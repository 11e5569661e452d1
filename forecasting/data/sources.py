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

A long table (``series_id, month, value``, extra columns kept as dimensions)
is described with ``layout = "long"``; its ``flow``, ``measure`` and
``direction`` are then top-level keys, for every series. ``id_dimensions``
reads dimension values out of the series ids (the named groups of a regular
expression), and a ``[summing]`` table declares the dimensions the series add
up along, from which ``series build`` writes a grouped summing structure
(:mod:`~forecasting.features.grouped`)::

    name = "swiss_exports"
    layout = "long"
    unit = "CHF"
    flow = "trade_value"
    measure = "goods"
    direction = "export"
    id_dimensions = '^region_group/(?P<region>[a-z]{2})(?P<goods_group>[0-9]{2})$'
    [summing]
    dimensions = ["region", "goods_group"]  # total = sum over regions = sum over goods groups
"""

from __future__ import annotations

import codecs
import re
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
from forecasting.data.schema import DIRECTIONS, FLOWS, KEY_COLUMNS, REGRESSORS_ATTR
from forecasting.data.tables import read_header, read_table, require_columns
from forecasting.data.transforms import ytd_to_monthly
from forecasting.errors import ConfigError, DataError, shorten
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
    unit: str
    series_prefix: str = ""
    date_column: str = ""
    values: Mapping[str, ValueColumn] = field(default_factory=dict)
    layout: str = "wide"
    """``wide`` (a date column and value columns described in ``values``) or ``long`` (:data:`LAYOUTS`)."""
    flow: str | None = None
    measure: str | None = None
    direction: str | None = None
    """``layout = "long"``: the flow, measure and direction of every series (wide: per value column)."""
    id_dimensions: str | None = None
    """A regular expression whose named groups, matched against each series id, become dimension columns."""
    summing: tuple[tuple[str, ...], ...] = ()
    """``[summing] dimensions``: each a dimension, or a path of nested ones from coarse to fine, along
    which the series add up to one total (a grouped structure when there are several)."""
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
        layout = config.get("layout", "wide")
        if layout not in LAYOUTS:
            raise ConfigError(f"must be one of {LAYOUTS}. Got {layout!r} instead.", key="layout", file=file)
        for key in REQUIRED_KEYS[layout]:
            if key not in config:
                raise ConfigError("required key is missing", key=key, file=file)
        misplaced = sorted(set(config) & set(ONLY_FOR[_other_layout(layout)]))
        if misplaced:
            raise ConfigError(f"only for layout = {_other_layout(layout)!r}", key=misplaced[0], file=file)
        _check_reading_options(config, file)
        _check_decimal(config.get("decimal", "."), file)
        parsed = {}
        if layout == "wide":
            values = config["values"]
            if not isinstance(values, Mapping) or not values:
                raise ConfigError(
                    "must map at least one column to {flow, measure, direction}", key="values", file=file
                )
            parsed = {str(column): _value_column(column, entry, file) for column, entry in values.items()}
        else:
            _check_flow_and_direction(config.get("flow"), config.get("direction"), key=None, file=file)
        scale = config.get("scale", 1.0)
        if not isinstance(scale, int | float) or scale <= 0:
            raise ConfigError(f"must be a positive number. Got {scale!r} instead.", key="scale", file=file)
        regressors = _regressor_columns(config, file) if layout == "wide" else ()
        _id_pattern(config.get("id_dimensions"), file)
        return cls(
            **{
                **config,
                "values": parsed,
                "scale": float(scale),
                "ignore": dict(config.get("ignore", {})),
                "regressors": regressors,
                "summing": _summing(config.get("summing"), file),
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
        if self.layout == "long":
            return [*KEY_COLUMNS, *self.ignore]
        return [self.date_column, *self.values, *self.regressors, *self.ignore]

    @property
    def constants(self) -> dict[str, str | None]:
        """Dimension values the spec gives every series of a long table."""
        names = ("flow", "measure", "direction", "unit", "currency", "crossing", "region")
        given = {name: getattr(self, name) for name in names}
        return {**{k: v for k, v in given.items() if v is not None}, "source": self.source or self.name}


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


LAYOUTS: tuple[str, ...] = ("wide", "long")
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "wide": ("name", "series_prefix", "date_column", "values", "unit"),
    "long": ("name", "unit"),
}
ONLY_FOR: dict[str, tuple[str, ...]] = {
    "wide": ("series_prefix", "date_column", "values", "date_format", "cumulative", "regressors"),
    "long": ("flow", "measure", "direction"),
}
"""Keys that describe one layout only (a long table's months and ids are its own columns)."""


def _other_layout(layout: str) -> str:
    return LAYOUTS[1 - LAYOUTS.index(layout)]


def _check_flow_and_direction(flow: Any, direction: Any, *, key: str | None, file: str | None) -> None:
    if flow is not None and flow not in FLOWS:
        raise ConfigError(f"flow must be one of {FLOWS}. Got {flow!r} instead.", key=key or "flow", file=file)
    if direction is not None and direction not in DIRECTIONS:
        raise ConfigError(
            f"direction must be one of {DIRECTIONS}. Got {direction!r} instead.",
            key=key or "direction",
            file=file,
        )


def _id_pattern(pattern: Any, file: str | None) -> re.Pattern[str] | None:
    """``id_dimensions`` compiled; it must name at least one group, none of them a key column."""
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        message = f"must be a regular expression. Got {shorten(pattern)}"
        raise ConfigError(message, key="id_dimensions", file=file)
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"not a regular expression: {error}", key="id_dimensions", file=file) from None
    names = list(compiled.groupindex)
    if not names or set(names) & set(KEY_COLUMNS):
        raise ConfigError(
            f"needs named groups, e.g. (?P<partner>...), none of them {list(KEY_COLUMNS)}. Got {names}",
            key="id_dimensions",
            file=file,
        )
    return compiled


def _is_path(entry: Any) -> bool:
    """A dimension name, or a non-empty list of names."""
    if isinstance(entry, str):
        return True
    return isinstance(entry, list) and bool(entry) and all(isinstance(name, str) for name in entry)


def _summing(table: Any, file: str | None) -> tuple[tuple[str, ...], ...]:
    """``[summing] dimensions``: a list of names or of nested paths of names, every name once."""
    if table is None:
        return ()
    key = "summing.dimensions"
    if not isinstance(table, Mapping) or set(table) != {"dimensions"}:
        raise ConfigError("must be a table with one key, dimensions", key="summing", file=file)
    entries = table["dimensions"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError("must be a non-empty list of dimensions", key=key, file=file)
    paths = tuple(
        (entry,) if isinstance(entry, str) else tuple(entry) for entry in entries if _is_path(entry)
    )
    names = [name for path in paths for name in path]
    if len(paths) != len(entries) or not all(names):
        raise ConfigError(
            f"each entry is a dimension name or a list of names (coarse to fine). Got {shorten(entries)}",
            key=key,
            file=file,
        )
    if len(set(names)) < len(names) or set(names) & set(KEY_COLUMNS):
        raise ConfigError(
            f"names each dimension once and none of {list(KEY_COLUMNS)}. Got {names}", key=key, file=file
        )
    return paths


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
    _check_flow_and_direction(spec.flow, spec.direction, key=key, file=file)
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
    records = with_id_dimensions(records, spec, report, file=file)
    check_negative_counts(records, file=file)
    records = resolve_duplicates(records, report, file=file, conflicts=conflicts)
    return finish_records(records, report, file=file)


def describe_long_records(
    records: pd.DataFrame, spec: SourceSpec, report: DataQualityReport, *, file: str
) -> pd.DataFrame:
    """A long table's records with the spec's dimensions for every series, its scale and id dimensions.

    A dimension given both by the spec and by a column of the table is an
    error: which one holds is not for the loader to guess.
    """
    clash = sorted(set(spec.constants) & set(records.columns))
    if clash:
        raise DataError(f"column(s) {clash} given both by the table and by spec {spec.name!r}", file=file)
    _report_unused_columns(spec, records, report, file)
    records = records.drop(columns=[c for c in spec.ignore if c in records.columns]).assign(**spec.constants)
    if spec.scale != 1.0:
        records["value"] = records["value"] * spec.scale
        report.add(
            "converted",
            f"values scaled by {spec.scale:g} ({spec.scale_label or 'as published'} -> {spec.unit})",
            count=int(records["value"].notna().sum()),
            file=file,
        )
    return with_id_dimensions(records, spec, report, file=file)


def with_id_dimensions(
    records: pd.DataFrame, spec: SourceSpec, report: DataQualityReport, *, file: str
) -> pd.DataFrame:
    """``records`` plus one column per named group of ``spec.id_dimensions``, read from the series ids.

    Ids the expression does not match get no value (they stay outside any
    summing along those dimensions), counted in the report.
    """
    pattern = _id_pattern(spec.id_dimensions, file)
    if pattern is None:
        return records
    names = list(pattern.groupindex)
    clash = sorted(set(names) & set(records.columns))
    if clash:
        raise DataError(f"id_dimensions names column(s) the records already have: {clash}", file=file)
    ids = pd.Series(records["series_id"].astype("string").unique())
    found = ids.str.extract(pattern)[names].set_axis(pd.Index(ids)).astype("string")
    unmatched = found.isna().all(axis=1)
    if unmatched.any():
        shown = ", ".join(found.index[unmatched][:3])
        report.add(
            "warning",
            f"series id not matched by id_dimensions: no {', '.join(names)} (e.g. {shown})",
            count=int(unmatched.sum()),
            file=file,
        )
    positions = found.index.get_indexer(records["series_id"].astype("string"))
    return records.assign(**{name: found[name].to_numpy()[positions] for name in names})


def _report_unused_columns(spec: SourceSpec, raw: pd.DataFrame, report: DataQualityReport, file: str) -> None:
    for column, reason in spec.ignore.items():
        if column in raw.columns:
            report.add("dropped", f"column {column!r} not loaded: {reason}", count=len(raw), file=file)
    if spec.layout == "long":
        return  # a long table's other columns are dimensions
    for column in [c for c in raw.columns if c not in spec.columns]:
        report.add(
            "warning",
            f"column {column!r} is not described by spec {spec.name!r}; not loaded",
            count=len(raw),
            file=file,
        )
