"""The BTS downloader against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from forecasting.data.bts import load_bts
from forecasting.data.download import DownloadError, download_bts

CSV = (
    b"Port Name,State,Port Code,Border,Date,Measure,Value,Latitude,Longitude,Point\n"
    b"Portland,Maine,0101,US-Canada Border,Jan 2023,Trucks,120,43.6,-70.3,POINT (-70.3 43.6)\n"
    b"Portland,Maine,0101,US-Canada Border,Feb 2023,Trucks,130,43.6,-70.3,POINT (-70.3 43.6)\n"
)


class Server:
    """A local server that answers with ``CSV``, after ``failures`` 503 responses."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                server.requests += 1
                if server.failures > 0:
                    server.failures -= 1
                    self.send_error(503, "busy")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(CSV)))
                self.end_headers()
                self.wfile.write(CSV)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/views/keg4-3bc2/rows.csv"


@pytest.fixture
def server() -> Iterator[Server]:
    local = Server()
    thread = threading.Thread(target=local.httpd.serve_forever, daemon=True)
    thread.start()
    yield local
    local.httpd.shutdown()
    local.httpd.server_close()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_download_then_cache_hit_then_force(server: Server, tmp_path: Path) -> None:
    path = download_bts(url=server.url, cache_dir=tmp_path, backoff=0)
    assert path == tmp_path / "Border_Crossing_Entry_Data.csv" and path.read_bytes() == CSV
    assert download_bts(url=server.url, cache_dir=tmp_path, backoff=0) == path
    assert server.requests == 1  # served from the cache
    download_bts(url=server.url, cache_dir=tmp_path, force=True, backoff=0)
    assert server.requests == 2
    records = load_bts(path).records
    assert records["value"].tolist() == [120.0, 130.0] and records["port_code"].iloc[0] == "0101"
    assert [p.name for p in tmp_path.iterdir()] == ["Border_Crossing_Entry_Data.csv"]  # no temporary files


def test_stale_cache_is_refreshed(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "Border_Crossing_Entry_Data.csv"
    path.write_bytes(b"old")
    two_months_ago = time.time() - 60 * 86400
    os.utime(path, (two_months_ago, two_months_ago))
    download_bts(url=server.url, cache_dir=tmp_path, max_age=timedelta(days=30), backoff=0)
    assert path.read_bytes() == CSV and server.requests == 1


def test_transient_server_errors_are_retried(server: Server, tmp_path: Path) -> None:
    server.failures = 2
    path = download_bts(url=server.url, cache_dir=tmp_path, retries=3, backoff=0)
    assert path.read_bytes() == CSV and server.requests == 3


def test_retries_are_bounded(server: Server, tmp_path: Path) -> None:
    server.failures = 5
    with pytest.raises(DownloadError, match="after 2 attempt.*HTTP 503"):
        download_bts(url=server.url, cache_dir=tmp_path, retries=2, backoff=0)
    assert server.requests == 2
    assert list(tmp_path.iterdir()) == []


def test_offline_error_is_clear(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/rows.csv"
    with pytest.raises(
        DownloadError, match=r"cannot download http://127\.0\.0\.1:\d+/rows.csv after 2 attempt"
    ):
        download_bts(url=url, cache_dir=tmp_path, retries=2, backoff=0, timeout=5)
    assert isinstance(DownloadError("x"), ConnectionError)
    assert list(tmp_path.iterdir()) == []


def test_offline_with_stale_cache_warns_and_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "Border_Crossing_Entry_Data.csv"
    path.write_bytes(CSV)
    old = time.time() - 90 * 86400
    os.utime(path, (old, old))
    url = f"http://127.0.0.1:{unused_port()}/rows.csv"
    with pytest.warns(UserWarning, match="using the cached copy"):
        assert download_bts(url=url, cache_dir=tmp_path, retries=1, timeout=5) == path
