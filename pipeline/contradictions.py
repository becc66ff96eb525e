"""Contradiction detection (SPEC section 5): new claims joined to the warehouse's claims, set-based, incrementally.

Design
------
``detect`` runs in one transaction under a transaction-level advisory lock, so concurrent
detections serialise. It snapshots the unchecked claims (``checked_at is null``) into a
temporary table and joins each to the claims of the same track (``parties_key``) whose status
conflicts (``talkwatch.conflict_rules``), whose topic is compatible (``talkwatch.topic_compat``,
which also names the track's topic family), whose ``source_key`` differs, and whose period
overlaps. Only the rows of one track with a conflicting status and (for "now" claims) a
publication date within the window are read, through the partial indexes of migration 0004: the
work grows with the number of new claims, not with the size of the warehouse. A pair of two new
claims is counted once.

Periods (SPEC section 5, rule 3), as ``eval/derive_conflicts.py`` decides them:

* both ``event_time`` null ("now"): the articles' publication *calendar dates* (UTC) are at
  most 7 days apart;
* both ``event_time`` set: one is a prefix of the other (``2024-08`` holds ``2024-08-17``);
* one null and one set: never.

Grouping: a contradiction is one pair of sources on one track in one period, keyed
``(parties_key, topic_family, period_key, source_key_a, source_key_b)`` with ``a < b``.

* An ``event_time`` pair's ``period_key`` is the containing (shorter) ``event_time``.
* A "now" pair has no fixed period, so its ``period_key`` is ``'now:'`` plus a date. The pair is
  attached to an existing ``now:`` contradiction of the same track and sources whose evidence
  window ``[first_evidence_at - 7 days, last_evidence_at + 7 days]`` (calendar dates) overlaps
  the pair's dates, the earliest such contradiction if several do. Otherwise it joins the new
  pairs of this run of the same key into islands (a pair starts a new island when its earliest
  date is more than 7 days after the latest date of the pairs before it) and each island
  becomes one contradiction with ``period_key = 'now:' + the island's earliest date``. So a
  story that runs for weeks stays one contradiction as long as each new claim falls within a
  week of its evidence, while the same two sources disagreeing again months later is a new one.

The contradiction row is upserted (never a duplicate: the key is unique), both claims of every
pair are attached as evidence (``on conflict do nothing``) on their source's side, the evidence
window is widened, and the snapshot of new claims is marked checked. Re-running with no new
claims does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from pipeline.warehouse import transaction

logger = logging.getLogger(__name__)

DETECT_LOCK = 727_011_003  # pg advisory lock key: one detection at a time
WINDOW_DAYS = 7


@dataclass
class DetectResult:
    claims_checked: int = 0
    new_contradiction_ids: list[int] = field(default_factory=list)
    evidence_attached: int = 0


_SNAPSHOT_NEW = """
create temp table tw_new on commit drop as
select c.claim_id, c.parties_key, c.status, c.topic, c.source_key, c.event_time, c.published_at,
       (c.published_at at time zone 'UTC')::date as published_on
  from talkwatch.claims c
 where c.checked_at is null
"""

# Every conflicting pair that involves a new claim, once. The three branches are the period rule:
# "now" claims within the window, and the two directions of event_time containment. Each branch
# is an index range scan per new claim (see 0004_detection_indexes.sql).
_PAIRS = """
create temp table tw_pairs on commit drop as
with now_matches as (
    select n.claim_id as new_id, c.claim_id as old_id, c.checked_at is null as old_unchecked,
           r.rule, t.family, null::text as event_period
      from tw_new n
      join talkwatch.conflict_rules r on r.status_a = n.status
      join talkwatch.claims c
        on c.parties_key = n.parties_key
       and c.status = r.status_b
       and c.event_time is null
       and c.published_at >= ((n.published_on - %(window)s)::timestamp at time zone 'UTC')
       and c.published_at < ((n.published_on + %(window)s + 1)::timestamp at time zone 'UTC')
      join talkwatch.topic_compat t on t.topic_a = n.topic and t.topic_b = c.topic
     where n.event_time is null
       and c.source_key <> n.source_key
       and abs((c.published_at at time zone 'UTC')::date - n.published_on) <= %(window)s
),
within_new as (
    -- the other claim's event_time lies within the new claim's (the new one is the shorter)
    select n.claim_id as new_id, c.claim_id as old_id, c.checked_at is null as old_unchecked,
           r.rule, t.family, n.event_time as event_period
      from tw_new n
      join talkwatch.conflict_rules r on r.status_a = n.status
      join talkwatch.claims c
        on c.parties_key = n.parties_key
       and c.status = r.status_b
       and c.event_time is not null
       and (c.event_time collate "C") >= (n.event_time collate "C")
       and (c.event_time collate "C") < ((n.event_time || '.') collate "C")
      join talkwatch.topic_compat t on t.topic_a = n.topic and t.topic_b = c.topic
     where n.event_time is not null
       and c.source_key <> n.source_key
       and starts_with(c.event_time, n.event_time)
),
around_new as (
    -- the other claim's event_time strictly contains the new claim's (the other is shorter)
    select n.claim_id as new_id, c.claim_id as old_id, c.checked_at is null as old_unchecked,
           r.rule, t.family, c.event_time as event_period
      from tw_new n
      join talkwatch.conflict_rules r on r.status_a = n.status
      join talkwatch.claims c
        on c.parties_key = n.parties_key
       and c.status = r.status_b
       and c.event_time is not null
       and (c.event_time collate "C") = any (array[left(n.event_time, 4), left(n.event_time, 7)] collate "C")
      join talkwatch.topic_compat t on t.topic_a = n.topic and t.topic_b = c.topic
     where n.event_time is not null
       and length(c.event_time) < length(n.event_time)
       and c.source_key <> n.source_key
),
matches as (
    select * from now_matches
    union all
    select * from within_new
    union all
    select * from around_new
),
once as (
    -- a pair of two new claims is found from both ends: keep it from the lower claim_id
    select m.*
      from matches m
     where not m.old_unchecked
        or m.old_id > m.new_id
        or not exists (select 1 from tw_new x where x.claim_id = m.old_id)
),
sided as (
    select o.rule, o.family, o.event_period,
           case when x.source_key < y.source_key then x.claim_id else y.claim_id end as claim_a_id,
           case when x.source_key < y.source_key then y.claim_id else x.claim_id end as claim_b_id,
           x.parties_key, x.parties,
           least(x.source_key, y.source_key) as source_key_a,
           greatest(x.source_key, y.source_key) as source_key_b,
           least(x.published_at, y.published_at) as lo_at,
           greatest(x.published_at, y.published_at) as hi_at
      from once o
      join talkwatch.claims x on x.claim_id = o.new_id
      join talkwatch.claims y on y.claim_id = o.old_id
)
select s.*,
       (s.lo_at at time zone 'UTC')::date as lo_on,
       (s.hi_at at time zone 'UTC')::date as hi_on,
       s.event_period as period_key
  from sided s
"""

# "now" pairs: attach to the earliest existing now: contradiction whose evidence window overlaps.
_MATCH_EXISTING_NOW = """
update tw_pairs p
   set period_key = k.period_key
  from (
    select p2.ctid as pair_ctid,
           (select k2.period_key
              from talkwatch.contradictions k2
             where k2.parties_key = p2.parties_key
               and k2.topic_family = p2.family
               and k2.source_key_a = p2.source_key_a
               and k2.source_key_b = p2.source_key_b
               and k2.period_key like 'now:%%'
               and (k2.first_evidence_at at time zone 'UTC')::date - %(window)s <= p2.hi_on
               and (k2.last_evidence_at at time zone 'UTC')::date + %(window)s >= p2.lo_on
             order by k2.first_evidence_at, k2.contradiction_id
             limit 1) as period_key
      from tw_pairs p2
     where p2.event_period is null
  ) k
 where p.ctid = k.pair_ctid
   and k.period_key is not null
"""

# the remaining "now" pairs: islands of pairs within the window of each other, one per new contradiction
_ISLANDS_NOW = """
with ordered as (
    select p.ctid as pair_ctid, p.parties_key, p.family, p.source_key_a, p.source_key_b, p.lo_on,
           max(p.hi_on) over (
               partition by p.parties_key, p.family, p.source_key_a, p.source_key_b
               order by p.lo_on, p.hi_on, p.claim_a_id, p.claim_b_id
               rows between unbounded preceding and 1 preceding
           ) as prev_hi_on,
           p.hi_on, p.claim_a_id, p.claim_b_id
      from tw_pairs p
     where p.event_period is null
       and p.period_key is null
),
numbered as (
    select o.*,
           sum(case when o.prev_hi_on is null or o.lo_on > o.prev_hi_on + %(window)s then 1 else 0 end) over (
               partition by o.parties_key, o.family, o.source_key_a, o.source_key_b
               order by o.lo_on, o.hi_on, o.claim_a_id, o.claim_b_id
           ) as island_no
      from ordered o
),
keyed as (
    select n.pair_ctid,
           'now:' || to_char(min(n.lo_on) over (
               partition by n.parties_key, n.family, n.source_key_a, n.source_key_b, n.island_no
           ), 'YYYY-MM-DD') as period_key
      from numbered n
)
update tw_pairs p
   set period_key = k.period_key
  from keyed k
 where p.ctid = k.pair_ctid
"""

_UPSERT_CONTRADICTIONS = """
with keyed as (
    select p.*,
           min(p.lo_at) over w as first_at,
           max(p.hi_at) over w as last_at,
           row_number() over (w order by p.lo_at, p.hi_at, p.claim_a_id, p.claim_b_id) as pair_no
      from tw_pairs p
    window w as (partition by p.parties_key, p.family, p.period_key, p.source_key_a, p.source_key_b)
)
insert into talkwatch.contradictions as k
    (parties, parties_key, topic_family, period_key, source_key_a, source_key_b,
     claim_a_id, claim_b_id, rule, first_evidence_at, last_evidence_at, run_id)
select parties, parties_key, family, period_key, source_key_a, source_key_b,
       claim_a_id, claim_b_id, rule, first_at, last_at, %(run_id)s
  from keyed
 where pair_no = 1
on conflict (parties_key, topic_family, period_key, source_key_a, source_key_b) do update
   set first_evidence_at = least(k.first_evidence_at, excluded.first_evidence_at),
       last_evidence_at = greatest(k.last_evidence_at, excluded.last_evidence_at)
returning k.contradiction_id, (k.xmax = 0) as created
"""

_ATTACH_EVIDENCE = """
insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side, run_id)
select distinct k.contradiction_id, e.claim_id, e.side, %(run_id)s::bigint
  from tw_pairs p
  join talkwatch.contradictions k
    on k.parties_key = p.parties_key
   and k.topic_family = p.family
   and k.period_key = p.period_key
   and k.source_key_a = p.source_key_a
   and k.source_key_b = p.source_key_b
 cross join lateral (values (p.claim_a_id, 'a'), (p.claim_b_id, 'b')) as e (claim_id, side)
on conflict (contradiction_id, claim_id) do nothing
"""

_MARK_CHECKED = """
update talkwatch.claims c
   set checked_at = now()
  from tw_new n
 where c.claim_id = n.claim_id
   and c.checked_at is null
"""


def detect(conn, *, run_id: int | None = None) -> DetectResult:
    """Evaluate SPEC section 5 for the unchecked claims in one transaction; returns what changed."""
    params = {"window": WINDOW_DAYS, "run_id": run_id}
    conn.rollback()
    result = DetectResult()
    with transaction(conn) as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (DETECT_LOCK,))
        cur.execute(_SNAPSHOT_NEW)
        result.claims_checked = cur.rowcount
        if result.claims_checked == 0:
            logger.info("contradiction detection: no new claims")
            return result
        cur.execute("alter table tw_new add primary key (claim_id)")
        cur.execute("analyze tw_new")
        cur.execute(_PAIRS, params)
        n_pairs = cur.rowcount
        if n_pairs:
            cur.execute("analyze tw_pairs")
            cur.execute(_MATCH_EXISTING_NOW, params)
            cur.execute(_ISLANDS_NOW, params)
            cur.execute(_UPSERT_CONTRADICTIONS, params)
            rows = cur.fetchall()
            result.new_contradiction_ids = sorted(cid for cid, created in rows if created)
            cur.execute(_ATTACH_EVIDENCE, params)
            result.evidence_attached = cur.rowcount
        cur.execute(_MARK_CHECKED)
    logger.info(
        "contradiction detection: %s new claims, %s conflicting pairs, %s new contradictions, %s evidence attached",
        result.claims_checked,
        n_pairs,
        len(result.new_contradiction_ids),
        result.evidence_attached,
    )
    return result


# --------------------------------------------------------------------------- reading

_CLAIM_COLUMNS = """
    c.claim_id, c.article_id, a.url as article_url, a.title as article_title, c.published_at,
    c.parties, c.status, c.topic, c.source, c.source_org, c.source_key,
    coalesce(c.reported_by, a.outlet) as reported_by, c.mediator, c.venue, c.hedged, c.event_time,
    c.evidence
"""
_CLAIM_KEYS = (
    "claim_id",
    "article_id",
    "article_url",
    "article_title",
    "published_at",
    "parties",
    "status",
    "topic",
    "source",
    "source_org",
    "source_key",
    "reported_by",
    "mediator",
    "venue",
    "hedged",
    "event_time",
    "evidence",
)


def _iso(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _claim_dict(row) -> dict:
    d = {k: _iso(v) for k, v in zip(_CLAIM_KEYS, row, strict=True)}
    d["parties"] = list(d["parties"] or [])
    return d


def list_contradictions(conn, *, only_pending: bool = False, ids: list[int] | None = None) -> list[dict]:
    """Stored contradictions with both first claims and all evidence, oldest first (JSON-serialisable)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select k.contradiction_id, k.claim_a_id, k.claim_b_id, k.rule, k.parties, k.topic_family,
                   k.period_key, k.detected_at, k.alerted_at
              from talkwatch.contradictions k
             where (not %(only_pending)s or k.alerted_at is null)
               and (%(ids)s::bigint[] is null or k.contradiction_id = any (%(ids)s::bigint[]))
             order by k.contradiction_id
            """,
            {"only_pending": only_pending, "ids": list(ids) if ids is not None else None},
        )
        heads = cur.fetchall()
        if not heads:
            conn.commit()
            return []
        cids = [h[0] for h in heads]
        cur.execute(
            f"""
            select e.contradiction_id, e.side, {_CLAIM_COLUMNS}
              from talkwatch.contradiction_evidence e
              join talkwatch.claims c on c.claim_id = e.claim_id
              join talkwatch.articles a on a.article_id = c.article_id
             where e.contradiction_id = any (%s)
             order by e.contradiction_id, e.side, c.published_at, c.claim_id
            """,  # noqa: S608 - fixed column list
            (cids,),
        )
        evidence: dict[int, dict[str, list[dict]]] = {cid: {"a": [], "b": []} for cid in cids}
        for row in cur.fetchall():
            evidence[row[0]][row[1]].append(_claim_dict(row[2:]))
        first_ids = sorted({h[1] for h in heads} | {h[2] for h in heads})
        cur.execute(
            f"""
            select {_CLAIM_COLUMNS}
              from talkwatch.claims c
              join talkwatch.articles a on a.article_id = c.article_id
             where c.claim_id = any (%s)
            """,  # noqa: S608 - fixed column list
            (first_ids,),
        )
        claims = {row[0]: _claim_dict(row) for row in cur.fetchall()}
    conn.commit()
    out = []
    for cid, a_id, b_id, rule, parties, family, period_key, detected_at, alerted_at in heads:
        out.append(
            {
                "contradiction_id": cid,
                "a": claims[a_id],
                "b": claims[b_id],
                "rule": rule,
                "parties": list(parties),
                "topic_family": family,
                "period_key": period_key,
                "detected_at": _iso(detected_at),
                "alerted_at": _iso(alerted_at),
                "evidence_a": evidence[cid]["a"],
                "evidence_b": evidence[cid]["b"],
            }
        )
    return out
