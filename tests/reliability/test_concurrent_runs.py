"""Concurrent runs: while one night holds the run lock, a second exits with a clear message, and one started
with --wait waits for it and then completes; nothing is duplicated."""

from __future__ import annotations

import json
import time

import psycopg2
import pytest
from rel_support import night_env, query, run_cli, runs, seed_contradictions, warehouse_state

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def _lock_waiters(dsn: str) -> int:
    """Sessions waiting for the run lock (a row lock of talkwatch.pipeline_locks, taken by a session of its own)."""
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    return query(dsn, "select count(*) from pg_locks l join pg_stat_activity a using (pid) "
                      "where not l.granted and a.datname = %s and a.application_name = 'talkwatch-lock'",
                 (dbname,))[0][0]


@pytest.fixture(scope="module")
def concurrent_nights(make_db, served_samples, background_runs, tmp_path_factory):
    dsn = make_db()
    tmp = tmp_path_factory.mktemp("concurrent")
    env = night_env(dsn, tmp / "home")
    args = ["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"]

    first = background_runs(args, env, tmp / "first", pause=True)
    first.wait_paused()
    out = {"first": first}
    out["second"] = run_cli(args, env, timeout=120)  # no --wait: must give up at once

    waiter = background_runs([*args, "--wait"], env, tmp / "waiter", pause=False)
    deadline = time.monotonic() + 60
    while _lock_waiters(dsn) < 1 and waiter.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    out["waiter_blocked"] = _lock_waiters(dsn) >= 1 and waiter.proc.poll() is None
    first.release()
    first.wait()
    waiter.wait()
    out["waiter"] = waiter
    out["state"] = warehouse_state(dsn)
    out["runs"] = runs(dsn)
    return out


def test_second_run_exits_with_a_clear_message_while_one_is_in_progress(concurrent_nights):
    second = concurrent_nights["second"]
    assert second.returncode == 4  # README "Exit status": another run is in progress
    assert "talkwatch: another talkwatch run is in progress" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
    assert json.loads(second.stdout) == {"run_id": None, "status": "run_in_progress", "exit_code": 4,
                                         "error": second.stderr.strip().removeprefix("talkwatch: ")}


def test_run_with_wait_blocks_on_the_run_lock(concurrent_nights):
    assert concurrent_nights["waiter_blocked"]


def test_first_run_completes_after_a_concurrent_attempt(concurrent_nights):
    first = concurrent_nights["first"]
    assert first.proc.returncode == 0, first.stderr
    assert json.loads(first.stdout)["contradictions_new"] >= 1


def test_run_with_wait_completes_after_the_first(concurrent_nights):
    waiter = concurrent_nights["waiter"]
    assert waiter.proc.returncode == 0, waiter.stderr
    summary = json.loads(waiter.stdout)
    assert summary["articles_new"] == 0 and summary["claims"] == 0 and summary["contradictions_new"] == 0


def test_concurrent_runs_duplicate_nothing(concurrent_nights, served_samples, reference_night):
    state = concurrent_nights["state"]
    assert state.duplicate_urls == [] and state.article_urls == served_samples.entry_urls
    assert state.duplicate_claims == [] and state.claims == reference_night.claims
    assert seed_contradictions(state) == 1 and state.contradictions == reference_night.contradictions


def test_the_refused_run_leaves_no_half_open_run_behind(concurrent_nights):
    summaries = [json.loads(concurrent_nights[k].stdout)["run_id"] for k in ("first", "waiter")]
    assert [(run_id, status, error) for run_id, status, error, _ in concurrent_nights["runs"]] == [
        (summaries[0], "success", None), (summaries[1], "success", None)]
