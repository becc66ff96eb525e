"""What every family needs from the whole article: its sentences, actor mentions, people and quotations."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span

from pipeline.extract.records import Mention
from pipeline.extract.resources import Gazetteer

ACTORS_KEY = "tw_actors"


@dataclass
class ArticleContext:
    doc: Doc
    sents: list[Span]
    title_end: int  # token offset where the title ends (0: no title)
    mentions: list[Mention]
    by_sent: list[list[Mention]]  # the mentions of each sentence
    counts: Counter  # actor code -> mentions in the article (the title's count twice)
    first_at: dict[str, int]  # actor code -> index of the first sentence naming it
    quoted: set[int]  # token offsets inside quotation marks
    people: dict[str, str] = field(default_factory=dict)  # surname (lower) -> full name seen in the article
    sent_starts: list[int] = field(default_factory=list)
    _rank: dict[str, int] | None = None
    _pairs: Counter | None = None

    @property
    def rank(self) -> dict[str, int]:
        """Actor code -> its rank by mentions in the article (0: the most named)."""
        if self._rank is None:
            self._rank = {code: n for n, (code, _) in enumerate(self.counts.most_common())}
        return self._rank

    @property
    def pair_sentences(self) -> Counter:
        """(code, code) -> the number of sentences naming both (the pairs the article keeps together)."""
        if self._pairs is None:
            self._pairs = Counter()
            for ms in self.by_sent:
                codes = sorted({m.code for m in ms})
                for i, a in enumerate(codes):
                    for b in codes[i + 1:]:
                        self._pairs[(a, b)] += 1
        return self._pairs

    def sent_of(self, token: int) -> int:
        return bisect_right(self.sent_starts, token) - 1


def article_context(doc: Doc, gaz: Gazetteer, title_chars: int = 0) -> ArticleContext:
    """Collect the article's mentions (from the actors component's spans), counts, people and quotations."""
    sents = list(doc.sents)
    starts = [s.start for s in sents]
    title_end = 0
    if title_chars:
        title_end = next((t.i for t in doc if t.idx >= title_chars), len(doc))
    mentions = []
    for sp in doc.spans.get(ACTORS_KEY, []):
        actor = gaz.actors.get(sp.label_)
        mentions.append(Mention(code=sp.label_, kind=actor.kind if actor else "state", start=sp.start, end=sp.end,
                                text=sp.text, person=sp.kb_id_ or None))
    mentions.extend(_opposition(doc, mentions, gaz))
    mentions.sort(key=lambda m: m.start)
    by_sent: list[list[Mention]] = [[] for _ in sents]
    counts: Counter = Counter()
    first_at: dict[str, int] = {}
    for m in mentions:
        n = bisect_right(starts, m.start) - 1
        by_sent[n].append(m)
        counts[m.code] += 2 if m.start < title_end else 1
        first_at.setdefault(m.code, n)
    ctx = ArticleContext(doc=doc, sents=sents, title_end=title_end, mentions=mentions, by_sent=by_sent,
                         counts=counts, first_at=first_at, quoted=quoted_tokens(doc), sent_starts=starts)
    ctx.people = person_index(doc, mentions)
    return ctx


def quoted_tokens(doc: Doc) -> set[int]:
    """Token offsets inside double quotation marks; a paragraph break closes an open quotation. A name or a
    phrase in quotation marks (four words or fewer: 'the "Washington Post"', 'a "peace formula"') is no
    quotation."""
    quoted: set[int] = set()
    run: list[int] = []
    open_ = False

    def close() -> None:
        if len(run) > 4:
            quoted.update(run)
        run.clear()

    for t in doc:
        if "\n" in t.text:
            open_ = False
            close()
            continue
        if t.text == '"':
            if open_:
                close()
            open_ = not open_
        elif t.text == "“":
            close()
            open_ = True
        elif t.text == "”":
            open_ = False
            close()
        elif open_:
            run.append(t.i)
        if "\n" in t.whitespace_:
            open_ = False
            close()
    if open_:
        close()
    return quoted


def person_index(doc: Doc, mentions: list[Mention]) -> dict[str, str]:
    """Surname -> the full name the article gives it ("Zakharova" -> "Maria Zakharova"): from the
    gazetteer's people and from the parser's PERSON entities of two words or more."""
    people: dict[str, str] = {}
    for m in mentions:
        if m.person:
            people.setdefault(m.person.split()[-1].lower(), m.person)
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        words = [t.text for t in ent if t.is_alpha or "-" in t.text or "'" in t.text]
        if len(words) >= 2 and words[-1][:1].isupper():
            people.setdefault(words[-1].lower(), " ".join(words))
    return people


def _opposition(doc: Doc, mentions: list[Mention], gaz: Gazetteer) -> list[Mention]:
    """'The opposition' of the state the article names most, as a side of its own (<CODE>_OPP)."""
    if not gaz.generic_opposition:
        return []
    states = Counter(m.code for m in mentions if m.kind == "state" and not m.code.endswith("_OPP"))
    if not states:
        return []
    code = f"{states.most_common(1)[0][0]}_OPP"
    taken = {i for m in mentions for i in range(m.start, m.end)}
    out = []
    for t in doc:
        if t.lower_ in gaz.generic_opposition and t.i not in taken:
            out.append(Mention(code=code, kind="nonstate", start=t.i, end=t.i + 1, text=t.text))
    return out
