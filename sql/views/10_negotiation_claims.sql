-- analytics.negotiation_claims
-- grain: one row per claim (SPEC section 1): what one source said about one pair of parties' talks,
-- in one article, with the article's outlet, URL, title and publication time.
create or replace view analytics.negotiation_claims as
with families as (
    -- the topic family of a claim on its own (partial_ceasefire belongs to the ceasefire track)
    select t.topic_a as topic, t.family
      from talkwatch.topic_compat t
     where t.topic_a = t.topic_b
)
select c.claim_id,
       c.article_id,
       c.parties,
       c.parties_key,
       c.status,
       case
           when c.status in ('proposed', 'accepted', 'rejected') then 'position'
           when c.status in ('denied', 'no_deal') then 'denial'
           else 'state'
       end as status_kind,
       c.topic,
       f.family as topic_family,
       c.source,
       c.source_key,
       c.source_org,
       coalesce(c.reported_by, a.outlet) as outlet,
       c.mediator,
       c.venue,
       c.hedged,
       c.event_time,
       c.published_at,
       (c.published_at at time zone 'UTC')::date as published_on,
       c.evidence,
       c.confidence,
       a.url as article_url,
       a.title as article_title,
       c.created_at as loaded_at,
       q.claim_id is not null as awaiting_detection,
       c.run_id
  from talkwatch.claims c
  join talkwatch.articles a on a.article_id = c.article_id
  left join families f on f.topic = c.topic
  left join talkwatch.detection_queue q on q.claim_id = c.claim_id;

comment on view analytics.negotiation_claims is
    'One row per claim: parties, status, topic, source, outlet, hedged, event_time, published_at, evidence, article URL and title.';
