-- 0009_pipeline_locks: locks only the pipeline can take, and the checksums of the analyst views.
--
-- 1. talkwatch.pipeline_locks has one row per lock; the pipeline takes a lock by locking its row
--    (`select ... for update`). Analysts have no access to schema talkwatch, so they can neither
--    take nor wait on these rows. Before, the run and detection locks were advisory lock keys, and
--    PostgreSQL lets every login take any advisory lock (pg_advisory_lock is executable by PUBLIC):
--    an analyst holding the run key made `talkwatch run` exit "another run is in progress", one
--    holding the detection key made detection wait for as long as the analyst liked.
--    - 'run': held by `talkwatch run` for the whole night, on a connection of its own
--      (warehouse.run_lock);
--    - 'detect': held by contradiction detection for its transaction (contradictions.detect), and
--      by the evidence triggers of 0007, which took the detection key before (replaced below).
-- 2. talkwatch.view_definitions records the SHA-256 of each file of sql/views/ as it was created,
--    so that warehouse.migrate() recreates a view only when its file changed (the analytics schema
--    used to be dropped and recreated by every command, taking an administrator's own views and
--    grants with it).

create table talkwatch.pipeline_locks (
    lock_name  text primary key,
    purpose    text not null
);
comment on table talkwatch.pipeline_locks is
    'One row per pipeline lock: a process holds the lock while it holds a row lock on the row.';
insert into talkwatch.pipeline_locks (lock_name, purpose) values
    ('run', 'one talkwatch run at a time: locked by the run for the whole night, on a connection of its own'),
    ('detect', 'one contradiction detection at a time; evidence changes wait for it');

create table talkwatch.view_definitions (
    file_name   text primary key,            -- the file of sql/views/, e.g. 20_contradictions.sql
    view_name   text not null unique,        -- the view it creates, e.g. analytics.contradictions
    checksum    text not null,               -- SHA-256 of the file when the view was last created
    created_at  timestamptz not null default now()
);
comment on table talkwatch.view_definitions is
    'The analyst views as created: a view is recreated only when its file''s checksum differs.';

-- the evidence triggers of 0007, with the detection lock's row instead of its advisory key
create function talkwatch.lock_detection() returns void
language plpgsql as $$
begin
    perform 1 from talkwatch.pipeline_locks where lock_name = 'detect' for update;
end
$$;

create or replace function talkwatch.check_evidence_references() returns trigger
language plpgsql as $$
declare
    parent text[];
    missing bigint;
begin
    perform talkwatch.lock_detection();
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

create or replace function talkwatch.restrict_evidence_parent() returns trigger
language plpgsql as $$
declare
    bad record;
begin
    perform talkwatch.lock_detection();
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

create or replace function talkwatch.cascade_contradiction_evidence() returns trigger
language plpgsql as $$
begin
    perform talkwatch.lock_detection();
    delete from talkwatch.contradiction_evidence e
     using old_rows o
     where e.contradiction_id = o.contradiction_id;
    return null;
end
$$;

create or replace function talkwatch.restrict_evidence_key_update() returns trigger
language plpgsql as $$
begin
    perform talkwatch.lock_detection();
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

-- the loader takes the locks as the pipeline does (its default privileges already cover new tables;
-- said here too, in case another role applies this migration); PUBLIC has nothing in schema talkwatch
revoke all on talkwatch.pipeline_locks, talkwatch.view_definitions from public;
grant select, update on talkwatch.pipeline_locks to talkwatch_loader;
