"""Exception types with one message template: what is wrong, and where."""

from __future__ import annotations

ECHO_LIMIT = 80
"""Longest echo of a user's value in a message (a 20 MB cell must not flood a terminal or a log)."""
MESSAGE_LIMIT = 1000
"""Longest message body: lists of offending values are capped too."""


def shorten(value: object, limit: int = ECHO_LIMIT, *, quote: bool = True) -> str:
    """``repr(value)`` (``str`` without ``quote``) cut to ``limit`` characters with an ellipsis.

    How messages echo user input.
    """
    return _cap(repr(value) if quote else str(value), limit)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        parts.append(f"column {shorten(column)}")
    if series is not None:
        parts.append(f"series {shorten(series)}")
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
        self.detail = message
        where = _location(file, row, column, series)
        message = _cap(message, MESSAGE_LIMIT)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ValueError):
    """An invalid job or source configuration; the message names the key."""

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        self.key = key
        self.file = file
        self.message = message
        """The message without the file and key (to re-raise it with a file)."""
        parts = (f"file {file}" if file else "", f"key {shorten(key)}" if key else "")
        where = ", ".join(p for p in parts if p)
        message = _cap(message, MESSAGE_LIMIT)
        super().__init__(f"{where}: {message}" if where else message)


class ModelError(RuntimeError):
    """A model could not be fitted or used (for example predict before fit)."""


NUMERICAL_ERRORS: tuple[type[Exception], ...] = (ValueError, ArithmeticError)
"""What fitting or forecasting one series may raise from its data: statsmodels, scipy and numpy raise
ValueError (``LinAlgError`` is one) or ArithmeticError (overflow, division, a non-finite forecast).
Such a failure becomes a reported fallback; ConfigError and DataError are about the input and
propagate, and so does anything else (a bug)."""
