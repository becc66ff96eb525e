"""The analyst schema: one view a file, each at its stated grain, recreated after migrations."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from test_contradictions import DAY0, Loader, _load_gold, _seed_story

from pipeline import contradictions as cx
from pipeline import warehouse as wh
from pipeline.settings import SQL_DIR

VIEWS = ["negotiation_claims", "contradictions", "negotiation_tracks", "status_timeline"]


def _rows(conn, query, params=None) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.commit()
    return rows


@pytest.fixture
def gold_warehouse(warehouse, shared_dir):
    """The dev set's gold claims loaded and checked."""
    load = Loader(warehouse)
    articles = [
        json.loads(x) for x in (shared_dir / "eval" / "dev.jsonl").read_text("utf-8").splitlines() if x
    ]
    _load_gold(load, articles)
    cx.detect(warehouse)
    return warehouse


def test_every_view_file_states_its_grain_and_creates_one_view():
    files = wh.list_views(SQL_DIR)
    assert [f.name for f in files] == sorted(f.name for f in files)
    names = []
    for path in files:
        text = path.read_text("utf-8")
        assert "-- grain:" in text.split("create view")[0], path.name
        assert text.count("create view") == 1, path.name
        names.append(text.split("create view analytics.")[1].split()[0])
    assert sorted(names) == sorted(VIEWS)


def test_views_live_in_schema_analytics(warehouse):
    rows = _rows(
        warehouse, "select table_name from information_schema.views where table_schema = 'analytics'"
    )
    assert sorted(r["table_name"] for r in rows) == sorted(VIEWS)


def test_migrate_recreates_the_views(warehouse):
    with wh.transaction(warehouse) as cur:
        cur.execute("drop view analytics.status_timeline")
    wh.migrate(warehouse)
    assert _rows(warehouse, "select count(*) as n from analytics.status_timeline") == [{"n": 0}]


def test_negotiation_claims_is_one_row_per_claim_with_its_article(warehouse):
    load = Loader(warehouse)
    planned, stalled, denied = _seed_story(load)
    rows = _rows(warehouse, "select * from analytics.negotiation_claims order by claim_id")
    assert [r["claim_id"] for r in rows] == [planned, stalled, denied]
    r = rows[2]
    assert r["parties"] == ["RUS", "UKR"] and r["status"] == "denied" and r["status_kind"] == "denial"
    assert r["topic"] == "partial_ceasefire" and r["topic_family"] == "ceasefire"
    assert r["source_key"] == "maria-zakharova" and r["outlet"] == "Seed Wire"
    assert r["published_at"] == DAY0 and r["published_on"].isoformat() == "2024-08-18"
    assert r["article_url"].startswith("https://example.org/") and r["evidence"]
    for key in ("source", "source_org", "hedged", "event_time", "article_title", "mediator", "venue"):
        assert key in r


def test_contradictions_view_shows_both_sides_and_the_rule(warehouse):
    load = Loader(warehouse)
    planned, stalled, denied = _seed_story(load)
    (cid,) = cx.detect(warehouse).new_contradiction_ids
    (r,) = _rows(warehouse, "select * from analytics.contradictions")
    assert r["contradiction_id"] == cid and r["rule"] == "denied_vs_planned"
    assert (r["source_key_a"], r["status_a"], r["source_key_b"], r["status_b"]) == (
        "maria-zakharova",
        "denied",
        "washington-post",
        "planned",
    )
    assert r["outlet_a"] == r["outlet_b"] == "Seed Wire" and r["article_url_a"] and r["evidence_b"]
    assert r["published_at_a"] == DAY0 and r["event_time"] is None and r["period_key"] == "now:2024-08-18"
    assert (r["evidence_claims"], r["evidence_claims_a"], r["evidence_claims_b"]) == (3, 1, 2)
    assert r["detected_at"] is not None and r["alerted_at"] is None
    assert r["is_open"] is True


def test_a_contradiction_closes_when_a_source_changes_its_story(warehouse):
    load = Loader(warehouse)
    _seed_story(load)
    cx.detect(warehouse)
    # weeks later Zakharova confirms that talks were held: the sources no longer disagree
    load.claim("maria-zakharova", "held", published=DAY0 + timedelta(days=30))
    cx.detect(warehouse)
    (r,) = _rows(warehouse, "select latest_status_a, latest_status_b, is_open from analytics.contradictions")
    assert r == {"latest_status_a": "held", "latest_status_b": "stalled", "is_open": False}


def test_negotiation_tracks_is_one_row_per_parties_and_topic_family(warehouse):
    load = Loader(warehouse)
    _seed_story(load)
    load.claim("hamas", "proposed", "hostages", parties=("HAMAS", "ISR"))
    cx.detect(warehouse)
    rows = _rows(warehouse, "select * from analytics.negotiation_tracks order by parties_key")
    assert [(r["parties_key"], r["topic_family"]) for r in rows] == [
        ("HAMAS|ISR", "hostages"),
        ("RUS|UKR", "ceasefire"),
    ]
    r = rows[1]
    assert r["parties"] == ["RUS", "UKR"] and r["claims"] == 3 and r["sources"] == 2
    assert r["latest_status_by_source"] == {"maria-zakharova": "denied", "washington-post": "stalled"}
    assert r["first_seen_at"] == r["last_seen_at"] == DAY0
    assert (r["contradictions"], r["open_contradictions"]) == (1, 1)
    assert (rows[0]["contradictions"], rows[0]["open_contradictions"]) == (0, 0)


def test_status_timeline_is_one_row_per_parties_source_and_day(warehouse):
    load = Loader(warehouse)
    _seed_story(load)
    load.claim("washington-post", "held", published=DAY0 + timedelta(days=2))
    rows = _rows(warehouse, "select * from analytics.status_timeline order by source_key, day")
    got = [
        (r["source_key"], r["day"].isoformat(), r["status"], r["statuses"], r["previous_status"])
        for r in rows
    ]
    assert got == [
        ("maria-zakharova", "2024-08-18", "denied", ["denied"], None),
        ("washington-post", "2024-08-18", "stalled", ["planned", "stalled"], None),
        ("washington-post", "2024-08-20", "held", ["held"], "stalled"),
    ]


GRAINS = {
    "negotiation_claims": "claim_id",
    "contradictions": "contradiction_id",
    "negotiation_tracks": "parties_key, topic_family",
    "status_timeline": "parties_key, source_key, day",
}


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_is_unique_at_its_grain_on_the_dev_set(gold_warehouse, view):
    total = _rows(gold_warehouse, f"select count(*) as n from analytics.{view}")[0]["n"]  # noqa: S608
    dupes = _rows(
        gold_warehouse,
        f"select {GRAINS[view]}, count(*) from analytics.{view} group by {GRAINS[view]} having count(*) > 1",  # noqa: S608
    )
    assert total > 0 and dupes == []


def test_views_agree_with_the_tables_on_the_dev_set(gold_warehouse):
    counts = wh.table_counts(gold_warehouse)
    assert (
        _rows(gold_warehouse, "select count(*) as n from analytics.negotiation_claims")[0]["n"]
        == counts["claims"]
    )
    k = _rows(
        gold_warehouse, "select count(*) as n, sum(evidence_claims) as e from analytics.contradictions"
    )[0]
    assert (k["n"], k["e"]) == (counts["contradictions"], counts["contradiction_evidence"])
    tracks = _rows(
        gold_warehouse, "select sum(contradictions) as n, sum(claims) as c from analytics.negotiation_tracks"
    )[0]
    assert (tracks["n"], tracks["c"]) == (counts["contradictions"], counts["claims"])
