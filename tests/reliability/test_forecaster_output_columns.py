"""Every column of a ``Forecaster``'s wide output belongs to one thing.

An alias named like another alias's interval column (``a-lo-80`` beside
``a``) produced two ``a-lo-80`` columns, which pandas renamed ``a-lo-80_x``
and ``a-lo-80_y``: neither name a caller asked for. Such aliases are refused
up front, naming the two.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.forecaster import Forecaster

pytestmark = pytest.mark.timeout(60)

FRAME = pd.DataFrame(
    {
        "series_id": "s",
        "month": pd.period_range("2018-01", periods=36, freq="M").astype(str),
        "value": np.arange(36.0) + 10,
    }
)


@pytest.mark.parametrize("clash", ["a-lo-80", "a-hi-95", "a-lo-7", "a-hi-80"])
def test_an_alias_named_like_a_bound_column_of_another_is_refused(clash: str) -> None:
    with pytest.raises(ConfigError, match=f"alias '{clash}', which is also a bound column of alias 'a'"):
        Forecaster({"a": "naive", clash: "drift"}).forecast(FRAME, h=2)


@pytest.mark.parametrize("alias", ["a-low", "a-lo-", "a-lo-80x", "lo-80"])
def test_aliases_that_only_look_alike_are_kept(alias: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = Forecaster({"a": "naive", alias: "drift"}).forecast(FRAME, h=2, level=[80])
    assert list(out.columns) == [
        "series_id",
        "month",
        "a",
        "a-lo-80",
        "a-hi-80",
        alias,
        f"{alias}-lo-80",
        f"{alias}-hi-80",
    ]
