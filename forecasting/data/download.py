"""Fetch the public BTS Border Crossing Entry Data into a local cache.

The CSV export of data.bts.gov dataset keg4-3bc2 is downloaded with urllib
into ``data/raw/`` (by default) and reused while younger than ``max_age``.
Writes are atomic (a temporary file in the cache directory, then a rename), so
an interrupted download never leaves a truncated file that looks cached.
Transient failures (network errors, HTTP 5xx, 429) are retried a bounded
number of times; when every attempt fails a :class:`DownloadError` says what
was tried and what to do. A stale cached copy is then used with a warning
rather than failing an offline job.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from datetime import timedelta
from pathlib import Path

from forecasting.files import output_target

BTS_URL = "https://data.bts.gov/api/views/keg4-3bc2/rows.csv?accessType=DOWNLOAD"
BTS_FILENAME = "Border_Crossing_Entry_Data.csv"
DEFAULT_CACHE_DIR = Path("data") / "raw"
DEFAULT_MAX_AGE = timedelta(days=30)
"""BTS publishes monthly; a month-old copy is as good as a fresh one for most jobs."""


class DownloadError(ConnectionError):
    """A download failed after every retry; the message names the URL and the last reason."""


def download_bts(
    *,
    url: str = BTS_URL,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    filename: str = BTS_FILENAME,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    force: bool = False,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> Path:
    """The local path of the BTS CSV, downloading it when not cached, stale or ``force``."""
    return fetch(
        url,
        Path(cache_dir) / filename,
        max_age=max_age,
        force=force,
        retries=retries,
        timeout=timeout,
        backoff=backoff,
    )


def fetch(
    url: str,
    destination: str | Path,
    *,
    max_age: timedelta | None = DEFAULT_MAX_AGE,
    force: bool = False,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> Path:
    """Download ``url`` to ``destination`` unless a cached copy younger than ``max_age`` exists.

    ``max_age=None`` trusts any cached copy; ``force=True`` always downloads.
    """
    if retries < 1:
        raise ValueError(f"The 'retries' parameter must be a positive int. Got {retries!r} instead.")
    destination = Path(destination)
    output_target(destination)  # a folder, a FIFO or a device there is refused, never replaced
    if not force and _is_fresh(destination, max_age):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download_with_retries(url, destination, retries=retries, timeout=timeout, backoff=backoff)
    except DownloadError as error:
        if destination.is_file() and not force:
            warnings.warn(f"{error}; using the cached copy {destination} (stale)", UserWarning, stacklevel=2)
            return destination
        raise
    return destination


def _is_fresh(path: Path, max_age: timedelta | None) -> bool:
    if not path.is_file():
        return False
    return max_age is None or time.time() - path.stat().st_mtime < max_age.total_seconds()


def _download_with_retries(
    url: str, destination: Path, *, retries: int, timeout: float, backoff: float
) -> None:
    reason = ""
    for attempt in range(1, retries + 1):
        try:
            _download_once(url, destination, timeout)
            return
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code} {error.reason}"
            if error.code < 500 and error.code != 429:
                break
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            reason = str(getattr(error, "reason", error))
        if attempt < retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    raise DownloadError(
        f"cannot download {url} after {attempt} attempt(s): {reason}. "
        "Check the network connection (or proxy), or pass a local copy of the file to the loader."
    )


def _download_once(url: str, destination: Path, timeout: float) -> None:
    handle, temporary = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        if os.path.getsize(temporary) == 0:
            raise DownloadError(f"the server sent an empty file for {url}")
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
