"""Quality reports a person reads: a summary with counts per kind and shared shifts first; every finding
once in the full report, which ``series build`` and ``data check`` save beside the output."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.data.report import LEVEL_SHIFT, LEVEL_SHIFT_NOTE, SUMMARY_LINES, DataQualityReport, kind_of
from forecasting.sample import SAMPLE_PATH


def _report() -> DataQualityReport:
    report = DataQualityReport(source="panel.csv", rows_read=5000)
    report.add(
        "dropped", "exact duplicate row (same key, same value and attributes)", count=3, rows=[4, 9, 12]
    )
    for i in range(30):
        report.add(
            "warning", "gap: months missing inside the series (left missing)", count=i + 1, series_id=f"s{i}"
        )
        report.add(
            "warning", "run of 6 or more zero months (closed?)", count=6, series_id=f"s{i}", month="2020-04"
        )
    report.add("warning", "not built: no outbound series among its children in persons", series_id="x/both")
    report.add("warning", "not built: no outbound series among its children in persons", series_id="x/both")
    report.add("converted", "thousand JPY -> JPY (x1000)", count=12, file="panel.csv", series_id="jp")
    for month, n in (("2020-04", 40), ("2021-11", 31)):  # found last, shown first
        reason = f"level shift shared by {n} of 47 crossings of 'passengers': down; {LEVEL_SHIFT_NOTE}"
        report.add("flagged", reason, count=n, month=month, kind=LEVEL_SHIFT)
    return report


def test_kinds_come_from_the_reason_before_its_particulars() -> None:
    report = _report()
    assert [kind_of(i) for i in report.issues[:3]] == [
        "exact duplicate row",
        "gap",
        "run of 6 or more zero months",
    ]
    assert kind_of(report.issues[-1]) == LEVEL_SHIFT


def test_summary_counts_each_kind_shows_shifts_first_and_at_most_20_findings() -> None:
    lines = _report().summary().splitlines()
    assert len(lines) == len(set(lines))  # no line twice
    assert lines[:3] == [
        "Data quality report: panel.csv",
        "  rows read: 5,000",
        "  findings: 65 of 6 kinds",  # the repeated "not built" counts once
    ]
    assert lines[3] == f"  {LEVEL_SHIFT}: 2 ({LEVEL_SHIFT_NOTE})"
    assert lines[4].endswith("down [month 2020-04]") and lines[5].endswith("down [month 2021-11]")
    assert sum(LEVEL_SHIFT_NOTE in line for line in lines) == 1  # the note once, not on every shift
    kinds = lines[lines.index("  by kind:      findings     count  kind") + 1 :][:6]
    assert [line.split() for line in kinds] == [
        ["flagged", "2", "71", *LEVEL_SHIFT.split()],
        ["dropped", "1", "3", "exact", "duplicate", "row"],
        ["warning", "30", "465", "gap"],
        ["warning", "30", "180", "run", "of", "6", "or", "more", "zero", "months"],
        ["warning", "1", "1", "not", "built"],
        ["converted", "1", "12", "thousand", "JPY", "->", "JPY"],
    ]
    shown = lines[lines.index("  the 20 most important of 63 other findings:") + 1 :]
    assert len(shown) == SUMMARY_LINES
    # every kind has an example before any kind has a second; the largest of each first
    assert sum("exact duplicate row" in line for line in shown) == 1
    assert "not built" in "\n".join(shown) and "thousand JPY" in "\n".join(shown)
    gaps = [int(line.split()[1]) for line in shown if "gap:" in line]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] == 30
    assert "panel.csv;" not in "\n".join(shown)  # the source's own path is in the header already


def test_full_report_has_every_finding_once_grouped_by_kind() -> None:
    report = _report()
    text = report.format()
    findings = text.splitlines()[text.splitlines().index("  findings:") + 1 :]
    distinct = {issue.describe() for issue in report.findings()}
    assert len(findings) == len(distinct) == len(report.issues) - 1  # the repeated "not built" once
    assert Counter(findings).most_common(1)[0][1] == 1
    assert "level shift" in findings[0] and "level shift" in findings[1]
    assert report.count("warning") == 465 + 180 + 2  # what was found, as added: counting is unchanged


def _build_input(path: Path) -> None:
    """Passengers in two units, inbound only: "both" cannot be built for either unit."""
    months = pd.period_range("2019-01", "2022-12", freq="M").astype(str)
    frames = [
        pd.DataFrame(
            {
                "series_id": f"{crossing}/{measure}",
                "month": months,
                "value": 100.0 + i,
                "crossing": crossing,
                "region": "north",
                "flow": "passengers",
                "measure": measure,
                "direction": "inbound",
                "unit": unit,
            }
        )
        for i, crossing in enumerate(("a", "b"))
        for measure, unit in (("pedestrians", "persons"), ("buses", "vehicles"))
    ]
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)


def test_series_build_prints_a_summary_and_saves_the_full_report_beside_the_output(
    tmp_path: Path, capsys
) -> None:
    _build_input(tmp_path / "input.csv")
    output = tmp_path / "out" / "panel.csv"
    assert main(["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(output)]) == 0
    err = capsys.readouterr().err
    saved = tmp_path / "out" / "panel.report.txt"
    assert f"all of them in {saved}" in err
    lines = saved.read_text(encoding="utf-8").splitlines()
    findings = lines[lines.index("  findings:") + 1 :]
    assert len(findings) == len(set(findings))
    not_built = [line for line in findings if "not built" in line]
    # one crossing's persons and vehicles are two parents: once each, the unit named (not one line twice)
    assert sum("in persons [series 'a/passengers/both']" in line for line in not_built) == 1
    assert sum("in vehicles [series 'a/passengers/both']" in line for line in not_built) == 1
    summary = err.split("wrote ")[0].splitlines()
    assert len(summary) == len(set(summary)) and re.search(r"warning +\d+ +\d+  not built", err)
    chosen = tmp_path / "elsewhere" / "build.txt"
    args = ["series", "build", "--input", str(tmp_path / "input.csv"), "--output", str(output)]
    assert main([*args, "--report", str(chosen)]) == 0
    assert chosen.read_text(encoding="utf-8") == saved.read_text(encoding="utf-8")


@pytest.mark.parametrize("report", ["panel.csv", "panel.hierarchy.csv", "input.csv", "-"])
def test_series_build_refuses_a_report_path_that_is_another_file_of_the_command(
    tmp_path: Path, capsys, report: str
) -> None:
    _build_input(tmp_path / "input.csv")
    args = [
        "series",
        "build",
        "--input",
        str(tmp_path / "input.csv"),
        "--output",
        str(tmp_path / "panel.csv"),
    ]
    target = report if report == "-" else str(tmp_path / report)
    assert main([*args, "--report", target]) == 2
    assert "forecasting: error:" in capsys.readouterr().err
    assert not (tmp_path / "panel.csv").exists()  # refused before any work


def test_data_check_saves_the_full_report_when_asked(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "check.txt"
    assert main(["data", "check", str(SAMPLE_PATH), "--report", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "findings:" in out and f"all of them in {saved}" in out
    assert saved.read_text(encoding="utf-8").startswith("Data quality report:")


def test_series_build_on_the_bts_file_prints_a_short_summary(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    source = shared_data / "border_crossings" / "Border_Crossing_Entry_Data.csv.gz"
    output = tmp_path / "panel.csv"
    args = ["series", "build", "--input", str(source), "--format", "bts", "--conflicts", "drop"]
    assert main([*args, "--output", str(output)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) < 60 and len(err) == len(set(err))  # was 2,943 lines, 119 of them twice
    assert err[3].startswith(f"  {LEVEL_SHIFT}: 15")
    assert "67 of 88 crossings of 'cargo truck_containers_loaded inbound containers'" in "\n".join(err[4:19])
    full = (tmp_path / "panel.report.txt").read_text(encoding="utf-8").splitlines()
    findings = full[full.index("  findings:") + 1 :]
    assert len(findings) == len(set(findings)) > 2800
    assert sum("not built" in line for line in findings) == 239


def test_a_report_of_several_files_names_each_by_its_name_once_the_header_gave_the_paths(tmp_path) -> None:
    """A job's merged report (its sources, each loaded with its findings): lines stay short."""
    from forecasting.data.loaders import load

    paths = []
    for folder in ("customs/2024", "customs/2025", "border"):
        path = tmp_path / folder / ("trade.csv" if folder.startswith("customs") else "ports.csv")
        path.parent.mkdir(parents=True)
        series = f"{folder.replace('/', '-')}/cargo/export"
        months = [f"2024-{m:02d}" for m in range(1, 13)]
        values = [str(100 + m) for m in range(12)]
        values[3] = ""  # not reported: a finding located in this file
        pd.DataFrame({"series_id": series, "month": months, "value": values}).to_csv(path, index=False)
        paths.append(str(path))
    report = DataQualityReport(source=", ".join(paths))
    for path in paths:
        report.extend(load(path, "long").report)
    text = report.format()
    assert text.splitlines()[0] == f"Data quality report: {', '.join(paths)}"
    body = "\n".join(text.splitlines()[1:])
    assert str(tmp_path) not in body.replace(paths[0], "").replace(paths[1], "")  # ports.csv by its name
    assert "[ports.csv; series 'border/cargo/export'; rows 5]" in body
    assert f"[{paths[0]}; series 'customs-2024/cargo/export'; rows 5]" in body  # two trade.csv: paths
    alone = load(paths[2], "long").report.format()
    assert str(tmp_path) not in "\n".join(alone.splitlines()[1:])  # its own source: no path at all
