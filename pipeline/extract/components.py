"""spaCy components of the claim extractor: paragraph breaks, comma joins, actor gazetteer, claims."""

from __future__ import annotations

import logging
from pathlib import Path

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract.claims import MODEL_DIR, Models, decide, featurize
from pipeline.extract.context import ACTORS_KEY, article_context
from pipeline.extract.resources import Lexicon, load_cues, load_gazetteer
from pipeline.extract.triggers import trigger_words

logger = logging.getLogger(__name__)

if not Doc.has_extension("claims"):
    Doc.set_extension("claims", default=None)
if not Doc.has_extension("title_chars"):
    Doc.set_extension("title_chars", default=0)  # the title's length: set by `prepared_docs` before the pipeline


# --------------------------------------------------------------------------------------------
# talkwatch_paragraphs: a line break starts a sentence (titles and feed descriptions lack stops)
# --------------------------------------------------------------------------------------------

class ParagraphSplitter:
    """Mark the token after a line break as a sentence start, before the parser runs."""

    def __call__(self, doc: Doc) -> Doc:
        for i, tok in enumerate(doc[:-1]):
            if "\n" in tok.text or "\n" in tok.whitespace_:
                nxt = doc[i + 1]
                if not nxt.is_space:
                    nxt.is_sent_start = True
                    # the parser tends to cut a paragraph's first word off on its own ("Israel" |
                    # "and Hamas have agreed ..."); a word is not a sentence
                    if i + 2 < len(doc) and not (doc[i + 2].is_punct or doc[i + 2].is_space
                                                 or "\n" in nxt.whitespace_):
                        doc[i + 2].is_sent_start = False
        return doc


@Language.factory("talkwatch_paragraphs", assigns=["token.is_sent_start"])
def make_paragraphs(nlp: Language, name: str) -> ParagraphSplitter:
    return ParagraphSplitter()


# --------------------------------------------------------------------------------------------
# talkwatch_comma_joins: no sentence starts after a comma (the parser's cuts are joined back)
# --------------------------------------------------------------------------------------------

class CommaJoiner:
    """After the parser: a sentence that ends in a comma is joined to the next one in its line.

    The parser sometimes cuts "There are no negotiations with Israel, Hamas official X said on
    Monday" after the comma (a preset "not a sentence start" is no constraint for it), and the
    claim then loses its speaker. The cut is mended in the tree itself: the first part becomes
    the complement of a reporting verb that heads the second ("…, X said"), else the second part a
    conjunct of the first."""

    def __init__(self, reporting: set[str]) -> None:
        self.reporting = reporting

    def __call__(self, doc: Doc) -> Doc:
        if not doc.has_annotation("DEP"):
            return doc
        sents = list(doc.sents)
        for a, b in zip(sents, sents[1:], strict=False):
            if a[-1].text != ",":
                continue  # (a comma followed by a line break ends in a whitespace token: a real boundary)
            head_a, head_b = a.root, b.root
            if head_b.lemma_.lower() in self.reporting and not any(c.dep_ in ("ccomp", "dobj") for c in head_b.children):
                head_a.head, head_a.dep_ = head_b, "ccomp"
            else:
                head_b.head, head_b.dep_ = head_a, "conj"
        return doc


@Language.factory("talkwatch_comma_joins", assigns=["token.head", "token.dep", "token.is_sent_start"])
def make_comma_joins(nlp: Language, name: str) -> CommaJoiner:
    return CommaJoiner(set(load_cues().words("reporting_verbs")))


# --------------------------------------------------------------------------------------------
# talkwatch_actors: the actor gazetteer as PhraseMatchers -> doc.spans["tw_actors"]
# --------------------------------------------------------------------------------------------

class ActorMatcher:
    """Match actor aliases (data/actors.yaml); span label = actor code, kb_id = person name."""

    def __init__(self, nlp: Language, *, gazetteer_path: str | None = None, spans_key: str = ACTORS_KEY) -> None:
        self.gaz = load_gazetteer(gazetteer_path)
        self.spans_key = spans_key
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        tok = nlp.tokenizer
        by_key: dict[str, list] = {}
        for alias, (code, person) in self.gaz.aliases.items():
            key = f"{code}|{person or ''}"
            by_key.setdefault(key, []).append(alias)
        for key, forms in by_key.items():
            lower = [tok(f) for f in forms if f not in self.gaz.case_sensitive]
            exact = [tok(f) for f in forms if f in self.gaz.case_sensitive]
            if lower:
                self.lower.add(key, lower)
            if exact:
                self.exact.add(key, exact)
        if self.gaz.blockers:
            self.lower.add("__BLOCK__", [tok(b.lower()) for b in self.gaz.blockers])

    def __call__(self, doc: Doc) -> Doc:
        spans = []
        vocab = doc.vocab.strings
        for match_id, start, end in [*self.lower(doc), *self.exact(doc)]:
            key = vocab[match_id]
            if key == "__BLOCK__":
                spans.append(Span(doc, start, end, label="__BLOCK__"))
                continue
            code, person = key.split("|", 1)
            spans.append(Span(doc, start, end, label=code, kb_id=person or ""))
        doc.spans[self.spans_key] = [s for s in filter_spans(spans) if s.label_ != "__BLOCK__" and not _outlet_name(s)]
        return doc


# Words that make a place name the name of a newspaper or broadcaster ("the Jerusalem Herald", "Addis Standard")
_OUTLET_WORDS = {"post", "times", "herald", "tribune", "journal", "gazette", "telegraph", "chronicle", "ledger", "monitor",
                 "observer", "standard", "independent", "express", "mail", "star", "today", "review", "courier", "daily",
                 "news", "dispatch", "bulletin", "insider", "sun", "record", "examiner", "guardian", "mirror", "press"}


def _outlet_name(span: Span) -> bool:
    """A capital or country named in an outlet's name: "Jerusalem Herald", "Kyiv Independent"."""
    doc = span.doc
    if span.kb_id_ or span.end >= len(doc):
        return False
    nxt = doc[span.end]
    return nxt.text[:1].isupper() and nxt.lower_ in _OUTLET_WORDS and not span.text.isupper()


@Language.factory("talkwatch_actors", assigns=["doc.spans"], default_config={"gazetteer_path": None})
def make_actors(nlp: Language, name: str, *, gazetteer_path: str | None = None) -> ActorMatcher:
    return ActorMatcher(nlp, gazetteer_path=gazetteer_path)


# --------------------------------------------------------------------------------------------
# talkwatch_claims: find candidate sentences, decide their claims with the trained models, set doc._.claims
# --------------------------------------------------------------------------------------------

class ClaimExtractor:
    """Find, decide, set: candidates and their options (families `triggers`, `predicate`, `parties`,
    `sources`, `topics`), the decisions of the models in `models/` (loaded on the first doc), and
    `doc._.claims` as a list of plain dicts (`RawClaim.to_dict`, msgpack-safe for `n_process > 1`).

    Article-level fields that need the feed's metadata (the outlet as source, `event_time` against the
    publication date) are completed by `pipeline.extract.claims_for_article`."""

    def __init__(self, *, models_dir: str | None = None, gazetteer_path: str | None = None,
                 cues_path: str | None = None) -> None:
        self.cues = load_cues(cues_path)
        self.lex = Lexicon.from_cues(self.cues)
        self.gaz = load_gazetteer(gazetteer_path)
        self.words = trigger_words(self.cues)
        self.models_dir = Path(models_dir) if models_dir else MODEL_DIR
        self._models: Models | None = None

    @property
    def models(self) -> Models:
        if self._models is None:
            self._models = Models.load(self.models_dir)
        return self._models

    def __call__(self, doc: Doc) -> Doc:
        ctx = article_context(doc, self.gaz, doc._.title_chars)
        feats = featurize(ctx, self.lex, self.gaz, self.words)
        claims = decide(ctx, feats, self.models, self.lex, self.gaz) if feats else []
        doc._.claims = [c.to_dict() for c in claims]
        return doc


@Language.factory(
    "talkwatch_claims",
    assigns=["doc._.claims"],
    requires=["token.dep", "token.lemma", "doc.sents", "doc.spans"],
    default_config={"models_dir": None, "gazetteer_path": None, "cues_path": None},
)
def make_claims(nlp: Language, name: str, *, models_dir: str | None = None, gazetteer_path: str | None = None,
                cues_path: str | None = None) -> ClaimExtractor:
    return ClaimExtractor(models_dir=models_dir, gazetteer_path=gazetteer_path, cues_path=cues_path)
