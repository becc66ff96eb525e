-- What did each outlet say about Russia–Ukraine talks last month?
-- One row per claim published in the month up to the most recent Russia–Ukraine claim in the
-- warehouse, by outlet and time. On a warehouse fed every night that is the past month; on the
-- bundled sample feeds (August 2024) it is the month of the sample story, not an empty result.
-- For the previous calendar month instead, replace the `latest` CTE's bounds with
--   date_trunc('month', now() at time zone 'UTC') - interval '1 month' and date_trunc('month', now() at time zone 'UTC').
-- Change 'RUS|UKR' for another pair of parties (sorted actor codes joined by '|').
with latest as (
    select max(nc.published_at) as until_at
      from analytics.negotiation_claims nc
     where nc.parties_key = 'RUS|UKR'
)
select nc.outlet,
       nc.published_on,
       nc.source,
       nc.status,
       nc.topic,
       nc.hedged,
       nc.event_time,
       nc.evidence,
       nc.article_url
  from analytics.negotiation_claims nc
  join latest l on nc.published_at > l.until_at - interval '1 month' and nc.published_at <= l.until_at
 where nc.parties_key = 'RUS|UKR'
 order by nc.outlet, nc.published_at, nc.claim_id;
