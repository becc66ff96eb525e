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
        "update talkwatch.claims set checked_at = null",
        "delete from talkwatch.contradiction_evidence",
        "create table analytics.mine (x int)",
        "create table public.mine (x int)",
        "create view analytics.mine as select 1 as x",
        "drop view analytics.contradictions",
        "create schema mine",
    ],
)
def test_analyst_cannot_read_the_tables_nor_write_anything(warehouse_dsn, login, statement):
    conn = _connect_as(warehouse_dsn, login())
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(statement)
    finally:
        conn.close()


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
