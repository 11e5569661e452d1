"""Sample-path intervals: the batched implementation equals the straightforward one, path by path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from test_reconciliation import STRUCTURE

from forecasting.reconciliation import reconcile, reconcile_forecasts, shrunk_covariance
from forecasting.reconciliation.paths import interval_probabilities, sorted_quantiles

LEVELS = (80, 95)
SAMPLES = 60


def _table(seed: int = 4) -> pd.DataFrame:
    """Three months of incoherent forecasts; BC closes after the first, ``other`` is outside the tree."""
    rng = np.random.default_rng(seed)
    ids = [*STRUCTURE.series, "other"]
    months = ["2024-01", "2024-02", "2024-03"]
    frame = pd.DataFrame(
        {"series_id": np.repeat(ids, len(months)), "month": np.tile(months, len(ids)), "model": "ets"}
    )
    frame = frame[~((frame["series_id"] == "BC") & (frame["month"] != "2024-01"))].reset_index(drop=True)
    frame["forecast"] = rng.gamma(4.0, 10.0, len(frame))
    sigma = rng.uniform(0.5, 6.0, len(frame))
    for level in LEVELS:
        z = norm.ppf(0.5 + level / 200)
        frame[f"lower_{level}"] = frame["forecast"] - z * sigma
        frame[f"upper_{level}"] = frame["forecast"] + z * sigma
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # rows in no particular order


def _residuals(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bottom = rng.normal(0.0, 2.0, (30, len(STRUCTURE.bottom)))
    errors = bottom @ STRUCTURE.S.toarray().T + rng.normal(0.0, 1.0, (30, len(STRUCTURE)))
    return pd.DataFrame(errors, columns=STRUCTURE.series)


def _straightforward(
    table: pd.DataFrame, method: str, residuals: pd.DataFrame | None, nonnegative: bool, seed: int
) -> pd.DataFrame:
    """Month by month, path by path: the textbook way the batched code must reproduce."""
    rng = np.random.default_rng(seed)
    out = table.copy()
    out["reconciliation"] = "none"
    z_widest = norm.ppf(0.5 + max(LEVELS) / 200)
    for month in sorted(table["month"].unique()):
        month_rows = table[(table["month"] == month) & table["series_id"].isin(STRUCTURE.series)]
        present = set(month_rows["series_id"])
        structure = STRUCTURE.drop_series(set(STRUCTURE.bottom) - present).restrict(present)
        rows = month_rows.set_index("series_id").loc[structure.series]
        positions = month_rows.reset_index().set_index("series_id").loc[structure.series, "index"]
        base = rows["forecast"].to_numpy()
        sigma = (rows["upper_95"] - rows["lower_95"]).to_numpy() / (2 * z_widest)
        covariance = None
        if residuals is not None:
            covariance = shrunk_covariance(residuals[structure.series].to_numpy())
            diagonal, factor = covariance.diagonal, covariance.factor
        else:
            diagonal, factor = np.ones(len(base)), np.zeros((len(base), 0))
        first = rng.standard_normal((len(base), SAMPLES))
        second = (
            rng.standard_normal((factor.shape[1], SAMPLES)) if factor.shape[1] else np.zeros((0, SAMPLES))
        )
        z = (np.sqrt(diagonal)[:, None] * first + factor @ second) / np.sqrt(
            diagonal + (factor**2).sum(axis=1)
        )[:, None]
        reconciled = np.column_stack(
            [
                reconcile(
                    structure,
                    base + sigma * z[:, k],
                    method,
                    covariance=covariance,
                    nonnegative=nonnegative,
                )
                for k in range(SAMPLES)
            ]
        )
        out.loc[positions, "forecast"] = reconcile(
            structure, base, method, covariance=covariance, nonnegative=nonnegative
        )
        for level in LEVELS:
            low, high = np.quantile(reconciled, [0.5 - level / 200, 0.5 + level / 200], axis=1)
            out.loc[positions, f"lower_{level}"] = low
            out.loc[positions, f"upper_{level}"] = high
        out.loc[positions, "reconciliation"] = method
    return out


@pytest.mark.parametrize(
    ("method", "with_residuals", "nonnegative"),
    [
        ("mint_shrink", True, False),
        ("mint_shrink", True, True),
        ("ols", False, False),
        ("wls_var", True, False),
    ],
)
def test_batched_paths_equal_the_path_by_path_reconciliation(
    method: str, with_residuals: bool, nonnegative: bool
) -> None:
    table = _table()
    residuals = _residuals() if with_residuals else None
    batched = reconcile_forecasts(
        table,
        STRUCTURE,
        method,
        residuals=residuals,
        nonnegative=nonnegative,
        levels=LEVELS,
        samples=SAMPLES,
        seed=11,
    )
    expected = _straightforward(table, method, residuals, nonnegative, seed=11)
    pd.testing.assert_frame_equal(batched, expected, check_exact=False, rtol=1e-10, atol=1e-9)
    assert (batched["reconciliation"] == "none").sum() == 3  # the series outside the tree
    moved = batched["upper_95"] - batched["lower_95"] != table["upper_95"] - table["lower_95"]
    assert moved[batched["reconciliation"] == method].all()


def test_sorted_quantiles_are_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    probabilities = np.array([0.0, 0.025, 0.1, 0.5, 0.9, 0.975, 1.0, *interval_probabilities((50, 99))])
    for samples in (1, 2, 7, 200):
        rows = np.round(rng.normal(0.0, 3.0, (40, samples)), 1)  # ties included
        expected = np.quantile(rows, probabilities, axis=1)
        rows.sort(axis=1)
        np.testing.assert_array_equal(sorted_quantiles(rows, probabilities), expected)


def test_a_table_without_intervals_gets_reconciled_points_and_no_bounds() -> None:
    table = _table()[["series_id", "month", "model", "forecast"]]
    out = reconcile_forecasts(table, STRUCTURE, "ols", levels=LEVELS)
    assert list(out.columns) == [*table.columns, "reconciliation"]
    march = out[out["month"] == "2024-03"].set_index("series_id")
    structure = STRUCTURE.drop_series(["BC"])
    base = table[table["month"] == "2024-03"].set_index("series_id").loc[structure.series, "forecast"]
    np.testing.assert_allclose(
        march.loc[structure.series, "forecast"], reconcile(structure, base.to_numpy(), "ols"), rtol=1e-12
    )
    other = table[(table["series_id"] == "other") & (table["month"] == "2024-03")]["forecast"].item()
    assert march.loc["other", "forecast"] == other and march.loc["other", "reconciliation"] == "none"
