"""Plain data records passed between stages: articles in, claims out (SPEC section 1)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

STATUSES = (
    "proposed", "accepted", "rejected",
    "planned", "ongoing", "held", "agreed", "stalled", "collapsed",
    "denied", "no_deal",
)
TOPICS = ("ceasefire", "partial_ceasefire", "peace_deal", "humanitarian", "hostages", "other")


def slugify(text: str) -> str:
    """Lowercase ASCII slug: 'Maria Zakharova' -> 'maria-zakharova'."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")


def surname_key(name: str) -> str:
    """The key a person's surname alone would get ("Jean-Pierre Ilunga" -> "ilunga", "Abdulmalik al-Wazir" ->
    "al-wazir"): how a surname-only mention finds the full name."""
    parts = name.split()
    return slugify(parts[-1]) if parts else ""


def person_name_form(claim: Claim) -> tuple[str, str] | None:
    """How a claim's source names a person: ("full", the surname's key) for "Bertrand Musoni", ("surname",
    the source key) for "Musoni"; None when the source is no person (extraction records the kind in `extra`)."""
    name = claim.source.strip()
    if (claim.extra or {}).get("source_kind") != "person" or not name:
        return None
    return ("full", surname_key(name)) if " " in name else ("surname", claim.source_key)


@dataclass
class Article:
    """One article as extraction sees it (the `talkwatch extract` input line)."""

    id: str
    outlet: str
    url: str
    published: date | datetime | str | None
    title: str
    text: str

    @property
    def published_date(self) -> date | None:
        p = self.published
        if p is None or p == "":
            return None
        if isinstance(p, datetime):
            return p.date()
        if isinstance(p, date):
            return p
        return date.fromisoformat(str(p)[:10])

    @classmethod
    def from_dict(cls, d: dict) -> Article:
        missing = [k for k in ("id", "text") if d.get(k) in (None, "") and k != "text"]
        if missing or "text" not in d:
            raise ValueError(f"article needs 'id' and 'text' (missing: {missing or ['text']})")
        return cls(
            id=str(d["id"]),
            outlet=str(d.get("outlet") or ""),
            url=str(d.get("url") or ""),
            published=d.get("published"),
            title=str(d.get("title") or ""),
            text=str(d.get("text") or ""),
        )


@dataclass
class Claim:
    """One negotiation-status claim, every field of SPEC section 1."""

    parties: list[str]
    status: str
    topic: str
    source: str
    source_key: str
    evidence: str
    source_org: str | None = None
    reported_by: str | None = None
    mediator: str | None = None
    venue: str | None = None
    hedged: bool = False
    event_time: str | None = None
    confidence: float | None = None  # calibrated probability that the claim is right (0-1); None: not scored
    extra: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.parties = sorted({p.upper() for p in self.parties})
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.topic not in TOPICS:
            raise ValueError(f"unknown topic {self.topic!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d
