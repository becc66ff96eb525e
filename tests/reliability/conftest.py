"""Fault-injection fixtures: scratch warehouses on a real PostgreSQL, local feed and SMTP servers, and
background `talkwatch run` processes that are always ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import feedparser
import psycopg2
import pytest
import yaml
from psycopg2 import sql
from rel_support import SAMPLES, BackgroundRun, Inbox, free_port

# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def make_db(pg_server_dsn, _template_db):
    """Factory: a fresh, migrated warehouse database on the test server (dropped at session end)."""
    admin = psycopg2.connect(pg_server_dsn)
    admin.autocommit = True
    created: list[str] = []

    def make() -> str:
        name = f"tw_rel_{uuid.uuid4().hex[:12]}"
        with admin.cursor() as cur:
            cur.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(_template_db)))
        created.append(name)
        return psycopg2.extensions.make_dsn(pg_server_dsn, dbname=name)

    yield make
    with admin.cursor() as cur:
        for name in created:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    admin.close()


# --------------------------------------------------------------------------- feeds


@pytest.fixture(scope="session")
def feed_server():
    """A local HTTP server (127.0.0.1) for feeds; tests register permanent handlers on it."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@dataclass
class ServedFeeds:
    feeds_file: Path
    urls: list[str]
    entry_urls: set[str]  # canonical URLs of every entry served


@pytest.fixture(scope="session")
def served_samples(feed_server, tmp_path_factory) -> ServedFeeds:
    """The bundled sample feeds (the seed story) served over HTTP, and a feeds file naming them."""
    from pipeline.articles import canonical_url

    config = yaml.safe_load((SAMPLES / "feeds.yaml").read_text())
    feeds, entry_urls = [], set()
    for f in config["feeds"]:
        body = (SAMPLES / f["url"]).read_bytes()
        path = f"/samples/{f['url']}"
        feed_server.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
        feeds.append({**f, "url": feed_server.url_for(path)})
        entry_urls |= {canonical_url(e.link) for e in feedparser.parse(body).entries}
    out = tmp_path_factory.mktemp("samples") / "feeds.yaml"
    out.write_text(yaml.safe_dump({"fetch_fulltext": False, "feeds": feeds}))
    assert entry_urls, "the sample feeds have no entries"
    return ServedFeeds(out, [f["url"] for f in feeds], entry_urls)


# --------------------------------------------------------------------------- SMTP


@pytest.fixture(scope="session")
def start_smtp():
    """Factory: start a collecting SMTP server on 127.0.0.1 (on PORT, else a free one); stopped at the end."""
    from aiosmtpd.controller import Controller

    running = []

    def start(port: int | None = None):
        inbox = Inbox()
        ctl = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
        ctl.start()
        running.append(ctl)
        return ctl, inbox

    yield start
    for ctl in running:
        try:
            ctl.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass


# --------------------------------------------------------------------------- running talkwatch


@pytest.fixture(scope="module")
def background_runs():
    """Factory for BackgroundRun; every run it started is released and ended at teardown."""
    started: list[BackgroundRun] = []

    def start(args, env, workdir, *, pause=True, pause_at="load_claims") -> BackgroundRun:
        run = BackgroundRun(args, env, workdir, pause=pause, pause_at=pause_at)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()


@pytest.fixture(scope="session")
def reference_night(make_db, served_samples, tmp_path_factory):
    """The warehouse after one undisturbed night on the sample feeds: what every faulty night must end as."""
    from rel_support import night_env, run_cli, warehouse_state

    dsn = make_db()
    out = run_cli(["run", "--feeds", str(served_samples.feeds_file), "--json", "--quiet"],
                  night_env(dsn, tmp_path_factory.mktemp("reference") / "home"))
    assert out.returncode == 0, out.stderr
    return warehouse_state(dsn)
