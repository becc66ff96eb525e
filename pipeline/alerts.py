"""Alert digest: mail the new (pending) contradictions once per run, exactly once, over SMTP."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from pipeline.settings import SmtpSettings

logger = logging.getLogger(__name__)

SendFn = Callable[[EmailMessage, SmtpSettings], None]

MAX_SUBJECT_GROUPS = 4  # parties named in the subject; the rest are "+N more"
MAX_EXTRA_EVIDENCE = 5  # further supporting claims listed per side, beyond the first
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_WS_RE = re.compile(r"\s+")
# explicit directional embeddings, overrides and isolates (LRE…RLO, LRI…PDI)
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


@dataclass
class AlertResult:
    """What one call of send_pending_alerts did."""

    sent: bool
    alert_id: int | None = None
    contradiction_ids: list[int] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    subject: str | None = None
    error: str | None = None


# --------------------------------------------------------------------------- escaping helpers


def show_bidi_controls(text: str) -> str:
    """Explicit bidi embeddings, overrides and isolates shown as `[U+202E]`, never obeyed.

    In a digest or a report such a character from a feed would reorder what follows it (an
    override in a title can make a link or a status read backwards: "trojan source"). Right-to-left
    letters and the plain marks U+200E/U+200F stay; the warehouse keeps the text verbatim."""
    return _BIDI_RE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def header_safe(value: Any, *, limit: int = 300) -> str:
    """One line with no CR/LF or other control characters (header injection is impossible) and bidi
    controls shown, not obeyed."""
    text = _WS_RE.sub(" ", _CTRL_RE.sub(" ", show_bidi_controls("" if value is None else str(value)))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: Any) -> str | None:
    """The URL when it is an http(s) URL without control characters or spaces, else None."""
    if not url:
        return None
    text = str(url).strip()
    if _CTRL_RE.search(text) or _BIDI_RE.search(text) or " " in text:
        return None
    if not re.match(r"^https?://[^/\s]", text, re.IGNORECASE):
        return None
    return text


def parties_label(parties: Iterable[str]) -> str:
    return "–".join(str(p) for p in parties) or "?"


def _day(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def message_id_for(contradiction_ids: Iterable[int]) -> str:
    """A Message-ID derived from the contradiction ids only, so that a retry carries the same one."""
    ids = sorted({int(i) for i in contradiction_ids})
    digest = hashlib.sha256(",".join(map(str, ids)).encode("ascii")).hexdigest()[:24]
    return f"<talkwatch-alert-{len(ids)}-{digest}@talkwatch>"


# --------------------------------------------------------------------------- the digest


def _grouped(contradictions: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for c in contradictions:
        groups.setdefault(parties_label(c.get("parties") or []), []).append(c)
    for items in groups.values():
        items.sort(key=lambda c: c.get("contradiction_id") or 0)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def digest_subject(contradictions: list[dict]) -> str:
    groups = _grouped(contradictions)
    n = len(contradictions)
    named = ", ".join(f"{label} ({len(items)})" for label, items in groups[:MAX_SUBJECT_GROUPS])
    if len(groups) > MAX_SUBJECT_GROUPS:
        named += f", +{len(groups) - MAX_SUBJECT_GROUPS} more"
    noun = "contradiction" if n == 1 else "contradictions"
    return header_safe(f"talkwatch: {n} new {noun} — {named}")


def _side_lines(claim: dict | None, evidence: list[dict], label: str) -> list[str]:
    if not claim:
        return [f"  {label}: (claim missing)"]
    support = max(len(evidence), 1)
    hedge = " (hedged)" if claim.get("hedged") else ""
    about = f", about {claim['event_time']}" if claim.get("event_time") else ""
    lines = [
        f"  {label}: {claim.get('source')}" + (f" ({claim['source_org']})" if claim.get("source_org") else ""),
        f"     status: {claim.get('status')}{hedge} · topic: {claim.get('topic')}{about}",
        f"     outlet: {claim.get('reported_by') or '?'} · {_day(claim.get('published_at'))}",
        f"     \"{_one_line(claim.get('evidence'))}\"",
        f"     {claim.get('article_url') or ''}",
        f"     supporting claims: {support}",
    ]
    extra = [c for c in evidence if c.get("claim_id") != claim.get("claim_id")][:MAX_EXTRA_EVIDENCE]
    for c in extra:
        lines.append(
            f"       + {_day(c.get('published_at'))} {c.get('reported_by') or '?'}: "
            f"{c.get('source')} — {c.get('status')} — \"{_one_line(c.get('evidence'), 200)}\" "
            f"{c.get('article_url') or ''}"
        )
    return lines


def _one_line(value: Any, limit: int = 600) -> str:
    text = _WS_RE.sub(" ", _CTRL_RE.sub(" ", "" if value is None else str(value))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _failing_text(failing: list[dict]) -> list[str]:
    lines = ["", f"Feeds failing several nights in a row ({len(failing)}):"]
    for f in failing:
        nights = f.get("consecutive_failures") or f.get("nights") or "?"
        err = _one_line(f.get("last_error"), 200)
        lines.append(
            f"  - {_one_line(f.get('outlet'), 100) or '?'} <{_one_line(f.get('url'), 300)}>: "
            f"failing {nights} nights in a row" + (f"; last error: {err}" if err else "")
        )
    return lines


def _text_body(groups, n: int, run_label: str | None, failing: list[dict] | None) -> str:
    lines = [f"talkwatch found {n} new contradiction{'s' if n != 1 else ''}"
             + (f" in run {_one_line(run_label, 100)}" if run_label else "") + "."]
    for label, items in groups:
        lines += ["", f"== {label} ({len(items)}) " + "=" * max(0, 60 - len(label))]
        for c in items:
            lines += [
                "",
                f"#{c.get('contradiction_id')} · {c.get('topic_family')} · period {c.get('period_key')}"
                f" · rule {c.get('rule')} · detected {_day(c.get('detected_at'))}",
            ]
            lines += _side_lines(c.get("a"), c.get("evidence_a") or [], "A")
            lines += _side_lines(c.get("b"), c.get("evidence_b") or [], "B")
    if failing:
        lines += _failing_text(failing)
    lines += ["", "-- ", "talkwatch nightly digest; each contradiction is mailed once."]
    return show_bidi_controls("\n".join(lines) + "\n")


_TD = "vertical-align:top;padding:8px;border:1px solid #ddd;width:50%"


def _link(url: Any, text: Any) -> str:
    ok = safe_url(url)
    if ok:
        return f'<a href="{_e(ok)}">{_e(text or ok)}</a>'
    return _e(text or url or "")


def _side_html(claim: dict | None, evidence: list[dict]) -> str:
    if not claim:
        return f'<td style="{_TD}"><em>claim missing</em></td>'
    support = max(len(evidence), 1)
    org = f' <span style="color:#666">({_e(claim["source_org"])})</span>' if claim.get("source_org") else ""
    hedge = " <em>(hedged)</em>" if claim.get("hedged") else ""
    about = f" · about {_e(claim['event_time'])}" if claim.get("event_time") else ""
    parts = [
        f'<td style="{_TD}">',
        f"<strong>{_e(claim.get('source'))}</strong>{org}<br>",
        f"<span>status: <b>{_e(claim.get('status'))}</b>{hedge} · topic: {_e(claim.get('topic'))}{about}</span><br>",
        f"<span>outlet: {_e(claim.get('reported_by') or '?')} · {_e(_day(claim.get('published_at')))}</span>",
        f'<blockquote style="margin:6px 0;padding-left:8px;border-left:3px solid #999">'
        f"{_e(claim.get('evidence'))}</blockquote>",
        _link(claim.get("article_url"), claim.get("article_title") or claim.get("article_url")),
        f"<br><small>supporting claims: {support}</small>",
    ]
    extra = [c for c in evidence if c.get("claim_id") != claim.get("claim_id")][:MAX_EXTRA_EVIDENCE]
    if extra:
        parts.append("<ul style=\"margin:4px 0;padding-left:18px;font-size:90%\">")
        for c in extra:
            parts.append(
                f"<li>{_e(_day(c.get('published_at')))} {_e(c.get('reported_by') or '?')}: "
                f"{_e(c.get('source'))} — {_e(c.get('status'))} — “{_e(_one_line(c.get('evidence'), 200))}” "
                f"{_link(c.get('article_url'), 'article')}</li>"
            )
        parts.append("</ul>")
    parts.append("</td>")
    return "".join(parts)


def _html_body(groups, n: int, run_label: str | None, failing: list[dict] | None, subject: str) -> str:
    out = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
        f"<title>{_e(subject)}</title></head>",
        "<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">",
        f"<p>talkwatch found <b>{n}</b> new contradiction{'s' if n != 1 else ''}"
        + (f" in run {_e(run_label)}" if run_label else "") + ".</p>",
    ]
    for label, items in groups:
        out.append(f"<h2 style=\"font-size:18px;border-bottom:2px solid #333\">{_e(label)} ({len(items)})</h2>")
        for c in items:
            out.append(
                f"<h3 style=\"font-size:15px;margin:14px 0 4px\">#{_e(c.get('contradiction_id'))} · "
                f"{_e(c.get('topic_family'))} · period {_e(c.get('period_key'))} · rule {_e(c.get('rule'))}"
                f" · detected {_e(_day(c.get('detected_at')))}</h3>"
            )
            out.append(
                "<table style=\"border-collapse:collapse;width:100%\"><tr>"
                "<th style=\"text-align:left;padding:4px 8px\">A</th>"
                "<th style=\"text-align:left;padding:4px 8px\">B</th></tr><tr>"
                + _side_html(c.get("a"), c.get("evidence_a") or [])
                + _side_html(c.get("b"), c.get("evidence_b") or [])
                + "</tr></table>"
            )
    if failing:
        out.append(f"<h2 style=\"font-size:16px\">Feeds failing several nights in a row ({len(failing)})</h2><ul>")
        for f in failing:
            nights = f.get("consecutive_failures") or f.get("nights") or "?"
            err = f.get("last_error")
            out.append(
                f"<li>{_e(f.get('outlet') or '?')} &lt;{_e(f.get('url'))}&gt;: failing {_e(nights)} nights in a row"
                + (f"; last error: {_e(_one_line(err, 200))}" if err else "") + "</li>"
            )
        out.append("</ul>")
    out.append("<p style=\"color:#777;font-size:12px\">talkwatch nightly digest; each contradiction is mailed once.</p>")
    out.append("</body></html>")
    return show_bidi_controls("\n".join(out))


def build_digest(
    contradictions: list[dict],
    *,
    run_label: str | None = None,
    failing_feeds: list[dict] | None = None,
) -> EmailMessage:
    """The digest message (plain text + HTML) for these contradictions; From/To are set by the sender."""
    if not contradictions:
        raise ValueError("build_digest needs at least one contradiction")
    groups = _grouped(contradictions)
    subject = digest_subject(contradictions)
    ids = [int(c["contradiction_id"]) for c in contradictions]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["Message-ID"] = message_id_for(ids)
    msg["Auto-Submitted"] = "auto-generated"
    if run_label:
        msg["X-Talkwatch-Run"] = header_safe(run_label, limit=100)
    msg["X-Talkwatch-Contradictions"] = header_safe(",".join(map(str, sorted(ids))), limit=900)
    msg.set_content(_text_body(groups, len(contradictions), run_label, failing_feeds))
    msg.add_alternative(
        _html_body(groups, len(contradictions), run_label, failing_feeds, subject), subtype="html"
    )
    return msg


# --------------------------------------------------------------------------- sending


def smtp_send(msg: EmailMessage, smtp: SmtpSettings) -> None:
    """Deliver through the configured server (SSL or plain with optional STARTTLS, login if a user is set)."""
    recipients = [header_safe(r) for r in smtp.recipients]
    if smtp.use_ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.starttls and not smtp.use_ssl:
            client.starttls(context=ssl.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        refused = client.send_message(msg, from_addr=header_safe(smtp.mail_from), to_addrs=recipients)
    if refused:
        logger.warning("SMTP server refused some recipients: %s", sorted(refused))


def _address(msg: EmailMessage, smtp: SmtpSettings) -> None:
    for name in ("From", "To", "Date"):
        del msg[name]
    msg["From"] = header_safe(smtp.mail_from)
    msg["To"] = ", ".join(header_safe(r) for r in smtp.recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)


def send_pending_alerts(
    conn,
    smtp: SmtpSettings,
    *,
    run_id: int | None = None,
    send: SendFn | None = None,
    failing_feeds: list[dict] | None = None,
) -> AlertResult:
    """Mail every pending contradiction in one digest, exactly once.

    Pending contradictions are locked (`for update skip locked`, so a concurrent run skips them),
    the message is sent, and only after the server accepted it the alert row is written and the
    contradictions are marked alerted, in the same transaction. On an SMTP error everything is
    rolled back, the contradictions stay pending for the next run, and the error is returned, not
    raised. Nothing pending: no email. SMTP not configured: nothing is sent or marked.
    """
    recipients = [header_safe(r) for r in smtp.recipients]
    if not smtp.configured:
        return AlertResult(sent=False, recipients=recipients, error="smtp not configured")
    send = send or smtp_send
    from pipeline.contradictions import list_contradictions

    # read first (list_contradictions commits), then lock what is still pending; a concurrent run
    # holding some of them makes us skip those, and one that alerted them meanwhile is seen here
    listed = list_contradictions(conn, only_pending=True)
    if not listed:
        logger.info("no pending contradictions: no alert email")
        return AlertResult(sent=False, recipients=recipients)
    conn.rollback()
    autocommit = conn.autocommit
    if autocommit:
        conn.autocommit = False  # the row locks must live until the alert is recorded
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                select contradiction_id
                  from talkwatch.contradictions
                 where contradiction_id = any(%s) and alerted_at is null
                 order by contradiction_id
                   for update skip locked
                """,
                ([int(c["contradiction_id"]) for c in listed],),
            )
            ids = [r[0] for r in cur.fetchall()]
        if not ids:
            conn.rollback()
            logger.info("pending contradictions are being alerted by another run: no alert email")
            return AlertResult(sent=False, recipients=recipients)
        locked = set(ids)
        contradictions = [c for c in listed if int(c["contradiction_id"]) in locked]
        msg = build_digest(
            contradictions, run_label=str(run_id) if run_id is not None else None, failing_feeds=failing_feeds
        )
        _address(msg, smtp)
        subject = str(msg["Subject"])
        try:
            send(msg, smtp)
        except Exception as exc:  # noqa: BLE001 - any transport failure keeps them pending
            conn.rollback()
            error = f"smtp send failed ({smtp.host}:{smtp.port}): {type(exc).__name__}: {exc}"
            logger.warning("%s; %s contradictions stay pending", error, len(ids))
            return AlertResult(sent=False, contradiction_ids=ids, recipients=recipients, subject=subject,
                               error=error)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    """
                    insert into talkwatch.alerts
                        (run_id, sent_at, recipients, subject, message_id, contradiction_ids, body_text)
                    values (%s, clock_timestamp(), %s, %s, %s, %s, %s)
                    returning alert_id, sent_at
                    """,
                    (run_id, recipients, subject, str(msg["Message-ID"]), ids,
                     msg.get_body(("plain",)).get_content()),
                )
                alert_id, sent_at = cur.fetchone()
                cur.execute(
                    """
                    update talkwatch.contradictions
                       set alerted_at = %s, alert_id = %s
                     where contradiction_id = any(%s) and alerted_at is null
                    """,
                    (sent_at, alert_id, ids),
                )
            conn.commit()
        except Exception as exc:  # noqa: BLE001 - the mail is out; say so rather than raise
            conn.rollback()
            error = (f"mail sent (Message-ID {msg['Message-ID']}) but recording it failed: "
                     f"{type(exc).__name__}: {exc}; the next run will send it again with the same Message-ID")
            logger.error("%s", error)
            return AlertResult(sent=True, contradiction_ids=ids, recipients=recipients, subject=subject,
                               error=error)
        logger.info("alert %s sent to %s recipients: %s contradictions", alert_id, len(recipients), len(ids))
        return AlertResult(sent=True, alert_id=alert_id, contradiction_ids=ids, recipients=recipients,
                           subject=subject)
    finally:
        if autocommit:
            conn.rollback()
            conn.autocommit = True
