"""
### talkwatch_ingest — the nightly feed ingest (02:00 UTC)

`load_feeds` reads the feeds file → `start_run` migrates the warehouse and opens the night's run row
→ `fetch_feed`, one mapped task per feed, fetches the feed and stores its articles (one transaction;
a feed that fails is recorded in `talkwatch.feed_fetches` / `talkwatch.feeds` and the task still
succeeds; a warehouse error fails the task, which retries) → `extract_claims` runs spaCy over every
pending article and loads its claims, one transaction per batch → `finish_run` closes the run row
and announces the **`talkwatch_claims`** Asset, which schedules `talkwatch_contradictions`.

Extraction and loading are one task on purpose: each batch's claims are written in the same
transaction that marks its articles extracted, so a crash loses nothing and a retry resumes with the
articles still pending; claims never travel through XCom.

Re-running a night changes no articles, claims or contradictions (conditional GETs, UPSERTs, only
pending articles are extracted); it adds a run row and one `feed_fetches` row per feed.

**Configuration**
- connection `talkwatch_warehouse` (postgres; `schema` = database, or extra `{"dsn": ...}`),
  else env `TALKWATCH_DSN`;
- Variable `talkwatch_feeds_file` (else env `TALKWATCH_FEEDS_FILE`, else the bundled sample feeds);
  `{ds}` in the path selects one snapshot per night, for backfills over local feed files;
- env `TALKWATCH_FETCH_FULLTEXT=0` turns full-text page fetching off; other `TALKWATCH_*` knobs as in
  `pipeline/settings.py`.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import dag, get_current_context, task
from talkwatch_common import (
    CLAIMS_ASSET,
    DEFAULT_ARGS,
    feeds_file,
    night_of,
    notify_operator,
    settings,
    spacy_pipeline,
    warehouse,
)

log = logging.getLogger(__name__)


def _on_task_failure(context) -> None:
    """Mark the night's warehouse run failed (if one was opened), then mail the operator. Never raises."""
    try:
        ti = context["ti"]
        run_id = ti.xcom_pull(task_ids="start_run")
        if run_id is not None:
            from pipeline import warehouse as wh

            with warehouse() as conn:
                wh.finish_run(conn, int(run_id), status="failed",
                              error=f"{ti.task_id}: {context.get('exception')}")
    except Exception:  # noqa: BLE001 - the warehouse may be what failed
        log.exception("could not mark the warehouse run failed")
    notify_operator(context)


@dag(
    dag_id="talkwatch_ingest",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "on_failure_callback": _on_task_failure},
    dagrun_timeout=pendulum.duration(hours=4),
    tags=["talkwatch", "ingest", "nightly"],
    doc_md=__doc__,
)
def talkwatch_ingest():
    @task
    def load_feeds() -> list[dict]:
        """The configured feeds, one small dict per feed (the mapped tasks' input)."""
        from dataclasses import asdict

        from pipeline.nightly import load_feeds_config

        path = feeds_file(night_of(get_current_context()))
        config = load_feeds_config(path)
        log.info("feeds file %s: %s feeds", config.path, len(config.feeds))
        return [{**asdict(spec), "file_fetch_fulltext": config.fetch_fulltext} for spec in config.feeds]

    @task
    def start_run() -> int:
        """Migrate the warehouse and open the night's run row (logical date from the DAG run)."""
        from pipeline import warehouse as wh

        with warehouse() as conn:
            wh.migrate(conn)
            return wh.start_run(conn, kind="airflow", logical_date=night_of(get_current_context()))

    @task(map_index_template="{{ feed_outlet }}", max_active_tis_per_dagrun=8)
    def fetch_feed(feed: dict, warehouse_run: int) -> dict:
        """Fetch one feed and store its articles; a feed failure is recorded and returned, not raised."""
        from pipeline.feeds import FeedsConfig, FeedSpec
        from pipeline.nightly import fetch_one_feed

        get_current_context()["feed_outlet"] = feed["outlet"]
        fields = {k: v for k, v in feed.items() if k != "file_fetch_fulltext"}
        spec = FeedSpec(**fields)
        config = FeedsConfig(feeds=[spec], fetch_fulltext=feed.get("file_fetch_fulltext"))
        with warehouse() as conn:
            row = fetch_one_feed(conn, spec, settings(), config=config, run_id=warehouse_run)
        if row["status"] == "error":
            log.warning("feed %s (%s) failed: %s", spec.outlet, spec.url, row["error"])
        return row

    @task
    def extract_claims(warehouse_run: int) -> dict:
        """Extract and load the claims of every pending article, one transaction per batch."""
        from pipeline.nightly import extract_pending

        cfg = settings()
        with warehouse() as conn:
            return extract_pending(conn, cfg, run_id=warehouse_run, nlp=spacy_pipeline(cfg.spacy_model),
                                   progress=log.info)

    @task(outlets=[CLAIMS_ASSET])
    def finish_run(warehouse_run: int, fetched: list[dict], extracted: dict) -> dict:
        """Close the run row with the night's summary and announce the claims Asset."""
        from pipeline import warehouse as wh

        fetched = list(fetched)
        summary = {
            "feeds": len(fetched),
            "feeds_failed": sum(r["status"] == "error" for r in fetched),
            "entries_seen": sum(r.get("entries_seen", 0) for r in fetched),
            "articles_new": sum(r.get("articles_new", 0) for r in fetched),
            **extracted,
            "feed_results": fetched,
        }
        with warehouse() as conn:
            wh.finish_run(conn, warehouse_run, status="success", summary=summary)
        context = get_current_context()
        context["outlet_events"][CLAIMS_ASSET].extra = {
            "run_id": warehouse_run, "night": night_of(context).isoformat(), "claims": extracted.get("claims", 0),
        }
        return {k: v for k, v in summary.items() if k != "feed_results"}

    feeds = load_feeds()
    warehouse_run = start_run()
    fetched = fetch_feed.partial(warehouse_run=warehouse_run).expand(feed=feeds)
    extracted = extract_claims(warehouse_run)
    fetched >> extracted
    finish_run(warehouse_run, fetched, extracted)


talkwatch_ingest()
