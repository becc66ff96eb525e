"""The embedded server: `talkwatch db stop` and `db status` tell the truth after a crash; a long TALKWATCH_HOME works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from pipeline import embedded

REPO = Path(__file__).resolve().parents[1]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
    env["TALKWATCH_HOME"] = str(home)
    return env


def _cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, env=env or _env(home),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def home(embedded_home):
    return embedded_home


def _start_and_kill(home: Path) -> int:
    """A process that attaches to the embedded server (as every talkwatch command does), killed with
    SIGKILL as `timeout`, systemd or the OOM killer would: its pid stays in the wheel's handle list."""
    code = ("import sys; from pipeline import embedded; embedded.start(sys.argv[1]); "
            "print('attached', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(home)], cwd=REPO, env=_env(home),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "attached"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return proc.pid


def test_db_stop_stops_the_server_after_the_process_that_started_it_was_killed(home):
    killed = _start_and_kill(home)
    handles = json.loads((embedded.data_dir(home) / ".handle_pids.json").read_text())
    assert killed in handles and embedded.running(home)  # what made `db stop` answer "was not running"
    out = _cli(home, "db", "stop")
    assert out.returncode == 0, out.stderr
    assert "stopped" in out.stdout and "was not running" not in out.stdout, out.stdout
    assert not embedded.running(home)


def test_db_status_says_running_with_the_servers_pid_after_a_killed_process(home):
    _start_and_kill(home)
    out = _cli(home, "db", "status")
    pid = int((embedded.data_dir(home) / "postmaster.pid").read_text().split()[0])
    assert out.returncode == 0, out.stderr
    assert f"running (pid {pid}" in out.stdout and "accepting connections" in out.stdout, out.stdout


def test_db_status_says_not_running_with_exit_status_3_once_stopped(home):
    assert _cli(home, "db", "migrate").returncode == 0
    assert _cli(home, "db", "stop").returncode == 0
    out = _cli(home, "db", "status")
    assert out.returncode == 3
    assert out.stdout.strip().endswith(": not running"), out.stdout


def test_db_status_names_a_stale_postmaster_pid_left_by_a_killed_server(home):
    assert _cli(home, "db", "migrate").returncode == 0
    pid = embedded.status(home).pid
    os.kill(pid, signal.SIGKILL)  # the postmaster itself dies; its postmaster.pid stays behind
    psutil.Process(pid).wait(timeout=30)
    assert (embedded.data_dir(home) / "postmaster.pid").exists()
    out = _cli(home, "db", "status")
    assert out.returncode == 3, out.stdout
    assert f"not running; its postmaster.pid names process {pid}, which is gone" in out.stdout, out.stdout


def test_a_long_talkwatch_home_gets_a_socket_that_fits(home):
    long_home = home / ("h" * 90)  # the data folder's socket path alone would be over 107 bytes
    env = _env(long_home)
    env.pop("XDG_RUNTIME_DIR", None)  # as under cron or a system service: no user runtime folder
    try:
        out = _cli(long_home, "db", "dsn", env=env)
        assert out.returncode == 0, out.stderr
        socket_dir = Path(out.stdout.strip().split("host=", 1)[1])
        assert len(os.fsencode(socket_dir / ".s.PGSQL.5432")) <= 107
        assert socket_dir.stat().st_mode & 0o077 == 0  # as private as the data folder: trust auth behind it
        migrated = _cli(long_home, "db", "migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
    finally:
        if embedded.running(long_home):
            embedded.stop(long_home)
