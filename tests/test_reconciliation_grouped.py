"""Grouped structures reconciled like trees; immutable levels; mint_guarded never worse than the base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.summing import SummingStructure
from forecasting.errors import DataError
from forecasting.evaluation.reconciled import (
    GUARDED,
    guard_levels,
    leaderboard_by_level,
    reconciled_backtest,
    unsummed_parent_rows,
)
from forecasting.models.cv import result_columns
from forecasting.reconciliation import reconcile, reconcile_forecasts, shrunk_covariance
from forecasting.reconciliation.methods import can_keep, keepable

PARTNERS = ("de", "fr")
GOODS = ("g1", "g2", "g3")
CELLS = [f"{p}/{g}" for p in PARTNERS for g in GOODS]
# total = sum over partners = sum over goods; bottom: partner x goods
GROUPED = SummingStructure.from_edges(
    pd.DataFrame(
        [("total", cell, "total") for cell in CELLS]
        + [(p, f"{p}/{g}", "partner") for p in PARTNERS for g in GOODS]
        + [(g, f"{p}/{g}", "goods") for p in PARTNERS for g in GOODS],
        columns=["parent", "child", "level"],
    )
)


def _grouped_inputs(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Incoherent base forecasts (series x 3 months) and 60 rows of correlated residuals, no gaps."""
    rng = np.random.default_rng(seed)
    summing = GROUPED.S.toarray()
    bottom = rng.gamma(5.0, 20.0, (len(CELLS), 3))
    base = summing @ bottom * rng.uniform(0.85, 1.15, (len(GROUPED), 3))
    shocks = rng.multivariate_normal(np.zeros(len(CELLS)), 9.0 * np.eye(len(CELLS)) + 4.0, size=60)
    residuals = shocks @ summing.T + rng.normal(0.0, 2.0, (60, len(GROUPED)))
    return base, residuals


def test_grouped_reconciliation_equals_hierarchicalforecast() -> None:
    pytest.importorskip("hierarchicalforecast", reason="hierarchicalforecast (dev extra) is not installed")
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import BottomUp, MinTrace

    base, residuals = _grouped_inputs()
    covariance = shrunk_covariance(residuals)
    assert np.linalg.eigvalsh(covariance.dense()).min() > 0  # positive definite
    ids = GROUPED.series
    stamps = pd.date_range("2020-01-31", periods=len(residuals), freq="ME")
    y_df = pd.DataFrame(  # in-sample values whose fitted values are zero: the residuals themselves
        {"unique_id": np.repeat(ids, len(stamps)), "ds": np.tile(stamps, len(ids)), "y": residuals.T.ravel()}
    ).assign(base=0.0)
    months = pd.date_range("2025-01-31", periods=base.shape[1], freq="ME")
    y_hat = pd.DataFrame(
        {"unique_id": np.repeat(ids, len(months)), "ds": np.tile(months, len(ids)), "base": base.ravel()}
    )
    s_df = pd.DataFrame(GROUPED.S.toarray(), columns=GROUPED.bottom).assign(unique_id=ids)
    levels = GROUPED.level_of()
    tags = {
        level: np.array(levels.index[levels == level]) for level in ("total", "partner", "goods", "bottom")
    }
    peers = {
        "bottom_up": BottomUp(),
        "ols": MinTrace(method="ols"),
        "wls_struct": MinTrace(method="wls_struct"),
        "wls_var": MinTrace(method="wls_var"),
        "mint_shrink": MinTrace(method="mint_shrink"),
    }
    result = HierarchicalReconciliation(list(peers.values())).reconcile(
        Y_hat_df=y_hat, S_df=s_df[["unique_id", *GROUPED.bottom]], tags=tags, Y_df=y_df
    )
    result = result.set_index(["unique_id", "ds"])
    for (method, peer), column in zip(peers.items(), [c for c in result.columns if c != "base"], strict=True):
        assert column.startswith(f"base/{type(peer).__name__}")
        expected = result[column].unstack("ds").loc[ids].to_numpy()
        # its wls_var takes the uncentred mean square, its mint_shrink the centred covariance, as ours
        weights = shrunk_covariance(residuals, centered=False) if method == "wls_var" else covariance
        got = reconcile(GROUPED, base, method, covariance=weights)
        np.testing.assert_allclose(got, expected, rtol=1e-8, err_msg=method)
        np.testing.assert_allclose(got[ids.index("total")], got[ids.index("de")] + got[ids.index("fr")])


def test_kept_series_stay_and_the_rest_is_the_constrained_least_squares_optimum() -> None:
    base, residuals = _grouped_inputs(seed=8)
    covariance = shrunk_covariance(residuals)
    summing, w_inverse = GROUPED.S.toarray(), np.linalg.inv(covariance.dense())
    for keep in (["total"], ["de", "g2"], ["de/g1", "fr/g3"]):
        rows = [GROUPED.series.index(series) for series in keep]
        got = reconcile(GROUPED, base, "mint_shrink", covariance=covariance, keep=keep)
        # min (S b - y)' W^-1 (S b - y) subject to S_K b = y_K, by its KKT system
        kkt = np.block(
            [[summing.T @ w_inverse @ summing, summing[rows].T], [summing[rows], np.zeros((len(rows),) * 2)]]
        )
        solution = np.linalg.solve(kkt, np.vstack([summing.T @ w_inverse @ base, base[rows]]))
        np.testing.assert_allclose(got, summing @ solution[: len(CELLS)], rtol=1e-9, err_msg=str(keep))
        np.testing.assert_allclose(got[rows], base[rows], rtol=1e-12)


def test_keeping_a_sum_twice_is_refused() -> None:
    base, residuals = _grouped_inputs()
    covariance = shrunk_covariance(residuals)
    assert can_keep(GROUPED, ["total", "de"]) and can_keep(GROUPED, ["de", "g1", "g2"])
    for keep in (["de", "fr", "g1", "g2", "g3"], ["total", "de", "fr"], ["de", "de/g1", "de/g2", "de/g3"]):
        assert not can_keep(GROUPED, keep)
        with pytest.raises(DataError, match="fix a sum twice"):
            reconcile(GROUPED, base, "mint_shrink", covariance=covariance, keep=keep)
    with pytest.raises(DataError, match="needs a projection method"):
        reconcile(GROUPED, base, "bottom_up", keep=["total"])


def test_a_kept_series_that_sums_other_kept_ones_becomes_their_sum() -> None:
    # as on BTS: the total of all containers sums the container totals; two totals sum the same ports
    structure = SummingStructure.from_edges(
        pd.DataFrame(
            [("all", c, "total") for c in ("x1", "x2", "y1", "y2")]
            + [("x", c, "total") for c in ("x1", "x2")]
            + [("same_as_x", c, "total") for c in ("x1", "x2")]
            + [("y", c, "total") for c in ("y1", "y2")],
            columns=["parent", "child", "level"],
        )
    )
    totals = ["all", "same_as_x", "x", "y"]
    assert not can_keep(structure, totals)
    assert keepable(structure, totals) == {"same_as_x", "y"}  # of equal ones the first in series order
    base = np.array([100.0, 48.0, 48.0, 45.0, 20.0, 25.0, 30.0, 10.0])  # all, same_as_x, x, y, x1, x2, y1, y2
    got = reconcile(structure, base, "ols", keep=keepable(structure, totals))
    np.testing.assert_allclose(got[:4], [93.0, 48.0, 48.0, 45.0])
    np.testing.assert_allclose([got[4:6].sum(), got[6:].sum()], [48.0, 45.0])


# --- mint_guarded on a planted hierarchy where MinT hurts the top --------------------------------
TREE = SummingStructure.from_edges(
    pd.DataFrame({"parent": "total", "child": ["a", "b", "c"], "level": "total"})
)


def _planted(cutoffs: list[str], seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest rows (12 months per cutoff) and in-sample errors of a model whose total is right.

    The children's forecasts run 10 % high, the total's are unbiased; the
    total's in-sample errors are ten times as large as the children's, so MinT
    trusts the children and pulls the total up to their sum.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for cutoff in cutoffs:
        for step, month in enumerate(pd.period_range(pd.Period(cutoff, "M") + 1, periods=12), start=1):
            actual = dict(zip("abc", rng.gamma(20.0, 5.0, 3), strict=True))
            actual["total"] = sum(actual.values())
            for series_id, value in actual.items():
                bias = 1.0 if series_id == "total" else 1.1
                forecast = value * bias * (1 + rng.normal(0.0, 0.02))
                rows.append((series_id, "planted", cutoff, str(month), step, value, forecast, 10.0, 100.0))
    columns = result_columns(levels=())  # point forecasts: no interval columns
    months = pd.period_range("2018-01", cutoffs[-1], freq="M")
    errors = rng.normal(0.0, 1.0, (len(months), 4)) * np.array([1.0, 1.0, 1.0, 10.0])
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(
        errors, index=months, columns=["a", "b", "c", "total"]
    )


def _mase_by_level(table: pd.DataFrame) -> pd.Series:
    board = leaderboard_by_level(table, TREE)
    return board.set_index(["model", "level"])["mase"]


def test_mint_guarded_keeps_the_total_mint_would_make_worse() -> None:
    results, in_sample = _planted(["2019-12", "2020-12", "2021-12"], seed=2)
    guard = guard_levels(results, TREE, in_sample=in_sample)
    assert guard.kept == ("total",)
    assert not guard.scores.loc["keep none", "accepted"] and not guard.scores.loc["keep bottom", "accepted"]
    assert guard.scores.loc["keep none", "total"] > guard.scores.loc["base", "total"]
    # held out: a later year, reconciled with the errors known at its cutoff and the levels chosen above
    held_out, _ = _planted(["2022-12"], seed=3)
    errors = in_sample.loc[:"2022-12"]
    kept = reconcile_forecasts(held_out, TREE, "mint_shrink", residuals=errors, keep_levels=guard.kept)
    plain = reconcile_forecasts(held_out, TREE, "mint_shrink", residuals=errors)
    scores = _mase_by_level(
        pd.concat([held_out, kept.assign(model="guarded"), plain.assign(model="mint")], ignore_index=True)
    )
    assert scores["guarded", "total"] == pytest.approx(scores["planted", "total"], rel=1e-9)
    assert scores["guarded", "bottom"] < 0.5 * scores["planted", "bottom"]
    assert scores["mint", "total"] > 2 * scores["planted", "total"]  # what the guard avoided
    both = reconciled_backtest(results, TREE, GUARDED, in_sample=in_sample)
    assert set(both["model"]) == {"planted", f"planted+{GUARDED}"}
    by_level = _mase_by_level(both)
    for level in ("total", "bottom"):
        assert by_level[f"planted+{GUARDED}", level] <= by_level["planted", level] * (1 + 1e-9)


def test_the_guard_reconciles_a_series_first_scored_at_the_last_fold() -> None:
    """A retrain on the BTS panel failed after 30 minutes ("fewer than 2 residuals for series
    number 198"): a series scored only at the last fold has no earlier errors for MinT's
    covariance, and the guard, scoring points only, had dropped the bounds its variance comes from."""
    results, _ = _planted(["2019-12", "2020-12", "2021-12"], seed=2)
    results = results[(results["series_id"] != "c") | (results["cutoff"] == "2021-12")]
    spread = results["forecast"] * 0.1
    bounded = results.assign(
        lower_80=results["forecast"] - 1.28 * spread,
        upper_80=results["forecast"] + 1.28 * spread,
        lower_95=results["forecast"] - 1.96 * spread,
        upper_95=results["forecast"] + 1.96 * spread,
    )
    guard = guard_levels(bounded, TREE)
    assert guard.scores.loc["base", ["total", "bottom"]].notna().all()
    both = reconciled_backtest(bounded, TREE, GUARDED)
    last = both[(both["cutoff"] == "2021-12") & (both["series_id"] == "c")]
    assert len(last) == 24 and last["forecast"].notna().all()
    with pytest.raises(DataError, match="series 'c' has fewer than 2 residuals"):
        guard_levels(results, TREE)  # no bounds at all: nothing to take c's variance from


def test_a_parent_whose_actual_is_not_its_childrens_sum_in_the_fold_is_not_reconciled() -> None:
    # 2024-02: c unreported (no row); 2024-03: the total holds a port no longer in the structure
    actuals = {
        "2024-01": {"a": 10.0, "b": 20.0, "c": 30.0, "total": 60.0},
        "2024-02": {"a": 11.0, "b": 21.0, "total": 63.0},
        "2024-03": {"a": 12.0, "b": 22.0, "c": 32.0, "total": 70.0},
    }
    rows = [
        ("planted", "2023-12", month, step, series_id, value, value * (1.3 if series_id == "total" else 1.0))
        for step, (month, values) in enumerate(actuals.items(), start=1)
        for series_id, value in values.items()
    ]
    columns = ["model", "cutoff", "month", "step", "series_id", "actual", "forecast"]
    fold = pd.DataFrame(rows, columns=columns).assign(scale_mase=1.0, scale_rmsse=1.0)
    blocked = unsummed_parent_rows(fold, TREE)
    assert fold.loc[blocked, ["series_id", "month"]].values.tolist() == [
        ["total", "2024-02"],
        ["total", "2024-03"],
    ]
    earlier = fold.assign(cutoff="2023-11")
    both = reconciled_backtest(pd.concat([earlier, fold]), TREE, "ols")
    totals = both[both["series_id"] == "total"]
    assert totals.groupby("model")["month"].apply(list).to_dict() == {
        "planted": ["2024-01"],
        "planted+ols": ["2024-01"],
    }
    # OLS spreads the total's excess (78 over 60) evenly over it and its three children
    assert totals.set_index("model").loc["planted+ols", "forecast"] == pytest.approx(78.0 - 18.0 / 4)
