"""Warehouse: migrations, feed/article/claim loads are transactional and idempotent."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import psycopg2
import pytest

from pipeline import warehouse as wh
from pipeline.models import Claim


def test_migrate_twice_applies_nothing_the_second_time(warehouse):
    assert wh.migrate(warehouse) == []
    with warehouse.cursor() as cur:
        cur.execute("select count(*) from talkwatch.schema_migrations")
        assert cur.fetchone()[0] == len(wh.list_migrations())


def test_changed_released_migration_is_refused(warehouse, tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "views").mkdir()
    for mig in wh.list_migrations():
        (tmp_path / "migrations" / mig.path.name).write_text(mig.sql + "\n-- edited\n")
    with pytest.raises(wh.WarehouseError, match="append-only"):
        wh.migrate(warehouse, tmp_path)


@pytest.fixture
def empty_database(pg_server_dsn):
    """A fresh database with no migration applied."""
    import uuid

    import psycopg2
    from psycopg2 import sql

    name = f"tw_empty_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    conn = wh.connect(psycopg2.extensions.make_dsn(pg_server_dsn, dbname=name))
    yield conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


def test_upgrade_to_the_detection_queue_queues_exactly_the_unchecked_claims(empty_database, tmp_path):
    conn = empty_database
    (tmp_path / "migrations").mkdir()
    (tmp_path / "views").mkdir()
    for mig in wh.list_migrations():
        if mig.version < 7:
            (tmp_path / "migrations" / mig.path.name).write_text(mig.sql)
    wh.migrate(conn, tmp_path)
    with wh.transaction(conn) as cur:
        aid = _article_row(cur)
        ids = []
        for i, checked in enumerate([True, False, True, False]):
            cur.execute(
                "insert into talkwatch.claims (article_id, claim_index, claim_key, parties, parties_key, status,"
                " topic, source, source_key, evidence, published_at, extractor_version, checked_at)"
                " values (%s, %s, %s, '{RUS,UKR}', 'RUS|UKR', 'planned', 'ceasefire', 'S', 's', 'e', now(), 't',"
                " case when %s then now() end) returning claim_id",
                (aid, i, f"k{i}", checked),
            )
            ids.append(cur.fetchone()[0])
    assert wh.migrate(conn) == [m.path.name for m in wh.list_migrations() if m.version >= 7]
    with conn.cursor() as cur:
        cur.execute("select claim_id from talkwatch.detection_queue order by claim_id")
        assert [r[0] for r in cur.fetchall()] == [ids[1], ids[3]]
        cur.execute("select claim_id, awaiting_detection from analytics.negotiation_claims order by claim_id")
        assert cur.fetchall() == [(ids[0], False), (ids[1], True), (ids[2], False), (ids[3], True)]
    conn.commit()


def _article_row(cur, url="https://example.org/a", body="Talks were held.", published=None):
    cur.execute(
        """
        insert into talkwatch.articles (canonical_url, url, outlet, title, body, content_hash, published_at)
        values (%s, %s, 'Example', 't', %s, md5(%s), %s) returning article_id
        """,
        (url, url, body, url, published or datetime(2024, 8, 18, tzinfo=timezone.utc)),
    )
    return cur.fetchone()[0]


def _claim(**kw):
    base = dict(
        parties=["UKR", "RUS"], status="denied", topic="partial_ceasefire", source="Maria Zakharova",
        source_key="maria-zakharova", evidence="No such negotiations have happened.",
    )
    base.update(kw)
    return Claim(**base)


def test_store_claims_is_idempotent_and_marks_article_done(warehouse):
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    assert [a.article_id for a in wh.pending_articles(warehouse)] == [aid]
    claims = [_claim(), _claim(status="planned", source="Washington Post", source_key="washington-post")]
    assert wh.store_claims(warehouse, [(aid, claims)], extractor_version="t") == 2
    assert wh.store_claims(warehouse, [(aid, claims)], extractor_version="t") == 0
    assert wh.pending_articles(warehouse) == []
    with warehouse.cursor() as cur:
        cur.execute("select parties, parties_key, published_at from talkwatch.claims order by claim_id")
        rows = cur.fetchall()
    assert rows[0][0] == ["RUS", "UKR"] and rows[0][1] == "RUS|UKR"
    assert rows[0][2] == datetime(2024, 8, 18, tzinfo=timezone.utc)


def test_store_claims_keeps_the_extractors_confidence_and_none_as_null(warehouse):
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    claims = [_claim(confidence=0.8125), _claim(status="planned", source="Washington Post", source_key="washington-post")]
    wh.store_claims(warehouse, [(aid, claims)], extractor_version="t")
    with warehouse.cursor() as cur:
        cur.execute("select confidence from talkwatch.claims order by claim_id")
        assert cur.fetchall() == [(0.8125,), (None,)]
    warehouse.commit()


def test_a_confidence_outside_0_to_1_is_refused_by_the_schema(warehouse):
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    with pytest.raises(psycopg2.errors.CheckViolation, match="confidence"):
        wh.store_claims(warehouse, [(aid, [_claim(confidence=1.5)])], extractor_version="t")
    assert wh.table_counts(warehouse)["claims"] == 0


def _person(name, key, parties=("COD", "M23"), status="agreed"):
    return _claim(parties=list(parties), status=status, topic="ceasefire", source=name, source_key=key,
                  evidence=f"{name} spoke.", extra={"source_kind": "person"})


def test_a_surname_alone_in_a_later_article_takes_the_full_names_key(warehouse):
    with wh.transaction(warehouse) as cur:
        a1, a2, a3, a4 = (_article_row(cur, url=f"https://example.org/p{i}") for i in range(4))
    wh.store_claims(warehouse, [(a1, [_person("Bertrand Musoni", "bertrand-musoni"),
                                      _person("Jean Ilunga", "jean-ilunga"), _person("Paul Ilunga", "paul-ilunga")])],
                    extractor_version="t")
    # later articles: "Musoni" alone is that Musoni; "Ilunga" could be either, so it stays itself;
    # the same surname on another track, and a surname that is not a person's, are left alone too
    later = [_person("Musoni", "musoni"), _person("Ilunga", "ilunga"),
             _person("Musoni", "musoni", parties=("RUS", "UKR"), status="denied"),
             _claim(parties=["COD", "M23"], status="held", topic="ceasefire", source="Musoni",
                    source_key="musoni", evidence="Musoni TV said talks were held.")]
    wh.store_claims(warehouse, [(a2, later)], extractor_version="t")
    # the full name and its surname in one batch, the surname first
    wh.store_claims(warehouse, [(a3, [_person("Kanyuka", "kanyuka", status="no_deal")]),
                                (a4, [_person("Lawrence Kanyuka", "lawrence-kanyuka")])], extractor_version="t")
    with warehouse.cursor() as cur:
        cur.execute("select article_id, parties_key, status, source, source_key from talkwatch.claims order by claim_id")
        rows = cur.fetchall()
    assert rows[3:] == [
        (a2, "COD|M23", "agreed", "Bertrand Musoni", "bertrand-musoni"),
        (a2, "COD|M23", "agreed", "Ilunga", "ilunga"),
        (a2, "RUS|UKR", "denied", "Musoni", "musoni"),
        (a2, "COD|M23", "held", "Musoni", "musoni"),
        (a3, "COD|M23", "no_deal", "Lawrence Kanyuka", "lawrence-kanyuka"),
        (a4, "COD|M23", "agreed", "Lawrence Kanyuka", "lawrence-kanyuka"),
    ]
    with warehouse.cursor() as cur:
        cur.execute("select parties_key, surname_key, source_key from talkwatch.person_names order by 3")
        assert cur.fetchall() == [("COD|M23", "musoni", "bertrand-musoni"), ("COD|M23", "ilunga", "jean-ilunga"),
                                  ("COD|M23", "kanyuka", "lawrence-kanyuka"), ("COD|M23", "ilunga", "paul-ilunga")]


def test_store_claims_keeps_awkward_text_verbatim(warehouse):
    """The load goes through COPY: tabs, newlines, backslashes, quotes and \\N-lookalikes come back as they went in."""
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    evidence = 'Tab\there, "quotes", back\\slash, \\N, \\t literal,\r\nnew line; «Ukraine» — Україна, מלחמה ‏'
    claims = [
        _claim(evidence=evidence, source='Org "X" \\ Y', source_key="org-x-y", venue="", mediator=None,
               source_org="Line\nbreak", hedged=True, event_time="2024-08"),
        _claim(parties=["HAMAS", "ISR"], status="agreed", topic="hostages"),
    ]
    assert wh.store_claims(warehouse, [(aid, claims)], extractor_version="t\\v") == 2
    with warehouse.cursor() as cur:
        cur.execute(
            "select claim_index, parties, evidence, source, venue, mediator, source_org, hedged, event_time, "
            "extractor_version, claim_key from talkwatch.claims order by claim_id"
        )
        first, second = cur.fetchall()
    warehouse.commit()
    assert first[:10] == (0, ["RUS", "UKR"], evidence, 'Org "X" \\ Y', "", None, "Line\nbreak", True, "2024-08", "t\\v")
    assert first[10] == wh.claim_key(claims[0])
    assert second[:2] == (1, ["HAMAS", "ISR"])


def test_claim_with_nul_byte_is_refused_and_nothing_is_stored(warehouse):
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    with pytest.raises(ValueError, match="NUL"):
        wh.store_claims(warehouse, [(aid, [_claim(evidence="no\x00talks")])], extractor_version="t")
    assert wh.table_counts(warehouse)["claims"] == 0
    assert [a.article_id for a in wh.pending_articles(warehouse)] == [aid]


def test_claim_with_bad_source_key_is_rejected_by_the_schema(warehouse):
    with wh.transaction(warehouse) as cur:
        aid = _article_row(cur)
    bad = _claim(source_key="Not A Slug")
    with pytest.raises(Exception, match="source_key"):
        wh.store_claims(warehouse, [(aid, [bad])], extractor_version="t")
    assert wh.table_counts(warehouse)["claims"] == 0
    assert [a.article_id for a in wh.pending_articles(warehouse)] == [aid]


def test_run_lock_is_exclusive(warehouse_dsn):
    with wh.run_lock(warehouse_dsn) as got_a:
        assert got_a
        with wh.run_lock(warehouse_dsn) as got_b:
            assert not got_b
    with wh.run_lock(warehouse_dsn) as got_b:
        assert got_b


def test_db_stop_stops_the_embedded_server_and_keeps_its_data(tmp_path):
    import subprocess
    import sys

    from pipeline import embedded
    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env["TALKWATCH_HOME"] = str(tmp_path / "home")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)

    assert cli("db", "migrate").returncode == 0
    assert embedded.running(tmp_path / "home")
    out = cli("db", "stop")
    assert out.returncode == 0 and "stopped" in out.stdout, out.stderr
    assert not embedded.running(tmp_path / "home")
    assert "was not running" in cli("db", "stop").stdout
    counts = cli("db", "counts")  # restarts it on demand, with the data it had
    assert counts.returncode == 0 and "claims" in counts.stdout
    cli("db", "stop")


def test_a_stored_article_that_extraction_skips_is_counted_with_its_reason(warehouse):
    from pipeline.articles import build_articles
    from pipeline.feeds import FeedSpec
    from tests.test_articles import NO_PAGES, _entry, _result

    english = _entry("https://wire.example/en", guid="en", title="Ceasefire talks resume in Doha",
                     summary="Negotiators from both sides met in Doha on Monday to resume ceasefire talks.")
    russian = _entry("https://wire.example/ru", guid="ru", title="Переговоры о прекращении огня",
                     summary="Министр иностранных дел заявил, что переговоры о прекращении огня продолжаются.")
    result = _result(english, russian, language=None)
    feed_id = wh.upsert_feed(warehouse, FeedSpec(url="https://wire.example/rss", outlet="Example Wire"))
    counts = wh.store_fetch(warehouse, feed_id, None, result, build_articles(result, NO_PAGES))
    assert counts["articles_new"] == 2 and counts["articles_skipped"] == 1
    with warehouse.cursor() as cur:
        cur.execute("select url, extract_status, extract_reason from talkwatch.articles order by url")
        rows = cur.fetchall()
    assert rows == [("https://wire.example/en", "pending", None),
                    ("https://wire.example/ru", "skipped", "language:ru")]
