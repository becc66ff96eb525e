"""Alert digest: one email per run over a real local SMTP server, exactly once, every value escaped."""

from __future__ import annotations

import email
import hashlib
import re
import socket
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from aiosmtpd.controller import Controller

from pipeline import alerts, contradictions
from pipeline import warehouse as wh
from pipeline.settings import SmtpSettings

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
INJECT = "Evil\r\nBcc: victim@example.org\r\nX-Injected: yes"

SEED_WAPO = (
    'Seems like the "Washington Post" claimed that talks for a partial ceasefire were being secretly '
    "discussed between Russia and Ukraine, but these discussions allegedly got hindered due to "
    "Ukraine's offensive in the Kursk region."
)
SEED_ZAKHAROVA = (
    "According to her, no such negotiations have happened or are happening between the two sides "
    "regarding the safety of crucial civilian infrastructure."
)
SEED_WAPO_2 = (
    "Despite the \"Washington Post's\" assertion of possible secret negotiations for a partial ceasefire, "
    "Ukraine's offensive in the Kursk region seemingly derailed these discussions."
)


# --------------------------------------------------------------------------- helpers: a real SMTP server


class Collector:
    """aiosmtpd handler that keeps every message it accepts (or refuses them all)."""

    def __init__(self, refuse: bool = False) -> None:
        self.messages: list[dict] = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        if self.refuse:
            return "554 5.6.0 rejected by test server"
        self.messages.append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message": email.message_from_bytes(envelope.original_content, policy=policy.default),
            "raw": envelope.original_content,
        })
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(port: int, refuse: bool = False) -> tuple[Controller, Collector]:
    handler = Collector(refuse=refuse)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler


@pytest.fixture
def smtp_server():
    port = free_port()
    controller, handler = start_smtp(port)
    yield port, handler
    controller.stop()


def settings_for(port: int, **kw) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, timeout=5.0, mail_from="talkwatch@example.org",
                        recipients=("analyst@example.org", "desk@example.org"), **kw)


# --------------------------------------------------------------------------- helpers: warehouse rows


class Rows:
    """Inserts articles, claims and contradictions directly (independent of extraction/detection)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.n = 0

    def claim(self, *, parties, status, topic, source, source_key, evidence, outlet,
              published="2024-08-20", source_org=None, title="An article", url=None, hedged=False,
              event_time=None) -> int:
        self.n += 1
        url = url if url is not None else f"https://news.example.org/{self.n}"
        pub = datetime.fromisoformat(published).replace(tzinfo=timezone.utc)
        parties = sorted(parties)
        with self.conn.cursor() as cur:
            cur.execute(
                """
                insert into talkwatch.articles (canonical_url, url, outlet, title, body, content_hash,
                                                published_at, extract_status)
                values (%s, %s, %s, %s, %s, %s, %s, 'done') returning article_id
                """,
                (f"{url}#{self.n}", url, outlet, title, evidence, hashlib.sha256(f"{self.n}".encode()).hexdigest(),
                 pub),
            )
            article_id = cur.fetchone()[0]
            cur.execute(
                """
                insert into talkwatch.claims (article_id, claim_index, claim_key, parties, parties_key, status,
                    topic, source, source_key, source_org, reported_by, hedged, event_time, evidence,
                    published_at, extractor_version)
                values (%s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test')
                returning claim_id
                """,
                (article_id, f"k{self.n}", parties, "|".join(parties), status, topic, source, source_key,
                 source_org, outlet, hedged, event_time, evidence, pub),
            )
            claim_id = cur.fetchone()[0]
        self.conn.commit()
        return claim_id

    def contradiction(self, a: list[int], b: list[int], *, parties, source_keys, family="ceasefire",
                      period="now:2024-08-20", rule="denied_vs_planned") -> int:
        parties = sorted(parties)
        ka, kb = source_keys
        with self.conn.cursor() as cur:
            cur.execute(
                """
                insert into talkwatch.contradictions (parties, parties_key, topic_family, period_key,
                    source_key_a, source_key_b, claim_a_id, claim_b_id, rule, first_evidence_at, last_evidence_at)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) returning contradiction_id
                """,
                (parties, "|".join(parties), family, period, ka, kb, a[0], b[0], rule),
            )
            cid = cur.fetchone()[0]
            for side, claims in (("a", a), ("b", b)):
                for claim_id in claims:
                    cur.execute(
                        "insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side) "
                        "values (%s, %s, %s)",
                        (cid, claim_id, side),
                    )
        self.conn.commit()
        contradictions.refresh_confidence(self.conn)  # as the nightly job does after detection
        return cid


def seed_story(conn) -> int:
    """The seed article's contradiction: the Washington Post (twice) against Maria Zakharova's denial."""
    rows = Rows(conn)
    zak = rows.claim(parties=["RUS", "UKR"], status="denied", topic="partial_ceasefire", source="Maria Zakharova",
                     source_key="maria-zakharova", source_org="Russian Foreign Ministry", evidence=SEED_ZAKHAROVA,
                     outlet="Denial Daily", published="2024-08-21",
                     title="Moscow Currently Has No Planned Discussions with Kyiv",
                     url="https://denial.example.org/zakharova")
    wapo = rows.claim(parties=["RUS", "UKR"], status="stalled", topic="partial_ceasefire", source="Washington Post",
                      source_key="washington-post", evidence=SEED_WAPO, outlet="Report Herald",
                      published="2024-08-20", title="Secret talks derailed", url="https://report.example.org/wapo",
                      hedged=True)
    wapo2 = rows.claim(parties=["RUS", "UKR"], status="stalled", topic="partial_ceasefire",
                       source="Washington Post", source_key="washington-post", evidence=SEED_WAPO_2,
                       outlet="Denial Daily", published="2024-08-21")
    return rows.contradiction([zak], [wapo, wapo2], parties=["RUS", "UKR"],
                              source_keys=("maria-zakharova", "washington-post"), rule="denied_vs_stalled")


def seed_nigeria(conn) -> int:
    rows = Rows(conn)
    rows.n = 100
    gov = rows.claim(parties=["NGA", "BOKO_HARAM"], status="agreed", topic="ceasefire",
                     source="Nigerian government", source_key="nigerian-government",
                     evidence="The government said a ceasefire had been agreed with Boko Haram.",
                     outlet="Lagos Ledger", published="2014-10-17")
    shekau = rows.claim(parties=["NGA", "BOKO_HARAM"], status="denied", topic="ceasefire", source="Abubakar Shekau",
                        source_key="abubakar-shekau", evidence="Shekau said there is no ceasefire.",
                        outlet="Abuja Post", published="2014-10-20")
    return rows.contradiction([gov], [shekau], parties=["NGA", "BOKO_HARAM"],
                              source_keys=("abubakar-shekau", "nigerian-government"), rule="denied_vs_agreed",
                              period="now:2014-10-17")


# One article a side makes a contradiction of 0.25 (sql/README.md, "Confidence"), under the default
# threshold: the tests of mailing itself mail at 0.25; the threshold has tests of its own.
MAIL_AT = 0.25


def send_pending(conn, smtp: SmtpSettings, **kw) -> alerts.AlertResult:
    """send_pending_alerts at MAIL_AT unless the test says otherwise."""
    return alerts.send_pending_alerts(conn, smtp, **{"min_confidence": MAIL_AT, **kw})


def pending_ids(conn) -> list[int]:
    with conn.cursor() as cur:
        cur.execute("select contradiction_id from talkwatch.contradictions where alerted_at is null "
                    "order by contradiction_id")
        out = [r[0] for r in cur.fetchall()]
    conn.commit()
    return out


def alert_rows(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("select alert_id, subject, message_id, contradiction_ids, recipients from talkwatch.alerts")
        out = cur.fetchall()
    conn.commit()
    return out


def parts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def expected_message_id(conn, ids: list[int]) -> str:
    """The Message-ID a digest of IDS from this warehouse carries, sent from talkwatch@example.org."""
    return alerts.message_id_for(ids, warehouse_id=alerts.warehouse_identity(conn), domain="example.org")


# --------------------------------------------------------------------------- tests


def test_one_email_with_both_parts_carries_the_seed_story(warehouse, smtp_server):
    port, handler = smtp_server
    cid = seed_story(warehouse)

    result = send_pending(warehouse, settings_for(port), run_id=None)

    assert result.sent and result.error is None
    assert result.contradiction_ids == [cid]
    assert len(handler.messages) == 1
    got = handler.messages[0]
    assert sorted(got["rcpt_tos"]) == ["analyst@example.org", "desk@example.org"]
    msg = got["message"]
    assert msg["Subject"] == "talkwatch: 1 new contradiction — RUS–UKR (1)"
    assert msg["Message-ID"] == expected_message_id(warehouse, [cid])
    text, html_part = parts(msg)
    for body in (text, html_part):
        assert "Maria Zakharova" in body and "Washington Post" in body
        assert "Russian Foreign Ministry" in body
        assert "no such negotiations have happened or are happening" in body
        assert "denies" in body and "stalled" in body
        assert "Denial Daily" in body and "Report Herald" in body
        assert "21 August 2024" in body and "20 August 2024" in body
        assert "carried by 2 outlets since 20 August 2024" in body  # the Washington Post side: two outlets
        assert "carried by 1 outlet since 21 August 2024" in body
    assert "https://denial.example.org/zakharova" in text
    assert '<a href="https://denial.example.org/zakharova">' in html_part
    # recorded once, in the alert row and on the contradiction
    rows = alert_rows(warehouse)
    assert len(rows) == 1
    assert rows[0][0] == result.alert_id and rows[0][2] == msg["Message-ID"] and rows[0][3] == [cid]
    assert pending_ids(warehouse) == []


def test_second_call_sends_nothing(warehouse, smtp_server):
    port, handler = smtp_server
    seed_story(warehouse)
    first = send_pending(warehouse, settings_for(port))
    second = send_pending(warehouse, settings_for(port))
    assert first.sent
    assert not second.sent and second.error is None and second.contradiction_ids == []
    assert len(handler.messages) == 1
    assert len(alert_rows(warehouse)) == 1


def test_nothing_pending_sends_no_email(warehouse, smtp_server):
    port, handler = smtp_server
    result = send_pending(warehouse, settings_for(port))
    assert not result.sent and result.error is None
    assert handler.messages == []


def test_smtp_down_keeps_pending_then_sends_exactly_once_when_up(warehouse):
    port = free_port()  # nothing listens here yet
    cid = seed_story(warehouse)

    down = send_pending(warehouse, settings_for(port))

    assert not down.sent
    assert down.error and "smtp send failed" in down.error
    assert down.contradiction_ids == [cid]
    assert pending_ids(warehouse) == [cid]
    assert alert_rows(warehouse) == []

    controller, handler = start_smtp(port)
    try:
        up = send_pending(warehouse, settings_for(port))
        again = send_pending(warehouse, settings_for(port))
    finally:
        controller.stop()
    assert up.sent and up.contradiction_ids == [cid]
    assert not again.sent
    assert len(handler.messages) == 1
    # a retry is recognisable: the Message-ID depends only on the warehouse and the contradictions
    assert handler.messages[0]["message"]["Message-ID"] == expected_message_id(warehouse, [cid])
    assert pending_ids(warehouse) == []


def test_server_refusing_the_message_marks_nothing(warehouse):
    port = free_port()
    controller, handler = start_smtp(port, refuse=True)
    try:
        cid = seed_story(warehouse)
        result = send_pending(warehouse, settings_for(port))
    finally:
        controller.stop()
    assert not result.sent and "554" in (result.error or "")
    assert pending_ids(warehouse) == [cid]
    assert alert_rows(warehouse) == []


def test_smtp_not_configured_marks_nothing(warehouse):
    cid = seed_story(warehouse)
    result = send_pending(warehouse, SmtpSettings(host=None, recipients=("a@example.org",)))
    assert not result.sent and result.error == "smtp not configured"
    assert pending_ids(warehouse) == [cid]


def test_hostile_values_are_escaped_in_html_and_absent_from_headers(warehouse, smtp_server):
    port, handler = smtp_server
    rows = Rows(warehouse)
    a = rows.claim(parties=["RUS", INJECT], status="denied", topic="ceasefire", source=HOSTILE + INJECT,
                   source_key="evil-source", evidence=f"They said {HOSTILE} and {INJECT}", outlet=HOSTILE,
                   title=HOSTILE, url="javascript:alert(1)")
    b = rows.claim(parties=["RUS", INJECT], status="held", topic="ceasefire", source="Plain Source",
                   source_key="plain-source", evidence="Talks were held.", outlet="Plain Outlet",
                   url='https://ok.example.org/"><script>alert(2)</script>')
    rows.contradiction([a], [b], parties=["RUS", INJECT], source_keys=("evil-source", "plain-source"))

    result = send_pending(warehouse, settings_for(port))

    assert result.sent
    got = handler.messages[0]
    msg = got["message"]
    assert sorted(got["rcpt_tos"]) == ["analyst@example.org", "desk@example.org"]
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    header_block = got["raw"].split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = header_block.replace("\r\n ", " ").replace("\r\n\t", " ")
    for line in unfolded.split("\r\n"):
        assert not line.lower().startswith(("bcc:", "x-injected:")), line
    assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
    _, html_part = parts(msg)
    assert "<script>" not in html_part and "<img" not in html_part
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html_part
    assert 'href="javascript:' not in html_part
    assert "<a href=\"https://ok.example.org/&quot;&gt;&lt;script&gt;" in html_part


# right-to-left letters with an override, an embedding and an isolate around them; a marker to find
BIDI_SOURCE = "\u202eناطق رسمي\u202c"
BIDI_EVIDENCE = "\u202bلا توجد مفاوضات\u202c, said \u2067the spokesman\u2069 \u202egnp.exe\u202c"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_from_feeds_are_shown_not_obeyed_in_every_part(warehouse, smtp_server):
    port, handler = smtp_server
    rows = Rows(warehouse)
    a = rows.claim(parties=["ISR", "HAMAS"], status="denied", topic="ceasefire", source=BIDI_SOURCE,
                   source_key="bidi-source", evidence=BIDI_EVIDENCE, outlet="\u202eOutlet",
                   title="\u2066title\u2069", url="https://news.example.org/\u202eexe.html")
    b = rows.claim(parties=["ISR", "HAMAS"], status="held", topic="ceasefire", source="Plain Source",
                   source_key="plain-source", evidence="Talks were held.", outlet="Plain Outlet")
    rows.contradiction([a], [b], parties=["ISR", "HAMAS"], source_keys=("bidi-source", "plain-source"))

    assert send_pending(warehouse, settings_for(port)).sent
    msg = handler.messages[0]["message"]
    text_part, html_part = parts(msg)
    for where, content in (("subject", str(msg["Subject"])), ("text", text_part), ("html", html_part)):
        assert not set(content) & set(BIDI_CONTROLS), where
    for content in (text_part, html_part):
        assert "[U+202E]ناطق رسمي[U+202C]" in content  # the letters stay, the override is visible
        assert "[U+2067]the spokesman[U+2069]" in content
        assert "[U+202E]gnp.exe[U+202C]" in content
    assert not re.search(r'href="[^"]*exe\.html', html_part)  # a URL hiding an override is no link
    with warehouse.cursor() as cur:  # the warehouse keeps the text as it came
        cur.execute("select source, evidence from talkwatch.claims where claim_id = %s", (a,))
        assert cur.fetchone() == (BIDI_SOURCE, BIDI_EVIDENCE)


def test_show_bidi_controls_leaves_plain_rtl_text_and_marks_alone():
    text = "\u200fمرحبا\u200e שלום \u061c"
    assert alerts.show_bidi_controls(text) == text
    assert alerts.show_bidi_controls("a\u2068b\u2069") == "a[U+2068]b[U+2069]"


def test_digest_groups_by_parties_and_subject_counts(warehouse, smtp_server):
    port, handler = smtp_server
    seed_story(warehouse)
    seed_nigeria(warehouse)
    rows = Rows(warehouse)
    rows.n = 200
    a = rows.claim(parties=["RUS", "UKR"], status="no_deal", topic="humanitarian", source="Kremlin",
                   source_key="kremlin", evidence="No prisoner-exchange deal yet.", outlet="Wire")
    b = rows.claim(parties=["RUS", "UKR"], status="agreed", topic="humanitarian", source="Kyiv Independent",
                   source_key="kyiv-independent", evidence="A prisoner exchange was agreed.", outlet="Wire")
    rows.contradiction([a], [b], parties=["RUS", "UKR"], source_keys=("kremlin", "kyiv-independent"),
                       family="humanitarian", rule="no_deal_vs_agreed")

    result = send_pending(warehouse, settings_for(port))

    assert result.sent and len(result.contradiction_ids) == 3
    assert len(handler.messages) == 1
    msg = handler.messages[0]["message"]
    assert msg["Subject"] == "talkwatch: 3 new contradictions — RUS–UKR (2), BOKO_HARAM–NGA (1)"
    text, html_part = parts(msg)
    assert text.count("== RUS–UKR (2)") == 1 and text.count("== BOKO_HARAM–NGA (1)") == 1
    rus = text.index("== RUS–UKR"); nga = text.index("== BOKO_HARAM–NGA")  # noqa: E702
    assert rus < text.index("Kremlin") < nga < text.index("Abubakar Shekau")
    assert html_part.count("<h2") == 2


def test_failing_feeds_footer(warehouse, smtp_server):
    port, handler = smtp_server
    seed_story(warehouse)
    failing = [{"url": "https://feeds.example.org/rss", "outlet": "Gone Gazette", "consecutive_failures": 4,
                "last_error": "HTTP 503", "last_success_at": None}]
    assert send_pending(warehouse, settings_for(port), failing_feeds=failing).sent
    text, html_part = parts(handler.messages[0]["message"])
    assert "Gone Gazette" in text and "failing 4 nights in a row" in text and "HTTP 503" in text
    assert "failing 4 nights in a row" in html_part


def test_concurrent_run_skips_locked_contradictions(warehouse, warehouse_dsn, smtp_server):
    """While one run holds the pending rows (mid-send), a second run finds nothing to send."""
    from pipeline import warehouse as wh

    port, handler = smtp_server
    seed_story(warehouse)
    other = wh.connect(warehouse_dsn)
    inner: list[alerts.AlertResult] = []

    def send_after_a_concurrent_run(msg, smtp):
        inner.append(send_pending(other, smtp))
        alerts.smtp_send(msg, smtp)

    try:
        outer = send_pending(warehouse, settings_for(port), send=send_after_a_concurrent_run)
    finally:
        other.close()
    assert outer.sent
    assert len(inner) == 1 and not inner[0].sent and inner[0].contradiction_ids == []
    assert len(handler.messages) == 1


WAREHOUSE_ID = "2afa2575-fc68-4f84-92fc-b6e2d0c11159"


def test_build_digest_message_id_is_deterministic():
    c = {"contradiction_id": 7, "parties": ["RUS", "UKR"], "topic_family": "ceasefire", "period_key": "now:x",
         "rule": "r", "detected_at": None, "a": None, "b": None, "evidence_a": [], "evidence_b": []}
    d = dict(c, contradiction_id=3)
    m1 = alerts.build_digest([c, d], warehouse_id=WAREHOUSE_ID, domain="example.org",
                             run_label="night\r\nBcc: x@example.org")
    m2 = alerts.build_digest([d, c], warehouse_id=WAREHOUSE_ID, domain="example.org")
    assert m1["Message-ID"] == m2["Message-ID"] == alerts.message_id_for(
        [3, 7], warehouse_id=WAREHOUSE_ID, domain="example.org")
    assert m1["From"] is None and m1["To"] is None
    assert "\n" not in m1["X-Talkwatch-Run"]


# --------------------------------------------------------------------------- the confidence threshold


def alert_statuses(conn) -> dict[int, str]:
    """contradiction_id -> alert_status, as analysts see it (analytics.contradictions)."""
    with conn.cursor() as cur:
        cur.execute("select contradiction_id, alert_status from analytics.contradictions order by 1")
        out = dict(cur.fetchall())
    conn.commit()
    return out


def test_only_contradictions_at_or_above_the_threshold_are_mailed(warehouse, smtp_server):
    port, handler = smtp_server
    two_outlets = seed_story(warehouse)   # the Washington Post's side in two outlets: 0.5 * 0.75 = 0.375
    one_each = seed_nigeria(warehouse)    # one article a side: 0.25

    result = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.375)

    assert result.sent and result.contradiction_ids == [two_outlets] and result.held == 1
    assert handler.messages[0]["message"]["X-Talkwatch-Contradictions"] == str(two_outlets)
    assert alert_statuses(warehouse) == {two_outlets: "mailed", one_each: "low_confidence"}


def test_nothing_at_or_above_the_threshold_sends_no_email_and_marks_them_low_confidence(warehouse, smtp_server):
    port, handler = smtp_server
    cid = seed_nigeria(warehouse)
    result = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)
    assert not result.sent and result.error is None and result.held == 1
    assert handler.messages == []
    assert alert_statuses(warehouse) == {cid: "low_confidence"}
    assert pending_ids(warehouse) == [cid]  # still unmailed, still in the warehouse


def test_holding_back_the_same_night_twice_writes_nothing(warehouse, smtp_server):
    port, _handler = smtp_server
    seed_nigeria(warehouse)
    query = "select * from talkwatch.contradictions order by contradiction_id"
    alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)
    with warehouse.cursor() as cur:
        cur.execute(query)
        first = cur.fetchall()
        cur.execute("select xmin::text from talkwatch.contradictions")
        versions = cur.fetchall()
    warehouse.commit()
    alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)
    with warehouse.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == first
        cur.execute("select xmin::text from talkwatch.contradictions")
        assert cur.fetchall() == versions  # not even rewritten with the same values
    warehouse.commit()


def test_a_contradiction_lifted_over_the_threshold_by_new_evidence_is_mailed_then_once(warehouse, smtp_server):
    from test_contradictions import DAY0, Loader

    from pipeline import contradictions as cx

    port, handler = smtp_server
    load = Loader(warehouse)
    load.claim("washington-post", "planned", outlet="Global Courier")
    load.claim("maria-zakharova", "denied", outlet="Eastern Herald")
    cx.detect(warehouse)
    night1 = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)
    assert not night1.sent and night1.held == 1 and handler.messages == []

    # the next night a second outlet carries the denial: 0.75 * 0.5 = 0.375
    load.claim("maria-zakharova", "denied", outlet="Pravda Wire", published=DAY0 + timedelta(days=1),
               evidence="Zakharova repeated that there were no talks.")
    cx.detect(warehouse)
    night2 = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)
    night3 = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.3)

    assert night2.sent and len(night2.contradiction_ids) == 1 and night2.held == 0
    assert not night3.sent
    assert len(handler.messages) == 1
    text, _html = parts(handler.messages[0]["message"])
    assert "Confidence 0.38" in text
    assert "as under the alert threshold; new evidence has raised its confidence to 0.38" in text
    assert alert_statuses(warehouse) == {night2.contradiction_ids[0]: "mailed"}


def test_a_lower_threshold_mails_what_a_higher_one_held_back(warehouse, smtp_server):
    port, handler = smtp_server
    cid = seed_nigeria(warehouse)
    assert not alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.5).sent
    assert alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.25).contradiction_ids == [cid]


def test_unscored_claims_rank_as_the_warehouse_counts_them(warehouse):
    with warehouse.cursor() as cur:
        cur.execute("select talkwatch.unscored_claim_confidence()")
        assert cur.fetchone() == (alerts.UNSCORED_CLAIM_CONFIDENCE,)
    warehouse.commit()


# --------------------------------------------------------------------------- triage


def test_a_dismissed_contradiction_is_never_mailed_even_when_evidence_grows(warehouse, smtp_server):
    from pipeline import triage

    port, handler = smtp_server
    cid = seed_story(warehouse)
    triage.decide(warehouse, cid, "dismissed", "the report is about another round")
    rows = Rows(warehouse)
    rows.n = 300
    more = rows.claim(parties=["RUS", "UKR"], status="denied", topic="partial_ceasefire", source="Maria Zakharova",
                      source_key="maria-zakharova", evidence="Zakharova again denied any talks.",
                      outlet="Third Times", published="2024-08-22")
    with wh.transaction(warehouse) as cur:
        cur.execute("insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side) "
                    "values (%s, %s, 'a')", (cid, more))

    result = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.0)

    assert not result.sent and handler.messages == []
    assert alert_statuses(warehouse) == {cid: "dismissed"}


def test_dismissing_a_mailed_contradiction_shows_it_dismissed(warehouse, smtp_server):
    from pipeline import triage

    port, _handler = smtp_server
    cid = seed_story(warehouse)
    assert send_pending(warehouse, settings_for(port)).sent
    triage.decide(warehouse, cid, "dismissed")
    assert alert_statuses(warehouse) == {cid: "dismissed"}


def test_a_confirmed_contradiction_is_mailed_whatever_its_confidence(warehouse, smtp_server):
    from pipeline import triage

    port, handler = smtp_server
    cid = seed_nigeria(warehouse)
    triage.decide(warehouse, cid, "confirmed", "Shekau's video is authentic")

    result = alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.9)

    assert result.contradiction_ids == [cid]
    text, _html = parts(handler.messages[0]["message"])
    assert "Confirmed by" in text and "Shekau's video is authentic" in text


# --------------------------------------------------------------------------- issue 13.4: Message-IDs


def test_two_warehouses_never_send_the_same_message_id(pg_server_dsn, smtp_server):
    port, handler = smtp_server
    for _ in range(2):  # two deployments, each migrated from scratch, each with its contradiction #1
        with wh.scratch_database(pg_server_dsn, prefix="tw_msgid") as dsn:
            conn = wh.connect(dsn)
            try:
                assert seed_story(conn) == 1
                assert send_pending(conn, settings_for(port)).sent
            finally:
                conn.close()
    first, second = (m["message"]["Message-ID"] for m in handler.messages)
    assert first != second
    assert first.endswith("@example.org>") and second.endswith("@example.org>")  # the sender's domain


def test_message_id_domain_is_the_senders_or_a_fully_qualified_one():
    assert alerts.message_id_domain("Talkwatch Alerts <alerts@News.Example.org>") == "news.example.org"
    for bare in ("talkwatch@localhost", "talkwatch", "", None):
        domain = alerts.message_id_domain(bare)
        assert "." in domain and not domain.startswith("localhost"), (bare, domain)


# --------------------------------------------------------------------------- issue 13.8: an analyst's language


def test_the_digest_says_the_contradiction_in_words_with_working_links(warehouse, smtp_server):
    port, handler = smtp_server
    cid = seed_story(warehouse)
    rows = Rows(warehouse)
    rows.n = 400
    linkless = rows.claim(parties=["RUS", "UKR"], status="stalled", topic="partial_ceasefire",
                          source="Washington Post", source_key="washington-post", outlet="Feed Only",
                          evidence="The Washington Post said the talks were stalled.", published="2024-08-21",
                          url="urn:talkwatch:0123abcd")
    with wh.transaction(warehouse) as cur:
        cur.execute("insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side) "
                    "values (%s, %s, 'b')", (cid, linkless))

    assert send_pending(warehouse, settings_for(port), run_id=None).sent
    text, html_part = parts(handler.messages[0]["message"])

    sentence = ("Maria Zakharova (Russian Foreign Ministry) denies the talks on a partial ceasefire that "
                "Washington Post reports as stalled (unconfirmed) — both about mid-August 2024.")
    assert f"Contradiction {cid}: {sentence}" in text
    assert sentence in html_part
    for code_speak in ("period now:", "now:2024", "rule denied_vs", "denied_vs_stalled", "urn:talkwatch:"):
        assert code_speak not in text and code_speak not in html_part, code_speak
    assert "(no web address)" in text  # the feed gave the entry no link: said, not shown as one
    assert "— Denial Daily, 21 August 2024: https://denial.example.org/zakharova" in text
    assert f"talkwatch contradictions dismiss {cid}" in text


def test_the_digest_names_no_run_number(warehouse, smtp_server):
    port, handler = smtp_server
    seed_story(warehouse)
    run_id = wh.start_run(warehouse, kind="test")
    assert send_pending(warehouse, settings_for(port), run_id=run_id).sent
    text, html_part = parts(handler.messages[0]["message"])
    assert f"run {run_id}" not in text and f"run {run_id}" not in html_part
    assert handler.messages[0]["message"]["X-Talkwatch-Run"] == str(run_id)  # for the machines


def test_the_digest_explains_its_confidence_by_outlets_per_side(warehouse, smtp_server):
    port, handler = smtp_server
    seed_story(warehouse)
    assert send_pending(warehouse, settings_for(port)).sent
    text, html_part = parts(handler.messages[0]["message"])
    why = "Confidence 0.38: denial 0.50 (1 outlet), report 0.75 (2 outlets); both must hold."
    assert why in text and why in html_part
    assert "mailed at confidence 0.25 or more" in text


def test_each_side_shows_its_strongest_evidence_first(warehouse, smtp_server):
    port, handler = smtp_server
    cid = seed_story(warehouse)
    with wh.transaction(warehouse) as cur:  # the second Washington Post claim is the better read
        cur.execute("update talkwatch.claims set confidence = 0.95 where evidence = %s", (SEED_WAPO_2,))
    assert alerts.send_pending_alerts(warehouse, settings_for(port), min_confidence=0.0).contradiction_ids == [cid]
    text, _html = parts(handler.messages[0]["message"])
    report = text[text.index("The report:"):]
    assert report.index(SEED_WAPO_2.replace('"', '"')) < report.index("also 20 August 2024, Report Herald")


def test_the_digest_says_when_outlets_printed_one_sentence(warehouse, smtp_server):
    from test_contradictions import Loader

    from pipeline import contradictions as cx

    port, handler = smtp_server
    load = Loader(warehouse)
    wire = "Russia and Ukraine were preparing talks in Qatar, the Washington Post reported."
    load.claim("washington-post", "planned", outlet="Global Courier", evidence=wire)
    load.claim("washington-post", "planned", outlet="Kyiv Post", evidence=wire)
    load.claim("maria-zakharova", "denied", outlet="Eastern Herald")
    cx.detect(warehouse)
    assert send_pending(warehouse, settings_for(port)).sent
    text, _html = parts(handler.messages[0]["message"])
    assert "Confidence 0.25: denial 0.50 (1 outlet), report 0.50 (2 outlets, 1 independent)" in text
