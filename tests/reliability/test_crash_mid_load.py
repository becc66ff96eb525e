"""Crash mid-load: `kill -9` of `talkwatch run` inside its open claims-load transaction; the re-run loses
and repeats nothing, and records the killed run as abandoned."""

from __future__ import annotations

import json

import pytest
from rel_support import (
    night_env,
    query,
    run_backends,
    run_cli,
    runs,
    seed_contradictions,
    wait_backends_gone,
    warehouse_state,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture(scope="module")
def crashed_then_rerun(make_db, served_samples, background_runs, tmp_path_factory):
    """One night killed with its claims written but not committed, then a second night run to completion."""
    dsn = make_db()
    tmp = tmp_path_factory.mktemp("crash")
    env = night_env(dsn, tmp / "home")
    args = ["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"]

    victim = background_runs(args, env, tmp / "victim", pause=True, pause_at="load_claims_commit")
    victim.wait_paused()
    before_kill = warehouse_state(dsn)
    sessions = run_backends(dsn)
    claim_writers = query(dsn, "select count(*) from pg_locks where relation = 'talkwatch.claims'::regclass "
                               "and mode = 'RowExclusiveLock' and pid = any(%s)", ([pid for pid, _ in sessions],))
    victim.kill9()
    wait_backends_gone(dsn)  # the server rolls the open transaction back when it sees the client gone

    rerun = run_cli(args, env)
    return {"dsn": dsn, "victim": victim, "before_kill": before_kill, "sessions": sessions,
            "claim_writers": claim_writers[0][0], "rerun": rerun, "state": warehouse_state(dsn),
            "runs": runs(dsn)}


def test_kill_hits_an_open_claims_load_transaction(crashed_then_rerun):
    assert crashed_then_rerun["victim"].proc.returncode == -9
    assert [state for _pid, state in crashed_then_rerun["sessions"]] == ["idle in transaction"]
    assert crashed_then_rerun["claim_writers"] == 1  # it had written claims, uncommitted


def test_killed_run_had_committed_articles_but_no_claims(crashed_then_rerun):
    before = crashed_then_rerun["before_kill"]
    assert before.counts["articles"] > 0 and before.counts["claims"] == 0, before.counts


def test_rerun_after_kill_completes(crashed_then_rerun):
    rerun = crashed_then_rerun["rerun"]
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["articles_new"] == 0  # the killed night had stored them all
    assert summary["articles_extracted"] > 0 and summary["claims"] > 0


def test_no_article_duplicated_after_kill(crashed_then_rerun, served_samples):
    state = crashed_then_rerun["state"]
    assert state.duplicate_urls == []
    assert state.counts["articles"] == len(served_samples.entry_urls)


def test_no_article_lost_after_kill(crashed_then_rerun, served_samples):
    state = crashed_then_rerun["state"]
    assert state.article_urls == served_samples.entry_urls
    # every article extracted: none left pending, none failed
    assert set(state.extract_status) <= {"done", "skipped"}, state.extract_status


def test_no_claim_duplicated_after_kill(crashed_then_rerun):
    state = crashed_then_rerun["state"]
    assert state.counts["claims"] > 0
    assert state.duplicate_claims == []


def test_seed_contradiction_stored_once_after_kill(crashed_then_rerun):
    state = crashed_then_rerun["state"]
    assert seed_contradictions(state) == 1, state.contradictions
    assert state.duplicate_contradictions == []


def test_claims_after_kill_match_an_undisturbed_night(crashed_then_rerun, reference_night):
    state = crashed_then_rerun["state"]
    assert state.claims == reference_night.claims
    assert state.contradictions == reference_night.contradictions


def test_killed_run_is_recorded_as_abandoned_by_the_next(crashed_then_rerun):
    (killed_id, killed_status, killed_error, _), (_, rerun_status, rerun_error, _) = crashed_then_rerun["runs"]
    assert killed_status == "failed" and killed_error.startswith("abandoned: "), killed_error
    assert rerun_status == "success" and rerun_error is None
