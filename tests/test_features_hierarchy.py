"""Roll-ups add up, partial months are flagged not understated, derived series are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.data.loaders import load_long
from forecasting.errors import DataError
from forecasting.features.cargo import build_cargo
from forecasting.features.flows import build_series
from forecasting.features.hierarchy import sibling_estimates, slug
from forecasting.features.passengers import build_passengers
from forecasting.features.trade_value import build_trade_value
from forecasting.features.transforms import rolling_sum, year_on_year_growth
from forecasting.panel import SeriesPanel

MONTHS = pd.period_range("2021-01", "2022-12", freq="M")
CROSSINGS = {"heihe": "heilongjiang", "suifenhe": "heilongjiang", "manzhouli": "inner-mongolia"}


def _records(flow: str, directions: tuple[str, ...], unit: str, seed: int = 0, **extra: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for crossing, region in CROSSINGS.items():
        for direction in directions:
            frames.append(
                pd.DataFrame(
                    {
                        "series_id": f"{crossing}/{flow}/{direction}",
                        "month": MONTHS,
                        "value": rng.uniform(10, 100, len(MONTHS)).round(1),
                        "crossing": crossing,
                        "region": region,
                        "flow": flow,
                        "direction": direction,
                        "unit": unit,
                        **extra,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _drop(records: pd.DataFrame, series_id: str, month: str) -> pd.DataFrame:
    keep = ~((records["series_id"] == series_id) & (records["month"] == pd.Period(month, "M")))
    return records[keep]


def test_trade_roll_ups_add_up_crossing_region_total() -> None:
    records = _records("trade_value", ("export", "import"), "CNY", currency="CNY")
    built = build_trade_value(SeriesPanel(records))
    wide = built.wide()
    for direction in ("export", "import"):
        region = wide[f"region/heilongjiang/trade_value/{direction}"]
        children = wide[f"heihe/trade_value/{direction}"] + wide[f"suifenhe/trade_value/{direction}"]
        np.testing.assert_allclose(region, children)
        regions = (
            wide[f"region/heilongjiang/trade_value/{direction}"]
            + wide[f"region/inner-mongolia/trade_value/{direction}"]
        )
        np.testing.assert_allclose(wide[f"total/trade_value/{direction}"], regions)
    for prefix in ("heihe", "region/inner-mongolia", "total"):
        exports, imports = wide[f"{prefix}/trade_value/export"], wide[f"{prefix}/trade_value/import"]
        np.testing.assert_allclose(wide[f"{prefix}/trade_value/turnover"], exports + imports)
        np.testing.assert_allclose(wide[f"{prefix}/trade_value/balance"], exports - imports)
    assert built.metadata.loc["total/trade_value/balance", "direction"] == "both"
    assert built.metadata.loc["total/trade_value/balance", "currency"] == "CNY"
    assert (built.metadata.loc["total/trade_value/export", ["source"]] == "derived").all()


def test_partial_month_leaves_parent_missing_and_flagged() -> None:
    records = _drop(
        _records("passengers", ("inbound", "outbound"), "persons"), "suifenhe/passengers/inbound", "2022-03"
    )
    built = build_passengers(SeriesPanel(records))
    march = pd.Period("2022-03", "M")
    parents = ["region/heilongjiang/passengers/inbound", "total/passengers/inbound", "total/passengers/both"]
    for parent in [*parents, "suifenhe/passengers/both"]:
        assert pd.isna(built.series(parent)[march]), parent
    assert not pd.isna(built.series("region/inner-mongolia/passengers/inbound")[march])
    flagged = built.report.to_frame().query("action == 'flagged'")
    assert set(flagged["series_id"]) == {
        "region/heilongjiang/passengers/inbound", "region/heilongjiang/passengers/both",
        "total/passengers/inbound", "total/passengers/both", "suifenhe/passengers/both",
    }  # fmt: skip
    assert set(flagged["month"]) == {"2022-03"}
    both = built.wide()["heihe/passengers/both"]
    inbound, outbound = built.wide()["heihe/passengers/inbound"], built.wide()["heihe/passengers/outbound"]
    np.testing.assert_allclose(both, inbound + outbound)


def test_crossing_not_yet_open_is_absent_not_missing() -> None:
    records = _records("passengers", ("inbound", "outbound"), "persons")
    before = records["month"] < pd.Period("2021-07", "M")
    built = build_passengers(
        SeriesPanel(records[~(records["series_id"].str.startswith("suifenhe/") & before)])
    )
    wide = built.wide()
    inbound = wide["heihe/passengers/inbound"] + wide["suifenhe/passengers/inbound"].fillna(0.0)
    np.testing.assert_allclose(wide["region/heilongjiang/passengers/inbound"], inbound)
    assert built.report.count("flagged") == 0


def test_cargo_by_mode_and_never_mixing_units() -> None:
    road = _records("cargo", ("import", "export"), "tonnes", measure="road_cargo")
    road["series_id"] = road["series_id"].str.replace("/cargo/", "/cargo/road/")
    rail = _records("cargo", ("import",), "tonnes", seed=1, measure="rail_cargo")
    rail["series_id"] = rail["series_id"].str.replace("/cargo/", "/cargo/rail/")
    teu = _records("cargo", ("import",), "TEU", seed=2, measure="rail_containers")
    teu["series_id"] = teu["series_id"].str.replace("/cargo/", "/cargo/containers/")
    built = build_cargo(SeriesPanel(pd.concat([road, rail, teu], ignore_index=True)))
    wide = built.wide()
    tonnes = wide["heihe/cargo/road/import"] + wide["heihe/cargo/rail/import"]
    containers = wide["heihe/cargo/containers/import"]
    np.testing.assert_allclose(wide["heihe/cargo/all/import/tonnes"], tonnes)
    np.testing.assert_allclose(wide["heihe/cargo/all/import/teu"], containers)
    np.testing.assert_allclose(wide["heihe/cargo/rail-containers/import"], containers)
    rail_total = sum(wide[f"{c}/cargo/rail/import"] for c in CROSSINGS)
    np.testing.assert_allclose(wide["total/cargo/rail/import"], rail_total)
    # both directions in tonnes only: there is no TEU export, so no TEU "both"
    np.testing.assert_allclose(wide["heihe/cargo/all/both"], tonnes + wide["heihe/cargo/road/export"])
    assert not any(s.startswith("heihe/cargo/all/both/") for s in built.series_ids)
    assert "heihe/cargo/road/import" in built.series_ids  # the leaf is its own node, not duplicated
    assert built.metadata.loc["heihe/cargo/all/import/teu", "unit"] == "TEU"


def test_a_parent_not_built_is_reported_once_per_unit_naming_it() -> None:
    """Tonnes and TEU of one crossing share the id ``heihe/cargo/all/both`` until the unit is suffixed:
    the TEU one, without exports, is reported once and named by its unit (it read as a line printed twice)."""
    road = _records("cargo", ("import", "export"), "tonnes", measure="road_cargo")
    teu = _records("cargo", ("import",), "TEU", seed=2, measure="rail_containers")
    teu["series_id"] = teu["series_id"].str.replace("/cargo/", "/cargo/containers/")
    built = build_cargo(SeriesPanel(pd.concat([road, teu], ignore_index=True)))
    issues = built.report.to_frame()
    not_built = issues[issues["reason"].str.startswith("not built")]
    assert not not_built.duplicated().any()
    heihe = not_built[not_built["series_id"] == "heihe/cargo/all/both"]
    assert heihe["reason"].tolist() == ["not built: no export series among its children in TEU"]


def test_published_aggregates_are_kept_not_rolled_up_but_get_turnover_and_balance() -> None:
    records = _records("trade_value", ("export", "import"), "CNY")
    heihe = records[records["series_id"].str.startswith("heihe/")]
    province = heihe.assign(
        series_id=heihe["series_id"].str.replace("heihe/", "heilongjiang/"),
        crossing=pd.NA,
        value=heihe["value"] * 10,
    )
    built = build_trade_value(SeriesPanel(pd.concat([records, province], ignore_index=True)))
    wide = built.wide()
    np.testing.assert_allclose(wide["heilongjiang/trade_value/export"], 10 * wide["heihe/trade_value/export"])
    np.testing.assert_allclose(
        wide["total/trade_value/export"], sum(wide[f"{c}/trade_value/export"] for c in CROSSINGS)
    )
    exports, imports = wide["heilongjiang/trade_value/export"], wide["heilongjiang/trade_value/import"]
    np.testing.assert_allclose(wide["heilongjiang/trade_value/turnover"], exports + imports)
    np.testing.assert_allclose(wide["heilongjiang/trade_value/balance"], exports - imports)
    assert built.metadata.loc["heilongjiang/trade_value/balance", "flow"] == "trade_value"
    assert built.report.to_frame()["reason"].str.contains("published aggregates").any()


def test_build_series_on_the_sample_adds_every_flow() -> None:
    from forecasting.sample import load_sample

    built = build_series(load_sample())
    wide = built.wide()
    heihe = "heihe-blagoveshchensk"
    both = wide[f"{heihe}/passengers/inbound"] + wide[f"{heihe}/passengers/outbound"]
    np.testing.assert_allclose(wide[f"{heihe}/passengers/both"], both)
    assert wide[f"{heihe}/passengers/both"]["2024-01":"2024-12"].sum() == pytest.approx(760_000, abs=1)
    rail = wide["zabaykalsk-manzhouli/cargo/rail/import"] + wide["zabaykalsk-manzhouli/cargo/rail/export"]
    np.testing.assert_allclose(wide["region/inner-mongolia/cargo/all/both"], rail)
    assert "heilongjiang/trade_value/turnover" in built.series_ids
    # the unreported 2020-04 road import is a small share of the total: estimated, flagged
    april = pd.Period("2020-04", "M")
    share = built.estimated_share().loc[april, "total/cargo/all/import"]
    assert 0 < share <= 0.05 and not pd.isna(wide.loc[april, "total/cargo/all/import"])
    assert built.report.count("flagged") >= 1
    strict = build_series(load_sample(), max_estimated_share=0.0).wide()
    assert pd.isna(strict.loc[april, "total/cargo/all/import"])


def test_year_on_year_growth_and_rolling_sums() -> None:
    records = _records("cargo", ("import",), "tonnes")
    records = _drop(records, "heihe/cargo/import", "2021-06")
    panel = SeriesPanel(records)
    growth = year_on_year_growth(panel)
    wide = panel.wide()
    expected = 100 * (wide.loc[pd.Period("2022-05", "M")] / wide.loc[pd.Period("2021-05", "M")] - 1)
    got = growth.wide().loc[pd.Period("2022-05", "M")]
    np.testing.assert_allclose(got[[f"{s}/yoy_pct" for s in expected.index]], expected)
    assert pd.isna(growth.series("heihe/cargo/import/yoy_pct").get(pd.Period("2022-06", "M"), np.nan))
    assert growth.metadata["unit"].eq("percent").all()
    rolling = rolling_sum(panel, 12)
    manzhouli = rolling.series("manzhouli/cargo/import/rolling_12m")
    assert manzhouli.index[0] == pd.Period("2021-12", "M")
    assert manzhouli[pd.Period("2022-12", "M")] == pytest.approx(
        wide["manzhouli/cargo/import"]["2022-01":].sum()
    )
    heihe = rolling.records[rolling.records["series_id"] == "heihe/cargo/import/rolling_12m"]
    # windows containing the missing June 2021 are absent, not understated
    assert heihe["month"].min() == pd.Period("2022-06", "M")
    with pytest.raises(ValueError, match="months"):
        rolling_sum(panel, 0)


def test_slug_makes_id_tokens() -> None:
    assert slug("US-Canada Border") == "us-canada-border"
    assert slug("Blaine") == "blaine"
    with pytest.raises(DataError):
        slug("  ")


def test_series_build_cli_writes_a_long_csv(tmp_path, capsys) -> None:
    source = tmp_path / "input.csv"
    records = pd.concat(
        [
            _records("trade_value", ("export", "import"), "CNY"),
            _records("passengers", ("inbound", "outbound"), "persons"),
        ],
        ignore_index=True,
    )
    records.assign(month=records["month"].astype(str)).to_csv(source, index=False)
    output = tmp_path / "out" / "panel.csv"
    assert main(["series", "build", "--input", str(source), "--output", str(output)]) == 0
    err = capsys.readouterr().err
    assert "Data quality report" in err and "wrote" in err
    written = load_long(output).records
    assert {"series_id", "month", "value"} <= set(written.columns)
    assert "total/trade_value/turnover" in set(written["series_id"])
    assert "region/heilongjiang/passengers/both" in set(written["series_id"])
    expected = build_series(SeriesPanel(records)).records
    assert len(written) == len(expected)
    assert main(["series", "build", "--input", str(tmp_path / "absent.csv"), "--output", str(output)]) == 2


@pytest.mark.slow
def test_sample_generate_cli_is_deterministic(tmp_path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["sample", "generate", "--output", str(first)]) == 0
    assert main(["sample", "generate", "--output", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def _seasonal_records(scales: dict[str, float]) -> pd.DataFrame:
    """Three years of a seasonal pattern per crossing, scaled (small ports and a big one)."""
    months = pd.period_range("2020-01", "2022-12", freq="M")
    season = 1.0 + 0.3 * np.sin(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"{crossing}/passengers/inbound",
                "month": months,
                "value": scale * season,
                "crossing": crossing,
                "region": "heilongjiang",
                "flow": "passengers",
                "direction": "inbound",
                "unit": "persons",
            }
        )
        for crossing, scale in scales.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_small_unreported_child_is_estimated_flagged_and_its_share_recorded() -> None:
    records = _drop(_seasonal_records({"heihe": 1000.0, "tiny": 10.0}), "tiny/passengers/inbound", "2022-05")
    built = build_passengers(SeriesPanel(records))
    may = pd.Period("2022-05", "M")
    wide = built.wide()
    region = "region/heilongjiang/passengers/inbound"
    # heihe's growth applied to tiny's last month and to its same month a year before: both give
    # the value a year before (the two share one seasonal pattern and repeat every year)
    expected_tiny = records.set_index(["series_id", "month"]).loc[
        ("tiny/passengers/inbound", may - 12), "value"
    ]
    assert wide.loc[may, region] == pytest.approx(wide.loc[may, "heihe/passengers/inbound"] + expected_tiny)
    share = built.estimated_share()
    assert share.loc[may, region] == pytest.approx(expected_tiny / wide.loc[may, region])
    assert share.loc[may - 1, region] == 0.0
    assert pd.isna(share.loc[may, "heihe/passengers/inbound"])  # input series carry no share
    flagged = built.report.to_frame().query("action == 'flagged'")
    assert set(flagged["series_id"]) == {region, "total/passengers/inbound"}
    assert flagged["reason"].str.contains("built with estimated children").all()


def test_big_unreported_child_leaves_the_parent_missing() -> None:
    records = _drop(_seasonal_records({"heihe": 1000.0, "tiny": 10.0}), "heihe/passengers/inbound", "2022-05")
    built = build_passengers(SeriesPanel(records))
    assert pd.isna(built.wide().loc[pd.Period("2022-05", "M"), "region/heilongjiang/passengers/inbound"])
    reasons = built.report.to_frame().query("action == 'flagged'")["reason"]
    assert reasons.str.contains("left missing: unreported children would be over 5%").all()
    loose = build_passengers(SeriesPanel(records), max_estimated_share=0.995)
    assert not pd.isna(loose.wide().loc[pd.Period("2022-05", "M"), "region/heilongjiang/passengers/inbound"])


def test_max_estimated_share_is_checked(tmp_path, capsys) -> None:
    from forecasting.errors import ConfigError

    with pytest.raises(ConfigError, match="max_estimated_share"):
        build_series(SeriesPanel(_seasonal_records({"heihe": 1.0})), max_estimated_share=1.5)
    source = tmp_path / "input.csv"
    _seasonal_records({"heihe": 1.0}).to_csv(source, index=False)
    args = ["series", "build", "--input", str(source), "--output", str(tmp_path / "p.csv")]
    assert main([*args, "--max-estimated-share", "-0.1"]) == 2
    assert "max_estimated_share" in capsys.readouterr().err


def _panel_of(values: dict[str, dict[str, list[float]]], months: pd.PeriodIndex) -> pd.DataFrame:
    """Inbound passenger records from ``{region: {crossing: values by month}}`` (NaN: not reported)."""
    frames = [
        pd.DataFrame(
            {
                "series_id": f"{crossing}/passengers/inbound",
                "month": months,
                "value": series,
                "crossing": crossing,
                "region": region,
                "flow": "passengers",
                "direction": "inbound",
                "unit": "persons",
            }
        )
        for region, crossings in values.items()
        for crossing, series in crossings.items()
    ]
    return pd.concat(frames, ignore_index=True).dropna(subset=["value"])


COLLAPSE_MONTHS = pd.period_range("2019-01", "2020-12", freq="M")
APRIL_2020 = COLLAPSE_MONTHS.get_loc(pd.Period("2020-04", "M"))


def _collapse() -> dict[str, list[float]]:
    """Three crossings at 900, 90, 10 (April 2019: 1100, 100, 12); in 2020-04 the reported fall 90 %."""
    series = {"big": [900.0] * 24, "medium": [90.0] * 24, "small": [10.0] * 24}
    for name, value in (("big", 1100.0), ("medium", 100.0), ("small", 12.0)):
        series[name][3] = value
    for name in ("big", "medium"):
        series[name][APRIL_2020:] = [v / 10 for v in series[name][APRIL_2020:]]
    series["small"][APRIL_2020] = np.nan
    return series


def test_unreported_child_follows_its_collapsing_siblings() -> None:
    built = build_passengers(SeriesPanel(_panel_of({"heilongjiang": _collapse()}, COLLAPSE_MONTHS)))
    april = pd.Period("2020-04", "M")
    # siblings' growth to April 2020 from the last reported month (990 -> 99) and from April 2019 (1200 -> 99)
    stand_in = (10 * 99 / 990 + 12 * 99 / 1200) / 2
    assert stand_in == pytest.approx(0.995)
    for parent in ("region/heilongjiang/passengers/inbound", "total/passengers/inbound"):
        assert built.wide().loc[april, parent] == pytest.approx(99 + stand_in)
        assert built.estimated_share().loc[april, parent] == pytest.approx(stand_in / (99 + stand_in))
    flagged = built.report.to_frame().query("action == 'flagged'")
    assert set(flagged["month"]) == {"2020-04"}
    assert flagged["reason"].str.contains("built with estimated children").all()


def test_unreported_children_without_reported_siblings_fall_back_on_their_own_past() -> None:
    heilongjiang = {"heihe": [10.0] * 24, "suifenhe": [20.0] * 24}
    for series in heilongjiang.values():
        series[APRIL_2020] = np.nan
    inner_mongolia = {"manzhouli": [9000.0] * APRIL_2020 + [900.0] * (24 - APRIL_2020)}
    values = {"heilongjiang": heilongjiang, "inner-mongolia": inner_mongolia}
    built = build_passengers(SeriesPanel(_panel_of(values, COLLAPSE_MONTHS)))
    april = pd.Period("2020-04", "M")
    # their own steady past (10 and 20), not the other region's 90 % fall
    assert built.wide().loc[april, "total/passengers/inbound"] == pytest.approx(930.0)
    assert built.estimated_share().loc[april, "total/passengers/inbound"] == pytest.approx(30 / 930)
    assert pd.isna(built.wide().loc[april, "region/heilongjiang/passengers/inbound"])


def test_stand_in_never_reads_later_months() -> None:
    april = pd.Period("2020-04", "M")
    parent = "region/heilongjiang/passengers/inbound"
    records = _panel_of({"heilongjiang": _collapse()}, COLLAPSE_MONTHS)
    later = records.assign(
        value=np.where(records["month"] > april, records["value"] * 7 + 3, records["value"])
    )
    first, second = (build_passengers(SeriesPanel(r)) for r in (records, later))
    assert first.wide().loc[april, parent] == second.wide().loc[april, parent] == pytest.approx(99.995)
    assert first.wide().loc[april + 1, parent] != second.wide().loc[april + 1, parent]


def test_siblings_that_stop_reporting_do_not_read_as_a_fall() -> None:
    months = pd.period_range("2020-01", "2020-03", freq="M")
    children = pd.DataFrame(
        {"small": [10.0, 10.0, np.nan], "big": [500.0, 500.0, 550.0], "gone": [400.0, 400.0, np.nan]},
        index=months,
    )
    estimates = sibling_estimates(children)
    # only "big" was reported in both February and March: +10 %, not -39 %
    assert estimates.loc[months[2], "small"] == pytest.approx(11.0)
    assert estimates["small"].iloc[:1].isna().all()  # no earlier month to start from


def test_a_child_stands_in_with_one_value_at_every_level() -> None:
    """A crossing's bus passengers follow the region's crossings, so the region is its crossings' sum."""
    cars = {"heihe": [900.0] * 24, "suifenhe": [500.0] * APRIL_2020 + [50.0] * (24 - APRIL_2020)}
    buses = [30.0] * 24
    buses[APRIL_2020] = np.nan
    records = _panel_of({"heilongjiang": {**cars, "heihe-bus": buses}}, COLLAPSE_MONTHS)
    records["series_id"] = records["crossing"].map(
        {"heihe": "heihe/cars", "suifenhe": "suifenhe/cars", "heihe-bus": "heihe/buses"}
    )
    records["crossing"] = records["crossing"].replace("heihe-bus", "heihe")
    wide = build_passengers(SeriesPanel(records)).wide()
    april = pd.Period("2020-04", "M")
    # the region's cars went from 1400 to 950, not heihe's own (900 to 900)
    bus = 30 * 950 / 1400
    assert wide.loc[april, "heihe/passengers/inbound"] == pytest.approx(900 + bus)
    crossings = wide.loc[april, "heihe/passengers/inbound"] + wide.loc[april, "suifenhe/passengers/inbound"]
    assert wide.loc[april, "region/heilongjiang/passengers/inbound"] == pytest.approx(crossings)
