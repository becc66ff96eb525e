"""Alert digest: mail the new contradictions at or above the confidence threshold, exactly once, over SMTP."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from pipeline.settings import DEFAULT_ALERT_MIN_CONFIDENCE, SmtpSettings

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
    held: int = 0  # unmailed contradictions under the threshold (marked low_confidence)


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


_FQDN_RE = re.compile(r"^(?=.{4,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


def _proper_domain(domain: str) -> bool:
    """A fully qualified domain name (has a dot), not a name for this machine alone ("localhost.localdomain")."""
    d = domain.strip().lower().rstrip(".")
    return bool(_FQDN_RE.match(d)) and not d.startswith("localhost") and not d.endswith((".local", ".localdomain"))


def message_id_domain(mail_from: str | None) -> str:
    """The domain a Message-ID names (RFC 5322: one the sender may speak for): the sender address's domain,
    else this host's fully qualified name, else `talkwatch.invalid` (a reserved name: never anybody's)."""
    domain = parseaddr(_CTRL_RE.sub(" ", mail_from or ""))[1].rpartition("@")[2]
    if _proper_domain(domain):
        return domain.strip().lower().rstrip(".")
    fqdn = socket.getfqdn()
    if _proper_domain(fqdn):
        return fqdn.lower().rstrip(".")
    return "talkwatch.invalid"


def message_id_for(contradiction_ids: Iterable[int], *, warehouse_id: str, domain: str) -> str:
    """A Message-ID from the warehouse's identity and the contradiction ids only, so that a retry carries the
    same one and no other warehouse (its own identity, 0012_warehouse_identity) ever makes it."""
    ids = sorted({int(i) for i in contradiction_ids})
    wid = re.sub(r"[^0-9a-f-]", "", str(warehouse_id).lower())
    digest = hashlib.sha256(f"{wid}:{','.join(map(str, ids))}".encode("ascii")).hexdigest()[:24]
    return f"<talkwatch-digest.{len(ids)}.{digest}.{wid}@{domain}>"


def warehouse_identity(conn) -> str:
    """This warehouse's identity (talkwatch.warehouse_identity)."""
    with conn.cursor() as cur:
        cur.execute("select warehouse_id::text from talkwatch.warehouse_identity")
        row = cur.fetchone()
    conn.commit()
    if row is None:
        raise RuntimeError("talkwatch.warehouse_identity is empty: run the migrations")
    return row[0]


# --------------------------------------------------------------------------- the digest, in words

# as talkwatch.unscored_claim_confidence() (0010_alert_confidence.sql): how an unscored claim ranks
UNSCORED_CLAIM_CONFIDENCE = 0.5
DENIALS = ("denied", "no_deal")
_TALKS = {
    "ceasefire": "ceasefire talks", "partial_ceasefire": "talks on a partial ceasefire",
    "peace_deal": "peace talks", "humanitarian": "humanitarian talks", "hostages": "hostage talks",
    "other": "talks",
}
_DEAL = {
    "ceasefire": "ceasefire", "partial_ceasefire": "partial ceasefire", "peace_deal": "peace deal",
    "humanitarian": "humanitarian deal", "hostages": "hostage deal", "other": "deal",
}
_AS = {
    "planned": "planned", "ongoing": "under way", "held": "held", "agreed": "agreed", "stalled": "stalled",
    "collapsed": "broken down", "proposed": "proposed", "accepted": "accepted", "rejected": "rejected",
    "denied": "denied", "no_deal": "without a deal",
}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def long_day(value: Any) -> str:
    """'17 August 2024'."""
    d = _as_date(value)
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}" if d else "?"


def who(claim: dict) -> str:
    """A source as an analyst names it: 'Maria Zakharova (Russian Foreign Ministry)'."""
    name = _one_line(claim.get("source"), 120) or "?"
    org = _one_line(claim.get("source_org"), 120)
    return f"{name} ({org})" if org and org.lower() not in name.lower() else name


def period_words(c: dict) -> str:
    """The period both sides speak about: 'mid-August 2024', 'August–September 2024', 'March 2022', '2023'."""
    key = str(c.get("period_key") or "")
    if not key.startswith("now:"):
        parts = key.split("-")
        try:
            if len(parts) == 1:
                return str(int(parts[0]))
            if len(parts) == 2:
                return f"{_MONTHS[int(parts[1]) - 1]} {int(parts[0])}"
            return long_day(key)
        except (ValueError, IndexError):
            return _one_line(key, 40) or "?"
    # "now" claims are about the days they were published: the evidence's first and last day
    days = sorted(d for x in [*(c.get("evidence_a") or []), *(c.get("evidence_b") or []), c.get("a") or {},
                              c.get("b") or {}] if (d := _as_date(x.get("published_at"))))
    first = days[0] if days else _as_date(key[4:])
    last = days[-1] if days else first
    if first is None:
        return "the same days"
    if (first.year, first.month) == (last.year, last.month):
        part = "early" if first.day <= 10 else "mid-" if first.day <= 20 else "late"
        sep = "" if part.endswith("-") else " "
        return f"{part}{sep}{_MONTHS[first.month - 1]} {first.year}"
    if first.year == last.year:
        return f"{_MONTHS[first.month - 1]}–{_MONTHS[last.month - 1]} {first.year}"
    return f"{_MONTHS[first.month - 1]} {first.year}–{_MONTHS[last.month - 1]} {last.year}"


def denial_side(c: dict) -> str | None:
    """'a' or 'b': the side that denies (SPEC §5: every contradiction sets a denial against a state); None
    when neither head claim is a denial."""
    for side in ("a", "b"):
        if (c.get(side) or {}).get("status") in DENIALS:
            return side
    return None


def headline(c: dict) -> str:
    """The contradiction in one sentence, as an analyst would say it: 'Maria Zakharova (Russian Foreign
    Ministry) denies the talks on a partial ceasefire that Washington Post reports as planned — both about
    mid-August 2024.'"""
    a, b = c.get("a") or {}, c.get("b") or {}
    when = period_words(c)
    d = denial_side(c)
    if d is None:
        return (f"{who(a)} says the {_TALKS.get(a.get('topic'), 'talks')} are {_AS.get(a.get('status'), '?')}; "
                f"{who(b)} says they are {_AS.get(b.get('status'), '?')} — both about {when}.")
    denier, reporter = (a, b) if d == "a" else (b, a)
    topic = reporter.get("topic")
    unconfirmed = " (unconfirmed)" if reporter.get("hedged") else ""
    if denier.get("status") == "no_deal":
        said = (f"{who(denier)} says no {_DEAL.get(topic, 'deal')} has been reached; {who(reporter)} reports "
                f"one as agreed{unconfirmed}")
    elif reporter.get("status") == "agreed":
        said = f"{who(denier)} denies the {_DEAL.get(topic, 'deal')} that {who(reporter)} reports as agreed{unconfirmed}"
    else:
        said = (f"{who(denier)} denies the {_TALKS.get(topic, 'talks')} that {who(reporter)} reports as "
                f"{_AS.get(reporter.get('status'), '?')}{unconfirmed}")
    return f"{said} — both about {when}."


@dataclass
class Side:
    """One side of a contradiction as the digest explains it."""

    label: str                 # "The denial", "The report"
    claim: dict                # the strongest evidence
    outlets: list[str]         # distinct outlets that carried the side, first first
    since: Any                 # publication time of the side's earliest evidence
    confidence: float | None   # the side's confidence (0010_alert_confidence.sql)
    others: list[dict]         # further evidence, earliest first
    witnesses: int | None = None  # independent witnesses (one sentence in several outlets counts once)


def _strength(claim: dict) -> tuple:
    """Strongest first: the highest confidence (an unscored claim as UNSCORED_CLAIM_CONFIDENCE), then an
    unhedged claim, then the earliest."""
    conf = claim.get("confidence")
    return (-(conf if conf is not None else UNSCORED_CLAIM_CONFIDENCE), bool(claim.get("hedged")),
            str(claim.get("published_at") or ""), claim.get("claim_id") or 0)


def explain_sides(c: dict) -> list[Side]:
    """Both sides, the denial first: who carried each, since when, and its strongest evidence sentence."""
    d = denial_side(c)
    order = [("a", "The denial"), ("b", "The report")] if d == "a" else \
        [("b", "The denial"), ("a", "The report")] if d == "b" else [("a", "Side A"), ("b", "Side B")]
    out = []
    for side, label in order:
        head = c.get(side)
        claims = list(c.get(f"evidence_{side}") or []) or ([head] if head else [])
        if not claims:
            continue
        by_time = sorted(claims, key=lambda x: (str(x.get("published_at") or ""), x.get("claim_id") or 0))
        strongest = min(claims, key=_strength)
        outlets: list[str] = []
        for x in by_time:
            name = _one_line(x.get("reported_by"), 100) or "?"
            if name not in outlets:
                outlets.append(name)
        out.append(Side(label=label, claim=strongest, outlets=outlets, since=by_time[0].get("published_at"),
                        confidence=c.get(f"confidence_{side}"),
                        others=[x for x in by_time if x.get("claim_id") != strongest.get("claim_id")],
                        witnesses=c.get(f"witnesses_{side}")))
    return out


def _conf(value: Any) -> str:
    return f"{float(value):.2f}" if value is not None else "?"


def confidence_words(c: dict, sides: list[Side]) -> str:
    """'Confidence 0.56: the denial 0.75 (2 outlets), the report 0.75 (2 outlets); both must hold.'"""
    def support(s: Side) -> str:
        n = len(s.outlets)
        text = f"{n} outlet{'s' if n != 1 else ''}"
        if s.witnesses is not None and s.witnesses < n:  # wire copy: one sentence in several outlets
            text += f", {s.witnesses} independent"
        return text

    parts = [f"{s.label.lower().removeprefix('the ')} {_conf(s.confidence)} ({support(s)})" for s in sides]
    return f"Confidence {_conf(c.get('confidence'))}: " + ", ".join(parts) + "; both must hold."


def _history_words(c: dict) -> str | None:
    """Why it is mailed now when it was not before, or an analyst's confirmation."""
    if c.get("triage") == "confirmed":
        note = f": {_one_line(c.get('triage_note'), 300)}" if c.get("triage_note") else ""
        return f"Confirmed by {_one_line(c.get('triaged_by'), 60)} on {long_day(c.get('triaged_at'))}{note}."
    if c.get("alert_held_at"):
        return (f"Held back on {long_day(c.get('alert_held_at'))} as under the alert threshold; new evidence "
                f"has raised its confidence to {_conf(c.get('confidence'))}.")
    return None


def _text_url(url: Any) -> str:
    ok = safe_url(url)
    return ok if ok else "(no web address)"


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


def _one_line(value: Any, limit: int = 600) -> str:
    text = _WS_RE.sub(" ", _CTRL_RE.sub(" ", "" if value is None else str(value))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _side_lines(side: Side) -> list[str]:
    claim = side.claim
    n = len(side.outlets)
    hedge = " (reported as unconfirmed)" if claim.get("hedged") else ""
    lines = [
        f"  {side.label}: {who(claim)}{hedge}, carried by {n} outlet{'s' if n != 1 else ''} since "
        f"{long_day(side.since)}: {', '.join(side.outlets)}.",
        f"     \"{_one_line(claim.get('evidence'))}\"",
        f"     — {_one_line(claim.get('reported_by'), 100) or '?'}, {long_day(claim.get('published_at'))}: "
        f"{_text_url(claim.get('article_url'))}",
    ]
    for x in side.others[:MAX_EXTRA_EVIDENCE]:
        lines.append(
            f"       also {long_day(x.get('published_at'))}, {_one_line(x.get('reported_by'), 100) or '?'}: "
            f"\"{_one_line(x.get('evidence'), 200)}\" {_text_url(x.get('article_url'))}"
        )
    if len(side.others) > MAX_EXTRA_EVIDENCE:
        lines.append(f"       and {len(side.others) - MAX_EXTRA_EVIDENCE} more")
    return lines


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


def _intro(n: int, min_confidence: float | None, held: int) -> str:
    text = f"talkwatch found {n} new contradiction{'s' if n != 1 else ''} between reports on ceasefire and peace talks"
    if min_confidence is not None:
        text += f" (mailed at confidence {min_confidence:.2f} or more"
        if held:
            text += f"; {held} more below that stay unmailed in the warehouse"
        text += ")"
    return text + "."


def _text_body(groups, n: int, min_confidence: float | None, held: int, failing: list[dict] | None) -> str:
    lines = [_intro(n, min_confidence, held)]
    for label, items in groups:
        lines += ["", f"== {label} ({len(items)}) " + "=" * max(0, 60 - len(label))]
        for c in items:
            sides = explain_sides(c)
            cid = c.get("contradiction_id")
            lines += ["", f"Contradiction {cid}: {headline(c)}", f"  {confidence_words(c, sides)}"]
            history = _history_words(c)
            if history:
                lines.append(f"  {history}")
            for side in sides:
                lines += _side_lines(side)
            lines.append(f"  Triage: talkwatch contradictions confirm {cid}  or  talkwatch contradictions dismiss "
                         f"{cid} --note \"why\"")
    if failing:
        lines += _failing_text(failing)
    lines += ["", "-- ", "talkwatch nightly digest; each contradiction is mailed once. A dismissed one is never "
              "mailed again."]
    return show_bidi_controls("\n".join(lines) + "\n")


_TD = "vertical-align:top;padding:8px;border:1px solid #ddd;width:50%"


def _link(url: Any, text: Any) -> str:
    ok = safe_url(url)
    if ok:
        return f'<a href="{_e(ok)}">{_e(text or ok)}</a>'
    return _e(text or "")


def _side_html(side: Side) -> str:
    claim = side.claim
    n = len(side.outlets)
    hedge = " <em>(reported as unconfirmed)</em>" if claim.get("hedged") else ""
    parts = [
        f'<td style="{_TD}">',
        f"<div style=\"color:#666;font-size:12px\">{_e(side.label)} · confidence {_e(_conf(side.confidence))}</div>",
        f"<strong>{_e(who(claim))}</strong>{hedge}<br>",
        f"<span>carried by {n} outlet{'s' if n != 1 else ''} since {_e(long_day(side.since))}: "
        f"{_e(', '.join(side.outlets))}</span>",
        f'<blockquote style="margin:6px 0;padding-left:8px;border-left:3px solid #999">'
        f"{_e(claim.get('evidence'))}</blockquote>",
        f"{_e(claim.get('reported_by') or '?')}, {_e(long_day(claim.get('published_at')))}: ",
        _link(claim.get("article_url"), claim.get("article_title") or claim.get("article_url")),
    ]
    if side.others:
        parts.append("<ul style=\"margin:4px 0;padding-left:18px;font-size:90%\">")
        for x in side.others[:MAX_EXTRA_EVIDENCE]:
            parts.append(
                f"<li>{_e(long_day(x.get('published_at')))}, {_e(x.get('reported_by') or '?')}: "
                f"“{_e(_one_line(x.get('evidence'), 200))}” {_link(x.get('article_url'), 'article')}</li>"
            )
        if len(side.others) > MAX_EXTRA_EVIDENCE:
            parts.append(f"<li>and {len(side.others) - MAX_EXTRA_EVIDENCE} more</li>")
        parts.append("</ul>")
    parts.append("</td>")
    return "".join(parts)


def _html_body(groups, n: int, min_confidence: float | None, held: int, failing: list[dict] | None,
               subject: str) -> str:
    out = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
        f"<title>{_e(subject)}</title></head>",
        "<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">",
        f"<p>{_e(_intro(n, min_confidence, held))}</p>",
    ]
    for label, items in groups:
        out.append(f"<h2 style=\"font-size:18px;border-bottom:2px solid #333\">{_e(label)} ({len(items)})</h2>")
        for c in items:
            sides = explain_sides(c)
            cid = c.get("contradiction_id")
            out.append(f"<h3 style=\"font-size:15px;margin:14px 0 4px\">Contradiction {_e(cid)}</h3>")
            out.append(f"<p style=\"margin:4px 0\">{_e(headline(c))}</p>")
            out.append(f"<p style=\"margin:4px 0;color:#444\">{_e(confidence_words(c, sides))}</p>")
            history = _history_words(c)
            if history:
                out.append(f"<p style=\"margin:4px 0;color:#444\">{_e(history)}</p>")
            out.append(
                "<table style=\"border-collapse:collapse;width:100%\"><tr>"
                + "".join(_side_html(s) for s in sides) + "</tr></table>"
            )
            out.append(f"<p style=\"margin:4px 0;color:#777;font-size:12px\">Triage: <code>talkwatch "
                       f"contradictions confirm {_e(cid)}</code> or <code>talkwatch contradictions dismiss "
                       f"{_e(cid)} --note \"why\"</code></p>")
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
    out.append("<p style=\"color:#777;font-size:12px\">talkwatch nightly digest; each contradiction is mailed once. "
               "A dismissed one is never mailed again.</p>")
    out.append("</body></html>")
    return show_bidi_controls("\n".join(out))


def build_digest(
    contradictions: list[dict],
    *,
    warehouse_id: str,
    domain: str,
    min_confidence: float | None = None,
    held: int = 0,
    run_label: str | None = None,
    failing_feeds: list[dict] | None = None,
) -> EmailMessage:
    """The digest message (plain text + HTML) for these contradictions; From/To/Date are set by the sender.

    `min_confidence` and `held` (contradictions left unmailed under it) are said in the first line."""
    if not contradictions:
        raise ValueError("build_digest needs at least one contradiction")
    groups = _grouped(contradictions)
    subject = digest_subject(contradictions)
    ids = [int(c["contradiction_id"]) for c in contradictions]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["Message-ID"] = message_id_for(ids, warehouse_id=warehouse_id, domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    if run_label:
        msg["X-Talkwatch-Run"] = header_safe(run_label, limit=100)
    msg["X-Talkwatch-Contradictions"] = header_safe(",".join(map(str, sorted(ids))), limit=900)
    msg.set_content(_text_body(groups, len(contradictions), min_confidence, held, failing_feeds))
    msg.add_alternative(
        _html_body(groups, len(contradictions), min_confidence, held, failing_feeds, subject), subtype="html"
    )
    return msg


# --------------------------------------------------------------------------- sending


def smtp_send(msg: EmailMessage, smtp: SmtpSettings) -> None:
    """Deliver through the configured server (SSL or plain with optional STARTTLS, login if a user is set).

    The one SMTP client of the project: the digest and the operator's failure mail (send_plain) both go
    through it. TLS verifies the server's certificate and host name (ssl.create_default_context)."""
    recipients = [envelope_address(r) for r in smtp.recipients]
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
        refused = client.send_message(msg, from_addr=envelope_address(smtp.mail_from), to_addrs=recipients)
    if refused:
        logger.warning("SMTP server refused some recipients: %s", sorted(refused))


def envelope_address(value: str | None) -> str:
    """The bare address of a header value ('Talkwatch <alerts@example.org>' -> 'alerts@example.org') for
    SMTP's MAIL FROM / RCPT TO, read before bidi controls are spelt out; one clean line in any case."""
    address = parseaddr(_CTRL_RE.sub(" ", value or ""))[1]
    return header_safe(address or value)


def header_address(value: str | None) -> str:
    """An address for a From/To header: 'Name <addr>' with the name cleaned (bidi controls spelt out) and
    quoted where it needs to be; a value that is no address, cleaned as any header."""
    name, address = parseaddr(_CTRL_RE.sub(" ", value or ""))
    if not address:
        return header_safe(value)
    return formataddr((header_safe(name), header_safe(address))) if name.strip() else header_safe(address)


def _address(msg: EmailMessage, smtp: SmtpSettings) -> None:
    for name in ("From", "To", "Date"):
        del msg[name]
    msg["From"] = header_address(smtp.mail_from)
    msg["To"] = ", ".join(header_address(r) for r in smtp.recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)


def send_plain(smtp: SmtpSettings, subject: str, body: str, *, send: SendFn | None = None) -> EmailMessage:
    """A plain-text message (the operator's failure mail) through smtp_send, with every header cleaned as
    the digest's are; raises what the server or the connection raises. Returns the message sent."""
    msg = EmailMessage()
    msg["Subject"] = header_safe(subject)
    msg["Message-ID"] = make_msgid("talkwatch-notice", domain=message_id_domain(smtp.mail_from))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(show_bidi_controls(body))
    _address(msg, smtp)
    (send or smtp_send)(msg, smtp)
    return msg


def hold_low_confidence(conn, min_confidence: float) -> int:
    """Record every unmailed contradiction under MIN_CONFIDENCE (and not triaged) as held back by this
    threshold; returns how many are held now. Idempotent: rows already held at this threshold stay as they
    are, so a second run of the same night writes nothing."""
    with conn.cursor() as cur:
        cur.execute(
            """
            update talkwatch.contradictions k
               set alert_held_at = coalesce(k.alert_held_at, now()), alert_held_threshold = %(t)s
             where k.alerted_at is null
               and coalesce(k.confidence, 0) < %(t)s
               and k.alert_held_threshold is distinct from %(t)s
               and not exists (select 1 from talkwatch.contradiction_triage t
                                where t.contradiction_id = k.contradiction_id)
            """,
            {"t": min_confidence},
        )
        cur.execute(
            """
            select count(*)
              from talkwatch.contradictions k
             where k.alerted_at is null
               and coalesce(k.confidence, 0) < %(t)s
               and not exists (select 1 from talkwatch.contradiction_triage t
                                where t.contradiction_id = k.contradiction_id)
            """,
            {"t": min_confidence},
        )
        held = cur.fetchone()[0]
    conn.commit()
    return held


# the contradictions a digest may carry: not mailed, not dismissed, and at or above the threshold unless an
# analyst confirmed them
_MAILABLE = """
  from talkwatch.contradictions k
  left join talkwatch.contradiction_triage t on t.contradiction_id = k.contradiction_id
 where k.alerted_at is null
   and t.decision is distinct from 'dismissed'
   and (coalesce(k.confidence, 0) >= %(t)s or t.decision = 'confirmed')
"""


def send_pending_alerts(
    conn,
    smtp: SmtpSettings,
    *,
    min_confidence: float = DEFAULT_ALERT_MIN_CONFIDENCE,
    run_id: int | None = None,
    send: SendFn | None = None,
    failing_feeds: list[dict] | None = None,
) -> AlertResult:
    """Mail every pending contradiction at or above MIN_CONFIDENCE in one digest, exactly once.

    First the confidences of contradictions whose evidence changed are recomputed, and the unmailed ones
    under the threshold are recorded as held back (hold_low_confidence): they stay
    in the warehouse, marked low_confidence, and go out with a later digest once new evidence lifts them to
    the threshold. Dismissed ones never go out; confirmed ones go out whatever their confidence.
    The mailable contradictions are locked (`for no key update skip locked`, so a concurrent run skips
    them), the message is sent, and only after the server accepted it the alert row is written and the
    contradictions are marked alerted, in the same transaction. On an SMTP error everything is rolled back,
    the contradictions stay pending for the next run, and the error is returned, not raised. Nothing
    mailable: no email. SMTP not configured: nothing is sent or marked alerted.
    """
    from pipeline.contradictions import list_contradictions, refresh_confidence

    recipients = [header_safe(r) for r in smtp.recipients]
    refresh_confidence(conn)  # whatever attached evidence since, the threshold reads current confidences
    held = hold_low_confidence(conn, min_confidence)
    if not smtp.configured:
        return AlertResult(sent=False, recipients=recipients, error="smtp not configured", held=held)
    send = send or smtp_send
    # read first (list_contradictions commits), then lock what is still mailable; a concurrent run
    # holding some of them makes us skip those, and one that alerted them meanwhile is seen here
    with conn.cursor() as cur:
        cur.execute(f"select k.contradiction_id {_MAILABLE} order by 1", {"t": min_confidence})  # noqa: S608
        mailable = [r[0] for r in cur.fetchall()]
    conn.commit()
    listed = list_contradictions(conn, ids=mailable) if mailable else []
    if not listed:
        logger.info("no pending contradictions at confidence %s or more: no alert email", min_confidence)
        return AlertResult(sent=False, recipients=recipients, held=held)
    domain = message_id_domain(smtp.mail_from)
    wid = warehouse_identity(conn)
    conn.rollback()
    autocommit = conn.autocommit
    if autocommit:
        conn.autocommit = False  # the row locks must live until the alert is recorded
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"""
                select k.contradiction_id {_MAILABLE}
                   and k.contradiction_id = any(%(ids)s)
                 order by 1
                   for no key update of k skip locked
                """,  # noqa: S608 - a fixed clause
                {"t": min_confidence, "ids": [int(c["contradiction_id"]) for c in listed]},
            )
            ids = [r[0] for r in cur.fetchall()]
        if not ids:
            conn.rollback()
            logger.info("pending contradictions are being alerted by another run: no alert email")
            return AlertResult(sent=False, recipients=recipients, held=held)
        locked = set(ids)
        contradictions = [c for c in listed if int(c["contradiction_id"]) in locked]
        msg = build_digest(
            contradictions, warehouse_id=wid, domain=domain, min_confidence=min_confidence, held=held,
            run_label=str(run_id) if run_id is not None else None, failing_feeds=failing_feeds,
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
                               error=error, held=held)
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
                               error=error, held=held)
        logger.info("alert %s sent to %s recipients: %s contradictions", alert_id, len(recipients), len(ids))
        return AlertResult(sent=True, alert_id=alert_id, contradiction_ids=ids, recipients=recipients,
                           subject=subject, held=held)
    finally:
        if autocommit:
            conn.rollback()
            conn.autocommit = True
