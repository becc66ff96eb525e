"""Shared fixtures: a real PostgreSQL (embedded by default, TALKWATCH_TEST_DSN overrides), one fresh database per test."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

# Airflow reads AIRFLOW_HOME at import time: point it at a throwaway folder before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="talkwatch-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("XDG_RUNTIME_DIR", str(_AIRFLOW_HOME / "run"))
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)

import psycopg2  # noqa: E402
import pytest  # noqa: E402
from psycopg2 import sql  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TEMPLATE_DB = f"tw_template_{os.getpid()}"


def _with_db(dsn: str, dbname: str) -> str:
    """The same server DSN pointed at another database (URI or key=value forms)."""
    return psycopg2.extensions.make_dsn(dsn, dbname=dbname)


def _admin(dsn: str):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory):
    """DSN of a PostgreSQL server the tests may create databases on."""
    override = os.environ.get("TALKWATCH_TEST_DSN")
    if override:
        yield override
        return
    from pipeline import embedded

    home = Path(tempfile.mkdtemp(prefix="talkwatch-pg-", dir="/tmp"))
    server = embedded.start(home, cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()


@pytest.fixture(scope="session")
def _template_db(pg_server_dsn):
    """A migrated database that every test database is cloned from (fast CREATE DATABASE ... TEMPLATE)."""
    from pipeline import warehouse

    admin = _admin(pg_server_dsn)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(TEMPLATE_DB)))
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE_DB)))
    conn = warehouse.connect(_with_db(pg_server_dsn, TEMPLATE_DB))
    warehouse.migrate(conn)
    conn.close()
    yield TEMPLATE_DB
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(TEMPLATE_DB)))
    admin.close()


@pytest.fixture
def warehouse_dsn(pg_server_dsn, _template_db):
    """DSN of a fresh, migrated, empty warehouse database, dropped after the test."""
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(pg_server_dsn)
    with admin.cursor() as cur:
        cur.execute(
            sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(_template_db))
        )
    yield _with_db(pg_server_dsn, name)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def empty_warehouse_dsn(pg_server_dsn):
    """DSN of a fresh database on which no migration was applied, dropped after the test."""
    name = f"tw_empty_{uuid.uuid4().hex[:12]}"
    admin = _admin(pg_server_dsn)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield _with_db(pg_server_dsn, name)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def warehouse(warehouse_dsn):
    """An open connection to a fresh warehouse."""
    from pipeline import warehouse as wh

    conn = wh.connect(warehouse_dsn)
    yield conn
    conn.close()


@pytest.fixture
def embedded_home():
    """A TALKWATCH_HOME of its own for a test that starts the embedded server (under /tmp: as root the wheel
    opens every parent folder to its system user); the server is stopped and the folder removed after."""
    import shutil

    from pipeline import embedded

    path = Path(tempfile.mkdtemp(prefix="tw-home-", dir="/tmp"))
    yield path / "home"
    if embedded.running(path / "home"):
        embedded.stop(path / "home")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not beside the repository")
    return SHARED


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpInbox:
    """aiosmtpd handler that keeps every message it accepts: (recipients, raw bytes)."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; yields (controller, inbox); `controller.port` is its port."""
    from aiosmtpd.controller import Controller

    inbox = SmtpInbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield ctl, inbox
    ctl.stop()
