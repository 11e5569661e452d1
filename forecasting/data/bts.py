"""The BTS Border Crossing Entry Data (data.bts.gov dataset keg4-3bc2), raw as published.

One series per port and measure, id ``bts/<port code>/<measure>`` (e.g.
``bts/2309/trucks``). CBP counts entries into the US, so every series has
direction ``inbound``; ``crossing`` is "port name, state" (port names repeat:
there is an Eastport in Idaho and one in Maine), ``region`` the border,
and ``port_code`` (kept as a string, leading zeros included) and ``state``
are kept as extra dimensions.

Flow of vehicle counts: ``Personal Vehicles`` and ``Buses`` carry people, so
they are ``passengers`` flows with unit ``vehicles`` (as BTS groups them);
``Trucks``, ``Trains`` and the loaded/empty containers are ``cargo``. The unit
column keeps vehicle counts apart from person counts within the flow.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.data.parsing import parse_months, parse_numbers
from forecasting.data.records import (
    Conflicts,
    LoadResult,
    check_negative_counts,
    drop_blank_values,
    finish_records,
    resolve_duplicates,
)
from forecasting.data.report import DataQualityReport
from forecasting.data.tables import read_table, require_columns, strip_text
from forecasting.errors import DataError, shorten

BTS_COLUMNS: tuple[str, ...] = ("Port Name", "State", "Port Code", "Border", "Date", "Measure", "Value")
"""The columns the loader needs; Latitude, Longitude and Point are read but not kept."""

BTS_MEASURES: dict[str, tuple[str, str]] = {
    "Trucks": ("cargo", "vehicles"),
    "Truck Containers Loaded": ("cargo", "containers"),
    "Truck Containers Empty": ("cargo", "containers"),
    "Trains": ("cargo", "trains"),
    "Rail Containers Loaded": ("cargo", "containers"),
    "Rail Containers Empty": ("cargo", "containers"),
    "Personal Vehicle Passengers": ("passengers", "persons"),
    "Bus Passengers": ("passengers", "persons"),
    "Train Passengers": ("passengers", "persons"),
    "Pedestrians": ("passengers", "persons"),
    "Personal Vehicles": ("passengers", "vehicles"),
    "Buses": ("passengers", "vehicles"),
}
"""BTS measure -> (flow, unit)."""


def load_bts(path: str | Path, *, conflicts: Conflicts = "error") -> LoadResult:
    """Load the raw BTS Border Crossing Entry Data CSV (gzip ok), vectorised.

    Exact duplicate rows are dropped and counted. Rows with the same port,
    month and measure but different values are a :class:`DataError` listing
    them, or with ``conflicts="drop"`` are all dropped (the month stays
    missing) and reported with their values.
    """
    file = str(path)
    raw = read_table(path)
    require_columns(raw, BTS_COLUMNS, file=file)
    report = DataQualityReport(source=file, rows_read=len(raw))
    raw = raw.loc[:, list(BTS_COLUMNS)]
    for column in BTS_COLUMNS:
        raw[column] = strip_text(raw[column])
    unknown = ~raw["Measure"].isin(list(BTS_MEASURES))
    if unknown.any():
        first = raw.index[unknown][0]
        raise DataError(
            f"unknown measure {shorten(raw.at[first, 'Measure'])}; known: {sorted(BTS_MEASURES)}",
            file=file,
            row=int(first),
            column="Measure",
        )
    blank_code = raw["Port Code"] == ""
    if blank_code.any():
        raise DataError("blank port code", file=file, row=int(raw.index[blank_code][0]), column="Port Code")
    # One map per field: a map to tuples gives list<string> under pandas 3's pyarrow strings, no ``.str[i]``.
    flow, unit = (raw["Measure"].map({m: pair[i] for m, pair in BTS_MEASURES.items()}) for i in (0, 1))
    measure = raw["Measure"].str.lower().str.replace(" ", "_", regex=False)
    records = pd.DataFrame(
        {
            "series_id": "bts/" + raw["Port Code"] + "/" + measure.str.replace("_", "-", regex=False),
            "month": parse_months(raw["Date"], file=file, column="Date"),
            "value": parse_numbers(raw["Value"], file=file, column="Value"),
            "crossing": raw["Port Name"] + ", " + raw["State"],
            "region": raw["Border"],
            "flow": flow,
            "measure": measure,
            "direction": "inbound",
            "unit": unit,
            "source": "bts",
            "port_code": raw["Port Code"],
            "state": raw["State"],
        },
        index=raw.index,
    )
    records = drop_blank_values(records, report, file=file)
    check_negative_counts(records, file=file)
    records = resolve_duplicates(records, report, file=file, key=("series_id", "month"), conflicts=conflicts)
    return finish_records(records, report, file=file)
