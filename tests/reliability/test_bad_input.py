"""Bad input: every loader and the job config parser end in a clean result or a located error.

The fuzz corpus (``corpus/``) holds one small file per defect users send us;
hypothesis adds random bytes and random but plausible long tables. A case may
load (the defect is repaired and reported, e.g. exact duplicates) or raise
``DataError``/``ConfigError`` naming the file; any other exception type, or a
hang (pytest-timeout), fails.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import cli
from forecasting.data import loaders
from forecasting.data.records import LoadResult
from forecasting.data.schema import COUNT_FLOWS
from forecasting.errors import ConfigError, DataError
from forecasting.jobs.config import load_config, parse_config

pytestmark = pytest.mark.timeout(60)

CORPUS = Path(__file__).parent / "corpus"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LOADERS: dict[str, Callable[[Path], LoadResult]] = {
    "auto": loaders.load,
    "long": loaders.load_long,
    "wide": loaders.load_wide,
    "bts": loaders.load_bts,
    **{
        name: (lambda path, spec=spec: loaders.load_source(spec, path))
        for name, spec in loaders.BUILTIN_SPECS.items()
    },
}

# file -> (records after load(format="auto"), or the error text that must appear)
EXPECTED: dict[str, int | str] = {
    "all_zero.csv": 12,
    "binary.parquet": "cannot read the header",
    "binary.xlsx": "cannot read the header",
    "blank_series_id.csv": "row 2: blank series_id",
    "bom_long.csv": 2,
    "bts_bad_measure.csv": "unknown measure 'Spaceships'",
    "bts_ok.csv": 2,
    "conflicting_duplicates.csv": "conflicting duplicate",
    "constant.csv": 12,
    "empty.csv": "empty input",
    "exact_duplicates.csv": 2,
    "extra_cells.csv": "more cells than the header",
    "header_only.csv": "header only",
    "huge_value.csv": "cannot read '1e309' as a number",
    "inf_value.csv": "is NaN or infinite",
    "japan_mof_mixed_dates.csv": "row 3, column 'Date': cannot read '2001-02' as a month",
    "kosis_ok.csv": 4,
    "latin1_long.csv": "cannot read the header",
    "mixed_dates.csv": 3,
    "nan_value.csv": "is NaN or infinite",
    "negative_count.csv": "row 3, column 'value', series 'a/cargo/in': negative count -3",
    "nul_bytes.csv": "NUL bytes",
    "number_with_space.csv": "cannot read '1 234' as a number",
    "one_row.csv": 1,
    "pipe_separated.csv": "no series columns",
    "ragged_rows.csv": "more cells than the header",
    "random_bytes.csv": "cannot read the header",
    "semicolon_long.csv": 2,
    "thousands_commas.csv": 2,
    "trailing_delimiter.csv": 2,
    "unclosed_quote.csv": "cannot read the table",
    "unreadable_date.csv": "row 3, column 'month': cannot read '13/2023' as a month",
    "us_census_bad_number.csv": "row 2, column 'Imports': cannot read 'abc'",
    "utf16_long.csv": "cannot read the header",
    "wide_no_series.csv": "no series columns",
    "wide_ok.csv": 3,
}


def outcome(load: Callable[[Path], LoadResult], path: Path) -> LoadResult | DataError | ConfigError:
    """The loader's result or its located error; anything else propagates and fails the test."""
    try:
        return load(path)
    except (DataError, ConfigError) as error:
        assert str(path) in str(error), f"error does not name the file: {error}"
        return error


def assert_clean(result: LoadResult) -> None:
    """A loaded table is canonical: finite values, unique keys, no negative counts."""
    records = result.records
    assert isinstance(records["month"].dtype, pd.PeriodDtype)
    assert np.isfinite(records["value"].to_numpy(dtype=float)).all()
    assert not records.duplicated(["series_id", "month"]).any()
    counts = records["flow"].isin(COUNT_FLOWS).to_numpy(dtype=bool)
    assert (records["value"].to_numpy()[counts] >= 0).all()


def test_corpus_is_fully_described() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_auto_load_of_corpus_file(name: str) -> None:
    result = outcome(loaders.load, CORPUS / name)
    expected = EXPECTED[name]
    if isinstance(expected, int):
        assert isinstance(result, LoadResult), result
        assert len(result.records) == expected
        assert_clean(result)
    else:
        assert isinstance(result, DataError), f"{name} loaded but should fail with {expected!r}"
        assert expected in str(result)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_on_every_corpus_file(loader: str) -> None:
    for path in sorted(CORPUS.iterdir()):
        result = outcome(LOADERS[loader], path)
        if isinstance(result, LoadResult):
            assert_clean(result)


def test_repairs_are_reported() -> None:
    duplicates = loaders.load(CORPUS / "exact_duplicates.csv")
    assert duplicates.records["value"].tolist() == [10.0, 12.0]
    assert "exact duplicate" in duplicates.report.format()
    bom = loaders.load(CORPUS / "bom_long.csv")
    assert list(bom.records["series_id"].unique()) == ["a/cargo/in"]
    mixed = loaders.load(CORPUS / "mixed_dates.csv")
    assert [str(m) for m in mixed.records["month"]] == ["2023-01", "2023-02", "2023-03"]
    thousands = loaders.load(CORPUS / "thousands_commas.csv")
    assert thousands.records["value"].tolist() == [1234.5, 2000.0]
    one_row = loaders.load(CORPUS / "one_row.csv")
    assert "short series" in one_row.report.format()
    zeros = loaders.load(CORPUS / "all_zero.csv")
    assert "zero months" in zeros.report.format()


@pytest.mark.parametrize("name", ["random_bytes.csv", "utf16_long.csv", "negative_count.csv", "empty.csv"])
def test_cli_data_check_exits_2_naming_the_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "check", str(CORPUS / name)]) == 2
    error = capsys.readouterr().err
    assert str(CORPUS / name) in error
    assert "Traceback" not in error


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([".csv", ".csv.gz", ".parquet", ".xlsx", ".txt"]))
def test_random_bytes_never_leak_raw_exceptions(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        for load in (loaders.load, loaders.load_long, loaders.load_wide, loaders.load_bts):
            result = outcome(load, path)
            if isinstance(result, LoadResult):
                assert_clean(result)


def _month_text(month: pd.Period, style: int) -> str:
    return month.strftime(["%Y-%m", "%b %Y", "%Y/%m", "%Y-%m-01", "%B %Y"][style])


VALUE_TEXT = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.integers(0, 10**7).map(lambda v: f"{v:,}"),
    st.integers(1000, 10**6).map(lambda v: f"{v:,}".replace(",", " ")),
    st.sampled_from(["", " ", "nan", "-inf", "1e400", "n/a", "12abc", "0", "-0"]),
)
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a/cargo/in", "b/passengers/out", "c/trade-value/export"]),
        st.integers(0, 30),
        st.integers(0, 4),
        VALUE_TEXT,
    ),
    min_size=0,
    max_size=25,
)


@FUZZ
@given(ROWS, st.sampled_from([",", ";", "\t"]))
def test_random_long_tables(rows: list[tuple[str, int, int, str]], sep: str) -> None:
    flows = {"a/cargo/in": "cargo", "b/passengers/out": "passengers", "c/trade-value/export": "trade_value"}
    start = pd.Period("2019-01", freq="M")
    frame = pd.DataFrame(
        [
            {"series_id": s, "month": _month_text(start + k, style), "value": v, "flow": flows[s]}
            for s, k, style, v in rows
        ],
        columns=["series_id", "month", "value", "flow"],
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.csv"
        frame.to_csv(path, sep=sep, index=False)
        result = outcome(loaders.load, path)
    if isinstance(result, LoadResult):
        assert_clean(result)
        assert len(result.records) <= len(frame)
        loaded = set(zip(result.records["series_id"], result.records["month"].astype(str), strict=True))
        written = {(s, str(start + k)) for s, k, _, _ in rows}
        assert loaded <= written


# --- the job config parser -------------------------------------------------------
TOML_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(-3, 200), st.floats(allow_nan=True), st.text(max_size=12)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
SECTION_KEYS = {
    "job": ["name", "horizon", "levels", "output_dir", "n_jobs", "stale_lock_hours", "bogus"],
    "candidates": ["models", "params"],
    "backtest": ["folds", "step", "window", "window_length"],
    "promotion": ["margin"],
    "series": ["targets", "ids", "filters"],
    "regressors": ["calendar", "events"],
}


@st.composite
def job_tables(draw: st.DrawFn) -> dict[str, object]:
    raw: dict[str, object] = {}
    for section in draw(st.lists(st.sampled_from([*SECTION_KEYS, "sources", "nonsense"]), max_size=4)):
        if section == "sources":
            raw[section] = draw(st.lists(st.dictionaries(st.sampled_from(["path", "format"]), TOML_VALUES)))
        else:
            keys = st.sampled_from(SECTION_KEYS.get(section, ["x"]))
            raw[section] = draw(st.dictionaries(keys, TOML_VALUES, max_size=3))
    return raw


@FUZZ
@given(job_tables())
def test_config_parser_raises_only_config_errors(raw: dict[str, object]) -> None:
    try:
        config = parse_config(raw, source_file="fuzz.toml")
    except ConfigError as error:
        assert "fuzz.toml" in str(error) and error.key
    else:
        assert config.horizon >= 1 and config.folds >= 1
        assert all(0 < level < 100 for level in config.levels)


@FUZZ
@given(st.binary(max_size=300))
def test_config_file_of_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "job.toml"
        path.write_bytes(data)
        try:
            load_config(path)
        except ConfigError as error:
            assert str(path) in str(error)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[job]\nhorizon = 0\n", "job.horizon"),
        ('[job]\nname = "../../etc"\n', "job.name"),
        ('[candidates]\nmodels = ["naive", "nope"]\n', "candidates.models[1]"),
        ("[[sources]]\nformat = 'long'\n", "sources[0].path"),
        ("[job]\nlevels = [80, 120]\n", "job.levels"),
        ("[promotion]\nmargin = nan\n", "promotion.margin"),
    ],
)
def test_cli_retrain_bad_config_exits_2(
    text: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["retrain", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and repr(key) in error
    assert "Traceback" not in error


def test_unreadable_config_encoding_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_bytes('[job]\nname = "b\u00e9"\n'.encode("utf-16"))
    with pytest.raises(ConfigError, match="job.toml"):
        load_config(path)
