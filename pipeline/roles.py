"""Warehouse roles: analyst logins that read the `analytics` views and nothing else."""

from __future__ import annotations

import logging

import psycopg2
from psycopg2 import sql

from pipeline.warehouse import WarehouseError, transaction

logger = logging.getLogger(__name__)

ANALYST_ROLE = "talkwatch_analyst"
LOADER_ROLE = "talkwatch_loader"


def grant_analyst(conn, name: str, password: str | None = None) -> None:
    """Create (or update) the LOGIN role NAME as a member of talkwatch_analyst; idempotent.

    A password, when given, is set (or replaced); without one the role keeps its password, if any
    (local trust or peer authentication needs none). The role inherits only talkwatch_analyst:
    USAGE and SELECT on schema analytics.
    """
    if not name or len(name) > 63:
        raise ValueError("an analyst role name needs 1 to 63 characters")
    if name in (ANALYST_ROLE, LOADER_ROLE):
        raise ValueError(f"{name!r} is a group role, not a login")
    role = sql.Identifier(name)
    with transaction(conn) as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", (ANALYST_ROLE,))
        if cur.fetchone() is None:
            raise WarehouseError(f"role {ANALYST_ROLE} is missing: run the migrations first")
        cur.execute("select rolsuper, rolcanlogin from pg_roles where rolname = %s", (name,))
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("create role {} login inherit").format(role))
            logger.info("created analyst login %s", name)
        elif row[0]:
            raise WarehouseError(f"{name!r} is a superuser; refusing to make it an analyst login")
        else:
            cur.execute(sql.SQL("alter role {} login inherit").format(role))
        if password is not None:
            cur.execute(sql.SQL("alter role {} password {}").format(role, sql.Literal(password)))
        cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(ANALYST_ROLE), role))


def trust_rules(conn) -> list[str] | None:
    """The server's pg_hba.conf lines that let connections in without any password (method `trust`),
    as written there ("local all all trust"); None when this login may not read them (the view
    pg_hba_file_rules is for superusers)."""
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                select type, array_to_string(database, ','), array_to_string(user_name, ','),
                       coalesce(address, ''), coalesce(netmask, '')
                  from pg_hba_file_rules
                 where auth_method = 'trust' and error is null
                 order by line_number
                """
            )
            rows = cur.fetchall()
    except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedTable):
        conn.rollback()
        return None
    conn.commit()
    return [" ".join(part for part in (*row, "trust") if part) for row in rows]
