"""Load the extraction data files (actor gazetteer, cue lists) into lookup structures."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Actor:
    """One gazetteer entry: a state, non-state party or international body."""

    code: str
    name: str
    kind: str  # state | nonstate | org


@dataclass
class Gazetteer:
    """Actors, their surface forms and the conflict dyads."""

    actors: dict[str, Actor]
    # surface form -> (code, canonical person name or None)
    aliases: dict[str, tuple[str, str | None]]
    case_sensitive: set[str]
    blockers: list[str]
    dyads: list[tuple[str, str]]
    generic_state: set[str]
    generic_nonstate: set[str]
    generic_opposition: frozenset[str] = frozenset()

    def dyads_of(self, code: str) -> list[tuple[str, str]]:
        return self._by_code.get(code, [])

    def __post_init__(self) -> None:
        self.dyad_set = frozenset(self.dyads)
        self._by_code: dict[str, list[tuple[str, str]]] = {}
        for d in self.dyads:
            for x in d:
                self._by_code.setdefault(x, []).append(d)


def _is_case_sensitive(alias: str) -> bool:
    letters = alias.replace(".", "")
    return letters.isupper() and len(letters) <= 4


@lru_cache(maxsize=4)
def load_gazetteer(path: str | None = None) -> Gazetteer:
    """Read actors.yaml (or `path`) into a Gazetteer."""
    p = Path(path) if path else DATA_DIR / "actors.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    actors: dict[str, Actor] = {}
    aliases: dict[str, tuple[str, str | None]] = {}
    case_sensitive: set[str] = set()
    for code, entry in raw["actors"].items():
        actors[code] = Actor(code=code, name=entry["name"], kind=entry.get("kind", "state"))
        forms = [entry["name"], *entry.get("aliases", [])]
        for form in forms:
            if _is_case_sensitive(form):
                case_sensitive.add(form)
                aliases.setdefault(form, (code, None))
            else:
                aliases.setdefault(form.lower(), (code, None))
        for person, spellings in (entry.get("people") or {}).items():
            for form in [person, *(spellings or [])]:
                aliases[form.lower()] = (code, person)
    dyads = [tuple(sorted(d)) for d in raw.get("dyads", [])]
    generic = raw.get("generic_sides", {})
    return Gazetteer(
        actors=actors,
        aliases=aliases,
        case_sensitive=case_sensitive,
        blockers=list(raw.get("non_actors", [])),
        dyads=dyads,  # type: ignore[arg-type]
        generic_state={w.lower() for w in generic.get("state", [])},
        generic_nonstate=_with_singulars(w.lower() for w in generic.get("nonstate", [])),
        generic_opposition=frozenset(w.lower() for w in generic.get("opposition", [])),
    )


def _with_singulars(words) -> set[str]:
    """The words and, for plural single words, their singular: the rules compare lemmas ("rebels" -> "rebel")."""
    out = set()
    for w in words:
        out.add(w)
        if " " not in w and w.endswith("s") and not w.endswith("ss"):
            out.add(w[:-1])
    return out


@dataclass
class Cues:
    """Cue lists of cues.yaml, as sets of lower-case lemmas or phrases; `read` records which lists were asked
    for (a list nothing asks for is a test failure: editing it would change nothing)."""

    raw: dict
    read: set[tuple[str, ...]] = field(default_factory=set)

    def words(self, *keys: str) -> set[str]:
        self.read.add(keys)
        node = self.raw
        for k in keys:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        return {str(w).lower() for w in (node or [])}

    def groups(self, *keys: str) -> list[str]:
        """The names under a mapping of lists ("triggers" -> talks, deals, ...), in file order."""
        node = self.raw
        for k in keys:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        return list(node) if isinstance(node, dict) else []

    def lists(self) -> set[tuple[str, ...]]:
        """Every list of the file, by its keys."""
        out: set[tuple[str, ...]] = set()

        def walk(node, path: tuple[str, ...]) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, (*path, str(k)))
            else:
                out.add(path)
        walk(self.raw, ())
        return out


def load_cues(path: str | None = None) -> Cues:
    """Read cues.yaml (or `path`), once: the same object for every caller (`load_cues.cache_clear()` forgets it)."""
    return _cached_cues(str(path) if path else "")


@lru_cache(maxsize=4)
def _cached_cues(path: str) -> Cues:
    return read_cues(path or None)


load_cues.cache_clear = _cached_cues.cache_clear  # type: ignore[attr-defined]


def read_cues(path: str | None = None) -> Cues:
    """Read cues.yaml (or `path`)."""
    p = Path(path) if path else DATA_DIR / "cues.yaml"
    return Cues(raw=yaml.safe_load(p.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Lexicon:
    """The word lists of cues.yaml that the families test, as frozen sets of lower-case lemmas."""

    reporting: frozenset[str]
    negations: frozenset[str]
    anonymous: frozenset[str]
    hedges: frozenset[str]
    titles: frozenset[str]
    mediation: frozenset[str]
    non_sources: frozenset[str]
    denial_verbs: frozenset[str] = frozenset()  # verbs that deny what they govern ("denied reports of talks")
    existence_verbs: frozenset[str] = frozenset()  # "there are no talks", "talks have not taken place"
    absence_words: frozenset[str] = frozenset()  # "the absence of talks"
    report_nouns: frozenset[str] = frozenset()  # "reports", "claims": what "dismissed" denies
    denial_objects: frozenset[str] = frozenset()  # what a denial can deny: talks, and (deal_objects) deals
    deal_objects: frozenset[str] = frozenset()
    conditions: frozenset[str] = frozenset()  # "unless", "until": a refusal with a condition is a position
    pronouns: frozenset[str] = frozenset()  # "he said", "according to her": the speaker named before
    role_words: frozenset[str] = frozenset()  # "the spokesman said": the speaker named before
    deal_words: frozenset[str] = frozenset()  # triggers naming a deal or an exchange (`no_deal`)
    status_verbs: dict[str, frozenset[str]] = field(default_factory=dict)  # status -> verb lemmas naming it
    status_words: dict[str, re.Pattern] = field(default_factory=dict)  # status -> its words and phrases
    topics: tuple[tuple[str, re.Pattern], ...] = ()  # the topic rule's cues, in the order it tries them

    @classmethod
    def from_cues(cls, cues: Cues) -> Lexicon:
        return cls(
            reporting=frozenset(cues.words("reporting_verbs")),
            negations=frozenset(cues.words("negation_markers")),
            anonymous=frozenset(cues.words("anonymous_heads")),
            hedges=frozenset(cues.words("hedges")),
            titles=frozenset(cues.words("person_titles")),
            mediation=frozenset(cues.words("mediator_markers")),
            non_sources=frozenset(cues.words("non_sources")),
            denial_verbs=frozenset(cues.words("denial", "verbs")),
            existence_verbs=frozenset(cues.words("denial", "existence_verbs")),
            absence_words=frozenset(cues.words("denial", "absence_words")),
            report_nouns=frozenset(cues.words("denial", "report_nouns")),
            denial_objects=frozenset(cues.words("denial", "talks") | cues.words("denial", "deals")),
            deal_objects=frozenset(cues.words("denial", "deals")),
            conditions=frozenset(cues.words("denial", "conditions")),
            pronouns=frozenset(cues.words("speakers", "pronouns")),
            role_words=frozenset(cues.words("speakers", "role_words")),
            deal_words=frozenset(cues.words("triggers", "deals") | cues.words("triggers", "exchanges")),
            status_verbs={st: frozenset(cues.words("status_cues", st, "verbs")) for st in cues.groups("status_cues")},
            status_words={st: _phrases(cues.words("status_cues", st, "words")) for st in cues.groups("status_cues")},
            topics=tuple((t, _phrases(cues.words("topics", t))) for t in cues.groups("topics")),
        )


def _phrases(words: set[str]) -> re.Pattern:
    """One case-insensitive pattern for a list of words and phrases, matched whole."""
    if not words:
        return re.compile(r"(?!x)x")
    alts = sorted((re.escape(w) for w in words), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alts) + r")(?![\w-])", re.I)
