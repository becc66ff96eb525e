"""A night that fails says so in its exit status (and in --json), and a night interrupted by Ctrl-C or SIGTERM
records how it ended at once, not at the next run."""

from __future__ import annotations

import json
import signal

import pytest
import yaml
from rel_support import free_port, night_env, run_cli, runs

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_night_on_which_every_feed_failed_exits_5(make_db, tmp_path):
    dead = [f"http://127.0.0.1:{free_port()}/rss.xml", f"http://127.0.0.1:{free_port()}/atom.xml"]
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(yaml.safe_dump({"feeds": [{"url": u, "outlet": f"Gone {i}"} for i, u in enumerate(dead)]}))
    dsn = make_db()
    out = run_cli(["run", "--feeds", str(feeds), "--json", "--quiet"], night_env(dsn, tmp_path / "home"))
    assert out.returncode == 5, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["status"], summary["exit_code"], summary["feeds_failed"]) == ("feeds_failed", 5, 2)
    assert "the night failed: every feed failed" in out.stderr, out.stderr


def test_a_night_on_which_some_feeds_failed_exits_0(make_db, served_samples, tmp_path):
    config = yaml.safe_load(served_samples.feeds_file.read_text())
    config["feeds"].append({"url": f"http://127.0.0.1:{free_port()}/rss.xml", "outlet": "Gone"})
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(yaml.safe_dump(config))
    out = run_cli(["run", "--feeds", str(feeds), "--json", "--quiet"], night_env(make_db(), tmp_path / "home"))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["status"], summary["exit_code"], summary["feeds_failed"]) == ("ok", 0, 1)


@pytest.mark.parametrize(("signum", "exit_code", "ended"), [
    (signal.SIGINT, 130, "interrupted (Ctrl-C)"),
    (signal.SIGTERM, 143, "interrupted by SIGTERM"),
], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_night_is_recorded_as_failed_when_it_ends(make_db, served_samples, background_runs,
                                                                 tmp_path, signum, exit_code, ended):
    dsn = make_db()
    run = background_runs(["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"],
                          night_env(dsn, tmp_path / "home"), tmp_path / "run", pause=True)
    run.wait_paused()
    run.proc.send_signal(signum)
    assert run.wait() == exit_code, run.stderr
    [(run_id, status, error, _summary)] = runs(dsn)  # read before any later run could tidy up
    assert (status, error) == ("failed", f"extract_claims: {ended}")
    assert json.loads(run.stdout) == {"run_id": run_id, "status": "interrupted", "exit_code": exit_code,
                                      "error": run.stderr.strip().removeprefix("talkwatch: ")}
