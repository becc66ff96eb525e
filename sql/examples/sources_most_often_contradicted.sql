-- Sources most often contradicted: per source, the contradictions it is a side of, how many of them
-- are still open, how many different sources contradict it, and the tracks involved.
with sides as (
    select k.contradiction_id, k.source_key_a as source_key, k.source_a as source,
           k.source_key_b as opponent_key, k.parties_key, k.topic_family, k.is_open
      from analytics.contradictions k
    union all
    select k.contradiction_id, k.source_key_b, k.source_b,
           k.source_key_a, k.parties_key, k.topic_family, k.is_open
      from analytics.contradictions k
)
select s.source_key,
       min(s.source) as source,
       count(*) as contradictions,
       count(*) filter (where s.is_open) as open_contradictions,
       count(distinct s.opponent_key) as contradicted_by_sources,
       array_agg(distinct s.parties_key || ' ' || s.topic_family) as tracks
  from sides s
 group by s.source_key
 order by contradictions desc, open_contradictions desc, s.source_key
 limit 50;
