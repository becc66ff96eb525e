"""Contradiction detection (SPEC section 5): new claims joined to the warehouse's claims, set-based, incrementally.

Design
------
``detect`` runs in one transaction holding the row lock of ``talkwatch.pipeline_locks`` 'detect'
(migration 0009; a lock analysts cannot take, unlike an advisory key), so concurrent detections
serialise; a detection waits at most ``DETECT_LOCK_TIMEOUT`` seconds for another to finish. It takes the claims of ``talkwatch.detection_queue`` (filled by a trigger
on claims; migration 0007) into a temporary table, deleting them from the queue in the same
transaction (a failed detection leaves the queue as it was; a claim committed meanwhile waits for
the next detection), and joins each to the claims of the same track (``parties_key``) whose status
conflicts (``talkwatch.conflict_rules``), whose topic is compatible (``talkwatch.topic_compat``,
which also names the track's topic family), whose ``source_key`` differs, and whose period
overlaps. Each new claim becomes one probe per status it conflicts with, and each probe is one
index range scan (the partial indexes of migration 0004): only the rows of one track with that
status and (for "now" claims) a publication date within the window are read, so the work grows
with the number of new claims and their partners, not with the size of the warehouse. A pair of
two new claims is counted once.

The steps after that work on temporary tables, each analysed (on a small sample) so that the
planner sees their real sizes: the pairs, each with a number for its key (a 64-bit hash of the
key's text, checked for collisions), so that the later steps group and join integers; the keys;
the spans (key, first day, last day) of the "now" pairs, on which periods are decided (a quarter
as many rows as pairs); the stored ``now:`` contradictions of the keys; one group per (key,
period) with its stored contradiction where there is one; each pair's group; the new
contradictions; the evidence. JIT is off for the transaction: compiling these statements costs
more than running them. A busy night (5,000 new claims, 84,000 conflicting pairs, 30,000 new
evidence rows; bench/bench_contradictions.py) takes about 2 s against a million stored claims on
this project's 2-core VM.

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

A group with no stored contradiction becomes one (never a duplicate: the key is unique); a new
row's head (``claim_a_id``, ``claim_b_id``, ``rule``) is its earliest pair, so the two claims an
alert shows side by side always conflict under the rule it names. A stored contradiction's evidence
window is widened where tonight's pairs reach beyond it. Both claims of every pair are attached as
evidence on their source's side, unless already attached. Re-running with no new claims does
nothing.

Confidence (0010_alert_confidence.sql, sql/README.md "Confidence"): a statement trigger on the evidence
table queues every contradiction that gained evidence; ``refresh_confidence`` recomputes the queued ones
from their two sides' claims and independent witnesses, in a transaction of its own right after
detection (and the alert run calls it before deciding what to mail). Attaching evidence never lowers a
confidence. Recomputing inside detection's transaction doubled a busy night's detection (bench/README.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg2.errors

from pipeline.warehouse import WarehouseError, transaction

logger = logging.getLogger(__name__)

DETECT_LOCK_TIMEOUT = 600.0  # seconds a detection waits for another one (a busy night's takes seconds)
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
create temp table tw_new (
    claim_id      bigint primary key,
    parties_key   text not null,
    status        text not null,
    topic         text not null,
    source_key    text not null,
    event_time    text,
    published_at  timestamptz not null,
    published_on  date not null
) on commit drop
"""

# take the queue: what detection reads leaves the queue in the same transaction (a crash puts it back)
_TAKE_QUEUE = """
with taken as (
    delete from talkwatch.detection_queue returning claim_id
)
insert into tw_new
select c.claim_id, c.parties_key, c.status, c.topic, c.source_key, c.event_time, c.published_at,
       (c.published_at at time zone 'UTC')::date
  from taken t
  join talkwatch.claims c on c.claim_id = t.claim_id
"""

# One probe per new claim and status it conflicts with (at most six), with the "now" window as a
# timestamp range: published within WINDOW_DAYS calendar days (UTC) of the new claim's day is
# exactly published_at in [day - WINDOW_DAYS, day + WINDOW_DAYS + 1) at UTC midnight. Each probe is
# then one range scan of claims_now_period_idx or claims_dated_period_idx (0004_detection_indexes.sql).
_PROBES = """
create temp table tw_probe on commit drop as
select n.claim_id as new_id, n.parties_key, n.topic, n.source_key, n.event_time, n.published_at,
       r.status_b, r.rule,
       ((n.published_on - %(window)s)::timestamp at time zone 'UTC') as from_at,
       ((n.published_on + %(window)s + 1)::timestamp at time zone 'UTC') as until_at
  from tw_new n
  join talkwatch.conflict_rules r on r.status_a = n.status
"""

# Every conflicting pair that involves a new claim, once: its track (parties, topic family), its
# two sources in order (a < b) with their claims, its dates, and its event period when dated. The
# three branches are the period rule: "now" claims within the window, and the two directions of
# event_time containment.
_PAIRS = """
create temp table tw_pairs on commit drop as
with matches as (
    select p.new_id, p.parties_key, p.topic as new_topic, p.source_key as new_source_key,
           p.published_at as new_at, p.rule, c.claim_id as old_id, c.topic as old_topic,
           c.source_key as old_source_key, c.published_at as old_at, null::text as event_period
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
    select p.new_id, p.parties_key, p.topic, p.source_key, p.published_at, p.rule,
           c.claim_id, c.topic, c.source_key, c.published_at, p.event_time
      from tw_probe p
     cross join lateral (
        select c.claim_id, c.topic, c.source_key, c.published_at
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
    select p.new_id, p.parties_key, p.topic, p.source_key, p.published_at, p.rule,
           c.claim_id, c.topic, c.source_key, c.published_at, c.event_time
      from tw_probe p
     cross join lateral (
        select c.claim_id, c.topic, c.source_key, c.published_at, c.event_time
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
select hashtextextended(k.track_key, 0) as key_no, k.track_key, m.rule, m.event_period,
       case when m.new_source_key < m.old_source_key then m.new_id else m.old_id end as claim_a_id,
       case when m.new_source_key < m.old_source_key then m.old_id else m.new_id end as claim_b_id,
       least(m.new_at, m.old_at) as lo_at,
       greatest(m.new_at, m.old_at) as hi_at,
       (least(m.new_at, m.old_at) at time zone 'UTC')::date as lo_on,
       (greatest(m.new_at, m.old_at) at time zone 'UTC')::date as hi_on
  from matches m
  join talkwatch.topic_compat t on t.topic_a = m.new_topic and t.topic_b = m.old_topic
 -- the key of a contradiction: parties, family and the two sources in order (none holds a space)
 cross join lateral (
    select (m.parties_key || ' ' || t.family || ' ' || least(m.new_source_key, m.old_source_key) || ' '
            || greatest(m.new_source_key, m.old_source_key)) collate "C" as track_key
 ) k
 -- a pair of two new claims is found from both ends: keep it from the lower claim_id
 where not (m.old_id < m.new_id and exists (select 1 from tw_new x where x.claim_id = m.old_id))
"""

# One number per key (track and source pair), so that the later steps group and join integers, not
# texts: a 64-bit hash of the key text, computed with each pair. Two keys with one number would
# merge two contradictions; that is checked here (min = max per number), and should it ever happen,
# the keys are numbered exactly instead (_RENUMBER_KEYS). The key's parts get the database's
# collation back, so that the contradictions' indexes serve lookups by them.
_KEY_PARTS = """
       split_part(k.track_key, ' ', 1) collate "default" as parties_key,
       split_part(k.track_key, ' ', 2) collate "default" as family,
       split_part(k.track_key, ' ', 3) collate "default" as source_key_a,
       split_part(k.track_key, ' ', 4) collate "default" as source_key_b,"""

_KEYS = f"""
create temp table tw_keys on commit drop as
select k.key_no, k.track_key,{_KEY_PARTS}
       k.track_key <> k.other_key as collision
  from (
    select p.key_no, min(p.track_key) as track_key, max(p.track_key) as other_key
      from tw_pairs p
     group by p.key_no
  ) k
"""

_RENUMBER_KEYS = f"""
drop table tw_keys;
create temp table tw_keys on commit drop as
select row_number() over (order by k.track_key) as key_no, k.track_key,{_KEY_PARTS}
       false as collision
  from (select distinct p.track_key from tw_pairs p) k;
update tw_pairs p set key_no = k.key_no from tw_keys k where k.track_key = p.track_key;
"""


# A "now" pair's period depends only on its key and its two days, so periods are decided once per
# span (key, first day, last day): a busy night's pairs share a few days, there are a quarter as
# many spans as pairs.
_SPANS = """
create temp table tw_spans on commit drop as
select p.key_no, p.lo_on, p.hi_on, min(p.lo_at) as first_at, max(p.hi_at) as last_at
  from tw_pairs p
 where p.event_period is null
 group by p.key_no, p.lo_on, p.hi_on
"""

# The now: contradictions stored for the keys of this night's spans: an index lookup per key
# (contradictions_lookup_idx), whatever the size of the table.
_CANDIDATES = """
create temp table tw_candidates on commit drop as
select k.key_no, c.contradiction_id, c.period_key, c.first_evidence_at,
       (c.first_evidence_at at time zone 'UTC')::date as first_on,
       (c.last_evidence_at at time zone 'UTC')::date as last_on
  from tw_keys k
 cross join lateral (
    select c.contradiction_id, c.period_key, c.first_evidence_at, c.last_evidence_at
      from talkwatch.contradictions c
     where c.parties_key = k.parties_key
       and c.topic_family = k.family
       and c.source_key_a = k.source_key_a
       and c.source_key_b = k.source_key_b
       and c.period_key like 'now:%%'
    offset 0
 ) c
 where exists (select 1 from tw_spans s where s.key_no = k.key_no)
"""

# Each span's period_key: the earliest existing now: contradiction of its key whose evidence window
# overlaps the span's days; or, for the rest, the first day of its island (the spans of one key
# within WINDOW_DAYS of each other).
_SPAN_PERIODS = """
create temp table tw_span_periods on commit drop as
with existing as (
    select distinct on (s.key_no, s.lo_on, s.hi_on) s.key_no, s.lo_on, s.hi_on, c.period_key
      from tw_spans s
      join tw_candidates c on c.key_no = s.key_no
     where c.first_on - %(window)s <= s.hi_on
       and c.last_on + %(window)s >= s.lo_on
     order by s.key_no, s.lo_on, s.hi_on, c.first_evidence_at, c.contradiction_id
),
ordered as (
    select s.key_no, s.lo_on, s.hi_on,
           max(s.hi_on) over (
               partition by s.key_no order by s.lo_on, s.hi_on
               rows between unbounded preceding and 1 preceding
           ) as prev_hi_on
      from tw_spans s
     where not exists (
        select 1 from existing e where e.key_no = s.key_no and e.lo_on = s.lo_on and e.hi_on = s.hi_on
     )
),
numbered as (
    select o.*,
           sum(case when o.prev_hi_on is null or o.lo_on > o.prev_hi_on + %(window)s then 1 else 0 end) over (
               partition by o.key_no order by o.lo_on, o.hi_on
           ) as island_no
      from ordered o
)
select e.key_no, e.lo_on, e.hi_on, e.period_key
  from existing e
union all
select n.key_no, n.lo_on, n.hi_on,
       'now:' || to_char(min(n.lo_on) over (partition by n.key_no, n.island_no), 'YYYY-MM-DD')
  from numbered n
"""

# One row per contradiction (key, period) of tonight's pairs, numbered, with its evidence window and
# the stored contradiction's id where there is one (an index lookup of the unique key).
_GROUPS = """
create temp table tw_groups on commit drop as
select row_number() over () as group_no, g.key_no, g.period_key, g.first_at, g.last_at, c.contradiction_id,
       c.first_evidence_at, c.last_evidence_at
  from (
    select g.key_no, g.period_key, min(g.first_at) as first_at, max(g.last_at) as last_at
      from (
        select sp.key_no, sp.period_key, s.first_at, s.last_at
          from tw_span_periods sp
          join tw_spans s on s.key_no = sp.key_no and s.lo_on = sp.lo_on and s.hi_on = sp.hi_on
        union all
        select p.key_no, p.event_period, p.lo_at, p.hi_at
          from tw_pairs p
         where p.event_period is not null
      ) g
     group by g.key_no, g.period_key
  ) g
  join tw_keys k on k.key_no = g.key_no
  left join talkwatch.contradictions c
    on c.parties_key = k.parties_key
   and c.topic_family = k.family
   and c.period_key = g.period_key
   and c.source_key_a = k.source_key_a
   and c.source_key_b = k.source_key_b
"""

# each pair with its group
_PAIR_GROUPS = """
create temp table tw_pair_groups on commit drop as
select g.group_no, p.claim_a_id, p.claim_b_id, p.lo_at, p.hi_at, p.rule
  from tw_pairs p
  left join tw_span_periods sp on sp.key_no = p.key_no and sp.lo_on = p.lo_on and sp.hi_on = p.hi_on
  join tw_groups g on g.key_no = p.key_no and g.period_key = coalesce(p.event_period, sp.period_key)
"""

# New contradictions: the earliest pair of each new group is its head (claims and rule).
_INSERT_CONTRADICTIONS = """
create temp table tw_created on commit drop as
with heads as (
    select distinct on (p.group_no) p.group_no, p.claim_a_id, p.claim_b_id, p.rule
      from tw_pair_groups p
      join tw_groups g on g.group_no = p.group_no
     where g.contradiction_id is null
     order by p.group_no, p.lo_at, p.hi_at, p.claim_a_id, p.claim_b_id
),
inserted as (
    insert into talkwatch.contradictions
        (parties, parties_key, topic_family, period_key, source_key_a, source_key_b,
         claim_a_id, claim_b_id, rule, first_evidence_at, last_evidence_at, run_id)
    select a.parties, k.parties_key, k.family, g.period_key, k.source_key_a, k.source_key_b,
           h.claim_a_id, h.claim_b_id, h.rule, g.first_at, g.last_at, %(run_id)s
      from heads h
      join tw_groups g on g.group_no = h.group_no
      join tw_keys k on k.key_no = g.key_no
      join talkwatch.claims a on a.claim_id = h.claim_a_id
     order by h.group_no
    returning contradiction_id, claim_a_id, claim_b_id
)
-- a head pair (a, b) belongs to one group: the group of its claims
select h.group_no, i.contradiction_id
  from inserted i
  join heads h on h.claim_a_id = i.claim_a_id and h.claim_b_id = i.claim_b_id
"""

_GROUP_IDS = """
update tw_groups g
   set contradiction_id = c.contradiction_id
  from tw_created c
 where c.group_no = g.group_no
"""

# a stored contradiction's evidence window widens to tonight's pairs (only where it does)
_WIDEN_WINDOWS = """
update talkwatch.contradictions c
   set first_evidence_at = least(c.first_evidence_at, g.first_at),
       last_evidence_at = greatest(c.last_evidence_at, g.last_at)
  from tw_groups g
 where c.contradiction_id = g.contradiction_id
   and g.first_evidence_at is not null
   and (g.first_at < g.first_evidence_at or g.last_at > g.last_evidence_at)
"""

# both claims of every pair, on their source's side (a claim is on one side only: a side is a
# source); what is already attached stays as it is. Only an earlier claim in a stored contradiction
# can be attached already: a contradiction created tonight, or a claim of tonight, is inserted
# without looking (a plain insert is a third cheaper than an ON CONFLICT one, and the detection lock
# keeps other writers out; were that ever wrong, the primary key would fail the night loudly).
_ATTACH_EVIDENCE = """
insert into talkwatch.contradiction_evidence (contradiction_id, claim_id, side, run_id)
select g.contradiction_id, e.claim_id, e.side, %(run_id)s::bigint
  from (
    select p.group_no, p.claim_a_id as claim_id, 'a' as side from tw_pair_groups p group by p.group_no, p.claim_a_id
    union all
    select p.group_no, p.claim_b_id, 'b' from tw_pair_groups p group by p.group_no, p.claim_b_id
  ) e
  join tw_groups g on g.group_no = e.group_no
 where g.first_evidence_at is null
    or exists (select 1 from tw_new n where n.claim_id = e.claim_id)
    or not exists (
        select 1 from talkwatch.contradiction_evidence x
         where x.contradiction_id = g.contradiction_id and x.claim_id = e.claim_id
    )
"""


# the grouping statements in order, each with the temporary table it creates
_PERIOD_STEPS = (
    (_SPANS, "tw_spans"),
    (_CANDIDATES, "tw_candidates"),
    (_SPAN_PERIODS, "tw_span_periods"),
    (_GROUPS, "tw_groups"),
    (_PAIR_GROUPS, "tw_pair_groups"),
)


def detect(conn, *, run_id: int | None = None, lock_timeout: float = DETECT_LOCK_TIMEOUT) -> DetectResult:
    """Evaluate SPEC section 5 for the queued claims in one transaction; returns what changed.

    Waits at most LOCK_TIMEOUT seconds for another detection to finish, then raises WarehouseError.
    """
    params = {"window": WINDOW_DAYS, "run_id": run_id}
    conn.rollback()
    try:
        return _detect(conn, params, lock_timeout)
    except psycopg2.errors.LockNotAvailable as exc:
        raise WarehouseError(
            f"another contradiction detection held the detection lock for more than {lock_timeout:g} s; "
            "the claims stay queued for the next detection"
        ) from exc


def _detect(conn, params: dict, lock_timeout: float) -> DetectResult:
    result = DetectResult()
    timings = result.timings

    def step(cur, name: str, query: str) -> int:
        t0 = time.perf_counter()
        cur.execute(query, params)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return cur.rowcount

    with transaction(conn) as cur:
        cur.execute("select set_config('lock_timeout', %s, true)", (f"{max(1, round(lock_timeout * 1000))}ms",))
        cur.execute("select talkwatch.lock_detection()")
        cur.execute("set local lock_timeout to default")  # only the wait for the detection lock is bounded
        # the night's hashes and sorts (tens of thousands of pairs) stay in memory
        cur.execute("set local work_mem = '64MB'")
        # JIT compiling these plans costs more than running them (seconds on a 5,000-claim night)
        cur.execute("set local jit = off")
        # the temporary tables are analysed so that the planner knows their sizes; a small sample
        # (3,000 rows) tells it that much at a tenth of the default's cost
        cur.execute("set local default_statistics_target = 10")
        step(cur, "snapshot", _SNAPSHOT_NEW)
        result.claims_checked = step(cur, "snapshot", _TAKE_QUEUE)
        if result.claims_checked == 0:
            logger.info("contradiction detection: no new claims")
            return result
        step(cur, "snapshot", "analyze tw_new")
        step(cur, "pairs", _PROBES)
        step(cur, "pairs", "analyze tw_probe")
        result.pairs = step(cur, "pairs", _PAIRS)
        if result.pairs:
            step(cur, "pairs", _KEYS)
            if step(cur, "pairs", "select 1 from tw_keys where collision"):
                logger.warning("contradiction detection: two keys share a hash; numbering them exactly")
                step(cur, "pairs", _RENUMBER_KEYS)
            step(cur, "pairs", "analyze tw_keys")
            step(cur, "pairs", "analyze tw_pairs")
            for query, table in _PERIOD_STEPS:
                step(cur, "periods", query)
                step(cur, "periods", f"analyze {table}")
            step(cur, "contradictions", _INSERT_CONTRADICTIONS)
            step(cur, "contradictions", _GROUP_IDS)
            step(cur, "contradictions", _WIDEN_WINDOWS)
            cur.execute("select contradiction_id from tw_created order by contradiction_id")
            result.new_contradiction_ids = [row[0] for row in cur.fetchall()]
            result.evidence_attached = step(cur, "evidence", _ATTACH_EVIDENCE)
    logger.info(
        "contradiction detection: %s new claims, %s conflicting pairs, %s new contradictions, "
        "%s evidence attached (%s)",
        result.claims_checked,
        result.pairs,
        len(result.new_contradiction_ids),
        result.evidence_attached,
        ", ".join(f"{k} {v:.3f} s" for k, v in timings.items()),
    )
    return result


def refresh_confidence(conn) -> int:
    """Recompute the confidence of the contradictions whose evidence changed (talkwatch.confidence_queue) in
    one transaction; returns how many confidences changed. Idempotent: an empty queue changes nothing."""
    conn.rollback()
    t0 = time.perf_counter()
    with transaction(conn) as cur:
        cur.execute("set local work_mem = '64MB'")  # a busy night's evidence sorts in memory
        cur.execute("set local jit = off")
        cur.execute("select talkwatch.refresh_queued_confidence()")
        changed = cur.fetchone()[0]
    logger.info("contradiction confidence: %s changed (%.3f s)", changed, time.perf_counter() - t0)
    return int(changed)


# --------------------------------------------------------------------------- reading

_CLAIM_COLUMNS = """
    c.claim_id, c.article_id, a.url as article_url, a.title as article_title, c.published_at,
    c.parties, c.status, c.topic, c.source, c.source_org, c.source_key,
    coalesce(c.reported_by, a.outlet) as reported_by, c.mediator, c.venue, c.hedged, c.event_time,
    c.evidence, c.confidence
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
    "confidence",
)


def _iso(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _claim_dict(row) -> dict:
    d = {k: _iso(v) for k, v in zip(_CLAIM_KEYS, row, strict=True)}
    d["parties"] = list(d["parties"] or [])
    return d


def alert_status(row: dict) -> str:
    """What became of a contradiction's alert: `dismissed` by an analyst, `mailed`, `low_confidence` (the
    latest alert run held it back as under its threshold, and no evidence has lifted it since) or `pending`
    (the next alert run decides). analytics.contradictions.alert_status says the same."""
    if row.get("triage") == "dismissed":
        return "dismissed"
    if row.get("alerted_at"):
        return "mailed"
    held = row.get("alert_held_threshold")
    if held is not None and (row.get("confidence") or 0.0) < held:
        return "low_confidence"
    return "pending"


def list_contradictions(conn, *, only_pending: bool = False, ids: list[int] | None = None) -> list[dict]:
    """Stored contradictions with both first claims and all evidence, oldest first (JSON-serialisable).

    Each carries its confidence (and each side's, with its number of witnesses), the analyst's triage
    decision if any, and `alert_status` (see alert_status)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select k.contradiction_id, k.claim_a_id, k.claim_b_id, k.rule, k.parties, k.topic_family,
                   k.period_key, k.detected_at, k.alerted_at, k.first_evidence_at, k.last_evidence_at,
                   k.confidence, k.confidence_a, k.confidence_b, k.witnesses_a, k.witnesses_b,
                   k.alert_held_at, k.alert_held_threshold,
                   t.decision, t.note, t.decided_by, t.decided_at
              from talkwatch.contradictions k
              left join talkwatch.contradiction_triage t on t.contradiction_id = k.contradiction_id
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
    for (cid, a_id, b_id, rule, parties, family, period_key, detected_at, alerted_at, first_at, last_at,
         confidence, confidence_a, confidence_b, witnesses_a, witnesses_b, held_at, held_threshold,
         decision, note, decided_by, decided_at) in heads:
        row = {
            "contradiction_id": cid,
            "a": claims[a_id],
            "b": claims[b_id],
            "rule": rule,
            "parties": list(parties),
            "topic_family": family,
            "period_key": period_key,
            "first_evidence_at": _iso(first_at),
            "last_evidence_at": _iso(last_at),
            "detected_at": _iso(detected_at),
            "alerted_at": _iso(alerted_at),
            "confidence": confidence,
            "confidence_a": confidence_a,
            "confidence_b": confidence_b,
            "witnesses_a": witnesses_a,
            "witnesses_b": witnesses_b,
            "alert_held_at": _iso(held_at),
            "alert_held_threshold": held_threshold,
            "triage": decision,
            "triage_note": note,
            "triaged_by": decided_by,
            "triaged_at": _iso(decided_at),
            "evidence_a": evidence[cid]["a"],
            "evidence_b": evidence[cid]["b"],
        }
        row["alert_status"] = alert_status(row)
        out.append(row)
    return out
