"""
### talkwatch_contradictions — detect contradictions, mail the digest (on new claims)

Scheduled on the **`talkwatch_claims`** Asset that `talkwatch_ingest` announces:
`detect_contradictions` evaluates the contradiction rule for the new claims in the warehouse →
`send_alerts` mails one digest of every pending contradiction (plus feeds failing night after night)
→ `refresh_views` applies pending migrations and creates the analyst views and functions whose files
changed.

Work is attributed to the ingest run that announced the claims (its warehouse `run_id` travels in
the asset event's extra). Every step is idempotent: a contradiction is stored once and mailed once,
so a re-run detects and sends nothing new.

**Failure handling**: an SMTP error leaves the contradictions pending and fails `send_alerts`, which
retries with backoff; missing alert configuration fails it without retries. Every task that fails
for good mails the operator (Variable `talkwatch_operator_email` / env `TALKWATCH_OPERATOR_EMAIL`).

**Configuration**
- connection `talkwatch_warehouse` (else env `TALKWATCH_DSN`);
- connection `smtp_default` (host, port, login/password; extra `from_email`, `disable_ssl`,
  `disable_tls`, `timeout`), else env `TALKWATCH_SMTP_*`;
- Variable `talkwatch_alert_recipients` (comma separated), else env `TALKWATCH_ALERT_TO`;
- Variable `talkwatch_alert_min_confidence` (0-1), else env `TALKWATCH_ALERT_MIN_CONFIDENCE`: only
  contradictions at or above it are mailed; the rest stay in the warehouse, marked low-confidence.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import dag, get_current_context, task
from talkwatch_common import (
    CLAIMS_ASSET,
    DEFAULT_ARGS,
    alert_min_confidence,
    alert_recipients,
    notify_operator,
    settings,
    smtp_settings,
    warehouse,
)

log = logging.getLogger(__name__)


def _ingest_run_id(context) -> int | None:
    """The warehouse run of the latest ingest that announced the claims (None for a manual run)."""
    events = context.get("triggering_asset_events") or {}
    run_ids = [e.extra.get("run_id") for e in events.get(CLAIMS_ASSET, []) if e.extra]
    run_ids = [int(r) for r in run_ids if r is not None]
    return max(run_ids) if run_ids else None


@dag(
    dag_id="talkwatch_contradictions",
    schedule=[CLAIMS_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "on_failure_callback": notify_operator},
    dagrun_timeout=pendulum.duration(hours=2),
    tags=["talkwatch", "alerts"],
    doc_md=__doc__,
)
def talkwatch_contradictions():
    @task
    def detect_contradictions() -> dict:
        """Evaluate the contradiction rule for new claims; each contradiction is stored once."""
        from pipeline import nightly

        run_id = _ingest_run_id(get_current_context())
        with warehouse() as conn:
            result = nightly.detect_contradictions(conn, run_id=run_id)
        log.info("run %s: %s", run_id, result)
        return {"run_id": run_id, **result}

    @task
    def send_alerts(detected: dict) -> dict:
        """Mail one digest of the pending contradictions at or above the confidence threshold; an SMTP
        error raises so the task retries."""
        from dataclasses import replace

        from airflow.sdk.exceptions import AirflowFailException

        from pipeline import nightly

        smtp = smtp_settings(alert_recipients())
        if not smtp.configured:
            raise AirflowFailException(
                "alerts are not configured: set the Variable talkwatch_alert_recipients (or "
                "TALKWATCH_ALERT_TO) and the connection smtp_default; pending contradictions stay pending"
            )
        try:
            min_confidence = alert_min_confidence()
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        cfg = settings()
        with warehouse() as conn:
            failing = nightly.failing_feeds(conn, cfg.failing_feed_threshold)
            res = nightly.send_alerts(conn, replace(cfg, smtp=smtp, alert_min_confidence=min_confidence),
                                      run_id=detected["run_id"], failing=failing)
        if not res.sent and res.error:
            raise RuntimeError(f"alert digest not sent, contradictions stay pending: {res.error}")
        if res.sent:
            log.info("sent %r to %s (%s contradictions)", res.subject, ", ".join(res.recipients),
                     len(res.contradiction_ids))
        return {"sent": res.sent, "alert_id": res.alert_id, "contradictions": len(res.contradiction_ids),
                "held_low_confidence": res.held}

    @task
    def refresh_views() -> list[str]:
        """Apply any pending migrations and create the analyst views and functions whose files changed."""
        from pipeline import warehouse as wh

        with warehouse() as conn:
            return wh.migrate(conn)

    send_alerts(detect_contradictions()) >> refresh_views()


talkwatch_contradictions()
