-- analytics.negotiation_tracks
-- grain: one row per track, i.e. per (parties, topic family): first and last claim seen, how many
-- claims and sources, each source's latest status, and the contradictions flagged on it.
create or replace view analytics.negotiation_tracks as
with latest_by_source as (
    select distinct on (nc.parties_key, nc.topic_family, nc.source_key)
           nc.parties_key, nc.topic_family, nc.source_key, nc.status, nc.published_at
      from analytics.negotiation_claims nc
     order by nc.parties_key, nc.topic_family, nc.source_key, nc.published_at desc, nc.claim_id desc
),
latest_statuses as (
    select l.parties_key, l.topic_family,
           jsonb_object_agg(l.source_key, l.status) as latest_status_by_source
      from latest_by_source l
     group by l.parties_key, l.topic_family
),
claim_stats as (
    select nc.parties_key, nc.topic_family,
           min(nc.parties) as parties,
           min(nc.published_at) as first_seen_at,
           max(nc.published_at) as last_seen_at,
           count(*) as claims,
           count(distinct nc.source_key) as sources,
           count(distinct nc.outlet) as outlets
      from analytics.negotiation_claims nc
     group by nc.parties_key, nc.topic_family
),
contradiction_stats as (
    select k.parties_key, k.topic_family,
           count(*) as contradictions,
           count(*) filter (where k.is_open) as open_contradictions,
           max(k.detected_at) as last_detected_at
      from analytics.contradictions k
     group by k.parties_key, k.topic_family
)
select s.parties,
       s.parties_key,
       s.topic_family,
       s.first_seen_at,
       s.last_seen_at,
       s.claims,
       s.sources,
       s.outlets,
       l.latest_status_by_source,
       coalesce(k.contradictions, 0) as contradictions,
       coalesce(k.open_contradictions, 0) as open_contradictions,
       k.last_detected_at
  from claim_stats s
  join latest_statuses l on l.parties_key = s.parties_key and l.topic_family = s.topic_family
  left join contradiction_stats k on k.parties_key = s.parties_key and k.topic_family = s.topic_family;

comment on view analytics.negotiation_tracks is
    'One row per track (parties, topic family): first/last seen, claims, sources, latest status per source, contradictions.';
