"""Declarative source specs: the three real agency tables and a new table described in TOML."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecasting.data.loaders import BUILTIN_SPECS, SourceSpec, load, load_source, load_spec
from forecasting.data.tables import read_header
from forecasting.errors import ConfigError, DataError

TRADE = Path("trade")


def value_at(records: pd.DataFrame, series_id: str, month: str) -> float:
    rows = records[(records["series_id"] == series_id) & (records["month"] == pd.Period(month, "M"))]
    assert len(rows) == 1
    return float(rows["value"].iloc[0])


def test_us_census_scaled_to_usd(shared_data: Path) -> None:
    result = load(shared_data / TRADE / "usa-china-trade-data.csv")
    records = result.records
    # 8,427.5 million USD as published -> 8.4275e9 USD in base units
    assert value_at(records, "us-china/goods/import", "2001-01") == 8.4275e9
    assert value_at(records, "us-china/goods/export", "2001-01") == 1.1875e9
    assert value_at(records, "us-china/goods/import", "2019-12") == 33_418.1e6
    assert set(records["series_id"]) == {"us-china/goods/export", "us-china/goods/import"}
    assert (records["unit"] == "USD").all() and (records["currency"] == "USD").all()
    assert records.groupby("series_id").size().tolist() == [228, 228]
    reasons = result.report.to_frame()["reason"]
    assert reasons.str.contains("column 'Balance' not loaded: derived").any()
    assert reasons.str.contains(r"scaled by 1e\+06 \(million USD -> USD\)").sum() == 2


def test_us_balance_is_exports_minus_imports(shared_data: Path) -> None:
    # the reason the Balance column is not loaded: it is derived from the two loaded flows
    raw = pd.read_csv(shared_data / TRADE / "usa-china-trade-data.csv", sep=";", thousands=",")
    assert (raw["Exports"] - raw["Imports"] - raw["Balance"]).abs().max() < 0.11


def test_japan_mof_scaled_to_jpy(shared_data: Path) -> None:
    records = load(shared_data / TRADE / "japan-china-trade-data.csv").records
    assert value_at(records, "japan-china/goods/export", "2001-01") == 231_700_220e3
    assert value_at(records, "japan-china/goods/import", "2001-01") == 586_529_635e3
    assert (records["currency"] == "JPY").all()
    assert records["month"].max() == pd.Period("2019-12", "M")


def test_kosis_scaled_to_usd(shared_data: Path) -> None:
    result = load(shared_data / TRADE / "korea-china-trade-data.csv")
    records = result.records
    assert value_at(records, "korea-china/goods/export", "2001-01") == 1_239_083e3
    assert value_at(records, "korea-china/goods/import", "2001-01") == 999_763e3
    assert value_at(records, "korea-china/goods/export", "2019-10") == 12_243_754e3
    assert result.report.to_frame()["reason"].str.contains("column 'Country' not loaded").any()


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("us_census", "usa-china-trade-data.csv"),
        ("japan_mof", "japan-china-trade-data.csv"),
        ("kosis", "korea-china-trade-data.csv"),
    ],
)
def test_builtin_specs_match_their_headers(shared_data: Path, name: str, file: str) -> None:
    assert set(read_header(shared_data / TRADE / file)) == set(BUILTIN_SPECS[name].columns)


SPEC_TOML = """
name = "heihe_customs"
series_prefix = "heihe-blagoveshchensk"
date_column = "Period"
date_format = "%Y-%m"
separator = "|"
thousands = " "
decimal = ","
unit = "CNY"
currency = "CNY"
scale = 1000
scale_label = "thousand CNY"
crossing = "heihe-blagoveshchensk"
region = "Heilongjiang"

[values.Exports]
flow = "trade_value"
measure = "goods"
direction = "export"

[values.Passengers]
flow = "passengers"
measure = "persons"
direction = "both"
series = "passengers/both"

[ignore]
Note = "free-text remarks"
"""


def test_new_table_described_in_toml(tmp_path: Path) -> None:
    spec_path = tmp_path / "heihe.toml"
    spec_path.write_text(SPEC_TOML)
    table = tmp_path / "heihe.txt"
    table.write_text("Period|Exports|Passengers|Note\n2024-01|1 234,5|12|\n2024-02|2 000|15|CNY holiday\n")
    result = load(table, format=str(spec_path))
    records = result.records.set_index("series_id")
    exports = records.loc["heihe-blagoveshchensk/goods/export"]
    assert exports["value"].tolist() == [1_234_500.0, 2_000_000.0]
    assert set(exports["currency"]) == {"CNY"} and set(exports["region"]) == {"Heilongjiang"}
    # the scale applies to every value column: passengers counted in thousands here
    assert records.loc["heihe-blagoveshchensk/passengers/both", "value"].tolist() == [12_000.0, 15_000.0]
    assert result.report.count("converted") == 4


def test_spec_from_dict_names_bad_keys() -> None:
    base = {
        "name": "x",
        "series_prefix": "x",
        "date_column": "d",
        "unit": "USD",
        "values": {"v": {"flow": "trade_value", "measure": "goods", "direction": "export"}},
    }
    assert SourceSpec.from_dict(base).values["v"].direction == "export"
    with pytest.raises(ConfigError, match="key 'colour'"):
        SourceSpec.from_dict({**base, "colour": "red"})
    with pytest.raises(ConfigError, match="key 'date_column'"):
        SourceSpec.from_dict({k: v for k, v in base.items() if k != "date_column"})
    with pytest.raises(ConfigError, match=r"key 'values.v'.*flow must be one of"):
        SourceSpec.from_dict(
            {**base, "values": {"v": {"flow": "tea", "measure": "goods", "direction": "export"}}}
        )
    with pytest.raises(ConfigError, match="key 'scale'"):
        SourceSpec.from_dict({**base, "scale": -1})


def test_spec_errors_on_wrong_date_format_and_missing_column(tmp_path: Path) -> None:
    spec = BUILTIN_SPECS["japan_mof"]
    bad_date = tmp_path / "jp.csv"
    bad_date.write_text("Date;Exports;Imports\n2001/01;1;2\n2001-02;1;2\n")
    with pytest.raises(DataError, match="row 3, column 'Date'.*'2001-02'"):
        load_source(spec, bad_date)
    missing = tmp_path / "jp2.csv"
    missing.write_text("Date;Exports\n2001/01;1\n")
    with pytest.raises(DataError, match=r"missing required column\(s\) \['Imports'\]"):
        load_source(spec, missing)


def test_cumulative_table_described_in_toml(tmp_path: Path) -> None:
    # a year-to-date customs table whose first release each year is January-February combined
    spec = SourceSpec.from_dict(
        {
            "name": "manzhouli_ytd",
            "series_prefix": "manzhouli",
            "date_column": "Month",
            "date_format": "%Y-%m",
            "unit": "tonnes",
            "scale": 1e4,
            "scale_label": "ten thousand tonnes",
            "cumulative": True,
            "values": {"Cargo": {"flow": "cargo", "measure": "rail", "direction": "import"}},
        }
    )
    table = tmp_path / "ytd.csv"
    table.write_text("Month,Cargo,Remarks\n2023-02,30,\n2023-03,45,\n2023-04,61,\n")
    result = load_source(spec, table)
    assert result.records["value"].tolist() == [300_000.0, 150_000.0, 160_000.0]
    issues = result.report.to_frame()
    assert issues.query("action == 'flagged'")["month"].tolist() == ["2023-02"]
    assert issues["reason"].str.contains("column 'Remarks' is not described by spec").any()
    assert issues["reason"].str.contains("year-to-date cumulative -> monthly").any()


def test_long_table_described_in_toml_with_dimensions_read_from_the_ids(tmp_path: Path) -> None:
    spec_path = tmp_path / "customs.toml"
    spec_path.write_text(
        'name = "customs"\nlayout = "long"\nunit = "EUR"\nscale = 1000\nflow = "trade_value"\n'
        "direction = \"import\"\nid_dimensions = '^(?P<partner>[a-z]+)/(?P<goods>[0-9]+)$'\n"
        '[summing]\ndimensions = ["partner", ["goods"]]\n'
    )
    table = tmp_path / "customs.csv"
    table.write_text("series_id,month,value\nde/01,2024-01,1.5\nde/01,2024-02,2\ntotal,2024-01,9\n")
    spec = SourceSpec.from_toml(spec_path)
    assert (spec.layout, spec.summing) == ("long", (("partner",), ("goods",)))
    result = load(table, format=str(spec_path))
    records = result.records.set_index("series_id")
    assert records.loc["de/01", "value"].tolist() == [1500.0, 2000.0]
    assert records.loc["de/01", ["partner", "goods", "direction", "unit"]].iloc[0].tolist() == [
        "de",
        "01",
        "import",
        "EUR",
    ]
    assert pd.isna(records.loc["total", "partner"]) and records.loc["total", "source"] == "customs"
    reasons = result.report.to_frame()["reason"]
    assert reasons.str.contains("not matched by id_dimensions: no partner, goods \\(e.g. total\\)").any()
    assert result.report.count("converted") == 3


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ({"layout": "tall"}, "layout", "must be one of"),
        ({"values": {}}, "values", "only for layout = 'wide'"),
        ({"direction": "sideways"}, "direction", "direction must be one of"),
        ({"id_dimensions": "([a-z]+)"}, "id_dimensions", "needs named groups"),
        ({"id_dimensions": "(?P<partner>[a-z"}, "id_dimensions", "not a regular expression"),
        ({"summing": {"dimensions": []}}, "summing.dimensions", "non-empty list"),
        ({"summing": {"dimensions": ["a", ["b", "a"]]}}, "summing.dimensions", "each dimension once"),
        ({"summing": {"dimensions": [3]}}, "summing.dimensions", "a dimension name or a list"),
        ({"summing": {"by": ["a"]}}, "summing", "one key, dimensions"),
    ],
)
def test_long_spec_errors_name_the_key(extra: dict, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        SourceSpec.from_dict({"name": "x", "layout": "long", "unit": "USD", **extra})
    assert raised.value.key == key


def test_a_dimension_given_by_the_table_and_by_the_spec_is_an_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("series_id,month,value,unit\na,2024-01,1,tonnes\n")
    with pytest.raises(DataError, match=r"column\(s\) \['unit'\] given both by the table and by spec 'x'"):
        load_spec(SourceSpec.from_dict({"name": "x", "layout": "long", "unit": "USD"}), table)
