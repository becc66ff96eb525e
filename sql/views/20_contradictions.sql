-- analytics.contradictions
-- grain: one row per flagged contradiction: one pair of sources (a < b by source_key) on one track
-- (parties + topic family) in one period, with the first claim of each side, the rule that fired,
-- how much evidence supports each side, and whether the two sources still disagree (is_open: the
-- latest claim of each source on the track, about the same period, still conflict by SPEC §5), its
-- confidence (sql/README.md, "Confidence"), what became of its alert, and an analyst's triage decision.
create or replace view analytics.contradictions as
with sides as (
    select k.*,
           ca.source as source_a, ca.source_org as source_org_a, ca.status as status_a,
           ca.topic as topic_a, ca.hedged as hedged_a, ca.evidence as evidence_a,
           coalesce(ca.reported_by, aa.outlet) as outlet_a, aa.url as article_url_a,
           aa.title as article_title_a, ca.published_at as published_at_a,
           cb.source as source_b, cb.source_org as source_org_b, cb.status as status_b,
           cb.topic as topic_b, cb.hedged as hedged_b, cb.evidence as evidence_b,
           coalesce(cb.reported_by, ab.outlet) as outlet_b, ab.url as article_url_b,
           ab.title as article_title_b, cb.published_at as published_at_b
      from talkwatch.contradictions k
      join talkwatch.claims ca on ca.claim_id = k.claim_a_id
      join talkwatch.articles aa on aa.article_id = ca.article_id
      join talkwatch.claims cb on cb.claim_id = k.claim_b_id
      join talkwatch.articles ab on ab.article_id = cb.article_id
)
select s.contradiction_id,
       s.parties,
       s.parties_key,
       s.topic_family,
       s.period_key,
       case when s.period_key like 'now:%' then null else s.period_key end as event_time,
       s.rule,
       s.source_key_a, s.source_a, s.source_org_a, s.status_a, s.topic_a, s.hedged_a, s.evidence_a,
       s.outlet_a, s.article_url_a, s.article_title_a, s.published_at_a,
       s.source_key_b, s.source_b, s.source_org_b, s.status_b, s.topic_b, s.hedged_b, s.evidence_b,
       s.outlet_b, s.article_url_b, s.article_title_b, s.published_at_b,
       n.evidence_claims,
       n.evidence_claims_a,
       n.evidence_claims_b,
       n.outlets,
       n.outlets_a,
       n.outlets_b,
       s.confidence,
       s.confidence_a,
       s.confidence_b,
       s.witnesses_a,
       s.witnesses_b,
       s.first_evidence_at,
       s.last_evidence_at,
       la.status as latest_status_a,
       lb.status as latest_status_b,
       exists (
           select 1
             from talkwatch.conflict_rules r
            where r.status_a = la.status
              and r.status_b = lb.status
       ) as is_open,
       s.detected_at,
       s.alerted_at,
       s.alert_id,
       case
           when t.decision = 'dismissed' then 'dismissed'
           when s.alerted_at is not null then 'mailed'
           when coalesce(s.confidence, 0) < s.alert_held_threshold then 'low_confidence'
           else 'pending'
       end as alert_status,
       s.alert_held_at,
       s.alert_held_threshold,
       t.decision as triage,
       t.note as triage_note,
       t.decided_by as triaged_by,
       t.decided_at as triaged_at,
       s.run_id
  from sides s
  left join talkwatch.contradiction_triage t on t.contradiction_id = s.contradiction_id
 cross join lateral (
       select count(*) as evidence_claims,
              count(*) filter (where e.side = 'a') as evidence_claims_a,
              count(*) filter (where e.side = 'b') as evidence_claims_b,
              count(distinct coalesce(c.reported_by, a.outlet)) as outlets,
              count(distinct coalesce(c.reported_by, a.outlet)) filter (where e.side = 'a') as outlets_a,
              count(distinct coalesce(c.reported_by, a.outlet)) filter (where e.side = 'b') as outlets_b
         from talkwatch.contradiction_evidence e
         join talkwatch.claims c on c.claim_id = e.claim_id
         join talkwatch.articles a on a.article_id = c.article_id
        where e.contradiction_id = s.contradiction_id
     ) as n
 cross join lateral (
       -- what each side's source says now: its latest claim on the track about the same period
       select (select c.status
                 from talkwatch.claims c
                where c.source_key = s.source_key_a
                  and c.parties_key = s.parties_key
                  and c.topic in (select t.topic_a from talkwatch.topic_compat t where t.family = s.topic_family)
                  and case
                          when s.period_key like 'now:%' then c.event_time is null
                          else c.event_time is not null
                               and (starts_with(c.event_time, s.period_key) or starts_with(s.period_key, c.event_time))
                      end
                order by c.published_at desc, c.claim_id desc
                limit 1) as status
     ) as la
 cross join lateral (
       select (select c.status
                 from talkwatch.claims c
                where c.source_key = s.source_key_b
                  and c.parties_key = s.parties_key
                  and c.topic in (select t.topic_a from talkwatch.topic_compat t where t.family = s.topic_family)
                  and case
                          when s.period_key like 'now:%' then c.event_time is null
                          else c.event_time is not null
                               and (starts_with(c.event_time, s.period_key) or starts_with(s.period_key, c.event_time))
                      end
                order by c.published_at desc, c.claim_id desc
                limit 1) as status
     ) as lb;

comment on view analytics.contradictions is
    'One row per flagged contradiction (a pair of sources on a track in a period): both sides, the rule, evidence counts, is_open, confidence, alert status, triage.';
