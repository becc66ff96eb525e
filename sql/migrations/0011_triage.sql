-- 0011_triage: analysts' decisions on contradictions. An analyst confirms a contradiction (it is real) or
-- dismisses it (a misread, or not a contradiction): a dismissed one is never mailed again, a confirmed one
-- is mailed even under the confidence threshold, and `talkwatch export-feedback` turns the decisions into
-- labelled examples. One row per contradiction, the latest decision; analysts write it only through the
-- function analytics.triage_contradiction (sql/functions/), never the table.

create table talkwatch.contradiction_triage (
    contradiction_id  bigint primary key references talkwatch.contradictions (contradiction_id) on delete cascade,
    decision          text not null check (decision in ('confirmed', 'dismissed')),
    note              text check (length(note) <= 2000),
    decided_by        text not null,            -- the database login that decided (session_user)
    decided_at        timestamptz not null default now()
);

comment on table talkwatch.contradiction_triage is
    'Analysts'' decisions on contradictions (confirmed / dismissed), the latest one per contradiction.';
