-- analytics.triage_contradiction(contradiction_id, decision, note): an analyst's decision on a contradiction.
-- decision: 'confirmed' (it is real) or 'dismissed' (never mail it again); note: why, at most 2,000
-- characters. The latest decision counts; it is recorded with the login that made it (session_user).
-- The one thing the analyst role may write: it runs with its owner's rights (security definer) and
-- touches nothing but talkwatch.contradiction_triage.
create or replace function analytics.triage_contradiction(
    p_contradiction_id bigint,
    p_decision text,
    p_note text default null
) returns table (contradiction_id bigint, decision text, note text, decided_by text, decided_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
begin
    if p_decision is null or p_decision not in ('confirmed', 'dismissed') then
        raise exception 'decision must be ''confirmed'' or ''dismissed'', not %', coalesce(quote_literal(p_decision), 'null')
            using errcode = 'invalid_parameter_value';
    end if;
    if length(p_note) > 2000 then
        raise exception 'a note has at most 2000 characters (this one has %)', length(p_note)
            using errcode = 'string_data_right_truncation';
    end if;
    if not exists (select 1 from talkwatch.contradictions k where k.contradiction_id = p_contradiction_id) then
        raise exception 'there is no contradiction %', p_contradiction_id
            using errcode = 'no_data_found';
    end if;
    return query
    insert into talkwatch.contradiction_triage as t (contradiction_id, decision, note, decided_by, decided_at)
    values (p_contradiction_id, p_decision, nullif(btrim(p_note), ''), session_user, now())
    on conflict (contradiction_id) do update
       set decision = excluded.decision, note = excluded.note, decided_by = excluded.decided_by,
           decided_at = excluded.decided_at
    returning t.contradiction_id, t.decision, t.note, t.decided_by, t.decided_at;
end
$$;

comment on function analytics.triage_contradiction(bigint, text, text) is
    'Record an analyst''s decision on a contradiction: confirmed or dismissed (never mailed again), with a note.';
