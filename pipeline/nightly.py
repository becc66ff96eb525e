"""The nightly job as plain functions: fetch → store → extract → load → detect → alert.

`talkwatch run` calls `run_night`; the Airflow DAGs call the step functions one task each.
Every step is its own transaction and idempotent, so a crash or a re-run loses and repeats nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from pipeline import warehouse as wh
from pipeline.settings import SAMPLE_FEEDS_FILE, Settings

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


class StepError(RuntimeError):
    """A step of the nightly job failed; the message names the step."""

    def __init__(self, step: str, cause: BaseException, *, run_id: int | None = None):
        self.step = step
        self.run_id = run_id
        super().__init__(f"step '{step}' failed: {type(cause).__name__}: {str(cause).strip()}")


class RunInProgress(RuntimeError):
    """Another run holds the warehouse's run lock."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd stopping the service, `timeout`), raised like Ctrl-C's KeyboardInterrupt so that the
    run records how it ended (`talkwatch run` installs the handler)."""


# how a night ended, in NightSummary.status (and `talkwatch run`'s exit status, README "Exit status")
NIGHT_OK = "ok"
NIGHT_FEEDS_FAILED = "feeds_failed"  # every feed failed: nothing new was read
NIGHT_ALERT_FAILED = "alert_failed"  # the digest could not be sent: its contradictions stay pending


@dataclass
class NightSummary:
    run_id: int | None = None
    feeds: int = 0
    feeds_failed: int = 0
    entries_seen: int = 0
    articles_new: int = 0
    articles_rejected: int = 0
    articles_skipped: int = 0  # stored, not extracted: the recorded reason says why (e.g. not English)
    articles_extracted: int = 0
    articles_failed: int = 0
    claims: int = 0
    contradictions_new: int = 0
    evidence_attached: int = 0
    mails_sent: int = 0
    contradictions_held: int = 0  # unmailed: under the alert threshold (TALKWATCH_ALERT_MIN_CONFIDENCE)
    alert_error: str | None = None
    alert_failed: bool = False  # a digest was due and the SMTP server did not take it (not: SMTP not configured)
    status: str = NIGHT_OK  # NIGHT_OK, NIGHT_FEEDS_FAILED or NIGHT_ALERT_FAILED
    failing_feeds: list[dict] = field(default_factory=list)
    feed_results: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _noop(_msg: str) -> None:
    pass


def _pause_for_tests(point: str) -> None:
    """Fault-injection hook: with TALKWATCH_TEST_PAUSE_AT=<point>, wait here until the file
    TALKWATCH_TEST_PAUSE_FILE disappears (tests kill the process meanwhile). Inert otherwise.
    Points: `load_claims` (claims extracted, their load not begun) and `load_claims_commit` (the
    load's transaction written, not committed)."""
    if os.environ.get("TALKWATCH_TEST_PAUSE_AT") != point:
        return
    flag = Path(os.environ.get("TALKWATCH_TEST_PAUSE_FILE", "/nonexistent"))
    (flag.parent / f"{flag.name}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


# --------------------------------------------------------------------------- steps


def load_feeds_config(feeds_file: str | Path | None = None):
    from pipeline.feeds import load_feeds_file

    return load_feeds_file(Path(feeds_file) if feeds_file else SAMPLE_FEEDS_FILE)


def ingest_feeds(conn, config, settings: Settings, *, run_id: int | None, progress: Progress = _noop) -> list[dict]:
    """Fetch every feed (in parallel, polite per host), store its articles; one transaction per feed.

    A failed feed is recorded against the feed and never stops the others.
    """
    from pipeline.feeds import fetch_feeds

    specs = list(config.feeds)
    feed_ids = [wh.upsert_feed(conn, spec) for spec in specs]
    states = [wh.feed_state(conn, fid) for fid in feed_ids]
    progress(f"fetching {len(specs)} feeds")
    results = fetch_feeds(list(zip(specs, states, strict=True)), settings.fetch)
    out = []
    for feed_id, spec, result in zip(feed_ids, specs, results, strict=True):
        out.append(store_feed_result(conn, feed_id, result, settings, config=config, run_id=run_id))
        row = out[-1]
        mark = "ok " if row["status"] != "error" else "ERR"
        detail = row["error"] if row["status"] == "error" else f"{row['entries_seen']} entries, {row['articles_new']} new"
        progress(f"  {mark} {spec.outlet}: {detail}")
    return out


def fetch_one_feed(conn, spec, settings: Settings, *, config=None, run_id: int | None = None) -> dict:
    """Fetch and store a single feed (the Airflow mapped task)."""
    from pipeline.feeds import fetch_feed

    feed_id = wh.upsert_feed(conn, spec)
    result = fetch_feed(spec, wh.feed_state(conn, feed_id), settings.fetch)
    return store_feed_result(conn, feed_id, result, settings, config=config, run_id=run_id)


def store_feed_result(conn, feed_id: int, result, settings: Settings, *, config=None, run_id: int | None) -> dict:
    from pipeline.articles import build_articles

    fulltext = settings.fetch.fetch_fulltext
    if config is not None and getattr(config, "fetch_fulltext", None) is not None:
        fulltext = fulltext and config.fetch_fulltext
    if result.spec.fetch_fulltext is not None:
        fulltext = fulltext and result.spec.fetch_fulltext
    articles = []
    if result.status == "ok" and result.entries:
        articles = build_articles(result, settings.fetch, fetch_fulltext=fulltext,
                                  known_urls=wh.KnownArticles(conn))
        conn.commit()
    counts = wh.store_fetch(conn, feed_id, run_id, result, articles)
    return {
        "feed_id": feed_id, "url": result.spec.url, "outlet": result.spec.outlet, "status": result.status,
        "http_status": result.http_status, "error": result.error, **counts,
    }


def extract_pending(
    conn,
    settings: Settings,
    *,
    run_id: int | None = None,
    nlp=None,
    batch_articles: int = 256,
    progress: Progress = _noop,
) -> dict:
    """Extract claims from every pending article and load them, one transaction per batch."""
    from pipeline.extract import EXTRACTOR_VERSION, PIECE_CHARS, extract_articles, load_pipeline
    from pipeline.models import Article

    done = claims = failed = 0
    last_seen = 0
    while True:
        pending = [p for p in wh.pending_articles(conn, limit=batch_articles) if p.article_id > last_seen]
        if not pending:
            break
        last_seen = pending[-1].article_id
        if nlp is None:
            progress(f"loading the spaCy pipeline for {len(pending)}+ articles")
            nlp = load_pipeline(settings.spacy_model)
        # a long body (a live blog) is read in pieces under the pipeline's max_length, up to max_text_chars; a
        # title is one line of a feed: one longer than a piece is no title
        piece_chars = min(PIECE_CHARS, nlp.max_length - 1)
        too_long = {p.article_id: len(p.title or "") for p in pending if len(p.title or "") > piece_chars}
        for article_id, n in too_long.items():
            wh.mark_extract_failed(conn, article_id, f"title too long to extract: {n} characters, over the "
                                   f"{piece_chars} a piece of text may have")
            failed += 1
        articles = [
            Article(id=str(p.article_id), outlet=p.outlet, url=p.url, published=p.published_at,
                    title=p.title, text=_clip(p.body or "", settings.max_text_chars, p.article_id))
            for p in pending if p.article_id not in too_long
        ]
        try:
            results = [
                (int(a.id), cs)
                for a, cs in extract_articles(articles, nlp=nlp, batch_size=settings.batch_size,
                                              n_process=settings.n_process, piece_chars=piece_chars)
            ]
        except Exception:  # one malformed article must not sink the batch: retry one by one
            logger.exception("batch extraction failed; retrying article by article")
            results = []
            for a in articles:
                try:
                    results.extend((int(x.id), cs) for x, cs in extract_articles([a], nlp=nlp, piece_chars=piece_chars))
                except Exception as exc:  # noqa: BLE001 - recorded against the article
                    wh.mark_extract_failed(conn, int(a.id), f"{type(exc).__name__}: {exc}")
                    failed += 1
        _pause_for_tests("load_claims")
        claims += wh.store_claims(conn, results, extractor_version=EXTRACTOR_VERSION, run_id=run_id,
                                  before_commit=lambda: _pause_for_tests("load_claims_commit"))
        done += len(results)
        progress(f"extracted {done} articles, {claims} claims")
    return {"articles_extracted": done, "articles_failed": failed, "claims": claims}


def _clip(body: str, limit: int, article_id: int) -> str:
    """The first `limit` characters of a body, cut at a paragraph (or sentence) end where there is one."""
    if limit <= 0 or len(body) <= limit:
        return body
    cut = max(body.rfind("\n", 0, limit), body.rfind(". ", 0, limit) + 1)
    cut = cut if cut > limit // 2 else limit
    logger.warning("article %s: body of %s characters, reading its first %s (TALKWATCH_MAX_TEXT_CHARS)",
                   article_id, len(body), cut)
    return body[:cut]


def detect_contradictions(conn, *, run_id: int | None = None) -> dict:
    from pipeline import contradictions

    res = contradictions.detect(conn, run_id=run_id)
    changed = contradictions.refresh_confidence(conn)  # the confidence of what gained evidence
    return {
        "claims_checked": res.claims_checked,
        "contradictions_new": len(res.new_contradiction_ids),
        "evidence_attached": res.evidence_attached,
        "confidence_changed": changed,
    }


def failing_feeds(conn, threshold: int) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            """
            select url, outlet, consecutive_failures, last_error, last_success_at
              from talkwatch.feeds
             where consecutive_failures >= %s
             order by consecutive_failures desc, url
            """,
            (threshold,),
        )
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    conn.commit()
    return rows


def send_alerts(conn, settings: Settings, *, run_id: int | None = None, failing: list[dict] | None = None):
    """Hold back the contradictions under the alert threshold, mail the rest (when SMTP is configured)."""
    from pipeline import alerts

    return alerts.send_pending_alerts(conn, settings.smtp, min_confidence=settings.alert_min_confidence,
                                      run_id=run_id, failing_feeds=failing or None)


def feeds_health(conn, specs: Iterable) -> list[dict]:
    """One row per configured feed: `{url, outlet, last_status, last_error, consecutive_failures,
    last_success_at, articles}` (`url` exactly as configured)."""
    out = []
    with conn.cursor() as cur:
        for spec in specs:
            cur.execute(
                """
                select f.last_status, f.last_error, f.consecutive_failures, f.last_success_at,
                       (select count(*) from talkwatch.article_sightings s where s.feed_id = f.feed_id)
                  from talkwatch.feeds f where f.url = %s
                """,
                (spec.url,),
            )
            row = cur.fetchone() or (None, None, 0, None, 0)
            out.append({
                "url": spec.url, "outlet": spec.outlet, "last_status": row[0], "last_error": row[1],
                "consecutive_failures": row[2],
                "last_success_at": row[3].isoformat() if row[3] else None, "articles": row[4],
            })
    conn.commit()
    return out


# --------------------------------------------------------------------------- the whole night


def _record_failed_run(conn, dsn: str, summary: NightSummary, error: str) -> None:
    """Mark the run failed with its error: on its own connection, or on a new one when that was lost
    (a terminated backend, a restarted server). If the warehouse is unreachable, the next run
    records this one as abandoned."""
    for attempt in ("same", "new"):
        target = conn
        try:
            if attempt == "new":
                target = wh.connect(dsn)
            try:
                wh.finish_run(target, summary.run_id, status="failed", summary=summary.as_dict(), error=error)
            finally:
                if target is not conn:
                    target.close()
            return
        except Exception as exc:  # noqa: BLE001 - the warehouse itself may be gone
            logger.debug("recording the failed run on the %s connection failed: %s", attempt, exc)
    logger.warning("could not record the failed run %s; the next run will", summary.run_id)


def night_status(summary: NightSummary) -> str:
    """How a night that ran to its end went: every feed failed (nothing was read), the digest was due
    but not sent, or ok (some feeds may have failed; they are recorded and reported)."""
    if summary.feeds and summary.feeds_failed == summary.feeds:
        return NIGHT_FEEDS_FAILED
    if summary.alert_failed:
        return NIGHT_ALERT_FAILED
    return NIGHT_OK


def _ended_by(exc: BaseException) -> str:
    if isinstance(exc, Terminated):
        return "interrupted by SIGTERM"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {str(exc).strip()}"


def run_night(
    settings: Settings | None = None,
    feeds_file: str | Path | None = None,
    *,
    kind: str = "cli",
    logical_date: date | None = None,
    progress: Progress = _noop,
    nlp=None,
    wait_for_lock: bool = False,
) -> NightSummary:
    """The whole nightly job in-process. Raises StepError naming the failed step."""
    settings = settings or Settings.from_env()
    summary = NightSummary()
    try:
        config = load_feeds_config(feeds_file)
    except (OSError, ValueError) as exc:
        raise StepError("load_feeds", exc) from exc
    try:
        progress("connecting to the warehouse")
        dsn, conn = wh.connect_migrated(settings)
    except Exception as exc:
        raise StepError("connect_warehouse", exc) from exc
    try:
        with wh.run_lock(dsn, wait=wait_for_lock) as got:
            if not got:
                raise RunInProgress(
                    "another talkwatch run is in progress on this warehouse (run lock held); "
                    "try again when it has finished"
                )
            if kind == "cli":
                # every CLI run holds the run lock: one still 'running' was killed or lost its connection
                for run_id in wh.close_abandoned_runs(conn, kind=kind):
                    logger.warning("run %s had ended without finishing; recorded as failed", run_id)
            summary.run_id = wh.start_run(conn, kind=kind, logical_date=logical_date)
            step = "fetch_feeds"
            try:
                rows = ingest_feeds(conn, config, settings, run_id=summary.run_id, progress=progress)
                summary.feed_results = rows
                summary.feeds = len(rows)
                summary.feeds_failed = sum(r["status"] == "error" for r in rows)
                summary.entries_seen = sum(r["entries_seen"] for r in rows)
                summary.articles_new = sum(r["articles_new"] for r in rows)
                summary.articles_rejected = sum(r.get("articles_rejected", 0) for r in rows)
                summary.articles_skipped = sum(r.get("articles_skipped", 0) for r in rows)
                step = "extract_claims"
                progress("extracting claims")
                ex = extract_pending(conn, settings, run_id=summary.run_id, nlp=nlp, progress=progress)
                summary.articles_extracted = ex["articles_extracted"]
                summary.articles_failed = ex["articles_failed"]
                summary.claims = ex["claims"]
                step = "detect_contradictions"
                progress("detecting contradictions")
                det = detect_contradictions(conn, run_id=summary.run_id)
                summary.contradictions_new = det["contradictions_new"]
                summary.evidence_attached = det["evidence_attached"]
                step = "send_alerts"
                summary.failing_feeds = failing_feeds(conn, settings.failing_feed_threshold)
                if settings.smtp.configured:
                    progress("sending the alert digest")
                res = send_alerts(conn, settings, run_id=summary.run_id, failing=summary.failing_feeds)
                summary.contradictions_held = res.held
                if settings.smtp.configured:
                    summary.mails_sent = int(bool(res.sent))
                    summary.alert_error = res.error if not res.sent and res.contradiction_ids else None
                    summary.alert_failed = summary.alert_error is not None
                else:
                    summary.alert_error = "smtp not configured (set TALKWATCH_SMTP_HOST and TALKWATCH_ALERT_TO)"
                summary.status = night_status(summary)
            except BaseException as exc:  # Ctrl-C and SIGTERM too: the run row says how the night ended
                wh.rollback_quietly(conn)
                _record_failed_run(conn, dsn, summary, f"{step}: {_ended_by(exc)}")
                if isinstance(exc, Exception):
                    raise StepError(step, exc, run_id=summary.run_id) from exc
                exc.run_id = summary.run_id  # for `talkwatch run --json`
                raise
            wh.finish_run(conn, summary.run_id, status="success", summary=summary.as_dict())
    finally:
        conn.close()
    return summary
