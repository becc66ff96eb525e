"""An analyst's session cannot stop, delay or hang a night: holding the advisory keys the pipeline once
used, and an open transaction on every analyst view, while `talkwatch run` runs."""

from __future__ import annotations

import json
import uuid

import psycopg2
import pytest
from psycopg2 import sql
from rel_support import night_env, run_cli, runs

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

OLD_ADVISORY_KEYS = (727_011_001, 727_011_002, 727_011_003)  # migration, run, detection (before 0009)
VIEWS = ("negotiation_claims", "contradictions", "negotiation_tracks", "status_timeline")


@pytest.fixture(scope="module")
def night_beside_an_analyst(make_db, served_samples, tmp_path_factory):
    from pipeline import roles
    from pipeline import warehouse as wh

    dsn = make_db()
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    name = f"tw_analyst_{uuid.uuid4().hex[:8]}"
    admin = wh.connect(dsn)
    roles.grant_analyst(admin, name)
    with wh.transaction(admin) as cur:  # a lock wait fails the night after 5 s instead of hanging the test
        cur.execute(sql.SQL("alter database {} set lock_timeout = '5s'").format(sql.Identifier(dbname)))
    admin.close()
    analyst = psycopg2.connect(psycopg2.extensions.make_dsn(dsn, user=name))
    try:
        with analyst.cursor() as cur:
            for key in OLD_ADVISORY_KEYS:
                cur.execute("select pg_advisory_lock(%s)", (key,))
            for view in VIEWS:  # and a transaction left open on every view, as a psql session might
                cur.execute(sql.SQL("select count(*) from analytics.{}").format(sql.Identifier(view)))
            cur.execute("select xact_start from pg_stat_activity where pid = pg_backend_pid()")
            opened = cur.fetchone()[0]
        out = run_cli(["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"],
                      night_env(dsn, tmp_path_factory.mktemp("analyst") / "home"))
        with analyst.cursor() as cur:
            cur.execute("select xact_start from pg_stat_activity where pid = pg_backend_pid()")
            still_open = cur.fetchone()[0] == opened
    finally:
        analyst.close()
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))
        admin.close()
    return {"out": out, "runs": runs(dsn), "still_open": still_open}


def test_a_night_completes_while_an_analyst_holds_the_old_lock_keys_and_open_views(night_beside_an_analyst):
    out = night_beside_an_analyst["out"]
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["contradictions_new"] >= 1
    assert [status for _id, status, _err, _summary in night_beside_an_analyst["runs"]] == ["success"]


def test_the_analysts_transaction_was_left_open(night_beside_an_analyst):
    assert night_beside_an_analyst["still_open"]  # neither ended nor waited out by the night
