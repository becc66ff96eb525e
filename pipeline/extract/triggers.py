"""Family 1, triggers: the candidate sentences, those that name talks, a deal, a proposal or an exchange.

High recall on purpose: what is a claim and what is not is the status model's decision, not this one's.
"""

from __future__ import annotations

from pipeline.extract.context import ArticleContext
from pipeline.extract.records import Candidate
from pipeline.extract.resources import Cues


def trigger_words(cues: Cues) -> frozenset[str]:
    """Every trigger lemma of cues.yaml (`triggers`, all groups)."""
    return frozenset(w for g in cues.groups("triggers") for w in cues.words("triggers", g))


def find_candidates(ctx: ArticleContext, words: frozenset[str]) -> list[Candidate]:
    """The sentences holding a trigger word (by lemma or lower-cased form), in order."""
    out = []
    for n, sent in enumerate(ctx.sents):
        trig = [t.i for t in sent if t.lemma_.lower() in words or t.lower_ in words]
        if not trig:
            continue
        out.append(Candidate(
            sent_index=n, start=sent.start, end=sent.end, start_char=sent.start_char, end_char=sent.end_char,
            triggers=trig, in_title=sent.start < ctx.title_end,
            in_quote=sent.start in ctx.quoted or sent.text.lstrip()[:1] in ('"', "“"),
        ))
    return out
