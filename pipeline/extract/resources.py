"""Load the extraction data files (actor gazetteer, cue lists) into lookup structures."""

from __future__ import annotations

import logging
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
    person_names: dict[str, str] = field(default_factory=dict)  # lower alias -> canonical

    def dyads_of(self, code: str) -> list[tuple[str, str]]:
        return [d for d in self.dyads if code in d]


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
    person_names: dict[str, str] = {}
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
                person_names[form.lower()] = person
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
        person_names=person_names,
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
    """Cue lists of cues.yaml, as sets of lower-case lemmas or phrases."""

    raw: dict

    def words(self, *keys: str) -> set[str]:
        node = self.raw
        for k in keys:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        return {str(w).lower() for w in (node or [])}


@lru_cache(maxsize=4)
def load_cues(path: str | None = None) -> Cues:
    """Read cues.yaml (or `path`)."""
    p = Path(path) if path else DATA_DIR / "cues.yaml"
    return Cues(raw=yaml.safe_load(p.read_text(encoding="utf-8")))
