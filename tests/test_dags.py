"""The Airflow DAGs: integrity (DagBag, schedules, retries), the connection glue, and dag.test() runs
against sample feeds served over HTTP, a real PostgreSQL warehouse and a real local SMTP server."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
SAMPLES = REPO / "examples" / "feeds"

# the DAG files import their glue module from the DAGs folder, as the dag-processor and workers do
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)

pytest.importorskip("airflow.sdk", reason="apache-airflow is not installed (pip install -e '.[airflow]')")

import pendulum  # noqa: E402
from airflow.dag_processing.dagbag import BundleDagBag  # noqa: E402
from airflow.sdk import Asset, Connection  # noqa: E402

from pipeline import warehouse as wh  # noqa: E402

NIGHT = pendulum.datetime(2026, 11, 24, 2, 0, tz="UTC")
# per-run bookkeeping that a re-run legitimately adds: its run row and one fetch-log row per feed
BOOKKEEPING = {"runs", "feed_fetches"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def dagbag():
    return BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")


@pytest.fixture(scope="session")
def impatient_dagbag():
    """The same DAGs with one immediate retry, so dag.test() reaches a task's final failure in seconds
    (the real ones wait minutes between tries)."""
    bag = BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")
    for dag in bag.dags.values():
        for t in dag.tasks:
            t.retries, t.retry_delay, t.max_retry_delay = 1, timedelta(0), timedelta(0)
    return bag


@pytest.fixture(scope="session")
def common(dagbag):
    import talkwatch_common  # importable once the bag has put the DAGs folder on sys.path

    return talkwatch_common


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata DB in the test AIRFLOW_HOME (dag.test() needs one)."""
    from airflow.utils import db

    db.upgradedb()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _feeds_file(httpserver, tmp_path, *, failing: bool = False) -> Path:
    """The bundled sample feeds served over HTTP (plus, optionally, a feed answering 500)."""
    config = yaml.safe_load((SAMPLES / "feeds.yaml").read_text())
    feeds = []
    for f in config["feeds"]:
        path = f"/feeds/{f['url']}"
        httpserver.expect_request(path).respond_with_data(
            (SAMPLES / f["url"]).read_bytes(), content_type="application/rss+xml"
        )
        feeds.append({**f, "url": httpserver.url_for(path)})
    if failing:
        httpserver.expect_request("/feeds/broken.xml").respond_with_data("boom", status=500)
        feeds.append({"url": httpserver.url_for("/feeds/broken.xml"), "outlet": "Broken Wire", "language": "en"})
    out = tmp_path / "feeds.yaml"
    out.write_text(yaml.safe_dump({"fetch_fulltext": False, "feeds": feeds}))
    return out


@pytest.fixture
def airflow_env(monkeypatch, warehouse_dsn, tmp_path):
    """Connections and Variables as AIRFLOW_CONN_* / AIRFLOW_VAR_* environment variables."""
    for key in [k for k in os.environ if k.startswith("TALKWATCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(
        "AIRFLOW_CONN_TALKWATCH_WAREHOUSE", json.dumps({"conn_type": "postgres", "extra": {"dsn": warehouse_dsn}})
    )
    monkeypatch.setenv("TALKWATCH_FETCH_FULLTEXT", "0")
    monkeypatch.setenv("TALKWATCH_FETCH_RETRIES", "0")
    monkeypatch.setenv("TALKWATCH_HOME", str(tmp_path / "home"))
    # the DAG tests are about mailing: they mail every contradiction of the sample story (under the default
    # threshold), and one test sets the Variable, which wins over this
    monkeypatch.setenv("TALKWATCH_ALERT_MIN_CONFIDENCE", "0")
    return monkeypatch


def _run(dag, logical_date=NIGHT, *, state="success"):
    dr = dag.test(logical_date=logical_date)
    assert dr.state == state, _states(dr)
    return dr


def _states(dr) -> dict[str, object]:
    """task id (with [map index] for mapped ones) → (state, try number)."""
    return {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): (ti.state, ti.try_number)
        for ti in dr.get_task_instances()
    }


# the warehouse's content: every row of the tables a night fills, all columns (feeds: identity
# columns only; their health columns record each fetch, like the bookkeeping tables)
CONTENT_QUERIES = {
    "feeds": "select feed_id, url, outlet, language, current_url, etag, last_modified from talkwatch.feeds",
    "articles": "select * from talkwatch.articles",
    "article_sightings": "select * from talkwatch.article_sightings",
    "claims": "select * from talkwatch.claims",
    "contradictions": "select * from talkwatch.contradictions",
    "contradiction_evidence": "select * from talkwatch.contradiction_evidence",
    "alerts": "select * from talkwatch.alerts",
}


def _content(dsn: str) -> dict[str, list[str]]:
    return {
        name: [r[0] for r in _query(dsn, f"select t::text from ({sql}) t order by 1")]  # noqa: S608 - fixed SQL
        for name, sql in CONTENT_QUERIES.items()
    }


def _asset_events(dr) -> list[tuple[str, dict]]:
    """(asset name, extra) of the Asset events a DAG run emitted, from the metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetEvent.source_dag_id == dr.dag_id, AssetEvent.source_run_id == dr.run_id)
            .all()
        )
    return [(name, dict(extra)) for name, extra in rows]


def _counts(dsn: str) -> dict[str, int]:
    conn = wh.connect(dsn)
    try:
        return wh.table_counts(conn)
    finally:
        conn.close()


def _query(dsn: str, sql: str, params=()) -> list[tuple]:
    conn = wh.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


# --------------------------------------------------------------------------- integrity


def test_dagbag_imports_both_dags_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"talkwatch_ingest", "talkwatch_contradictions"}


def test_every_dag_has_tags_owner_docs_and_retrying_tasks(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, dag.dag_id
        assert dag.doc_md and dag.dag_id in dag.doc_md
        assert dag.catchup is False
        assert dag.start_date.tzinfo is not None and dag.start_date.utcoffset().total_seconds() == 0
        for t in dag.tasks:
            assert t.owner == "talkwatch", (dag.dag_id, t.task_id)
            assert t.retries >= 1, (dag.dag_id, t.task_id)
            assert t.retry_exponential_backoff > 0, (dag.dag_id, t.task_id)
            assert t.on_failure_callback, (dag.dag_id, t.task_id)


def test_ingest_runs_nightly_at_two_utc_and_announces_the_claims_asset(dagbag, common):
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["talkwatch_ingest"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 2 * * *"
    assert dag.timetable.timezone.name == "UTC"
    assert [t.task_id for t in dag.topological_sort()][-1] == "finish_run"
    assert "MappedOperator" in type(dag.get_task("fetch_feed")).__name__  # one task per feed
    outlets = dag.get_task("finish_run").outlets
    assert common.CLAIMS_ASSET in outlets
    assert {t.task_id for t in dag.tasks} == {"load_feeds", "start_run", "fetch_feed", "extract_claims", "finish_run"}


def test_contradictions_dag_is_scheduled_on_the_claims_asset(dagbag, common):
    dag = dagbag.dags["talkwatch_contradictions"]
    assert list(dag.timetable.asset_condition.objects) == [common.CLAIMS_ASSET]
    assert isinstance(common.CLAIMS_ASSET, Asset)
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["detect_contradictions", "send_alerts", "refresh_views"]


# --------------------------------------------------------------------------- connection glue


def test_warehouse_dsn_from_connection_fields_uses_schema_as_database(common):
    import psycopg2.extensions

    conn = Connection(conn_id="w", conn_type="postgres", host="db.internal", port=6432, login="tw",
                      password="s3 cr'et", schema="talkwatch", extra=json.dumps({"sslmode": "require", "x": 1}))
    parsed = psycopg2.extensions.parse_dsn(common.dsn_from_connection(conn))
    assert parsed == {"host": "db.internal", "port": "6432", "user": "tw", "password": "s3 cr'et",
                      "dbname": "talkwatch", "sslmode": "require"}


def test_warehouse_dsn_prefers_the_extra_dsn(common):
    conn = Connection(conn_id="w", conn_type="postgres", host="ignored",
                      extra=json.dumps({"dsn": "postgresql://u@/db?host=/tmp/sock"}))
    assert common.dsn_from_connection(conn) == "postgresql://u@/db?host=/tmp/sock"


def test_warehouse_dsn_falls_back_to_talkwatch_dsn_and_else_fails_loudly(common, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_TALKWATCH_WAREHOUSE", raising=False)
    monkeypatch.setenv("TALKWATCH_DSN", "postgresql://fallback/db")
    assert common.warehouse_dsn() == "postgresql://fallback/db"
    monkeypatch.delenv("TALKWATCH_DSN")
    with pytest.raises(RuntimeError, match="talkwatch_warehouse"):
        common.warehouse_dsn()


def test_smtp_settings_from_a_plain_local_server_connection(common, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "smtp://127.0.0.1:8025?disable_ssl=true&disable_tls=true&from_email=alerts%40example.org&timeout=10",
    )
    smtp = common.smtp_settings(("a@example.org",))
    assert (smtp.host, smtp.port, smtp.use_ssl, smtp.starttls) == ("127.0.0.1", 8025, False, False)
    assert (smtp.mail_from, smtp.timeout, smtp.recipients) == ("alerts@example.org", 10.0, ("a@example.org",))
    assert smtp.configured


def test_smtp_defaults_to_ssl_and_reads_false_as_false(common):
    conn = Connection(conn_id="s", conn_type="smtp", host="mail.example.org", login="u", password="p",
                      extra=json.dumps({"disable_ssl": "false"}))
    smtp = common.smtp_from_connection(conn)
    assert (smtp.use_ssl, smtp.port, smtp.user, smtp.password) == (True, 465, "u", "p")
    tls = common.smtp_from_connection(Connection(conn_id="s", conn_type="smtp", host="h",
                                                 extra=json.dumps({"disable_ssl": True})))
    assert (tls.use_ssl, tls.starttls, tls.port) == (False, True, 587)


def test_recipients_come_from_the_variable_before_the_environment(common, monkeypatch):
    monkeypatch.setenv("TALKWATCH_ALERT_TO", "env@example.org")
    assert common.alert_recipients() == ("env@example.org",)
    monkeypatch.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_RECIPIENTS", "a@example.org, b@example.org")
    assert common.alert_recipients() == ("a@example.org", "b@example.org")


def test_feeds_file_path_may_name_the_night(common, monkeypatch):
    monkeypatch.delenv("TALKWATCH_FEEDS_FILE", raising=False)
    assert common.feeds_file(NIGHT.date()) is None
    monkeypatch.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", "/snapshots/{ds}/feeds.yaml")
    assert common.feeds_file(NIGHT.date()) == "/snapshots/2026-11-24/feeds.yaml"


def test_failure_callback_mails_the_operator_and_never_raises(common, smtp_server, monkeypatch):
    ctl, inbox = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&disable_tls=true&from_email=af%40example.org")
    monkeypatch.setenv("TALKWATCH_OPERATOR_EMAIL", "ops@example.org")

    class TI:
        dag_id, task_id, map_index, try_number, log_url = "talkwatch_ingest", "extract_claims", -1, 4, None

    common.notify_operator({"ti": TI(), "exception": RuntimeError("warehouse down"), "logical_date": NIGHT})
    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["ops@example.org"] and "talkwatch_ingest.extract_claims" in msg["Subject"]
    assert "warehouse down" in msg.get_content()

    # no mail server listening there: the callback logs and returns
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://127.0.0.1:1?disable_ssl=true&disable_tls=true")
    common.notify_operator({"ti": TI(), "exception": RuntimeError("again")})
    assert len(inbox.messages) == 1


def test_alert_threshold_comes_from_the_variable_before_the_environment(common, monkeypatch):
    from pipeline.settings import DEFAULT_ALERT_MIN_CONFIDENCE

    monkeypatch.delenv("TALKWATCH_ALERT_MIN_CONFIDENCE", raising=False)
    assert common.alert_min_confidence() == DEFAULT_ALERT_MIN_CONFIDENCE
    monkeypatch.setenv("TALKWATCH_ALERT_MIN_CONFIDENCE", "0.4")
    assert common.alert_min_confidence() == 0.4
    monkeypatch.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_MIN_CONFIDENCE", "0.65")
    assert common.alert_min_confidence() == 0.65


@pytest.mark.parametrize("value", ["high", "1.5", "-0.1", "nan"])
def test_an_alert_threshold_outside_0_to_1_is_refused_naming_the_variable(common, monkeypatch, value):
    monkeypatch.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_MIN_CONFIDENCE", value)
    with pytest.raises(ValueError, match="the Airflow Variable talkwatch_alert_min_confidence must be a number"):
        common.alert_min_confidence()


class _FailedTask:
    dag_id, task_id, map_index, try_number, log_url = "talkwatch_ingest", "extract_claims", -1, 4, None


def _self_signed_certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (no CA anybody trusts), and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "talkwatch test smtp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def starttls_server(tmp_path):
    """A real SMTP server on 127.0.0.1 that requires STARTTLS, with a self-signed certificate."""
    import ssl

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    ctl.start()
    yield ctl, inbox, cert
    ctl.stop()


def test_operator_mail_verifies_the_mail_servers_certificate(common, starttls_server, monkeypatch):
    """Issue 13.11: the failure mail takes the digest's SMTP client, whose STARTTLS checks the certificate."""
    ctl, inbox, cert = starttls_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&from_email=af%40example.org&timeout=5")
    monkeypatch.setenv("TALKWATCH_OPERATOR_EMAIL", "ops@example.org")

    common.notify_operator({"ti": _FailedTask(), "exception": RuntimeError("warehouse down")})
    assert inbox.messages == []  # a certificate nobody vouches for: nothing goes out over that connection

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the operator trusts it
    common.notify_operator({"ti": _FailedTask(), "exception": RuntimeError("warehouse down")})
    assert len(inbox.messages) == 1


def test_operator_mail_headers_are_cleaned_like_the_digests(common, smtp_server, monkeypatch):
    """A sender name with a right-to-left override (and a stray line break) gives a clean header, shown not
    obeyed, and the mail has a Message-ID of the sender's domain, as the digest has."""
    from urllib.parse import quote

    ctl, inbox = smtp_server
    sender = quote("\u202eTalkwatch Ops\r\n <af@example.org>", safe="")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&disable_tls=true&from_email={sender}")
    monkeypatch.setenv("TALKWATCH_OPERATOR_EMAIL", "ops@example.org")

    common.notify_operator({"ti": _FailedTask(), "exception": RuntimeError("report \u202egnp.exe")})

    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["ops@example.org"]
    assert msg["From"].addresses[0].display_name == "[U+202E]Talkwatch Ops"
    assert msg["From"].addresses[0].addr_spec == "af@example.org"
    assert "\u202e" not in raw.decode("utf-8", "replace")
    assert msg["Message-ID"].endswith("@example.org>") and msg["Auto-Submitted"] == "auto-generated"
    assert "[U+202E]gnp.exe" in msg.get_content()


# --------------------------------------------------------------------------- dag.test()


@pytest.mark.airflow
@pytest.mark.slow
def test_ingest_dag_loads_articles_and_claims_and_a_rerun_changes_no_rows(
    dagbag, airflow_db, airflow_env, warehouse_dsn, httpserver, tmp_path
):
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(_feeds_file(httpserver, tmp_path)))
    dag = dagbag.dags["talkwatch_ingest"]

    dr = _run(dag)
    assert [k for k in _states(dr) if k.startswith("fetch_feed")] == [f"fetch_feed[{i}]" for i in range(3)]
    first = _counts(warehouse_dsn)
    assert first["feeds"] == 3 and first["feed_fetches"] == 3
    assert first["articles"] >= 3 and first["claims"] >= 2
    runs = _query(warehouse_dsn, "select kind, logical_date, status, summary from talkwatch.runs")
    assert [(k, str(d), s) for k, d, s, _ in runs] == [("airflow", "2026-11-24", "success")]
    assert runs[0][3]["claims"] == first["claims"] and runs[0][3]["feeds_failed"] == 0
    assert _query(warehouse_dsn, "select count(*) from talkwatch.articles where extract_status = 'pending'") == [(0,)]
    run_id = _query(warehouse_dsn, "select run_id from talkwatch.runs")[0][0]
    # the claims Asset event carries the warehouse run: talkwatch_contradictions attributes its work to it
    assert _asset_events(dr) == [("talkwatch_claims", {"run_id": run_id, "night": "2026-11-24",
                                                       "claims": first["claims"]})]
    content = _content(warehouse_dsn)

    _run(dag)  # the same night again
    second = _counts(warehouse_dsn)
    assert {k for k in first if first[k] != second[k]} == BOOKKEEPING, (first, second)
    assert _content(warehouse_dsn) == content  # not one row added, changed or removed
    assert second["runs"] == 2 and second["feed_fetches"] == 6  # the re-run's own log
    # the test server sends no ETag/Last-Modified, so the re-run read every entry again (no 304):
    # the upserts, not conditional GETs, kept the rows as they were
    assert _query(warehouse_dsn, "select status, count(*) from talkwatch.feed_fetches group by 1") == [("ok", 6)]


@pytest.mark.airflow
@pytest.mark.slow
def test_contradictions_dag_detects_the_seed_contradiction_and_mails_it_once(
    dagbag, impatient_dagbag, airflow_db, airflow_env, warehouse_dsn, httpserver, tmp_path, smtp_server
):
    ctl, inbox = smtp_server
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(_feeds_file(httpserver, tmp_path)))
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_RECIPIENTS", "analysts@example.org")
    night = NIGHT.add(days=1)
    _run(dagbag.dags["talkwatch_ingest"], night)
    assert _counts(warehouse_dsn)["contradictions"] == 0  # detection belongs to the second DAG

    # the mail server is down: send_alerts fails loudly after its retry, the contradictions stay pending
    airflow_env.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{free_port()}?disable_ssl=true&disable_tls=true&timeout=5")
    dr = _run(impatient_dagbag.dags["talkwatch_contradictions"], night, state="failed")
    assert _states(dr) == {"detect_contradictions": ("success", 1), "send_alerts": ("failed", 2),
                           "refresh_views": ("upstream_failed", 0)}
    pending = _query(warehouse_dsn, "select count(*) from talkwatch.contradictions where alerted_at is null")
    assert pending[0][0] >= 1 and _counts(warehouse_dsn)["alerts"] == 0

    # the server is back: the next run mails the pending contradictions, once
    airflow_env.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&disable_tls=true&from_email=alerts%40example.org")
    contradictions = dagbag.dags["talkwatch_contradictions"]
    _run(contradictions, night)
    seed = _query(
        warehouse_dsn,
        """
        select count(*) from talkwatch.contradictions
         where (source_key_a, source_key_b) = ('maria-zakharova', 'washington-post')
           and parties = array['RUS', 'UKR']
        """,
    )
    assert seed == [(1,)]
    assert len(inbox.messages) == 1
    rcpt, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["analysts@example.org"] and msg["From"] == "alerts@example.org"
    text = msg.get_body(("plain",)).get_content()
    assert "Zakharova" in text and "Washington Post" in text
    assert _query(warehouse_dsn, "select count(*) from talkwatch.contradictions where alerted_at is null") == [(0,)]

    before = _content(warehouse_dsn)
    _run(contradictions, night)  # nothing new: nothing detected, nothing mailed
    assert _content(warehouse_dsn) == before
    assert len(inbox.messages) == 1


@pytest.mark.airflow
@pytest.mark.slow
def test_contradictions_dag_holds_back_what_is_under_the_variables_threshold(
    dagbag, airflow_db, airflow_env, warehouse_dsn, httpserver, tmp_path, smtp_server
):
    ctl, inbox = smtp_server
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(_feeds_file(httpserver, tmp_path)))
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_RECIPIENTS", "analysts@example.org")
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_ALERT_MIN_CONFIDENCE", "0.9")
    airflow_env.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&disable_tls=true&from_email=alerts%40example.org")
    night = NIGHT.add(days=3)
    _run(dagbag.dags["talkwatch_ingest"], night)
    _run(dagbag.dags["talkwatch_contradictions"], night)

    assert inbox.messages == []
    statuses = _query(warehouse_dsn, "select alert_status, alert_held_threshold from analytics.contradictions")
    assert statuses and set(statuses) == {("low_confidence", 0.9)}


@pytest.mark.airflow
@pytest.mark.slow
def test_a_feed_answering_500_is_recorded_and_the_night_succeeds(
    dagbag, airflow_db, airflow_env, warehouse_dsn, httpserver, tmp_path
):
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(_feeds_file(httpserver, tmp_path, failing=True)))
    dr = _run(dagbag.dags["talkwatch_ingest"], NIGHT.add(days=2))

    assert {k: v for k, v in _states(dr).items() if k.startswith("fetch_feed")} == {
        f"fetch_feed[{i}]": ("success", 1) for i in range(4)
    }
    fetches = _query(
        warehouse_dsn,
        """
        select f.outlet, x.status, x.http_status, x.error, f.last_status, f.consecutive_failures
          from talkwatch.feed_fetches x join talkwatch.feeds f using (feed_id)
         where f.outlet = 'Broken Wire'
        """,
    )
    assert len(fetches) == 1
    outlet, status, http_status, error, last_status, failures = fetches[0]
    assert (status, http_status, last_status, failures) == ("error", 500, "error", 1)
    assert "500" in error
    assert _counts(warehouse_dsn)["claims"] >= 2  # the other feeds went through
    summary = _query(warehouse_dsn, "select summary from talkwatch.runs")[0][0]
    assert summary["feeds"] == 4 and summary["feeds_failed"] == 1
    broken = [r for r in summary["feed_results"] if r["outlet"] == "Broken Wire"]
    assert [(r["status"], r["http_status"]) for r in broken] == [("error", 500)]


@pytest.mark.airflow
@pytest.mark.slow
def test_a_backfill_reads_each_past_nights_local_snapshot(dagbag, airflow_db, airflow_env, warehouse_dsn, tmp_path):
    """What `airflow backfill create` runs, night by night: `{ds}` in the feeds-file Variable picks
    the night's snapshot folder (local files, no HTTP)."""
    nights = {"2026-11-20": ["global-courier.xml"], "2026-11-21": ["global-courier.xml", "eastern-herald.xml"]}
    outlets = {f["url"]: f for f in yaml.safe_load((SAMPLES / "feeds.yaml").read_text())["feeds"]}
    for ds, files in nights.items():
        folder = tmp_path / "snapshots" / ds
        folder.mkdir(parents=True)
        for name in files:
            shutil.copy(SAMPLES / name, folder / name)
        (folder / "feeds.yaml").write_text(
            yaml.safe_dump({"fetch_fulltext": False, "feeds": [outlets[name] for name in files]})
        )
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(tmp_path / "snapshots" / "{ds}" / "feeds.yaml"))

    dag = dagbag.dags["talkwatch_ingest"]
    for ds in nights:
        _run(dag, pendulum.parse(ds).add(hours=2))

    runs = _query(warehouse_dsn, "select logical_date::text, status, summary->>'feeds' from talkwatch.runs order by 1")
    assert runs == [("2026-11-20", "success", "1"), ("2026-11-21", "success", "2")]
    firsts = _query(
        warehouse_dsn,
        """
        select r.logical_date::text, array_agg(distinct a.outlet order by a.outlet)
          from talkwatch.articles a join talkwatch.runs r on r.run_id = a.first_run_id
         group by 1 order by 1
        """,
    )
    assert firsts == [("2026-11-20", ["Global Courier"]), ("2026-11-21", ["Eastern Herald"])]
    # a snapshot's relative path is the feed's identity: one feed row per outlet across the nights
    assert _query(warehouse_dsn, "select url from talkwatch.feeds order by 1") == [
        ("eastern-herald.xml",), ("global-courier.xml",)
    ]


@pytest.mark.airflow
@pytest.mark.slow
def test_a_warehouse_that_is_down_fails_the_night_after_a_retry_and_mails_the_operator(
    impatient_dagbag, airflow_db, airflow_env, smtp_server, tmp_path
):
    ctl, inbox = smtp_server
    airflow_env.setenv("AIRFLOW_CONN_TALKWATCH_WAREHOUSE",
                       f"postgres://talkwatch@127.0.0.1:{free_port()}/talkwatch?connect_timeout=5")
    airflow_env.setenv("AIRFLOW_CONN_SMTP_DEFAULT",
                       f"smtp://127.0.0.1:{ctl.port}?disable_ssl=true&disable_tls=true&from_email=af%40example.org")
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_OPERATOR_EMAIL", "ops@example.org")
    airflow_env.setenv("AIRFLOW_VAR_TALKWATCH_FEEDS_FILE", str(SAMPLES / "feeds.yaml"))

    dr = _run(impatient_dagbag.dags["talkwatch_ingest"], NIGHT.add(days=3), state="failed")
    states = _states(dr)
    assert states["load_feeds"] == ("success", 1)
    assert states["start_run"] == ("failed", 2)  # retried once, then failed for good
    assert states["extract_claims"][0] == states["finish_run"][0] == "upstream_failed"
    assert _asset_events(dr) == []  # a failed night schedules no contradictions run

    assert len(inbox.messages) == 1  # the final failure, not the retry
    rcpt, raw = inbox.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert rcpt == ["ops@example.org"] and msg["Subject"] == "[talkwatch] task failed: talkwatch_ingest.start_run"
    body = msg.get_content()
    assert "OperationalError" in body and "after 2 tries" in body and dr.run_id in body
