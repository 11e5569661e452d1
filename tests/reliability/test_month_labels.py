"""Issue 27, item 17: ``Forecaster`` refuses time labels that are not months.

``pd.to_datetime("1990")`` is 1990-01-01, so a yearly column passed as months
was forecast as Januaries; ``"1990Q1"`` likewise; a number in an object column
became a nanosecond of 1970. Each is a DataError naming the column and row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import Forecaster
from forecasting.errors import DataError

pytestmark = pytest.mark.timeout(60)


def _frame(labels: list[object]) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame({"unique_id": "a", "ds": pd.Series(labels, dtype="object"), "y": np.arange(n) + 1.0})


@pytest.mark.parametrize(
    ("labels", "what", "row"),
    [
        ([str(year) for year in range(1990, 2020)], "a year", 0),
        ([f"{year}Q{q}" for year in range(2000, 2008) for q in range(1, 5)], "a quarter", 0),
        ([f"{year}-Q{q}" for year in range(2000, 2008) for q in range(1, 5)], "a quarter", 0),
        ([*pd.period_range("2020-01", periods=29, freq="M").astype(str), "2022"], "a year", 29),
        (list(range(1990, 2020)), "a number", 0),
    ],
)
def test_labels_that_are_not_months_are_refused(labels: list[object], what: str, row: int) -> None:
    with pytest.raises(DataError, match=f"is {what}, not a month") as error:
        Forecaster(["naive"]).forecast(_frame(labels), h=2)
    assert (error.value.column, error.value.row) == ("ds", row)
