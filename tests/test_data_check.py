"""``forecasting data check`` through ``forecasting.cli.main``: 0 on every real file, 2 on bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.cli import main


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "trade/usa-china-trade-data.csv",
            ["format:    us_census", "series:    2", "2001-01 .. 2019-12 (228 months)"],
        ),
        ("trade/japan-china-trade-data.csv", ["format:    japan_mof", "(thousand JPY -> JPY)"]),
        ("trade/korea-china-trade-data.csv", ["format:    kosis", "column 'Country' not loaded"]),
        ("trade/exchange-rates.csv", ["format:    rates", "KRW:", "no rate in 2 month(s): 2001-01, 2001-02"]),
    ],
)
def test_check_real_trade_files(
    shared_data: Path, capsys: pytest.CaptureFixture[str], file: str, expected: list[str]
) -> None:
    assert main(["data", "check", str(shared_data / file)]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_check_real_bts_file(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_data / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz"
    assert main(["data", "check", str(path), "--format", "bts"]) == 2  # as forecast: a conflicting duplicate
    out, err = capsys.readouterr()
    assert "2 rows are conflicting duplicates (listed above)" in err and "--conflicts drop" in err
    assert "series:    1,379" in out
    assert "1996-01 .. 2023-12 (336 months)" in out
    assert "rows read: 388,822; records kept: 388,810" in out
    assert "dropped        10  exact duplicate row" in out
    assert "conflicting duplicate: values [0.0, 2175.0]" in out and "bts/2606/bus-passengers" in out


def test_check_builtin_spec_name_as_format(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "data",
                "check",
                str(shared_data / "trade" / "usa-china-trade-data.csv"),
                "--format",
                "us_census",
            ]
        )
        == 0
    )
    assert "scaled by 1e+06 (million USD -> USD)" in capsys.readouterr().out


def test_check_long_file_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "panel.csv"
    path.write_text("series_id,month,value\nx,2023-01,1\nx,2023-03,2\n")
    assert main(["data", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format:    long" in out
    assert "gap: months missing inside the series" in out and "series 'x'" in out
    assert "usable, with the warnings above" in out


@pytest.mark.parametrize(
    ("text", "fmt", "reason"),
    [
        (
            "series_id,month,value,flow\nx,2023-01,1,cargo\nx,2023-02,-3,cargo\n",
            "auto",
            "row 3, column 'value'",
        ),
        (
            "series_id,month,value\nx,Jan 2023,1\nx,Febr 2023,2\n",
            "auto",
            "cannot read 'Febr 2023' as a month",
        ),
        ("series_id,month,value\n", "auto", "header only"),
        ("series_id,month,value\nx,2023-01,1\n", "monthly_magic", "unknown format 'monthly_magic'"),
    ],
)
def test_check_bad_input_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fmt: str, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code = main(["data", "check", str(path), "--format", fmt])
    captured = capsys.readouterr()
    assert code == 2
    assert reason in captured.err and captured.err.startswith("forecasting: error:")
    assert "Traceback" not in captured.err and captured.out == ""


def test_check_missing_file_and_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(tmp_path / "absent.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    table = tmp_path / "t.csv"
    table.write_text("d,v\n2023-01,1\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "t"\nseries_prefix = "t"\ndate_column = "d"\nunit = "USD"\n')
    assert main(["data", "check", str(table), "--format", str(spec)]) == 2
    assert "key 'values'" in capsys.readouterr().err
