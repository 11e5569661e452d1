"""Exogenous regressors aligned to (series, month) pairs: one check, one set of messages.

``X`` is a long frame with a ``month`` column, optionally ``series_id`` (rows
without it apply to every series), and numeric feature columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.errors import DataError


def exog_columns(X: pd.DataFrame | None) -> list[str]:
    """The feature columns of ``X`` (all but ``series_id`` and ``month``); DataError unless numeric."""
    if X is None:
        return []
    if "month" not in X.columns:
        raise DataError("X has no 'month' column", column="month")
    columns = [c for c in X.columns if c not in ("series_id", "month")]
    non_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise DataError(f"X feature columns must be numeric; {non_numeric} are not", column=non_numeric[0])
    return columns


def exog_values(
    X: pd.DataFrame | None,
    series_ids: np.ndarray,
    ordinals: np.ndarray,
    columns: list[str],
    what: str,
    *,
    allow_absent: bool = False,
) -> np.ndarray:
    """The ``columns`` of ``X`` for each (series, month ordinal) pair, in order.

    DataError when ``X`` is absent, lacks a column or a pair, repeats a pair,
    or holds a NaN or infinite value where the model needs one. With
    ``allow_absent`` a pair ``X`` lacks is a row of NaN instead (the model
    falls back for that series, see :func:`absent_reason`).
    """
    if X is None:
        raise DataError(f"{what} is required: the model was fitted with exogenous columns {columns}")
    missing_columns = [c for c in columns if c not in X.columns]
    if missing_columns:
        raise DataError(f"{what} lacks the feature column(s) {missing_columns} seen in fit")
    table = X[[c for c in ("series_id", "month") if c in X.columns] + columns].copy()
    table["ordinal"] = pd.PeriodIndex(table["month"], freq="M").asi8
    keys = pd.DataFrame({"ordinal": ordinals})
    on = ["ordinal"]
    if "series_id" in table.columns:
        table["series_id"] = table["series_id"].astype(str)
        keys["series_id"] = series_ids.astype(str)
        on = ["series_id", "ordinal"]
    duplicated = table.duplicated(on)
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise DataError(
            f"{what} has duplicate rows for month {first['month']}",
            series=str(first["series_id"]) if "series_id" in on else None,
        )
    merged = keys.merge(table[on + columns], on=on, how="left", indicator=True)
    absent = (merged["_merge"] == "left_only").to_numpy()
    if absent.any() and not allow_absent:
        raise DataError(
            absent_message(what, series_ids, ordinals, absent), series=str(series_ids[row_of(absent)])
        )
    values = merged[columns].to_numpy(dtype="float64")
    bad = ~np.isfinite(values) & ~absent[:, None]
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{what} holds NaN or infinite values", column=columns[column], series=str(series_ids[row])
        )
    return values


def row_of(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def absent_message(what: str, series_ids: np.ndarray, ordinals: np.ndarray, absent: np.ndarray) -> str:
    """``X_future lacks N (series, month) row(s) the model needs, first YYYY-MM``."""
    first = pd.Period(ordinal=int(ordinals[row_of(absent)]), freq="M")
    return f"{what} lacks {int(absent.sum())} (series, month) row(s) the model needs, first {first}"


def absent_reason(months: pd.PeriodIndex, rows: np.ndarray | None) -> str | None:
    """Why a series falls back when its exogenous ``rows`` (``allow_absent``) miss months; None if not."""
    if rows is None or not rows.shape[-1]:
        return None
    absent = np.isnan(rows).all(axis=-1)
    if not absent.any():
        return None
    return f"X_future lacks {int(absent.sum())} month(s) the model needs, first {months[absent][0]}"


def exog_matrices(
    X: pd.DataFrame | None,
    months_by_series: list[tuple[str, pd.PeriodIndex]],
    what: str,
    *,
    allow_absent: bool = False,
) -> list[np.ndarray | None]:
    """Per ``(series_id, months)``, the rows of every feature of ``X`` for those months (None without X;
    rows of NaN where ``X`` lacks a month, with ``allow_absent``)."""
    if X is None:
        return [None] * len(months_by_series)
    columns = exog_columns(X)
    sizes = [len(months) for _, months in months_by_series]
    series_ids = np.repeat(np.asarray([sid for sid, _ in months_by_series], dtype=object), sizes)
    ordinals = np.concatenate([months.asi8 for _, months in months_by_series]) if sizes else np.empty(0, int)
    values = exog_values(X, series_ids, ordinals, columns, what, allow_absent=allow_absent)
    return np.split(values, np.cumsum(sizes)[:-1]) if sizes else []
