"""Self-contained HTML report: per track, a timeline of what each source claimed, and its contradictions."""

from __future__ import annotations

import html
import logging
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.alerts import parties_label, safe_url, show_bidi_controls
from pipeline.contradictions import alert_status

logger = logging.getLogger(__name__)

STATUS_COLORS: dict[str, str] = {
    "proposed": "#4e79a7",
    "accepted": "#76b7b2",
    "rejected": "#9c755f",
    "planned": "#f28e2b",
    "ongoing": "#edc948",
    "held": "#b07aa1",
    "agreed": "#59a14f",
    "stalled": "#ff9da7",
    "collapsed": "#bab0ac",
    "denied": "#e15759",
    "no_deal": "#8b0000",
}
LINK_COLOR = "#222222"

# chart geometry (SVG user units)
WIDTH = 980
LABEL_W = 200
RIGHT_PAD = 40
TOP = 46  # room for the legend
ROW_H = 36
AXIS_H = 34
MARK_R = 6
MIN_GAP = 11  # marks of one source on one day closer than this are spread apart within that day
LABEL_CHARS = 26  # characters of a source's name on one line of the label column (13 px type in LABEL_W)
LINE_H = 15  # a label line's height


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _day(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).date().isoformat() if value else "?"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _wrap(text: str, width: int = LABEL_CHARS) -> list[str]:
    """TEXT in lines of at most WIDTH characters, broken between words (a longer word is cut)."""
    lines: list[str] = []
    for word in text.split():
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        elif word:
            lines.append(word)
    return lines or [""]


def _one_line(value: Any, limit: int = 400) -> str:
    text = " ".join(("" if value is None else str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- reading


@dataclass
class Track:
    parties_key: str
    parties: list[str]
    family: str
    claims: list[dict] = field(default_factory=list)
    contradictions: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{parties_label(self.parties)} · {self.family}"


_CLAIMS_SQL = """
with family_of as (
    select topic_a as topic, family from talkwatch.topic_compat where topic_a = topic_b
),
placed as (
    select c.claim_id, c.parties_key, f.family
      from talkwatch.claims c
      join family_of f on f.topic = c.topic
    union
    select e.claim_id, k.parties_key, k.topic_family
      from talkwatch.contradiction_evidence e
      join talkwatch.contradictions k on k.contradiction_id = e.contradiction_id
    union
    select k.claim_a_id, k.parties_key, k.topic_family from talkwatch.contradictions k
    union
    select k.claim_b_id, k.parties_key, k.topic_family from talkwatch.contradictions k
)
select p.parties_key, p.family, c.claim_id, c.parties, c.status, c.topic, c.source, c.source_key,
       c.source_org, coalesce(c.reported_by, a.outlet) as reported_by, c.hedged, c.event_time,
       c.evidence, c.published_at, a.url as article_url, a.title as article_title
  from placed p
  join talkwatch.claims c on c.claim_id = p.claim_id
  join talkwatch.articles a on a.article_id = c.article_id
 where %(since)s::timestamptz is null or c.published_at >= %(since)s::timestamptz
 order by p.parties_key, p.family, c.published_at, c.claim_id
"""

_CONTRADICTIONS_SQL = """
select k.contradiction_id, k.parties, k.parties_key, k.topic_family, k.period_key, k.source_key_a,
       k.source_key_b, k.claim_a_id, k.claim_b_id, k.rule, k.detected_at, k.alerted_at,
       k.confidence, k.alert_held_threshold, t.decision as triage, t.decided_by as triaged_by,
       t.note as triage_note,
       count(e.claim_id) filter (where e.side = 'a') as support_a,
       count(e.claim_id) filter (where e.side = 'b') as support_b,
       coalesce(array_agg(e.claim_id) filter (where e.claim_id is not null), '{}') as evidence_ids
  from talkwatch.contradictions k
  left join talkwatch.contradiction_evidence e on e.contradiction_id = k.contradiction_id
  left join talkwatch.contradiction_triage t on t.contradiction_id = k.contradiction_id
 where %(since)s::timestamptz is null or k.last_evidence_at >= %(since)s::timestamptz
 group by k.contradiction_id, t.contradiction_id
 order by k.parties_key, k.topic_family, k.contradiction_id
"""


def _fetch(cur, sql: str, params: dict) -> list[dict]:
    cur.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def load_tracks(conn, *, since: datetime | None = None, only_contradicted: bool = False) -> list[Track]:
    """Tracks (parties + topic family) with their claims and contradictions, busiest first."""
    with conn.cursor() as cur:
        claims = _fetch(cur, _CLAIMS_SQL, {"since": since})
        contradictions = _fetch(cur, _CONTRADICTIONS_SQL, {"since": since})
    conn.commit()
    tracks: dict[tuple[str, str], Track] = {}
    for c in claims:
        key = (c.pop("parties_key"), c.pop("family"))
        track = tracks.setdefault(key, Track(key[0], sorted(c["parties"]), key[1]))
        track.claims.append(c)
    for k in contradictions:
        k["alert_status"] = alert_status(k)
        key = (k["parties_key"], k["topic_family"])
        track = tracks.setdefault(key, Track(key[0], list(k["parties"]), key[1]))
        track.contradictions.append(k)
    out = [t for t in tracks.values() if t.contradictions or not only_contradicted]
    out.sort(key=lambda t: (-len(t.contradictions), -len(t.claims), t.parties_key, t.family))
    return out


# --------------------------------------------------------------------------- the chart


def _claim_title(c: dict) -> str:
    who = c["source"] + (f" ({c['source_org']})" if c.get("source_org") else "")
    status = c["status"] + (" (hedged)" if c.get("hedged") else "")
    about = f" · about {c['event_time']}" if c.get("event_time") else ""
    return (f"{_day(c['published_at'])} · {who}\n{status} · {c['topic']}{about}\n"
            f"reported by {c.get('reported_by') or '?'}\n“{_one_line(c['evidence'])}”")


def _ticks(t0: datetime, t1: datetime, n: int = 6) -> list[datetime]:
    span = (t1 - t0).days
    step = max(1, round(span / n))
    start = datetime(t0.year, t0.month, t0.day, tzinfo=timezone.utc)
    if start < t0:
        start += timedelta(days=1)
    out = []
    d = start
    while d <= t1:
        out.append(d)
        d += timedelta(days=step)
    return out


def _midnight(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def _place_day(claims: list[dict], x0: float, x1: float, y: float, height: float,
               x_of) -> dict[int, tuple[float, float]]:
    """Positions of one source's claims of one UTC day, all inside that day's column [x0, x1]: at their
    time of day when MIN_GAP apart, else spread evenly across the column, and when the column is too
    narrow for that, stacked up and down the row at the day's centre."""
    xs = [x_of(c["published_at"]) for c in claims]
    n = len(claims)
    if all(b - a >= MIN_GAP for a, b in zip(xs, xs[1:], strict=False)):
        return {c["claim_id"]: (x, y) for c, x in zip(claims, xs, strict=True)}
    if (x1 - x0) >= n * MIN_GAP:
        step = (x1 - x0) / n
        return {c["claim_id"]: (x0 + step * (i + 0.5), y) for i, c in enumerate(claims)}
    room = height / 2 - MARK_R - 2
    step = min(float(MIN_GAP), 2 * room / (n - 1)) if n > 1 else 0.0
    mid = (x0 + x1) / 2
    return {c["claim_id"]: (mid, y - step * (n - 1) / 2 + step * i) for i, c in enumerate(claims)}


def render_chart(track: Track, index: int) -> str:
    """One SVG: a row per source, a mark per claim, a curve per contradiction between its two claims."""
    claims = [c for c in track.claims if c.get("published_at")]
    if not claims:
        return '<p class="empty">No dated claims on this track.</p>'
    # rows: sources in order of first appearance, labelled by their most frequent spelling
    rows: dict[str, list[dict]] = {}
    for c in claims:
        rows.setdefault(c["source_key"], []).append(c)
    labels = {k: Counter(c["source"] for c in cs).most_common(1)[0][0] for k, cs in rows.items()}
    orgs = {k: next((c["source_org"] for c in cs if c.get("source_org")), None) for k, cs in rows.items()}
    times = [c["published_at"].astimezone(timezone.utc) for c in claims]
    t0 = min(times).replace(hour=0, minute=0, second=0, microsecond=0)
    t1 = max(times).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    if (t1 - t0) < timedelta(days=3):
        t0 -= timedelta(days=1)
        t1 += timedelta(days=1)
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    span = (t1 - t0).total_seconds()

    def x_of(t: datetime) -> float:
        return LABEL_W + (t.astimezone(timezone.utc) - t0).total_seconds() / span * plot_w

    # a long name is wrapped onto more lines (never cut), and its row grows to hold them
    label_lines = {k: _wrap(label) for k, label in labels.items()}
    row_top: dict[str, float] = {}
    row_h: dict[str, float] = {}
    top = float(TOP)
    for key in rows:
        row_top[key], row_h[key] = top, max(ROW_H, LINE_H * len(label_lines[key]) + 8)
        top += row_h[key]
    plot_bottom = top
    height = plot_bottom + AXIS_H
    pos: dict[int, tuple[float, float]] = {}
    for key, cs in rows.items():
        y = row_top[key] + row_h[key] / 2
        by_day: dict[datetime, list[dict]] = {}
        for c in sorted(cs, key=lambda c: (c["published_at"], c["claim_id"])):
            by_day.setdefault(_midnight(c["published_at"]), []).append(c)
        for day, same_day in by_day.items():
            pos.update(_place_day(same_day, x_of(day), x_of(day + timedelta(days=1)), y, row_h[key], x_of))
    evidence_ids = {i for k in track.contradictions for i in (k["claim_a_id"], k["claim_b_id"], *k["evidence_ids"])}

    tid = f"t{index}"
    svg = [
        f'<svg class="chart" id="chart-{tid}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'aria-label="{_e("timeline of " + track.label)}">',
        f"<title>{_e('What each source claimed: ' + track.label)}</title>",
    ]
    # legend: the statuses present, then the contradiction link
    present = [s for s in STATUS_COLORS if any(c["status"] == s for c in claims)]
    lx = 8.0
    svg.append('<g class="legend">')
    for s in present:
        svg.append(f'<circle cx="{lx + MARK_R:.1f}" cy="16" r="{MARK_R}" fill="{STATUS_COLORS[s]}" '
                   f'stroke="#333" stroke-width="0.5"/>'
                   f'<text x="{lx + 2 * MARK_R + 4:.1f}" y="20" class="lg">{_e(s)}</text>')
        lx += 2 * MARK_R + 12 + 7.2 * len(s)
    if any(c.get("hedged") for c in claims):
        svg.append(f'<circle cx="{lx + MARK_R:.1f}" cy="16" r="{MARK_R}" fill="#fff" stroke="#555" '
                   f'stroke-width="2" stroke-dasharray="2 2"/>'
                   f'<text x="{lx + 2 * MARK_R + 4:.1f}" y="20" class="lg">hedged</text>')
        lx += 2 * MARK_R + 12 + 7.2 * 6
    if track.contradictions:
        svg.append(f'<path d="M{lx:.1f} 16 q12 -10 24 0" fill="none" stroke="{LINK_COLOR}" stroke-width="2" '
                   f'stroke-dasharray="5 3"/><text x="{lx + 30:.1f}" y="20" class="lg">contradiction</text>')
        lx += 30 + 7.2 * 13 + 12
        svg.append(f'<circle cx="{lx + MARK_R + 3:.1f}" cy="16" r="{MARK_R + 3}" fill="none" '
                   f'stroke="{LINK_COLOR}" stroke-width="1.2"/>'
                   f'<text x="{lx + 2 * MARK_R + 10:.1f}" y="20" class="lg">evidence of a contradiction</text>')
    svg.append("</g>")
    # grid and axis
    axis_y = plot_bottom + 4
    svg.append('<g class="axis">')
    for t in _ticks(t0, t1):
        x = x_of(t)
        svg.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{axis_y:.1f}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{axis_y + 16:.1f}" text-anchor="middle" class="tick">'
                   f"{_e(t.date().isoformat())}</text>")
    svg.append("</g>")
    # rows
    for key in rows:
        y = row_top[key] + row_h[key] / 2
        label = labels[key]
        lines = label_lines[key]
        if len(lines) == 1:
            text = _e(label)
            name = ""
        else:  # one tspan a line, the block centred on the row
            first = y + 4 - LINE_H * (len(lines) - 1) / 2
            text = "".join(f'<tspan x="{LABEL_W - 10}" y="{first + LINE_H * i:.1f}">{_e(line)}</tspan>'
                           for i, line in enumerate(lines))
            name = f' data-name="{_e(label)}"'
        svg.append(
            f'<g class="row" data-source-key="{_e(key)}">'
            f'<line x1="{LABEL_W:.0f}" y1="{y:.1f}" x2="{WIDTH - RIGHT_PAD / 2:.0f}" y2="{y:.1f}" class="rowline"/>'
            f'<text x="{LABEL_W - 10}" y="{y + 4:.1f}" text-anchor="end"{name} class="src-label">'
            f"<title>{_e(label + (' — ' + orgs[key] if orgs[key] else '') + ' [' + key + ']')}</title>"
            f"{text}</text></g>"
        )
    # contradiction links under the marks
    svg.append('<g class="links">')
    for k in track.contradictions:
        if k["claim_a_id"] not in pos or k["claim_b_id"] not in pos:
            continue
        (xa, ya), (xb, yb) = pos[k["claim_a_id"]], pos[k["claim_b_id"]]
        bend = max(18.0, abs(xb - xa) * 0.25)
        if ya == yb:  # same row: arch above it
            cx, cy = (xa + xb) / 2, ya - bend
        else:  # across rows: bow sideways so that a same-day pair is not a straight vertical line
            cx, cy = (xa + xb) / 2 + bend, (ya + yb) / 2
        a = next(c for c in claims if c["claim_id"] == k["claim_a_id"])
        b = next(c for c in claims if c["claim_id"] == k["claim_b_id"])
        title = (f"Contradiction #{k['contradiction_id']} ({k['rule']}, period {k['period_key']})\n"
                 f"A: {_claim_title(a)}\n— vs —\nB: {_claim_title(b)}")
        svg.append(
            f'<path class="link" id="link-{int(k["contradiction_id"])}" data-cid="{int(k["contradiction_id"])}" '
            f'd="M{xa:.1f} {ya:.1f} Q{cx:.1f} {cy:.1f} {xb:.1f} {yb:.1f}" fill="none" stroke="{LINK_COLOR}" '
            f'stroke-width="2" stroke-dasharray="5 3"><title>{_e(title)}</title></path>'
        )
    svg.append("</g>")
    # marks
    svg.append('<g class="marks">')
    for c in claims:
        x, y = pos[c["claim_id"]]
        color = STATUS_COLORS.get(c["status"], "#999")
        if c.get("hedged"):
            shape = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{MARK_R}" fill="#fff" stroke="{color}" '
                     f'stroke-width="2.5" stroke-dasharray="2 2"/>')
        else:
            shape = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{MARK_R}" fill="{color}" stroke="#333" '
                     f'stroke-width="0.6"/>')
        ring = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{MARK_R + 3}" fill="none" stroke="{LINK_COLOR}" '
                f'stroke-width="1.2"/>') if c["claim_id"] in evidence_ids else ""
        svg.append(
            f'<g class="mark" id="m-{tid}-{int(c["claim_id"])}" data-claim="{int(c["claim_id"])}" '
            f'data-status="{_e(c["status"])}" data-source="{_e(c["source"])}">'
            f"{ring}{shape}<title>{_e(_claim_title(c))}</title></g>"
        )
    svg.append("</g></svg>")
    return "".join(svg)


# --------------------------------------------------------------------------- tables and page


def _side_cell(c: dict | None, support: int) -> str:
    if not c:
        return "<td><em>claim not loaded</em></td>"
    link = safe_url(c.get("article_url"))
    title = _e(c.get("article_title") or c.get("article_url") or "article")
    article = f'<a href="{_e(link)}" rel="noopener noreferrer">{title}</a>' if link else title
    org = f' <span class="muted">({_e(c["source_org"])})</span>' if c.get("source_org") else ""
    hedge = " <em>hedged</em>" if c.get("hedged") else ""
    return (
        f'<td><strong>{_e(c["source"])}</strong>{org}<br>'
        f'<span class="st" style="background:{STATUS_COLORS.get(c["status"], "#999")}">{_e(c["status"])}</span>'
        f"{hedge} · {_e(c['topic'])} · {_e(c.get('reported_by') or '?')} · {_e(_day(c['published_at']))}"
        f"<blockquote>{_e(c['evidence'])}</blockquote>{article}"
        f'<div class="muted">supporting claims: {max(support, 1)}</div></td>'
    )


def _alert_cell(k: dict) -> str:
    """What became of the alert: mailed (when), low confidence (held back, not mailed), dismissed (by whom,
    why), or pending; a confirmation is said too."""
    status = k.get("alert_status")
    if status == "dismissed":
        note = f'<div class="muted">{_e(k["triage_note"])}</div>' if k.get("triage_note") else ""
        return f'<td class="alert dismissed">dismissed by {_e(k.get("triaged_by"))}{note}</td>'
    if status == "mailed":
        text = f"mailed {_e(_day(k['alerted_at']))}"
    elif status == "low_confidence":
        text = (f'low confidence: not mailed <span class="muted">(under {_e(_conf(k.get("alert_held_threshold")))})'
                "</span>")
    else:
        text = "pending"
    if k.get("triage") == "confirmed":
        text += f'<div class="muted">confirmed by {_e(k.get("triaged_by"))}</div>'
    return f'<td class="alert {_e(status)}">{text}</td>'


def _conf(value: Any) -> str:
    return f"{float(value):.2f}" if value is not None else "?"


def render_table(track: Track) -> str:
    if not track.contradictions:
        return '<p class="muted">No contradictions on this track.</p>'
    by_id = {c["claim_id"]: c for c in track.claims}
    rows = []
    for k in track.contradictions:
        cid = int(k["contradiction_id"])
        rows.append(
            f'<tr class="contradiction" data-cid="{cid}" data-alert="{_e(k["alert_status"])}"><td>#{cid}</td>'
            f'<td>{_e(k["period_key"])}<br><span class="muted">{_e(k["rule"])}</span></td>'
            + _side_cell(by_id.get(k["claim_a_id"]), int(k["support_a"] or 0))
            + _side_cell(by_id.get(k["claim_b_id"]), int(k["support_b"] or 0))
            + f"<td>{_e(_conf(k.get('confidence')))}</td>"
            + f"<td>{_e(_day(k['detected_at']))}</td>" + _alert_cell(k) + "</tr>"
        )
    return (
        '<table class="contradictions"><thead><tr><th>#</th><th>period / rule</th><th>side A</th>'
        "<th>side B</th><th>confidence</th><th>detected</th><th>alert</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid #333}
.muted{color:#666;font-size:90%} .summary{margin:6px 0 14px}
section.track{background:#fff;border:1px solid #ddd;padding:10px 14px;margin:14px 0;border-radius:4px}
section.track h2{margin-top:4px}
svg.chart{display:block;max-width:100%;height:auto;font-size:12px}
svg .src-label{font-size:13px;fill:#222} svg .tick{font-size:11px;fill:#555} svg .lg{font-size:12px;fill:#333}
svg .grid{stroke:#e4e4e4} svg .rowline{stroke:#eee}
svg .link{opacity:.85} svg .link.hl{stroke:#c00;stroke-width:4;opacity:1}
svg .mark:hover circle{stroke-width:3}
table.contradictions{border-collapse:collapse;width:100%;margin-top:10px;font-size:13px}
table.contradictions th,table.contradictions td{border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}
table.contradictions td:nth-child(3),table.contradictions td:nth-child(4){width:38%}
tr.contradiction.hl{background:#fff3cd}
tr.contradiction[data-alert="dismissed"] td{color:#888} td.alert.dismissed{color:#a00}
blockquote{margin:4px 0;padding-left:8px;border-left:3px solid #aaa;color:#333}
.st{display:inline-block;padding:0 6px;border-radius:3px;color:#111}
#tw-filter{padding:4px 8px;width:280px} #tw-index li{margin:2px 0}
"""

# reads the page's own DOM (no data is embedded in the script), writes with textContent only
_JS = """
(function () {
  'use strict';
  var tracks = Array.prototype.slice.call(document.querySelectorAll('section.track'));
  var index = document.getElementById('tw-index');
  var sources = {};
  function plural(n, noun) { return n + ' ' + noun + (n === 1 ? '' : 's'); }
  tracks.forEach(function (sec) {
    var names = [];
    sec.querySelectorAll('svg .src-label').forEach(function (t) {
      var box = t.getBBox();
      t.setAttribute('data-w', String(Math.round(box.width)));
      var name = t.getAttribute('data-name') || (t.lastChild ? t.lastChild.textContent : t.textContent);
      names.push(name);
      sources[name] = true;
    });
    var li = document.createElement('li');
    li.className = 'tw-index-entry';
    var a = document.createElement('a');
    a.href = '#' + sec.id;
    a.textContent = sec.getAttribute('data-label');
    li.appendChild(a);
    li.appendChild(document.createTextNode(' — ' + names.join(', ') + ' (' +
      plural(sec.querySelectorAll('svg .mark').length, 'claim') + ', ' +
      plural(sec.querySelectorAll('svg .link').length, 'contradiction') + ')'));
    index.appendChild(li);
  });
  document.getElementById('tw-js-summary').textContent =
    plural(tracks.length, 'track') + ' · ' + plural(Object.keys(sources).length, 'source') + ' · ' +
    plural(document.querySelectorAll('svg .link').length, 'contradiction') + ' drawn';
  function highlight(cid, on) {
    document.querySelectorAll('[data-cid="' + cid + '"]').forEach(function (el) {
      el.classList.toggle('hl', on);
    });
  }
  document.querySelectorAll('tr.contradiction, svg .link').forEach(function (el) {
    var cid = el.getAttribute('data-cid');
    el.addEventListener('mouseenter', function () { highlight(cid, true); });
    el.addEventListener('mouseleave', function () { highlight(cid, false); });
  });
  var filter = document.getElementById('tw-filter');
  filter.addEventListener('input', function () {
    var q = filter.value.toLowerCase();
    tracks.forEach(function (sec) {
      var text = (sec.getAttribute('data-label') + ' ' + sec.getAttribute('data-sources')).toLowerCase();
      sec.style.display = text.indexOf(q) >= 0 ? '' : 'none';
    });
  });
  document.body.setAttribute('data-ready', '1');
})();
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


def render_report(conn, *, since: datetime | None = None, only_contradicted: bool = False,
                  now: datetime | None = None) -> str:
    """The whole page as one string: inline CSS, JS and SVG only, nothing fetched from anywhere."""
    tracks = load_tracks(conn, since=since, only_contradicted=only_contradicted)
    now = now or datetime.now(timezone.utc)
    # a claim is drawn on its own track and on the track of each contradiction it is evidence of (a
    # peace-deal denial against ceasefire talks): it is counted once, as the warehouse holds it once
    placements = Counter(c["claim_id"] for t in tracks for c in t.claims)
    n_claims = len(placements)
    on_two = sum(1 for n in placements.values() if n > 1)
    n_contra = sum(len(t.contradictions) for t in tracks)
    statuses = Counter(k["alert_status"] for t in tracks for k in t.contradictions)
    alerts_said = ", ".join(f"{statuses[s]} {w}" for s, w in (("mailed", "mailed"), ("low_confidence", "low-confidence"),
                                                             ("dismissed", "dismissed"), ("pending", "pending"))
                            if statuses[s])
    body = []
    for i, t in enumerate(tracks):
        srcs = sorted({c["source"] for c in t.claims})
        body.append(
            f'<section class="track" id="track-{i}" data-label="{_e(t.label)}" data-sources="{_e(" | ".join(srcs))}">'
            f"<h2>{_e(t.label)}</h2>"
            f'<p class="muted">{_plural(len(t.claims), "claim")} by {_plural(len({c["source_key"] for c in t.claims}), "source")} · '
            f"{_plural(len(t.contradictions), 'contradiction')}</p>"
            + render_chart(t, i) + render_table(t) + "</section>"
        )
    if not tracks:
        body.append('<p class="empty">No claims in the warehouse yet.</p>')
    scope = f" since {_e(_day(since))}" if since else ""
    logger.info("report: %s tracks, %s claims, %s contradictions", len(tracks), n_claims, n_contra)
    # bidi controls from feeds shown, not obeyed, anywhere on the page (chart labels and tooltips too)
    return show_bidi_controls(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>talkwatch report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>talkwatch — what each source claimed about the talks</h1>"
        f'<p class="muted">Generated {_e(now.strftime("%Y-%m-%d %H:%M UTC"))}{scope}: '
        f"{_plural(len(tracks), 'track')}, {_plural(n_claims, 'claim')}"
        + (f" ({on_two} drawn on more than one track: a contradiction joins "
           f"{'it' if on_two == 1 else 'them'} to another)" if on_two else "")
        + f", {_plural(n_contra, 'contradiction')}"
        + (f" ({alerts_said})" if alerts_said else "") + ".</p>"
        '<p class="summary"><span id="tw-js-summary">(enable JavaScript for the index)</span></p>'
        '<p><input id="tw-filter" type="search" placeholder="filter tracks by party or source"></p>'
        '<ul id="tw-index"></ul>'
        + "".join(body)
        + f"<script>{_JS}</script></body></html>\n"
    )


def write_report(conn, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Render and write the report atomically; returns the path."""
    path = Path(path)
    page = render_report(conn, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("report written to %s", path)
    return path
