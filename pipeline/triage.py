"""Analyst triage: confirm or dismiss a contradiction, and export the decisions as labelled examples."""

from __future__ import annotations

import logging
from datetime import date, datetime

import psycopg2

from pipeline.warehouse import transaction

logger = logging.getLogger(__name__)

# the CLI's verbs and the decisions they record (talkwatch.contradiction_triage.decision)
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}
MAX_NOTE_CHARS = 2000


class TriageError(ValueError):
    """A decision the warehouse refused (no such contradiction, a bad decision, a note too long)."""


def decide(conn, contradiction_id: int, decision: str, note: str | None = None) -> dict:
    """Record DECISION ('confirmed' or 'dismissed') on a contradiction through the analysts' own function,
    analytics.triage_contradiction, so that the CLI and an analyst's SQL take one path; returns the row."""
    try:
        with transaction(conn) as cur:
            cur.execute("select * from analytics.triage_contradiction(%s, %s, %s)",
                        (int(contradiction_id), decision, note))
            names = [d.name for d in cur.description]
            row = dict(zip(names, cur.fetchone(), strict=True))
    except (psycopg2.DataError, psycopg2.errors.NoDataFound, psycopg2.errors.InvalidParameterValue) as exc:
        raise TriageError(exc.diag.message_primary or str(exc).strip()) from exc
    logger.info("contradiction %s %s by %s", row["contradiction_id"], row["decision"], row["decided_by"])
    return row


# --------------------------------------------------------------------------- export

_DECISIONS_SQL = """
select t.contradiction_id, t.decision, t.note, t.decided_by, t.decided_at, k.claim_a_id, k.claim_b_id
  from talkwatch.contradiction_triage t
  join talkwatch.contradictions k on k.contradiction_id = t.contradiction_id
 order by t.contradiction_id
"""

_CLAIMS_SQL = """
select c.claim_id, c.article_id, c.parties, c.status, c.topic, c.source, c.source_key, c.hedged,
       c.event_time, c.evidence
  from talkwatch.claims c
 where c.claim_id = any (%s)
"""

_ARTICLES_SQL = """
select a.article_id, a.outlet, a.url, a.published_at, a.title, a.body
  from talkwatch.articles a
 where a.article_id = any (%s)
 order by a.article_id
"""


def article_ref(article_id: int) -> str:
    return f"talkwatch-article-{int(article_id)}"


def _iso(value):
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _gold_claim(row: dict) -> dict:
    """A warehouse claim in the gold format (SPEC §6); source_id is the warehouse's source_key."""
    return {
        "parties": list(row["parties"]), "status": row["status"], "topic": row["topic"], "source": row["source"],
        "source_aliases": [], "source_id": row["source_key"], "hedged": bool(row["hedged"]),
        "event_time": row["event_time"], "evidence": row["evidence"],
    }


def feedback_examples(conn) -> list[dict]:
    """Every triage decision as labelled examples, one article a line in the gold format (SPEC §6).

    For each triaged contradiction, the two claims it was detected on (its head claims) and their articles:
    - confirmed: both claims go into their articles' `claims`, and the pair into `conflicts` (on the line of
      side a's article, as derive_conflicts.py places a pair), so the lines read as gold;
    - dismissed: the pair goes into `dismissed_conflicts` on side a's article (each claim in the gold format
      with its `article`): a negative example, at least one of the two is misread or they do not conflict.
    Every line lists its decisions in `triage` (contradiction, decision, note, who, when) and says
    `"labels": "triage"`: its `claims` are the ones analysts confirmed, not the article's every claim, so
    the lines are training examples, not a complete gold file to score against.
    """
    with conn.cursor() as cur:
        cur.execute(_DECISIONS_SQL)
        names = [d.name for d in cur.description]
        decisions = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        claim_ids = sorted({d[k] for d in decisions for k in ("claim_a_id", "claim_b_id")})
        cur.execute(_CLAIMS_SQL, (claim_ids,))
        names = [d.name for d in cur.description]
        claims = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        cur.execute(_ARTICLES_SQL, (sorted({c["article_id"] for c in claims.values()}),))
        names = [d.name for d in cur.description]
        articles = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    conn.commit()

    lines: dict[int, dict] = {}
    for aid, a in articles.items():
        lines[aid] = {
            "id": article_ref(aid), "outlet": a["outlet"], "url": a["url"], "published": _iso(a["published_at"]),
            "title": a["title"], "text": a["body"], "labels": "triage", "claims": [], "conflicts": [],
            "dismissed_conflicts": [], "triage": [],
        }
    index: dict[int, str] = {}  # claim_id -> "ARTICLE#i" once placed among an article's claims

    def ref(claim_id: int) -> str:
        if claim_id not in index:
            c = claims[claim_id]
            line = lines[c["article_id"]]
            index[claim_id] = f"{line['id']}#{len(line['claims'])}"
            line["claims"].append(_gold_claim(c))
        return index[claim_id]

    for d in decisions:
        a, b = claims[d["claim_a_id"]], claims[d["claim_b_id"]]
        record = {"contradiction_id": d["contradiction_id"], "decision": d["decision"], "note": d["note"],
                  "decided_by": d["decided_by"], "decided_at": _iso(d["decided_at"])}
        for aid in {a["article_id"], b["article_id"]}:
            lines[aid]["triage"].append(record)
        if d["decision"] == "confirmed":
            lines[a["article_id"]]["conflicts"].append({"a": ref(a["claim_id"]), "b": ref(b["claim_id"])})
        else:
            lines[a["article_id"]]["dismissed_conflicts"].append({
                "contradiction_id": d["contradiction_id"], "note": d["note"],
                "a": {"article": article_ref(a["article_id"]), **_gold_claim(a)},
                "b": {"article": article_ref(b["article_id"]), **_gold_claim(b)},
            })
    return [lines[aid] for aid in sorted(lines)]
