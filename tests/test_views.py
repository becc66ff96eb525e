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
        assert "-- grain:" in text.split("create or replace view")[0], path.name
        assert text.count("create or replace view") == 1, path.name
        names.append(text.split("create or replace view analytics.")[1].split()[0])
        assert wh.view_name(path) == f"analytics.{names[-1]}"
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


# --------------------------------------------------------------------------- views change only when their files do


def _oid(conn, name: str) -> int | None:
    return _rows(conn, "select to_regclass(%s)::oid as oid", (name,))[0]["oid"]


def _run_sql(dsn: str, statement: str, params=None) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


@pytest.fixture
def reader_role(warehouse_dsn):
    """A role of the administrator's (not talkwatch's) that is granted a view; dropped afterwards."""
    import uuid

    name = f"tw_reader_{uuid.uuid4().hex[:8]}"
    _run_sql(warehouse_dsn, f'create role "{name}" nologin')
    yield name
    _run_sql(warehouse_dsn, f'drop owned by "{name}"')
    _run_sql(warehouse_dsn, f'drop role "{name}"')


@pytest.fixture
def admin_view(warehouse, reader_role):
    """An administrator's own view on top of analytics.contradictions, and a grant to another role."""
    with wh.transaction(warehouse) as cur:
        cur.execute("create schema admin_reports")
        cur.execute("create view admin_reports.open_by_rule as "
                    "select rule, count(*) as n from analytics.contradictions where is_open group by rule")
        cur.execute(f'grant select on analytics.contradictions to "{reader_role}"')
        cur.execute(f'grant select on admin_reports.open_by_rule to "{reader_role}"')
    wh.migrate(warehouse)  # a fresh copy of the template has database privileges to settle first
    return "admin_reports.open_by_rule"


def _can_select(conn, role: str, relation: str) -> bool:
    return _rows(conn, "select has_table_privilege(%s, %s, 'select') as ok", (role, relation))[0]["ok"]


def _sql_dir_with(tmp_path, view_file: str, edit) -> object:
    """A copy of sql/ whose view file VIEW_FILE is EDIT(text)."""
    import shutil

    copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, copy)
    path = copy / "views" / view_file
    path.write_text(edit(path.read_text("utf-8")), encoding="utf-8")
    return copy


def test_migrate_leaves_views_whose_files_did_not_change_untouched(warehouse):
    wh.migrate(warehouse)
    before = {v: _oid(warehouse, f"analytics.{v}") for v in VIEWS}
    assert wh.migrate_schema(warehouse).changed is False
    assert {v: _oid(warehouse, f"analytics.{v}") for v in VIEWS} == before


def test_an_administrators_view_and_grants_survive_migrate(warehouse, admin_view, reader_role):
    wh.migrate(warehouse)
    assert _oid(warehouse, admin_view) is not None
    assert _can_select(warehouse, reader_role, "analytics.contradictions")
    assert _rows(warehouse, f"select count(*) as n from {admin_view}") == [{"n": 0}]  # noqa: S608


def test_read_only_commands_neither_touch_the_views_nor_wait_for_an_analysts_transaction(warehouse, warehouse_dsn,
                                                                                        admin_view, tmp_path):
    import os
    import subprocess
    import sys

    import psycopg2

    from tests.conftest import REPO

    before = {v: _oid(warehouse, f"analytics.{v}") for v in VIEWS}
    dbname = psycopg2.extensions.parse_dsn(warehouse_dsn)["dbname"]
    _run_sql(warehouse_dsn, f'alter database "{dbname}" set lock_timeout = \'2s\'')  # a wait fails, never hangs
    reader = psycopg2.connect(warehouse_dsn)  # an open transaction that has read a view, as an analyst's psql
    try:
        with reader.cursor() as cur:
            cur.execute("select count(*) from analytics.contradictions")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
        env.update(TALKWATCH_DSN=warehouse_dsn, TALKWATCH_HOME=str(tmp_path / "home"))
        for args in (["db", "counts"], ["contradictions"], ["report", "-o", str(tmp_path / "r.html")]):
            out = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                                 env=env, timeout=120, cwd=REPO)
            assert out.returncode == 0, (args, out.stderr)
    finally:
        reader.close()
    assert {v: _oid(warehouse, f"analytics.{v}") for v in VIEWS} == before
    assert _oid(warehouse, admin_view) is not None


def test_read_only_commands_ask_for_a_migration_instead_of_making_one(empty_warehouse_dsn, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN=empty_warehouse_dsn, TALKWATCH_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "db", "counts"], capture_output=True, text=True,
                         env=env, timeout=120, cwd=REPO)
    assert out.returncode == 1
    assert "no talkwatch schema yet: run `talkwatch db migrate`" in out.stderr, out.stderr


def test_a_view_whose_file_gained_a_column_is_replaced_in_place(warehouse, admin_view, reader_role, tmp_path):
    sql_dir = _sql_dir_with(tmp_path, "20_contradictions.sql", lambda t: t.replace(
        "       s.run_id\n  from sides s", "       s.run_id,\n       1 as extra\n  from sides s"))
    oid = _oid(warehouse, "analytics.contradictions")
    result = wh.migrate_schema(warehouse, sql_dir)
    assert result.views_created == ["analytics.contradictions"] and result.dependants_dropped == []
    assert _oid(warehouse, "analytics.contradictions") == oid  # replaced, not dropped
    assert _rows(warehouse, "select count(extra) as n from analytics.contradictions") == [{"n": 0}]
    assert _can_select(warehouse, reader_role, "analytics.contradictions")
    assert _oid(warehouse, admin_view) is not None
    assert wh.migrate_schema(warehouse, sql_dir).changed is False  # recorded: the next run does nothing


def test_a_view_that_lost_a_column_is_recreated_with_the_dependants_that_still_fit(warehouse, admin_view,
                                                                                   reader_role, tmp_path):
    sql_dir = _sql_dir_with(tmp_path, "20_contradictions.sql",
                            lambda t: t.replace("       s.run_id\n", "       1 as run\n"))
    result = wh.migrate_schema(warehouse, sql_dir)
    assert result.views_created[0] == "analytics.contradictions"
    assert result.dependants_recreated == [admin_view] and result.dependants_dropped == []
    # negotiation_tracks reads analytics.contradictions: dropped with it, and created again from its file
    assert "analytics.negotiation_tracks" in result.views_created
    assert _can_select(warehouse, reader_role, "analytics.contradictions")
    assert _can_select(warehouse, reader_role, admin_view)
    assert _rows(warehouse, f"select count(*) as n from {admin_view}") == [{"n": 0}]  # noqa: S608


def test_a_dependant_that_no_longer_fits_is_reported_dropped(warehouse, tmp_path):
    with wh.transaction(warehouse) as cur:
        cur.execute("create view public.runs_flagged as select run_id from analytics.contradictions")
    sql_dir = _sql_dir_with(tmp_path, "20_contradictions.sql",
                            lambda t: t.replace("       s.run_id\n", "       1 as run\n"))
    result = wh.migrate_schema(warehouse, sql_dir)
    assert len(result.dependants_dropped) == 1
    assert result.dependants_dropped[0].startswith("view public.runs_flagged: it no longer fits the new "
                                                   "analytics.contradictions"), result.dependants_dropped
    assert _oid(warehouse, "public.runs_flagged") is None


def test_migrate_names_the_analyst_whose_transaction_keeps_a_view_from_changing(warehouse, warehouse_dsn, tmp_path):
    import psycopg2

    wh.migrate(warehouse)
    sql_dir = _sql_dir_with(tmp_path, "40_status_timeline.sql",
                            lambda t: t.replace("  from daily d;", "  from daily d\n where true;"))
    reader = psycopg2.connect(warehouse_dsn, application_name="analyst psql")
    try:
        with reader.cursor() as cur:
            cur.execute("select count(*) from analytics.status_timeline")
        result = wh.migrate_schema(warehouse, sql_dir, lock_timeout=0.2)
    finally:
        reader.close()
    assert result.views_created == [] and result.views_blocked
    assert "'analyst psql'" in result.views_blocked and "idle in transaction" in result.views_blocked
    assert wh.migrate_schema(warehouse, sql_dir).views_created == ["analytics.status_timeline"]


# --------------------------------------------------------------------------- analyst functions: the same rule

TRIAGE = "analytics.triage_contradiction(bigint, text, text)"
TRIAGE_FILE = "10_triage_contradiction.sql"


def _fn_oid(conn, signature: str = TRIAGE) -> int | None:
    return _rows(conn, "select to_regprocedure(%s)::oid as oid", (signature,))[0]["oid"]


def _fn_source(conn, signature: str = TRIAGE) -> str:
    return _rows(conn, "select prosrc from pg_proc where oid = to_regprocedure(%s)", (signature,))[0]["prosrc"]


def _executors(conn, signature: str = TRIAGE) -> set[str]:
    """Who may execute the function besides its owner ('PUBLIC' included, as PostgreSQL's default has it)."""
    rows = _rows(conn, """
        select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end as who
          from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
         where p.oid = to_regprocedure(%s) and a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner
    """, (signature,))
    return {r["who"] for r in rows}


def _sql_dir_with_function(tmp_path, edit, file_name: str = TRIAGE_FILE):
    """A copy of sql/ whose function file FILE_NAME is EDIT(text), or is gone when EDIT returns None."""
    import shutil

    copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, copy)
    path = copy / "functions" / file_name
    text = edit(path.read_text("utf-8"))
    if text is None:
        path.unlink()
    else:
        path.write_text(text, encoding="utf-8")
    return copy


@pytest.fixture
def granted_function(warehouse, reader_role):
    """An administrator's grant of the triage function to a role of theirs."""
    with wh.transaction(warehouse) as cur:
        cur.execute(f'grant execute on function {TRIAGE} to "{reader_role}"')
    return reader_role


def test_every_function_file_creates_or_replaces_the_function_its_comment_names():
    files = wh.list_functions(SQL_DIR)
    assert [f.name for f in files] == [TRIAGE_FILE]
    for path in files:
        text = path.read_text("utf-8")
        assert text.count("create or replace function") == 1 and "create function" not in text, path.name
    assert wh.function_signature(files[0]) == TRIAGE


def test_migrate_records_the_function_and_leaves_it_alone_while_its_file_is_unchanged(warehouse):
    wh.migrate(warehouse)  # a fresh copy of the template has database privileges to settle first
    oid = _fn_oid(warehouse)
    assert _executors(warehouse) == {"talkwatch_analyst"}  # not PUBLIC
    assert _rows(warehouse, "select file_name, function_name from talkwatch.function_definitions") == [
        {"file_name": TRIAGE_FILE, "function_name": TRIAGE}]
    assert wh.migrate_schema(warehouse).changed is False
    assert _fn_oid(warehouse) == oid


def test_a_function_whose_body_changed_is_replaced_in_place_with_its_grants(warehouse, granted_function, tmp_path):
    sql_dir = _sql_dir_with_function(tmp_path, lambda t: t.replace("at most 2000 characters (this one has %)",
                                                                   "at most 2,000 characters (this one has %)"))
    oid = _fn_oid(warehouse)
    result = wh.migrate_schema(warehouse, sql_dir)
    assert (result.functions_created, result.functions_dropped, result.views_created) == ([TRIAGE], [], [])
    assert _fn_oid(warehouse) == oid and "at most 2,000 characters" in _fn_source(warehouse)
    assert _executors(warehouse) == {"talkwatch_analyst", granted_function}
    assert wh.migrate_schema(warehouse, sql_dir).changed is False  # recorded: the next run does nothing


def test_a_function_that_cannot_be_replaced_is_created_again_with_its_grants(warehouse, granted_function, tmp_path):
    sql_dir = _sql_dir_with_function(tmp_path, lambda t: t.replace("p_note", "p_comment"))  # a parameter renamed
    oid = _fn_oid(warehouse)
    result = wh.migrate_schema(warehouse, sql_dir)
    assert result.functions_created == [TRIAGE]
    assert _fn_oid(warehouse) not in (None, oid) and "p_comment" in _fn_source(warehouse)
    assert _executors(warehouse) == {"talkwatch_analyst", granted_function}


def test_a_function_file_with_another_signature_replaces_the_old_function(warehouse, granted_function, tmp_path):
    new = "analytics.triage_contradiction(bigint, text, text, boolean)"
    sql_dir = _sql_dir_with_function(tmp_path, lambda t: t.replace(
        "p_note text default null\n", "p_note text default null,\n    p_urgent boolean default false\n").replace(
        "triage_contradiction(bigint, text, text) is", "triage_contradiction(bigint, text, text, boolean) is"))
    result = wh.migrate_schema(warehouse, sql_dir)
    assert (result.functions_created, result.functions_dropped) == ([new], [TRIAGE])
    assert _fn_oid(warehouse) is None
    assert _executors(warehouse, new) == {"talkwatch_analyst", granted_function}
    assert wh.migrate_schema(warehouse, sql_dir).changed is False


def test_a_function_whose_file_is_gone_is_dropped(warehouse, tmp_path):
    sql_dir = _sql_dir_with_function(tmp_path, lambda t: None)
    result = wh.migrate_schema(warehouse, sql_dir)
    assert result.functions_dropped == [TRIAGE] and _fn_oid(warehouse) is None
    assert _rows(warehouse, "select count(*) as n from talkwatch.function_definitions") == [{"n": 0}]


def test_a_function_something_depends_on_is_never_dropped(warehouse, tmp_path):
    with wh.transaction(warehouse) as cur:
        cur.execute(f"create view public.uses_triage as select * from {TRIAGE.split('(')[0]}(1, 'confirmed', null)")
    sql_dir = _sql_dir_with_function(tmp_path, lambda t: t.replace("p_note", "p_comment"))
    oid = _fn_oid(warehouse)
    with pytest.raises(wh.WarehouseError, match="other objects depend on it: .*uses_triage"):
        wh.migrate_schema(warehouse, sql_dir)
    assert _fn_oid(warehouse) == oid and _oid(warehouse, "public.uses_triage") is not None


def test_a_missing_function_is_created_again_for_the_analyst_only(warehouse):
    with wh.transaction(warehouse) as cur:
        cur.execute(f"drop function {TRIAGE}")
    assert wh.migrate_schema(warehouse).functions_created == [TRIAGE]
    assert _executors(warehouse) == {"talkwatch_analyst"}


def test_read_only_commands_leave_a_changed_function_file_to_the_next_migration(warehouse, warehouse_dsn, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    sql_dir = _sql_dir_with_function(tmp_path, lambda t: t.replace("at most 2000 characters (this one has %)",
                                                                   "at most 2,000 characters (this one has %)"))
    oid, source = _fn_oid(warehouse), _fn_source(warehouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN=warehouse_dsn, TALKWATCH_HOME=str(tmp_path / "home"), TALKWATCH_SQL_DIR=str(sql_dir))
    for args in (["db", "counts"], ["contradictions"], ["report", "-o", str(tmp_path / "r.html")]):
        out = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                             env=env, timeout=120, cwd=REPO)
        assert out.returncode == 0, (args, out.stderr)
    assert (_fn_oid(warehouse), _fn_source(warehouse)) == (oid, source)
    assert wh.migrate_schema(warehouse, sql_dir).functions_created == [TRIAGE]
