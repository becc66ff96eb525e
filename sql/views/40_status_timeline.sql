-- analytics.status_timeline
-- grain: one row per (parties, source, day): what that source claimed about those parties' talks
-- on that day (UTC): the status of its last claim of the day, and every status it claimed.
create or replace view analytics.status_timeline as
with daily as (
    select nc.parties_key, nc.source_key, nc.published_on as day,
           min(nc.parties) as parties,
           min(nc.source) as source,
           array_agg(distinct nc.status order by nc.status) as statuses,
           array_agg(distinct nc.topic_family order by nc.topic_family) as topic_families,
           array_agg(distinct nc.outlet order by nc.outlet) as outlets,
           count(*) as claims,
           bool_and(nc.hedged) as all_hedged,
           (array_agg(nc.status order by nc.published_at desc, nc.claim_id desc))[1] as status,
           (array_agg(nc.status_kind order by nc.published_at desc, nc.claim_id desc))[1] as status_kind
      from analytics.negotiation_claims nc
     group by nc.parties_key, nc.source_key, nc.published_on
)
select d.parties,
       d.parties_key,
       d.source_key,
       d.source,
       d.day,
       d.status,
       d.status_kind,
       d.statuses,
       d.topic_families,
       d.outlets,
       d.claims,
       d.all_hedged,
       lag(d.status) over (partition by d.parties_key, d.source_key order by d.day) as previous_status,
       lag(d.day) over (partition by d.parties_key, d.source_key order by d.day) as previous_day
  from daily d;

comment on view analytics.status_timeline is
    'One row per (parties, source, day): the status claimed (last of the day), every status claimed, outlets.';
