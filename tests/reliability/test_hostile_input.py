"""Hostile input: feeds whose entries carry SQL injection, HTML/JS, a 1 MB title, control characters, NUL
bytes, invalid UTF-8, bidi overrides and character references to lone surrogates, served over local HTTP;
article pages with such references.

The night completes; every value is stored verbatim (feed HTML as its text, scripts dropped), with what
no text can hold removed (NUL) or replaced (U+FFFD) and recorded, or rejected with a recorded reason; the tables survive; the alert email and the HTML report show the hostile strings
only escaped, including where they are the evidence of a contradiction; a second night repeats nothing.
"""

from __future__ import annotations

import html
import json
from email import message_from_bytes, policy
from html.parser import HTMLParser
from xml.sax.saxutils import escape as xml_escape

import pytest
import yaml
from rel_support import night_env, query, run_cli, warehouse_state

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SQLI = "'); drop table talkwatch.claims; --"
SQLI_BODY = "Robert'); DROP TABLE talkwatch.articles;-- and 1' OR '1'='1 was the reader's comment."
SCRIPT = '<script>alert("tw-xss")</script>'
IMG = '<img src=x onerror=alert("tw-img")>'
HOSTILE_URL = 'https://hostile.example/report?x="><script>alert("tw-url")</script>'
# Arabic and Hebrew with a right-to-left override, an isolate and a mark: the trojan-source kit
RTL_TITLE = "\u202eتقرير سري\u202c عن \u2067שיחות שלום\u2069 \u200fsecret report"
RTL_BODY = "\u202bقال المتحدث إن المحادثات مستمرة\u202c; \u2066הדובר אמר\u2069 \u202eevil.exe\u202c"
CONTROLS = "\x01\x02\x07\x08\x1b[31m\x7f"
LONG_TITLE = " ".join(["ceasefire talks continue"] * 43_700)  # a little over 1 MiB
assert len(LONG_TITLE.encode()) > 1024 * 1024

# The seed story (a report of talks, then a denial) with hostile text inside the very sentences that
# become the contradiction's evidence.
REPORT_EVIDENCE = (
    "The Washington Post reported, citing officials familiar with the matter, that Russia and Ukraine had "
    f"been preparing indirect talks in Qatar on a partial ceasefire {SCRIPT} that would halt strikes on "
    "energy infrastructure."
)
DENIAL_EVIDENCE = (
    "Russian Foreign Ministry spokeswoman Maria Zakharova denied on Sunday that Russia and Ukraine were "
    f"holding or preparing any talks on a partial ceasefire {IMG} {SQLI} ."
)
# Zakharova's quoted denial, hostile too: whichever of her two sentences the extractor takes as the evidence
DENIAL_QUOTE = f'"There are no such negotiations {IMG}, and there have not been any," Zakharova told reporters.'
DENIAL_SENTENCES = (DENIAL_EVIDENCE, DENIAL_QUOTE)
REPORT_TITLE = f"Russia and Ukraine were preparing secret talks {SCRIPT}"
DENIAL_TITLE = f"Moscow says there are no talks {IMG}"


def _text(value: str) -> str:
    """A plain-text value as RSS carries it: RSS titles and descriptions are HTML, so text is escaped
    for HTML, then for XML."""
    return xml_escape(html.escape(value, quote=False))


def _item(guid: str, title: str, description: str, *, link: str | None = None,
          date: str = "Sat, 17 Aug 2024 09:30:00 +0000") -> str:
    link = link or f"https://hostile.example/{guid}"
    return (f"<item><title>{title}</title><link>{xml_escape(link)}</link>"
            f'<guid isPermaLink="false">{guid}</guid><pubDate>{date}</pubDate>'
            f"<description>{description}</description></item>")


def _rss(items: list[str], title: str = "Hostile") -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://hostile.example/</link><description>hostile</description>"
            + "".join(items) + "</channel></rss>").encode()


STORY = _rss([
    _item("story-report", _text(REPORT_TITLE),
          xml_escape(f"<p>{html.escape(REPORT_EVIDENCE, quote=False)}</p>"
                     '<script>alert("tw-markup")</script>'
                     "<p>Neither government has commented publicly on the report.</p>"),
          link=HOSTILE_URL),
    _item("story-denial", _text(DENIAL_TITLE),
          _text(f"{DENIAL_EVIDENCE} {DENIAL_QUOTE}"),
          date="Sun, 18 Aug 2024 08:15:00 +0300"),
])

MISC = _rss([
    _item("misc-sqli", _text(SQLI), _text(SQLI_BODY)),
    _item("misc-html-text", _text(f"{IMG} in a title"), _text(f"{SCRIPT} in a summary, as text")),
    _item("misc-markup", "Markup in a summary",
          xml_escape('<p>Visible words of the summary.</p><script>alert("tw-markup")</script>'
                     '<img src=x onerror=alert("tw-markup")>')),
    _item("misc-long-title", _text(LONG_TITLE), "An ordinary summary of a story about the weather."),
    _item("misc-rtl", _text(RTL_TITLE), _text(RTL_BODY)),
])

# not well-formed XML (raw control characters and NUL bytes): feedparser's loose parser reads it
CONTROLS_FEED = _rss([
    _item("ctl-controls", f"control{CONTROLS}characters in a title", f"a summary with a bell{CONTROLS} in it"),
    _item("ctl-nul", "nul\x00byte title", "a summary with a nul\x00byte"),
    _item("ctl-nul-ref", "entity&#0;nul title", "a summary that is clean"),
    _item("ctl-clean", "A clean neighbour", "A clean neighbour entry that must arrive whatever its feed holds."),
])

# declared UTF-8, two runs of bytes that are not UTF-8, and valid Arabic that must not become mojibake
BYTES_TITLE = b"bytes \xff\xfe here \xc3\x28 and \xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a"
BYTES_FEED = _rss([_item("bytes-invalid", "@TITLE@", "a summary of the invalid bytes story")]).replace(
    b"@TITLE@", BYTES_TITLE)

# character references to code points no text can hold (lone surrogates, one past U+10FFFF, a
# number too big for any code point): feedparser's own parser crashed on them and lost the feed
SURROGATE_FEED = _rss([
    _item("surrogate", "a lone surrogate &#xD800; here",
          "a summary with &#56320; and &#x110000; and &#99999999999999999999; in it"),
    _item("surrogate-pair", "two halves &#xD83D;&#xDE00; of a pair", "an HTML-escaped one: &amp;#xDFFF; too"),
    _item("surrogate-neighbour", "A clean neighbour", "A clean neighbour entry that must arrive with the others."),
])

FEEDS = {
    "story.xml": ("Hostile Courier", STORY, {}),
    "misc.xml": ("Hostile Misc", MISC, {"ETag": '"tw\x00etag"', "Last-Modified": "Sat\x01, 17 Aug 2024"}),
    "controls.xml": ("Hostile Controls", CONTROLS_FEED, {}),
    "bytes.xml": ("Hostile Bytes", BYTES_FEED, {}),
    "surrogate.xml": ("Hostile Entity", SURROGATE_FEED, {}),
}


class Markup(HTMLParser):
    """What a browser would make of a page: its elements, attributes, scripts and visible text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, name, value) for name, value in attrs]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)

    def visible(self) -> str:
        return "".join(self.text)


def _assert_inert(page: str, *, own_scripts: list[str]) -> Markup:
    """No element, attribute or URL in the page that feed text could have made active."""
    doc = Markup(page)
    assert [s.strip() for s in doc.scripts] == [s.strip() for s in own_scripts]
    assert doc.tags.count("script") == len(own_scripts)
    for tag in ("img", "iframe", "object", "embed", "base", "form", "svg:script"):
        assert tag not in doc.tags, tag
    handlers = [(t, n, v) for t, n, v in doc.attrs if n.lower().startswith("on")]
    assert handlers == []
    for tag, name, value in doc.attrs:
        if name in ("href", "src", "xlink:href"):
            assert value.startswith(("https://", "http://", "#")), (tag, name, value)
    for raw in (SCRIPT, IMG, '<script>alert("tw-url")', "tw-markup"):
        assert raw not in page, raw
    return doc


@pytest.fixture(scope="module")
def hostile_nights(make_db, feed_server, start_smtp, tmp_path_factory):
    """Two nights over the hostile feeds (SMTP up), and the HTML report after them."""
    tmp = tmp_path_factory.mktemp("hostile")
    feeds = []
    for name, (outlet, body, headers) in FEEDS.items():
        path = f"/hostile/{name}"
        feed_server.expect_request(path).respond_with_data(body, content_type="application/rss+xml",
                                                           headers=headers)
        feeds.append({"url": feed_server.url_for(path), "outlet": outlet, "language": "en"})
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text(yaml.safe_dump({"fetch_fulltext": False, "feeds": feeds}))

    dsn = make_db()
    ctl, inbox = start_smtp()
    env = night_env(dsn, tmp / "home", smtp_port=ctl.port)
    args = ["run", "--feeds", str(feeds_file), "--json", "--quiet"]
    out = {"dsn": dsn, "urls": {name: f["url"] for name, f in zip(FEEDS, feeds, strict=True)}}
    out["night1"] = run_cli(args, env)
    out["state1"] = warehouse_state(dsn)
    out["mails1"] = list(inbox.messages)
    out["night2"] = run_cli(args, env)
    out["state2"] = warehouse_state(dsn)
    out["mails2"] = list(inbox.messages)
    report = tmp / "report.html"
    out["report_run"] = run_cli(["report", "-o", str(report)], env)
    out["report"] = report.read_text(encoding="utf-8") if report.exists() else ""
    return out


def _article(dsn: str, guid: str) -> dict:
    rows = query(dsn, "select title, body, url, extract_status, extract_reason from talkwatch.articles "
                      "where guid = %s", (guid,))
    assert len(rows) == 1, (guid, rows)
    return dict(zip(("title", "body", "url", "extract_status", "extract_reason"), rows[0], strict=True))


def _fetch(dsn: str, url: str) -> dict:
    rows = query(dsn, "select x.status, x.error, x.warnings, f.etag, f.last_modified, f.last_error "
                      "from talkwatch.feed_fetches x join talkwatch.feeds f using (feed_id) "
                      "where f.url = %s order by x.fetch_id limit 1", (url,))
    return dict(zip(("status", "error", "warnings", "etag", "last_modified", "last_error"), rows[0], strict=True))


def _summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- the night survives


def test_hostile_night_completes(hostile_nights):
    summary = _summary(hostile_nights["night1"])
    assert summary["feeds"] == len(FEEDS) and summary["feeds_failed"] == 0
    assert summary["articles_new"] == 15 and summary["articles_rejected"] == 0
    assert summary["contradictions_new"] >= 1 and summary["mails_sent"] == 1, summary


def test_sql_injection_is_stored_as_text_and_every_table_survives(hostile_nights, reference_night):
    dsn, state = hostile_nights["dsn"], hostile_nights["state1"]
    assert state.tables == reference_night.tables
    assert state.counts["claims"] > 0 and state.counts["articles"] == 15
    article = _article(dsn, "misc-sqli")
    assert (article["title"], article["body"]) == (SQLI, SQLI_BODY)
    assert _article(dsn, "story-denial")["title"] == DENIAL_TITLE


def test_html_and_script_text_is_stored_verbatim(hostile_nights):
    dsn = hostile_nights["dsn"]
    report = _article(hostile_nights["dsn"], "story-report")
    assert report["title"] == REPORT_TITLE and report["url"] == HOSTILE_URL
    assert REPORT_EVIDENCE in report["body"]
    article = _article(dsn, "misc-html-text")
    assert (article["title"], article["body"]) == (f"{IMG} in a title", f"{SCRIPT} in a summary, as text")


def test_feed_markup_is_stored_as_its_text_without_scripts(hostile_nights):
    article = _article(hostile_nights["dsn"], "misc-markup")
    assert article["body"] == "Visible words of the summary."
    assert query(hostile_nights["dsn"], "select count(*) from talkwatch.articles "
                                        "where title || body like '%tw-markup%'") == [(0,)]


def test_a_1mb_title_is_stored_verbatim_and_its_extraction_refused_with_a_reason(hostile_nights):
    article = _article(hostile_nights["dsn"], "misc-long-title")
    assert article["title"] == LONG_TITLE
    assert article["extract_status"] == "failed"
    assert article["extract_reason"].startswith("title too long to extract: "), article["extract_reason"]


def test_rtl_text_and_bidi_controls_are_stored_verbatim(hostile_nights):
    article = _article(hostile_nights["dsn"], "misc-rtl")
    assert (article["title"], article["body"]) == (RTL_TITLE, RTL_BODY)


def test_control_characters_are_stored_verbatim(hostile_nights):
    article = _article(hostile_nights["dsn"], "ctl-controls")
    assert article["title"] == f"control{CONTROLS}characters in a title"
    assert article["body"] == f"a summary with a bell{CONTROLS} in it"


def test_nul_bytes_are_removed_and_the_removal_recorded(hostile_nights):
    dsn = hostile_nights["dsn"]
    assert (_article(dsn, "ctl-nul")["title"], _article(dsn, "ctl-nul")["body"]) == (
        "nulbyte title", "a summary with a nulbyte")
    assert _article(dsn, "ctl-nul-ref")["title"] == "entitynul title"
    assert _article(dsn, "ctl-clean")["body"].startswith("A clean neighbour entry")
    fetch = _fetch(dsn, hostile_nights["urls"]["controls.xml"])
    assert fetch["status"] == "ok"
    assert "entry 'ctl-nul': 2 NUL character(s) removed (PostgreSQL text cannot store them)" in fetch["warnings"]
    assert "entry 'ctl-nul-ref': 1 NUL character(s) removed (PostgreSQL text cannot store them)" in fetch["warnings"]


def test_nul_in_a_response_header_does_not_lose_the_feed(hostile_nights):
    fetch = _fetch(hostile_nights["dsn"], hostile_nights["urls"]["misc.xml"])
    assert fetch["status"] == "ok" and fetch["etag"] == '"twetag"'
    assert fetch["last_modified"] == "Sat\x01, 17 Aug 2024"


def test_invalid_utf8_is_replaced_in_place_and_recorded(hostile_nights):
    dsn = hostile_nights["dsn"]
    assert _article(dsn, "bytes-invalid")["title"] == BYTES_TITLE.decode("utf-8", "replace")
    assert "عربي" in _article(dsn, "bytes-invalid")["title"]  # not windows-1252 mojibake
    fetch = _fetch(dsn, hostile_nights["urls"]["bytes.xml"])
    assert fetch["status"] == "ok"
    assert "invalid UTF-8: 2 run(s) of undecodable bytes replaced with U+FFFD" in fetch["warnings"]


def test_references_to_characters_no_text_can_hold_are_replaced_and_recorded(hostile_nights):
    """A reference to a lone surrogate or past U+10FFFF costs that character (U+FFFD), not the feed."""
    dsn = hostile_nights["dsn"]
    article = _article(dsn, "surrogate")
    assert article["title"] == "a lone surrogate \ufffd here"
    assert article["body"] == "a summary with \ufffd and \ufffd and \ufffd in it"
    pair = _article(dsn, "surrogate-pair")
    assert (pair["title"], pair["body"]) == ("two halves \ufffd\ufffd of a pair", "an HTML-escaped one: \ufffd too")
    assert _article(dsn, "surrogate-neighbour")["body"].startswith("A clean neighbour entry")
    fetch = _fetch(dsn, hostile_nights["urls"]["surrogate.xml"])
    assert fetch["status"] == "ok" and fetch["error"] is None and fetch["last_error"] is None
    assert ("6 character reference(s) to lone surrogates or code points past U+10FFFF replaced with U+FFFD "
            "(no text can hold them)") in fetch["warnings"], fetch["warnings"]
    assert ("entry 'surrogate-pair': 1 character reference(s) to lone surrogates or code points past U+10FFFF "
            "in its HTML read as U+FFFD") in fetch["warnings"], fetch["warnings"]


def test_hostile_text_is_the_contradictions_evidence_verbatim(hostile_nights):
    rows = query(hostile_nights["dsn"], "select source_a, evidence_a, source_b, evidence_b "
                                        "from analytics.contradictions where parties_key = 'RUS|UKR'")
    sides = {src: ev for a, ea, b, eb in rows for src, ev in ((a, ea), (b, eb))}
    assert sides.get("Washington Post") == REPORT_EVIDENCE, rows
    assert sides.get("Maria Zakharova") in DENIAL_SENTENCES, rows


def _denial_evidence(hostile_nights) -> str:
    """The sentence of Zakharova's that the contradiction carries (one of DENIAL_SENTENCES)."""
    rows = query(hostile_nights["dsn"], "select source_a, evidence_a, source_b, evidence_b "
                                        "from analytics.contradictions where parties_key = 'RUS|UKR'")
    [evidence] = {ev for a, ea, b, eb in rows for src, ev in ((a, ea), (b, eb)) if src == "Maria Zakharova"}
    assert evidence in DENIAL_SENTENCES
    return evidence


# --------------------------------------------------------------------------- escaped on the way out


def _mail(hostile_nights):
    [(_rcpt, raw)] = hostile_nights["mails1"]
    return message_from_bytes(raw, policy=policy.default)


def test_alert_email_html_shows_hostile_text_only_escaped(hostile_nights):
    page = _mail(hostile_nights).get_body(("html",)).get_content()
    doc = _assert_inert(page, own_scripts=[])
    visible = doc.visible()
    for hostile in (REPORT_EVIDENCE, _denial_evidence(hostile_nights), REPORT_TITLE):
        assert hostile in visible, hostile  # shown to the reader, as text
    assert html.escape(SCRIPT, quote=True) in page and html.escape(IMG, quote=True) in page
    assert f'href="{html.escape(HOSTILE_URL, quote=True)}"' in page


def test_alert_email_text_part_carries_the_hostile_text_plainly(hostile_nights):
    msg = _mail(hostile_nights)
    text = msg.get_body(("plain",)).get_content()
    assert REPORT_EVIDENCE in text and _denial_evidence(hostile_nights) in text and HOSTILE_URL in text
    assert "\x1b" not in text and "\x00" not in text
    assert SCRIPT not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])


def test_html_report_shows_hostile_text_only_escaped(hostile_nights):
    from pipeline.report import _JS

    assert hostile_nights["report_run"].returncode == 0, hostile_nights["report_run"].stderr
    page = hostile_nights["report"]
    doc = _assert_inert(page, own_scripts=[_JS])
    visible = doc.visible()
    assert REPORT_EVIDENCE in visible and _denial_evidence(hostile_nights) in visible and REPORT_TITLE in visible
    assert html.escape(SCRIPT, quote=True) in page and html.escape(IMG, quote=True) in page
    assert f'href="{html.escape(HOSTILE_URL, quote=True)}"' in page


# --------------------------------------------------------------------------- and the next night


def test_second_hostile_night_repeats_nothing(hostile_nights):
    summary = _summary(hostile_nights["night2"])
    assert summary["articles_new"] == 0 and summary["claims"] == 0 and summary["mails_sent"] == 0, summary
    first, second = hostile_nights["state1"], hostile_nights["state2"]
    assert second.duplicate_urls == [] and second.duplicate_claims == []
    assert second.claims == first.claims and second.contradictions == first.contradictions
    assert len(hostile_nights["mails2"]) == 1


# --------------------------------------------------------------------------- article pages


PAGE_PARAGRAPH = ("Negotiators met again in Doha on Sunday to discuss a partial ceasefire, officials familiar with "
                  "the talks said, and a second round is expected next week. ") * 4


def _page(middle: str) -> bytes:
    return (f"<!doctype html><html><head><title>Talks</title></head><body><article><h1>Talks in Doha</h1>"
            f"<p>{PAGE_PARAGRAPH}</p><p>{middle}</p><p>{PAGE_PARAGRAPH}</p></article></body></html>").encode()


def test_references_no_text_can_hold_in_article_pages_are_replaced_and_recorded(warehouse, feed_server, tmp_path):
    """Full text through the real fetch, parse and store path: a page's references to lone surrogates
    become U+FFFD in the stored text (recorded), and the feed's other pages arrive."""
    from pipeline import nightly
    from pipeline.feeds import load_feeds_file
    from pipeline.settings import FetchSettings, Settings

    pages = {"surrogates": _page("a lone &#xD800; and &#56320; and one past the end &#x110000; here"),
             "pair": _page("a pair of halves &#xD83D;&#xDE00; here"),
             "clean": _page("nothing odd here")}
    items = []
    for name, body in pages.items():
        path = f"/hostile-pages/{name}.html"
        feed_server.expect_request(path).respond_with_data(body, content_type="text/html; charset=utf-8")
        items.append(_item(f"page-{name}", f"Page {name}", "feed text", link=feed_server.url_for(path)))
    feed_server.expect_request("/hostile-pages/feed.xml").respond_with_data(
        _rss(items, "Hostile pages"), content_type="application/rss+xml")
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(yaml.safe_dump({"feeds": [
        {"url": feed_server.url_for("/hostile-pages/feed.xml"), "outlet": "Hostile Pages", "language": "en"}]}))
    settings = Settings(fetch=FetchSettings(host_delay=0.0, retries=0, fetch_fulltext=True))

    [row] = nightly.ingest_feeds(warehouse, load_feeds_file(feeds_file), settings, run_id=None)

    assert (row["status"], row["articles_new"], row.get("articles_rejected")) == ("ok", 3, 0), row
    with warehouse.cursor() as cur:
        cur.execute("select guid, body, text_source from talkwatch.articles order by guid")
        stored = {guid: (body, source) for guid, body, source in cur.fetchall()}
        cur.execute("select warnings from talkwatch.feed_fetches")
        [(warnings,)] = cur.fetchall()
    warehouse.commit()
    assert {guid: source for guid, (_, source) in stored.items()} == dict.fromkeys(stored, "fulltext")
    assert "a lone \ufffd and \ufffd and one past the end \ufffd here" in stored["page-surrogates"][0]
    assert "a pair of halves \ufffd\ufffd here" in stored["page-pair"][0]
    assert "nothing odd here" in stored["page-clean"][0]
    suffix = "character reference(s) to lone surrogates or code points past U+10FFFF in its page read as U+FFFD"
    assert sorted(w for w in warnings if suffix in w) == [
        f"entry 'page-pair': 2 {suffix}", f"entry 'page-surrogates': 3 {suffix}"], warnings


# --------------------------------------------------------------------------- what the database refuses


def test_an_article_the_database_refuses_is_rejected_alone_with_its_reason(warehouse):
    """Text PostgreSQL cannot store (here a lone surrogate) rejects that article, recorded in the fetch's
    warnings, and never the feed's other articles."""
    from pipeline import warehouse as wh
    from pipeline.articles import ArticleRecord, content_hash
    from pipeline.feeds import FeedSpec, FetchResult

    spec = FeedSpec(url="https://hostile.example/refused.xml", outlet="Hostile Refused", language="en")
    feed_id = wh.upsert_feed(warehouse, spec)

    def record(n: int, title: str) -> ArticleRecord:
        url = f"https://hostile.example/refused/{n}"
        return ArticleRecord(url=url, canonical_url=url, outlet=spec.outlet, title=title, text="body text",
                             text_source="feed", content_hash=content_hash(f"{n}", "body"), published_at=None,
                             language="en", guid=f"refused-{n}")

    result = FetchResult(spec, "ok", 200, spec.url, spec.url, False, None, None, 100, 5)
    counts = wh.store_fetch(warehouse, feed_id, None, result, [record(1, "a lone \ud800 surrogate"),
                                                                record(2, "a clean neighbour")])
    assert counts == {"entries_seen": 0, "articles_new": 1, "articles_skipped": 0, "articles_rejected": 1}
    with warehouse.cursor() as cur:
        cur.execute("select guid from talkwatch.articles")
        assert cur.fetchall() == [("refused-2",)]
        cur.execute("select status, warnings from talkwatch.feed_fetches")
        [(status, warnings)] = cur.fetchall()
    warehouse.commit()
    assert status == "ok"
    assert len(warnings) == 1 and warnings[0].startswith(
        "article 'https://hostile.example/refused/1' rejected: UnicodeEncodeError: "), warnings


def test_cli_never_writes_feed_control_characters_to_the_terminal(capsys):
    from pipeline import cli

    side = {"source": f"Evil{CONTROLS}Source", "reported_by": "Hostile\x1b]0;owned\x07 Outlet",
            "published_at": "2024-08-17", "status": "planned", "evidence": f"line one\r\nline two {CONTROLS}"}
    cli._print_table([{"contradiction_id": 1, "parties": ["RUS", "UKR"], "topic_family": "ceasefire",
                       "rule": "denied_vs_planned", "detected_at": "2024-08-18", "a": side, "b": side,
                       "evidence_a": [side], "evidence_b": [side]}])
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x00\x01\x02\x07\x08\x1b\x7f\r"), repr(out)
    assert "Evil\\x01\\x02\\x07\\x08\\x1b[31m\\x7fSource" in out and "line one line two" in out
