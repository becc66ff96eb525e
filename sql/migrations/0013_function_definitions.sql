-- 0013_function_definitions: the checksums of the analyst functions, as 0009's view_definitions are the
-- views'. warehouse.migrate() runs a file of sql/functions/ (`create or replace function`) only when its
-- SHA-256 differs from the one recorded here or its function is missing, then takes EXECUTE on it from
-- PUBLIC and grants it to talkwatch_analyst (analytics.triage_contradiction, 0011, used to be created with
-- the views, after `drop schema analytics cascade`, by every command).

create table talkwatch.function_definitions (
    file_name      text primary key,         -- the file of sql/functions/, e.g. 10_triage_contradiction.sql
    function_name  text not null unique,     -- the function it creates, e.g. analytics.triage_contradiction(bigint, text, text)
    checksum       text not null,            -- SHA-256 of the file when the function was last created
    created_at     timestamptz not null default now()
);
comment on table talkwatch.function_definitions is
    'The analyst functions as created: a function is recreated only when its file''s checksum differs.';

revoke all on talkwatch.function_definitions from public;
