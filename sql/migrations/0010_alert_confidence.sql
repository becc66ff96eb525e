-- 0010_alert_confidence: every claim carries the extractor's confidence, every contradiction a confidence
-- computed from its two sides' claims and their independent support; the alert run records what it held
-- back as below its threshold.
--
-- The formula (sql/README.md, "Confidence"):
--   claim      p = claims.confidence, or talkwatch.unscored_claim_confidence() (0.5) when the extractor
--              gave none (the rule-based extractor scores nothing);
--   witness    the claims of one side are grouped by witness: the outlet that printed them; one sentence
--              printed word for word by several outlets (wire copy) is one witness, the outlet that printed
--              it first.
--              A witness's strength is its strongest claim, and each further day on which it repeated the
--              side counts as half a witness more, at most two days more:
--              w = 1 - (1 - max p) ^ (1 + 0.5 * least(days - 1, 2));
--   side       believed unless every witness is wrong: s = 1 - prod(1 - w);
--   contradiction  both sides must be right: confidence = s_a * s_b, rounded to 4 decimals.
-- Attaching evidence never lowers a confidence. A statement trigger on contradiction_evidence queues every
-- contradiction whose evidence a statement adds or changes, whatever writes it (talkwatch.confidence_queue);
-- talkwatch.refresh_queued_confidence() recomputes the queued ones and empties the queue. The nightly job
-- calls it right after detection, and the alert run before it decides what to mail. It is a step of its
-- own, as detection_queue is for detection: recomputing inside detection's transaction doubled the
-- detection of a busy night (bench/README.md).

alter table talkwatch.claims
    add column confidence real check (confidence >= 0 and confidence <= 1);
comment on column talkwatch.claims.confidence is
    'The extractor''s calibrated probability that the claim is right (0-1); null: not scored (counts as talkwatch.unscored_claim_confidence()).';

alter table talkwatch.contradictions
    add column confidence double precision check (confidence >= 0 and confidence <= 1),
    add column confidence_a double precision check (confidence_a >= 0 and confidence_a <= 1),
    add column confidence_b double precision check (confidence_b >= 0 and confidence_b <= 1),
    add column witnesses_a integer,
    add column witnesses_b integer,
    -- the first alert run that left it unmailed because its confidence was under that run's threshold,
    -- and the threshold of the latest such run (null: never held back)
    add column alert_held_at timestamptz,
    add column alert_held_threshold double precision;

-- what an unscored claim counts as: as likely right as wrong (sql/README.md says why). Changing it is a
-- new migration that replaces this function and recomputes every contradiction:
-- select talkwatch.refresh_contradiction_confidence(null);
create function talkwatch.unscored_claim_confidence() returns double precision
language sql immutable parallel safe as $$ select 0.5::double precision $$;

-- recompute the confidence of the contradictions IDS (null: all of them); returns how many changed
create function talkwatch.refresh_contradiction_confidence(ids bigint[]) returns bigint
language sql as $$
with evidence as (
    select e.contradiction_id, e.side, c.claim_id,
           coalesce(c.confidence, talkwatch.unscored_claim_confidence()) as p,
           (c.published_at at time zone 'UTC')::date as day,
           -- wire copy: one sentence printed word for word by several outlets is one witness, the outlet that
           -- printed it first (a hash of the text: normalising it first cost more than the rest of the query);
           -- the article's outlet is looked up only for a claim without its own reported_by
           first_value(coalesce(c.reported_by,
                                (select a.outlet from talkwatch.articles a where a.article_id = c.article_id))) over (
               partition by e.contradiction_id, e.side, hashtextextended(c.evidence, 0)
               order by c.published_at, c.claim_id
           ) as witness
      from talkwatch.contradiction_evidence e
      join talkwatch.claims c on c.claim_id = e.claim_id
     where ids is null or e.contradiction_id = any (ids)
),
witnesses as (
    select contradiction_id, side, witness, max(p) as p, count(distinct day) as days
      from evidence
     group by contradiction_id, side, witness
),
sides as (
    -- 1 - prod(1 - w), the product as exp(sum(ln)); a certain witness (w = 1) makes the side certain
    select contradiction_id, side, count(*) as witnesses,
           1 - exp(sum(ln(greatest(power(1 - p, 1 + 0.5 * least(days - 1, 2)), 1e-12)))) as confidence
      from witnesses
     group by contradiction_id, side
),
computed as (
    select contradiction_id,
           round(coalesce(max(confidence) filter (where side = 'a'), 0)::numeric, 4)::double precision as a,
           round(coalesce(max(confidence) filter (where side = 'b'), 0)::numeric, 4)::double precision as b,
           coalesce(max(witnesses) filter (where side = 'a'), 0) as witnesses_a,
           coalesce(max(witnesses) filter (where side = 'b'), 0) as witnesses_b,
           round((coalesce(max(confidence) filter (where side = 'a'), 0)
                  * coalesce(max(confidence) filter (where side = 'b'), 0))::numeric, 4)::double precision as both
      from sides
     group by contradiction_id
),
changed as (
    update talkwatch.contradictions k
       set confidence = c.both, confidence_a = c.a, confidence_b = c.b,
           witnesses_a = c.witnesses_a, witnesses_b = c.witnesses_b
      from computed c
     where k.contradiction_id = c.contradiction_id
       and (k.confidence, k.confidence_a, k.confidence_b, k.witnesses_a, k.witnesses_b)
           is distinct from (c.both, c.a, c.b, c.witnesses_a, c.witnesses_b)
    returning 1
)
select count(*) from changed
$$;

-- the contradictions whose evidence changed since their confidence was computed
create table talkwatch.confidence_queue (
    contradiction_id  bigint primary key,   -- a talkwatch.contradictions row; removed when its confidence is recomputed
    queued_at         timestamptz not null default now()
);
comment on table talkwatch.confidence_queue is
    'Contradictions whose evidence changed since their confidence was computed (filled by a trigger on contradiction_evidence, emptied by talkwatch.refresh_queued_confidence()).';

create function talkwatch.queue_confidence_of_new_evidence() returns trigger
language plpgsql as $$
begin
    insert into talkwatch.confidence_queue (contradiction_id)
    select distinct n.contradiction_id from new_evidence n
    on conflict (contradiction_id) do nothing;
    return null;
end
$$;

create trigger contradiction_evidence_confidence_on_insert
    after insert on talkwatch.contradiction_evidence
    referencing new table as new_evidence
    for each statement execute function talkwatch.queue_confidence_of_new_evidence();
create trigger contradiction_evidence_confidence_on_update
    after update on talkwatch.contradiction_evidence
    referencing new table as new_evidence
    for each statement execute function talkwatch.queue_confidence_of_new_evidence();

-- recompute the queued contradictions and take them off the queue, in the caller's transaction (a failure
-- leaves the queue as it was; evidence attached meanwhile queues its contradiction again); returns how many
-- confidences changed
create function talkwatch.refresh_queued_confidence() returns bigint
language plpgsql as $$
declare
    ids bigint[];
begin
    with taken as (
        delete from talkwatch.confidence_queue returning contradiction_id
    )
    select array_agg(contradiction_id) into ids from taken;
    if ids is null then
        return 0;
    end if;
    return talkwatch.refresh_contradiction_confidence(ids);
end
$$;

-- the contradictions stored before this migration
select talkwatch.refresh_contradiction_confidence(null);

