"""Tests for pipeline.articles: canonical URLs, dedup, full text with fallbacks, language skip reasons."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from pipeline.articles import build_articles, canonical_url, content_hash, html_to_text
from pipeline.feeds import FeedEntry, FeedSpec, FetchResult, fetch_feed
from pipeline.settings import FetchSettings

RES = Path(__file__).parent / "resources" / "feeds"
NO_PAGES = FetchSettings(fetch_fulltext=False)
PAGES = FetchSettings(connect_timeout=1.0, read_timeout=1.0, retries=0, host_delay=0.0)
FEED_TEXT = "Negotiators from both sides met in Cairo on Monday to discuss a ceasefire, officials said."


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


def _entry(link: str | None = "https://wire.example/world/ceasefire", *, guid: str | None = "g1",
           title: str = "Ceasefire talks resume", summary: str = FEED_TEXT, content: str = "",
           published: datetime | None = None) -> FeedEntry:
    return FeedEntry(guid=guid, link=link, title=title, summary=summary, content=content, published=published)


def _result(*entries: FeedEntry, url: str = "https://wire.example/rss", status: str = "ok",
            language: str | None = "en", fetch_fulltext: bool | None = None) -> FetchResult:
    spec = FeedSpec(url=url, outlet="Example Wire", language=language, fetch_fulltext=fetch_fulltext)
    return FetchResult(spec=spec, status=status, http_status=200, requested_url=url, final_url=url,
                       permanent_redirect=False, etag=None, last_modified=None, bytes=0, duration_ms=0,
                       entries=list(entries))


def _serve_page(httpserver: HTTPServer, path: str, name: str, status: int = 200) -> str:
    httpserver.expect_request(path).respond_with_data((RES / name).read_bytes(), status=status,
                                                      content_type="text/html; charset=utf-8")
    return httpserver.url_for(path)


# --------------------------------------------------------------------------- canonical URLs


def test_canonical_url_strips_tracking_parameters() -> None:
    url = "https://a.example/x?id=7&utm_source=rss&utm_medium=feed&fbclid=abc&gclid=1&ref=home&smid=tw"
    assert canonical_url(url) == "https://a.example/x?id=7"


def test_canonical_url_lowercases_scheme_and_host_drops_fragment_and_sorts_query() -> None:
    assert canonical_url("HTTPS://News.Example.COM/World/Story?b=2&a=1#comments") == \
        "https://news.example.com/World/Story?a=1&b=2"


def test_canonical_url_drops_default_port_keeps_others() -> None:
    assert canonical_url("https://a.example:443/x") == "https://a.example/x"
    assert canonical_url("http://a.example:8080/x") == "http://a.example:8080/x"


def test_canonical_url_leaves_non_http_urls_alone() -> None:
    assert canonical_url("urn:talkwatch:abc") == "urn:talkwatch:abc"


# --------------------------------------------------------------------------- records from feed text


def test_feed_html_is_stripped_to_text() -> None:
    text = html_to_text("<p>First &amp; foremost.</p><script>alert(1)</script><p>Second <b>para</b>.</p>")
    assert text == "First & foremost.\nSecond para."


def test_record_uses_feed_text_when_fulltext_is_off() -> None:
    published = datetime(2026, 11, 23, 11, 30, tzinfo=timezone.utc)
    [record] = build_articles(_result(_entry(summary=f"<p>{FEED_TEXT}</p>", published=published)), NO_PAGES)
    assert record.text == FEED_TEXT and record.text_source == "feed"
    assert record.fulltext_error == "full-text fetching is off"
    assert record.published_at == published and record.guid == "g1" and record.outlet == "Example Wire"
    assert record.content_hash == content_hash("Ceasefire talks resume", FEED_TEXT)


def test_error_result_gives_no_articles() -> None:
    assert build_articles(_result(_entry(), status="error"), NO_PAGES) == []


def test_duplicate_entries_across_two_feeds_share_canonical_url_and_hash() -> None:
    a = fetch_feed(FeedSpec(url=str(RES / "syndicated_a.xml"), outlet="A"), None, NO_PAGES)
    b = fetch_feed(FeedSpec(url=str(RES / "syndicated_b.xml"), outlet="B"), None, NO_PAGES)
    [ra] = build_articles(a, NO_PAGES)
    [rb] = build_articles(b, NO_PAGES)
    assert ra.url != rb.url
    assert ra.canonical_url == rb.canonical_url == "https://wire.example/world/truce-extended"
    assert ra.content_hash == rb.content_hash


def test_duplicate_entries_within_a_feed_are_kept_once() -> None:
    records = build_articles(_result(_entry("https://a.example/x?utm_source=1", guid="1"),
                                     _entry("https://a.example/x#top", guid="2")), NO_PAGES)
    assert [r.guid for r in records] == ["1"]


def test_entries_without_link_get_stable_synthetic_urls() -> None:
    result = fetch_feed(FeedSpec(url=str(RES / "no_dates_no_guids.xml"), outlet="Bare"), None, NO_PAGES)
    first = build_articles(result, NO_PAGES)
    again = build_articles(fetch_feed(result.spec, None, NO_PAGES), NO_PAGES)
    assert len(first) == 2
    assert all(r.canonical_url.startswith("urn:talkwatch:") and r.published_at is None for r in first)
    assert first[0].canonical_url != first[1].canonical_url
    assert [r.canonical_url for r in first] == [r.canonical_url for r in again]


def test_synthetic_url_depends_on_feed_and_guid() -> None:
    one = build_articles(_result(_entry(None, guid="x1")), NO_PAGES)[0].canonical_url
    other_guid = build_articles(_result(_entry(None, guid="x2")), NO_PAGES)[0].canonical_url
    other_feed = build_articles(_result(_entry(None, guid="x1"), url="https://b.example/rss"), NO_PAGES)[0]
    assert len({one, other_guid, other_feed.canonical_url}) == 3


def test_non_english_article_gets_language_skip_reason() -> None:
    entry = _entry(title="Переговоры о прекращении огня",
                   summary="Министр иностранных дел заявил, что переговоры о прекращении огня продолжаются.")
    [record] = build_articles(_result(entry, language="ru"), NO_PAGES)
    assert record.language == "ru" and record.skip_reason == "language:ru"


def test_english_article_has_no_skip_reason() -> None:
    [record] = build_articles(_result(_entry()), NO_PAGES)
    assert record.language == "en" and record.skip_reason is None


def test_short_text_falls_back_to_configured_language() -> None:
    [record] = build_articles(_result(_entry(title="Kyiv", summary=""), language="uk"), NO_PAGES)
    assert record.language == "uk" and record.skip_reason == "language:uk"


# --------------------------------------------------------------------------- full text


def test_fulltext_is_extracted_from_the_page(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/world/ceasefire-talks-resume", "article.html")
    [record] = build_articles(_result(_entry(link)), PAGES)
    assert record.text_source == "fulltext" and record.fulltext_error is None
    assert "second round is expected to take place next week in Doha" in record.text
    assert "Privacy policy" not in record.text and "Sport" not in record.text
    assert record.url == link


_ENGLISH_PARAGRAPH = b"Negotiators from both sides met in Cairo on Monday to discuss a ceasefire, officials said. "


def _page(body: bytes, head: bytes = b"") -> bytes:
    return (b"<html><head><title>Talks</title>" + head + b"</head><body><article><p>" + _ENGLISH_PARAGRAPH * 12
            + b"</p><p>" + body + b"</p></article></body></html>")


def test_an_undeclared_page_with_a_few_western_bytes_is_read_as_windows_1252(httpserver: HTTPServer) -> None:
    """English text with one accented name and no charset anywhere: too little for detection to tell
    Latin code pages apart, so the page is read as browsers read it (windows-1252), not as cp775."""
    page = _page(b"The envoy J\xfcrgen M\xfcller said the talks would go on.")
    httpserver.expect_request("/undeclared").respond_with_data(page, content_type="text/html")
    [record] = build_articles(_result(_entry(httpserver.url_for("/undeclared"))), PAGES)
    assert record.text_source == "fulltext"
    assert "The envoy Jürgen Müller said the talks would go on." in record.text


def test_an_undeclared_cyrillic_page_is_detected(httpserver: HTTPServer) -> None:
    body = "Министр заявил, что переговоры о прекращении огня продолжаются в Стамбуле. ".encode("cp1251") * 8
    httpserver.expect_request("/ru").respond_with_data(_page(body), content_type="text/html")
    [record] = build_articles(_result(_entry(httpserver.url_for("/ru"))), PAGES)
    assert "переговоры о прекращении огня продолжаются" in record.text


def test_a_page_declaring_utf8_in_meta_keeps_its_text_around_one_bad_byte(httpserver: HTTPServer) -> None:
    page = _page(b"Zakharova\xe2\x80\x99s denial \xff came a day later \xe2\x80\x94 in Moscow.",
                 head=b'<meta charset="utf-8">')
    httpserver.expect_request("/meta").respond_with_data(page, content_type="text/html")
    [record] = build_articles(_result(_entry(httpserver.url_for("/meta"))), PAGES)
    assert "Zakharova\u2019s denial \ufffd came a day later \u2014 in Moscow." in record.text


class _PairedPages(BaseHTTPRequestHandler):
    """Serves an article page only once a request to the other host is in flight too (a barrier of two):
    pages fetched one after another never meet there. Records the most requests in flight per port."""

    barrier = threading.Barrier(2)
    lock = threading.Lock()
    in_flight: dict[int, int] = {}
    most: dict[int, int] = {}
    body = _page(b"The talks in Doha will resume next week, a mediator said.")

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        port = self.server.server_address[1]
        with self.lock:
            self.in_flight[port] = self.in_flight.get(port, 0) + 1
            self.most[port] = max(self.most.get(port, 0), self.in_flight[port])
        try:
            self.barrier.wait(timeout=10)
            status = 200
        except threading.BrokenBarrierError:
            status = 503
        with self.lock:
            self.in_flight[port] -= 1
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_page_hosts() -> Iterator[list[str]]:
    _PairedPages.barrier = threading.Barrier(2)
    _PairedPages.in_flight, _PairedPages.most = {}, {}
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _PairedPages) for _ in range(2)]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{srv.server_address[1]}" for srv in servers]
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_a_feeds_pages_on_two_hosts_are_fetched_at_once_and_one_at_a_time_per_host(two_page_hosts) -> None:
    settings = FetchSettings(connect_timeout=2.0, read_timeout=15.0, retries=0, host_delay=0.0, max_workers=8)
    entries = [_entry(f"{base}/story/{i}", guid=f"{base}/{i}", title=f"Story {i}")
               for i in range(3) for base in two_page_hosts]
    records = build_articles(_result(*entries), settings)
    assert [r.text_source for r in records] == ["fulltext"] * 6, [r.fulltext_error for r in records]
    assert sorted(_PairedPages.most.values()) == [1, 1]  # polite: never two requests to one host at once


def test_rel_canonical_becomes_the_canonical_url(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/amp/story", "article.html")
    [record] = build_articles(_result(_entry(link + "?utm_source=rss")), PAGES)
    assert record.canonical_url == "https://wire.example/world/ceasefire-talks-resume"


def test_page_sends_user_agent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ua", headers={"User-Agent": PAGES.user_agent}).respond_with_data(
        (RES / "article.html").read_bytes(), content_type="text/html")
    [record] = build_articles(_result(_entry(httpserver.url_for("/ua"))), PAGES)
    assert record.text_source == "fulltext"


def test_paywalled_page_falls_back_to_feed_text(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/exclusive", "paywall.html")
    [record] = build_articles(_result(_entry(link)), PAGES)
    assert record.text_source == "feed" and record.text == FEED_TEXT
    assert "paywalled" in record.fulltext_error


def test_missing_page_falls_back_to_feed_text(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/deleted", "html_page.html", status=404)
    [record] = build_articles(_result(_entry(link)), PAGES)
    assert record.text_source == "feed" and record.text == FEED_TEXT
    assert record.fulltext_error == "page fetch failed: HTTP 404 Not Found"


def test_teaser_page_falls_back_to_feed_text(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/teaser", "short.html")
    [record] = build_articles(_result(_entry(link)), PAGES)
    assert record.text_source == "feed" and "too short" in record.fulltext_error


def test_non_html_page_falls_back_to_feed_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/doc.pdf").respond_with_data(b"%PDF-1.4", content_type="application/pdf")
    [record] = build_articles(_result(_entry(httpserver.url_for("/doc.pdf"))), PAGES)
    assert record.text_source == "feed" and "not HTML (application/pdf)" in record.fulltext_error


def test_feed_setting_turns_page_fetching_off(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/story", "article.html")
    [record] = build_articles(_result(_entry(link), fetch_fulltext=False), PAGES)
    assert record.text_source == "feed"
    assert len(httpserver.log) == 0


def test_caller_decision_overrides_feed_setting(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/story", "article.html")
    [record] = build_articles(_result(_entry(link), fetch_fulltext=True), PAGES, fetch_fulltext=False)
    assert record.text_source == "feed" and len(httpserver.log) == 0


def test_known_article_page_is_not_refetched(httpserver: HTTPServer) -> None:
    link = _serve_page(httpserver, "/story", "article.html")
    [record] = build_articles(_result(_entry(link)), PAGES, known_urls={canonical_url(link)})
    assert record.text_source == "feed" and len(httpserver.log) == 0


def test_entry_without_link_title_or_text_is_skipped_with_warning() -> None:
    result = _result(_entry(None, guid="empty", title="", summary=""), _entry())
    records = build_articles(result, NO_PAGES)
    assert [r.guid for r in records] == ["g1"]
    assert any("empty" in w and "skipped" in w for w in result.warnings)


def test_lone_surrogates_in_an_entry_become_replacement_characters_with_a_warning() -> None:
    """Whatever parser let a lone surrogate through, the entry is stored (U+FFFD), never refused."""
    result = _result(_entry(guid="s\ud800", title="lone \udfff title", summary=f"{FEED_TEXT} \ud83d"))
    [record] = build_articles(result, NO_PAGES)
    assert (record.guid, record.title) == ("s\ufffd", "lone \ufffd title")
    assert record.text == f"{FEED_TEXT} \ufffd"
    record.text.encode("utf-8")  # storable
    assert result.warnings == ["entry 's\ufffd': 3 lone surrogate(s) replaced with U+FFFD "
                               "(PostgreSQL text cannot store them)"]
