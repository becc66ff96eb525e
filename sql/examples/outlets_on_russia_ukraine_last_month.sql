-- What did each outlet say about Russia–Ukraine talks last month?
-- One row per claim published in the previous calendar month (UTC), grouped by outlet.
-- Change 'RUS|UKR' for another pair of parties (sorted actor codes joined by '|').
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
 where nc.parties_key = 'RUS|UKR'
   and nc.published_at >= (date_trunc('month', now() at time zone 'UTC') - interval '1 month') at time zone 'UTC'
   and nc.published_at < date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'
 order by nc.outlet, nc.published_at, nc.claim_id;
