"""The summing structure: built by series build, written next to the panel, read back, validated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import trade_records

from forecasting.cli import main
from forecasting.data.loaders import load_long
from forecasting.data.summing import SummingStructure, structure_path
from forecasting.errors import DataError
from forecasting.features.flows import build_series
from forecasting.panel import SeriesPanel

MONTHS = pd.period_range("2021-01", "2022-12", freq="M")


def _trade_records() -> pd.DataFrame:
    return trade_records(MONTHS, seed=3)


def test_series_build_records_every_sum_and_no_signed_combination() -> None:
    built = build_series(SeriesPanel(_trade_records()))
    structure = built.structure
    assert structure.children["region/heilongjiang/trade_value/export"] == (
        "heihe/trade_value/export",
        "suifenhe/trade_value/export",
    )
    assert len(structure.children["total/trade_value/turnover"]) == 6  # exports + imports, all crossings
    assert not any(parent.endswith("/balance") for parent in structure.aggregates)
    assert structure.levels["heihe/trade_value/turnover"] == "crossing"
    assert structure.levels["region/inner-mongolia/trade_value/import"] == "region"
    assert structure.levels["total/trade_value/export"] == "total"
    wide = built.wide()
    S = structure.S.toarray()
    assert S.shape == (len(structure), len(structure.bottom))
    np.testing.assert_allclose(wide[structure.bottom].to_numpy() @ S.T, wide[structure.series].to_numpy())
    assert built.mismatched_parents().empty


def test_structure_is_written_next_to_the_panel_and_read_back(tmp_path) -> None:
    source = tmp_path / "input.csv"
    records = _trade_records()
    records.assign(month=records["month"].astype(str)).to_csv(source, index=False)
    output = tmp_path / "panel.csv"
    assert main(["series", "build", "--input", str(source), "--output", str(output)]) == 0
    assert structure_path(output) == tmp_path / "panel.hierarchy.csv"
    edges = pd.read_csv(tmp_path / "panel.hierarchy.csv")
    assert list(edges.columns) == ["parent", "child", "level"]
    panel = SeriesPanel.from_load(load_long(output))
    expected = build_series(SeriesPanel(records)).structure
    assert panel.structure.children == expected.children
    assert panel.structure.levels == expected.levels
    assert panel.subset(["total/trade_value/export", *expected.bottom]).structure.aggregates == [
        "total/trade_value/export"
    ]


def test_a_parent_that_is_not_the_sum_of_its_children_is_reported(tmp_path) -> None:
    built = build_series(SeriesPanel(_trade_records()))
    records = built.records.copy()
    wrong = (records["series_id"] == "region/heilongjiang/trade_value/export") & (
        records["month"] == pd.Period("2022-03", "M")
    )
    records.loc[wrong, "value"] += 5.0
    path = tmp_path / "panel.csv"
    records.assign(month=records["month"].astype(str)).to_csv(path, index=False)
    built.structure.to_frame().to_csv(structure_path(path), index=False)
    panel = SeriesPanel.from_load(load_long(path))
    mismatched = panel.mismatched_parents()
    assert set(mismatched["parent"]) == {"region/heilongjiang/trade_value/export"}
    assert mismatched["first_month"].tolist() == ["2022-03"]
    flagged = panel.report.to_frame().query("action == 'flagged'")
    assert flagged["reason"].str.contains("not the sum of its children").any()
    assert "region/heilongjiang/trade_value/export" in set(flagged["series_id"])
    # months where part of the parent is estimated are not compared
    records.loc[wrong, "estimated_share"] = 0.01
    records.assign(month=records["month"].astype(str)).to_csv(path, index=False)
    assert SeriesPanel.from_load(load_long(path)).mismatched_parents().empty


def test_bad_structure_files_are_named() -> None:
    with pytest.raises(DataError, match="missing column"):
        SummingStructure.from_edges(pd.DataFrame({"parent": ["a"], "child": ["b"]}), file="h.csv")
    cycle = pd.DataFrame({"parent": ["a", "b"], "child": ["b", "a"], "level": ["x", "x"]})
    with pytest.raises(DataError, match="cycle"):
        SummingStructure.from_edges(cycle)
    nested = pd.DataFrame({"parent": ["t", "t", "r"], "child": ["r", "c", "a"], "level": ["total"] * 3})
    assert SummingStructure.from_edges(nested).children["t"] == ("a", "c")
    records = pd.DataFrame({"series_id": ["a"], "month": [pd.Period("2022-01", "M")], "value": [1.0]})
    with pytest.raises(DataError, match="not in the panel"):
        SeriesPanel(records, structure=SummingStructure.from_edges(nested))
