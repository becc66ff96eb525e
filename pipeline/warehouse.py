"""The PostgreSQL warehouse: connections, migrations, and the transactional loads of each stage."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
import psycopg2.extras

from pipeline.models import person_name_form
from pipeline.settings import SQL_DIR, Settings

if TYPE_CHECKING:
    from pipeline.articles import ArticleRecord
    from pipeline.feeds import FeedSpec, FeedState, FetchResult
    from pipeline.models import Claim

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 727_011_001  # pg advisory lock key for migrations
RUN_LOCK = 727_011_002  # pg advisory lock key: one nightly run at a time
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class WarehouseError(RuntimeError):
    """A warehouse step failed; the message names the step."""


def resolve_dsn(settings: Settings | None = None) -> str:
    """TALKWATCH_DSN when set, else the embedded server under TALKWATCH_HOME (started if needed)."""
    settings = settings or Settings.from_env()
    if settings.dsn:
        return settings.dsn
    from pipeline import embedded

    return embedded.embedded_dsn(settings.home)


def connect(dsn: str, *, application_name: str = "talkwatch"):
    conn = psycopg2.connect(
        dsn, application_name=application_name, connect_timeout=10, options="-c timezone=UTC -c temp_buffers=64MB"
    )
    return conn


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


def list_analyst_functions(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The functions of schema analytics (sql/functions/), created after the views: what analysts may call."""
    return sorted((sql_dir / "functions").glob("*.sql"))


def migrate(conn, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations in order under an advisory lock, then recreate the analyst views.

    Returns the names of the migrations applied. A released migration whose file changed is an
    error (migrations are append-only).
    """
    applied_now: list[str] = []
    conn.rollback()
    with transaction(conn) as cur:
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
            logger.info("applying migration %s", mig.path.name)
            cur.execute(mig.sql)
            cur.execute(
                "insert into talkwatch.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                (mig.version, mig.name, mig.checksum),
            )
            applied_now.append(mig.path.name)
        recreate_views(cur, sql_dir)
    return applied_now


def recreate_views(cur, sql_dir: Path = SQL_DIR) -> None:
    """Drop and recreate the analyst schema's views and functions (replaceable schema), then re-grant.

    Functions are executable by PUBLIC when created: that is taken away, and only the analyst role may
    call them (analytics.triage_contradiction, the one thing it may write through)."""
    views = list_views(sql_dir)
    functions = list_analyst_functions(sql_dir)
    cur.execute("drop schema if exists analytics cascade")
    cur.execute("create schema analytics")
    for path in [*views, *functions]:
        cur.execute(path.read_text(encoding="utf-8"))
    cur.execute("revoke all on all functions in schema analytics from public")
    cur.execute("select 1 from pg_roles where rolname = 'talkwatch_analyst'")
    if cur.fetchone():
        cur.execute("grant usage on schema analytics to talkwatch_analyst")
        cur.execute("grant select on all tables in schema analytics to talkwatch_analyst")
        cur.execute("grant execute on all functions in schema analytics to talkwatch_analyst")


def connect_migrated(settings: Settings | None = None):
    """Resolve the DSN, connect, migrate; returns (dsn, conn)."""
    dsn = resolve_dsn(settings)
    try:
        conn = connect(dsn)
    except psycopg2.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse: {str(exc).strip()}") from exc
    migrate(conn)
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
def run_lock(conn, *, wait: bool = False) -> Iterator[bool]:
    """Session advisory lock so that two nightly runs never interleave; yields whether it was taken."""
    with conn.cursor() as cur:
        if wait:
            cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK,))
            got = True
        else:
            cur.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK,))
            got = cur.fetchone()[0]
    conn.commit()
    try:
        yield got
    finally:
        if got and not conn.closed:
            try:
                conn.rollback()
                with conn.cursor() as cur:
                    cur.execute("select pg_advisory_unlock(%s)", (RUN_LOCK,))
                conn.commit()
            except psycopg2.Error:  # the session is gone, and its lock with it
                logger.warning("could not release the run lock: the connection is gone")


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
