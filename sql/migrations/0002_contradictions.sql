-- 0002_contradictions: SPEC section 5 as data, contradictions with their evidence, and alerts.

-- the status table of SPEC section 5, both directions; `rule` names what fired
create table talkwatch.conflict_rules (
    status_a  text not null,
    status_b  text not null,
    rule      text not null,
    primary key (status_a, status_b)
);
insert into talkwatch.conflict_rules (status_a, status_b, rule)
select a, b, 'denied_vs_' || b
from (values ('denied')) d(a)
cross join (values ('planned'), ('ongoing'), ('held'), ('agreed'), ('stalled'), ('collapsed')) s(b)
union all
select 'no_deal', 'agreed', 'no_deal_vs_agreed';
insert into talkwatch.conflict_rules (status_a, status_b, rule)
select status_b, status_a, rule from talkwatch.conflict_rules;

-- compatible topics of SPEC section 5 (both directions) and the track's topic family
create table talkwatch.topic_compat (
    topic_a  text not null,
    topic_b  text not null,
    family   text not null,
    primary key (topic_a, topic_b)
);
insert into talkwatch.topic_compat (topic_a, topic_b, family) values
    ('ceasefire', 'ceasefire', 'ceasefire'),
    ('partial_ceasefire', 'partial_ceasefire', 'ceasefire'),
    ('ceasefire', 'partial_ceasefire', 'ceasefire'),
    ('partial_ceasefire', 'ceasefire', 'ceasefire'),
    ('peace_deal', 'peace_deal', 'peace_deal'),
    ('peace_deal', 'ceasefire', 'ceasefire'),
    ('ceasefire', 'peace_deal', 'ceasefire'),
    ('peace_deal', 'partial_ceasefire', 'ceasefire'),
    ('partial_ceasefire', 'peace_deal', 'ceasefire'),
    ('peace_deal', 'hostages', 'hostages'),
    ('hostages', 'peace_deal', 'hostages'),
    ('hostages', 'hostages', 'hostages'),
    ('humanitarian', 'humanitarian', 'humanitarian'),
    ('other', 'other', 'other');

create table talkwatch.alerts (
    alert_id           bigserial primary key,
    run_id             bigint references talkwatch.runs (run_id),
    sent_at            timestamptz not null,
    recipients         text[] not null,
    subject            text not null,
    message_id         text not null unique,
    contradiction_ids  bigint[] not null,
    body_text          text not null
);

-- one row per contradiction: a pair of sources on a track (parties + topic family) in a period
create table talkwatch.contradictions (
    contradiction_id   bigserial primary key,
    parties            text[] not null,
    parties_key        text not null,
    topic_family       text not null,
    period_key         text not null,     -- 'now:YYYY-MM-DD' (first evidence day) or the containing event_time
    source_key_a       text not null,
    source_key_b       text not null,
    claim_a_id         bigint not null references talkwatch.claims (claim_id),
    claim_b_id         bigint not null references talkwatch.claims (claim_id),
    rule               text not null,
    first_evidence_at  timestamptz not null,
    last_evidence_at   timestamptz not null,
    detected_at        timestamptz not null default now(),
    run_id             bigint references talkwatch.runs (run_id),
    alerted_at         timestamptz,
    alert_id           bigint references talkwatch.alerts (alert_id),
    check (source_key_a < source_key_b),
    unique (parties_key, topic_family, period_key, source_key_a, source_key_b)
);
create index contradictions_pending_idx on talkwatch.contradictions (contradiction_id) where alerted_at is null;
create index contradictions_lookup_idx
    on talkwatch.contradictions (parties_key, topic_family, source_key_a, source_key_b);

-- every claim that supports a side of a contradiction
create table talkwatch.contradiction_evidence (
    contradiction_id  bigint not null references talkwatch.contradictions (contradiction_id) on delete cascade,
    claim_id          bigint not null references talkwatch.claims (claim_id),
    side              char(1) not null check (side in ('a', 'b')),
    attached_at       timestamptz not null default now(),
    run_id            bigint references talkwatch.runs (run_id),
    primary key (contradiction_id, claim_id)
);
create index contradiction_evidence_claim_idx on talkwatch.contradiction_evidence (claim_id);
