"""SMTP outage: with no mail server, or one that refuses the message, the contradictions stay pending and
the run records why; the next night with a working server mails them exactly once."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
from rel_support import free_port, night_env, query, run_cli, runs, seed_contradictions, warehouse_state

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


class RefusingInbox:
    """An SMTP server that is up but cannot take the message (a full spool, say): 451 after DATA."""

    def __init__(self):
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.attempts += 1
        return "451 4.3.0 mail system full, try again later"


@pytest.fixture(scope="module")
def three_nights(make_db, served_samples, start_smtp, tmp_path_factory):
    """Night 1 with the SMTP server down, night 1b with it refusing the message, night 2 with it up,
    night 3 with nothing new."""
    from aiosmtpd.controller import Controller

    dsn = make_db()
    home = tmp_path_factory.mktemp("smtp") / "home"
    args = ["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"]
    port = free_port()  # nothing listens here during night 1

    out = {"dsn": dsn}
    out["night1"] = run_cli(args, night_env(dsn, home, smtp_port=port))
    out["pending_after_night1"] = query(
        dsn, "select contradiction_id from talkwatch.contradictions where alerted_at is null order by 1")
    out["alerts_after_night1"] = query(dsn, "select count(*) from talkwatch.alerts")[0][0]

    refusing = RefusingInbox()
    busy = Controller(refusing, hostname="127.0.0.1", port=free_port())
    busy.start()
    try:
        out["night1b"] = run_cli(args, night_env(dsn, home, smtp_port=busy.port))
    finally:
        busy.stop()
    out["refused_attempts"] = refusing.attempts
    out["pending_after_night1b"] = query(
        dsn, "select contradiction_id from talkwatch.contradictions where alerted_at is null order by 1")

    ctl, inbox = start_smtp(port)
    out["inbox"] = inbox
    out["night2"] = run_cli(args, night_env(dsn, home, smtp_port=port))
    out["mails_after_night2"] = list(inbox.messages)
    out["night3"] = run_cli(args, night_env(dsn, home, smtp_port=port))
    out["runs"] = runs(dsn)
    out["state"] = warehouse_state(dsn)
    return out


def _summary(proc, exit_code: int = 0) -> dict:
    assert proc.returncode == exit_code, proc.stderr
    return json.loads(proc.stdout)


def test_run_completes_and_reports_no_mail_when_smtp_is_down(three_nights):
    summary = _summary(three_nights["night1"], exit_code=6)
    assert summary["contradictions_new"] >= 1
    assert summary["mails_sent"] == 0
    assert "smtp send failed" in (summary["alert_error"] or ""), summary


def test_contradictions_stay_pending_when_smtp_is_down(three_nights):
    assert len(three_nights["pending_after_night1"]) >= 1
    assert three_nights["alerts_after_night1"] == 0


def test_contradictions_stay_pending_when_smtp_refuses_the_message(three_nights):
    summary = _summary(three_nights["night1b"], exit_code=6)
    assert three_nights["refused_attempts"] == 1
    assert summary["mails_sent"] == 0
    assert "SMTPDataError" in (summary["alert_error"] or "") and "451" in summary["alert_error"], summary
    assert three_nights["pending_after_night1b"] == three_nights["pending_after_night1"]


def test_a_night_whose_digest_was_not_sent_exits_6_and_says_so(three_nights):
    for night in ("night1", "night1b"):
        out = three_nights[night]
        summary = _summary(out, exit_code=6)
        assert (summary["status"], summary["exit_code"], summary["alert_failed"]) == ("alert_failed", 6, True)
        assert "the night failed: the alert digest could not be sent" in out.stderr, out.stderr
    assert _summary(three_nights["night2"])["status"] == "ok"


def test_each_failed_delivery_is_recorded_with_its_run(three_nights):
    recorded = [(status, (summary or {}).get("alert_error")) for _id, status, _err, summary in three_nights["runs"]]
    assert len(recorded) == 4 and all(status == "success" for status, _ in recorded), recorded
    assert "smtp send failed" in recorded[0][1] and "Connection refused" in recorded[0][1], recorded[0]
    assert "451" in recorded[1][1], recorded[1]
    assert recorded[2][1] is None and recorded[3][1] is None


def test_smtp_outage_loses_nothing(three_nights, served_samples, reference_night):
    state = three_nights["state"]
    assert state.duplicate_urls == [] and state.article_urls == served_samples.entry_urls
    assert state.duplicate_claims == [] and state.claims == reference_night.claims
    assert seed_contradictions(state) == 1 and state.contradictions == reference_night.contradictions
    assert state.pending_alerts == 0


def test_next_run_mails_the_pending_contradictions_once(three_nights):
    summary = _summary(three_nights["night2"])
    assert summary["contradictions_new"] == 0 and summary["mails_sent"] == 1
    mails = three_nights["mails_after_night2"]
    assert len(mails) == 1
    rcpt, raw = mails[0]
    assert rcpt == ["analysts@example.org"]
    msg = message_from_bytes(raw, policy=policy.default)
    pending = [r[0] for r in three_nights["pending_after_night1"]]
    assert msg["X-Talkwatch-Contradictions"] == ",".join(map(str, pending))
    text = msg.get_body(("plain",)).get_content()
    assert "Zakharova" in text and "Washington Post" in text


def test_alerted_contradictions_are_marked_with_the_one_alert(three_nights):
    rows = query(three_nights["dsn"], "select count(*), count(distinct alert_id), count(*) filter "
                 "(where alerted_at is null) from talkwatch.contradictions")
    assert rows == [(len(three_nights["pending_after_night1"]), 1, 0)]


def test_third_run_mails_nothing(three_nights):
    summary = _summary(three_nights["night3"])
    assert summary["mails_sent"] == 0 and summary["alert_error"] is None
    assert len(three_nights["inbox"].messages) == 1
