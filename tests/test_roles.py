"""Roles: the loader writes the warehouse; analyst logins read the analytics views and nothing else."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from psycopg2 import errors, sql
from test_contradictions import Loader, _seed_story
from test_views import VIEWS

from pipeline import contradictions as cx
from pipeline import roles
from pipeline import warehouse as wh

PASSWORD = "s3cret-for-tests"


def _drop_role(dsn: str, name: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture
def login(warehouse, warehouse_dsn):
    """Makes LOGIN roles for a test and drops them afterwards (roles are cluster-wide)."""
    made: list[str] = []

    def make(group: str = roles.ANALYST_ROLE, name: str | None = None) -> str:
        name = name or f"tw_{group.split('_')[1]}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        if group == roles.ANALYST_ROLE:
            roles.grant_analyst(warehouse, name, PASSWORD)
        else:
            with wh.transaction(warehouse) as cur:
                cur.execute(
                    sql.SQL("create role {} login password {} in role {}").format(
                        sql.Identifier(name), sql.Literal(PASSWORD), sql.Identifier(group)
                    )
                )
        return name

    yield make
    for name in made:
        _drop_role(warehouse_dsn, name)


def _connect_as(dsn: str, name: str):
    return psycopg2.connect(psycopg2.extensions.make_dsn(dsn, user=name, password=PASSWORD))


def _assert_refused(dsn: str, name: str, statement: str, params: tuple = ()) -> None:
    """The login `name` runs `statement` and PostgreSQL refuses it for want of privilege."""
    conn = _connect_as(dsn, name)
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(statement, params or None)
    finally:
        conn.close()


def test_migrations_create_the_two_group_roles(warehouse):
    with warehouse.cursor() as cur:
        cur.execute(
            "select rolname, rolcanlogin from pg_roles where rolname in (%s, %s) order by rolname",
            (roles.ANALYST_ROLE, roles.LOADER_ROLE),
        )
        assert cur.fetchall() == [(roles.ANALYST_ROLE, False), (roles.LOADER_ROLE, False)]


def test_roles_migration_is_idempotent(warehouse):
    sql_text = (wh.SQL_DIR / "migrations" / "0003_roles.sql").read_text("utf-8")
    with wh.transaction(warehouse) as cur:
        cur.execute(sql_text)
        cur.execute(sql_text)


def test_grant_analyst_creates_a_login_in_the_analyst_role_and_is_idempotent(warehouse, login):
    name = login()
    roles.grant_analyst(warehouse, name)
    roles.grant_analyst(warehouse, name, PASSWORD)
    with warehouse.cursor() as cur:
        cur.execute(
            "select r.rolcanlogin, r.rolsuper, pg_has_role(r.oid, %s, 'member') from pg_roles r where r.rolname = %s",
            (roles.ANALYST_ROLE, name),
        )
        assert cur.fetchone() == (True, False, True)
    warehouse.commit()


def test_grant_analyst_quotes_the_name(warehouse, warehouse_dsn, login):
    name = login(name='Ana "x"; drop table talkwatch.claims; --')
    with warehouse.cursor() as cur:
        cur.execute("select count(*) from talkwatch.claims")
        assert cur.fetchone() == (0,)
        cur.execute("select 1 from pg_roles where rolname = %s", (name,))
        assert cur.fetchone() == (1,)
    warehouse.commit()
    conn = _connect_as(warehouse_dsn, name)
    conn.close()


def test_grant_analyst_refuses_group_roles(warehouse):
    with pytest.raises(ValueError):
        roles.grant_analyst(warehouse, roles.LOADER_ROLE)


def test_analyst_reads_every_view(warehouse, warehouse_dsn, login):
    _seed_story(Loader(warehouse))
    cx.detect(warehouse)
    conn = _connect_as(warehouse_dsn, login())
    try:
        with conn.cursor() as cur:
            for view in VIEWS:
                cur.execute(sql.SQL("select count(*) from analytics.{}").format(sql.Identifier(view)))
                assert cur.fetchone()[0] >= 1, view
    finally:
        conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "select * from talkwatch.claims",
        "select * from talkwatch.contradictions",
        "insert into talkwatch.runs (kind) values ('cli')",
        "update talkwatch.claims set hedged = true",
        "delete from talkwatch.contradiction_evidence",
        "create table analytics.mine (x int)",
        "create table public.mine (x int)",
        "create view analytics.mine as select 1 as x",
        "drop view analytics.contradictions",
        "create schema mine",
    ],
)
def test_analyst_cannot_read_the_tables_nor_write_anything(warehouse_dsn, login, statement):
    _assert_refused(warehouse_dsn, login(), statement)


def test_analyst_privileges_are_select_on_the_views_only(warehouse, login):
    name = login()
    with warehouse.cursor() as cur:
        for view in VIEWS:
            qualified = f"analytics.{view}"
            cur.execute("select has_table_privilege(%s, %s, 'select')", (name, qualified))
            assert cur.fetchone() == (True,), view
            for privilege in ("insert", "update", "delete", "truncate", "references", "trigger"):
                cur.execute("select has_table_privilege(%s, %s, %s)", (name, qualified, privilege))
                assert cur.fetchone() == (False,), (view, privilege)
        cur.execute(
            "select has_schema_privilege(%s, 'talkwatch', 'usage'), has_schema_privilege(%s, 'analytics', 'create')",
            (name, name),
        )
        assert cur.fetchone() == (False, False)
    warehouse.commit()


def test_loader_writes_the_warehouse_and_runs_detection(warehouse, warehouse_dsn, login):
    conn = _connect_as(warehouse_dsn, login(roles.LOADER_ROLE))
    try:
        planned, stalled, denied = _seed_story(Loader(conn))
        result = cx.detect(conn)
        assert len(result.new_contradiction_ids) == 1
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute("create table talkwatch.mine (x int)")
    finally:
        conn.close()


# --------------------------------------------------------------------------- nothing else, by the catalog

_TABLE_PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger")


def _relations_outside_analytics(conn) -> list[tuple[str, str]]:
    """(qualified name, relkind) of every table, view, sequence… of the database but the analyst's views."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select format('%I.%I', n.nspname, c.relname), c.relkind
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
               and n.nspname not in ('pg_catalog', 'information_schema', 'analytics')
               and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
             order by 1
            """
        )
        rows = cur.fetchall()
    conn.commit()
    return rows


def test_analyst_has_no_privilege_on_any_relation_outside_analytics(warehouse, login):
    """Every table and sequence a migration adds is closed to analysts, not only the ones named here."""
    name = login()
    relations = _relations_outside_analytics(warehouse)
    assert ("talkwatch.claims", "r") in relations and ("talkwatch.alerts", "r") in relations
    assert any(kind == "S" for _rel, kind in relations)  # the key sequences are checked too
    granted = []
    with warehouse.cursor() as cur:
        for rel, kind in relations:
            if kind == "S":
                for privilege in ("usage", "select", "update"):
                    cur.execute("select has_sequence_privilege(%s, %s, %s)", (name, rel, privilege))
                    if cur.fetchone()[0]:
                        granted.append((rel, privilege))
                continue
            for privilege in _TABLE_PRIVILEGES:
                cur.execute("select has_table_privilege(%s, %s, %s)", (name, rel, privilege))
                if cur.fetchone()[0]:
                    granted.append((rel, privilege))
            cur.execute("select has_any_column_privilege(%s, %s, 'select')", (name, rel))
            if cur.fetchone()[0]:
                granted.append((rel, "select (some column)"))
    warehouse.commit()
    assert granted == []


def test_analyst_cannot_create_in_any_schema_nor_the_database(warehouse, login):
    name = login()
    with warehouse.cursor() as cur:
        cur.execute(
            """
            select n.nspname from pg_namespace n
             where n.nspname not like 'pg\\_temp%%' and n.nspname not like 'pg\\_toast\\_temp%%'
               and has_schema_privilege(%s, n.oid, 'create')
            """,
            (name,),
        )
        assert cur.fetchall() == []
        cur.execute("select has_database_privilege(%s, current_database(), 'create')", (name,))
        assert cur.fetchone() == (False,)
    warehouse.commit()


_VIEW_WRITES = [
    "insert into analytics.{view} default values",
    "update analytics.{view} set parties_key = parties_key",
    "delete from analytics.{view}",
    "truncate analytics.{view}",
    "lock table analytics.{view} in access exclusive mode",
    "alter view analytics.{view} rename to mine",
    "comment on view analytics.{view} is 'mine'",
    "drop view analytics.{view}",
]


@pytest.mark.parametrize("view", VIEWS)
def test_analyst_cannot_write_lock_or_alter_a_view(warehouse, warehouse_dsn, login, view):
    """Refused by privilege, or because a view cannot take the statement (not updatable, not a table):
    either way nothing changes; owning it (alter, drop, comment) and locking it out are privileges."""
    _seed_story(Loader(warehouse))
    cx.detect(warehouse)
    query = sql.SQL("select count(*) from analytics.{}").format(sql.Identifier(view))
    conn = _connect_as(warehouse_dsn, login())
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            before = cur.fetchone()[0]
        conn.rollback()
        assert before >= 1
        for statement in _VIEW_WRITES:
            with conn.cursor() as cur, pytest.raises(
                (errors.InsufficientPrivilege, errors.ObjectNotInPrerequisiteState, errors.WrongObjectType)
            ) as refused:
                cur.execute(statement.format(view=view))
            conn.rollback()
            if statement.startswith(("lock", "alter", "comment", "drop")):
                assert isinstance(refused.value, errors.InsufficientPrivilege), statement
        with conn.cursor() as cur:
            cur.execute(query)
            assert cur.fetchone()[0] == before
    finally:
        conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "set role talkwatch_loader",
        "grant select on talkwatch.claims to current_user",
        "grant talkwatch_loader to current_user",
        "copy talkwatch.claims to stdout",
        "truncate talkwatch.claims",
        "lock table talkwatch.claims in access exclusive mode",
        "alter table talkwatch.claims add column mine int",
        "select * from talkwatch.alerts",
        "select * from talkwatch.runs",
        "select * from talkwatch.feeds",
        "select nextval('talkwatch.claims_claim_id_seq')",
        "create function analytics.mine() returns int language sql as 'select 1'",
    ],
)
def test_analyst_cannot_escalate_or_reach_the_warehouse_tables(warehouse_dsn, login, statement):
    _assert_refused(warehouse_dsn, login(), statement)


def test_analyst_cannot_store_large_objects(warehouse_dsn, login):
    conn = _connect_as(warehouse_dsn, login())
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute("select lo_from_bytea(0, 'written by an analyst')")
    finally:
        conn.rollback()
        conn.close()


def test_analyst_keeps_reading_the_views_and_nothing_more_after_a_remigration(warehouse, warehouse_dsn, login):
    """A migration replaces the views whose files changed: the analyst's grants stay or come back with them."""
    _seed_story(Loader(warehouse))
    cx.detect(warehouse)
    name = login()
    wh.migrate(warehouse)
    conn = _connect_as(warehouse_dsn, name)
    try:
        with conn.cursor() as cur:
            for view in VIEWS:
                cur.execute(sql.SQL("select count(*) from analytics.{}").format(sql.Identifier(view)))
                assert cur.fetchone()[0] >= 1, view
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute("select * from talkwatch.claims")
    finally:
        conn.close()


def test_grant_analyst_command_creates_a_read_only_login(warehouse_dsn, login):
    """`talkwatch db grant-analyst NAME --password P`, as the README tells administrators to run it."""
    import os
    import subprocess
    import sys

    name = login()  # made (and dropped at the end) by the fixture; the command must accept an existing login
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env["TALKWATCH_DSN"] = warehouse_dsn
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "db", "grant-analyst", name, "--password",
                          "another-s3cret"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"analyst login {name!r} can now read schema analytics" in out.stdout
    conn = psycopg2.connect(psycopg2.extensions.make_dsn(warehouse_dsn, user=name, password="another-s3cret"))
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from analytics.contradictions")
            assert cur.fetchone() == (0,)
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute("select * from talkwatch.claims")
    finally:
        conn.close()


# --------------------------------------------------------------------------- triage: the one thing analysts write


def _triage_rows(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("select contradiction_id, decision, note, decided_by from talkwatch.contradiction_triage")
        rows = cur.fetchall()
    conn.commit()
    return rows


def _one_contradiction(warehouse) -> int:
    _seed_story(Loader(warehouse))
    (cid,) = cx.detect(warehouse).new_contradiction_ids
    return cid


def test_analyst_records_a_triage_decision_through_the_analytics_function(warehouse, warehouse_dsn, login):
    cid = _one_contradiction(warehouse)
    name = login()
    note = "'); delete from talkwatch.claims; --"
    conn = _connect_as(warehouse_dsn, name)
    try:
        with conn.cursor() as cur:
            cur.execute("select decision, decided_by from analytics.triage_contradiction(%s, 'dismissed', %s)",
                        (cid, note))
            assert cur.fetchone() == ("dismissed", name)
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("select alert_status, triage, triaged_by from analytics.contradictions")
            assert cur.fetchall() == [("dismissed", "dismissed", name)]
    finally:
        conn.close()
    assert _triage_rows(warehouse) == [(cid, "dismissed", note, name)]
    assert wh.table_counts(warehouse)["claims"] == 3


@pytest.mark.parametrize(
    "statement",
    [
        "insert into talkwatch.contradiction_triage (contradiction_id, decision, decided_by) values (1, 'dismissed', 'x')",
        "update talkwatch.contradiction_triage set decision = 'confirmed'",
        "delete from talkwatch.contradiction_triage",
        "select talkwatch.refresh_contradiction_confidence(null)",
        "update talkwatch.contradictions set alerted_at = now()",
    ],
)
def test_analyst_cannot_write_triage_or_alert_state_but_through_the_function(warehouse, warehouse_dsn, login,
                                                                            statement):
    _one_contradiction(warehouse)
    _assert_refused(warehouse_dsn, login(), statement)
    assert _triage_rows(warehouse) == []


def test_the_triage_function_is_the_only_function_analysts_may_call_there(warehouse, login):
    name = login()
    with warehouse.cursor() as cur:
        cur.execute(
            """
            select p.oid::regprocedure::text
              from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where n.nspname = 'analytics' and has_function_privilege(%s, p.oid, 'execute')
            """,
            (name,),
        )
        assert cur.fetchall() == [("analytics.triage_contradiction(bigint,text,text)",)]
    warehouse.commit()


def test_a_login_outside_the_analyst_role_cannot_triage(warehouse, warehouse_dsn, login):
    """EXECUTE on the analytics functions is taken from PUBLIC: the loader, say, cannot call it."""
    cid = _one_contradiction(warehouse)
    with wh.transaction(warehouse) as cur:
        cur.execute("grant usage on schema analytics to talkwatch_loader")  # even with the schema open to it
    _assert_refused(warehouse_dsn, login(roles.LOADER_ROLE), "select analytics.triage_contradiction(%s, 'dismissed')",
                    (cid,))


def test_analyst_still_triages_after_a_remigration(warehouse, warehouse_dsn, login):
    cid = _one_contradiction(warehouse)
    name = login()
    wh.migrate(warehouse)
    conn = _connect_as(warehouse_dsn, name)
    try:
        with conn.cursor() as cur:
            cur.execute("select decision from analytics.triage_contradiction(%s, 'confirmed')", (cid,))
            assert cur.fetchone() == ("confirmed",)
        conn.commit()
    finally:
        conn.close()


# --------------------------------------------------------------------------- an analyst cannot hold the pipeline up

# the advisory lock keys the pipeline used before migration 0009 (migration, run, detection)
OLD_ADVISORY_KEYS = (727_011_001, 727_011_002, 727_011_003)


@pytest.fixture
def analyst_holding_the_advisory_keys(warehouse, warehouse_dsn, login):
    """An analyst session holding every advisory key the pipeline ever used; lock waits in this database
    give up after 3 s (so that a pipeline that still waited on them would fail, not hang)."""
    wh.migrate(warehouse)
    dbname = psycopg2.extensions.parse_dsn(warehouse_dsn)["dbname"]
    with wh.transaction(warehouse) as cur:
        cur.execute(sql.SQL("alter database {} set lock_timeout = '3s'").format(sql.Identifier(dbname)))
    conn = _connect_as(warehouse_dsn, login())
    conn.autocommit = True
    with conn.cursor() as cur:
        for key in OLD_ADVISORY_KEYS:
            cur.execute("select pg_advisory_lock(%s)", (key,))
    yield conn
    conn.close()


def test_an_analyst_cannot_make_a_run_believe_another_is_in_progress(analyst_holding_the_advisory_keys,
                                                                     warehouse_dsn):
    with wh.run_lock(warehouse_dsn) as got:
        assert got


def test_an_analyst_cannot_hold_up_contradiction_detection(analyst_holding_the_advisory_keys, warehouse,
                                                           warehouse_dsn):
    _seed_story(Loader(warehouse))
    conn = wh.connect(warehouse_dsn)
    try:
        assert len(cx.detect(conn).new_contradiction_ids) == 1
    finally:
        conn.close()


def test_an_analyst_cannot_hold_up_a_migration(analyst_holding_the_advisory_keys, warehouse, warehouse_dsn):
    with wh.transaction(warehouse) as cur:
        cur.execute("drop view analytics.status_timeline")  # something for migrate to do
    conn = wh.connect(warehouse_dsn)
    try:
        assert wh.migrate_schema(conn).views_created == ["analytics.status_timeline"]
    finally:
        conn.close()


@pytest.mark.parametrize("statement", [
    "select * from talkwatch.pipeline_locks for update",
    "select talkwatch.lock_detection()",
    "lock table talkwatch.schema_migrations in exclusive mode",
])
def test_an_analyst_cannot_take_the_pipelines_locks(warehouse, warehouse_dsn, login, statement):
    conn = _connect_as(warehouse_dsn, login())
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(statement)
    finally:
        conn.close()


def test_analyst_cannot_create_temporary_tables(warehouse, warehouse_dsn, login):
    name = login()
    wh.migrate(warehouse)
    conn = _connect_as(warehouse_dsn, name)
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute("create temporary table mine (x int)")
    finally:
        conn.close()


def test_a_loader_login_still_stages_claims_in_a_temporary_table(warehouse, warehouse_dsn, login):
    from test_warehouse import _article_row, _claim

    name = login(roles.LOADER_ROLE)
    wh.migrate(warehouse)
    with warehouse.cursor() as cur:
        cur.execute("select has_database_privilege('public', current_database(), 'temporary')")
        assert cur.fetchone() == (False,)
    warehouse.commit()
    conn = _connect_as(warehouse_dsn, name)
    try:
        with wh.transaction(conn) as cur:
            aid = _article_row(cur)
        assert wh.store_claims(conn, [(aid, [_claim()])], extractor_version="t") == 1
    finally:
        conn.close()


def test_a_migration_that_waits_for_an_analyst_fails_naming_the_analyst(warehouse, warehouse_dsn, login, tmp_path):
    import shutil

    name = login()
    sql_dir = tmp_path / "sql"
    shutil.copytree(wh.SQL_DIR, sql_dir)
    (sql_dir / "migrations" / "9999_widen_claims.sql").write_text("alter table talkwatch.claims add column mine int;\n")
    conn = _connect_as(warehouse_dsn, name)  # an analyst's open transaction that read a view of the claims
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from analytics.negotiation_claims")
        with pytest.raises(wh.WarehouseError) as failed:
            wh.migrate(warehouse, sql_dir, lock_timeout=0.2)
    finally:
        conn.close()
    message = str(failed.value)
    assert message.startswith("applying migration 9999_widen_claims.sql: no lock within 0.2 s"), message
    assert f"{name} (pid " in message and "idle in transaction" in message
    assert wh.migrate(warehouse, sql_dir) == ["9999_widen_claims.sql"]  # nothing half-done: it applies later


# --------------------------------------------------------------------------- what a password protects


def _grant_cli(env: dict[str, str], *args: str):
    import os
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "db", "grant-analyst", *args],
                          capture_output=True, text=True, env=full, timeout=120, cwd=wh.SQL_DIR.parent)


def test_grant_analyst_on_the_embedded_server_says_the_password_protects_nothing(embedded_home):
    from pipeline import embedded

    name = f"tw_analyst_{uuid.uuid4().hex[:8]}"
    out = _grant_cli({"TALKWATCH_HOME": str(embedded_home)}, name, "--password", PASSWORD)
    assert out.returncode == 0, out.stderr
    note = " ".join(out.stdout.split())
    assert "trusts every one of them (trust authentication)" in note, note
    assert f"logs in as any role, {name!r} or the superuser postgres, with any password or none" in note
    assert "here it protects nothing" in note and "TALKWATCH_DSN" in note
    server = embedded.status(embedded_home)
    assert f"in {server.socket_dir}," in note and "the folder's mode is 700" in note
    # and it is true: a wrong password lets the analyst in, and no password the superuser
    dsn = f"host={server.socket_dir} dbname=talkwatch"
    psycopg2.connect(f"{dsn} user={name} password=wrong").close()
    psycopg2.connect(f"{dsn} user=postgres").close()


def test_grant_analyst_names_the_trust_lines_of_a_servers_pg_hba(warehouse, warehouse_dsn, login):
    name = login()
    rules = roles.trust_rules(warehouse)
    if not rules:
        pytest.skip("the test server trusts no connection")
    out = _grant_cli({"TALKWATCH_DSN": warehouse_dsn}, name, "--password", PASSWORD)
    assert out.returncode == 0, out.stderr
    note = " ".join(out.stdout.split())
    assert "lets these connections in without checking any password: " + "; ".join(rules) in note, note
