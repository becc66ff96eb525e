-- 0007_detection_queue: what contradiction detection still has to read is a queue, not a column of
-- claims; the evidence table's references are checked once per statement, not once per row.
--
-- 1. talkwatch.detection_queue holds the ids of the claims that detection has not compared yet. A
--    statement trigger on claims fills it, whatever loads the claims (store_claims, COPY, a manual
--    INSERT); detection takes (deletes) the rows it reads in its own transaction. Before, detection
--    marked each claim with checked_at, an UPDATE of every new claim (a new row version and an
--    entry in each of the claims' indexes): a tenth of a busy night's detection time.
-- 2. contradiction_evidence gets tens of thousands of rows on a busy night, and PostgreSQL checks a
--    FOREIGN KEY with one query per row (a third of the evidence step). The same rules are kept by
--    statement triggers that check all new rows at once (talkwatch.check_evidence_references), with
--    the parent side kept too: deleting a claim or run that evidence refers to fails, deleting a
--    contradiction deletes its evidence (ON DELETE CASCADE before). Both sides take detection's
--    advisory lock (pipeline/contradictions.py DETECT_LOCK), so a delete and an insert of evidence
--    never check concurrently against each other's uncommitted rows.

-- the analyst views read claims.checked_at; they are recreated after the migrations
drop schema if exists analytics cascade;

create table talkwatch.detection_queue (
    claim_id   bigint primary key,           -- a talkwatch.claims row; removed when detection reads it
    queued_at  timestamptz not null default now()
);
comment on table talkwatch.detection_queue is
    'Claims not yet compared by contradiction detection (filled by a trigger on claims, emptied by detection).';

insert into talkwatch.detection_queue (claim_id)
select claim_id from talkwatch.claims where checked_at is null;

drop index talkwatch.claims_unchecked_idx;
alter table talkwatch.claims drop column checked_at;

create function talkwatch.queue_new_claims() returns trigger
language plpgsql as $$
begin
    insert into talkwatch.detection_queue (claim_id)
    select n.claim_id from new_claims n
    on conflict (claim_id) do nothing;
    return null;
end
$$;

create trigger claims_queue_for_detection
    after insert on talkwatch.claims
    referencing new table as new_claims
    for each statement execute function talkwatch.queue_new_claims();

-- the foreign keys of contradiction_evidence, as statement triggers
alter table talkwatch.contradiction_evidence
    drop constraint contradiction_evidence_contradiction_id_fkey,
    drop constraint contradiction_evidence_claim_id_fkey,
    drop constraint contradiction_evidence_run_id_fkey;

create function talkwatch.check_evidence_references() returns trigger
language plpgsql as $$
declare
    parent text[];
    missing bigint;
begin
    perform pg_advisory_xact_lock(727011003);
    -- (key column, parent table): each distinct key of the new rows is looked up once
    foreach parent slice 1 in array array[['contradiction_id', 'contradictions'], ['claim_id', 'claims'], ['run_id', 'runs']] loop
        execute format(
            'select n.%1$I from (select distinct %1$I from new_evidence where %1$I is not null) n'
            ' where not exists (select 1 from talkwatch.%2$I p where p.%1$I = n.%1$I) limit 1',
            parent[1], parent[2]
        ) into missing;
        if missing is not null then
            raise exception 'contradiction_evidence refers to % %, which does not exist', rtrim(parent[2], 's'), missing
                using errcode = 'foreign_key_violation';
        end if;
    end loop;
    return null;
end
$$;

create trigger contradiction_evidence_references_on_insert
    after insert on talkwatch.contradiction_evidence
    referencing new table as new_evidence
    for each statement execute function talkwatch.check_evidence_references();
create trigger contradiction_evidence_references_on_update
    after update on talkwatch.contradiction_evidence
    referencing new table as new_evidence
    for each statement execute function talkwatch.check_evidence_references();

-- evidence is read by contradiction (the primary key); no query reads it by claim, and an index
-- on claim_id would cost each of a busy night's tens of thousands of new rows a second index entry
drop index talkwatch.contradiction_evidence_claim_idx;

-- contradictions are updated each night (their evidence window widens): room on each page lets
-- PostgreSQL write the new row version beside the old one without touching the indexes (HOT)
alter table talkwatch.contradictions set (fillfactor = 70);

-- parents: a claim or run that evidence refers to cannot be deleted, nor can its key change; deleting
-- a contradiction deletes its evidence
-- TG_ARGV[0]: the parent's key column, as contradiction_evidence names it (claim_id, run_id)
create function talkwatch.restrict_evidence_parent() returns trigger
language plpgsql as $$
declare
    bad record;
begin
    perform pg_advisory_xact_lock(727011003);
    execute format(
        'select e.contradiction_id, o.%1$I as id from old_rows o'
        ' join talkwatch.contradiction_evidence e on e.%1$I = o.%1$I limit 1', tg_argv[0]
    ) into bad;
    if bad.contradiction_id is not null then
        raise exception '% % is evidence of contradiction %: it cannot be deleted',
            rtrim(tg_table_name, 's'), bad.id, bad.contradiction_id
            using errcode = 'foreign_key_violation';
    end if;
    return null;
end
$$;

create function talkwatch.cascade_contradiction_evidence() returns trigger
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(727011003);
    delete from talkwatch.contradiction_evidence e
     using old_rows o
     where e.contradiction_id = o.contradiction_id;
    return null;
end
$$;

-- a changed key of a row that evidence refers to (keys come from sequences and never change)
create function talkwatch.restrict_evidence_key_update() returns trigger
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(727011003);
    if tg_table_name = 'claims' then
        perform 1 from talkwatch.contradiction_evidence e where e.claim_id = old.claim_id limit 1;
    elsif tg_table_name = 'runs' then
        perform 1 from talkwatch.contradiction_evidence e where e.run_id = old.run_id limit 1;
    else
        perform 1 from talkwatch.contradiction_evidence e where e.contradiction_id = old.contradiction_id limit 1;
    end if;
    if found then
        raise exception '% key % is referred to by contradiction_evidence: it cannot change', tg_table_name, old
            using errcode = 'foreign_key_violation';
    end if;
    return new;
end
$$;

create trigger claims_evidence_restrict_delete
    after delete on talkwatch.claims
    referencing old table as old_rows
    for each statement execute function talkwatch.restrict_evidence_parent('claim_id');
create trigger runs_evidence_restrict_delete
    after delete on talkwatch.runs
    referencing old table as old_rows
    for each statement execute function talkwatch.restrict_evidence_parent('run_id');
create trigger contradictions_evidence_cascade_delete
    after delete on talkwatch.contradictions
    referencing old table as old_rows
    for each statement execute function talkwatch.cascade_contradiction_evidence();

create trigger claims_evidence_restrict_key_update
    before update of claim_id on talkwatch.claims
    for each row when (old.claim_id is distinct from new.claim_id)
    execute function talkwatch.restrict_evidence_key_update();
create trigger runs_evidence_restrict_key_update
    before update of run_id on talkwatch.runs
    for each row when (old.run_id is distinct from new.run_id)
    execute function talkwatch.restrict_evidence_key_update();
create trigger contradictions_evidence_restrict_key_update
    before update of contradiction_id on talkwatch.contradictions
    for each row when (old.contradiction_id is distinct from new.contradiction_id)
    execute function talkwatch.restrict_evidence_key_update();
