"""The PostgreSQL warehouse: connections, migrations, and the transactional loads of each stage."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg2 import sql

from pipeline.models import person_name_form
from pipeline.settings import SQL_DIR, Settings

if TYPE_CHECKING:
    from pipeline.articles import ArticleRecord
    from pipeline.feeds import FeedSpec, FeedState, FetchResult
    from pipeline.models import Claim

logger = logging.getLogger(__name__)

# pg advisory lock key, only while bootstrapping a database that has no talkwatch schema yet; after
# that, migrations lock talkwatch.schema_migrations and runs a row of talkwatch.pipeline_locks, which no
# analyst can take (every login may take any advisory key)
MIGRATION_LOCK = 727_011_001
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds a migration waits for a lock (TALKWATCH_LOCK_TIMEOUT)
LOCK_APPLICATION = "talkwatch-lock"  # application_name of the session that holds the run lock
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_VIEW_RE = re.compile(r"^\s*create\s+(?:or\s+replace\s+)?view\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s",
                      re.IGNORECASE | re.MULTILINE)
# a file of sql/functions/ names the function it creates, with its argument types, in its `comment on function`
_FUNCTION_COMMENT_RE = re.compile(
    r"^\s*comment\s+on\s+function\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\s*\([^)]*\))\s+is\s",
    re.IGNORECASE | re.MULTILINE)


class WarehouseError(RuntimeError):
    """A warehouse step failed; the message names the step."""


def resolve_dsn(settings: Settings | None = None) -> str:
    """TALKWATCH_DSN when set, else the embedded server under TALKWATCH_HOME (started if needed)."""
    settings = settings or Settings.from_env()
    if settings.dsn:
        return settings.dsn
    from pipeline import embedded

    return embedded.embedded_dsn(settings.home)


def connect(dsn: str, *, application_name: str = "talkwatch", read_only: bool = False):
    """A session in UTC; READ ONLY (every transaction) for the commands that only read."""
    options = "-c timezone=UTC -c temp_buffers=64MB"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return psycopg2.connect(dsn, application_name=application_name, connect_timeout=10, options=options)


@contextmanager
def transaction(conn):
    """Commit on success, roll back on any error."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        rollback_quietly(conn)
        raise


def rollback_quietly(conn) -> None:
    """Roll back if the connection is still there; a lost connection has nothing left to roll back,
    and the error that lost it is the one worth reporting."""
    if conn.closed:
        return
    try:
        conn.rollback()
    except psycopg2.Error:
        logger.warning("rollback failed: the connection to the warehouse is gone")


# --------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def list_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted((sql_dir / "migrations").glob("*.sql")):
        m = _MIGRATION_RE.match(path.name)
        if not m:
            raise WarehouseError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise WarehouseError(f"duplicate migration versions in {sql_dir / 'migrations'}")
    return found


def list_views(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted((sql_dir / "views").glob("*.sql"))


def list_functions(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The files of sql/functions/: the functions of schema analytics, the only ones analysts may call."""
    return sorted((sql_dir / "functions").glob("*.sql"))


def view_name(path: Path) -> str:
    """The qualified name of the view a file of sql/views/ creates (`analytics.contradictions`)."""
    m = _VIEW_RE.search(path.read_text(encoding="utf-8"))
    if not m:
        raise WarehouseError(f"{path.name} does not create a view (`create or replace view analytics.NAME as`)")
    return m.group(1)


def function_signature(path: Path) -> str:
    """The function a file of sql/functions/ creates, as its `comment on function` names it, argument types
    and all (`analytics.triage_contradiction(bigint, text, text)`): what migrate() records and grants."""
    m = _FUNCTION_COMMENT_RE.search(path.read_text(encoding="utf-8"))
    if not m:
        raise WarehouseError(f"{path.name} does not say which function it creates "
                             "(`comment on function analytics.NAME(argument types) is '...'`)")
    return " ".join(m.group(1).split())


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class SchemaState:
    """What migrate() would do to a warehouse (read without taking a lock or writing anything)."""

    pending: list[Migration] = field(default_factory=list)  # migrations not yet applied
    changed: list[Migration] = field(default_factory=list)  # applied migrations whose file changed since
    views: list[Path] = field(default_factory=list)  # view files whose view is missing or was created from another text
    retired: list[str] = field(default_factory=list)  # views created from a file that is gone
    functions: list[Path] = field(default_factory=list)  # function files whose function is missing or changed
    retired_functions: list[str] = field(default_factory=list)  # functions created from a file that is gone
    temp_for_public: bool = False  # PUBLIC may create temporary tables, and this login could revoke that

    @property
    def current(self) -> bool:
        return not (self.pending or self.changed or self.views or self.retired or self.functions
                    or self.retired_functions or self.temp_for_public)


# PUBLIC holds TEMPORARY on this database (PostgreSQL's default) and the current login could take it away
_PUBLIC_TEMP = """
select exists (select 1 from aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                where a.grantee = 0 and a.privilege_type = 'TEMPORARY')
       and (pg_has_role(current_user, d.datdba, 'member')
            or (select r.rolsuper from pg_roles r where r.rolname = current_user))
  from pg_database d
 where d.datname = current_database()
"""


def schema_state(conn, sql_dir: Path = SQL_DIR) -> SchemaState:
    """Compare the warehouse with the migrations, views and functions of SQL_DIR; only reads the catalog."""
    state = SchemaState()
    views = {view_name(p): p for p in list_views(sql_dir)}
    with conn.cursor() as cur:
        cur.execute("select to_regclass('talkwatch.schema_migrations') is not null, "
                    "to_regclass('talkwatch.view_definitions') is not null")
        has_migrations, has_views = cur.fetchone()
        done: dict[int, str] = {}
        if has_migrations:
            cur.execute("select version, checksum from talkwatch.schema_migrations")
            done = dict(cur.fetchall())
        for mig in list_migrations(sql_dir):
            if mig.version not in done:
                state.pending.append(mig)
            elif done[mig.version] != mig.checksum:
                state.changed.append(mig)
        recorded: dict[str, tuple[str, str]] = {}
        if has_views:
            cur.execute("select view_name, file_name, checksum from talkwatch.view_definitions")
            recorded = {name: (file_name, checksum) for name, file_name, checksum in cur.fetchall()}
        cur.execute("select n, to_regclass(n) is not null from unnest(%s::text[]) n", (list(views),))
        exists = dict(cur.fetchall())
        for name, path in views.items():
            if not exists[name] or recorded.get(name) != (path.name, _checksum(path)):
                state.views.append(path)
        state.retired = sorted(name for name in recorded if name not in views)
        functions = {p.name: p for p in list_functions(sql_dir)}
        cur.execute("select to_regclass('talkwatch.function_definitions') is not null")
        made: dict[str, tuple[str, str]] = {}
        if cur.fetchone()[0]:
            cur.execute("select file_name, function_name, checksum from talkwatch.function_definitions")
            made = {file_name: (name, checksum) for file_name, name, checksum in cur.fetchall()}
        signatures = {name: function_signature(p) for name, p in functions.items()}
        cur.execute("select s, to_regprocedure(s) is not null from unnest(%s::text[]) s",
                    (list(signatures.values()),))
        fn_exists = dict(cur.fetchall())
        for name, path in functions.items():
            if not fn_exists[signatures[name]] or made.get(name, (None, None))[1] != _checksum(path):
                state.functions.append(path)
        state.retired_functions = sorted(made[name][0] for name in made if name not in functions)
        cur.execute(_PUBLIC_TEMP)
        state.temp_for_public = bool(cur.fetchone()[0])
    conn.commit()
    return state


@dataclass
class MigrationResult:
    """What migrate_schema() did."""

    applied: list[str] = field(default_factory=list)  # migration files applied
    views_created: list[str] = field(default_factory=list)  # analyst views created or replaced
    views_dropped: list[str] = field(default_factory=list)  # views whose file is gone
    dependants_recreated: list[str] = field(default_factory=list)  # others' views rebuilt after a view was dropped
    dependants_dropped: list[str] = field(default_factory=list)  # "object: why", lost with a view that had to be dropped
    views_blocked: str | None = None  # the views were left as they were: why
    functions_created: list[str] = field(default_factory=list)  # analyst functions created or replaced
    functions_dropped: list[str] = field(default_factory=list)  # functions whose file is gone, or replaced by another signature
    temp_revoked: bool = False  # TEMPORARY on the database taken from PUBLIC

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.views_created or self.views_dropped or self.functions_created
                    or self.functions_dropped or self.temp_revoked)


def migrate(conn, sql_dir: Path = SQL_DIR, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[str]:
    """Apply pending migrations and bring the analyst views up to date; returns the migrations applied.

    See migrate_schema(), which says what else it did.
    """
    return migrate_schema(conn, sql_dir, lock_timeout=lock_timeout).applied


def migrate_schema(conn, sql_dir: Path = SQL_DIR, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> MigrationResult:
    """Bring the warehouse up to SQL_DIR: pending migrations, changed analyst views and functions, TEMPORARY
    for PUBLIC.

    A warehouse that is up to date is only read (schema_state), never locked or written, so a run
    neither waits behind an analyst's open transaction nor disturbs the views, an administrator's
    own views on top of them, or grants on them. Otherwise, in one transaction holding an
    exclusive lock on talkwatch.schema_migrations (which no analyst can take): each migration not
    yet applied, in order (a released migration whose file changed is an error: append-only); then
    each view whose file changed or whose view is missing is created with `create or replace view`
    (its grants and dependants stay). A view whose columns changed so that it cannot be replaced
    is dropped with its dependants and recreated; views of others that depended on it are rebuilt
    from their saved definitions with their owner and grants where they still fit, and what could
    not be rebuilt is logged and returned. Then each analyst function whose file changed or whose
    function is missing is created with `create or replace function`, EXECUTE on it for
    talkwatch_analyst only (_refresh_functions). Every lock is waited for at most `lock_timeout` seconds:
    a migration that waits longer fails naming the sessions in the way; views that wait longer are
    left as they were (logged; the next run tries again), and the migrations still commit.
    """
    result = MigrationResult()
    conn.rollback()
    if schema_state(conn, sql_dir).current:
        return result
    step = "taking the migration lock"
    try:
        with transaction(conn) as cur:
            cur.execute("select set_config('lock_timeout', %s, true)", (f"{max(1, round(lock_timeout * 1000))}ms",))
            _take_migration_lock(cur)
            cur.execute("select version, checksum from talkwatch.schema_migrations")
            done = dict(cur.fetchall())
            for mig in list_migrations(sql_dir):
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise WarehouseError(
                            f"migration {mig.path.name} changed after it was applied; "
                            "released migrations are append-only: add a new one"
                        )
                    continue
                step = f"applying migration {mig.path.name}"
                logger.info("applying migration %s", mig.path.name)
                cur.execute(mig.sql)
                cur.execute(
                    "insert into talkwatch.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                    (mig.version, mig.name, mig.checksum),
                )
                result.applied.append(mig.path.name)
            step = "updating the analyst views"
            cur.execute("savepoint analyst_views")
            try:
                _refresh_views(cur, sql_dir, result)
            except psycopg2.errors.LockNotAvailable:
                cur.execute("rollback to savepoint analyst_views")
                result.views_created, result.views_dropped = [], []
                result.dependants_recreated, result.dependants_dropped = [], []
                result.views_blocked = (
                    f"the analyst views were not updated: a lock on them was not granted within {lock_timeout:g} s "
                    f"(in use by {_lock_holders(cur, ['analytics'])}); they stay as they were until the next "
                    "run or `talkwatch db migrate`"
                )
                logger.warning("%s", result.views_blocked)
            else:
                cur.execute("release savepoint analyst_views")
            step = "updating the analyst functions"
            _refresh_functions(cur, sql_dir, result)
            step = "taking TEMPORARY from PUBLIC"
            result.temp_revoked = _close_temp_to_public(cur)
    except psycopg2.errors.LockNotAvailable as exc:
        holders = _lock_holders_after_error(conn, ["talkwatch", "analytics"])
        raise WarehouseError(
            f"{step}: no lock within {lock_timeout:g} s (TALKWATCH_LOCK_TIMEOUT); sessions holding locks on "
            f"the warehouse: {holders}. Nothing was changed; try again when they have finished"
        ) from exc
    for name in result.dependants_dropped:
        logger.warning("dropped with an analyst view that had to be recreated: %s", name)
    return result


def _take_migration_lock(cur) -> None:
    """Serialise migrations: an exclusive lock on talkwatch.schema_migrations (readers pass; a second
    migrator waits). A database without that table yet is bootstrapped under an advisory key."""
    cur.execute("select to_regclass('talkwatch.schema_migrations') is not null")
    if not cur.fetchone()[0]:
        cur.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        cur.execute("create schema if not exists talkwatch")
        cur.execute(
            """
            create table if not exists talkwatch.schema_migrations (
                version     integer primary key,
                name        text not null,
                checksum    text not null,
                applied_at  timestamptz not null default now()
            )
            """
        )
    cur.execute("lock table talkwatch.schema_migrations in exclusive mode")


_LOCK_HOLDERS = """
select distinct a.pid, a.usename, a.application_name, a.state, a.xact_start
  from pg_locks l
  join pg_stat_activity a on a.pid = l.pid
  join pg_class c on c.oid = l.relation
  join pg_namespace n on n.oid = c.relnamespace
 where l.granted and a.pid <> pg_backend_pid()
   and l.database = (select oid from pg_database where datname = current_database())
   and n.nspname = any (%s)
 order by a.xact_start nulls last, a.pid
"""


def _lock_holders(cur, schemas: list[str]) -> str:
    """The other sessions holding locks on relations of SCHEMAS, in words."""
    cur.execute(_LOCK_HOLDERS, (schemas,))
    rows = cur.fetchall()
    if not rows:
        return "a session that has finished meanwhile"
    out = []
    for pid, user, app, state, since in rows[:5]:
        what = f"{user or '?'} (pid {pid}"
        what += f", {app!r}" if app else ""
        what += f", {state}" if state else ""
        what += f", transaction open since {since:%Y-%m-%d %H:%M:%S %Z}" if since else ""
        out.append(what + ")")
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return ", ".join(out) + more


def _lock_holders_after_error(conn, schemas: list[str]) -> str:
    try:
        conn.rollback()
        with conn.cursor() as cur:
            text = _lock_holders(cur, schemas)
        conn.rollback()
        return text
    except psycopg2.Error:
        return "(could not be listed)"


def _close_temp_to_public(cur) -> bool:
    """Take TEMPORARY on this database from PUBLIC (PostgreSQL's default grant lets every login, the
    analysts too, create temporary tables); the loader role and this login keep it, as the claims
    load stages its rows in a temporary table. Database privileges are not part of a dump or of a
    copy made with CREATE DATABASE ... TEMPLATE, so this is checked on every migration, not once."""
    cur.execute(_PUBLIC_TEMP)
    if not cur.fetchone()[0]:
        return False
    cur.execute("select current_database(), current_user")
    database, user = cur.fetchone()
    db = sql.Identifier(database)
    cur.execute(sql.SQL("revoke temporary on database {} from public").format(db))
    cur.execute("select 1 from pg_roles where rolname = 'talkwatch_loader'")
    if cur.fetchone():
        cur.execute(sql.SQL("grant temporary on database {} to talkwatch_loader").format(db))
    cur.execute(sql.SQL("grant temporary on database {} to {}").format(db, sql.Identifier(user)))
    logger.info("TEMPORARY on database %s taken from PUBLIC (kept by talkwatch_loader and %s)", database, user)
    return True


def _refresh_views(cur, sql_dir: Path, result: MigrationResult) -> None:
    """Create or replace each analyst view whose file changed or whose view is missing; drop the views
    whose file is gone; grant talkwatch_analyst SELECT on ours (and only ours)."""
    views = {view_name(p): p for p in list_views(sql_dir)}
    cur.execute("create schema if not exists analytics")
    cur.execute("select 1 from pg_roles where rolname = 'talkwatch_analyst'")
    analyst = cur.fetchone() is not None
    if analyst:
        cur.execute("grant usage on schema analytics to talkwatch_analyst")
    cur.execute("select to_regclass('talkwatch.view_definitions') is not null")
    recording = cur.fetchone()[0]  # (not before migration 0009)
    recorded: dict[str, tuple[str, str]] = {}
    if recording:
        cur.execute("select view_name, file_name, checksum from talkwatch.view_definitions")
        recorded = {name: (file_name, checksum) for name, file_name, checksum in cur.fetchall()}
    for name in sorted(set(recorded) - set(views)):
        cur.execute(sql.SQL("drop view if exists {}").format(_qualified(name)))
        cur.execute("delete from talkwatch.view_definitions where view_name = %s", (name,))
        result.views_dropped.append(name)
    # a view dropped with another (its columns changed) is missing by the time its own file comes;
    # two passes cover a view whose file sorts before one it depends on
    for _ in range(2):
        for name, path in views.items():
            cur.execute("select to_regclass(%s) is not null", (name,))
            exists = cur.fetchone()[0]
            checksum = _checksum(path)
            if exists and recorded.get(name) == (path.name, checksum):
                continue
            _create_or_replace_view(cur, name, path.read_text(encoding="utf-8"), set(views), result)
            if recording:
                cur.execute(
                    """
                    insert into talkwatch.view_definitions (file_name, view_name, checksum) values (%s, %s, %s)
                    on conflict (view_name) do update
                       set file_name = excluded.file_name, checksum = excluded.checksum, created_at = now()
                    """,
                    (path.name, name, checksum),
                )
            recorded[name] = (path.name, checksum)
            if analyst:
                cur.execute(sql.SQL("grant select on {} to talkwatch_analyst").format(_qualified(name)))
            if name not in result.views_created:
                result.views_created.append(name)
    for name in result.views_created:
        logger.info("analyst view %s created or replaced", name)


# a function's identity as SQL can name it again: schema.name(argument types), quoted where needed
_FUNCTION_IDENTITY = """
select format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
 where p.oid = to_regprocedure(%s)
"""

# the grants on a function but its owner's and PUBLIC's (which never has EXECUTE on ours), as
# [{grantee, grantable}]: what a function dropped and created again is given back
_FUNCTION_GRANTS = """
select coalesce(jsonb_agg(jsonb_build_object('grantee', pg_get_userbyid(a.grantee), 'grantable', a.is_grantable)),
                '[]'::jsonb)
  from pg_proc p, aclexplode(p.proacl) a
 where p.oid = to_regprocedure(%s) and a.grantee not in (0, p.proowner) and a.privilege_type = 'EXECUTE'
"""


def _function_identity(cur, signature: str) -> str | None:
    cur.execute(_FUNCTION_IDENTITY, (signature,))
    row = cur.fetchone()
    return row[0] if row else None


def _drop_function(cur, identity: str, why: str) -> list[dict]:
    """Drop the function IDENTITY (never with cascade: what depends on it is named instead); returns the
    grants it had, for its successor."""
    cur.execute(_FUNCTION_GRANTS, (identity,))
    grants = cur.fetchone()[0]
    cur.execute("savepoint drop_function")
    try:
        cur.execute(sql.SQL("drop function {}").format(sql.SQL(identity)))  # identity: from format('%I…')
    except psycopg2.errors.DependentObjectsStillExist as exc:
        cur.execute("rollback to savepoint drop_function")
        detail = (exc.diag.message_detail or "").strip()
        raise WarehouseError(f"function {identity} must be dropped ({why}), but other objects depend on it: "
                             f"{detail or str(exc).strip()}") from exc
    cur.execute("release savepoint drop_function")
    return grants


def _refresh_functions(cur, sql_dir: Path, result: MigrationResult) -> None:
    """Create or replace each analyst function whose file changed or whose function is missing; drop the
    functions whose file is gone. EXECUTE on ours is taken from PUBLIC (PostgreSQL gives it to every
    role on creation, in the same transaction: it is never seen) and given to talkwatch_analyst only.

    A function replaced in place (`create or replace function`) keeps its grants and what depends on it.
    When PostgreSQL cannot replace it (its result type, parameter names or defaults changed), it is
    dropped and created again with its grants; a file that now creates another signature has the old
    function dropped, and its grants go to the new one. A function something else depends on is never
    dropped: the migration fails naming the dependants."""
    files = {p.name: p for p in list_functions(sql_dir)}
    cur.execute("select 1 from pg_roles where rolname = 'talkwatch_analyst'")
    analyst = cur.fetchone() is not None
    cur.execute("select to_regclass('talkwatch.function_definitions') is not null")
    recording = cur.fetchone()[0]  # (not before migration 0013)
    recorded: dict[str, tuple[str, str]] = {}
    if recording:
        cur.execute("select file_name, function_name, checksum from talkwatch.function_definitions")
        recorded = {file_name: (name, checksum) for file_name, name, checksum in cur.fetchall()}
    for file_name in sorted(set(recorded) - set(files)):
        identity = _function_identity(cur, recorded[file_name][0])
        if identity is not None:
            _drop_function(cur, identity, f"its file {file_name} is gone")
            result.functions_dropped.append(identity)
        cur.execute("delete from talkwatch.function_definitions where file_name = %s", (file_name,))
    for file_name, path in files.items():
        signature = function_signature(path)
        checksum = _checksum(path)
        if _function_identity(cur, signature) is not None and recorded.get(file_name, (None, None))[1] == checksum:
            continue
        text = path.read_text(encoding="utf-8")
        grants: list[dict] = []
        cur.execute("savepoint replace_function")
        try:
            cur.execute(text)
        except psycopg2.errors.InvalidFunctionDefinition as exc:
            cur.execute("rollback to savepoint replace_function")
            logger.info("function %s cannot be replaced (%s): dropping and recreating it", signature,
                        str(exc).strip())
            grants = _drop_function(cur, _function_identity(cur, signature), "it cannot be replaced in place")
            cur.execute(text)
        else:
            cur.execute("release savepoint replace_function")
        identity = _function_identity(cur, signature)
        if identity is None:  # (its own `comment on function` would have failed first)
            raise WarehouseError(f"{path.name} did not create the function its comment names, {signature}")
        previous = _function_identity(cur, recorded[file_name][0]) if file_name in recorded else None
        if previous is not None and previous != identity:  # the file now creates another signature
            grants += _drop_function(cur, previous, f"{file_name} now creates {identity}")
            result.functions_dropped.append(previous)
        function = sql.SQL(identity)  # from format('%I.%I(%s)') of the catalog
        cur.execute(sql.SQL("revoke all on function {} from public").format(function))
        for grant in grants:
            cur.execute(sql.SQL("grant execute on function {} to {}{}").format(
                function, sql.Identifier(grant["grantee"]),
                sql.SQL(" with grant option") if grant["grantable"] else sql.SQL("")))
        if analyst:
            cur.execute(sql.SQL("grant execute on function {} to talkwatch_analyst").format(function))
        if recording:
            cur.execute(
                """
                insert into talkwatch.function_definitions (file_name, function_name, checksum) values (%s, %s, %s)
                on conflict (file_name) do update
                   set function_name = excluded.function_name, checksum = excluded.checksum, created_at = now()
                """,
                (file_name, identity, checksum),
            )
        result.functions_created.append(identity)
        logger.info("analyst function %s created or replaced", identity)


def _qualified(name: str) -> sql.Composable:
    return sql.Identifier(*name.split(".", 1))


def _create_or_replace_view(cur, name: str, text: str, ours: set[str], result: MigrationResult) -> None:
    """Run a view file (`create or replace view`); when PostgreSQL refuses to replace the view (a column
    removed, renamed or retyped), drop it with its dependants, create it, and rebuild the dependants."""
    cur.execute("savepoint replace_view")
    try:
        cur.execute(text)
    except psycopg2.errors.InvalidTableDefinition as exc:
        cur.execute("rollback to savepoint replace_view")
        logger.info("view %s cannot be replaced (%s): dropping and recreating it", name, str(exc).strip())
        _rebuild_view(cur, name, text, ours, result)
    else:
        cur.execute("release savepoint replace_view")


# The grants on a relation but its owner's own, as [{privilege, grantee (null: PUBLIC), grantable}]
_GRANTS = """
coalesce((select jsonb_agg(jsonb_build_object(
                  'privilege', a.privilege_type,
                  'grantee', case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end,
                  'grantable', a.is_grantable))
            from aclexplode(c.relacl) a
           where a.grantee <> c.relowner), '[]'::jsonb)
"""

# The views and materialized views that depend on a view, directly or not, in an order they can be
# created in (by depth), with what it takes to create them again
_DEPENDANTS = f"""
with recursive deps (oid, depth) as (
    select r.ev_class, 1
      from pg_depend d
      join pg_rewrite r on r.oid = d.objid
     where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
       and d.refobjid = %(view)s::regclass and r.ev_class <> %(view)s::regclass
    union
    select r.ev_class, deps.depth + 1
      from deps
      join pg_depend d on d.refobjid = deps.oid and d.refclassid = 'pg_class'::regclass
                      and d.classid = 'pg_rewrite'::regclass
      join pg_rewrite r on r.oid = d.objid
     where r.ev_class <> deps.oid
)
select format('%%I.%%I', n.nspname, c.relname), c.relkind, pg_get_viewdef(c.oid),
       pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class'), {_GRANTS}
  from (select oid, max(depth) as depth from deps group by oid) x
  join pg_class c on c.oid = x.oid
  join pg_namespace n on n.oid = c.relnamespace
 order by x.depth, c.oid
"""


@dataclass
class _SavedView:
    name: str
    kind: str  # 'v' view, 'm' materialized view
    definition: str
    owner: str
    comment: str | None
    grants: list[dict]  # {privilege, grantee (None: PUBLIC), grantable}


def _rebuild_view(cur, name: str, text: str, ours: set[str], result: MigrationResult) -> None:
    cur.execute("select current_setting('search_path')")
    search_path = cur.fetchone()[0]
    # definitions with every name schema-qualified, so that they mean the same when run again
    cur.execute("select set_config('search_path', '', true)")
    cur.execute(_DEPENDANTS, {"view": name})
    saved = [_SavedView(*row) for row in cur.fetchall()]
    cur.execute(f"select {_GRANTS} from pg_class c where c.oid = %s::regclass", (name,))  # noqa: S608 - fixed text
    own_grants = cur.fetchone()[0]
    cur.execute("select set_config('search_path', %s, true)", (search_path,))
    notices_before = len(cur.connection.notices)
    cur.execute(sql.SQL("drop view {} cascade").format(_qualified(name)))
    cascaded = [n for n in cur.connection.notices[notices_before:] if "drop cascades to" in n]
    cur.execute(text)
    for grant in own_grants:
        _regrant(cur, name, grant)
    rebuilt = {name} | {v.name for v in saved}
    for notice in cascaded:  # objects other than views went too (a rule, a function's body...)
        for what in re.findall(r"drop cascades to (.+)", notice):
            what = what.strip()
            if re.fullmatch(r"\d+ other objects", what):  # the count; the objects follow one a line
                continue
            if not any(what.endswith(f" {v}") or what.endswith(f" {v.split('.', 1)[1]}") for v in rebuilt):
                result.dependants_dropped.append(f"{what}: depended on {name}")
    for view in saved:
        if view.name in ours:
            continue  # one of the analyst views: its own file creates it again
        kind = "materialized view" if view.kind == "m" else "view"
        cur.execute("savepoint dependant")
        try:
            cur.execute(sql.SQL("create {} {} as {}").format(
                sql.SQL(kind), _qualified(view.name), sql.SQL(view.definition.strip().rstrip(";"))))
        except psycopg2.Error as exc:
            cur.execute("rollback to savepoint dependant")
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            result.dependants_dropped.append(f"{kind} {view.name}: it no longer fits the new {name} ({reason})")
            continue
        cur.execute("release savepoint dependant")
        cur.execute("savepoint dependant_rights")
        try:
            if view.comment is not None:
                cur.execute(sql.SQL("comment on {} {} is {}").format(
                    sql.SQL(kind), _qualified(view.name), sql.Literal(view.comment)))
            cur.execute(sql.SQL("alter {} {} owner to {}").format(
                sql.SQL(kind), _qualified(view.name), sql.Identifier(view.owner)))
            for grant in view.grants:
                _regrant(cur, view.name, grant)
        except psycopg2.Error as exc:
            cur.execute("rollback to savepoint dependant_rights")
            logger.warning("view %s was rebuilt, but its owner, comment or grants could not be restored: %s",
                           view.name, str(exc).strip())
        else:
            cur.execute("release savepoint dependant_rights")
        result.dependants_recreated.append(view.name)
        logger.warning("view %s depended on %s, which had to be dropped and recreated: rebuilt from its "
                       "saved definition", view.name, name)


def _regrant(cur, name: str, grant: dict) -> None:
    """Re-apply one saved grant on the relation NAME."""
    grantee = grant["grantee"]
    cur.execute(sql.SQL("grant {} on {} to {}{}").format(
        sql.SQL(grant["privilege"]),  # a privilege keyword from aclexplode
        _qualified(name),
        sql.SQL("public") if grantee is None else sql.Identifier(grantee),
        sql.SQL(" with grant option") if grant["grantable"] else sql.SQL(""),
    ))


def connect_migrated(settings: Settings | None = None):
    """Resolve the DSN, connect, migrate; returns (dsn, conn)."""
    settings = settings or Settings.from_env()
    dsn = resolve_dsn(settings)
    try:
        conn = connect(dsn)
    except psycopg2.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse: {str(exc).strip()}") from exc
    try:
        migrate(conn, lock_timeout=settings.lock_timeout)
    except BaseException:
        conn.close()
        raise
    return dsn, conn


def connect_readonly(settings: Settings | None = None):
    """Resolve the DSN and open a read-only session (every transaction READ ONLY) on a warehouse whose
    migrations are applied; returns (dsn, conn). Never migrates, locks or writes anything: the
    commands that only read (counts, report, contradictions, feeds, export-feedback) use it."""
    settings = settings or Settings.from_env()
    dsn = resolve_dsn(settings)
    try:
        conn = connect(dsn, read_only=True)
    except psycopg2.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse: {str(exc).strip()}") from exc
    try:
        state = schema_state(conn)
    except BaseException:
        conn.close()
        raise
    if state.pending or state.changed:
        conn.close()
        if len(state.pending) == len(list_migrations()):
            raise WarehouseError("the warehouse has no talkwatch schema yet: run `talkwatch db migrate` "
                                 "(or `talkwatch run`) first")
        raise WarehouseError(
            f"the warehouse schema is older than this talkwatch ({len(state.pending)} migration(s) pending: "
            f"{', '.join(m.path.name for m in state.pending) or 'changed files'}): run `talkwatch db migrate`"
        )
    return dsn, conn


# --------------------------------------------------------------------------- runs


def start_run(conn, *, kind: str = "cli", logical_date=None) -> int:
    with transaction(conn) as cur:
        cur.execute(
            "insert into talkwatch.runs (kind, logical_date) values (%s, %s) returning run_id",
            (kind, logical_date),
        )
        return cur.fetchone()[0]


def finish_run(conn, run_id: int, *, status: str, summary: dict | None = None, error: str | None = None) -> None:
    conn.rollback()
    with transaction(conn) as cur:
        cur.execute(
            """
            update talkwatch.runs
               set finished_at = now(), status = %s, summary = %s, error = %s
             where run_id = %s
            """,
            (status, json.dumps(_json_text(summary or {}), default=str), _pg_text(error), run_id),
        )


def close_abandoned_runs(conn, *, kind: str) -> list[int]:
    """Record runs of KIND still marked 'running' as failed (call it holding the run lock, which every
    run of that kind takes: such a run was killed or lost the warehouse before it could finish)."""
    with transaction(conn) as cur:
        cur.execute(
            """
            update talkwatch.runs
               set status = 'failed', finished_at = now(),
                   error = 'abandoned: the run ended without recording an outcome (process killed, '
                           || 'or the warehouse connection lost); found at the start of a later run'
             where kind = %s and status = 'running'
            returning run_id
            """,
            (kind,),
        )
        return sorted(r[0] for r in cur.fetchall())


@contextmanager
def run_lock(dsn: str, *, wait: bool = False) -> Iterator[bool]:
    """One nightly run at a time: yields whether this process holds the run lock.

    The lock is a row lock on talkwatch.pipeline_locks ('run'), held by a session of its own for as
    long as the block runs (the run's own session commits step by step); it ends with that session,
    so a killed run frees it. Analysts cannot take it (no access to schema talkwatch), unlike an
    advisory lock. Without `wait` a lock held by another run gives False at once; with it, this
    waits for that run (only a talkwatch run can hold the lock).
    """
    holder = connect(dsn, application_name=LOCK_APPLICATION)
    try:
        with holder.cursor() as cur:
            # the session idles in its transaction all night: no server-side timeout may end it
            cur.execute("set idle_in_transaction_session_timeout = 0")
            cur.execute("set lock_timeout = 0")
            try:
                cur.execute("select 1 from talkwatch.pipeline_locks where lock_name = 'run' for update"
                            + ("" if wait else " nowait"))
                if cur.fetchone() is None:
                    raise WarehouseError("talkwatch.pipeline_locks has no 'run' row: run `talkwatch db migrate`")
                got = True
            except psycopg2.errors.LockNotAvailable:
                got = False
        if not got:
            holder.rollback()
        yield got
    finally:
        holder.close()  # ends its transaction, and the row lock with it


# --------------------------------------------------------------------------- feeds


def upsert_feed(conn, spec: FeedSpec) -> int:
    with transaction(conn) as cur:
        cur.execute(
            """
            insert into talkwatch.feeds (url, outlet, language) values (%s, %s, %s)
            on conflict (url) do update
               set outlet = excluded.outlet,
                   language = coalesce(excluded.language, talkwatch.feeds.language)
            returning feed_id
            """,
            (spec.url, spec.outlet, spec.language),
        )
        return cur.fetchone()[0]


def feed_state(conn, feed_id: int) -> FeedState:
    from pipeline.feeds import FeedState

    with conn.cursor() as cur:
        cur.execute(
            "select etag, last_modified, current_url from talkwatch.feeds where feed_id = %s", (feed_id,)
        )
        row = cur.fetchone()
    conn.commit()
    if row is None:
        raise WarehouseError(f"feed {feed_id} is not in the warehouse")
    return FeedState(etag=row[0], last_modified=row[1], current_url=row[2])


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def store_fetch(
    conn, feed_id: int, run_id: int | None, result: FetchResult, articles: Iterable[ArticleRecord]
) -> dict:
    """Record one fetch and store its articles in one transaction; returns counts.

    Articles are unique on canonical URL; a story already stored (same canonical URL, or same
    content hash from another feed) only gains a sighting. Feed health is updated here.
    """
    articles = list(articles)
    new = skipped = 0
    rejected: list[str] = []
    with transaction(conn) as cur:
        for art in articles:
            # one article the database refuses (a value it cannot store) is rejected with its
            # reason in the fetch's warnings; it must not lose the feed's other articles
            cur.execute("savepoint store_article")
            try:
                article_id, created = _upsert_article(cur, art, run_id)
                cur.execute(
                    """
                    insert into talkwatch.article_sightings (article_id, feed_id, guid, run_id)
                    values (%s, %s, %s, %s)
                    on conflict (article_id, feed_id) do nothing
                    """,
                    (article_id, feed_id, art.guid, run_id),
                )
            except (ValueError, psycopg2.DataError, psycopg2.IntegrityError) as exc:
                cur.execute("rollback to savepoint store_article")
                reason = f"article {_pg_text(art.canonical_url)[:300]!r} rejected: {type(exc).__name__}: " \
                         f"{_pg_text(str(exc)).strip()[:300]}"
                logger.warning("%s", reason)
                rejected.append(reason)
                continue
            cur.execute("release savepoint store_article")
            new += int(created)
            skipped += int(created and bool(art.skip_reason))
        ok = result.status in ("ok", "not_modified")
        cur.execute(
            """
            insert into talkwatch.feed_fetches
                (feed_id, run_id, status, http_status, final_url, bytes, duration_ms,
                 entries_seen, entries_new, error, warnings)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                feed_id, run_id, result.status, result.http_status, _pg_text(result.final_url), result.bytes,
                result.duration_ms, len(result.entries), new, _pg_text(result.error),
                [_pg_text(w) for w in [*(result.warnings or []), *rejected]],
            ),
        )
        cur.execute(
            """
            update talkwatch.feeds
               set last_status = %(status)s,
                   last_error = %(error)s,
                   last_fetch_at = now(),
                   last_success_at = case when %(ok)s then now() else last_success_at end,
                   consecutive_failures = case when %(ok)s then 0 else consecutive_failures + 1 end,
                   etag = case when %(ok)s then coalesce(%(etag)s, etag) else etag end,
                   last_modified = case when %(ok)s then coalesce(%(lm)s, last_modified) else last_modified end,
                   current_url = case when %(perm)s then %(final)s else current_url end
             where feed_id = %(feed_id)s
            """,
            {
                "status": result.status, "error": _pg_text(result.error), "ok": ok,
                "etag": _pg_text(result.etag), "lm": _pg_text(result.last_modified),
                "perm": bool(result.permanent_redirect), "final": _pg_text(result.final_url),
                "feed_id": feed_id,
            },
        )
    return {"entries_seen": len(result.entries), "articles_new": new, "articles_skipped": skipped,
            "articles_rejected": len(rejected)}


def _json_text(value):
    """VALUE with NUL characters removed from every string (jsonb refuses \\u0000 too)."""
    if isinstance(value, str):
        return _pg_text(value)
    if isinstance(value, dict):
        return {_json_text(k): _json_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_text(v) for v in value]
    return value


def _pg_text(value: str | None) -> str | None:
    """A server-sent string as PostgreSQL text can hold it: without NUL characters (a hostile
    ETag or error text must not fail the fetch's record)."""
    return value.replace("\x00", "") if value and "\x00" in value else value


# Below this many characters of text, equal content is no evidence of the same story ("Live updates").
MIN_TEXT_FOR_HASH_DEDUP = 200


def _upsert_article(cur, art: ArticleRecord, run_id: int | None) -> tuple[int, bool]:
    """Insert an article unless the same story is stored: same canonical URL, or (for texts long
    enough to tell stories apart) the same content hash, e.g. one wire story on two outlets' URLs."""
    by_hash = len(art.text or "") >= MIN_TEXT_FOR_HASH_DEDUP
    cur.execute(
        "select article_id from talkwatch.articles where canonical_url = %s or (%s and content_hash = %s) "
        "order by (canonical_url = %s) desc, article_id limit 1",
        (art.canonical_url, by_hash, art.content_hash, art.canonical_url),
    )
    row = cur.fetchone()
    if row:
        return row[0], False
    skip = art.skip_reason
    cur.execute(
        """
        insert into talkwatch.articles
            (canonical_url, url, outlet, title, body, text_source, content_hash, published_at,
             published_estimated, first_run_id, language, guid, fulltext_error,
             extract_status, extract_reason)
        values (%s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s)
        on conflict (canonical_url) do nothing
        returning article_id
        """,
        (
            art.canonical_url, art.url, art.outlet, art.title, art.text, art.text_source,
            art.content_hash, _utc(art.published_at), art.published_at is None, run_id, art.language,
            art.guid, art.fulltext_error, "skipped" if skip else "pending", skip,
        ),
    )
    row = cur.fetchone()
    if row:
        return row[0], True
    cur.execute("select article_id from talkwatch.articles where canonical_url = %s", (art.canonical_url,))
    return cur.fetchone()[0], False


class KnownArticles:
    """`url in KnownArticles(conn)`: is an article with this canonical URL stored? (skips page fetches)"""

    def __init__(self, conn):
        self.conn = conn

    def __contains__(self, canonical_url: object) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("select 1 from talkwatch.articles where canonical_url = %s", (canonical_url,))
            return cur.fetchone() is not None


# --------------------------------------------------------------------------- claims


@dataclass
class PendingArticle:
    article_id: int
    outlet: str
    url: str
    published_at: datetime
    title: str
    body: str


def pending_articles(conn, *, limit: int | None = None) -> list[PendingArticle]:
    """Articles stored but not yet extracted, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            """
            select article_id, outlet, url, published_at, title, body
              from talkwatch.articles
             where extract_status = 'pending'
             order by article_id
             limit %s
            """,
            (limit,),
        )
        rows = [PendingArticle(*r) for r in cur.fetchall()]
    conn.commit()
    return rows


def claim_key(claim: Claim) -> str:
    payload = json.dumps(
        [claim.parties, claim.status, claim.topic, claim.source_key, claim.event_time, claim.evidence],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


# the columns a claims load writes (published_at comes from the article), in the staging table's order
_CLAIM_LOAD_COLUMNS = (
    "article_id", "claim_index", "claim_key", "parties", "parties_key", "status", "topic", "source", "source_key",
    "source_org", "reported_by", "mediator", "venue", "hedged", "event_time", "evidence", "extractor_version", "run_id",
    "confidence",
)
_CLAIMS_STAGING = """
create temp table tw_claims_in (
    ord bigint, article_id bigint, claim_index integer, claim_key text, parties text[], parties_key text,
    status text, topic text, source text, source_key text, source_org text, reported_by text, mediator text,
    venue text, hedged boolean, event_time text, evidence text, extractor_version text, run_id bigint,
    confidence real, person text, surname_key text
) on commit drop
"""
# A person's full name, recorded under its surname's key for the claims' parties (0008_person_names) ...
_RECORD_PERSON_NAMES = """
insert into talkwatch.person_names (parties_key, surname_key, source_key, source)
select distinct on (parties_key, surname_key, source_key) parties_key, surname_key, source_key, source
  from tw_claims_in
 where person = 'full'
 order by parties_key, surname_key, source_key, ord
on conflict do nothing
"""
# ... and a surname-only person source takes the key of the one full name known with that surname
_RESOLVE_SURNAMES = """
update tw_claims_in v
   set source_key = p.source_key, source = p.source
  from (select n.parties_key, n.surname_key, min(n.source_key) as source_key, min(n.source) as source
          from talkwatch.person_names n
          join (select distinct parties_key, source_key from tw_claims_in where person = 'surname') s
            on s.parties_key = n.parties_key and s.source_key = n.surname_key
         group by n.parties_key, n.surname_key
        having count(*) = 1) p
 where v.person = 'surname' and v.parties_key = p.parties_key and v.source_key = p.surname_key
"""

_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x00]")


def _copy_field(value) -> str:
    """One value in COPY's text format (NULL as \\N; backslash, tab, newline, CR escaped)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, list):  # text[]: quoted elements, then escaped as a whole
        value = "{" + ",".join('"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in value) + "}"
    text = value if isinstance(value, str) else str(value)
    if _COPY_SPECIAL.search(text) is None:
        return text
    if "\x00" in text:  # as psycopg2 refuses it in a query: PostgreSQL text cannot hold NUL
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def store_claims(
    conn,
    results: Iterable[tuple[int, list[Claim]]],
    *,
    extractor_version: str,
    run_id: int | None = None,
    before_commit: Callable[[], None] | None = None,
) -> int:
    """Store the claims of extracted articles and mark the articles done, in one transaction.

    Idempotent: claims are unique per (article, content key), and only pending articles change.
    Returns the number of claims inserted. `before_commit` runs inside the open transaction, after
    the writes (the fault-injection tests kill the process there).

    The rows are COPYed into a temporary staging table, then inserted in one statement (in input
    order, so claim ids follow the articles and claim indexes): a tenth of the round trips and
    none of the per-row quoting of a multi-row INSERT.
    """
    buf = io.StringIO()
    done_ids = []
    n_rows = 0
    any_person = False
    for article_id, claims in results:
        done_ids.append(article_id)
        for i, c in enumerate(claims):
            form = person_name_form(c)  # (0008_person_names: full names recorded, surnames resolved)
            any_person = any_person or form is not None
            row = (
                n_rows, article_id, i, claim_key(c), list(c.parties), "|".join(c.parties), c.status, c.topic,
                c.source, c.source_key, c.source_org, c.reported_by, c.mediator, c.venue, c.hedged,
                c.event_time, c.evidence, extractor_version, run_id, c.confidence, *(form or (None, None)),
            )
            buf.write("\t".join(map(_copy_field, row)))
            buf.write("\n")
            n_rows += 1
    inserted = 0
    with transaction(conn) as cur:
        if n_rows:
            buf.seek(0)
            cur.execute(_CLAIMS_STAGING)
            cur.copy_expert("copy tw_claims_in from stdin", buf)
            if any_person:
                cur.execute(_RECORD_PERSON_NAMES)
                cur.execute(_RESOLVE_SURNAMES)
            columns = ", ".join(_CLAIM_LOAD_COLUMNS)
            cur.execute(
                f"""
                insert into talkwatch.claims ({columns}, published_at)
                select {", ".join(f"v.{c}" for c in _CLAIM_LOAD_COLUMNS)}, a.published_at
                  from tw_claims_in v
                  join talkwatch.articles a on a.article_id = v.article_id
                 where a.extract_status = 'pending'
                 order by v.ord
                on conflict (article_id, claim_key) do nothing
                """  # noqa: S608 - fixed column names
            )
            inserted = cur.rowcount
            cur.execute("drop table tw_claims_in")
        if done_ids:
            cur.execute(
                """
                update talkwatch.articles
                   set extract_status = 'done', extracted_at = now(), extractor_version = %s
                 where article_id = any(%s) and extract_status = 'pending'
                """,
                (extractor_version, done_ids),
            )
        if before_commit is not None:
            before_commit()
    return inserted


def mark_extract_failed(conn, article_id: int, reason: str) -> None:
    with transaction(conn) as cur:
        cur.execute(
            "update talkwatch.articles set extract_status = 'failed', extract_reason = %s "
            "where article_id = %s and extract_status = 'pending'",
            (reason[:2000], article_id),
        )


def table_counts(conn) -> dict[str, int]:
    """Row counts of the core tables (for summaries and idempotency checks)."""
    names = ["feeds", "feed_fetches", "articles", "article_sightings", "claims", "contradictions",
             "contradiction_evidence", "alerts", "runs"]
    out = {}
    with conn.cursor() as cur:
        for name in names:
            cur.execute(f"select count(*) from talkwatch.{name}")  # noqa: S608 - fixed names
            out[name] = cur.fetchone()[0]
    conn.commit()
    return out


@contextmanager
def scratch_database(dsn: str, prefix: str = "talkwatch_scratch") -> Iterator[str]:
    """Create a throwaway, migrated database on the server of DSN; yield its DSN; drop it after."""
    import uuid

    from psycopg2 import sql

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        scratch = psycopg2.extensions.make_dsn(dsn, dbname=name)
        conn = connect(scratch)
        try:
            migrate(conn)
        finally:
            conn.close()
        yield scratch
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.close()


def import_articles(conn, articles: Iterable, *, run_id: int | None = None) -> dict[str, int]:
    """Store ready-made articles (eval gold, `talkwatch extract` inputs) as pending; id -> article_id."""
    from pipeline.models import Article

    ids: dict[str, int] = {}
    with transaction(conn) as cur:
        for a in articles:
            assert isinstance(a, Article)
            url = a.url or f"urn:talkwatch:import:{a.id}"
            published = a.published
            if isinstance(published, str) and published:
                published = datetime.fromisoformat(published[:19]) if "T" in published else published[:10]
            cur.execute(
                """
                insert into talkwatch.articles
                    (canonical_url, url, outlet, title, body, text_source, content_hash, published_at,
                     first_run_id, guid)
                values (%s, %s, %s, %s, %s, 'import', %s, coalesce(%s::timestamptz, now()), %s, %s)
                on conflict (canonical_url) do update set guid = excluded.guid
                returning article_id
                """,
                (
                    f"urn:talkwatch:import:{a.id}", url, a.outlet, a.title, a.text,
                    hashlib.sha256(f"{a.title}\n{a.text}".encode()).hexdigest(),
                    published or None, run_id, a.id,
                ),
            )
            ids[a.id] = cur.fetchone()[0]
    return ids
