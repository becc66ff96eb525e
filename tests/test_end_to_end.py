"""End to end: sample feeds over HTTP → `talkwatch run` → the seed contradiction in the warehouse and in one email."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml

from pipeline import warehouse as wh

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "examples" / "feeds"
pytestmark = pytest.mark.slow


@pytest.fixture
def served_feeds(httpserver, tmp_path):
    """The bundled sample feeds, served from a local HTTP server, and a feeds file naming their URLs."""
    config = yaml.safe_load((SAMPLES / "feeds.yaml").read_text())
    feeds = []
    for f in config["feeds"]:
        body = (SAMPLES / f["url"]).read_bytes()
        path = f"/feeds/{f['url']}"
        httpserver.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
        feeds.append({**f, "url": httpserver.url_for(path)})
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump({"fetch_fulltext": False, "feeds": feeds}))
    return path


def _run(args, env):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env, timeout=300,
        cwd=REPO,
    )


def _env(warehouse_dsn, smtp, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(
        TALKWATCH_DSN=warehouse_dsn,
        TALKWATCH_HOME=str(tmp_path / "home"),
        TALKWATCH_SMTP_HOST="127.0.0.1",
        TALKWATCH_SMTP_PORT=str(smtp.port),
        TALKWATCH_ALERT_TO="analysts@example.org",
        TALKWATCH_ALERT_FROM="talkwatch@example.org",
        TALKWATCH_FETCH_FULLTEXT="0",
        # the sample story is under the default threshold (a test below keeps it); the others are about
        # mailing once: they mail every contradiction
        TALKWATCH_ALERT_MIN_CONFIDENCE="0",
    )
    return env


def test_run_finds_the_seed_contradiction_and_mails_it_once(warehouse_dsn, served_feeds, smtp_server, tmp_path):
    ctl, inbox = smtp_server
    env = _env(warehouse_dsn, ctl, tmp_path)

    first = _run(["run", "--feeds", str(served_feeds), "--json"], env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["feeds"] == 3 and summary["feeds_failed"] == 0
    assert summary["contradictions_new"] >= 1  # the seed story's; the business, sport and trade news yield none
    assert summary["mails_sent"] == 1

    listed = _run(["contradictions", "--format", "jsonl"], env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    seed = [r for r in rows if r["parties"] == ["RUS", "UKR"]
            and {r["a"]["source_key"], r["b"]["source_key"]} == {"maria-zakharova", "washington-post"}]
    assert len(seed) == 1 and all(r["parties"] == ["RUS", "UKR"] for r in rows), rows
    statuses = {seed[0]["a"]["status"], seed[0]["b"]["status"]}
    assert "denied" in statuses and statuses & {"planned", "ongoing", "stalled"}  # a reported state
    outlets = {c["reported_by"] for c in seed[0]["evidence_a"] + seed[0]["evidence_b"]}
    assert outlets == {"Global Courier", "Eastern Herald"}

    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    assert rcpt == ["analysts@example.org"]
    msg = message_from_bytes(raw, policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert "Zakharova" in text and "Washington Post" in text

    conn = wh.connect(warehouse_dsn)
    before = wh.table_counts(conn)
    second = _run(["run", "--feeds", str(served_feeds), "--json"], env)
    assert second.returncode == 0, second.stderr
    after = wh.table_counts(conn)
    conn.close()
    assert json.loads(second.stdout)["mails_sent"] == 0
    assert len(inbox.messages) == 1
    # the second night adds its own run and fetch-log rows, and nothing else
    grew = {k for k in before if before[k] != after[k]}
    assert grew <= {"runs", "feed_fetches"}, (before, after)


def test_run_on_bundled_samples_prints_the_summary(warehouse_dsn, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN=warehouse_dsn, TALKWATCH_HOME=str(tmp_path / "home"))
    out = _run(["run"], env)
    assert out.returncode == 0, out.stderr
    found = re.search(r"new contradictions:\s+(\d+)", out.stdout)
    assert found and int(found.group(1)) >= 1, out.stdout
    assert "Maria Zakharova" in out.stdout and "Washington Post" in out.stdout


def test_unreachable_warehouse_fails_with_a_message_naming_the_step(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN="postgresql://nobody@127.0.0.1:1/none", TALKWATCH_HOME=str(tmp_path / "home"))
    out = _run(["run", "--quiet"], env)
    assert out.returncode == 1
    assert "connect_warehouse" in out.stderr and "Traceback" not in out.stderr


def test_bad_feeds_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds: [{outlet: No URL}]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN="postgresql://nobody@127.0.0.1:1/none")
    out = _run(["run", "--feeds", str(bad), "--quiet"], env)
    assert out.returncode == 1
    assert "load_feeds" in out.stderr and "Traceback" not in out.stderr


def test_at_the_default_threshold_the_sample_story_stays_unmailed_and_marked_low_confidence(
    warehouse_dsn, served_feeds, smtp_server, tmp_path
):
    ctl, inbox = smtp_server
    env = _env(warehouse_dsn, ctl, tmp_path)
    del env["TALKWATCH_ALERT_MIN_CONFIDENCE"]

    run = _run(["run", "--feeds", str(served_feeds), "--json"], env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["contradictions_new"] >= 1 and summary["contradictions_held"] == summary["contradictions_new"]
    assert summary["mails_sent"] == 0 and inbox.messages == []
    listed = _run(["contradictions"], env)
    assert listed.stdout.count("low confidence (not mailed)") == summary["contradictions_new"], listed.stdout

    env["TALKWATCH_ALERT_MIN_CONFIDENCE"] = "not a number"
    refused = _run(["run", "--feeds", str(served_feeds)], env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == ("talkwatch: TALKWATCH_ALERT_MIN_CONFIDENCE must be a number from 0 to 1, "
                                      "not 'not a number'")
