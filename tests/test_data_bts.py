"""The raw BTS Border Crossing Entry Data: the real file (one session load) and small generated ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecasting.data.loaders import LoadResult, load, load_bts
from forecasting.errors import DataError
from forecasting.panel import SeriesPanel

BTS_FILE = Path("border_crossings") / "Border_Crossing_Entry_Data.csv.gz"
HEADER = "Port Name,State,Port Code,Border,Date,Measure,Value,Latitude,Longitude,Point\n"
ROW = "Portland,Maine,0101,US-Canada Border,{date},{measure},{value},43.6,-70.3,POINT (-70.3 43.6)\n"


@pytest.fixture(scope="session")
def bts(shared_data: Path) -> LoadResult:
    """The full file, loaded once; its one conflicting duplicate dropped (see test below)."""
    return load_bts(shared_data / BTS_FILE, conflicts="drop")


def test_real_file_counts_exact_duplicates_and_lists_the_conflict(bts: LoadResult) -> None:
    issues = bts.report.to_frame()
    exact = issues[issues["reason"].str.startswith("exact duplicate")]
    assert exact["count"].tolist() == [10]
    conflict = issues[issues["reason"].str.startswith("conflicting duplicate")]
    assert conflict[["series_id", "month", "count"]].values.tolist() == [
        ["bts/2606/bus-passengers", "2021-02", 2]
    ]
    assert "[0.0, 2175.0]" in conflict["reason"].iloc[0]
    assert bts.report.rows_read == 388_822
    assert len(bts.records) == 388_822 - 10 - 2


def test_real_file_values_and_dimensions(bts: LoadResult) -> None:
    records = bts.records.set_index(["series_id", "month"])
    progreso = records.loc[("bts/2309/trucks", pd.Period("2023-10", "M"))]
    assert progreso["value"] == 4957.0
    assert (progreso["crossing"], progreso["region"], progreso["flow"], progreso["unit"]) == (
        "Progreso, Texas",
        "US-Mexico Border",
        "cargo",
        "vehicles",
    )
    assert progreso["direction"] == "inbound" and progreso["port_code"] == "2309"
    eastports = bts.records.loc[bts.records["crossing"].str.startswith("Eastport"), "crossing"].unique()
    assert sorted(eastports) == ["Eastport, Idaho", "Eastport, Maine"]  # same name, two crossings
    portland = bts.records[bts.records["port_code"] == "0101"]
    assert not portland.empty and portland["series_id"].str.startswith("bts/0101/").all()
    flows = bts.records.groupby("measure")[["flow", "unit"]].first()
    assert tuple(flows.loc["personal_vehicles"]) == ("passengers", "vehicles")
    assert tuple(flows.loc["pedestrians"]) == ("passengers", "persons")
    assert tuple(flows.loc["rail_containers_loaded"]) == ("cargo", "containers")
    assert set(bts.records["region"]) == {"US-Canada Border", "US-Mexico Border"}
    assert bts.records["month"].min() == pd.Period("1996-01", "M")
    assert bts.records["month"].max() == pd.Period("2023-12", "M")
    assert bts.records["series_id"].nunique() == 1379


def test_real_file_panel_is_valid(bts: LoadResult) -> None:
    panel = SeriesPanel.from_load(bts)
    assert len(panel) == 1379
    assert panel.metadata.loc["bts/0101/trucks", "state"] == "Maine"


def test_real_file_shared_level_shifts_are_the_count_change_and_the_border_closure(bts: LoadResult) -> None:
    """Loaded truck containers jump by half at most ports from 2023-07; passenger cars collapse in 2020-04."""
    from forecasting.features.breaks import shared_level_shifts

    shifts = shared_level_shifts(SeriesPanel.from_load(bts)).set_index(["group", "month"])
    loaded = shifts.loc[("cargo truck_containers_loaded inbound containers", "2023-07")]
    assert loaded["direction"] == "up" and 1.5 < loaded["median_ratio"] < 2.0
    assert loaded["series_shifting"] > 0.7 * loaded["series_observed"]
    closure = shifts.loc[("passengers personal_vehicles inbound vehicles", "2020-04")]
    assert closure["direction"] == "down" and closure["median_ratio"] < 0.2
    groups = set(shifts.index.get_level_values("group"))
    assert "cargo trucks inbound vehicles" not in groups  # the trucks carrying those containers did not move


def bts_file(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "bts.csv"
    body = "".join(ROW.format(date=d, measure=m, value=v) for d, m, v in rows)
    path.write_text(HEADER + body)
    return path


def test_small_file_conflict_is_an_error_listing_the_rows(tmp_path: Path) -> None:
    path = bts_file(
        tmp_path, [("Jan 2023", "Trucks", "5"), ("Feb 2023", "Trucks", "6"), ("Jan 2023", "Trucks", "7")]
    )
    with pytest.raises(DataError, match=r"bts/0101/trucks@2023-01 values \[5.0, 7.0\] \(rows 2, 4\)"):
        load_bts(path)
    kept = load_bts(path, conflicts="drop").records
    assert list(kept["month"].astype(str)) == ["2023-02"]


def test_small_file_auto_detected_and_leading_zero_kept(tmp_path: Path) -> None:
    path = bts_file(tmp_path, [("Jan 2023", "Bus Passengers", "12"), ("Jan 2023", "Bus Passengers", "12")])
    result = load(path)
    assert result.records["series_id"].tolist() == ["bts/0101/bus-passengers"]
    assert result.report.count("dropped") == 1


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ([("Jan 2023", "Camels", "1")], "row 2, column 'Measure': unknown measure 'Camels'"),
        ([("Jan 2023", "Trucks", "-1")], "row 2, column 'value', series 'bts/0101/trucks': negative count"),
        ([("Jan 2023", "Trucks", "1"), ("Fbr 2023", "Trucks", "1")], "row 3, column 'Date'.*'Fbr 2023'"),
    ],
)
def test_small_file_errors(tmp_path: Path, rows: list[tuple[str, str, str]], pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        load_bts(bts_file(tmp_path, rows))


def test_missing_bts_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bts.csv"
    path.write_text(
        "Port Name,State,Port Code,Border,Date,Value\nPortland,Maine,0101,US-Canada Border,Jan 2023,1\n"
    )
    with pytest.raises(DataError, match=r"missing required column\(s\) \['Measure'\]"):
        load_bts(path)
