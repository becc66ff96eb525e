"""Airflow glue shared by the talkwatch DAGs: connections → DSN/SMTP settings, Variables, the claims Asset.

`pipeline/` never imports Airflow; everything that reads an Airflow connection or Variable lives here.
Nothing in this module touches a database or the network at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from airflow.sdk import Asset, BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "talkwatch_warehouse"
SMTP_CONN_ID = "smtp_default"
FEEDS_FILE_VARIABLE = "talkwatch_feeds_file"
RECIPIENTS_VARIABLE = "talkwatch_alert_recipients"
OPERATOR_EMAIL_VARIABLE = "talkwatch_operator_email"
MIN_CONFIDENCE_VARIABLE = "talkwatch_alert_min_confidence"

# The claims table, as an Asset: the ingest DAG announces it, the contradictions DAG is scheduled on it.
# The URI is an identity (postgres://host/database/schema/table), not a connection string.
CLAIMS_ASSET = Asset(name="talkwatch_claims", uri="postgres://talkwatch-warehouse:5432/talkwatch/talkwatch/claims")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "talkwatch",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}

# libpq keywords that a connection's extra may carry next to host/port/login/password/schema.
_LIBPQ_EXTRA_KEYS = frozenset({
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout", "options",
    "application_name", "target_session_attrs", "keepalives", "keepalives_idle", "gssencmode",
})


def _flag(value: Any) -> bool:
    """An extra's boolean: real booleans, or strings such as "true"/"1"/"yes" (and "false" is false)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _connection(conn_id: str):
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _variable(key: str, env: str) -> str | None:
    """An Airflow Variable, else an environment variable, else None (empty values count as unset)."""
    value = Variable.get(key, default=None)
    if value is None or not str(value).strip():
        value = os.environ.get(env)
    return str(value).strip() if value and str(value).strip() else None


# --------------------------------------------------------------------------- warehouse


def dsn_from_connection(conn) -> str:
    """A libpq DSN (for psycopg2) from an Airflow connection: extra `dsn` wins, else the fields.

    `schema` is the database name, as in Airflow's postgres connections; libpq keywords in the
    extra (sslmode, connect_timeout, ...) are passed through. A host starting with "/" is a socket dir.
    """
    import psycopg2.extensions

    extra = conn.extra_dejson or {}
    if extra.get("dsn"):
        return str(extra["dsn"])
    params: dict[str, Any] = {
        "host": conn.host or None,
        "port": conn.port or None,
        "user": conn.login or None,
        "password": conn.password or None,
        "dbname": conn.schema or None,
    }
    params.update({k: v for k, v in extra.items() if k in _LIBPQ_EXTRA_KEYS})
    return psycopg2.extensions.make_dsn(**{k: v for k, v in params.items() if v is not None})


def warehouse_dsn(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse DSN: Airflow connection `talkwatch_warehouse`, else TALKWATCH_DSN; else fail loudly.

    There is deliberately no fallback to the embedded server: under Celery each worker would start its own.
    """
    conn = _connection(conn_id)
    if conn is not None:
        return dsn_from_connection(conn)
    if os.environ.get("TALKWATCH_DSN"):
        return os.environ["TALKWATCH_DSN"]
    raise RuntimeError(
        f"no warehouse configured: define the Airflow connection {conn_id!r} "
        f"(e.g. AIRFLOW_CONN_{conn_id.upper()}) or set TALKWATCH_DSN"
    )


@contextmanager
def warehouse() -> Iterator[Any]:
    """An open psycopg2 connection to the warehouse, closed afterwards (every step commits its own work)."""
    from pipeline import warehouse as wh

    conn = wh.connect(warehouse_dsn(), application_name="talkwatch-airflow")
    try:
        yield conn
    finally:
        conn.close()


def settings():
    """pipeline Settings from the environment (fetch, batch sizes, model); connections come from Airflow."""
    from pipeline.settings import Settings

    return Settings.from_env()


@cache
def spacy_pipeline(model: str | None):
    """The spaCy pipeline, loaded once per process (dag.test() and a worker's in-process runs reuse it)."""
    from pipeline.extract import load_pipeline

    return load_pipeline(model)


# --------------------------------------------------------------------------- logical dates


def night_of(context) -> date:
    """The night a run works for: its logical date, or (manual/asset runs without one) its run_after."""
    when: datetime | None = context.get("logical_date")
    if when is None:
        when = context["dag_run"].run_after
    return when.date()


def feeds_file(night: date) -> str | None:
    """Variable `talkwatch_feeds_file`, else TALKWATCH_FEEDS_FILE, else None (the bundled sample feeds).

    `{ds}` / `{ds_nodash}` in the path are replaced by the night's date, so a backfill can read one
    local snapshot folder per night.
    """
    path = _variable(FEEDS_FILE_VARIABLE, "TALKWATCH_FEEDS_FILE")
    if path:
        path = path.replace("{ds}", night.isoformat()).replace("{ds_nodash}", night.strftime("%Y%m%d"))
    return path


# --------------------------------------------------------------------------- SMTP


def smtp_from_connection(conn, recipients: tuple[str, ...] = ()):
    """SmtpSettings from an Airflow SMTP connection.

    Like the SMTP provider: SSL unless extra `disable_ssl`, STARTTLS unless `disable_tls`, extra
    `from_email` and `timeout`. Unlike the provider, the string "false" means false.
    """
    from pipeline.settings import SmtpSettings

    extra = conn.extra_dejson or {}
    use_ssl = not _flag(extra.get("disable_ssl", False))
    starttls = not use_ssl and not _flag(extra.get("disable_tls", False))
    port = conn.port or (465 if use_ssl else 587 if starttls else 25)
    return SmtpSettings(
        host=conn.host or None,
        port=int(port),
        user=conn.login or None,
        password=conn.password or None,
        use_ssl=use_ssl,
        starttls=starttls,
        timeout=float(extra.get("timeout", 30)),
        mail_from=extra.get("from_email") or SmtpSettings.mail_from,
        recipients=recipients,
    )


def _addresses(raw: str | None) -> tuple[str, ...]:
    return tuple(a.strip() for a in (raw or "").replace(";", ",").split(",") if a.strip())


def alert_recipients() -> tuple[str, ...]:
    """Variable `talkwatch_alert_recipients` (comma separated), else TALKWATCH_ALERT_TO."""
    return _addresses(_variable(RECIPIENTS_VARIABLE, "TALKWATCH_ALERT_TO"))


def alert_min_confidence() -> float:
    """Variable `talkwatch_alert_min_confidence`, else TALKWATCH_ALERT_MIN_CONFIDENCE, else the default:
    only contradictions at or above it are mailed. Not a number from 0 to 1: ValueError, naming it."""
    from pipeline.settings import DEFAULT_ALERT_MIN_CONFIDENCE, parse_confidence

    raw = Variable.get(MIN_CONFIDENCE_VARIABLE, default=None)
    name = f"the Airflow Variable {MIN_CONFIDENCE_VARIABLE}"
    if raw is None or not str(raw).strip():
        raw, name = os.environ.get("TALKWATCH_ALERT_MIN_CONFIDENCE"), "TALKWATCH_ALERT_MIN_CONFIDENCE"
    return parse_confidence(raw, name=name, default=DEFAULT_ALERT_MIN_CONFIDENCE)


def smtp_settings(recipients: tuple[str, ...] = ()):
    """SMTP settings from connection `smtp_default`, else from TALKWATCH_SMTP_* (as the CLI does)."""
    from dataclasses import replace

    from pipeline.settings import SmtpSettings

    conn = _connection(SMTP_CONN_ID)
    if conn is not None:
        return smtp_from_connection(conn, recipients)
    return replace(SmtpSettings.from_env(), recipients=recipients)


def notify_operator(context) -> None:
    """on_failure_callback: mail the operator about a task that failed for good. Never raises."""
    try:
        to = _addresses(_variable(OPERATOR_EMAIL_VARIABLE, "TALKWATCH_OPERATOR_EMAIL"))
        ti = context.get("ti") or context.get("task_instance")
        what = f"{ti.dag_id}.{ti.task_id}" if ti else "a talkwatch task"
        if ti is not None and getattr(ti, "map_index", -1) not in (-1, None):
            what += f"[{ti.map_index}]"
        if not to:
            log.warning("%s failed; no operator address (Variable %s / TALKWATCH_OPERATOR_EMAIL) to mail",
                        what, OPERATOR_EMAIL_VARIABLE)
            return
        smtp = smtp_settings(to)
        if not smtp.host:
            log.warning("%s failed; no SMTP connection %r to mail the operator with", what, SMTP_CONN_ID)
            return
        exc = context.get("exception")
        dag_run = context.get("dag_run")
        lines = [
            f"Task {what} failed after {getattr(ti, 'try_number', '?')} tries.",
            f"DAG run: {getattr(dag_run, 'run_id', '?')} (logical date {context.get('logical_date')})",
            f"Error: {type(exc).__name__}: {exc}" if exc else "Error: (none recorded)",
        ]
        if ti is not None and getattr(ti, "log_url", None):
            lines.append(f"Log: {ti.log_url}")
        # the project's one mail path: the digest's SMTP client (verified TLS, cleaned headers)
        from pipeline.alerts import send_plain

        send_plain(smtp, f"[talkwatch] task failed: {what}", "\n".join(lines) + "\n")
        log.info("mailed the operator (%s) about %s", ", ".join(to), what)
    except Exception:  # noqa: BLE001 - a callback must never mask the task's own failure
        log.exception("could not mail the operator about a failed task")
