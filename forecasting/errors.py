"""Exception types with one message template: what is wrong, and where."""

from __future__ import annotations


def _location(
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
    series: str | None = None,
) -> str:
    parts = []
    if file is not None:
        parts.append(f"file {file!s}")
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column {column!r}")
    if series is not None:
        parts.append(f"series {series!r}")
    return ", ".join(parts)


class DataError(ValueError):
    """Input data that cannot be used as it is.

    The message names the file, row, column and series where known, so a user
    can find the offending cell without a debugger.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        series: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.series = series
        where = _location(file, row, column, series)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ValueError):
    """An invalid job or source configuration; the message names the key."""

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        self.key = key
        self.file = file
        where = ", ".join(p for p in (f"file {file}" if file else "", f"key {key!r}" if key else "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class ModelError(RuntimeError):
    """A model could not be fitted or used (for example predict before fit)."""


NUMERICAL_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError)
"""What fitting or forecasting one series may raise from its data: statsmodels, scipy and numpy raise
ValueError (``LinAlgError`` is one) or ArithmeticError (overflow, division, a non-finite forecast).
Such a failure becomes a reported fallback; ConfigError and DataError are about the input and
propagate, and so does anything else (a bug)."""
