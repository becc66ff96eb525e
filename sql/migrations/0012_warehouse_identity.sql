-- 0012_warehouse_identity: one random identity per warehouse, made when it is created. Digest Message-IDs
-- carry it, so that two deployments never send two messages with one Message-ID (a mail system that drops
-- repeated IDs would lose an alert). A copy of a warehouse that is to run beside its original needs a new
-- one: update talkwatch.warehouse_identity set warehouse_id = gen_random_uuid();

create table talkwatch.warehouse_identity (
    singleton     boolean primary key default true check (singleton),
    warehouse_id  uuid not null default gen_random_uuid(),
    created_at    timestamptz not null default now()
);
insert into talkwatch.warehouse_identity default values;

comment on table talkwatch.warehouse_identity is
    'This warehouse''s identity (one row): the digest Message-IDs carry it.';
