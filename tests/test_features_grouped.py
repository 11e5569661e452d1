"""Grouped summing structures: a total that adds up by partner and by goods, from declared dimensions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_ROOT

from forecasting.cli import main
from forecasting.data.loaders import load, spec_of
from forecasting.data.summing import read_structure
from forecasting.errors import DataError
from forecasting.features.flows import build_series
from forecasting.features.grouped import build_grouped, grouped_nodes
from forecasting.panel import SeriesPanel

PARTNERS = ("de", "fr")
GOODS = ("01", "02", "03")
MONTHS = pd.period_range("2020-01", periods=30, freq="M")
SPEC = """
name = "toy_customs"
layout = "long"
unit = "CHF"
currency = "CHF"
flow = "trade_value"
measure = "goods"
direction = "export"
id_dimensions = '^cell/(?P<partner>[a-z]{2})-(?P<goods>[0-9]{2})$'

[summing]
dimensions = ["partner", "goods"]
"""


def _cells(seed: int = 3) -> pd.DataFrame:
    """Long records of the 2 x 3 partner x goods cells, ids ``cell/<partner>-<goods>``."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"cell/{partner}-{goods}",
                "month": MONTHS,
                "value": rng.gamma(4.0, 25.0, len(MONTHS)).round(1),
                "partner": partner,
                "goods": goods,
            }
        )
        for partner in PARTNERS
        for goods in GOODS
    ]
    return pd.concat(frames, ignore_index=True)


def test_grouped_s_matrix_equals_a_hand_built_one() -> None:
    built = build_grouped(SeriesPanel(_cells()), [("partner",), ("goods",)])
    structure = built.structure
    bottom = [f"cell/{p}-{g}" for p in PARTNERS for g in GOODS]
    parents = ["goods/01", "goods/02", "goods/03", "partner/de", "partner/fr", "total"]
    assert (structure.aggregates, structure.bottom) == (parents, bottom)
    # rows: the goods sums pick one cell per partner, the partner sums three cells each, the total all
    by_hand = np.array(
        [
            [1, 0, 0, 1, 0, 0],
            [0, 1, 0, 0, 1, 0],
            [0, 0, 1, 0, 0, 1],
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            *np.eye(6, dtype=int),
        ]
    )
    np.testing.assert_array_equal(structure.S.toarray(), by_hand)
    levels = structure.level_of()
    assert levels[parents].tolist() == ["goods"] * 3 + ["partner"] * 2 + ["total"]
    wide = built.wide()
    np.testing.assert_allclose(wide[structure.series].to_numpy(), wide[bottom].to_numpy() @ by_hand.T)
    assert built.metadata.loc["partner/fr", "partner"] == "fr" and pd.isna(
        built.metadata.loc["partner/fr", "goods"]
    )


def test_nested_dimensions_give_a_parent_for_every_coarser_cut() -> None:
    nodes = grouped_nodes([("region", "country"), ("goods",)])
    assert [(node.template, node.level) for node in nodes] == [
        ("total", "total"),
        ("goods/{goods}", "goods"),
        ("region/{region}", "region"),
        ("region/{region}/goods/{goods}", "region+goods"),
        ("region/{region}/country/{country}", "country"),
    ]


def test_series_build_writes_the_grouped_structure_a_spec_declares(tmp_path: Path) -> None:
    records = pd.concat(
        [
            _cells().drop(columns=["partner", "goods"]),
            pd.DataFrame({"series_id": "published/total", "month": MONTHS, "value": 1.0}),
        ]
    )
    table, spec, panel = tmp_path / "customs.csv", tmp_path / "customs.toml", tmp_path / "panel.csv"
    records.assign(month=records["month"].astype(str)).to_csv(table, index=False)
    spec.write_text(SPEC)
    assert (
        main(["series", "build", "--input", str(table), "--format", str(spec), "--output", str(panel)]) == 0
    )
    edges = pd.read_csv(tmp_path / "panel.hierarchy.csv", dtype=str)
    children = edges.groupby("parent")["child"].apply(sorted)
    assert children["total"] == [f"cell/{p}-{g}" for p in PARTNERS for g in GOODS]
    assert children["partner/de"] == ["cell/de-01", "cell/de-02", "cell/de-03"]
    assert children["goods/02"] == ["cell/de-02", "cell/fr-02"]
    assert "published/total" not in set(edges["parent"]) | set(edges["child"])  # kept, outside the structure
    reloaded = SeriesPanel.from_load(load(panel, "long"))
    assert read_structure(panel).S.shape == (12, 6)
    assert reloaded.mismatched_parents().empty
    assert reloaded.metadata.loc["goods/02", ["goods", "unit", "direction"]].tolist() == [
        "02",
        "CHF",
        "export",
    ]
    wide = reloaded.wide()
    np.testing.assert_allclose(wide["goods/02"], wide["cell/de-02"] + wide["cell/fr-02"])
    np.testing.assert_allclose(wide["published/total"], 1.0)


def test_a_total_never_adds_up_series_of_different_directions() -> None:
    cells = _cells().assign(direction="export", flow="trade_value")
    mixed = cells.assign(direction=np.where(cells["partner"] == "fr", "import", "export"))
    with pytest.raises(DataError, match="differ in direction.*declare direction as a summing dimension"):
        build_grouped(SeriesPanel(mixed), [("partner",), ("goods",)])
    with pytest.raises(DataError, match=r"\['country'\] are not dimensions of the panel"):
        build_grouped(SeriesPanel(cells), [("country",), ("goods",)])


def test_swiss_exports_build_as_a_grouped_panel(shared_data: Path) -> None:
    spec_path = PROJECT_ROOT / "examples" / "swiss_exports.toml"
    loaded = SeriesPanel.from_load(
        load(shared_data / "trade" / "swiss_exports_monthly.csv.gz", str(spec_path))
    )
    built = build_series(loaded, summing=spec_of(str(spec_path)).summing)
    structure = built.structure
    assert (len(structure.aggregates), len(structure.bottom)) == (21, 96)
    assert structure.level_of().value_counts().to_dict() == {
        "bottom": 96,
        "goods_group": 12,
        "region": 8,
        "total": 1,
    }
    assert built.mismatched_parents().empty
    wide = built.wide()
    regions = wide[[f"region/{r}" for r in ("af", "ao", "ca", "ea", "eu", "la", "na", "sa")]].sum(axis=1)
    groups = wide[[f"goods_group/{g:02d}" for g in range(1, 13)]].sum(axis=1)
    np.testing.assert_allclose(regions, wide["total"], rtol=1e-12)
    np.testing.assert_allclose(groups, wide["total"], rtol=1e-12)
    assert len(built) == 539 + 21  # the goods and country breakdowns stay, outside the structure
