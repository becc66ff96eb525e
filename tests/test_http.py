"""Tests for pipeline.http: the shared HTTP client, against local servers only."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline import http
from pipeline.settings import FetchSettings

FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.3, retries=2, backoff=0.01, host_delay=0.0,
                     max_feed_bytes=1024 * 1024, max_retry_after=2.0, total_timeout=10.0)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.fixture
def httpserver(server: HTTPServer) -> Iterator[HTTPServer]:
    yield server
    server.clear()


def test_sends_user_agent_from_settings(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ua", headers={"User-Agent": "talkwatch-test/1.0"}).respond_with_data("ok")
    resp = http.fetch(httpserver.url_for("/ua"), FetchSettings(user_agent="talkwatch-test/1.0"))
    assert resp.content == b"ok"


def test_conditional_request_sends_validators_and_returns_304(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/feed", headers={"If-None-Match": '"v1"', "If-Modified-Since": "Tue, 24 Nov 2026 10:00:00 GMT"},
    ).respond_with_data("", status=304, headers={"ETag": '"v1"'})
    resp = http.fetch(httpserver.url_for("/feed"), FAST, etag='"v1"',
                      last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    assert resp.not_modified and resp.content == b""


def test_redirect_chain_records_final_url_and_permanent_flag(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=308, headers={"Location": httpserver.url_for("/c")})
    httpserver.expect_request("/c").respond_with_data("<rss/>")
    resp = http.fetch(httpserver.url_for("/a"), FAST)
    assert resp.final_url == httpserver.url_for("/c")
    assert resp.permanent_redirect
    assert [code for code, _ in resp.redirects] == [301, 308]


def test_temporary_redirect_is_not_permanent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/c"})
    httpserver.expect_request("/c").respond_with_data("x")
    resp = http.fetch(httpserver.url_for("/a"), FAST)
    assert resp.final_url == httpserver.url_for("/c")
    assert not resp.permanent_redirect


def test_redirect_loop_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("", status=302, headers={"Location": "/y"})
    httpserver.expect_request("/y").respond_with_data("", status=302, headers={"Location": "/x"})
    with pytest.raises(http.FetchError, match="redirect loop"):
        http.fetch(httpserver.url_for("/x"), FAST)


def test_too_many_redirects_is_an_error(httpserver: HTTPServer) -> None:
    for i in range(10):
        httpserver.expect_request(f"/r{i}").respond_with_data("", status=302, headers={"Location": f"/r{i + 1}"})
    with pytest.raises(http.FetchError, match="too many redirects"):
        http.fetch(httpserver.url_for("/r0"), FetchSettings(max_redirects=3))


def test_redirect_to_local_file_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/evil").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(http.FetchError, match="non-http"):
        http.fetch(httpserver.url_for("/evil"), FAST)


def test_stalling_server_times_out_quickly(httpserver: HTTPServer) -> None:
    def stall(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/stall").respond_with_handler(stall)
    started = time.monotonic()
    with pytest.raises(http.FetchError, match="timed out"):
        http.fetch(httpserver.url_for("/stall"), FAST)
    assert time.monotonic() - started < 1.0


def test_body_that_stalls_midway_times_out() -> None:
    """A server that sends headers then goes silent: the read timeout ends the download."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    conns: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conns.append(conn)
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/xml\r\n\r\n<rss>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(http.FetchError, match="timed out"):
            http.fetch(f"http://127.0.0.1:{port}/feed", FAST)
        assert time.monotonic() - started < 1.5
    finally:
        for conn in conns:
            conn.close()
        listener.close()


def test_server_error_is_retried_then_fails(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/boom").respond_with_data("oops", status=500)
    with pytest.raises(http.FetchError, match="HTTP 500") as info:
        http.fetch(httpserver.url_for("/boom"), FAST)
    assert len(httpserver.log) == FAST.retries + 1
    assert info.value.http_status == 500


def test_transient_503_succeeds_on_retry(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/flaky").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/flaky").respond_with_data("fine")
    assert http.fetch(httpserver.url_for("/flaky"), FAST).content == b"fine"


def test_not_found_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with pytest.raises(http.FetchError, match="HTTP 404 Not Found"):
        http.fetch(httpserver.url_for("/gone"), FAST)
    assert len(httpserver.log) == 1


def test_429_retry_after_is_honoured(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/limited").respond_with_data("slow down", status=429,
                                                                     headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/limited").respond_with_data("ok")
    started = time.monotonic()
    resp = http.fetch(httpserver.url_for("/limited"), FAST)
    assert resp.content == b"ok"
    assert time.monotonic() - started >= 0.95


def test_429_retry_after_beyond_cap_fails_without_waiting(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/limited").respond_with_data("later", status=429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(http.FetchError, match="retry after 3600 s"):
        http.fetch(httpserver.url_for("/limited"), FAST)
    assert time.monotonic() - started < 1.0
    assert len(httpserver.log) == 1


def test_connection_refused_is_retried_then_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(http.FetchError, match=r"connection failed.*after 3 attempts"):
        http.fetch(f"http://127.0.0.1:{port}/", FAST)


def test_a_refused_connection_is_said_in_words_not_as_urllib3s_repr() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = FetchSettings(retries=0, connect_timeout=2.0)
    with pytest.raises(http.FetchError) as failed:
        http.fetch(f"http://127.0.0.1:{port}/rss.xml", settings)
    assert failed.value.message == f"connection failed: 127.0.0.1:{port} refused the connection (after 1 attempts)"


def test_declared_oversize_body_is_rejected_before_download(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * (FAST.max_feed_bytes + 10))
    with pytest.raises(http.FetchError, match="Content-Length"):
        http.fetch(httpserver.url_for("/big"), FAST)


HOSTILE_SERVER = """
import sys, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
block = b"\\0" * (1024 * 1024)
bomb = b"".join(packer.compress(block) for _ in range(200)) + packer.flush()  # 200 MB of zeros


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        if self.path == "/bomb":
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)
            return
        self.end_headers()  # /huge: 50 MB, no Content-Length
        try:
            for _ in range(50 * 16):
                self.wfile.write(block[: 64 * 1024])
        except OSError:
            pass

    def log_message(self, *args):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], len(bomb), flush=True)
srv.serve_forever()
"""


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[tuple[str, int]]:
    """/huge and /bomb served from another process, so tracemalloc here sees only the client's memory."""
    proc = subprocess.Popen([sys.executable, "-c", HOSTILE_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port, bomb_size = (int(x) for x in proc.stdout.readline().split())
        yield f"http://127.0.0.1:{port}", bomb_size
    finally:
        proc.terminate()
        proc.wait(5)
        proc.stdout.close()


def _peak_during(func: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_50mb_streamed_body_stops_at_cap_in_bounded_memory(hostile_server: tuple[str, int]) -> None:
    base, _ = hostile_server

    def fetch() -> None:
        with pytest.raises(http.FetchError, match="exceeds the cap"):
            http.fetch(f"{base}/huge", FAST)

    assert _peak_during(fetch) < 4 * FAST.max_feed_bytes


def test_gzip_bomb_stopped_by_cap_in_bounded_memory(hostile_server: tuple[str, int]) -> None:
    base, bomb_size = hostile_server
    assert bomb_size < FAST.max_feed_bytes  # only the decompressed size can trip the cap

    def fetch() -> None:
        with pytest.raises(http.FetchError, match="decompressed response exceeds the cap"):
            http.fetch(f"{base}/bomb", FAST)

    assert _peak_during(fetch) < 4 * FAST.max_feed_bytes


def test_gzip_body_is_decoded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gz").respond_with_data(gzip.compress(b"<rss>hello</rss>"),
                                                       headers={"Content-Encoding": "gzip"})
    assert http.fetch(httpserver.url_for("/gz"), FAST).content == b"<rss>hello</rss>"


def test_raw_deflate_body_is_decoded(httpserver: HTTPServer) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(b"<rss>raw deflate</rss>") + packer.flush()
    httpserver.expect_request("/deflate").respond_with_data(body, headers={"Content-Encoding": "deflate"})
    assert http.fetch(httpserver.url_for("/deflate"), FAST).content == b"<rss>raw deflate</rss>"


def test_unsupported_scheme_is_refused() -> None:
    with pytest.raises(http.FetchError, match="unsupported URL scheme 'ftp'"):
        http.fetch("ftp://example.org/feed.xml", FAST)


def test_local_file_refused_when_not_allowed(tmp_path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text("<rss/>")
    with pytest.raises(http.FetchError, match="local files are not allowed"):
        http.fetch(str(path), FetchSettings(allow_local_files=False))


def test_local_file_unchanged_mtime_is_not_modified(tmp_path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text("<rss/>")
    first = http.fetch(path.as_uri(), FAST)
    assert first.content == b"<rss/>"
    second = http.fetch(path.as_uri(), FAST, last_modified=first.headers["Last-Modified"])
    assert second.not_modified


def test_host_throttle_spaces_requests_to_one_host() -> None:
    throttle = http.HostThrottle(delay=0.2)
    spans: list[tuple[float, float]] = []

    def hit() -> None:
        throttle.acquire("example.org")
        start = time.monotonic()
        time.sleep(0.05)
        spans.append((start, time.monotonic()))
        throttle.release("example.org")

    threads = [threading.Thread(target=hit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
    assert all(gap >= 0.19 for gap in gaps), gaps


def test_retry_after_http_date_is_parsed() -> None:
    later = time.time() + 5
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(later))
    assert 3.0 <= http._retry_after(header) <= 5.5


@pytest.mark.parametrize("url", ["http://[::1", "http://host:abc/", "https://"])
def test_malformed_url_is_a_fetch_error(url: str) -> None:
    with pytest.raises(http.FetchError, match="invalid URL"):
        http.fetch(url, FAST)


def test_redirect_without_location_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/nowhere").respond_with_data("", status=302)
    with pytest.raises(http.FetchError, match="without a Location"):
        http.fetch(httpserver.url_for("/nowhere"), FAST)


def test_validators_follow_a_temporary_redirect(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=302, headers={"Location": "/cdn/feed"})
    httpserver.expect_request("/cdn/feed", headers={"If-None-Match": '"cdn-1"'}).respond_with_data("", status=304)
    resp = http.fetch(httpserver.url_for("/feed"), FAST, etag='"cdn-1"')
    assert resp.not_modified and resp.final_url == httpserver.url_for("/cdn/feed")
