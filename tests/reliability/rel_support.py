"""Helpers of the fault-injection suite: run, pause and kill `talkwatch run`, and read what it left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "examples" / "feeds"
RUN_TIMEOUT = 240  # one whole `talkwatch run` (spaCy load included)
PAUSE_TIMEOUT = 120  # until a run reaches the pause point


def query(dsn: str, statement: str, params: tuple | None = None) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


@dataclass
class WarehouseState:
    """What a run left behind, in terms that survive re-runs (no ids, no timestamps)."""

    counts: dict[str, int]
    duplicate_urls: list[tuple]
    article_urls: set[str]
    extract_status: dict[str, int]
    claims: Counter = field(default_factory=Counter)
    contradictions: Counter = field(default_factory=Counter)
    pending_alerts: int = 0
    tables: set[str] = field(default_factory=set)

    @property
    def duplicate_claims(self) -> list:
        return [k for k, n in self.claims.items() if n > 1]

    @property
    def duplicate_contradictions(self) -> list:
        return [k for k, n in self.contradictions.items() if n > 1]


def warehouse_state(dsn: str) -> WarehouseState:
    from pipeline import warehouse as wh

    conn = wh.connect(dsn, application_name="talkwatch-test")
    try:
        counts = wh.table_counts(conn)
        with conn.cursor() as cur:
            cur.execute("select canonical_url, count(*) from talkwatch.articles group by 1 having count(*) > 1")
            dups = cur.fetchall()
            cur.execute("select canonical_url from talkwatch.articles")
            urls = {r[0] for r in cur.fetchall()}
            cur.execute("select extract_status, count(*) from talkwatch.articles group by 1")
            status = dict(cur.fetchall())
            cur.execute(
                """
                select a.canonical_url, c.parties_key, c.status, c.topic, c.source_key, c.event_time, c.evidence
                  from talkwatch.claims c join talkwatch.articles a using (article_id)
                """
            )
            claims = Counter(cur.fetchall())
            cur.execute(
                "select parties_key, topic_family, period_key, source_key_a, source_key_b, rule "
                "from talkwatch.contradictions"
            )
            contradictions = Counter(cur.fetchall())
            cur.execute("select count(*) from talkwatch.contradictions where alerted_at is null")
            pending = cur.fetchone()[0]
            cur.execute("select table_schema || '.' || table_name from information_schema.tables "
                        "where table_schema in ('talkwatch', 'analytics')")
            tables = {r[0] for r in cur.fetchall()}
        conn.commit()
    finally:
        conn.close()
    return WarehouseState(counts, dups, urls, status, claims, contradictions, pending, tables)


SEED_PAIR = ("RUS|UKR", "maria-zakharova", "washington-post")


def seed_contradictions(state: WarehouseState) -> int:
    """How many stored contradictions are the seed story's (Zakharova vs the Washington Post)."""
    return sum(n for (parties, _fam, _period, a, b, _rule), n in state.contradictions.items()
               if (parties, a, b) == SEED_PAIR)



def runs(dsn: str) -> list[tuple]:
    """(run_id, status, error, summary) of every run, oldest first."""
    return query(dsn, "select run_id, status, error, summary from talkwatch.runs order by run_id")


def run_backends(dsn: str, application_name: str = "talkwatch") -> list[tuple]:
    """(pid, state) of the server sessions `talkwatch run` holds on this database."""
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    return query(dsn, "select pid, state from pg_stat_activity where datname = %s and application_name = %s "
                      "and pid <> pg_backend_pid()", (dbname, application_name))


def wait_backends_gone(dsn: str, timeout: float = 30) -> None:
    """After a kill -9 the server ends the sessions (the run's, and the one holding its run lock) only when
    it notices."""
    deadline = time.monotonic() + timeout
    while left := run_backends(dsn) + run_backends(dsn, "talkwatch-lock"):
        if time.monotonic() > deadline:
            pytest.fail(f"the killed run's server sessions are still there: {left}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- SMTP


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound once and released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- running talkwatch


def night_env(dsn: str, home: Path, *, smtp_port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env.update(
        TALKWATCH_DSN=dsn,
        TALKWATCH_HOME=str(home),
        TALKWATCH_FETCH_FULLTEXT="0",
        TALKWATCH_FETCH_RETRIES="0",
        TALKWATCH_HOST_DELAY="0",
    )
    if smtp_port is not None:
        env.update(
            TALKWATCH_SMTP_HOST="127.0.0.1",
            TALKWATCH_SMTP_PORT=str(smtp_port),
            TALKWATCH_SMTP_TIMEOUT="5",
            TALKWATCH_ALERT_TO="analysts@example.org",
            TALKWATCH_ALERT_FROM="talkwatch@example.org",
            # these tests are about delivering mail through faults: they mail every contradiction
            TALKWATCH_ALERT_MIN_CONFIDENCE="0",
        )
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


class BackgroundRun:
    """`talkwatch run` in the background, optionally held at a pause point of pipeline.nightly:
    `load_claims` (claims extracted, not yet loaded) or `load_claims_commit` (loaded, not committed)."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, *, pause: bool,
                 pause_at: str = "load_claims"):
        workdir.mkdir(parents=True, exist_ok=True)
        self.flag = workdir / "pause"
        self.reached = workdir / "pause.reached"
        self.reached.unlink(missing_ok=True)
        env = dict(env)
        if pause:
            self.flag.write_text("hold")
            env.update(TALKWATCH_TEST_PAUSE_AT=pause_at, TALKWATCH_TEST_PAUSE_FILE=str(self.flag))
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], stdout=out, stderr=err,
                                         env=env, cwd=REPO)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_paused(self, timeout: float = PAUSE_TIMEOUT) -> int:
        """Block until the run sits at the pause point; returns the pid it wrote."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reached.exists() and self.reached.read_text().strip():
                pid = int(self.reached.read_text().strip())
                assert pid == self.proc.pid
                return pid
            if self.proc.poll() is not None:
                pytest.fail(f"run exited ({self.proc.returncode}) before the pause point:\n{self.stderr}")
            time.sleep(0.05)
        pytest.fail(f"run did not reach the pause point within {timeout}s:\n{self.stderr}")

    def release(self) -> None:
        self.flag.unlink(missing_ok=True)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        self.release()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


