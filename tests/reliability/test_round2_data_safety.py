"""Issue 18, round 2: nothing the package did not write is replaced, nothing is misread.

Promotion never replaces a user's ``<models_dir>/<job>``; ``--output`` never
replaces a device, a FIFO, a folder or the input; numbers with misplaced
separators are errors, not other numbers; inputs that are not regular files
fail at once instead of hanging; non-finite forecasts never reach an export.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import seasonal_panel

from forecasting import model_folder, tracking
from forecasting.cli import main
from forecasting.core.checks import check_experiment_name
from forecasting.data.loaders import SourceSpec, load_long, load_source, load_wide
from forecasting.data.parsing import parse_numbers
from forecasting.data.tables import read_header
from forecasting.errors import ConfigError, DataError
from forecasting.export import forecast_table
from forecasting.files import MAX_CONFIG_BYTES, MAX_HEADER_CHARS, output_target, write_csv_atomic
from forecasting.jobs.config import JobConfig, load_config
from forecasting.jobs.retrain import fit_and_forecast
from forecasting.models.base import PanelForecaster, interval_columns
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.registry import make_model
from forecasting.panel import SeriesPanel

from .jobkit import Job, champion, make_job, retrain, run_cli, run_statuses, store_uri, write_panel

pytestmark = pytest.mark.timeout(300)


# --- 1. promotion replaces only what the package wrote ------------------------------------
@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Job:
    """A job that has run once: champion version 1 linked at ``models/tiny``."""
    job = make_job(tmp_path_factory.mktemp("promotion"))
    assert retrain(job) == 0
    assert champion(job) == "1"
    return job


def _place(job: Job, kind: str) -> Path:
    """Put what a user might keep at ``models/<job>`` there: a folder, a file, a link to their folder."""
    target = job.models / job.name
    model_folder.remove_owned(target, job.name)
    assert not os.path.lexists(target)
    if kind == "folder":
        target.mkdir()
        (target / "notes.txt").write_text("keep me\n", encoding="utf-8")
    elif kind == "file":
        target.write_text("keep me\n", encoding="utf-8")
    else:
        mine = job.root / "my_project"
        mine.mkdir(exist_ok=True)
        (mine / "notes.txt").write_text("keep me\n", encoding="utf-8")
        target.symlink_to(mine)
    return target


def _unchanged(target: Path, kind: str) -> bool:
    if kind == "file":
        return not target.is_symlink() and target.read_text(encoding="utf-8") == "keep me\n"
    linked = target.is_symlink() == (kind == "link")
    return linked and (target / "notes.txt").read_text(encoding="utf-8") == "keep me\n"


def _take_away(target: Path, kind: str) -> None:
    if kind == "folder":
        (target / "notes.txt").unlink()
        target.rmdir()
    else:
        target.unlink()  # the file, or the link (the user's folder behind it stays)


def test_promotion_never_replaces_a_user_folder(promoted: Job, capfd: pytest.CaptureFixture[str]) -> None:
    job = promoted
    run_id = next(iter(run_statuses(job)))
    version = champion(job)
    for kind in ("folder", "file", "link"):
        target = _place(job, kind)
        capfd.readouterr()
        for argv in (
            ["retrain", "--config", str(job.config)],
            ["promote", "--run", run_id, "--config", str(job.config)],
            ["rollback", "--config", str(job.config)],
        ):
            assert run_cli(argv) == 2, (kind, argv)
            error = capfd.readouterr().err
            assert str(target) in error and "not written by forecasting" in error, (kind, argv, error)
            assert "Traceback" not in error and len(error.strip().splitlines()) == 1
            assert _unchanged(target, kind), (kind, argv)
            assert champion(job) == version, f"{argv[0]} moved the champion alias before refusing"
        _take_away(target, kind)
    assert (job.root / "my_project" / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert retrain(job) == 0, "with the user's things moved away the job runs again"
    assert model_folder.is_owned(target.resolve(), job.name)


def test_old_versions_are_cleaned_but_unmarked_look_alikes_survive(promoted: Job) -> None:
    job = promoted
    look_alike = job.models / f".{job.name}-vacation"
    look_alike.mkdir()
    (look_alike / "photo.txt").write_text("mine\n", encoding="utf-8")
    killed = job.models / f".{job.name}-v1-killed01"  # what a copy killed mid-download leaves (mkdtemp: 8)
    killed.mkdir()
    model_folder.claim(killed, job=job.name, version="1", run_id=None)
    half_link = job.models / f".{job.name}.link-killed"  # a copy killed before the swap
    half_link.symlink_to(killed.name)
    assert retrain(job) == 0
    assert (look_alike / "photo.txt").read_text(encoding="utf-8") == "mine\n"
    assert not killed.exists() and not os.path.lexists(half_link)
    versions = [p for p in job.models.glob(f".{job.name}-v*") if model_folder.is_owned(p, job.name)]
    assert versions == [(job.models / job.name).resolve()]
    assert not list(job.models.glob(f".{job.name}.link*"))


def test_a_marker_of_another_job_does_not_make_a_folder_replaceable(tmp_path: Path) -> None:
    folder = tmp_path / "border"
    folder.mkdir()
    model_folder.claim(folder, job="other", version="1", run_id="r")
    with pytest.raises(ConfigError, match="not written by forecasting"):
        model_folder.check_replaceable(folder, "border")
    model_folder.claim(folder, job="border", version="1", run_id="r")
    model_folder.check_replaceable(folder, "border")


# --- 2. --output replaces only a regular file that is not an input --------------------------
@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    return write_panel(tmp_path / "panel.csv")


def _non_regular(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"target_{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", ["fifo", "directory"])
@pytest.mark.parametrize("command", ["forecast", "series", "sample"])
def test_output_refuses_non_regular_targets(
    command: str, kind: str, long_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _non_regular(tmp_path, kind)
    argv = {
        "forecast": ["forecast", "--input", str(long_csv), "--horizon", "2", "--model", "naive"],
        "series": ["series", "build", "--input", str(long_csv)],
        "sample": ["sample", "generate"],
    }[command] + ["--output", str(target)]
    code, _, err = _cli(argv, capsys)
    assert code == 2
    assert str(target) in err and "refusing to replace" in err and len(err.strip().splitlines()) == 1
    assert target.is_fifo() if kind == "fifo" else target.is_dir()
    assert not (tmp_path / "mlruns").exists(), "refused before any work"


def test_output_never_replaces_a_device() -> None:
    """Checked without writing: as root, a rename would replace /dev/null with a regular file."""
    with pytest.raises(ConfigError, match="character device"):
        output_target("/dev/null")
    with pytest.raises(ConfigError, match="character device"):
        write_csv_atomic(pd.DataFrame({"a": [1]}), "/dev/null")
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["forecast", "series"])
def test_output_refuses_the_input_file(
    command: str, spelling: str, long_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = {
        "same": long_csv,
        "dotdot": tmp_path / "sub" / ".." / long_csv.name,
        "symlink": tmp_path / "link.csv",
        "hardlink": tmp_path / "hard.csv",
    }[spelling]
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        output.symlink_to(long_csv)
    elif spelling == "hardlink":
        os.link(long_csv, output)
    before = long_csv.read_bytes()
    argv = {
        "forecast": ["forecast", "--input", str(long_csv), "--horizon", "2", "--model", "naive"],
        "series": ["series", "build", "--input", str(long_csv)],
    }[command] + ["--output", str(output)]
    code, _, err = _cli(argv, capsys)
    assert code == 2
    assert "the same file as the input" in err and str(output) in err
    assert long_csv.read_bytes() == before


def test_output_refuses_the_source_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "x"\n', encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("Date,Exports\n2023-01,1\n", encoding="utf-8")
    code, _, err = _cli(
        ["series", "build", "--input", str(table), "--format", str(spec), "--output", str(spec)], capsys
    )
    assert code == 2 and "the same file as the input" in err
    assert spec.read_text(encoding="utf-8") == 'name = "x"\n'


def test_output_dash_writes_csv_to_stdout(
    long_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(["series", "build", "--input", str(long_csv), "--output", "-"], capsys)
    assert code == 0 and "to stdout" in err
    written = pd.read_csv(io.StringIO(out))
    assert len(written) == 60 and written["series_id"].nunique() == 2
    assert not (tmp_path / "-").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri(tmp_path / "mlruns" / "mlflow.db"))
    argv = ["forecast", "--input", str(long_csv), "--horizon", "2", "--model", "naive", "--output", "-"]
    code, out, err = _cli(argv, capsys)
    assert code == 0 and "to stdout" in err
    forecasts = pd.read_csv(io.StringIO(out))
    assert len(forecasts) == 4 and forecasts["forecast"].notna().all()
    assert not (tmp_path / "-").exists()


def test_output_through_a_link_writes_the_linked_file(long_csv: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert write_csv_atomic(pd.DataFrame({"a": ["=1+1"]}), link, inputs=[long_csv]) == real
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "a\n'=1+1\n"


# --- 3. numbers are read as written or not at all ---------------------------------------
@pytest.mark.parametrize(
    "cell", ["100,38", "1.234,5", "1,2,3,4", "1,23", "12,3456", "1,,234", ",5", "1,234.5.6", "1.2e3,4"]
)
def test_misplaced_separators_are_errors_naming_file_row_and_column(cell: str, tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text(f'series_id,month,value\ns,2023-01,1\ns,2023-02,"{cell}"\n', encoding="utf-8")
    with pytest.raises(DataError, match="cannot read") as error:
        load_long(path)
    assert (error.value.file, error.value.row, error.value.column) == (str(path), 3, "value")
    assert repr(cell) in str(error.value)


@pytest.mark.parametrize(
    ("cell", "value"),
    [("1,187.5", 1187.5), ("-7,240.0", -7240.0), ("1,234,567", 1234567.0), ("12", 12.0), (".5", 0.5)],
)
def test_thousands_in_groups_of_three_still_read(cell: str, value: float) -> None:
    assert parse_numbers([cell]).tolist() == [value]


def test_decimal_comma_is_a_loader_option() -> None:
    cells = ["1.234,5", "100,38", "7", "1 234,5"]
    assert parse_numbers(cells[:3], decimal=",").tolist() == [1234.5, 100.38, 7.0]
    assert parse_numbers(cells[1:], decimal=",", thousands=" ").tolist() == [100.38, 7.0, 1234.5]
    with pytest.raises(DataError, match="'1,234.5'"):
        parse_numbers(["1,234.5"], decimal=",")


def test_decimal_auto_takes_the_only_mark_that_reads_the_column() -> None:
    assert parse_numbers(["1.234,5", "12,5"], decimal="auto").tolist() == [1234.5, 12.5]
    assert parse_numbers(["1,234.5", "12"], decimal="auto").tolist() == [1234.5, 12.0]
    assert parse_numbers(["1,234", "12,345,678"], decimal="auto").tolist() == [1234.0, 12345678.0]
    rows = pd.Series(["12", "1,234"], index=[2, 3])
    with pytest.raises(DataError, match="ambiguous decimal mark") as error:
        parse_numbers(rows, decimal="auto", file="f.csv", column="Exports")
    assert (error.value.row, error.value.column) == (3, "Exports")


SEMICOLON_DECIMAL_COMMA = "series_id;month;value\ns;2023-01;12,5\ns;2023-02;100,38\ns;2023-03;1.234,5\n"


def test_semicolon_file_with_decimal_commas_is_not_usable_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "european.csv"
    path.write_text(SEMICOLON_DECIMAL_COMMA, encoding="utf-8")
    code, out, err = _cli(["data", "check", str(path)], capsys)
    assert code == 2 and "usable" not in out
    assert f"file {path}, row 2, column 'value': cannot read '12,5'" in err
    assert len(err.strip().splitlines()) == 1


def test_a_source_spec_reads_decimal_commas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "european.csv"
    table.write_text("Period;Exports\n2023-01;12,5\n2023-02;100,38\n2023-03;1.234,5\n", encoding="utf-8")
    spec = tmp_path / "european.toml"
    body = (
        'name = "eu"\nseries_prefix = "eu"\ndate_column = "Period"\nunit = "EUR"\nseparator = ";"\n'
        '[values.Exports]\nflow = "trade_value"\nmeasure = "goods"\ndirection = "export"\n'
    )
    for decimal in (",", "auto"):
        spec.write_text(f'decimal = "{decimal}"\n' + body, encoding="utf-8")
        records = load_source(SourceSpec.from_toml(spec), table).records
        assert records["value"].tolist() == [12.5, 100.38, 1234.5]
    code, out, _ = _cli(["data", "check", str(table), "--format", str(spec)], capsys)
    assert code == 0 and "usable" in out
    spec.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2, column 'Exports': cannot read '12,5'"):
        load_source(SourceSpec.from_toml(spec), table)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('decimal = "x"', "key 'decimal'.*must be"),
        ('decimal = ","\nthousands = ","', "key 'thousands'.*must differ"),
    ],
)
def test_source_spec_decimal_key_is_checked(settings: str, message: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f'{settings}\nname = "x"\nseries_prefix = "x"\ndate_column = "D"\nunit = "U"\n'
        '[values.V]\nflow = "trade_value"\nmeasure = "goods"\ndirection = "export"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=message):
        SourceSpec.from_toml(spec)


def test_wide_tables_name_the_series_column(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text('month,a,b\n2023-01,1,2\n2023-02,3,"1,2,3,4"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3, column 'b': cannot read '1,2,3,4'"):
        load_wide(path)


# --- 4. one writer for every CSV ---------------------------------------------------------
PACKAGE = Path(__file__).resolve().parents[2] / "forecasting"


def test_only_the_one_writer_calls_to_csv() -> None:
    callers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if ".to_csv(" in path.read_text(encoding="utf-8")
    )
    assert callers == ["files.py"]


def _hostile_long_csv(path: Path) -> Path:
    months = pd.period_range("2021-01", periods=3, freq="M").astype(str)
    frame = pd.DataFrame({"series_id": "=cmd|' /C calc'!A0", "month": months, "value": [-1.5, 2.0, 3.0]})
    frame["crossing"] = "@SUM(A1)"
    frame.to_csv(path, index=False)
    return path


def test_series_build_output_is_neutralised_and_atomic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _hostile_long_csv(tmp_path / "hostile.csv")
    output = tmp_path / "out.csv"
    code, _, _ = _cli(["series", "build", "--input", str(source), "--output", str(output)], capsys)
    assert code == 0
    written = pd.read_csv(output)
    assert set(written["series_id"]) == {"'=cmd|' /C calc'!A0"}
    assert set(written["crossing"]) == {"'@SUM(A1)"}
    assert written["value"].tolist() == [-1.5, 2.0, 3.0], "numbers are never prefixed"
    before = output.read_bytes()

    def crash(self: pd.DataFrame, handle: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(OSError, match="disk full"):
        main(["series", "build", "--input", str(source), "--output", str(output)])
    monkeypatch.undo()
    assert output.read_bytes() == before
    files = ["hostile.csv", "out.csv", "out.hierarchy.csv", "out.report.txt"]  # no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def test_mlflow_csv_artifacts_are_neutralised(tmp_path: Path) -> None:
    import mlflow

    uri = tracking.configure(store_uri(tmp_path / "mlruns" / "mlflow.db"))
    experiment = tracking.ensure_experiment("neutral", uri)
    frame = pd.DataFrame({"series_id": ["=1+1", "+a", "ok"], "mase": [-1.0, 0.5, 1.0]})
    with mlflow.start_run(experiment_id=experiment) as run:
        tracking.log_frame(frame, "tables/metrics_by_series.csv")
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="tables/metrics_by_series.csv", dst_path=str(tmp_path / "dl")
    )
    back = pd.read_csv(local)
    assert back["series_id"].tolist() == ["'=1+1", "'+a", "ok"]
    assert back["mase"].tolist() == [-1.0, 0.5, 1.0]


# --- 5. the experiment name never becomes a path outside the store -----------------------
BAD_EXPERIMENTS = ("../../x", "..", "/tmp/abs", "a/b", "a\\b", "x\n", "x" * 101, ".hidden", "a..b", "")


@pytest.mark.parametrize("name", BAD_EXPERIMENTS)
def test_experiment_names_are_checked_in_the_config(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "job.toml"
    config.write_text(f"[tracking]\nexperiment = {json.dumps(name)}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="key 'tracking.experiment'"):
        load_config(config)
    code, _, err = _cli(["compare", "--config", str(config)], capsys)
    assert code == 2 and "tracking.experiment" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="key 'experiment'"):
        load_config(None, experiment=name)


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped-abs", "x\n"])
def test_experiment_flags_are_checked(
    name: str,
    long_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    argv = ["forecast", "--input", str(long_csv), "--horizon", "2", "--model", "naive", "--output", "f.csv"]
    code, _, err = _cli([*argv, "--experiment", name], capsys)
    assert code == 2 and "key '--experiment'" in err
    code, _, err = _cli(["compare", "--experiment", name], capsys)
    assert code == 2 and "key '--experiment'" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "panel.csv"]
    with pytest.raises(ConfigError, match="key 'experiment'"):
        tracking.ensure_experiment(name, f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")


@pytest.mark.parametrize("name", ["border", "Border-2024.v1", "x" * 100])
def test_ordinary_experiment_names_pass(name: str) -> None:
    assert check_experiment_name(name) == name


# --- 6. inputs that are not regular files fail at once, reads are bounded -----------------
def _special_input(tmp_path: Path, kind: str) -> Path:
    if kind == "dev_zero":
        return Path("/dev/zero")
    path = tmp_path / f"input_{kind}.csv"
    if kind == "fifo":
        os.mkfifo(path)  # nothing ever writes: opening it for reading would block forever
    else:
        path.mkdir()
    return path


INPUT_COMMANDS = {
    "forecast": ["forecast", "--horizon", "2", "--model", "naive", "--output", "{out}", "--input"],
    "backtest": ["backtest", "--horizon", "2", "--models", "naive", "--input"],
    "series": ["series", "build", "--output", "{out}", "--input"],
    "check": ["data", "check"],
    "retrain": ["retrain", "--config"],
}


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
@pytest.mark.parametrize("command", sorted(INPUT_COMMANDS))
def test_non_regular_inputs_fail_at_once(
    command: str, kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _special_input(tmp_path, kind)
    out = str(tmp_path / "out.csv")
    argv = [part.replace("{out}", out) for part in INPUT_COMMANDS[command]] + [str(path)]
    capfd.readouterr()
    assert run_cli(argv, env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'db.sqlite'}"}, timeout=60) == 2
    err = capfd.readouterr().err
    expected = {"fifo": "a FIFO", "dev_zero": "a character device", "directory": "a directory"}[kind]
    assert f"file {path}: {expected}" in err and "not a regular file" in err
    assert "Traceback" not in err
    assert not Path(out).exists()


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_non_regular_sources_and_specs_in_a_job_fail_at_once(
    kind: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    job = make_job(tmp_path / "job")
    special = _special_input(tmp_path, kind)
    text = job.config.read_text(encoding="utf-8")
    job.config.write_text(text.replace(str(job.root / "tiny.csv"), str(special)), encoding="utf-8")
    capfd.readouterr()
    assert retrain(job, timeout=60) == 2
    assert f"file {special}: " in capfd.readouterr().err
    spec_config = text.replace('format = "long"', f'format = "{special}.toml"')
    if kind == "fifo":
        os.mkfifo(f"{special}.toml")
        job.config.write_text(spec_config, encoding="utf-8")
        assert retrain(job, timeout=60) == 2
        assert f"file {special}.toml: a FIFO" in capfd.readouterr().err


def test_header_reads_are_capped(tmp_path: Path) -> None:
    long_line = tmp_path / "one_line.csv.gz"
    with gzip.open(long_line, "wt", encoding="utf-8") as handle:
        handle.write("a" * (MAX_HEADER_CHARS + 10))
    with pytest.raises(DataError, match="first line is longer than"):
        read_header(long_line)
    plain = tmp_path / "one_line.csv"
    plain.write_text("b" * (MAX_HEADER_CHARS + 10), encoding="utf-8")
    with pytest.raises(DataError, match="first line is longer than"):
        read_header(plain)


def test_config_reads_are_capped(tmp_path: Path) -> None:
    config = tmp_path / "big.toml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(config)
    with pytest.raises(ConfigError, match="larger than"):
        SourceSpec.from_toml(config)


# --- 9. values that overflow are unusable; non-finite forecasts are never exported --------
@pytest.mark.parametrize("cell", ["1.7e308", "-1e200", "1e101"])
def test_values_that_overflow_arithmetic_are_not_usable(
    cell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.csv"
    months = pd.period_range("2020-01", periods=30, freq="M").astype(str)
    values = ["100"] * 30
    values[17] = cell
    pd.DataFrame({"series_id": "s", "month": months, "value": values}).to_csv(path, index=False)
    code, out, err = _cli(["data", "check", str(path)], capsys)
    assert code == 2 and "usable" not in out
    assert f"file {path}, row 19, column 'value', series 's': value {float(cell):g} is too large" in err
    output = tmp_path / "f.csv"
    argv = ["forecast", "--input", str(path), "--horizon", "2", "--model", "naive", "--output", str(output)]
    assert _cli(argv, capsys)[0] == 2
    assert not output.exists()


def test_large_but_safe_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    path.write_text("series_id,month,value\ns,2020-01,1e99\ns,2020-02,-2.5e15\n", encoding="utf-8")
    assert load_long(path).records["value"].tolist() == [1e99, -2.5e15]


class _Overflowing(PanelForecaster):
    """Naive forecasts, except one series whose forecast and interval overflow (as ETS can)."""

    name = "overflowing"

    def __init__(self, series: str = "s1") -> None:
        self.series = series

    def fit(self, panel: SeriesPanel, X: pd.DataFrame | None = None) -> _Overflowing:
        self.inner_ = make_model("naive").fit(panel)
        self.last_month_ = self.inner_.last_month_
        return self

    def predict(
        self, horizon: int, X_future: pd.DataFrame | None = None, levels: tuple[int, ...] = (80, 95)
    ) -> pd.DataFrame:
        out = self.inner_.predict(horizon, levels=levels).assign(model=self.name)
        chosen = out["series_id"] == self.series
        out.loc[chosen, "upper_95"] = np.inf
        out.loc[chosen.to_numpy().nonzero()[0][0], "forecast"] = np.nan
        return out


def test_non_finite_forecasts_become_a_reported_fallback(
    small_panel_two: SeriesPanel, caplog: pytest.LogCaptureFixture
) -> None:
    config = JobConfig(name="t", horizon=3)
    with caplog.at_level(logging.INFO, logger="forecasting.jobs.retrain"):
        forecasts = fit_and_forecast(_Overflowing(), small_panel_two, config, None)
    numbers = forecasts[["forecast", *interval_columns(config.levels)]].to_numpy()
    assert np.isfinite(numbers).all()
    naive = make_model("naive").fit(small_panel_two).predict(3)
    fallback = SeasonalNaive().fit(small_panel_two.subset(["s1"])).predict(3)
    ours = forecasts[forecasts["series_id"] == "s1"]
    np.testing.assert_allclose(ours["forecast"], fallback["forecast"])
    np.testing.assert_allclose(ours["upper_95"], fallback["upper_95"])
    untouched = forecasts[forecasts["series_id"] == "s0"]
    np.testing.assert_allclose(untouched["upper_95"], naive[naive["series_id"] == "s0"]["upper_95"])
    assert "event=fallback model=overflowing series=s1 fallback=seasonal_naive" in caplog.text


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_non_finite_forecast_is_never_exported() -> None:
    """Values that would overflow are refused with the panel; a non-finite forecast reaching the export
    anyway (a custom model) is an error naming the series."""
    months = pd.period_range("2020-01", periods=30, freq="M")
    huge = pd.DataFrame({"series_id": "huge", "month": months, "value": np.linspace(1e300, 1.5e300, 30)})
    with pytest.raises(DataError, match="series 'huge': value 1e\\+300 is too large to forecast"):
        SeriesPanel(huge)
    panel = SeriesPanel(pd.DataFrame({"series_id": "fine", "month": months, "value": np.arange(30.0) + 10}))
    forecasts = make_model("naive").fit(panel).predict(3)
    forecasts.loc[1, "upper_95"] = np.inf
    with pytest.raises(DataError, match="series 'fine': forecast or interval is not a finite number"):
        forecast_table(forecasts, panel.metadata, run_id="r")


@pytest.fixture
def small_panel_two() -> SeriesPanel:
    return seasonal_panel(n_series=2, n_months=36)


def test_a_link_written_before_markers_existed_is_still_replaced(promoted: Job) -> None:
    """Upgrading keeps working: the old link is swapped, the unmarked old folder is kept, not deleted."""
    job = promoted
    old = (job.models / job.name).resolve()
    (old / model_folder.MARKER).unlink()
    assert (old / "MLmodel").is_file()
    assert retrain(job) == 0
    new = (job.models / job.name).resolve()
    assert new != old and model_folder.is_owned(new, job.name)
    assert (old / "MLmodel").is_file(), "an unmarked folder is never removed"
