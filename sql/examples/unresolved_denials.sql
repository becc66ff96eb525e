-- All unresolved denials: contradictions where one side denies (denied / no_deal) what the other
-- reports, and the latest claims of both sources on the track still conflict (is_open).
with denials as (
    select k.*,
           case when k.status_a in ('denied', 'no_deal') then 'a' else 'b' end as denying_side
      from analytics.contradictions k
     where k.is_open
       and (k.status_a in ('denied', 'no_deal') or k.status_b in ('denied', 'no_deal'))
)
select d.contradiction_id,
       array_to_string(d.parties, '–') as parties,
       d.topic_family,
       coalesce(d.event_time, 'now') as period,
       case when d.denying_side = 'a' then d.source_a else d.source_b end as denied_by,
       case when d.denying_side = 'a' then d.status_a else d.status_b end as denial,
       case when d.denying_side = 'a' then d.evidence_a else d.evidence_b end as denial_evidence,
       case when d.denying_side = 'a' then d.source_b else d.source_a end as reported_by,
       case when d.denying_side = 'a' then d.status_b else d.status_a end as reported_status,
       case when d.denying_side = 'a' then d.evidence_b else d.evidence_a end as report_evidence,
       d.evidence_claims,
       d.first_evidence_at,
       d.last_evidence_at,
       d.detected_at
  from denials d
 order by d.last_evidence_at desc, d.contradiction_id;
