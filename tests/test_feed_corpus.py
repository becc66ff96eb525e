"""Corpus robustness: every file of feedparser's ill-formed and encoding test feeds through fetch_feed."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipeline.feeds import FeedSpec, fetch_feed
from pipeline.settings import FetchSettings

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "feedparser"
FILES = sorted(CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
SETTINGS = FetchSettings(connect_timeout=2.0, read_timeout=5.0, retries=0, host_delay=0.0)
_STRING = r"'(?:[^'\\]|\\.)*'"
_SUMMARY_EXPECT = re.compile(rf"entries\[0\](?:\['description'\]|\.summary)\s*==\s*({_STRING})")
_ORD_EXPECT = re.compile(r"ord\(entries\[0\]\['description'\]\)\s*==\s*(\d+)")
_LINK_EXPECT = re.compile(rf"entries\[0\]\.link\s*==\s*({_STRING})")


def _metadata(data: bytes) -> tuple[dict[str, str], str]:
    """The file's `Header:` lines and its `Expect:` expression (UTF-16/32 files: NULs dropped)."""
    text = data.replace(b"\x00", b"").decode("latin-1")
    headers = {}
    for name, value in re.findall(r"^\s*Header:\s*([\w-]+):\s*(.*?)\s*$", text, re.MULTILINE):
        headers[name] = value
    expect = re.search(r"Expect:\s*(.*?)\s*$", text, re.MULTILINE)
    return headers, expect.group(1) if expect else ""


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


@pytest.mark.skipif(not FILES, reason=f"feedparser corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_ends_as_entries_or_readable_error(server: HTTPServer, path: Path) -> None:
    data = path.read_bytes()
    headers, expect = _metadata(data)
    response = Response(data, headers=headers)
    if not any(name.lower() == "content-type" for name in headers):
        del response.headers["Content-Type"]  # the file says nothing: send no type at all
    route = "/" + str(path.relative_to(CORPUS))
    server.expect_request(route).respond_with_response(response)
    try:
        result = fetch_feed(FeedSpec(url=server.url_for(route), outlet="corpus"), None, SETTINGS)
    finally:
        server.clear()

    assert result.status in ("ok", "error")
    if result.status == "error":
        assert isinstance(result.error, str) and result.error.strip() and result.error.isprintable()
        assert result.entries == []
    else:
        assert result.error is None
        assert result.entries or "feed has no entries" in result.warnings

    if "entries[" in expect or "len(entries)" in expect:
        assert result.status == "ok" and result.entries, f"Expect says entries exist: {expect}"
    if expect.startswith("not bozo"):
        # Well-formed per feedparser: our decoded text must match its expectation.
        if match := _SUMMARY_EXPECT.search(expect):
            assert result.entries[0].summary == ast.literal_eval(match.group(1))
        if match := _ORD_EXPECT.search(expect):
            assert result.entries[0].summary == chr(int(match.group(1)))
    if match := _LINK_EXPECT.search(expect):
        assert result.entries[0].link == ast.literal_eval(match.group(1))
