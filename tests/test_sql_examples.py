"""The analysts' example queries run, as an analyst login, against a small loaded warehouse."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql
from test_contradictions import Loader, _load_gold, _seed_story

from pipeline import contradictions as cx
from pipeline import roles
from pipeline.settings import SQL_DIR

EXAMPLES = sorted((SQL_DIR / "examples").glob("*.sql"))


def _last_month_noon() -> datetime:
    first_of_month = datetime.now(timezone.utc).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return (first_of_month - timedelta(days=1)).replace(day=10)


@pytest.fixture
def analyst_conn(warehouse, warehouse_dsn, shared_dir):
    """An analyst login on a warehouse with the dev set, the seed story and Russia–Ukraine claims from last month."""
    load = Loader(warehouse)
    articles = [
        json.loads(x) for x in (shared_dir / "eval" / "dev.jsonl").read_text("utf-8").splitlines() if x
    ]
    _load_gold(load, articles)
    _seed_story(load)
    when = _last_month_noon()
    load.claim("washington-post", "planned", "peace_deal", published=when, outlet="Washington Post")
    load.claim("dmitry-peskov", "denied", "peace_deal", published=when + timedelta(days=1), outlet="TASS")
    cx.detect(warehouse)
    name = f"tw_analyst_{uuid.uuid4().hex[:8]}"
    roles.grant_analyst(warehouse, name, "example-pw")
    conn = psycopg2.connect(psycopg2.extensions.make_dsn(warehouse_dsn, user=name, password="example-pw"))
    yield conn
    conn.close()
    admin = psycopg2.connect(warehouse_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
    admin.close()


def _run(conn, path: Path) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(path.read_text("utf-8"))
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.rollback()
    return rows


def test_there_are_the_three_examples():
    assert {p.stem for p in EXAMPLES} >= {
        "outlets_on_russia_ukraine_last_month",
        "unresolved_denials",
        "sources_most_often_contradicted",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_as_an_analyst_and_reads_only_analytics(analyst_conn, path):
    text = path.read_text("utf-8")
    assert "talkwatch." not in text and "%(" not in text and "%s" not in text
    assert _run(analyst_conn, path)


def test_outlets_last_month_lists_last_months_russia_ukraine_claims(analyst_conn):
    rows = _run(analyst_conn, SQL_DIR / "examples" / "outlets_on_russia_ukraine_last_month.sql")
    assert [(r["outlet"], r["status"]) for r in rows] == [("TASS", "denied"), ("Washington Post", "planned")]


def test_unresolved_denials_include_the_seed_story(analyst_conn):
    rows = _run(analyst_conn, SQL_DIR / "examples" / "unresolved_denials.sql")
    seed = [r for r in rows if r["denied_by"] == "Maria Zakharova"]
    assert seed and seed[0]["denial"] == "denied" and seed[0]["reported_by"] == "Washington Post"


def test_sources_most_often_contradicted_counts_both_sides(analyst_conn):
    rows = _run(analyst_conn, SQL_DIR / "examples" / "sources_most_often_contradicted.sql")
    counts = [r["contradictions"] for r in rows]
    assert counts == sorted(counts, reverse=True)
    assert any(r["source_key"] == "washington-post" and r["contradictions"] >= 2 for r in rows)


def test_outlets_last_month_finds_the_sample_story_on_a_warehouse_of_old_news(warehouse, warehouse_dsn):
    """The bundled sample feeds are from August 2024: "last month" is the month of the newest claims."""
    _seed_story(Loader(warehouse))
    name = f"tw_analyst_{uuid.uuid4().hex[:8]}"
    roles.grant_analyst(warehouse, name, "example-pw")
    conn = psycopg2.connect(psycopg2.extensions.make_dsn(warehouse_dsn, user=name, password="example-pw"))
    try:
        rows = _run(conn, SQL_DIR / "examples" / "outlets_on_russia_ukraine_last_month.sql")
    finally:
        conn.close()
        admin = psycopg2.connect(warehouse_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
        admin.close()
    assert {(r["source"], r["status"]) for r in rows} >= {("Maria Zakharova", "denied")}, rows
    assert all(r["published_on"].isoformat().startswith("2024-08") for r in rows)
