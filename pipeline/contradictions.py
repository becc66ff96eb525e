"""Contradiction detection (SPEC section 5): new claims joined to the warehouse's claims, set-based, incrementally.

Design
------
``detect`` runs in one transaction under a transaction-level advisory lock, so concurrent
detections serialise. It snapshots the unchecked claims (``checked_at is null``) into a
temporary table and joins each to the claims of the same track (``parties_key``) whose status
conflicts (``talkwatch.conflict_rules``), whose topic is compatible (``talkwatch.topic_compat``,
which also names the track's topic family), whose ``source_key`` differs, and whose period
overlaps. Each new claim becomes one probe per status it conflicts with, and each probe is one
index range scan (the partial indexes of migration 0004): only the rows of one track with that
status and (for "now" claims) a publication date within the window are read, so the work grows
with the number of new claims and their partners, not with the size of the warehouse. A pair of
two new claims is counted once.

The steps after that work on temporary tables, each analysed so that the planner sees their real
sizes: the pairs (each (track, source pair) numbered, so that later sorts compare integers), the
stored ``now:`` contradictions of their keys, each pair's period key, one head per contradiction,
the upsert, the evidence. JIT is off for the transaction: compiling these statements costs more
than running them.

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

The contradiction row is upserted (never a duplicate: the key is unique); a new row's head
(``claim_a_id``, ``claim_b_id``, ``rule``) is its earliest pair, so the two claims an alert shows
side by side always conflict under the rule it names. Both claims of every pair are attached as
evidence (``on conflict do nothing``) on their source's side, the evidence
window is widened, and the snapshot of new claims is marked checked. Re-running with no new
claims does nothing.
"""

from __future__ import annotations

import logging
import time
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
    # for benchmarks and logs: conflicting pairs found, seconds per step
    pairs: int = field(default=0, compare=False)
    timings: dict[str, float] = field(default_factory=dict, compare=False)


_SNAPSHOT_NEW = """
create temp table tw_new on commit drop as
select c.claim_id, c.parties, c.parties_key, c.status, c.topic, c.source_key, c.event_time, c.published_at,
       (c.published_at at time zone 'UTC')::date as published_on
  from talkwatch.claims c
 where c.checked_at is null
"""

# One probe per new claim and status it conflicts with (at most six), with the "now" window as a
# timestamp range: published within WINDOW_DAYS calendar days (UTC) of the new claim's day is
# exactly published_at in [day - WINDOW_DAYS, day + WINDOW_DAYS + 1) at UTC midnight. Each probe is
# then one range scan of claims_now_period_idx or claims_dated_period_idx (0004_detection_indexes.sql).
_PROBES = """
create temp table tw_probe on commit drop as
select n.claim_id as new_id, n.parties, n.parties_key, n.topic, n.source_key, n.event_time, n.published_at,
       r.status_b, r.rule,
       ((n.published_on - %(window)s)::timestamp at time zone 'UTC') as from_at,
       ((n.published_on + %(window)s + 1)::timestamp at time zone 'UTC') as until_at
  from tw_new n
  join talkwatch.conflict_rules r on r.status_a = n.status
"""

# Every conflicting pair that involves a new claim, once, with what grouping needs of both claims.
# The three branches are the period rule: "now" claims within the window, and the two directions
# of event_time containment.
_PAIRS = """
create temp table tw_pairs on commit drop as
with matches as (
    select p.new_id, p.parties, p.parties_key, p.topic as new_topic, p.source_key as new_source_key,
           p.published_at as new_at, p.rule, c.claim_id as old_id, c.checked_at is null as old_unchecked,
           c.topic as old_topic, c.source_key as old_source_key, c.published_at as old_at, null::text as event_period
      from tw_probe p
      join talkwatch.claims c
        on c.parties_key = p.parties_key
       and c.status = p.status_b
       and c.event_time is null
       and c.published_at >= p.from_at
       and c.published_at < p.until_at
     where p.event_time is null
       and c.source_key <> p.source_key
    union all
    -- the other claim's event_time lies within the new claim's (the new one is the shorter): a
    -- prefix range per probe (offset 0 keeps it a per-probe index scan, never a merge over every
    -- dated claim)
    select p.new_id, p.parties, p.parties_key, p.topic, p.source_key, p.published_at, p.rule,
           c.claim_id, c.checked_at is null, c.topic, c.source_key, c.published_at, p.event_time
      from tw_probe p
     cross join lateral (
        select c.claim_id, c.checked_at, c.topic, c.source_key, c.published_at
          from talkwatch.claims c
         where c.parties_key = p.parties_key
           and c.status = p.status_b
           and c.event_time is not null
           and (c.event_time collate "C") >= (p.event_time collate "C")
           and (c.event_time collate "C") < ((p.event_time || '.') collate "C")
           and c.source_key <> p.source_key
           and starts_with(c.event_time, p.event_time)
        offset 0
     ) c
     where p.event_time is not null
    union all
    -- the other claim's event_time strictly contains the new claim's (the other is the shorter)
    select p.new_id, p.parties, p.parties_key, p.topic, p.source_key, p.published_at, p.rule,
           c.claim_id, c.checked_at is null, c.topic, c.source_key, c.published_at, c.event_time
      from tw_probe p
     cross join lateral (
        select c.claim_id, c.checked_at, c.topic, c.source_key, c.published_at, c.event_time
          from talkwatch.claims c
         where c.parties_key = p.parties_key
           and c.status = p.status_b
           and c.event_time is not null
           and (c.event_time collate "C") = any (array[left(p.event_time, 4), left(p.event_time, 7)] collate "C")
           and length(c.event_time) < length(p.event_time)
           and c.source_key <> p.source_key
        offset 0
     ) c
     where p.event_time is not null
)
select row_number() over () as pair_id,
       -- one number per (track, source pair), so that later steps group and sort integers, not text;
       -- ranked by a hash of the key first (cheap comparisons), then by the key itself (exact)
       dense_rank() over (order by hashtextextended(m.track_key, 0), m.track_key) as key_no,
       m.rule, m.family, m.event_period, m.parties, m.parties_key,
       case when m.new_source_key < m.old_source_key then m.new_id else m.old_id end as claim_a_id,
       case when m.new_source_key < m.old_source_key then m.old_id else m.new_id end as claim_b_id,
       least(m.new_source_key, m.old_source_key) as source_key_a,
       greatest(m.new_source_key, m.old_source_key) as source_key_b,
       least(m.new_at, m.old_at) as lo_at,
       greatest(m.new_at, m.old_at) as hi_at,
       (least(m.new_at, m.old_at) at time zone 'UTC')::date as lo_on,
       (greatest(m.new_at, m.old_at) at time zone 'UTC')::date as hi_on
  from (
    select m.*, t.family,
           (m.parties_key || ' ' || t.family || ' ' || least(m.new_source_key, m.old_source_key) || ' '
            || greatest(m.new_source_key, m.old_source_key)) collate "C" as track_key
      from matches m
      join talkwatch.topic_compat t on t.topic_a = m.new_topic and t.topic_b = m.old_topic
  ) m
 -- a pair of two new claims is found from both ends: keep it from the lower claim_id
 where not (m.old_unchecked and m.old_id < m.new_id
            and exists (select 1 from tw_new x where x.claim_id = m.old_id))
"""

# The now: contradictions stored for the keys of this night's "now" pairs: an index lookup per key
# (contradictions_lookup_idx), whatever the size of the table.
_CANDIDATES = """
create temp table tw_candidates on commit drop as
select w.key_no, k.contradiction_id, k.period_key, k.first_evidence_at,
       (k.first_evidence_at at time zone 'UTC')::date as first_on,
       (k.last_evidence_at at time zone 'UTC')::date as last_on
  from (select distinct on (p.key_no) p.key_no, p.parties_key, p.family, p.source_key_a, p.source_key_b
          from tw_pairs p
         where p.event_period is null
         order by p.key_no) w
 cross join lateral (
    select k.contradiction_id, k.period_key, k.first_evidence_at, k.last_evidence_at
      from talkwatch.contradictions k
     where k.parties_key = w.parties_key
       and k.topic_family = w.family
       and k.source_key_a = w.source_key_a
       and k.source_key_b = w.source_key_b
       and k.period_key like 'now:%%'
    offset 0
 ) k
"""

# Each pair's period_key: its event_time period; or, for a "now" pair, the earliest existing now:
# contradiction of its key whose evidence window overlaps the pair's dates; or, for the rest, the
# first day of its island (the pairs of one key within WINDOW_DAYS of each other).
_PERIODS = """
create temp table tw_keyed on commit drop as
with existing as (
    select distinct on (p.pair_id) p.pair_id, c.period_key
      from tw_pairs p
      join tw_candidates c on c.key_no = p.key_no
     where p.event_period is null
       and c.first_on - %(window)s <= p.hi_on
       and c.last_on + %(window)s >= p.lo_on
     order by p.pair_id, c.first_evidence_at, c.contradiction_id
),
ordered as (
    select p.pair_id, p.key_no, p.lo_on, p.hi_on, p.claim_a_id, p.claim_b_id,
           max(p.hi_on) over (
               partition by p.key_no
               order by p.lo_on, p.hi_on, p.claim_a_id, p.claim_b_id
               rows between unbounded preceding and 1 preceding
           ) as prev_hi_on
      from tw_pairs p
     where p.event_period is null
       and not exists (select 1 from existing e where e.pair_id = p.pair_id)
),
numbered as (
    select o.*,
           sum(case when o.prev_hi_on is null or o.lo_on > o.prev_hi_on + %(window)s then 1 else 0 end) over (
               partition by o.key_no
               order by o.lo_on, o.hi_on, o.claim_a_id, o.claim_b_id
           ) as island_no
      from ordered o
),
islands as (
    select n.pair_id,
           'now:' || to_char(min(n.lo_on) over (partition by n.key_no, n.island_no), 'YYYY-MM-DD') as period_key
      from numbered n
)
select p.*, coalesce(p.event_period, e.period_key, i.period_key) as period_key
  from tw_pairs p
  left join existing e on e.pair_id = p.pair_id
  left join islands i on i.pair_id = p.pair_id
"""

# One row per contradiction key: the earliest pair is its head (claims and rule), and the pairs'
# dates make its evidence window.
_HEADS = """
create temp table tw_heads on commit drop as
select distinct on (p.key_no, p.period_key collate "C")
       p.key_no, p.period_key, p.parties, p.parties_key, p.family, p.source_key_a, p.source_key_b,
       p.claim_a_id, p.claim_b_id, p.rule,
       min(p.lo_at) over w as first_at,
       max(p.hi_at) over w as last_at
  from tw_keyed p
window w as (partition by p.key_no, p.period_key collate "C")
 order by p.key_no, p.period_key collate "C", p.lo_at, p.hi_at, p.claim_a_id, p.claim_b_id
"""

# Upsert the heads; each stored contradiction's id is mapped back to its (key_no, period_key).
_UPSERT_CONTRADICTIONS = """
create temp table tw_contra on commit drop as
with upserted as (
    insert into talkwatch.contradictions as k
        (parties, parties_key, topic_family, period_key, source_key_a, source_key_b,
         claim_a_id, claim_b_id, rule, first_evidence_at, last_evidence_at, run_id)
    select parties, parties_key, family, period_key, source_key_a, source_key_b,
           claim_a_id, claim_b_id, rule, first_at, last_at, %(run_id)s
      from tw_heads
    on conflict (parties_key, topic_family, period_key, source_key_a, source_key_b) do update
       set first_evidence_at = least(k.first_evidence_at, excluded.first_evidence_at),
           last_evidence_at = greatest(k.last_evidence_at, excluded.last_evidence_at)
    returning k.contradiction_id, (k.xmax = 0) as created, k.parties_key, k.topic_family, k.period_key,
              k.source_key_a, k.source_key_b
)
select h.key_no, h.period_key, u.contradiction_id, u.created
  from upserted u
  join tw_heads h
    on h.parties_key = u.parties_key
   and h.family = u.topic_family
   and h.period_key = u.period_key
   and h.source_key_a = u.source_key_a
   and h.source_key_b = u.source_key_b
"""

# both claims of every pair, on their source's side; what is already attached stays as it is
_ATTACH_EVIDENCE = """
insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side, run_id)
select e.contradiction_id, e.claim_id, e.side, %(run_id)s::bigint
  from (
    select distinct k.contradiction_id, s.claim_id, s.side
      from tw_keyed p
      join tw_contra k on k.key_no = p.key_no and k.period_key = p.period_key
     cross join lateral (values (p.claim_a_id, 'a'), (p.claim_b_id, 'b')) as s (claim_id, side)
  ) e
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
    timings = result.timings

    def step(cur, name: str, query: str) -> int:
        t0 = time.perf_counter()
        cur.execute(query, params)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return cur.rowcount

    n_pairs = 0
    with transaction(conn) as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (DETECT_LOCK,))
        # the night's sorts and hashes (tens of thousands of pairs) stay in memory
        cur.execute("set local work_mem = '64MB'")
        # JIT compiling these plans costs more than running them (seconds on a 5,000-claim night)
        cur.execute("set local jit = off")
        result.claims_checked = step(cur, "snapshot", _SNAPSHOT_NEW)
        if result.claims_checked == 0:
            logger.info("contradiction detection: no new claims")
            return result
        step(cur, "snapshot", "alter table tw_new add primary key (claim_id)")
        step(cur, "snapshot", "analyze tw_new")
        step(cur, "pairs", _PROBES)
        step(cur, "pairs", "analyze tw_probe")
        n_pairs = result.pairs = step(cur, "pairs", _PAIRS)
        if n_pairs:
            step(cur, "pairs", "analyze tw_pairs (pair_id, key_no, event_period)")
            step(cur, "periods", _CANDIDATES)
            step(cur, "periods", "analyze tw_candidates")
            step(cur, "periods", _PERIODS)
            step(cur, "upsert", _HEADS)
            step(cur, "upsert", "analyze tw_heads")
            step(cur, "upsert", _UPSERT_CONTRADICTIONS)
            step(cur, "upsert", "analyze tw_contra")
            cur.execute("select contradiction_id from tw_contra where created order by contradiction_id")
            result.new_contradiction_ids = [row[0] for row in cur.fetchall()]
            result.evidence_attached = step(cur, "evidence", _ATTACH_EVIDENCE)
        step(cur, "mark_checked", _MARK_CHECKED)
    logger.info(
        "contradiction detection: %s new claims, %s conflicting pairs, %s new contradictions, "
        "%s evidence attached (%s)",
        result.claims_checked,
        n_pairs,
        len(result.new_contradiction_ids),
        result.evidence_attached,
        ", ".join(f"{k} {v:.3f} s" for k, v in timings.items()),
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
