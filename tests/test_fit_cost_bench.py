"""``benchmarks/fit_cost.py``: the CPU a series' fit costs per model, beside the ``fit_cost`` the ETA uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import load_benchmark, seasonal_panel


def test_it_measures_each_model_against_arima_and_prints_the_declared_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit_cost = load_benchmark("fit_cost")
    records = seasonal_panel(n_series=4, n_months=48).to_long()
    path = tmp_path / "panel.csv"
    long = records.assign(month=records["month"].astype(str))[["series_id", "month", "value"]]
    long.to_csv(path, index=False)
    fit_cost.main(["--panel", str(path), "--series", "3", "--horizon", "6", "--models", "naive,arima"])
    out = capsys.readouterr().out
    assert out.startswith(f"3 series of {path}, one fold of 6 months, serial")
    rows = dict(re.findall(r"^\| (naive|arima) \| [\d.]+ \| ([\d.]+) \| [\d.]+ \|$", out, flags=re.M))
    assert rows["arima"] == "1.000"  # the reference
    assert 0 < float(rows["naive"]) < 1  # a baseline costs less than ARIMA
    assert re.search(r"^\| naive \| .* \| 0\.01 \|$", out, flags=re.M)  # declared beside measured
