"""Shared fixtures: the real public data in ../shared/data, seeded panels."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from forecasting.panel import SeriesPanel

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
RELIABILITY_TESTS = Path(__file__).resolve().parent / "reliability"
SLOW_FIXTURES = frozenset({"shared_data", "jupyter_path", "dask_executor", "mlflow_server"})
"""Fixtures that make a test slow: real public data, a notebook kernel, a Dask cluster, an MLflow server."""
SLOW_MODELS = frozenset({"auto"})
"""Registry models whose contract tests take seconds: auto backtests six candidates before it forecasts."""


def load_benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` as a module (registered, so its pickles resolve)."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark slow tests ``slow`` by where they live and what they use (``make test-fast`` skips them).

    The reliability suite, tests of real data, notebook runs, clusters and tracking servers, and
    the slowest models' contract tests; a test slow for its own reasons carries ``@pytest.mark.slow``.
    """
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            RELIABILITY_TESTS in item.path.parents
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or (item.path.name == "test_model_contract.py" and params.get("name") in SLOW_MODELS)
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def user_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's data folder, where commands run outside any project keep their MLflow store
    (``forecasting.tracking.user_store``): a temporary one, for the tests and the commands they start."""
    folder = tmp_path_factory.mktemp("user-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets; tests that need them skip when ../shared is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not available: {SHARED_DATA} is absent (shared/ not checked out)")
    return SHARED_DATA


def seasonal_panel(n_series: int = 3, n_months: int = 72, seed: int = 0) -> SeriesPanel:
    """A small seeded panel with trend, yearly seasonality and noise."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2015-01", periods=n_months, freq="M")
    t = np.arange(n_months)
    frames = []
    for i in range(n_series):
        level = 100.0 * (i + 1)
        values = (
            level + 0.5 * t + 0.2 * level * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.03 * level, n_months)
        )
        frames.append(pd.DataFrame({"series_id": f"s{i}", "month": months, "value": values, "flow": "cargo"}))
    return SeriesPanel(pd.concat(frames, ignore_index=True))


@pytest.fixture
def small_panel() -> SeriesPanel:
    return seasonal_panel()


CROSSINGS = {"heihe": "heilongjiang", "suifenhe": "heilongjiang", "manzhouli": "inner-mongolia"}
"""Three crossings in two regions: the smallest hierarchy with a crossing, region and total level."""


@pytest.fixture
def tree_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of each ``HistGradientBoostingRegressor`` fit in this process, in order (serial runs)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    fitted: list[int] = []
    fit = HistGradientBoostingRegressor.fit

    def counted(
        self: HistGradientBoostingRegressor, X: np.ndarray, y: np.ndarray, **kwargs: object
    ) -> object:
        fitted.append(len(X))
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", counted)
    return fitted


def trade_records(months: pd.PeriodIndex, seed: int = 0) -> pd.DataFrame:
    """Seeded seasonal exports and imports of :data:`CROSSINGS` (long records, months as periods)."""
    rng = np.random.default_rng(seed)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(len(months)) / 12)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"{crossing}/trade_value/{direction}",
                "month": months,
                "value": (100 * season * rng.lognormal(0, 0.1, len(months))).round(1),
                "crossing": crossing,
                "region": region,
                "flow": "trade_value",
                "direction": direction,
                "unit": "CNY",
            }
        )
        for crossing, region in CROSSINGS.items()
        for direction in ("export", "import")
    ]
    return pd.concat(frames, ignore_index=True)
