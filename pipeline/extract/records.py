"""Typed records the extraction families pass between them: mentions, candidates, options, decisions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

Features = dict[str, float]


@dataclass(frozen=True, slots=True)
class Mention:
    """An actor named in the text (a gazetteer match): `code` is its actor code, `person` a person's
    canonical name when the alias names a person."""

    code: str
    kind: str  # state | nonstate | org
    start: int  # token offsets in the doc
    end: int
    text: str
    person: str | None = None


@dataclass(slots=True)
class Candidate:
    """A sentence that may hold claims: it names talks, a deal or a proposal (a trigger)."""

    sent_index: int
    start: int  # token offsets of the sentence
    end: int
    start_char: int
    end_char: int
    triggers: list[int]  # token offsets of the trigger words
    in_title: bool
    in_quote: bool = False


@dataclass(slots=True)
class PartyOption:
    """One possible pair of sides for a candidate's claims, with what speaks for it."""

    parties: tuple[str, ...]
    features: Features = field(default_factory=dict)


@dataclass(slots=True)
class SourceOption:
    """One possible source of a claim: the outlet, a person, a body or an actor named in the sentence."""

    kind: str  # outlet | person | body | state | nonstate
    name: str
    key: str
    org: str | None = None
    code: str | None = None
    token: int | None = None  # the token that names it (None: the outlet, or a speaker named earlier)
    features: Features = field(default_factory=dict)


@dataclass(slots=True)
class RawClaim:
    """What the claims component decides for one claim of a doc; the article's metadata (outlet,
    publication date) completes it in `pipeline.extract.claims_for_article`. Stored on
    `doc._.claims` as plain dicts (`to_dict`), so that docs cross process boundaries."""

    parties: list[str]
    status: str
    topic: str
    source: dict | None  # None: the outlet; else {"kind", "name", "key", "org", "code"}
    hedged: bool
    evidence: str
    start_char: int
    end_char: int
    time_text: str
    confidence: float
    p_status: float
    p_parties: float
    p_source: float
    mediator: str | None = None
    venue: str | None = None
    context_time_text: str | None = None
    future: bool = False
    trigger: str | None = None
    rank: int = 0  # 0: the sentence's most likely status; 1: a second one (a denial beside its report)
    score: float = 0.0  # P(status) x P(parties) x P(source); after aggregation, the noisy-or of its sentences'
    support: int = 1  # the candidate sentences that say it

    def to_dict(self) -> dict:
        return asdict(self)
