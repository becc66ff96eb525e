"""Family 5, topic, hedging and time: what the talks are about (SPEC 4), whether the claim is reported as
alleged (`hedged`), and the period it is about (`event_time`, resolved by `timex` against the publication
date)."""

from __future__ import annotations

from pipeline.extract.context import ArticleContext
from pipeline.extract.predicate import governing_verb, lemma
from pipeline.extract.records import Candidate, Features
from pipeline.extract.resources import Lexicon


def topic_features(cand: Candidate, ctx: ArticleContext, status_feats: Features) -> Features:
    """The status model's sentence words, plus the title's words (the story's subject)."""
    f: Features = {k: v for k, v in status_feats.items() if k.startswith(("w=", "b=", "trig=", "mod="))}
    f["bias"] = 1.0
    if ctx.title_end and not cand.in_title:
        for t in ctx.doc[:ctx.title_end]:
            if t.is_alpha and not t.is_stop:
                f[f"title={lemma(t)}"] = 1.0
    return f


def rule_topic(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> str:
    """The rule: the first topic (in cues.yaml's order) whose cue the sentence holds, in its words or lemmas;
    else the title's; else peace talks in general."""
    for span in (ctx.doc[cand.start:cand.end], ctx.doc[:ctx.title_end]):
        if not len(span):
            continue
        lemmas = " ".join(lemma(t) for t in span)
        for topic, rx in lex.topics:
            if rx.search(span.text) or rx.search(lemmas):
                return topic
    return "peace_deal"


def hedge_features(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> Features:
    doc = ctx.doc
    f: Features = {"bias": 1.0}
    for t in doc[cand.start:cand.end]:
        if t.lower_ in lex.hedges or lemma(t) in lex.hedges:
            f[f"hedge={t.lower_}"] = 1.0
            f["hedge_any"] = 1.0
    for i in cand.triggers[:4]:
        v = governing_verb(doc[i])
        for c in v.children:
            if c.tag_ == "MD":
                f[f"modal={c.lower_}"] = 1.0
    return f


def rule_hedged(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> bool:
    return any(t.lower_ in lex.hedges for t in ctx.doc[cand.start:cand.end])
