-- 0003_roles: the loader role (writes the talkwatch schema) and the analyst role (reads analytics only).
-- Roles are cluster-wide: create them only when missing, so that every database of a cluster
-- (and a re-run) can apply this migration. The analyst's grants on schema `analytics` are made
-- by warehouse.recreate_views(), because that schema is dropped and recreated after migrations.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'talkwatch_loader') then
        create role talkwatch_loader nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'talkwatch_analyst') then
        create role talkwatch_analyst nologin;
    end if;
end
$$;

-- the loader: read and write every table of the warehouse, and the sequences behind its keys
grant usage on schema talkwatch to talkwatch_loader;
grant select, insert, update, delete on all tables in schema talkwatch to talkwatch_loader;
grant usage, select on all sequences in schema talkwatch to talkwatch_loader;
alter default privileges in schema talkwatch
    grant select, insert, update, delete on tables to talkwatch_loader;
alter default privileges in schema talkwatch
    grant usage, select on sequences to talkwatch_loader;

-- the analyst: nothing in talkwatch (views in analytics run with their owner's rights)
revoke all on schema talkwatch from talkwatch_analyst;
revoke all on all tables in schema talkwatch from talkwatch_analyst;
revoke all on schema talkwatch from public;
