"""Analyst triage: confirm or dismiss a contradiction (CLI and analytics function), export the decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_alerts import seed_nigeria, seed_story

from pipeline import triage

REPO = Path(__file__).resolve().parents[1]


def _cli(args: list[str], dsn: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env["TALKWATCH_DSN"] = dsn
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO)


def _decisions(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("select contradiction_id, decision, note from talkwatch.contradiction_triage order by 1")
        rows = cur.fetchall()
    conn.commit()
    return rows


def test_dismiss_command_records_the_decision_with_its_note(warehouse, warehouse_dsn):
    cid = seed_story(warehouse)
    out = _cli(["contradictions", "dismiss", str(cid), "--note", "the same spokesman, misread"], warehouse_dsn)
    assert out.returncode == 0, out.stderr
    assert f"contradiction {cid} dismissed" in out.stdout and "not be mailed again" in out.stdout
    assert _decisions(warehouse) == [(cid, "dismissed", "the same spokesman, misread")]


def test_the_latest_decision_counts(warehouse, warehouse_dsn):
    cid = seed_story(warehouse)
    assert _cli(["contradictions", "dismiss", str(cid)], warehouse_dsn).returncode == 0
    assert _cli(["contradictions", "confirm", str(cid)], warehouse_dsn).returncode == 0
    assert _decisions(warehouse) == [(cid, "confirmed", None)]


def test_triage_of_a_missing_contradiction_is_a_clear_error(warehouse_dsn):
    out = _cli(["contradictions", "confirm", "999"], warehouse_dsn)
    assert out.returncode == 1
    assert out.stderr.strip() == "talkwatch: there is no contradiction 999"


def test_a_note_over_2000_characters_is_refused(warehouse):
    cid = seed_story(warehouse)
    with pytest.raises(triage.TriageError, match="at most 2000 characters"):
        triage.decide(warehouse, cid, "dismissed", "x" * 2001)
    assert _decisions(warehouse) == []


def test_an_unknown_decision_is_refused(warehouse):
    cid = seed_story(warehouse)
    with pytest.raises(triage.TriageError, match="'confirmed' or 'dismissed'"):
        triage.decide(warehouse, cid, "maybe")


def test_the_listing_shows_dismissed_contradictions_as_dismissed(warehouse, warehouse_dsn):
    cid = seed_story(warehouse)
    triage.decide(warehouse, cid, "dismissed")
    out = _cli(["contradictions"], warehouse_dsn)
    assert out.returncode == 0, out.stderr
    assert "confidence 0.38, dismissed by" in out.stdout


# --------------------------------------------------------------------------- export-feedback


def _examples(conn) -> dict[str, dict]:
    return {line["id"]: line for line in triage.feedback_examples(conn)}


def test_a_confirmed_contradiction_exports_as_two_gold_claims_and_their_conflict(warehouse):
    cid = seed_nigeria(warehouse)
    triage.decide(warehouse, cid, "confirmed", "checked with the desk")
    lines = _examples(warehouse)
    assert len(lines) == 2  # the government's article and Shekau's
    claims = {f"{aid}#{i}": c for aid, line in lines.items() for i, c in enumerate(line["claims"])}
    (pair,) = [p for line in lines.values() for p in line["conflicts"]]
    a, b = claims[pair["a"]], claims[pair["b"]]
    assert {a["source_id"], b["source_id"]} == {"abubakar-shekau", "nigerian-government"}
    assert {a["status"], b["status"]} == {"denied", "agreed"}
    assert set(a) == {"parties", "status", "topic", "source", "source_aliases", "source_id", "hedged",
                      "event_time", "evidence"}  # the gold claim fields of SPEC §6
    for line in lines.values():
        assert {"id", "outlet", "url", "published", "title", "text", "claims", "conflicts"} <= set(line)
        assert line["labels"] == "triage" and line["dismissed_conflicts"] == []
        assert line["triage"] == [{"contradiction_id": cid, "decision": "confirmed", "note": "checked with the desk",
                                   "decided_by": line["triage"][0]["decided_by"],
                                   "decided_at": line["triage"][0]["decided_at"]}]


def test_a_dismissed_contradiction_exports_as_a_negative_pair_not_as_claims(warehouse):
    cid = seed_story(warehouse)
    triage.decide(warehouse, cid, "dismissed", "not the same talks")
    lines = _examples(warehouse)
    assert all(line["claims"] == [] and line["conflicts"] == [] for line in lines.values())
    (negative,) = [p for line in lines.values() for p in line["dismissed_conflicts"]]
    assert negative["contradiction_id"] == cid and negative["note"] == "not the same talks"
    assert {negative["a"]["source_id"], negative["b"]["source_id"]} == {"maria-zakharova", "washington-post"}
    assert negative["a"]["article"] in lines and negative["b"]["article"] in lines


def test_confirmed_pairs_read_as_conflicts_by_the_reference_derivation(warehouse, shared_dir):
    """The confirmed lines are gold-format input: derive_conflicts.py finds the pair an analyst confirmed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("derive_conflicts", shared_dir / "eval" / "derive_conflicts.py")
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    cid = seed_nigeria(warehouse)
    triage.decide(warehouse, cid, "confirmed")
    lines = list(_examples(warehouse).values())
    claims = [(line, c) for line in lines for c in line["claims"]]
    (ca_line, ca), (cb_line, cb) = claims
    assert derive.conflict(ca, derive.published_day(ca_line), cb, derive.published_day(cb_line))


def test_export_feedback_command_writes_one_article_a_line(warehouse, warehouse_dsn, tmp_path):
    seed_story(warehouse)
    cid = seed_nigeria(warehouse)
    triage.decide(warehouse, cid, "confirmed")
    out_file = tmp_path / "feedback.jsonl"
    out = _cli(["export-feedback", "-o", str(out_file)], warehouse_dsn)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out_file.read_text("utf-8").splitlines()]
    assert [line["id"] for line in lines] == sorted(_examples(warehouse))  # only the triaged one's articles
    assert len(lines) == 2 and "2 articles" in out.stderr


def test_export_feedback_only_reads_it_never_migrates(empty_warehouse_dsn):
    out = _cli(["export-feedback"], empty_warehouse_dsn)
    assert out.returncode == 1
    assert "no talkwatch schema yet: run `talkwatch db migrate`" in out.stderr, out.stderr
