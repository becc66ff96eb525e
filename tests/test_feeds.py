"""Tests for pipeline.feeds: feeds file, fetch-and-parse of hostile and ordinary feeds, parallel fetching."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline import feeds
from pipeline.feeds import FeedSpec, FeedState, fetch_feed, fetch_feeds, load_feeds_file
from pipeline.settings import DEFAULT_FEEDS_FILE, FetchSettings

RES = Path(__file__).parent / "resources" / "feeds"
FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.3, retries=1, backoff=0.01, host_delay=0.0,
                     max_feed_bytes=1024 * 1024, total_timeout=10.0)
RSS = "application/rss+xml; charset=utf-8"


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


def _serve(httpserver: HTTPServer, path: str, name: str, content_type: str = RSS, **kw: object) -> FeedSpec:
    httpserver.expect_request(path).respond_with_data((RES / name).read_bytes(), content_type=content_type, **kw)
    return FeedSpec(url=httpserver.url_for(path), outlet="Test", language="en")


# --------------------------------------------------------------------------- conditional GET


def test_second_fetch_sends_validators_and_gets_304_without_parsing(
        httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    body = (RES / "rss2.xml").read_bytes()
    etag, modified = '"rss2-v1"', "Mon, 23 Nov 2026 12:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag and request.headers.get("If-Modified-Since") == modified:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=RSS, headers={"ETag": etag, "Last-Modified": modified})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    spec = FeedSpec(url=httpserver.url_for("/feed"), outlet="Wire")
    first = fetch_feed(spec, None, FAST)
    assert first.status == "ok" and len(first.entries) == 2
    assert (first.etag, first.last_modified) == (etag, modified)

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a 304 must not be parsed")

    monkeypatch.setattr(feedparser, "parse", no_parse)
    second = fetch_feed(spec, FeedState(etag=first.etag, last_modified=first.last_modified), FAST)
    assert second.status == "not_modified"
    assert second.http_status == 304 and second.entries == [] and second.bytes == 0
    assert (second.etag, second.last_modified) == (etag, modified)
    assert len(httpserver.log) == 2


def test_fetch_uses_remembered_current_url(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/moved-here", "rss2.xml")
    configured = FeedSpec(url="http://127.0.0.1:9/old-location", outlet="Wire")
    result = fetch_feed(configured, FeedState(current_url=spec.url), FAST)
    assert result.status == "ok" and result.requested_url == spec.url


# --------------------------------------------------------------------------- HTTP failures


def test_permanent_redirect_is_recorded_in_result(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/new", "rss2.xml")
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/old"), outlet="Wire"), None, FAST)
    assert result.status == "ok"
    assert result.final_url == spec.url and result.permanent_redirect


def test_redirect_loop_is_a_feed_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/a"), outlet="Loop"), None, FAST)
    assert result.status == "error" and "redirect loop" in result.error


def test_stalling_feed_is_an_error_within_the_timeout(httpserver: HTTPServer) -> None:
    def stall(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/stall").respond_with_handler(stall)
    started = time.monotonic()
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/stall"), outlet="Slow"), None, FAST)
    assert result.status == "error" and "timed out" in result.error
    assert time.monotonic() - started < 1.0


def test_server_error_is_retried_then_recorded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/boom").respond_with_data("no", status=500)
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/boom"), outlet="Broken"), None, FAST)
    assert result.status == "error" and result.http_status == 500
    assert "HTTP 500" in result.error
    assert len(httpserver.log) == FAST.retries + 1


def test_not_found_is_recorded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/gone"), outlet="Gone"), None, FAST)
    assert (result.status, result.http_status, result.error) == ("error", 404, "HTTP 404 Not Found")


def test_rate_limited_feed_is_fetched_after_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/busy").respond_with_data((RES / "rss2.xml").read_bytes(), content_type=RSS)
    started = time.monotonic()
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/busy"), outlet="Busy"), None, FAST)
    assert result.status == "ok" and time.monotonic() - started >= 0.95


def test_oversize_feed_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"<rss>" + b" " * (2 * 1024 * 1024), content_type=RSS)
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/big"), outlet="Big"), None, FAST)
    assert result.status == "error" and "cap" in result.error


# --------------------------------------------------------------------------- parsing


def test_rss2_entries_parsed_with_relative_link_resolved(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/rss2", "rss2.xml"), None, FAST)
    assert result.status == "ok" and result.warnings == []
    assert [e.guid for e in result.entries] == ["wire-0001", "wire-0002"]
    assert result.entries[1].link == httpserver.url_for("/world/prisoner-exchange")


def test_published_is_utc_with_feed_timezone_honoured(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/rss2", "rss2.xml"), None, FAST)
    assert result.entries[0].published == datetime(2026, 11, 23, 11, 30, tzinfo=timezone.utc)
    assert result.entries[1].published == datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


def test_atom_feed_parsed(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/atom", "atom.xml", "application/atom+xml"), None, FAST)
    entry = result.entries[0]
    assert entry.link == "https://atom.example/news/talks-stall"
    assert "Geneva" in entry.content
    assert entry.published == datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def test_rss1_rdf_feed_parsed(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/rdf", "rdf.xml", "application/rdf+xml"), None, FAST)
    assert result.status == "ok"
    assert result.entries[0].title == "Humanitarian corridor opened"


def test_entries_without_dates_and_guids_have_none(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/bare", "no_dates_no_guids.xml"), None, FAST)
    assert result.status == "ok" and len(result.entries) == 2
    assert all(e.published is None and e.guid is None and e.link is None for e in result.entries)


def test_billion_laughs_is_rejected_quickly(httpserver: HTTPServer) -> None:
    started = time.monotonic()
    result = fetch_feed(_serve(httpserver, "/lol", "billion_laughs.xml"), None, FAST)
    assert result.status == "error" and "declares XML entities" in result.error
    assert time.monotonic() - started < 1.0


def test_external_entity_is_rejected(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/xxe", "external_entity.xml"), None, FAST)
    assert result.status == "error" and "declares XML entities" in result.error
    assert result.entries == []


def test_entity_scan_ignores_entities_mentioned_after_the_root() -> None:
    data = b'<?xml version="1.0"?><!-- note --><rss><channel><title>&lt;!ENTITY x&gt;</title></channel></rss>'
    assert feeds.entity_declaration_problem(data) is None


def test_entity_scan_sees_entities_in_utf16() -> None:
    data = (RES / "billion_laughs.xml").read_text().encode("utf-16")
    assert feeds.entity_declaration_problem(data) is not None


def test_latin1_without_declaration_is_decoded(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/latin1", "latin1_no_declaration.xml", "application/rss+xml")
    result = fetch_feed(spec, None, FAST)
    assert result.status == "ok"
    assert result.entries[0].title == "Négociations à Genève"
    assert "«très difficiles»" in result.entries[0].summary


def test_windows1251_declared_in_xml_is_decoded(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/ru", "windows1251_declared.xml", "application/rss+xml")
    result = fetch_feed(spec, None, FAST)
    assert result.entries[0].title == "Переговоры о прекращении огня"


def test_windows1251_declared_in_http_header_is_decoded(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/ru", "windows1251_no_declaration.xml", "text/xml; charset=windows-1251")
    result = fetch_feed(spec, None, FAST)
    assert result.entries[0].title == "Переговоры о прекращении огня"


def test_windows1251_without_any_declaration_is_detected(httpserver: HTTPServer) -> None:
    spec = _serve(httpserver, "/ru", "windows1251_no_declaration.xml", "application/rss+xml")
    result = fetch_feed(spec, None, FAST)
    assert result.entries[0].title == "Переговоры о прекращении огня"
    assert any("cp1251" in w for w in result.warnings)


def test_an_undeclared_feed_with_one_western_byte_is_read_as_windows_1252(httpserver: HTTPServer) -> None:
    feed = (b'<rss version="2.0"><channel><title>Wire</title><item><title>Talks in Doha</title>'
            b"<link>https://wire.example/1</link><description>The envoy J\xfcrgen Schmidt said talks on a 40\x80 "
            b"million aid package were held in Doha on Monday.</description></item></channel></rss>")
    httpserver.expect_request("/de").respond_with_data(feed, content_type="application/rss+xml")
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/de"), outlet="Test"), None, FAST)
    assert "The envoy Jürgen Schmidt said talks on a 40€ million aid package" in result.entries[0].summary
    assert "no charset declared; decoded as cp1252 (detected)" in result.warnings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32"])
def test_references_to_lone_surrogates_cost_a_character_not_the_feed(httpserver: HTTPServer, encoding: str) -> None:
    """feedparser's loose parser crashed on `&#xD800;` (and past U+10FFFF): the whole feed was lost."""
    feed = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>S</title>'
            "<item><title>a &#xD800; b &#x110000; c ж</title><guid>s1</guid></item>"
            "<item><title>clean &#x41;&#65; &#x10FFFF;</title><guid>s2</guid></item></channel></rss>")
    httpserver.expect_request("/surrogate").respond_with_data(feed.encode(encoding), content_type="application/rss+xml")
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/surrogate"), outlet="S"), None, FAST)
    assert result.status == "ok", result.error
    assert [e.title for e in result.entries] == ["a \ufffd b \ufffd c \u0436", "clean AA \U0010ffff"]
    assert result.warnings == ["2 character reference(s) to lone surrogates or code points past U+10FFFF "
                               "replaced with U+FFFD (no text can hold them)"]


def test_html_page_instead_of_feed_is_an_error(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/html", "html_page.html", "text/html; charset=utf-8"), None, FAST)
    assert result.status == "error" and "HTML page" in result.error


def test_feed_served_as_text_html_is_still_parsed(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/mislabelled", "rss2.xml", "text/html"), None, FAST)
    assert result.status == "ok" and len(result.entries) == 2
    assert any("text/html" in w for w in result.warnings)


def test_garbage_bytes_are_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/junk").respond_with_data(bytes(range(256)) * 20, content_type="application/xml")
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/junk"), outlet="Junk"), None, FAST)
    assert result.status == "error" and result.error


def test_non_xml_body_is_an_error_quoting_its_start(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/json").respond_with_data(b'{"items": []}', content_type="application/json")
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/json"), outlet="Json"), None, FAST)
    assert result.status == "error"
    assert result.error == "not a feed: the body is not XML (Content-Type application/json, starts with '{\"items\": []}')"


def test_empty_200_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/empty").respond_with_data(b"", content_type=RSS)
    result = fetch_feed(FeedSpec(url=httpserver.url_for("/empty"), outlet="Empty"), None, FAST)
    assert (result.status, result.error) == ("error", "empty response: no feed content")


def test_truncated_xml_without_entries_is_an_error(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/cut", "truncated_no_entries.xml"), None, FAST)
    assert result.status == "error" and "not a parseable feed" in result.error


def test_truncated_xml_with_entries_is_kept_with_warning(httpserver: HTTPServer) -> None:
    result = fetch_feed(_serve(httpserver, "/cut", "truncated_with_entries.xml"), None, FAST)
    assert result.status == "ok" and result.entries[0].link == "https://cut.example/1"
    assert any("not well-formed" in w for w in result.warnings)


def test_local_feed_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes((RES / "rss2.xml").read_bytes())
    result = fetch_feed(FeedSpec(url=str(path), outlet="Local"), None, FAST)
    assert result.status == "ok" and len(result.entries) == 2 and result.last_modified


# --------------------------------------------------------------------------- many feeds


class _RecordingHandler(BaseHTTPRequestHandler):
    """Serves rss2.xml after a short delay and records when each request was handled."""

    spans: list[tuple[int, float, float]] = []
    lock = threading.Lock()
    body = (RES / "rss2.xml").read_bytes()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        start = time.monotonic()
        time.sleep(0.1)
        self.send_response(200)
        self.send_header("Content-Type", RSS)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        with self.lock:
            self.spans.append((self.server.server_address[1], start, time.monotonic()))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_hosts() -> Iterator[list[str]]:
    yield from _hosts(2)


@pytest.fixture
def three_hosts() -> Iterator[list[str]]:
    yield from _hosts(3)


def _hosts(count: int) -> Iterator[list[str]]:
    _RecordingHandler.spans = []
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler) for _ in range(count)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_fetch_feeds_one_request_at_a_time_per_host_with_delay(two_hosts: list[str]) -> None:
    settings = FetchSettings(host_delay=0.05, max_workers=8, read_timeout=2.0)
    items = [(FeedSpec(url=f"{base}/feed{i}", outlet=f"O{i}"), None) for base in two_hosts for i in range(3)]
    results = fetch_feeds(items, settings)
    assert all(r.status == "ok" for r in results)
    by_port: dict[int, list[tuple[float, float]]] = {}
    for port, start, end in _RecordingHandler.spans:
        by_port.setdefault(port, []).append((start, end))
    for spans in by_port.values():
        spans.sort()
        assert all(b[0] >= a[1] + 0.04 for a, b in zip(spans, spans[1:], strict=False)), spans
    starts = sorted(min(s for s, _ in spans) for spans in by_port.values())
    assert starts[1] - starts[0] < 0.1  # the two hosts were fetched concurrently


def test_fetch_feeds_with_more_hosts_than_workers_fetches_during_politeness_delays(three_hosts: list[str]) -> None:
    """Two workers, three hosts: a worker waiting out one host's delay takes another host meanwhile,
    instead of the third host waiting for a whole host to finish (one request per host at a time and
    the delay between them hold all the same)."""
    settings = FetchSettings(host_delay=0.4, max_workers=2, read_timeout=2.0)
    items = [(FeedSpec(url=f"{base}/feed{i}", outlet=f"O{i}"), None) for base in three_hosts for i in range(2)]
    started = time.monotonic()
    results = fetch_feeds(items, settings)
    assert all(r.status == "ok" for r in results)
    by_port: dict[int, list[tuple[float, float]]] = {}
    for port, start, end in _RecordingHandler.spans:
        by_port.setdefault(port, []).append((start - started, end - started))
    assert len(by_port) == 3
    for spans in by_port.values():
        spans.sort()
        assert spans[1][0] >= spans[0][1] + 0.39, spans
    # every host's first feed starts before any host's delay is over (one worker per host: 0.6 s)
    assert max(spans[0][0] for spans in by_port.values()) < 0.35, by_port


def test_fetch_feeds_keeps_input_order_and_isolates_failures(httpserver: HTTPServer, two_hosts: list[str]) -> None:
    httpserver.expect_request("/broken").respond_with_data("nope", status=404)
    items = [
        (FeedSpec(url=f"{two_hosts[0]}/a", outlet="A"), None),
        (FeedSpec(url=httpserver.url_for("/broken"), outlet="Broken"), None),
        (FeedSpec(url=f"{two_hosts[1]}/b", outlet="B"), FeedState()),
        (FeedSpec(url="ftp://example.org/feed", outlet="Ftp"), None),
        (FeedSpec(url="http://[::1/feed", outlet="Malformed"), None),
    ]
    results = fetch_feeds(items, FAST)
    assert [r.spec.outlet for r in results] == ["A", "Broken", "B", "Ftp", "Malformed"]
    assert [r.status for r in results] == ["ok", "error", "ok", "error", "error"]
    assert "invalid URL" in results[4].error


# --------------------------------------------------------------------------- feeds file


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    return path


def test_feeds_file_keeps_url_and_resolves_local_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "fetch_fulltext: false\nfeeds:\n"
                            "  - {url: local/feed.xml, outlet: Local}\n"
                            "  - {url: 'https://x.example/rss', outlet: X, language: en, fetch_fulltext: true}\n")
    config = load_feeds_file(path)
    assert config.fetch_fulltext is False and config.path == path
    assert config.feeds[0].url == "local/feed.xml"
    assert config.feeds[0].location == str(tmp_path.resolve() / "local" / "feed.xml")
    assert config.feeds[1] == FeedSpec(url="https://x.example/rss", outlet="X", language="en", fetch_fulltext=True)
    assert config.feeds[1].location is None


def test_feeds_file_missing_outlet_names_file_and_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, "feeds:\n  - {url: 'https://a.example/rss', outlet: A}\n  - {url: 'https://b.example/rss'}\n")
    with pytest.raises(ValueError, match=r"feeds\.yaml, entry 2 \(https://b\.example/rss\): 'outlet' is missing"):
        load_feeds_file(path)


def test_feeds_file_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "feeds:\n  - {url: 'https://a.example/rss', outlet: A, langauge: en}\n")
    with pytest.raises(ValueError, match=r"entry 1 .*unknown key\(s\) \['langauge'\]"):
        load_feeds_file(path)


def test_feeds_file_unsupported_scheme_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "feeds:\n  - {url: 'ftp://a.example/rss', outlet: A}\n")
    with pytest.raises(ValueError, match="unsupported URL scheme 'ftp'"):
        load_feeds_file(path)


def test_feeds_file_duplicate_url_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "feeds:\n  - {url: 'https://a.example/rss', outlet: A}\n"
                            "  - {url: 'https://a.example/rss', outlet: B}\n")
    with pytest.raises(ValueError, match="entry 2: url 'https://a.example/rss' already listed as entry 1"):
        load_feeds_file(path)


def test_feeds_file_bad_language_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "feeds:\n  - {url: 'https://a.example/rss', outlet: A, language: English}\n")
    with pytest.raises(ValueError, match="'language' must be an ISO 639 code"):
        load_feeds_file(path)


def test_feeds_file_without_feeds_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a mapping with a 'feeds' list"):
        load_feeds_file(_write(tmp_path, "- https://a.example/rss\n"))


def test_feeds_file_invalid_yaml_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid YAML"):
        load_feeds_file(_write(tmp_path, "feeds: [unclosed\n"))


def test_feeds_file_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_feeds_file(tmp_path / "nope.yaml")


def test_default_feeds_file_is_valid_and_diverse() -> None:
    config = load_feeds_file(DEFAULT_FEEDS_FILE)
    assert len(config.feeds) >= 20
    assert all(spec.url.startswith("https://") or spec.url.startswith("http://") for spec in config.feeds)
    assert all(spec.language for spec in config.feeds)
    assert len({spec.outlet for spec in config.feeds}) == len(config.feeds)
    hosts = " ".join(spec.url for spec in config.feeds)
    for outlet_host in ("tass.com", "ukrinform", "aljazeera", "bbc", "scmp", "allafrica"):
        assert outlet_host in hosts
