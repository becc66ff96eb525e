"""Family 6, per-article consolidation: the component's claims completed with the article's metadata (the
outlet as source, the period against the publication date) and merged (SPEC 5a: the title and the body
saying the same thing are one claim; one source keeps one name)."""

from __future__ import annotations

import re

from pipeline.extract.records import RawClaim
from pipeline.extract.timex import resolve_event_time
from pipeline.models import Article, Claim, person_name_form, slugify


def outlet_key(outlet: str) -> str:
    return slugify(re.sub(r"^the\s+", "", outlet or "", flags=re.I)) or "unknown-outlet"


def complete(article: Article, raw: RawClaim, extractor: str) -> Claim:
    """One component claim as a SPEC claim of this article."""
    src = raw.source
    if src is None:
        name, key, org, kind = article.outlet or "unknown outlet", outlet_key(article.outlet), None, "outlet"
    else:
        name, key, org, kind = src["name"], src["key"], src.get("org"), src.get("kind")
    return Claim(
        parties=list(raw.parties), status=raw.status, topic=raw.topic, source=name, source_key=key,
        evidence=raw.evidence, source_org=org, reported_by=article.outlet or None, mediator=raw.mediator,
        venue=raw.venue, hedged=raw.hedged, confidence=round(raw.confidence, 4),
        event_time=resolve_event_time(raw.time_text, article.published_date, future=raw.future),
        extra={"trigger": raw.trigger, "start_char": raw.start_char, "extractor": extractor, "source_kind": kind,
               "p_status": round(raw.p_status, 4), "p_parties": round(raw.p_parties, 4),
               "p_source": round(raw.p_source, 4), "score": raw.score, "support": raw.support},
    )


def merge(claims: list[Claim], title_len: int = 0) -> list[Claim]:
    """One claim per (parties, status, source) in an article (SPEC 6's key): the body's reading wins over the
    title's, then the more confident one; a person named in full once and by surname elsewhere is one source."""
    _one_person_one_key(claims)
    best: dict[tuple, Claim] = {}
    for c in claims:
        k = (tuple(c.parties), c.status, c.source_key)
        old = best.get(k)
        if old is None or _rank(c, title_len) > _rank(old, title_len):
            if old is not None:
                c.venue, c.mediator = c.venue or old.venue, c.mediator or old.mediator
            best[k] = c
        else:
            old.venue, old.mediator = old.venue or c.venue, old.mediator or c.mediator
    kept = [c for c in claims if best.get((tuple(c.parties), c.status, c.source_key)) is c]
    names: dict[str, str] = {}
    for c in kept:
        c.source = names.setdefault(c.source_key, c.source)
    return kept


def _rank(c: Claim, title_len: int) -> tuple:
    return (c.extra.get("start_char", 0) >= title_len, c.confidence or 0.0)


def _one_person_one_key(claims: list[Claim]) -> None:
    forms = [(c, person_name_form(c)) for c in claims]
    full: dict[str, set[tuple[str, str]]] = {}
    for c, form in forms:
        if form and form[0] == "full":
            full.setdefault(form[1], set()).add((c.source_key, c.source))
    for c, form in forms:
        if form and form[0] == "surname" and len(full.get(form[1], ())) == 1:
            (c.source_key, c.source), = full[form[1]]
