"""Rule families that read negotiation-status claims from parsed sentences (SPEC 1, 2, 4, 5a)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

from pipeline.extract.resources import Cues, Gazetteer
from pipeline.extract.timex import mentions_time
from pipeline.models import slugify

logger = logging.getLogger(__name__)

VERBAL = {"VERB", "AUX"}
_CLAUSE_DEPS = {"aux", "auxpass", "neg", "prt", "acomp", "xcomp", "advmod", "attr", "oprd", "dobj", "npadvmod"}
_PRONOUN_PERSON = {"he", "she", "him", "her"}
_DROP_NAME_CHARS = "\"'“”‘’`"


# --------------------------------------------------------------------------------------------
# Lexicon: the cue lists of cues.yaml turned into the sets the rules test against
# --------------------------------------------------------------------------------------------

@dataclass
class Lexicon:
    """Cue sets used by the rules, built once from Cues and the Gazetteer."""

    cues: Cues
    gaz: Gazetteer
    talk_nouns: set[str] = field(default_factory=set)
    talk_verbs: set[str] = field(default_factory=set)
    deal_nouns: set[str] = field(default_factory=set)
    proposal_nouns: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    trigger_words: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        c = self.cues
        self.talk_nouns = {w for w in c.words("triggers", "talk_nouns") if " " not in w}
        self.talk_verbs = c.words("triggers", "talk_verbs")
        self.deal_nouns = {w for w in c.words("triggers", "deal_nouns") if " " not in w}
        self.deal_phrases = [w for w in c.words("triggers", "deal_nouns") if " " in w]
        self.deal_phrase_ends: dict[str, list[list[str]]] = {}
        for ph in self.deal_phrases:
            self.deal_phrase_ends.setdefault(ph.split()[-1], []).append(ph.split())
        self.proposal_nouns = {w for w in c.words("triggers", "proposal_nouns") if " " not in w}
        self.weak = c.words("triggers", "weak")
        self.trigger_words = (self.talk_nouns | self.talk_verbs | self.deal_nouns | self.proposal_nouns
                              | {"fire", "agree", "hostilities", "delegation", "delegations", "demand"}
                              | {ph.split()[-1] for ph in self.deal_phrases})
        self.negative_context = c.words("negative_context")
        self.conflict_words = c.words("conflict_words")
        self.reporting = c.words("reporting_verbs")
        self.report_nouns = c.words("report_nouns")
        self.denial_verbs = c.words("denial_verbs")
        self.denial_words = c.words("denial_words")
        self.anonymous = c.words("anonymous_heads")
        self.hedges = c.words("hedges")
        self.background_markers = c.words("background_markers")
        self.non_sources = c.words("non_sources")
        self.no_claim_nouns = c.words("no_claim_nouns")
        self.purpose_verbs = c.words("purpose_verbs")
        self.role_nouns = c.words("role_nouns")
        self.speech_verbs = c.words("speech_verbs")
        self.side_words = c.words("side_words")
        self.path_noun_status = {str(k).lower(): str(v) for k, v in (c.raw.get("path_noun_status") or {}).items()}
        self.rejection_adjectives = c.words("rejection_adjectives")
        self.negated_path_noun_status = {str(k): str(v) for k, v in (c.raw.get("negated_path_noun_status") or {}).items()}
        self.negations = c.words("negation_markers")
        self.titles = c.words("person_titles")
        self.mediator_markers = c.words("mediator_markers")
        st = lambda s, k: c.words("status", s, k)  # noqa: E731
        self.agreed_verbs = st("agreed", "verbs")
        self.agreed_adj = st("agreed", "adjectives")
        self.proposed_verbs = st("proposed", "verbs")
        self.accepted_verbs = st("accepted", "verbs")
        self.rejected_verbs = st("rejected", "verbs")
        self.planned_verbs = st("planned", "verbs")
        self.ongoing_verbs = st("ongoing", "verbs")
        self.ongoing_adj = st("ongoing", "adjectives")
        self.held_verbs = st("held", "verbs")
        self.stalled_verbs = st("stalled", "verbs")
        self.stalled_adj = st("stalled", "adjectives")
        self.collapsed_verbs = st("collapsed", "verbs")
        self.collapsed_adj = st("collapsed", "adjectives")
        self.topics = [(t, sorted(c.words("topics", t), key=len, reverse=True))
                       for t in ("partial_ceasefire", "ceasefire", "hostages", "humanitarian", "peace_deal")]
        # one pattern per topic, its words longest first (what each word matched is checked by the caller)
        self.topic_res = [(t, re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ws) + r")\b")) for t, ws in self.topics]


# --------------------------------------------------------------------------------------------
# Small token helpers
# --------------------------------------------------------------------------------------------

def lem(t: Token) -> str:
    return t.lemma_.lower()


def is_cease_fire(t: Token) -> bool:
    """'fire' of a tokenised 'cease-fire'."""
    return t.lower_ == "fire" and t.i >= 2 and t.nbor(-1).text == "-" and t.nbor(-2).lower_ == "cease"


def subject_of(v: Token) -> Token | None:
    for c in v.children:
        if c.dep_ in ("nsubj", "nsubjpass", "csubj"):
            return c
    for c in v.children:  # "Shekau has [...] ruled out talks", parsed with the subject under "has"
        if c.dep_ == "aux":
            for g in c.children:
                if g.dep_ in ("nsubj", "nsubjpass"):
                    return g
    for c in v.children:
        if c.dep_ == "agent":
            for g in c.children:
                if g.dep_ == "pobj":
                    return g
    return None


def has_neg(v: Token, lex: Lexicon) -> bool:
    for c in v.children:
        if c.dep_ == "neg" or (c.dep_ in ("advmod", "det") and c.lower_ in ("never", "no")):
            return True
    return False


def future_of(v: Token) -> bool:
    for c in v.children:
        if c.dep_ in ("aux", "auxpass") and c.lower_ in ("will", "shall", "'ll", "wo", "would", "'d", "going"):
            return True
    if v.tag_ in ("VB", "VBN") and v.lemma_.lower() != "need" and any(c.dep_ == "aux" and c.lower_ in ("could", "may", "might") for c in v.children) \
            and not any(c.dep_ == "aux" and c.lemma_.lower() == "have" for c in v.children):
        return True  # "a deal could be signed within months" (not "may have been reached", "might need to")
    h = v.head
    if v.dep_ == "xcomp" and h.i != v.i and h.lemma_.lower() in (
            "set", "due", "expect", "schedule", "suppose", "plan", "go", "slate", "prepare", "be", "have",
            "agree", "decide", "promise", "pledge"):
        if h.lemma_.lower() != "have" or any(c.lower_ == "to" for c in v.children):
            return True
    return False


def past_of(v: Token) -> bool:
    if v.tag_ == "VBD":
        return True
    if v.tag_ == "VBN":
        return any(c.dep_ == "aux" and c.lemma_.lower() == "have" for c in v.children) or any(
            c.dep_ == "auxpass" and c.tag_ == "VBD" for c in v.children)
    return any(c.dep_ in ("aux", "auxpass") and c.tag_ == "VBD" and c.lemma_.lower() != "do"
               for c in v.children) and v.tag_ != "VBG"


# --------------------------------------------------------------------------------------------
# Article context: actors, conflict dyad, people
# --------------------------------------------------------------------------------------------

@dataclass
class ArticleContext:
    """What a claim needs from the whole article: its conflict, its people, its last speaker."""

    dyad: tuple[str, str] | None
    actor_at: dict[int, tuple[str, str | None, Span]]  # token index -> (code, person, span)
    people: dict[str, str]  # lower surname / full name -> full name
    counts: Counter
    # role noun -> people the article gives that role: (token index, full name, actor code or None)
    roles: dict[str, list[tuple[int, str, str | None]]] = field(default_factory=dict)
    person_spans: list[Span] = field(default_factory=list)  # the gazetteer's person matches, in order


def article_context(doc: Doc, lex: Lexicon) -> ArticleContext:
    gaz = lex.gaz
    actor_at: dict[int, tuple[str, str | None, Span]] = {}
    counts: Counter = Counter()
    for span in doc.spans.get("tw_actors", []):
        code = span.label_
        person = span.kb_id_ or None
        for i in range(span.start, span.end):
            actor_at[i] = (code, person, span)
        # "the Yemen war" names the theatre more than a side: it counts half
        theatre = span.end < len(doc) and doc[span.end].lemma_.lower() in ("war", "conflict", "crisis")
        counts[code] += 0.5 if theatre else 1
    # a conflict implied by a state alone needs an article about a conflict ("Saudi" in a football story is
    # not); an armed group named alone is a conflict's side anyway
    about_conflict = any(t.lower_ in lex.conflict_words or lem(t) in lex.conflict_words for t in doc)
    dyad = None
    best = 0.0
    for d in gaz.dyads:
        a, b = counts.get(d[0], 0), counts.get(d[1], 0)
        if a and b:
            score = 2.0 * (a + b)
        elif a or b:
            # one side named: the conflict is implied only when that actor has no other conflict
            # ("Yemen's warring sides"), and a named side beats an implied one
            one = d[0] if a else d[1]
            score = float(a + b) if len(gaz.dyads_of(one)) == 1 and (
                about_conflict or gaz.actors[one].kind == "nonstate") else 0.0
            if gaz.actors[one].kind == "nonstate":
                score *= 1.5  # an armed group is in the news as a party; a state also as mediator or host
        else:
            score = 0.0
        if score > best:
            best, dyad = score, d
    people: dict[str, str] = {}
    for ent in doc.ents:
        if ent.label_ != "PERSON":
            continue
        full = clean_person(ent, lex)
        if full and " " in full:
            people.setdefault(full.lower(), full)
            people.setdefault(full.split()[-1].lower(), full)
    ctx = ArticleContext(dyad=dyad, actor_at=actor_at, people=people, counts=counts,
                         person_spans=[sp for sp in doc.spans.get("tw_actors", []) if sp.kb_id_])
    ctx.roles = person_roles(doc, ctx, lex)
    return ctx


def _person_mentions(doc: Doc, ctx: ArticleContext, lex: Lexicon) -> list[tuple[int, int, str, str | None]]:
    """(start, end, full name, actor code) of every named person, gazetteer people first."""
    out: dict[int, tuple[int, int, str, str | None]] = {}
    for span in doc.spans.get("tw_actors", []):
        if span.kb_id_:
            out[span.start] = (span.start, span.end, span.kb_id_, span.label_)
    for ent in doc.ents:
        if ent.label_ != "PERSON" or any(i in out for i in range(ent.start, ent.end)):
            continue
        name = clean_person(ent, lex)
        if " " not in name:
            name = ctx.people.get(name.lower(), name)
        if name and name.lower() not in lex.non_sources:
            out[ent.start] = (ent.start, ent.end, name, None)
    return sorted(out.values())


def _role_in(tokens, lex: Lexicon) -> str | None:
    """The first role noun among `tokens` (the actor named with it is found by `person_roles`)."""
    return next((lem(t) for t in tokens if t.pos_ in ("NOUN", "PROPN") and lem(t) in lex.role_nouns), None)


def person_roles(doc: Doc, ctx: ArticleContext, lex: Lexicon) -> dict[str, list[tuple[int, str, str | None]]]:
    """Who holds which role in this article: "Boko Haram leader Abubakar Shekau", "Hassan Tukur, an
    aide to the president", "the head of Nigeria's military, Alex Badeh", "a man claiming to be X"."""
    roles: dict[str, list[tuple[int, str, str | None]]] = {}

    def add(role: str | None, at: int, name: str, code: str | None, window) -> None:
        if role is None:
            return
        codes = [ctx.actor_at[t.i][0] for t in window if t.i in ctx.actor_at and not ctx.actor_at[t.i][1]]
        roles.setdefault(role, []).append((at, name, code or (codes[0] if codes else None)))

    for start, end, name, code in _person_mentions(doc, ctx, lex):
        sent = doc[start].sent
        # title words right before the name, up to a clause boundary: "Boko Haram leader Abubakar Shekau"
        j = start
        while j > sent.start and not doc[j - 1].is_punct and doc[j - 1].pos_ in ("NOUN", "PROPN", "ADJ", "PART", "DET") \
                and doc[j - 1].lower_ not in ("the", "a", "an") and start - j < 8:
            j -= 1
        before = list(doc[j:start])
        role = _role_in(before, lex)
        add(role, start, name, code, before)
        # "a man claiming to be ... X": the noun before "claiming/purporting to be"
        k = j - 1
        if k - 2 >= sent.start and doc[k].lower_ == "be" and doc[k - 1].lower_ == "to" and \
                doc[k - 2].lower_ in ("claiming", "purporting", "claims", "claimed", "said"):
            noun = doc[k - 3] if k - 3 >= sent.start else None
            if noun is not None and lem(noun) in lex.role_nouns:
                add(lem(noun), start, name, code, before)
        # apposition after the name: "Hassan Tukur, an aide to President Jonathan"
        if end < sent.end and doc[end].text == ",":
            window = []
            for t in doc[end + 1:min(sent.end, end + 9)]:
                if t.is_punct:
                    break
                window.append(t)
            if window and window[0].lower_ in ("the", "a", "an", "his", "her") or (window and window[0].pos_ == "PROPN"):
                role = _role_in(window, lex)
                add(role, start, name, code, window)
        # apposition before the name: "the head of Nigeria's military, Air Chief Marshal Alex Badeh"
        if j - 1 > sent.start and doc[j - 1].text == ",":
            window = []
            for t in reversed(doc[max(sent.start, j - 12):j - 1]):
                if (t.is_punct and t.text not in ("'s", "’s")) or t.pos_ in ("VERB", "AUX", "SCONJ"):
                    break
                window.insert(0, t)
                if t.lower_ in ("the", "a", "an"):
                    break
            if window and (window[0].lower_ in ("the", "a", "an") or window[0].pos_ == "PROPN"):
                role = _role_in(window, lex)
                add(role, start, name, code, window)
    return roles


def role_person(head: Token, toks: list[Token], ctx: ArticleContext, lex: Lexicon) -> tuple[str, str | None] | None:
    """A definite role phrase ("the aide", "the group's leader", "the man in the video") as the person the
    article gave that role: the nearest earlier holder, else the first later one."""
    role = lem(head)
    holders = ctx.roles.get(role)
    if not holders:
        return None
    # "a senior aide to the president, Hassan Tukur, told ...": the name right after the role
    named_next = [h for h in holders if head.i < h[0] <= head.i + 12 and head.doc[h[0]].sent == head.sent]
    if named_next:
        return named_next[0][1], named_next[0][2]
    if not any(t.lower_ in ("the", "this", "that") or t.dep_ == "poss" for t in toks if t.i < head.i):
        return None
    codes = {ctx.actor_at[t.i][0] for t in toks if t.i in ctx.actor_at}
    if not codes and any(t.dep_ == "poss" and lem(t) in ("group", "movement", "organisation", "organization")
                         for t in toks):
        codes = {c for c in (ctx.dyad or ()) if lex.gaz.actors[c].kind != "state"}
    if codes:
        holders = [h for h in holders if h[2] in codes] or []
    names = {h[1] for h in holders}
    if not holders:
        return None
    if len(names) > 1:
        earlier = [h for h in holders if h[0] < head.i]
        if earlier:
            best = max(earlier, key=lambda h: h[0])
            return best[1], best[2]
    best = min(holders, key=lambda h: (h[0] > head.i, abs(h[0] - head.i)))
    return best[1], best[2]


def clean_person(span: Span, lex: Lexicon) -> str:
    toks = [t for t in span if not (t.is_punct and t.text not in "-")]
    while toks and (toks[0].lower_.rstrip(".") in lex.titles or toks[0].lower_ in ("the", "a")):
        toks = toks[1:]
    while toks and toks[-1].lower_ in ("'s", "’s", "'"):
        toks = toks[:-1]
    text = " ".join(t.text for t in toks).replace(" - ", "-").replace(" -", "-").replace("- ", "-")
    return text.strip(_DROP_NAME_CHARS + " ")


# --------------------------------------------------------------------------------------------
# Family: triggers
# --------------------------------------------------------------------------------------------

def sentence_has_trigger(sent: Span, lex: Lexicon) -> bool:
    """Cheap gate: does the sentence contain any talks/ceasefire cue word?"""
    tw = lex.trigger_words
    for t in sent:
        if t.lower_ in tw or t.lemma_.lower() in tw:
            return True
    return False


# verbs that call a report or a proposal something ("called reports of a deal baseless")
_CALLING_VERBS = ("call", "describe", "label", "brand", "term", "dismiss")
# verbs that end a round of talks ("the talks ended without an agreement")
_ENDING_VERBS = ("end", "conclude", "close", "finish", "adjourn", "wrap")

_DEAL_INSTITUTIONS = {"committee", "commission", "mechanism", "monitor", "monitoring", "line", "violation", "breach",
                      "zone", "observer", "anniversary", "terms"}


def find_triggers(sent: Span, lex: Lexicon, *, context: list[Span] = ()) -> list[tuple[Token, str]]:
    """Tokens that name talks, a deal or a proposal, with their class. `context`: the neighbouring
    sentences of the paragraph, which can make a weak word count ('"There is no agreement," he said of
    the truce talks')."""
    out: list[tuple[Token, str]] = []
    seen_heads: set[int] = set()
    for t in sent:
        lw, lm = t.lower_, lem(t)
        cls = None
        if t.pos_ in ("NOUN", "PROPN", "ADJ") or (t.pos_ == "VERB" and t.tag_ == "VBG" and t.dep_ in ("pobj", "dobj")):
            if lm in lex.deal_nouns or lw in lex.deal_nouns or is_cease_fire(t) or _ends_phrase(t, lex.deal_phrase_ends):
                cls = "deal"
            elif lm == "hostility" and t.head.lemma_.lower() in ("end", "cessation", "stop"):
                cls = "deal"
            elif lm in lex.talk_nouns or lw in lex.talk_nouns or lm in ("delegation",):
                cls = "talk"
            elif lm in lex.proposal_nouns or lw in lex.proposal_nouns:
                cls = "proposal"
        if cls is None and lm == "table" and t.dep_ == "pobj" and t.head.lower_ == "to" and (
                lem(t.head.head) in ("return", "come", "go", "get", "bring") or t.head.head.lower_ == "back"):
            cls = "talk"  # "willing to return to the table", "back to the negotiating table"
        if cls is None and t.pos_ == "VERB":
            if lm in lex.talk_verbs:
                cls = "talk"
            elif lm == "agree" and not (t.dep_ in ("acl", "relcl") and (
                    lem(t.head) in lex.deal_nouns or is_cease_fire(t.head))) and not any(
                    lem(g) in lex.deal_nouns or is_cease_fire(g) for c in t.children
                    if c.dep_ in ("dobj", "prep", "nsubjpass", "nsubj") for g in c.subtree) and (
                    _core_has_sides(t, lex)) and not any(
                    c.dep_ == "xcomp" and lem(c) in lex.talk_verbs | {"hold", "resume", "continue"} for c in t.children) \
                    and not any(c.dep_ in ("nsubjpass", "dobj") and (lem(c) in lex.talk_nouns or c.lower_ in lex.talk_nouns)
                                for c in t.children):
                # "He agreed to the meeting [with parents]" names no sides: no claim; "agreed to meet again" and
                # "no talks have been agreed" are the talks' claims
                cls = "agree"
            elif lm in ("exchange", "swap", "trade") and any(
                    c.dep_ == "dobj" and lem(c) in ("prisoner", "captive", "detainee", "pow", "body", "hostage", "soldier")
                    for c in t.children) and _core_has_sides(t, lex):
                cls = "deal"  # "Russia and Ukraine exchanged 205 prisoners each": a swap agreed and carried out
            elif lm == "demand" and any(
                    lem(g) in ("release", "exchange", "swap", "talk", "ceasefire", "truce", "negotiation")
                    for c in t.children if c.dep_ == "dobj" for g in c.subtree):
                cls = "proposal"
        if cls is None:
            continue
        if cls == "deal" and t.dep_ == "pobj" and t.head.lower_ in ("on", "over", "about", "for", "toward", "towards") \
                and (lem(t.head.head) in lex.talk_nouns or t.head.head.lower_ in lex.talk_nouns
                     or (t.head.lower_ in ("on", "over", "about") and lem(t.head.head) in lex.deal_nouns)):
            continue  # "talks on a partial ceasefire", "an agreement on a ceasefire": what the talks or the deal are about
        if cls == "deal" and t.dep_ in ("compound", "nmod", "amod") and lem(t.head) in _DEAL_INSTITUTIONS:
            continue  # "the ceasefire monitoring committee", "ceasefire violations": no claim about the deal
        if cls == "deal" and any(a.dep_ in ("relcl", "acl") and (lem(a.head) in lex.deal_nouns or lem(a.head) in lex.proposal_nouns)
                                 and a.head.i != t.i for a in t.ancestors if a.i < t.i or a.head.i < t.i) \
                and lem(t.head) in ("include", "provide", "involve", "see", "lead", "entail", "pave", "bring"):
            continue  # "a roadmap that would include a nationwide ceasefire": the roadmap is the claim
        if cls == "deal" and t.dep_ == "pobj" and t.head.lower_ in ("on", "over", "about") and t.head.head.pos_ == "VERB" \
                and any(c.dep_ in ("dobj", "attr", "nsubj", "nsubjpass") and c.i != t.i and (
                            lem(c) in lex.talk_nouns or c.lower_ in lex.talk_nouns or lem(c) in lex.deal_nouns)
                        for c in t.head.head.children):
            continue  # "are holding talks in Cairo on a truce", "there were no contacts on a ceasefire": the same
        if lm in ("process", "round") and not any(c.lower_ in ("peace", "talks") for c in t.children):
            continue
        if cls == "talk" and t.tag_ == "NN" and lw == "talk":
            continue  # "all the truce talk is hilarious": chatter; negotiations are "talks"
        # compounds ("peace talks", "cease-fire agreement") count once, on their head
        if t.dep_ == "compound" and t.head.i not in seen_heads and (
                lem(t.head) in lex.deal_nouns | lex.talk_nouns):
            continue
        if t.i in seen_heads:
            continue
        if cls == "talk" and t.pos_ == "VERB" and not _talk_verb_has_sides(t, lex):
            continue
        if (lw in lex.weak or lm in lex.weak) and not _sentence_has_sides(sent, lex) and not _strong_cue_in(sent, lex) \
                and not any(_strong_cue_in(c, lex) and _sentence_has_sides(c, lex) for c in context):
            continue
        seen_heads.add(t.i)
        out.append((t, cls))
    return out



def _has_actor(tokens, lex: Lexicon) -> bool:
    return bool(_actor_codes(tokens))


def _actor_codes(tokens) -> set[str]:
    """The actors (codes) whose gazetteer matches start among these tokens."""
    spans = tokens[0].doc.spans.get("tw_actors", []) if tokens else []
    idx = {t.i for t in tokens}
    return {sp.label_ for sp in spans if sp.start in idx}


def _ends_phrase(t: Token, phrases: dict[str, list[list[str]]]) -> bool:
    """Is `t` the last word of one of the multi-word cues ("prisoner exchange", "end to hostilities")?"""
    doc = t.doc
    for words in phrases.get(t.lower_, ()) or phrases.get(lem(t), ()):
        start = t.i - len(words) + 1
        if start >= 0 and all(doc[start + k].lower_ == w or lem(doc[start + k]) == w for k, w in enumerate(words)):
            return True
    return False


def _talk_verb_has_sides(v: Token, lex: Lexicon) -> bool:
    """'met with Boko Haram', 'negotiating for the release', 'both sides discussed': talks between
    sides, not a meeting with parents or a speech."""
    if v.dep_ == "xcomp" and lem(v.head) in lex.proposed_verbs | lex.rejected_verbs | {"ready", "willing", "agree", "expect",
                                                                                         "set", "due", "schedule", "plan"}:
        subj = subject_of(v.head)  # "the government wants to negotiate", "we refuse to talk"
        if subj is None and v.head.dep_ in ("acomp", "xcomp") and v.head.head.i != v.head.i:
            subj = subject_of(v.head.head)  # "Moscow remained ready to negotiate"
        if subj is not None and (_has_actor(list(subj.subtree), lex) or lem(subj) in lex.gaz.generic_state
                                 or lem(subj) in lex.gaz.generic_nonstate or subj.lower_ in ("we", "they")
                                 or any(t.lower_ in ("sides", "delegations", "parties", "both") for t in subj.subtree)):
            return True
    if v.dep_ in ("relcl", "acl", "appos") and subject_of(v) is None:
        inside = {t.i for t in v.subtree}
        if len(_actor_codes([t for t in v.head.subtree if t.i not in inside])) >= 2:
            return True  # headline "Ukraine, Russia to meet in Istanbul": the sides are what the verb hangs on
    for c in v.children:
        if c.dep_ == "prep" and c.lower_ in ("with", "to", "between", "for"):
            sub = list(c.subtree)
            if _has_actor(sub, lex) or any(t.lower_ in lex.side_words or lem(t) in lex.gaz.generic_nonstate
                                           or lem(t) in lex.gaz.generic_state for t in sub):
                return True
            if c.lower_ in ("for", "on", "about", "over") and any(
                    lem(t) in ("release", "ceasefire", "truce", "peace", "exchange", "swap", "deal") for t in sub):
                return True
        if c.dep_ in ("dobj",) and (lem(c) in lex.deal_nouns or lem(c) in ("release", "peace", "ceasefire", "truce", "deal")):
            return True
        if c.dep_ in ("nsubj", "nsubjpass"):
            sub = list(c.subtree)
            if any(t.lower_ in ("sides", "delegations", "parties", "both", "we", "two") for t in sub):
                return True  # ("the two presidents meet")
            if lem(v) == "negotiate" and (_has_actor(sub, lex) or lem(c) in lex.gaz.generic_state
                                          or lem(c) in lex.gaz.generic_nonstate):
                return True
            if len(_actor_codes(sub)) >= 2:
                return True  # "Thai and Cambodian officials met": both sides in the subject
    return False


def _core_has_sides(v: Token, lex: Lexicon) -> bool:
    """Do the verb's own arguments (not the clauses that describe them) name a side of a conflict?"""
    core: list[Token] = []
    stack = [v]
    while stack:
        t = stack.pop()
        core.append(t)
        stack.extend(c for c in t.children if c.dep_ not in ("relcl", "acl", "appos", "advcl")
                     and not (c.dep_ == "prep" and c.lower_ in ("after", "before", "following", "since")))
    return _has_actor(core, lex) or any(t.lower_ in lex.side_words or lem(t) in lex.gaz.generic_nonstate
                                        or lem(t) in lex.gaz.generic_state for t in core)


def _strong_cue_in(sent: Span, lex: Lexicon) -> bool:
    """A sentence that already speaks of negotiations or a truce: its "deal" is that deal."""
    strong = (lex.talk_nouns | lex.deal_nouns) - lex.weak - {"talk"}
    return any(lem(t) in strong or t.lower_ in strong for t in sent if t.pos_ in ("NOUN", "PROPN"))


def _sentence_has_sides(sent: Span, lex: Lexicon) -> bool:
    if _has_actor(list(sent), lex):
        return True
    return any(t.lower_ in ("between", "sides") or lem(t) in lex.gaz.generic_nonstate for t in sent)


# --------------------------------------------------------------------------------------------
# Family: predicate analysis (status)
# --------------------------------------------------------------------------------------------

@dataclass
class Predicate:
    trigger: Token
    cls: str
    verb: Token | None
    path: list[Token]  # tokens from trigger (exclusive) to verb (inclusive)
    lemmas: set[str]
    negated: bool
    future: bool
    past: bool
    report_noun: Token | None = None
    denial_pred: bool = False  # "reports of a ceasefire are false"
    conditional: bool = False  # "if Boko Haram wanted to declare a ceasefire"
    neg_noun: Token | None = None  # "no intention of negotiating": the negated noun the verb hangs on


def analyse(trigger: Token, cls: str, lex: Lexicon) -> Predicate:
    path: list[Token] = []
    x = trigger
    # a plural noun the tagger took for a verb ("that talks with the TTP are expected to resume") is a noun
    verb = trigger if trigger.pos_ in VERBAL and trigger.dep_ not in ("nsubj", "nsubjpass", "dobj", "pobj", "attr") else None
    report_noun = None
    steps = 0
    while verb is None and x.head.i != x.i and steps < 8:
        x = x.head
        steps += 1
        path.append(x)
        if x.pos_ == "VERB" and x.dep_ == "prep":
            continue  # "reached following talks": a preposition tagged as a verb
        if x.pos_ in VERBAL or (x.pos_ == "ADJ" and x.dep_ in ("ROOT", "acomp", "ccomp", "conj")):
            verb = x
            break
        if lem(x) in lex.report_nouns:
            report_noun = x
    lemmas: set[str] = set()
    for t in path:
        if t.pos_ != "ADP" or t.lower_ in ("out", "down", "off"):
            lemmas.add(lem(t))
    for c in trigger.children:
        if c.dep_ in ("amod", "det", "compound", "advmod", "neg", "acl", "relcl", "nummod"):
            lemmas.add(lem(c))
            if c.dep_ in ("acl", "relcl"):
                lemmas.update(lem(g) for g in c.children if g.dep_ in ("prt", "neg"))
    neg_noun = None
    negated = any(c.dep_ == "det" and c.lower_ == "no" for c in trigger.children) or any(
        t.pos_ == "NOUN" and lem(t) in ("round", "session", "meeting") and any(c.dep_ == "det" and c.lower_ == "no" for c in t.children)
        for t in path)  # "no new round of talks is being prepared"
    future = past = False
    if verb is not None:
        for c in verb.children:
            if c.dep_ in _CLAUSE_DEPS:
                lemmas.add(lem(c))
                if c.dep_ in ("xcomp", "acomp"):
                    lemmas.update(lem(g) for g in c.children if g.dep_ in ("xcomp", "prt", "acomp"))
        y = verb
        for _ in range(3):  # "has no plans to resume negotiations", "no intention of negotiating"
            if y.dep_ not in ("acl", "pcomp", "prep") or y.head.i == y.i:
                break
            y = y.head
            if y.pos_ == "NOUN" and any(c.dep_ == "det" and c.lower_ == "no" for c in y.children):
                negated, neg_noun = True, y
                break
        if verb.dep_ in ("xcomp", "advcl", "acl") and verb.head.i != verb.i:
            lemmas.add(lem(verb.head))
            lemmas.update(lem(g) for g in verb.head.children if g.dep_ in ("prt", "neg"))
            if verb.dep_ == "xcomp" and has_neg(verb.head, lex):
                negated = True
        negated = negated or has_neg(verb, lex)
        future = future_of(verb) or (verb.dep_ not in ("xcomp",) and verb.tag_ == "VB" and any(
            c.dep_ == "aux" and c.lower_ == "to" for c in verb.children))
        past = past_of(verb)
        if verb.dep_ == "xcomp" and future_of(verb.head):
            future = True
        for c in verb.children:
            if c.dep_ == "xcomp" and lem(c) in ("continue", "begin", "take", "resume", "hold", "meet", "start"):
                lemmas.add(lem(c))
    denial_pred = False
    conditional = False
    if verb is not None:
        denial_pred = any(c.dep_ in ("attr", "acomp", "oprd") and (lem(c) in lex.denial_words or c.lower_ in lex.denial_words)
                          for c in verb.children) or (
            lem(verb) in _CALLING_VERBS and any(
                t.i > trigger.i and (t.lower_ in lex.denial_words or lem(t) in lex.denial_words) for t in verb.subtree))
        # "calling reports of an imminent deal baseless"
        if any(c.dep_ == "advmod" and c.lower_ in ("just", "only", "merely", "simply") for c in verb.children):
            negated = False
        x = verb
        for _ in range(4):
            if any(c.dep_ == "mark" and c.lower_ in ("if", "whether", "unless") for c in x.children):
                conditional = True
                break
            if x.dep_ in ("ROOT",) or x.head.i == x.i:
                break
            if x.dep_ in ("ccomp", "xcomp", "conj") and lem(x.head) in lex.reporting:
                break
            x = x.head
    return Predicate(trigger, cls, verb, path, lemmas, negated, future, past, report_noun, denial_pred, conditional,
                     neg_noun)



def _no_claim_noun_over(v: Token, lex: Lexicon) -> Token | None:
    """The attempt, chance or hope that a verb only fills out ("attempts at reaching a cease-fire",
    "efforts in recent years to negotiate peace", "hope that a deal might be reached")."""
    if v.dep_ in ("acl", "ccomp") and v.head.pos_ == "NOUN" and lem(v.head) in lex.no_claim_nouns:
        return v.head
    if v.tag_ not in ("VBG", "VB"):
        return None
    x = v
    for _ in range(3):
        if x.dep_ not in ("pcomp", "acl", "xcomp", "prep", "advcl") or x.head.i == x.i:
            return None
        x = x.head
        if x.pos_ == "NOUN" and lem(x) in lex.no_claim_nouns:
            return x
        if x.pos_ == "VERB" and lem(x) in lex.purpose_verbs:
            return x  # "talks aimed at forging a cease-fire", "trying to reach a deal"
    return None



def is_background(p: Predicate, scope: str, lex: Lexicon) -> bool:
    """A state told as history without a date ("rounds of negotiations have been attempted in
    recent years", "who has negotiated with the group before"): not a claim about any period."""
    text = f" {scope.lower()} "
    if any(f" {m} " in text for m in lex.background_markers):
        return True
    anchor = p.verb if p.verb is not None else p.trigger
    return any(c.lower_ == "before" and c.dep_ in ("advmod", "prep") and not any(g.dep_ == "pobj" for g in c.children)
               for c in anchor.children)


def _nonstate_phrase(t: Token, lex: Lexicon) -> bool:
    """Does the noun phrase headed by `t` name a non-state armed group (by alias or generically)?"""
    first = t.left_edge.i
    spans = [sp for sp in t.doc.spans.get("tw_actors", []) if first <= sp.start <= t.i]
    if spans:  # the actor nearest the head: "Colombia's ELN rebels" -> ELN
        sp = max(spans, key=lambda x: x.start)
        return lex.gaz.actors[sp.label_].kind == "nonstate" and not sp.kb_id_
    return lem(t) in lex.gaz.generic_nonstate or t.lower_ in lex.gaz.generic_nonstate


def _negated_noun_status(noun: Token, dealish: bool, lex: Lexicon) -> str | None:
    """The status a noun under "no" gives: "there are no plans for talks" is a denial (of a deal: no deal),
    but a party that "has no plans to resume talks" states its position, a rejection."""
    s = lex.negated_path_noun_status.get(lem(noun))
    if s == "denied" and lem(noun) == "plan" and noun.dep_ == "dobj" and lem(noun.head) == "have" \
            and not any(c.dep_ == "expl" for c in noun.head.children):
        return "rejected"
    return "no_deal" if (s == "denied" and dealish) else s


def decide_status(p: Predicate, sent: Span, lex: Lexicon) -> str | None:
    """Status of the talks/deal named by the trigger, or None when the sentence states none."""
    L = p.lemmas
    v = p.verb
    vl = lem(v) if v is not None else ""
    talkish = p.cls in ("talk",)
    dealish = p.cls in ("deal", "agree")
    trig = lem(p.trigger)
    if p.conditional:
        if talkish and p.trigger.dep_ == "nsubj" and v is not None and p.trigger.head.i == v.i and not (
                {lem(v)} & (lex.planned_verbs | lex.ongoing_verbs | lex.held_verbs | lex.stalled_verbs
                            | lex.collapsed_verbs | lex.agreed_verbs)):
            return "ongoing"  # "doubts whether talks between X and Y will secure the release": talks exist
        return None
    if v is not None and v.dep_ == "ccomp" and lem(v.head) in ("know", "see", "learn", "find", "judge", "determine") \
            and future_of(v.head):
        return None  # "we will know the negotiations were successful when ...": not said to be so
    if p.denial_pred:
        return "denied" if talkish else "no_deal"
    t0 = p.trigger
    if talkish and p.future and any(c.dep_ == "det" and c.lower_ == "any" for c in t0.children):
        return None  # "any contacts would go through the committee": no talks said to be planned
    if t0.pos_ == "VERB" and t0.dep_ in ("advcl", "xcomp") and any(c.dep_ == "aux" and c.lower_ == "to" for c in t0.children) \
            and lem(t0.head) in lex.talk_verbs:
        return None  # "met in Kuala Lumpur to discuss a ceasefire": the purpose of the meeting, its own claim
    governing = _no_claim_noun_over(v, lex) if v is not None else None
    if governing is not None:
        if lem(governing) == "hope" and lem(governing.head) == "dash":
            return "rejected"  # "he dashed hope that a deal might be reached"
        return None  # "attempts at reaching a cease-fire", "efforts to negotiate peace", "hope that ..."
    if any(lem(t) in lex.no_claim_nouns and t.pos_ == "NOUN" for t in p.path):
        if not (v is not None and (lem(v) in lex.proposed_verbs or lem(v) in lex.rejected_verbs or lem(v) in lex.accepted_verbs)):
            return None
    # not-yet-confirmed / no comment is no claim
    if p.negated and vl in ("confirm", "comment", "make", "mention", "issue", "receive", "hear"):
        if not (vl == "make" and dealish):
            return None
    # path nouns ("questioned the feasibility of negotiations", "readiness for talks")
    speech = any(t.pos_ == "VERB" and lem(t) in ("say", "tell", "claim", "add", "report", "insist", "state", "quote")
                 for t in sent)
    if not speech and v is not None and v.pos_ == "VERB" and lem(v) in ("announce", "declare") and any(
            c.dep_ == "auxpass" for c in v.children) and not any(c.dep_ == "agent" for c in v.children):
        return None  # "after the ceasefire was announced": a reference, nobody's claim
    if not speech and any(c.dep_ == "acl" and lem(c) in ("announce", "declare") and not any(
            g.dep_ == "agent" for g in c.children) for c in p.trigger.children) and (v is None or lem(v) not in lex.reporting):
        return None
    if p.neg_noun is not None and lem(p.neg_noun) in lex.negated_path_noun_status:
        return _negated_noun_status(p.neg_noun, dealish, lex)  # "no intention of negotiating", "no plans to resume talks"
    if v is not None and vl in ("deny", "refute") and any(t.dep_ == "dobj" and t.head.i == v.i for t in [p.trigger, *p.path]):
        return "denied" if talkish else "no_deal"  # headline "India denies plans for talks with Pakistan"
    for t in p.path:
        s = lex.path_noun_status.get(lem(t))
        if t.lower_ == "plans" and t.pos_ == "NOUN":
            s = "planned"  # "plans for talks in Istanbul" (a singular "plan for a ceasefire" is a proposal)
        if t.pos_ == "NOUN" and lem(t) in lex.negated_path_noun_status and any(
                c.dep_ == "det" and c.lower_ == "no" for c in t.children):
            return _negated_noun_status(t, dealish, lex)  # "there are no plans for talks", "no progress in the talks"
        if s and t.pos_ == "NOUN":
            if s == "rejected" and lem(t) == "hope" and (v is None or lem(v) != "dash"):
                continue
            if s == "proposed" and lem(t) == "call" and any(c.lower_ == "that" for c in t.children):
                continue
            if s == "proposed" and v is not None and t.dep_ in ("dobj", "nsubjpass") and t.head.i == v.i:
                if lem(v) in lex.rejected_verbs or lem(v) in ("dismiss", "spurn", "snub"):
                    return "rejected"  # "rejected an offer of talks": the position on the offer
                if lem(v) in lex.accepted_verbs:
                    return "accepted"
            if s == "collapsed" and not (v is not None and lem(v) in ("announce", "declare", "call", "bring", "put")):
                continue
            if s == "ongoing" and v is not None and lem(v) in ("retract", "withdraw"):
                return None
            if s == "agreed" and t.head.dep_ == "prep" and t.head.lower_ in ("since", "after", "before", "until"):
                return None  # "attacks since the announcement of the ceasefire": a reference, no claim
            if s == "agreed":
                if not dealish:
                    s = "ongoing" if lem(t) in ("claim", "report") and talkish else None
                if s is None:
                    continue
            if s == "no_deal" and talkish:
                s = "denied"
            return s
    if talkish and v is not None and v.dep_ == "acl" and v.head.pos_ == "NOUN" and (
            lem(v.head) in lex.proposal_nouns or v.head.lower_ in lex.proposal_nouns):
        return None  # "Malaysia's offer to mediate talks": the offer is the claim (accepted, rejected, …)
    if talkish and v is not None and lem(v) in _ENDING_VERBS and any(
            c.dep_ == "prep" and c.lower_ == "without" and any(lem(g) in lex.deal_nouns for g in c.subtree) for c in v.children):
        return None  # "the talks ended without an agreement": read as no_deal from the agreement
    if dealish and v is not None and any(c.dep_ == "mark" and c.lower_ in ("before", "until", "unless") for c in v.children):
        # "Baku expects Yerevan to change its constitution before a peace treaty can be signed": a condition
        return "rejected" if any(c.dep_ == "aux" and c.lower_ in ("can", "could") for c in v.children) else None
    if dealish and p.trigger.dep_ == "pobj" and p.trigger.head.lower_ in ("during", "throughout", "before", "after", "since",
                                                                          "until", "till"):
        return None  # "a troop withdrawal during the truce": a time reference, no claim about the truce
    if dealish and p.trigger.dep_ == "pobj" and p.trigger.head.lower_ == "without" and v is not None \
            and lem(v) in (*_ENDING_VERBS, "break"):
        return "no_deal"  # "the talks ended without an agreement"
    if dealish and v is not None and lem(v) in ("abide", "respect", "observe", "honour", "honor", "adhere", "commit"):
        if any(c.lower_ in ("ready", "willing", "prepared") for c in [v.head, *v.head.children]):
            return "rejected" if p.negated else "proposed"  # "Moscow is ready to observe such a halt": ready for a truce
        if v.dep_ == "xcomp" and lem(v.head) == "agree" and not p.negated:
            return "agreed"  # "the two armies agreed to strictly observe the ceasefire"
        if p.future:
            return "rejected" if p.negated else "accepted"  # "the group would abide by the truce"
    if v is not None and vl in ("describe", "call", "term", "consider", "deem", "see", "dismiss", "brand", "label") and any(
            lem(t) in lex.rejection_adjectives for t in v.subtree if t.i > p.trigger.i):
        return "rejected"  # "Lukin described a full ceasefire as premature"
    # "the two sides are close to a deal", "nearing a ceasefire": talks under way, nothing agreed yet
    near = p.trigger.head
    if near.tag_ == "VBG" and p.trigger.dep_ == "dobj" and near.dep_ == "pcomp" and lem(near) in (
            "finalize", "finalise", "reach", "seal", "sign", "conclude", "agree", "strike", "clinch"):
        near = near.head  # "close to finalizing a roadmap"
    if (near.lower_ == "to" and near.head.lower_ in ("close", "closer", "near", "nearer")) or (
            near.lower_ in ("near", "nearer") and near.pos_ == "ADP" and p.trigger.dep_ == "pobj") or (
            v is not None and lem(v) == "near" and p.trigger.dep_ == "dobj"):
        return None if p.negated or has_neg(near.head, lex) else "ongoing"
    if talkish and v is not None and v.i == p.trigger.i and v.dep_ == "ccomp" and lem(v.head) in ("propose", "suggest", "offer", "urge"):
        return "rejected" if has_neg(v.head, lex) else "proposed"  # "Kyiv proposed that the two presidents meet"
    # "the government wants to negotiate", "Kyiv refused to talk": a position on the talks
    if v is not None and v.dep_ == "xcomp" and v.head.i != v.i and (
            v.i == p.trigger.i or p.cls == "deal" or p.trigger.head.i == v.i
            or (p.trigger.dep_ == "pobj" and p.trigger.head.head.i == v.i)):  # "willing to return to the table"
        hv = lem(v.head)
        if hv in lex.rejected_verbs and not has_neg(v.head, lex):
            return "rejected"
        if hv in {"ready", "willing", "prepared", "want"} and lem(v) in lex.accepted_verbs:
            return "rejected" if has_neg(v.head, lex) else "accepted"  # "ready to accept the proposal"
        if hv in lex.proposed_verbs | {"ready", "willing"}:
            return "rejected" if has_neg(v.head, lex) else "proposed"
    # "nothing materialised from the negotiations": no deal came of them
    if v is not None and lem(v) in ("materialise", "materialize", "emerge", "come", "result") and any(
            c.dep_ == "nsubj" and c.lower_ == "nothing" for c in v.children):
        return "no_deal"
    # "the release was still under negotiation": talks going on, nothing agreed yet
    if p.trigger.head.lower_ == "under" and talkish and not p.negated:
        return "ongoing"
    # conditions: "must recognize ... before any peace talks", "no talks until ..."
    h = p.trigger.head
    if h.lower_ in ("before", "until") and any(c.lower_ == "any" for c in p.trigger.children):
        return "rejected"
    # "no ceasefire without a withdrawal", "there can be no talks until ...": a condition, a refusal
    if p.negated and any(t.lower_ in ("without", "until", "unless") for t in
                         [*p.trigger.subtree, *(v.children if v is not None else [])] if t.i > p.trigger.i):
        return "rejected"
    # "Moscow is open to talks", "ready for negotiations": a position
    if v is not None and v.pos_ == "ADJ" and lem(v) in ("open", "ready", "willing", "prepared") and any(
            c.dep_ == "prep" and c.lower_ in ("to", "for") for c in v.children):
        return "rejected" if p.negated else "proposed"
    on_what = {lem(g) for c in (v.children if v is not None else []) if c.dep_ == "prep" for g in c.children}
    on_path = {lem(t) for t in p.path if t.dep_ == "pobj" and t.head.lower_ in ("on", "off")}
    if p.negated and (on_what | on_path) & {"card", "cards", "table", "agenda"}:
        return "rejected"  # "talks are not on the table" (but "the dialogue table has not been broken")
    # negation
    if p.negated:
        if vl in lex.rejected_verbs or vl in ("question",):
            return None
        if p.future or (v is not None and any(c.lower_ in ("should", "must", "can", "could") for c in v.children)):
            return "rejected"
        if p.cls == "proposal" and vl in ("be", "exist", "have") and any(
                c.dep_ == "prep" and c.lower_ in ("for", "of") for c in p.trigger.children):
            return None  # "there is no proposal for talks": the talks' denial says it
        if dealish or p.cls == "proposal":
            if vl in lex.agreed_verbs or vl in ("be", "have", "exist", "agree", "reach", "expect") or v is None \
                    or p.cls == "agree":
                return "no_deal"  # "no agreement has been reached", "no deal is expected this week"
            return None
        if talkish and (vl in lex.stalled_verbs or vl in ("collapse", "break", "end", "fail", "terminate", "abandon")):
            return "ongoing"  # "the talks have not been suspended", "the dialogue has not broken down"
        if talkish and vl in ("resume", "restart", "reconvene") and p.past:
            return "stalled"  # "formal talks never resumed"
        if vl in ("happen", "take", "be", "have", "exist", "negotiate", "talk", "meet", "discuss", "hold", "engage",
                  "dialogue", "send", "occur", "conduct", "begin", "start", "plan", "schedule", "expect", "agree",
                  "prepare", "arrange") or v is None:
            return "denied"  # "there are no talks", "negotiations have not begun"
        return None
    # adjectives on the trigger
    if L & lex.collapsed_adj:
        return "collapsed"
    if L & lex.stalled_adj or vl in lex.stalled_verbs:
        return "stalled"
    # collapsed verbs
    if vl in ("fail", "collapse", "abandon", "quit", "terminate", "scrap", "exit", "expire", "overturn", "lapse") or "fail" in L:
        return "collapsed"
    if vl in ("break", "walk", "back", "pull", "call", "withdraw") and (L & {"down", "out", "off"}):
        return "collapsed"
    if vl in ("withdraw",) and talkish:
        return "collapsed"
    if vl == "end" and dealish and p.trigger.dep_ in ("nsubj", "nsubjpass") and any(
            c.dep_ == "dobj" and any(lem(g) in ("war", "conflict", "fighting", "hostility", "insurgency", "violence", "crisis")
                                     for g in c.subtree)
            for c in v.children):
        return "agreed"  # "the agreement, signed in Pretoria in 2022, ended a two-year war"
    if vl == "end" and (talkish or dealish) and any(t.dep_ == "prep" for t in p.path):
        return None  # "most wars end at a negotiating table", "a conference ends with a communique"
    if vl == "end" and (talkish or (dealish and not p.future and trig not in ("war", "hostility", "conflict")
                                    and not any(c.dep_ == "prep" and c.lower_ in ("to", "of") for c in v.children))):
        return "collapsed"  # "the rebels ended the ceasefire" (but "deal to end hostilities" names a deal)
    # positions
    if vl in ("rule",) and "out" in L:
        return "rejected"
    if vl in lex.rejected_verbs and vl not in ("rule",):
        return "rejected"
    if vl in lex.accepted_verbs:
        return "accepted"
    if vl in lex.proposed_verbs and vl not in ("put", "express", "prepare"):
        if vl == "call" and dealish and not (L & {"for", "on"}) and not any(
                c.dep_ == "prep" and c.lower_ in ("for", "on") for c in v.children):
            return "agreed"
        return "proposed"
    if vl in ("put", "express", "present", "submit", "table") and p.cls == "proposal":
        return "proposed"
    if p.cls == "proposal":
        return None
    # agreements
    if dealish:
        if p.future:
            return "planned" if vl in lex.agreed_verbs and vl not in ("announce", "call") else None
        if vl in ("announce", "declare", "call") and p.cls == "deal" and trig in ("ceasefire", "truce", "fire") and (
                p.trigger.dep_ == "dobj" and not any(c.dep_ == "prep" and c.lower_ in ("with", "between")
                                                     for c in [*p.trigger.children, *v.children])):
            subj = subject_of(v)
            if subj is not None and subj.pos_ in ("PROPN", "NOUN") and any(
                    "unilateral" == t.lower_ or t.lower_.startswith("end-of") or t.lower_ in ("christmas", "holiday", "temporary")
                    for t in p.trigger.subtree) or "end-of-year" in "".join(t.lower_ for t in p.trigger.subtree):
                return "proposed"
            if subj is not None and subj.dep_ == "nsubj" and _nonstate_phrase(subj, lex):
                # a ceasefire one armed group declares on its own, with nobody named on the other side:
                # an offer, not an agreement ("the rebels announced a ceasefire")
                return "proposed"
        if p.cls == "agree" or vl in lex.agreed_verbs or L & lex.agreed_adj:
            return "agreed"
        if vl == "take" and "effect" in L:
            return "agreed"  # "the truce took effect in April"
        if vl in ("exchange", "swap", "trade") and p.trigger.i == v.i:
            return "planned" if p.future else "agreed"  # "the two sides swapped 150 prisoners each"
        if vl == "be" and any(c.dep_ == "expl" for c in v.children):
            return "agreed"
        if vl in ("follow", "include", "cover", "lead", "expect", "hold", "survive", "remain", "appear",
                  "mark", "require", "enable", "allow", "take"):
            return "agreed" if trig in ("ceasefire", "truce", "agreement", "deal", "accord", "fire") and (
                not any(c.lower_ in ("any", "possible", "potential", "future") for c in p.trigger.children)) else None
        return None
    # talks
    if talkish:
        future_time = bool(re.search(r"\b(next|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|coming)\b",
                                     sent.text, re.I))
        if L & {"set", "due", "expect", "schedule", "suppose", "slate", "plan", "gear", "prepare", "arrange"}:
            return "planned"
        if vl in ("discuss",) and any(c.dep_ == "auxpass" for c in v.children) and v.tag_ in ("VBN",) and any(
                c.lower_ == "being" for c in v.children):
            return "planned"
        if "continue" in L or vl == "continue":
            return "planned" if (p.future and future_time) else "ongoing"
        if vl in ("resume", "restart") and v.dep_ == "advcl" and lem(v.head) in (
                "arrive", "travel", "fly", "head", "go", "come", "return", "land", "gather", "convene") and not future_of(v.head):
            return "ongoing"  # "negotiators arrived in Doha to resume talks"
        if vl in ("resume", "restart"):
            return "planned" if p.future else "ongoing"  # "talks resumed in Cairo"
        if p.future:
            return "planned"
        if v is not None and any(c.lower_ == "under" and any(g.lower_ == "way" for g in c.children) for c in v.children):
            return "ongoing"  # "negotiations have been under way in Doha since July 6"
        if L & lex.ongoing_adj or vl in ("begin", "start", "launch", "open") or L & {"progress", "advance"}:
            return "ongoing"
        if vl == "come" and p.trigger.dep_ == "nsubj" and any(c.lower_ in ("amid", "as", "after", "days", "weeks")
                                                              for c in v.children):
            return None  # "the meeting comes amid a power struggle": background to a meeting already told
        if v is not None and any(c.dep_ == "prep" and c.lower_ == "on" and any(g.lower_ in ("hold", "ice") for g in c.children)
                                 for c in v.children):
            return "stalled"  # "put peace talks on hold"
        if vl in ("conclude", "wrap", "complete", "finish") and p.past:
            return "held"  # "wrapped up a round of talks"
        if vl in ("conclude",) or (trig == "round" and p.past):
            return "held"
        if vl == "follow" and v.tag_ == "VBG" and v.dep_ in ("acl", "advcl", "prep") and p.trigger.dep_ in ("dobj", "pobj"):
            anc = next((a for a in v.ancestors if a.pos_ in VERBAL), None)
            return "held" if anc is not None and past_of(anc) else None  # "agreed to a truce following talks in Kunming"
        if p.trigger.dep_ == "pobj" and p.trigger.head.lower_ in ("in", "during", "at", "following", "after") and p.past:
            if vl in lex.agreed_verbs or vl in ("meet", "reach", "represent", "serve", "say", "tell", "agree"):
                return "held"
        if v is not None and v.tag_ == "VBG" and any(c.dep_ == "aux" and c.tag_ in ("VBZ", "VBP") for c in v.children):
            return "ongoing"
        if vl in ("exist", "engage", "proceed", "mediate", "progress", "underway", "represent", "act",
                  "recognize", "conduct", "confirm", "negotiate", "hold", "take", "happen", "talk", "discuss",
                  "be", "have", "meet", "speak", "spoke", "follow", "come", "host", "offer", "roadmap",
                  "decipher", "remain", "back", "struggle"):
            if p.past:
                if vl in ("struggle", "decipher", "offer", "remain", "back"):
                    return None
                return "held"
            if vl == "be" and p.trigger.dep_ == "pobj" and p.trigger.head.lower_ == "in" and p.trigger.head.head.i == v.i:
                return "ongoing"  # "Russia and Ukraine are in secret talks"
            if vl in ("be", "have") and not any(c.dep_ == "expl" for c in v.children) and trig not in (
                    "communication", "contact", "contacts"):
                return None
            return "ongoing"
        if v is None or p.trigger.dep_ == "ROOT":
            return "ongoing"
    return None


# --------------------------------------------------------------------------------------------
# Family: time scope (which words may say when the claim is about)
# --------------------------------------------------------------------------------------------

def time_scope(p: Predicate) -> str:
    """The words a claim's period may come from: the predicate's clause without the relative
    clauses and participles that describe other things ("girls kidnapped in April"), plus the time
    modifiers of the clauses above it ("In July 2013, when a minister announced an agreement, ...")."""
    anchor = p.verb if p.verb is not None else p.trigger
    trig = p.trigger.i
    keep: set[int] = set()
    stack = [anchor]
    while stack:
        tok = stack.pop()
        keep.add(tok.i)
        for c in tok.children:
            if c.dep_ in ("relcl", "acl", "appos") and not (c.left_edge.i <= trig <= c.right_edge.i) and (
                    tok.i != trig or anchor.i != trig):
                continue
            stack.append(c)
    x = anchor
    for _ in range(8):
        if x.head.i == x.i:
            break
        x = x.head
        for c in x.children:
            if c.i not in keep and c.dep_ in ("prep", "npadvmod", "advmod") and any(
                    t.ent_type_ in ("DATE", "TIME") for t in c.subtree):
                keep.update(t.i for t in c.subtree)
    doc = anchor.doc
    return " ".join(doc[i].text for i in sorted(keep))


# --------------------------------------------------------------------------------------------
# Family: parties (sides, mediators, venues)
# --------------------------------------------------------------------------------------------

def mediator_or_venue(tok: Token, lex: Lexicon) -> str | None:
    """'mediator' / 'venue' when the actor at `tok` plays that role in its sentence."""
    h = tok
    for _ in range(3):
        if h.dep_ == "pobj" and h.head.lower_ in ("in", "at") and h.ent_type_ in ("GPE", "LOC", "FAC", ""):
            return "venue"
        if h.dep_ == "pobj" and h.head.lower_ in ("via", "through") or lem(h.head) in lex.mediator_markers:
            return "mediator"
        if h.dep_ == "pobj" and h.head.lower_ == "by" and lem(h.head.head) in lex.mediator_markers:
            return "mediator"
        if h.dep_ not in ("compound", "poss", "amod", "appos", "conj", "nmod"):
            break
        h = h.head
    sent = tok.sent
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    if nxt is not None and nxt.text == "-" and tok.i + 2 < sent.end and lem(tok.doc[tok.i + 2]) in ("led", "brokered", "mediated", "hosted", "sponsored", "backed"):
        return "mediator"
    if nxt is not None and lem(nxt) in ("'s", "’s") and any(lem(tok.doc[j]) in ("mediate", "mediating") for j in range(tok.i, min(sent.end, tok.i + 6))):
        return "mediator"
    return None


def venue_of(p: Predicate, parties: list[str], ctx: ArticleContext) -> str | None:
    """A place the talks are held in that the gazetteer does not know ("held talks in Istanbul"): a
    place name after "in"/"at" on the predicate or the cue, that is no party."""
    for anchor in (p.trigger, p.verb):
        if anchor is None:
            continue
        for c in anchor.children:
            if c.dep_ == "prep" and c.lower_ in ("in", "at"):
                obj = next((g for g in c.children if g.dep_ == "pobj"), None)
                if obj is not None and obj.ent_type_ in ("GPE", "LOC", "FAC"):
                    a = ctx.actor_at.get(obj.i)
                    if a is None or a[0] not in parties:
                        ent = next((e for e in obj.doc.ents if e.start <= obj.i < e.end), None)
                        return ent.text if ent is not None else obj.text
    return None


def sentence_actors(sent: Span, ctx: ArticleContext, lex: Lexicon) -> tuple[list[str], str | None, str | None]:
    """(party candidates in order, mediator code, venue text) for one sentence."""
    parties: list[str] = []
    mediator = venue = None
    seen_spans: set[int] = set()
    for i in range(sent.start, sent.end):
        a = ctx.actor_at.get(i)
        if not a:
            continue
        code, _person, span = a
        if span.start in seen_spans:
            continue
        seen_spans.add(span.start)
        role = mediator_or_venue(span.root, lex)
        if role == "mediator":
            mediator = mediator or code
            continue
        if role == "venue":
            venue = venue or span.text
            if lex.gaz.actors[code].kind == "state" and span.text.lower() not in ("russian", "ukrainian"):
                continue
        if code not in parties:
            parties.append(code)
    return parties, mediator, venue


def _with_conjuncts(t: Token) -> list[Token]:
    """A token and the tokens coordinated with it ("Russia and China")."""
    out = [t]
    for c in t.children:
        if c.dep_ == "conj":
            out.extend(_with_conjuncts(c))
    return out


_OUTSIDE = "__outside__"


def _participant_codes(n: Token, ctx: ArticleContext, lex: Lexicon) -> list[str]:
    """Who a participant phrase names: its head's actor, else the actors (or unknown countries and
    organisations) among the words that qualify the head ("Ukrainian and Polish ministers")."""
    def classify(t: Token) -> str | None:
        a = ctx.actor_at.get(t.i)
        if a is not None:
            return a[0]
        if t.pos_ in ("PROPN", "ADJ") and t.ent_type_ in ("GPE", "NORP", "ORG"):
            ent = next((e for e in t.doc.ents if e.start <= t.i < e.end), None)
            words = {lem(x) for x in ent} if ent is not None else {lem(t)}
            if ent is not None and any(ctx.actor_at.get(x.i) for x in ent):
                return None
            if words & (lex.gaz.generic_state | lex.gaz.generic_nonstate | lex.side_words
                        | {"ministry", "army", "force", "forces", "military", "front", "movement"}):
                return None  # "the Federal Government of Nigeria": a side, whatever NER calls it
            return _OUTSIDE  # a country or a body the gazetteer does not know
        return None

    head = classify(n)
    if head is not None:
        return [head]
    out = []
    for m in n.children:
        if m.dep_ in ("amod", "compound", "poss", "nmod"):
            out.extend(c for t in _with_conjuncts(m) if (c := classify(t)) is not None)
    return out


def talks_with_outsider(p: Predicate, parties: list[str], mediator: str | None, ctx: ArticleContext,
                        lex: Lexicon) -> bool:
    """Are the talks or the deal explicitly between one side and somebody else ("Russia's Gazprom and
    China's CNPC signed a gas deal", "Nigeria signed a loan agreement with the World Bank")? The
    participants are the predicate's subject and its "with"/"between" objects; a mediator is none."""
    nodes: list[Token] = []
    if p.verb is not None:
        subj = subject_of(p.verb)
        if subj is not None and not (subj.left_edge.i <= p.trigger.i <= subj.right_edge.i):
            nodes.extend(_with_conjuncts(subj))
    for tok in {p.trigger, p.verb} - {None}:
        for c in tok.children:
            if c.dep_ == "prep" and c.lower_ in ("with", "between"):
                for g in c.children:
                    if g.dep_ == "pobj":
                        nodes.extend(_with_conjuncts(g))
    codes = [c for n in nodes for c in _participant_codes(n, ctx, lex)]
    named = {c for c in codes if c in parties}
    outsider = any(c == _OUTSIDE or (c not in parties and c != mediator
                                     and lex.gaz.actors[c].kind in ("state", "nonstate")) for c in codes)
    return outsider and len(named) < 2


def choose_parties(found: list[str], ctx: ArticleContext, sent: Span, lex: Lexicon) -> list[str] | None:
    gaz = lex.gaz
    fs = set(found)
    both = [d for d in gaz.dyads if d[0] in fs and d[1] in fs]
    if ctx.dyad and ctx.dyad in both:
        return list(ctx.dyad)
    if both:
        return list(both[0])  # "Congo and Rwanda signed a separate agreement" in an M23 story
    if ctx.dyad and (fs & set(ctx.dyad)):
        return list(ctx.dyad)
    conflict_side = [c for c in found if gaz.dyads_of(c)]
    if ctx.dyad and not conflict_side:
        return list(ctx.dyad)
    for c in conflict_side:
        for d in gaz.dyads_of(c):
            other = d[1] if d[0] == c else d[0]
            if ctx.counts.get(other):
                return list(d)
    if ctx.dyad:
        return list(ctx.dyad)
    words = {t.lower_ for t in sent}
    armed = [c for c in found if gaz.actors[c].kind in ("state", "nonstate")]
    if len(armed) >= 2 and words & lex.conflict_words:
        return sorted(armed[:2])
    return None


# --------------------------------------------------------------------------------------------
# Family: topic and hedging
# --------------------------------------------------------------------------------------------

def decide_topic(p: Predicate, sent: Span, lex: Lexicon) -> str:
    anchor = p.verb if p.verb is not None else p.trigger
    local = " ".join(t.lower_ for t in sorted(set(anchor.subtree) | set(p.trigger.subtree), key=lambda t: t.i))
    local = local.replace(" - ", "-")
    for scope in (local,):
        for topic, rx in lex.topic_res:
            if topic == "peace_deal":
                continue
            for m in rx.finditer(scope):
                w = m.group(0)
                if topic == "hostages" and p.cls != "deal" and w in ("girls", "schoolgirls") and "release" not in scope and "free" not in scope:
                    continue
                return topic
    trig = lem(p.trigger)
    if trig in ("ceasefire", "truce", "armistice", "fire", "hostility"):
        return "ceasefire"
    return "peace_deal"


def is_hedged(sent: Span, lex: Lexicon) -> bool:
    text = sent.text.lower()
    for h in lex.hedges:
        if " " in h:
            if h in text:
                return True
    return any(t.lower_ in lex.hedges for t in sent if t.lower_ not in ("may", "might", "could", "possible", "reported"))  \
        or any(t.lower_ in ("reported", "alleged", "purported", "possible") and t.dep_ == "amod" for t in sent)


def has_negative_context(sent: Span, lex: Lexicon) -> bool:
    # names are not context: the "Union" of "African Union" is no trade union
    text = " " + " ".join("_" if (t.ent_type_ in ("ORG", "GPE", "NORP", "LOC", "FAC") or t.pos_ == "PROPN")
                          else t.lower_ for t in sent) + " "
    return any(f" {w} " in text or f" {w}s " in text for w in lex.negative_context)


# --------------------------------------------------------------------------------------------
# Family: source attribution (SPEC 5a)
# --------------------------------------------------------------------------------------------

@dataclass
class Source:
    kind: str  # person | state | nonstate | org | name | outlet
    name: str | None
    key: str | None
    org: str | None = None
    code: str | None = None


OUTLET = Source("outlet", None, None)


def np_span(head: Token) -> list[Token]:
    """The subject's noun phrase, without relative clauses and trailing modifiers."""
    keep = []
    for t in head.subtree:
        bad = False
        x = t
        while x.i != head.i:
            if x.dep_ in ("relcl", "acl", "advcl", "punct", "cc") and x.dep_ != "punct":
                bad = True
                break
            if x.dep_ == "prep" and x.lower_ not in ("of",):
                bad = True
                break
            x = x.head
        if not bad and not t.is_punct:
            keep.append(t)
    return keep


def resolve_source(head: Token, ctx: ArticleContext, state: dict, lex: Lexicon) -> Source:
    """Turn the head of an attributed noun phrase into a Source."""
    gaz = lex.gaz
    if head.lower_ in ("seems", "seem", "looks", "appears"):
        # "Seems like the Washington Post claimed ...", parsed with "Seems" as the subject
        like = next((g for c in head.children if c.lower_ == "like" for g in c.children if g.dep_ == "pobj"), None)
        if like is not None:
            head = like
    if head.lower_ in ("who", "that") and head.head.dep_ == "relcl":
        head = head.head.head
    if head.lower_ == "it" and head.dep_ == "nsubj" and any(c.dep_ == "attr" for c in head.head.children):
        attr = next(c for c in head.head.children if c.dep_ == "attr")  # "It was Badeh who announced"
        head = attr
    if head.lower_ in _PRONOUN_PERSON:
        sent = head.sent
        for t in sent:
            if t.i >= head.i:
                break
            a = ctx.actor_at.get(t.i)
            known = t.pos_ == "PROPN" and t.lower_ in ctx.people and t.dep_ in ("nsubj", "nsubjpass")
            if (a and a[1]) or (not a and t.dep_ in ("nsubj", "nsubjpass") and (t.ent_type_ == "PERSON" or known)):
                if t.dep_ in ("nsubj", "nsubjpass", "compound") or (a and a[1]):
                    return resolve_source(t if t.dep_ != "compound" else t.head, ctx, {**state, "last_person": None}, lex) \
                        if t.lower_ not in _PRONOUN_PERSON else OUTLET
        last_speaker = state.get("last_speaker")
        if head.dep_ == "nsubj" and lem(head.head) in lex.reporting and last_speaker and last_speaker.kind == "person":
            return last_speaker  # '"...," he added.': the one who was speaking
        last = state.get("last_person")
        return last if last else OUTLET
    if head.lower_ in ("it", "they", "we", "i", "them", "us", "you", "this", "that", "which", "who"):
        if head.lower_ in ("we", "i") and state.get("quote_speaker"):
            return state["quote_speaker"]
        if head.lower_ in ("it", "they"):
            before = _antecedent_actor(head, ctx, lex)
            if before is not None:
                return before
        return state.get("last_subject_actor") or OUTLET if head.lower_ in ("it", "they") else OUTLET
    toks = np_span(head)
    # a person named in the phrase (as its head or in apposition)
    def is_person_tok(t: Token) -> bool:
        a = ctx.actor_at.get(t.i)
        if a is not None:
            return bool(a[1])
        return t.ent_type_ == "PERSON"

    person_tokens = [t for t in toks if is_person_tok(t)]
    appos_nodes = [c for c in head.children if c.dep_ == "appos"]
    appos_tokens = {t.i for c in appos_nodes for t in c.subtree}
    person_tokens = [t for t in person_tokens if t.dep_ != "case"]
    # the head itself, else a name in apposition ("the head of the military, Alex Badeh"), else the first
    person_tokens.sort(key=lambda t: (t.i != head.i and not _in_name_of(t, head), t.i not in appos_tokens, t.i))
    head_is_role = head.pos_ == "NOUN" and not is_person_tok(head)
    role_modifier = False
    if person_tokens:
        pt = person_tokens[0]
        role_modifier = head_is_role and pt.dep_ in ("compound", "poss") and pt.head.i == head.i and pt.i not in appos_tokens
        if not role_modifier:
            a = ctx.actor_at.get(pt.i)
            if a and a[1]:
                name = a[1]
                org = None
                org_code = a[0]
            else:
                ent = next((e for e in head.doc.ents if e.start <= pt.i < e.end), None)
                name = clean_person(ent, lex) if ent is not None else pt.text
                if " " not in name:
                    name = ctx.people.get(name.lower(), lex.gaz.person_names.get(name.lower(), name))
                # "Turkish President Tayyip Erdogan": the state named in the phrase is theirs
                org_code = next((ctx.actor_at[t.i][0] for t in toks if t.i in ctx.actor_at
                                 and not ctx.actor_at[t.i][1] and t.i < pt.i), None)
            org = _org_of(toks, ctx, lex, org_code)
            return Source("person", name, slugify(name), org, org_code)
    hl = lem(head)
    named = next((c for c in head.children if c.dep_ == "appos" and c.pos_ == "PROPN"), None) \
        if head.pos_ == "NOUN" and (hl in lex.role_nouns or hl in _OUTLET_NOUNS) else None
    if named is not None and named.i not in ctx.actor_at:
        # "the group's negotiator, al-Wazir", "the Russian newspaper Vostok Daily": the name in apposition
        run = _phrase_text(list(named.subtree)) or named.text
        if hl in _OUTLET_NOUNS:
            return Source("name", run, slugify(run))
        code = _state_code(toks, ctx)
        if code is None and any(lem(t) in lex.gaz.generic_nonstate | lex.gaz.generic_state for t in toks):
            code = _generic_side(hl, toks, ctx, lex)
        return _described_person(run, toks, code, ctx, lex)
    if hl in lex.role_nouns and not head.ent_type_ == "PERSON":
        held = role_person(head, toks, ctx, lex)
        if held is not None:
            name, code = held
            return Source("person", name, slugify(name), _org_of(toks, ctx, lex, code), code)
        # "a spokesman for the group", "an envoy of the Ethiopian government": the side they speak for
        for c in head.children:
            if c.dep_ == "prep" and c.lower_ in ("for", "of"):
                obj = next((g for g in c.children if g.dep_ == "pobj"), None)
                if obj is None:
                    continue
                side = _side_of(obj, ctx, lex, within=True)
                if side is not None:
                    return side
    if hl in ("source", "people", "person", "insider", "resident", "witness", "analyst", "expert", "observer",
              "diplomat", "officer") or (hl in ("official", "aide") and any(t.lower_ in ("another", "one", "an", "a", "second", "senior", "anonymous") for t in toks) and not any(ctx.actor_at.get(t.i) for t in toks)):
        return OUTLET
    if hl in _OUTLET_NOUNS and len(toks) <= 2 and state.get("last_outlet") is not None and any(
            t.lower_ in ("the", "this", "that") for t in toks):
        return state["last_outlet"]  # "The Washington Post reported ... According to the newspaper, ..."
    if hl in ("agency", "newspaper", "media", "outlet", "television", "broadcaster", "radio", "channel", "paper", "ministry", "department", "office", "council", "committee", "centre", "center", "coalition", "union"):
        name = _phrase_text(toks)
        return Source("org", name, slugify(re.sub(r"^the\s+", "", name, flags=re.I)))
    actor_toks = sorted((t for t in toks if t.i in ctx.actor_at and not _owner_modifier(t)),
                        key=lambda t: (t.i != head.i, -t.i))
    actors = [ctx.actor_at[t.i] for t in actor_toks]
    if actors:
        code, person, _span = actors[0]
        if person and role_modifier:
            return actor_source(code, lex)
        if person:
            return Source("person", person, slugify(person), f"{gaz.actors[code].name} government", code)
        return actor_source(code, lex)
    if hl in gaz.generic_state or hl in gaz.generic_nonstate or hl in ("side", "group", "leader", "president", "spokesman", "spokeswoman", "spokesperson", "negotiator", "chief", "minister"):
        side = _generic_side(hl, toks, ctx, lex)
        poss = next((t for t in toks if t.dep_ == "poss" and t.lower_ in ("its", "their")), None)
        ante = _antecedent_actor(poss, ctx, lex) if poss is not None else None
        if ante is not None and ante.code:
            side = ante.code  # "the LNA ..., its spokesman said": the LNA's spokesman
        if side:
            if hl in ("leader", "president", "spokesman", "spokeswoman", "spokesperson", "chief", "minister", "negotiator"):
                name = _phrase_text(toks)
                return Source("name", name, slugify(f"{lex.gaz.actors[side].name} {re.sub(r'^the ', '', name.lower())}"),
                              None, side)
            return actor_source(side, lex)
    if hl in lex.anonymous or hl in ("official",):
        return OUTLET
    if head.pos_ == "PROPN" and toks:
        # "government spokesman Ilunga", "the group's negotiator al-Wazir", "Russian newspaper Vostok Daily":
        # the name is the run of proper nouns; the words before it describe who that is
        doc, first, j = head.doc, min(t.i for t in toks), head.i
        while j - 1 >= first and (doc[j - 1].pos_ == "PROPN" or doc[j - 1].text == "-"
                                  or doc[j - 1].lower_ in ("al", "el", "bin", "ibn", "abu", "de", "van", "von")):
            j -= 1
        run = doc[j: head.i + 1].text.strip("- ")
        before = [t for t in toks if t.i < j]
        if run and before and any(lem(t) in lex.role_nouns for t in before):
            return _described_person(run, toks, _state_code(before, ctx), ctx, lex)
        if run and before and any(lem(t) in _OUTLET_NOUNS for t in before):
            return Source("name", run, slugify(run))
    if head.pos_ == "PROPN" or head.ent_type_ in ("ORG", "NORP", "GPE", "PERSON"):
        kept = [t for t in toks if (t.pos_ in ("PROPN", "NOUN", "ADJ", "PART") or t.i == head.i) and not _owner_modifier(t)]
        if any(_owner_modifier(t) for t in toks) and kept:
            kept = list(head.doc[min(t.i for t in kept): max(t.i for t in kept) + 1])  # "Al-Masirah TV", hyphen kept
        name = _phrase_text(kept)
        if name:
            key = slugify(re.sub(r"^the\s+", "", name, flags=re.I))
            if " " not in name and name.lower() in ctx.people:
                full = ctx.people[name.lower()]
                return Source("person", full, slugify(full))
            return Source("name", name, key)
    return OUTLET


def _state_code(toks: list[Token], ctx: ArticleContext) -> str | None:
    """The first actor (not a person) named among these tokens: whose spokesman, whose negotiator."""
    return next((ctx.actor_at[t.i][0] for t in toks if t.i in ctx.actor_at and not ctx.actor_at[t.i][1]), None)


def _described_person(run: str, toks: list[Token], code: str | None, ctx: ArticleContext, lex: Lexicon) -> Source:
    """A person named beside the words that describe them; a surname alone is the full name the article gave."""
    name = ctx.people.get(run.lower(), run) if " " not in run else run
    return Source("person", name, slugify(name), _org_of(toks, ctx, lex, code), code)


_OWNER_PARTICIPLES = {"run", "owned", "controlled", "backed", "affiliated", "linked", "funded", "aligned", "operated"}


def _owner_modifier(t: Token) -> bool:
    """'Houthi' in "the Houthi-run Al-Masirah TV": who owns the outlet, not who speaks."""
    doc = t.doc
    return t.i + 2 < len(doc) and doc[t.i + 1].text == "-" and doc[t.i + 2].lower_ in _OWNER_PARTICIPLES


def _antecedent_actor(pron: Token, ctx: ArticleContext, lex: Lexicon) -> Source | None:
    """'it'/'they' as the nearest side named earlier in the sentence ("... the Nigerian government
    after it said it had secured a ceasefire")."""
    want_plural = pron.lower_ == "they"
    for t in reversed(pron.sent[: pron.i - pron.sent.start]):
        if t.pos_ not in ("NOUN", "PROPN") or t.dep_ in ("compound", "poss", "amod"):
            continue
        if want_plural != (t.tag_ in ("NNS", "NNPS")) and t.i not in ctx.actor_at:
            continue
        if t.i in ctx.actor_at and mediator_or_venue(t, lex) is not None:
            continue  # "talks in Geneva, its spokesman said": a venue or a mediator is not who "its" is
        side = _side_of(t, ctx, lex)
        if side is not None:
            return side
    return None


def _side_of(t: Token, ctx: ArticleContext, lex: Lexicon, *, within: bool = False) -> Source | None:
    """The side a noun names: an actor of the gazetteer (also inside its phrase when `within`), or a
    generic word ("the government", "the group") for the article's dyad."""
    a = ctx.actor_at.get(t.i)
    if a is None and within:
        a = next((ctx.actor_at[x.i] for x in t.subtree if x.i in ctx.actor_at), None)
    if a is not None and not a[1]:
        return actor_source(a[0], lex)
    if lem(t) in lex.gaz.generic_state or lem(t) in lex.gaz.generic_nonstate:
        code = _generic_side(lem(t), list(t.subtree), ctx, lex)
        if code:
            return actor_source(code, lex)
    return None


_OUTLET_NOUNS = {"newspaper", "paper", "daily", "broadcaster", "outlet", "magazine", "network", "channel", "agency",
                 "publication", "tabloid", "weekly"}


def _in_name_of(t: Token, head: Token) -> bool:
    """Is `t` part of the name whose last token is `head` ("Alex" in "Air Marshal Alex Badeh")?"""
    return t.dep_ == "compound" and t.head.i == head.i and t.ent_type_ == head.ent_type_ != ""


def _generic_side(hl: str, toks: list[Token], ctx: ArticleContext, lex: Lexicon) -> str | None:
    if not ctx.dyad:
        return None
    gaz = lex.gaz
    want = "nonstate" if (hl in gaz.generic_nonstate or hl == "group" or any(lem(t) in gaz.generic_nonstate for t in toks)) else "state"
    kinds = {c: gaz.actors[c].kind for c in ctx.dyad}
    for c in ctx.dyad:
        if kinds[c] == want:
            return c
    return None if want == "nonstate" else ctx.dyad[0]


def actor_source(code: str, lex: Lexicon) -> Source:
    a = lex.gaz.actors[code]
    if a.kind == "state":
        return Source("state", a.name, f"{slugify(a.name)}-government", f"{a.name} government", code)
    return Source(a.kind, a.name, slugify(code.replace("_", "-")), a.name, code)


def _phrase_text(toks: list[Token]) -> str:
    toks = sorted(toks, key=lambda t: t.i)
    while toks and toks[0].lower_ in ("the", "a", "an"):
        toks = toks[1:]
    while toks and toks[-1].lower_ in ("'s", "’s"):
        toks = toks[:-1]
    out = ""
    for k, t in enumerate(toks):  # the text's own spacing between neighbours ("Al-Masirah TV")
        if k:
            prev, doc = toks[k - 1], t.doc
            if t.i == prev.i + 2 and doc[prev.i + 1].text == "-" and not prev.whitespace_ and not doc[prev.i + 1].whitespace_:
                out += "-"  # a hyphen dropped between two parts of one name ("al-Wazir")
            else:
                out += prev.whitespace_ if t.i == prev.i + 1 else " "
        out += t.text
    return out.strip(_DROP_NAME_CHARS + " ").replace(" 's", "'s")


def _org_of(toks: list[Token], ctx: ArticleContext, lex: Lexicon, code: str | None) -> str | None:
    for t in toks:
        a = ctx.actor_at.get(t.i)
        if a and not a[1]:
            span = a[2]
            if any(w in span.text.lower() for w in ("ministry", "government", "army", "military", "department")):
                return span.text
            return f"{lex.gaz.actors[a[0]].name} government" if lex.gaz.actors[a[0]].kind == "state" else lex.gaz.actors[a[0]].name
    if code:
        a = lex.gaz.actors[code]
        return f"{a.name} government" if a.kind == "state" else a.name
    return None


@dataclass
class Attribution:
    source: Source | None  # None: nobody named -> own voice
    counter: Source | None = None  # a denier of what `source` reports
    speaker_token: Token | None = None
    invert: bool = False  # the source denies the state ("denied agreeing to a ceasefire")
    anonymous: bool = False  # an unowned report ("the announcement that a truce was agreed")
    article_voice: bool = False  # explicitly the article's own description, never another's words


def attribute(p: Predicate, sent: Span, ctx: ArticleContext, state: dict, lex: Lexicon) -> Attribution:
    """Who says it: climb from the predicate to a reporting verb, a report noun or 'according to'."""
    start = p.verb if p.verb is not None else p.trigger
    if p.denial_pred and p.verb is not None and lem(p.verb) in _CALLING_VERBS:
        subj = subject_of(p.verb)  # "X called reports of a deal baseless": X denies an unowned report
        if subj is not None:
            return Attribution(resolve_source(subj, ctx, state, lex), speaker_token=subj)  # (the status is the denial)
    x = start
    report_src: Source | None = None
    report_tok: Token | None = None
    # report nouns between trigger and verb ("claims by X that ...", "X's assertion of ...")
    chain = [p.trigger, *p.path]
    y = start
    for _ in range(12):
        if y.head.i == y.i:
            break
        y = y.head
        chain.append(y)
    anonymous_report = False
    for t in chain if not p.denial_pred else []:
        if t.dep_ == "pobj" and t.head.dep_ == "prep" and t.head.lower_ in ("in", "during", "at") \
                and lem(t.head.head) in lex.reporting and not _is_denial(t.head.head, lex):
            continue  # "X said in a statement that ...": X's own statement, not somebody's report
        if t.pos_ == "NOUN" and lem(t) in lex.report_nouns | {"denial"}:
            owner = _noun_owner(t)
            if lem(t) == "denial":
                if owner is not None:
                    return Attribution(resolve_source(owner, ctx, state, lex), speaker_token=owner)
                continue
            if owner is not None:
                report_src = resolve_source(owner, ctx, state, lex)
                report_tok = t
            elif any(c.dep_ == "amod" and lem(c) in ("government", "official") for c in t.children) or any(
                    c.dep_ == "compound" and lem(c) == "government" for c in t.children):
                report_src = _generic_source("government", ctx, lex)
                report_tok = t
            else:
                anonymous_report = True
                report_tok = t
            break
    # climb to a reporting verb
    steps = 0
    came_from: Token | None = None
    said_by_gerund = False
    if p.verb is not None and lem(p.verb) in lex.reporting and p.trigger.head.dep_ == "prep" \
            and p.trigger.head.head.i == p.verb.i and p.trigger.head.lower_ != "as" and p.verb.head.i != p.verb.i:
        x = p.verb.head  # "representatives said during negotiations that ...": whoever reports that is the source
    while steps < 12:
        steps += 1
        if came_from is not None and x.i != start.i and (
                (came_from.dep_ in ("prep", "npadvmod") and came_from.lower_ != "as")
                or (came_from.dep_ == "advcl" and any(m.dep_ == "mark" and m.lower_ in _ADJUNCT_MARKS
                                                      for m in came_from.children))):
            # "representatives said during negotiations that ...": the talks are where X spoke, not
            # what X said; whoever reports the whole sentence is the source
            came_from, x = x, x.head
            if came_from.i == x.i:
                break
            continue
        if x.pos_ in VERBAL and lem(x) in lex.reporting and (x.i != start.i or lem(x) in (
                "announce", "declare", "claim", "deny", "confirm", "tout", "report", "say", "tell", "codify",
                "dismiss", "refute", "laugh", "slam", "express", "contradict", "warn", "blame", "accuse")):
            subj = subject_of(x)
            agent = next((g for c in x.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"), None)
            if agent is not None and subj is not None and subj.dep_ == "nsubjpass":
                subj = agent  # "the truce was announced by X"
            if subj is not None and subj.left_edge.i <= p.trigger.i <= subj.right_edge.i:
                if _inside_description(p.trigger, subj):
                    # "said Hassan Tukur, who represented the government at talks": the article's
                    # description of the speaker, in its own voice
                    return Attribution(None, article_voice=True)
                if x.head.i != x.i:
                    # "the deal announced October 17 followed ..., said X": the deal is no speaker
                    came_from, x = x, x.head
                    continue
            if subj is None and x.tag_ == "VBG" and x.dep_ in ("advcl", "xcomp") and x.head.pos_ in VERBAL \
                    and lem(x.head) not in lex.reporting and subject_of(x.head) is not None \
                    and _speakerlike(subject_of(x.head), ctx, lex):
                subj = subject_of(x.head)  # "officials have spent weeks touting their cease-fire"
            if subj is None and x.tag_ == "VBG" and x.dep_ in ("advcl", "xcomp", "conj", "acl") and x.head.i != x.i:
                # "denied the reports, saying negotiations were continuing": what follows "saying" is
                # the speaker's own statement, not part of what is denied
                said_by_gerund = said_by_gerund or (lem(x) in lex.reporting and not _is_denial(x, lex))
                came_from, x = x, x.head
                continue
            if subj is None and x.dep_ == "conj" and x.head.pos_ in VERBAL and lem(x) in lex.reporting \
                    and not _is_denial(x, lex):
                # "the army denied the accusation and said the truce was holding": the speaker of
                # "said" is the subject of "denied", and what it says is its own statement, not denied
                subj = subject_of(x.head)
                if subj is not None:
                    return Attribution(resolve_source(subj, ctx, state, lex), speaker_token=subj)
            if subj is None and x.dep_ == "acl" and x.head.pos_ in ("NOUN", "PROPN"):
                subj = x.head  # "A spokesman for the rebels, X, denied ..." parsed as a participle of "spokesman"
            if subj is None and x.tag_ in ("VBD", "VBZ", "VBP"):
                subj = _left_subject(x)
            if subj is None and lem(x) == "quote":
                subj = next((c for c in x.children if c.dep_ == "dobj"), None)
            if subj is not None and subj.lower_ == "it" and lem(x) in ("quote",):
                subj = next((c for c in x.children if c.dep_ == "dobj"), subj)
            # "AFP reported Shekau as saying", "It quoted X as ordering"
            as_obj = next((c for c in x.children if c.dep_ == "dobj"), None)
            if as_obj is not None and any(c.dep_ == "prep" and c.lower_ == "as" for c in x.children):
                subj = as_obj
            if subj is not None and x.dep_ == "ccomp" and x.head.i < subj.i and lem(x.head) in lex.reporting and (
                    x.i > start.i and x.doc[subj.left_edge.i - 1].text == ","):
                # "X said the release was under negotiation, the AP reported": a trailing citation
                # parsed as the speaker of the content; X is the one who said it
                outer = subject_of(x.head)
                if outer is not None and resolve_source(outer, ctx, state, lex).kind != "outlet":
                    came_from, x = x, x.head
                    continue
            if subj is not None:
                src = resolve_source(subj, ctx, state, lex)
                if src.kind == "outlet":
                    src = cited_outlet(x, ctx) or src
                if src.kind == "outlet" and x.head.i != x.i and report_src is None and (
                        x.i == start.i or (lem(subj) not in lex.anonymous and subj.pos_ in ("NOUN", "PROPN"))):
                    # "[X told reporters:] the terrorists have announced a ceasefire": an announcer we
                    # cannot name; the speaker who reports it is the better source
                    came_from, x = x, x.head
                    continue
                if said_by_gerund:
                    return Attribution(src, speaker_token=subj)
                if _is_denial(x, lex) and (x.i != start.i or report_tok is not None):
                    if report_src is None:
                        rn = next((c for c in x.children if c.dep_ == "dobj" and lem(c) in lex.report_nouns), None)
                        if rn is None:  # "denied ..., contradicting a statement by Israeli officials"
                            rn = next((g for c in x.children if c.dep_ in ("advcl", "conj") and _is_denial(c, lex)
                                       for g in c.children if g.dep_ == "dobj" and lem(g) in lex.report_nouns
                                       and _noun_owner(g) is not None), None)
                        if rn is not None:
                            owner = _noun_owner(rn)
                            report_src = resolve_source(owner, ctx, state, lex) if owner is not None else (
                                _generic_source("government", ctx, lex) if any(
                                    lem(c) in ("government", "official") for c in rn.children) else None)
                            if report_src is None:
                                anonymous_report = True  # "laughing off claims that ...": nobody's
                            report_tok = rn
                    if report_src is not None and report_tok is not None:
                        return Attribution(report_src, counter=src, speaker_token=subj)
                    if anonymous_report:
                        # "laughing off claims that it had reached a ceasefire": whose claims is not
                        # said, so only the denial is a claim
                        return Attribution(None, counter=src, speaker_token=subj, anonymous=True)
                    return Attribution(src, speaker_token=subj, invert=True)
                if report_src is not None and report_tok is not None and _is_denial(x, lex):
                    return Attribution(report_src, counter=src, speaker_token=subj)
                if report_src is not None and report_tok is not None:
                    return Attribution(report_src, speaker_token=subj)
                return Attribution(src, speaker_token=subj)
        if x.head.i == x.i:
            break
        came_from, x = x, x.head
    if report_src is not None:
        return Attribution(report_src)
    if anonymous_report:
        return Attribution(None, anonymous=True)
    # parataxis speaker: "The only communication that exists, Zakharova pointed out, is ..."
    root = sent.root
    for c in root.children:
        if c.dep_ in ("parataxis", "ccomp", "advcl") and lem(c) in lex.reporting and c.i > start.i - 40:
            subj = subject_of(c)
            if subj is None and c.i > start.i and c.tag_ in ("VBD", "VBZ", "VBP"):
                subj = _left_subject(c)  # "... agreed to a truce, Saudi Arabia and the US said": no subject parsed
            if subj is not None and (c.dep_ == "parataxis" or c.i > start.i):
                return Attribution(resolve_source(subj, ctx, state, lex), speaker_token=subj)
    # according to X
    for t in sent:
        if t.lower_ == "according" and t.i + 1 < sent.end and t.nbor(1).lower_ == "to":
            obj = next((c for c in t.nbor(1).children if c.dep_ == "pobj"), None)
            if obj is not None and lem(obj) not in ("proposal", "plan", "report", "document"):
                return Attribution(resolve_source(obj, ctx, state, lex), speaker_token=obj)
    # "X reported, citing ...", "..., X reports"
    for t in sent:
        if lem(t) in ("report", "say", "tell") and t.pos_ == "VERB" and t.dep_ in ("ROOT", "parataxis", "advcl", "conj", "ccomp") and t.i > start.i:
            subj = subject_of(t)
            if subj is not None:
                return Attribution(resolve_source(subj, ctx, state, lex), speaker_token=subj)
    # headline "Zelensky: no ceasefire without withdrawal" -- the name before the colon speaks
    m = _HEADLINE_SPEAKER.match(sent.text)
    if m and start.i > sent.start + 1:
        span = sent.char_span(sent.start_char + m.start(1), sent.start_char + m.end(1), alignment_mode="expand")
        whole_actor = span is not None and any(
            sp.start == span.start and sp.end == span.end for sp in span.doc.spans.get("tw_actors", []))
        if span is not None and (whole_actor or all(t.ent_type_ == "PERSON" for t in span)):
            # a name, not a rubric ("Ukraine round-up: ...", "Analysis: ...")
            src = resolve_source(span.root, ctx, state, lex)
            if src.kind != "outlet":
                return Attribution(src, speaker_token=span.root)
    # trailing ", X says" that the parser did not attach (headlines)
    m = _TRAILING_SAY.search(sent.text)
    if m:
        span = sent.char_span(sent.start_char + m.start(1), sent.start_char + m.end(1), alignment_mode="expand")
        if span is not None:
            return Attribution(resolve_source(span.root, ctx, state, lex), speaker_token=span.root)
    # a quote in an earlier sentence of the same paragraph continues the speaker
    if _inside_quote(sent) and state.get("quote_speaker"):
        return Attribution(state["quote_speaker"])
    # any other reporting verb of the sentence with a named subject
    for t in sent:
        if t.pos_ == "VERB" and lem(t) in ("say", "tell", "add", "insist", "claim", "state") and not _is_denial(t, lex):
            subj = subject_of(t)
            if subj is not None:
                src = resolve_source(subj, ctx, state, lex)
                if src.kind != "outlet":
                    return Attribution(src, speaker_token=subj)
    return Attribution(None)


def _speakerlike(t: Token, ctx: ArticleContext, lex: Lexicon) -> bool:
    """Could this noun phrase head speak (a name, an actor, officials, a role, a pronoun)? "the peace process" cannot."""
    hl = lem(t)
    return (t.pos_ in ("PROPN", "PRON") or t.ent_type_ in ("PERSON", "ORG", "NORP", "GPE") or t.i in ctx.actor_at
            or hl in lex.gaz.generic_state or hl in lex.gaz.generic_nonstate or hl in lex.anonymous or hl in lex.role_nouns)


def cited_outlet(v: Token, ctx: ArticleContext) -> Source | None:
    """'a senior security source told Reuters', 'the second source quoted by Reuters said': the outlet
    an anonymous source spoke to (SPEC 5a)."""
    told = None
    if lem(v) == "tell":
        told = next((c for c in v.children if c.dep_ in ("dobj", "dative") and c.pos_ == "PROPN"
                     and c.i not in ctx.actor_at), None)
    subj = subject_of(v)
    if told is None and subj is not None:
        told = next((g for c in subj.children if c.dep_ == "acl" and lem(c) in ("quote", "cite")
                     for a in c.children if a.dep_ == "agent" for g in a.children
                     if g.dep_ == "pobj" and g.pos_ == "PROPN" and g.i not in ctx.actor_at), None)
    if told is None:
        return None
    name = _phrase_text([t for t in told.subtree if t.pos_ in ("PROPN", "PUNCT") and t.text != ","])
    return Source("org", name, slugify(name)) if name else None


_ADJUNCT_MARKS = {"as", "after", "before", "while", "when", "since", "until", "because"}


def _inside_description(t: Token, subj: Token) -> bool:
    """Is `t` inside a relative clause, participle or apposition that describes the phrase `subj`?"""
    nodes = [subj, *(c for c in subj.children if c.dep_ == "appos")]
    for n in nodes:
        for c in n.children:
            if c.dep_ in ("relcl", "acl", "appos") and c.left_edge.i <= t.i <= c.right_edge.i:
                return True
    return False


_HEADLINE_SPEAKER = re.compile(r"\s*([A-Z][\w.'’\- ]{1,40}?)\s*:\s+\S")
_TRAILING_SAY = re.compile(r",\s*((?:the\s+)?[A-Za-z][\w.\-' ]{1,60}?)\s+(?:says?|said|reports?|reported|tells?|told|announces?)\s*[.!]?\s*$", re.I)


def _left_subject(v: Token) -> Token | None:
    """A reporting verb the parser left without subject: the noun phrase just before it."""
    j = v.i - 1
    sent = v.sent
    while j >= sent.start and (v.doc[j].is_punct or v.doc[j].pos_ in ("ADV", "AUX", "PART")):
        j -= 1
    if j < sent.start:
        return None
    t = v.doc[j]
    while t.dep_ == "conj" and t.head.i < t.i and t.head.pos_ in ("PROPN", "NOUN"):
        t = t.head  # "Saudi Arabia and the United States said": the first of the speakers
    if t.pos_ in ("PROPN", "NOUN") and t.dep_ in ("pobj", "nsubj", "appos", "ROOT", "npadvmod", "dobj"):
        return t
    return None


def conj_statuses(p: Predicate, lex: Lexicon) -> list[str]:
    """Further statuses of the same talks in coordinated verbs: '... backed out of talks and then
    prohibited them'."""
    out = []
    if p.verb is None:
        return out
    if p.trigger.head.lower_ == "under" and any(c.lower_ in ("still", "yet") for c in p.verb.children):
        out.append("no_deal")  # "the release was still under negotiation": nothing agreed yet
    for c in p.verb.children:
        if c.dep_ != "conj" or c.pos_ != "VERB":
            continue
        if not any(g.dep_ in ("dobj", "nsubjpass") and g.lower_ in ("them", "it", "these", "those") for g in c.children):
            continue
        cl = lem(c)
        if cl in lex.rejected_verbs:
            out.append("rejected")
        elif cl in lex.stalled_verbs:
            out.append("stalled")
        elif cl in ("collapse", "abandon", "end", "terminate", "scrap"):
            out.append("collapsed")
    return out


_HELD_PARTICIPLES = {"hold", "conduct"}
_AGREED_PARTICIPLES = {"agree", "sign", "broker", "reach", "conclude", "seal", "strike", "initial", "ink"}


def dated_participles(p: Predicate, lex: Lexicon) -> list[tuple[str, str]]:
    """A dated participle on the trigger states an earlier event of its own: "talks held in Istanbul in March
    2022" were held then, "a ceasefire brokered by Angola in March 2024" was agreed then. (status, its words)"""
    out = []
    wanted = _HELD_PARTICIPLES if p.cls == "talk" else _AGREED_PARTICIPLES if p.cls == "deal" else set()
    for c in p.trigger.children:
        if c.dep_ == "acl" and c.tag_ == "VBN" and lem(c) in wanted and (p.verb is None or c.i != p.verb.i):
            words = " ".join(t.text for t in c.subtree)
            if mentions_time(words) and re.search(r"\b(?:19|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
                                                  words, re.I):
                out.append(("held" if p.cls == "talk" else "agreed", words))
    return out


def _generic_source(word: str, ctx: ArticleContext, lex: Lexicon) -> Source:
    code = _generic_side(word, [], ctx, lex)
    return actor_source(code, lex) if code else OUTLET


def _noun_owner(t: Token) -> Token | None:
    for c in t.children:
        if c.dep_ == "poss":
            return c
    for c in t.children:
        if c.dep_ == "prep" and c.lower_ in ("by", "from"):
            for g in c.children:
                if g.dep_ == "pobj":
                    return g
    for c in t.children:
        if c.dep_ == "compound" and (c.ent_type_ or c.pos_ == "PROPN"):
            return c
    for c in t.children:  # "a report in the Jerusalem Herald": a publication's report
        if c.dep_ == "prep" and c.lower_ in ("in", "on") and lem(t) in ("report", "article", "story"):
            for g in c.children:
                if g.dep_ == "pobj" and g.pos_ == "PROPN":
                    return g
    return None


def _is_denial(v: Token, lex: Lexicon) -> bool:
    if lem(v) in lex.denial_verbs:
        return True
    return any(lem(c) in ("off",) for c in v.children) and lem(v) in ("laugh", "brush", "shrug")


def _inside_quote(sent: Span) -> bool:
    text = sent.text.strip()
    return text[:1] in "\"“" or text[-1:] in "\"”"


def subject_actor(p: Predicate, ctx: ArticleContext, state: dict, lex: Lexicon) -> Source | None:
    """For positions in the article's own voice: the party whose position it is."""
    v = p.verb if p.verb is not None else p.trigger
    x = v
    for _ in range(4):
        subj = subject_of(x)
        if subj is not None:
            src = resolve_source(subj, ctx, state, lex)
            return src
        if x.dep_ in ("xcomp", "conj", "advcl", "ccomp") and x.head.i != x.i:
            x = x.head
            continue
        if x.dep_ == "acl" and x.head.pos_ == "NOUN" and x.head.dep_ in ("dobj", "attr") and x.head.head.i != x.head.i:
            x = x.head.head  # "Manila has no plans to resume talks": whose plans
            continue
        break
    # "Zelenskyy codifies 'impossibility' of peace talks": the possessor of a path noun
    for t in p.path:
        for c in t.children:
            if c.dep_ == "poss":
                return resolve_source(c, ctx, state, lex)
    return None
