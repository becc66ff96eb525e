-- 0006_no_large_objects: nobody stores data in the warehouse through large objects.
-- PostgreSQL grants EXECUTE on the large-object constructors to PUBLIC, so even the read-only analyst
-- role could write blobs into the database. talkwatch never uses large objects: take the grant away.
-- Catalog functions belong to the bootstrap superuser; a migrating role that may not change them
-- (a managed server) leaves them as they are and says so, rather than failing the migration.

do $$
begin
    if (select rolsuper from pg_roles where rolname = current_user) then
        revoke execute on function pg_catalog.lo_create(oid) from public;
        revoke execute on function pg_catalog.lo_creat(integer) from public;
        revoke execute on function pg_catalog.lo_from_bytea(oid, bytea) from public;
    else
        raise notice 'talkwatch: not a superuser, large-object constructors stay executable by PUBLIC';
    end if;
end
$$;
