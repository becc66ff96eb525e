"""Warehouse outage: the run's backend is terminated while it loads claims; the run fails naming the step,
and the next night completes with nothing lost or duplicated."""

from __future__ import annotations

import json

import psycopg2
import pytest
from rel_support import night_env, query, run_cli, runs, seed_contradictions, warehouse_state

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture(scope="module")
def outage_then_rerun(make_db, pg_server_dsn, served_samples, background_runs, tmp_path_factory):
    dsn = make_db()
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    tmp = tmp_path_factory.mktemp("outage")
    env = night_env(dsn, tmp / "home")
    args = ["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"]

    victim = background_runs(args, env, tmp / "victim", pause=True)
    victim.wait_paused()
    terminated = query(
        pg_server_dsn,
        "select pg_terminate_backend(pid) from pg_stat_activity "
        "where application_name = 'talkwatch' and datname = %s and pid <> pg_backend_pid()",
        (dbname,),
    )
    victim.release()
    victim.wait()
    runs_after_outage = runs(dsn)

    rerun = run_cli(args, env)
    return {"terminated": terminated, "victim": victim, "runs_after_outage": runs_after_outage, "rerun": rerun,
            "state": warehouse_state(dsn)}


def test_outage_hits_the_runs_only_connection(outage_then_rerun):
    assert outage_then_rerun["terminated"] == [(True,)]


def test_run_fails_naming_the_step_when_the_warehouse_goes_away(outage_then_rerun):
    victim = outage_then_rerun["victim"]
    assert victim.proc.returncode == 1, victim.stderr
    err = victim.stderr
    assert "talkwatch: step 'extract_claims' failed" in err, err
    assert "Traceback" not in err, err


def test_failed_run_records_its_step_and_error_on_a_new_connection(outage_then_rerun):
    [(_run_id, status, error, summary)] = outage_then_rerun["runs_after_outage"]
    assert status == "failed"
    assert error.startswith("extract_claims: OperationalError: "), error
    assert "terminat" in error, error  # PostgreSQL's own words: "terminating connection due to administrator command"
    assert summary["articles_new"] > 0  # what the night had done before the outage


def test_next_run_after_outage_completes(outage_then_rerun):
    rerun = outage_then_rerun["rerun"]
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["articles_extracted"] > 0 and summary["claims"] > 0


def test_nothing_lost_or_duplicated_after_outage(outage_then_rerun, served_samples, reference_night):
    state = outage_then_rerun["state"]
    assert state.duplicate_urls == [] and state.article_urls == served_samples.entry_urls
    assert set(state.extract_status) <= {"done", "skipped"}, state.extract_status
    assert state.duplicate_claims == [] and state.claims == reference_night.claims
    assert seed_contradictions(state) == 1 and state.contradictions == reference_night.contradictions
