"""Family 2, predicate: what a candidate sentence says about its triggers, read off the parse.

The features the status model decides from: the trigger, the verb that governs it, negation, tense,
modality, the reporting verb above it, the words around it, and the sentence's words with names
replaced by their kind (so that a model learns "<state> and <non-state> signed a truce", not
"Russia").
"""

from __future__ import annotations

from spacy.tokens import Span, Token

from pipeline.extract.context import ArticleContext
from pipeline.extract.records import Candidate, Features
from pipeline.extract.resources import Lexicon

_VERBAL = {"VERB", "AUX"}
_TENSES = {"VBD": "past", "VBN": "perfect", "VBZ": "present", "VBP": "present", "VBG": "progressive", "VB": "base",
           "MD": "modal"}


def lemma(t: Token) -> str:
    return t.lemma_.lower()


def governing_verb(t: Token) -> Token:
    """The first verb at or above the token (the root when none)."""
    cur = t
    for _ in range(8):
        if cur.pos_ in _VERBAL or cur.dep_ == "ROOT":
            return cur
        cur = cur.head
    return cur


def verb_frame(v: Token, lex: Lexicon) -> dict[str, str | bool]:
    """Tense, modality and negation of a verb from its own tag and its auxiliaries."""
    auxes = [c for c in v.children if c.dep_ in ("aux", "auxpass")]
    aux_lemmas = [lemma(a) for a in auxes]
    neg = any(c.dep_ == "neg" or (c.lower_ in lex.negations and c.dep_ in ("advmod", "det", "neg"))
              for c in v.children if c.i < v.i + 3)
    modal = next((a.lower_ for a in auxes if a.tag_ == "MD"), None)
    tense = _TENSES.get(v.tag_, "other")
    if "have" in aux_lemmas:
        tense = "perfect"
    if modal in ("will", "'ll", "shall", "wo"):
        tense = "future"
    elif any(a.lower_ == "to" for a in auxes):
        tense = "infinitive"
    passive = any(c.dep_ in ("auxpass", "nsubjpass") for c in v.children)
    return {"tense": tense, "modal": modal or "", "neg": neg, "passive": passive}


def reporting_verb(t: Token, lex: Lexicon) -> Token | None:
    """The nearest reporting verb ("said", "denied", "according to") above the token."""
    cur = t
    for _ in range(10):
        if cur.head is cur:
            break
        cur = cur.head
        if lemma(cur) in lex.reporting and cur.pos_ in _VERBAL:
            return cur
    return None


def _words(sent: Span, ctx: ArticleContext, lex: Lexicon) -> list[str]:
    """The sentence's lemmas, names replaced by their kind."""
    kinds: dict[int, str] = {}
    for m in ctx.by_sent[ctx.sent_of(sent.start)] if len(sent) else ():
        label = "<person>" if m.person else f"<{m.kind}>"
        for i in range(m.start, m.end):
            kinds[i] = label if i == m.start else ""
    out = []
    for t in sent:
        if t.i in kinds:
            if kinds[t.i]:
                out.append(kinds[t.i])
            continue
        if t.is_space or t.is_punct and t.text not in ("?", '"', "“", "”"):
            continue
        if t.ent_type_ == "PERSON":
            if t.ent_iob_ == "B":
                out.append("<person>")
            continue
        if t.like_num or t.ent_type_ in ("DATE", "TIME", "CARDINAL"):
            if not out or out[-1] != "<num>":
                out.append("<num>")
            continue
        out.append(lemma(t))
    return out


def status_features(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> Features:
    """The features of a candidate sentence for the status model (binary, names replaced by kinds)."""
    doc = ctx.doc
    sent = doc[cand.start:cand.end]
    f: Features = {"bias": 1.0}
    words = _words(sent, ctx, lex)
    for w in words:
        f[f"w={w}"] = 1.0
    for a, b in zip(words, words[1:], strict=False):
        f[f"b={a}_{b}"] = 1.0
    if cand.in_title:
        f["title"] = 1.0
    if cand.in_quote:
        f["quote"] = 1.0
    if "?" in sent.text:
        f["question"] = 1.0
    for i in cand.triggers[:6]:
        t = doc[i]
        tl = lemma(t)
        f[f"trig={tl}"] = 1.0
        det = [c for c in t.children if c.dep_ == "det"]
        for c in det:
            if c.lower_ in lex.negations:
                f["trig_no"] = 1.0
                f[f"trig_no={tl}"] = 1.0
        for c in t.children:
            if c.dep_ in ("amod", "compound"):
                f[f"mod={lemma(c)}"] = 1.0
            elif c.dep_ == "prep":
                f[f"trig_prep={c.lower_}"] = 1.0
        v = governing_verb(t)
        vl = lemma(v)
        fr = verb_frame(v, lex)
        f[f"gov={vl}"] = 1.0
        f[f"tense={fr['tense']}"] = 1.0
        f[f"gov={vl}|{fr['tense']}"] = 1.0
        if fr["modal"]:
            f[f"modal={fr['modal']}"] = 1.0
        if fr["passive"]:
            f[f"gov={vl}|passive"] = 1.0
        if fr["neg"]:
            f["neg"] = 1.0
            f[f"gov={vl}|neg"] = 1.0
            f[f"trig={tl}|neg"] = 1.0
        f[f"trig_dep={t.dep_}"] = 1.0
        f[f"trig={tl}|gov={vl}"] = 1.0
        if v.head is not v:
            up = v.head
            f[f"up={lemma(up)}"] = 1.0
            upfr = verb_frame(up, lex) if up.pos_ in _VERBAL else None
            if upfr and upfr["neg"]:
                f[f"up={lemma(up)}|neg"] = 1.0
        rep = reporting_verb(t, lex)
        if rep is not None:
            f[f"rep={lemma(rep)}"] = 1.0
            if verb_frame(rep, lex)["neg"]:
                f["rep_neg"] = 1.0
    f.update(cue_classes(cand, ctx, lex))
    return f


# what negating a state says (SPEC 2): talks that did not happen are denied, a deal not reached is no deal;
# denying that talks collapsed or stalled says they go on
NEGATED = {"agreed": "no_deal", "held": "denied", "ongoing": "denied", "planned": "denied", "collapsed": "ongoing",
           "stalled": "ongoing", "proposed": "rejected", "accepted": "rejected"}


def cue_classes(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> Features:
    """The statuses the sentence's words and its triggers' verbs name (status_cues of cues.yaml)."""
    doc = ctx.doc
    sent = doc[cand.start:cand.end]
    f: Features = {}
    text = sent.text  # (a span's text is joined from its tokens on every read)
    for st, rx in lex.status_words.items():
        if rx.search(text):
            f[f"wclass={st}"] = 1.0
    for i in cand.triggers[:6]:
        t = doc[i]
        v = governing_verb(t)
        fr = verb_frame(v, lex)
        vl = lemma(v)
        tl = lemma(t) if t.pos_ in _VERBAL else None  # (read once: token attributes cost a lookup each)
        for st, verbs in lex.status_verbs.items():
            if vl in verbs:
                f[f"vclass={st}"] = 1.0
                f[f"vclass={st}|{fr['tense']}"] = 1.0
                if fr["neg"]:
                    f[f"vclass={st}|neg"] = 1.0
            if tl is not None and tl in verbs:
                f[f"tclass={st}"] = 1.0
    rule = rule_status(cand, ctx, lex)
    if rule:
        f[f"rule={rule}"] = 1.0
    return f


def rule_status(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> str | None:
    """The rule baseline: the status the first trigger's predicate names (SPEC 2), negation applied."""
    doc = ctx.doc
    for i in cand.triggers:
        t = doc[i]
        tl = lemma(t)
        kind = "deal" if tl in lex.deal_words else "talks"
        v = governing_verb(t)
        vl = lemma(v)
        fr = verb_frame(v, lex)
        no = any(c.dep_ == "det" and c.lower_ in lex.negations for c in t.children)
        rep = reporting_verb(t, lex)
        if (rep is not None and lemma(rep) in lex.status_verbs.get("denied", ())) or vl in lex.status_verbs.get("denied", ()):
            return "no_deal" if kind == "deal" else "denied"
        if no or (fr["neg"] and vl in lex.existence_verbs):
            return "no_deal" if kind == "deal" else "denied"
        named = next((st for st, verbs in lex.status_verbs.items() if vl in verbs), None)
        if named is None and t.pos_ in _VERBAL:
            named = next((st for st, verbs in lex.status_verbs.items() if tl in verbs), None)
        if named is None:
            continue
        if named == "held":  # talk verbs: the tense tells a round held from talks under way or planned
            named = {"future": "planned", "infinitive": "planned", "modal": "planned", "progressive": "ongoing",
                     "present": "ongoing"}.get(str(fr["tense"]), "held")
        if fr["neg"]:
            return NEGATED.get(named, named)
        return named
    return None


def denial(cand: Candidate, ctx: ArticleContext, lex: Lexicon) -> str | None:
    """`denied` (talks) or `no_deal` (a deal, an exchange, a payment) when the sentence says they do not
    exist or did not happen (SPEC 2): "no such negotiations", "there are no talks", "we did not negotiate",
    "X denied reports of a truce", "no agreement has been reached". Not a denial: a refusal of the future
    ("will not negotiate", "unless", "until": positions), nor a negated collapse (talks go on)."""
    doc = ctx.doc
    sent = doc[cand.start:cand.end]
    if any(t.lower_ in lex.conditions for t in sent):
        return None
    for i in cand.triggers:
        t = doc[i]
        tl = lemma(t)
        if tl not in lex.denial_objects:
            continue
        kind = "no_deal" if tl in lex.deal_objects else "denied"
        v = governing_verb(t)
        fr = verb_frame(v, lex)
        if fr["modal"] or fr["tense"] in ("future", "infinitive") or lemma(v) in lex.status_verbs.get("collapsed", ()):
            continue
        # "denied reports of a truce", "refutes this notion", "denied it paid a ransom": a denial verb above it
        cur = t
        for _ in range(8):
            if cur.head is cur:
                break
            cur = cur.head
            if cur.pos_ in _VERBAL and lemma(cur) in lex.denial_verbs and not verb_frame(cur, lex)["neg"]:
                return kind
            if cur.pos_ in _VERBAL and lemma(cur) == "dismiss" and any(
                    c.dep_ == "dobj" and lemma(c) in lex.report_nouns for c in cur.children):
                return kind  # "dismissed reports of talks" (but "dismissed the talks as meaningless" is a rejection)
        existence = lemma(v) in lex.existence_verbs and (lemma(v) != "be" or any(c.dep_ == "expl" for c in v.children))
        if t.pos_ in ("NOUN", "PROPN"):
            dets = {c.lower_ for c in t.children if c.dep_ in ("det", "amod", "advmod")}
            if "no" in dets and (existence or t.dep_ in ("nsubj", "nsubjpass", "attr", "dobj")):
                return kind  # "no such negotiations have happened", "there are no talks", "made no deal"
            if dets & {"any", "such"} and fr["neg"] and existence:
                return kind  # "there are not any talks", "has not held any talks"
            if t.dep_ == "pobj" and lemma(t.head.head) in lex.absence_words:
                return kind  # "the absence of talks"
        if fr["neg"] and (t is v or existence):
            return kind  # "we did not negotiate", "talks have not taken place", "no agreement was reached"
    return None
