"""The `talkwatch` command line: what it prints of feed text cannot steer the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_alerts import Rows

REPO = Path(__file__).resolve().parents[1]
BIDI = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it would be shown reversed


def _cli(dsn: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN=dsn, TALKWATCH_HOME=str(tmp_path / "home"))
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO)


def _bidi_contradiction(conn) -> None:
    rows = Rows(conn)
    a = rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source=f"{BIDI}ecruos lived",
                   source_key="bidi-source", evidence=f"No talks {BIDI}deined.", outlet="Wire")
    b = rows.claim(parties=["RUS", "UKR"], status="held", topic="ceasefire", source="Plain",
                   source_key="plain", evidence="Talks were held.", outlet="Wire")
    rows.contradiction([a], [b], parties=["RUS", "UKR"], source_keys=("bidi-source", "plain"))


def test_contradictions_table_shows_bidi_controls_instead_of_obeying_them(warehouse, warehouse_dsn, tmp_path):
    _bidi_contradiction(warehouse)
    out = _cli(warehouse_dsn, tmp_path, "contradictions")
    assert out.returncode == 0, out.stderr
    assert BIDI not in out.stdout
    assert "[U+202E]ecruos lived" in out.stdout and "No talks [U+202E]deined." in out.stdout, out.stdout


def test_contradictions_jsonl_escapes_bidi_controls_and_keeps_the_text(warehouse, warehouse_dsn, tmp_path):
    _bidi_contradiction(warehouse)
    out = _cli(warehouse_dsn, tmp_path, "contradictions", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert BIDI not in out.stdout and "\\u202e" in out.stdout
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["a"]["source"] == f"{BIDI}ecruos lived"  # the same string to a JSON reader


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(warehouse, warehouse_dsn, tmp_path):
    """`talkwatch contradictions --format jsonl | head -1`: no traceback when the reader goes away."""
    rows = Rows(warehouse)
    long_text = "No such talks took place, the ministry said. " * 40  # ~1.8 kB a side: 200 kB in all
    for i in range(60):
        a = rows.claim(parties=["RUS", "UKR"], status="denied", topic="ceasefire", source=f"Denier {i}",
                       source_key=f"denier-{i}", evidence=long_text, outlet="Wire")
        b = rows.claim(parties=["RUS", "UKR"], status="held", topic="ceasefire", source=f"Reporter {i}",
                       source_key=f"reporter-{i}", evidence=long_text, outlet="Wire")
        rows.contradiction([a], [b], parties=["RUS", "UKR"], source_keys=(f"denier-{i}", f"reporter-{i}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(TALKWATCH_DSN=warehouse_dsn, TALKWATCH_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "contradictions", "--format", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader stops, as `head -1` does, while far more than a pipe's buffer is left
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert json.loads(first)["a"]["source"].startswith("Denier")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert proc.returncode == 141, (proc.returncode, stderr)  # 128 + SIGPIPE, as a tool the signal ended
