"""Family 4, sources and attribution (SPEC 5a): who makes a claim. The options are the outlet, the people,
bodies and actors the sentence names, and the speaker a pronoun or role word refers back to; each comes
with what the parse says of it (subject of "said", object of "according to", inside a quotation, ...)."""

from __future__ import annotations

import re

from spacy.tokens import Span, Token

from pipeline.extract.context import ArticleContext
from pipeline.extract.predicate import governing_verb, lemma, reporting_verb
from pipeline.extract.records import Candidate, Features, SourceOption
from pipeline.extract.resources import Gazetteer, Lexicon
from pipeline.models import slugify

_DROP_CHARS = "\"'“”‘’.,:;()[]"


def clean_name(tokens: list[Token], lex: Lexicon) -> str:
    """A name without titles, articles, possessives and punctuation ("Mr. Lavrov's" -> "Lavrov")."""
    toks = [t for t in tokens if not t.is_space and not (t.is_punct and t.text != "-")]
    while toks and (toks[0].lower_.rstrip(".") in lex.titles or toks[0].lower_ in ("the", "a", "an")):
        toks = toks[1:]
    while toks and toks[-1].lower_ in ("'s", "’s", "'", "’"):
        toks = toks[:-1]
    text = "".join(t.text_with_ws for t in toks).strip()
    text = re.sub(r"\s*-\s*", "-", text)
    return text.strip(_DROP_CHARS + " ")


def _full_name(name: str, ctx: ArticleContext) -> str:
    if " " not in name:
        return ctx.people.get(name.lower(), name)
    return name


def actor_option(span_text: str, code: str, gaz: Gazetteer, entity: str = "") -> tuple[str, str, str]:
    """(name, key, kind) of an actor named as a source: a state's name, capital or demonym is its
    government ("Moscow" -> Russia, russia-government); a body of the state keeps its own name ("the Kremlin",
    "the Pentagon", "the Russian Foreign Ministry": what the parser's NER calls an organisation or a facility,
    or a longer name than the state's)."""
    actor = gaz.actors.get(code)
    kind = actor.kind if actor else "state"
    name = actor.name if actor else code
    text = re.sub(r"^the\s+", "", span_text.strip(), flags=re.I)
    if kind == "state":
        if text.lower() != name.lower() and (entity in ("ORG", "FAC") or " " in text and entity != "GPE"):
            return text, slugify(text), "body"
        return name, f"{slugify(name)}-government", "state"
    return name, slugify(code.replace("_", "-")), kind


def _subject(v: Token) -> Token | None:
    return next((c for c in v.children if c.dep_ in ("nsubj", "nsubjpass")), None)


def _role(tok: Token, cand: Candidate, ctx: ArticleContext, lex: Lexicon, trig_reps: set[int],
          trig_govs: set[int]) -> Features:
    """What the parse says of the token that names an option."""
    f: Features = {}
    head = tok.head
    f[f"dep={tok.dep_}"] = 1.0
    if tok.i in ctx.quoted:
        f["quoted"] = 1.0
    if tok.dep_ in ("nsubj", "nsubjpass") or (tok.dep_ in ("compound", "amod", "poss") and head.dep_ in ("nsubj",)):
        verb = head if tok.dep_ in ("nsubj", "nsubjpass") else head.head
        f["subject"] = 1.0
        vl = lemma(verb)
        if vl in lex.reporting:
            f["subj_of_reporting"] = 1.0
            f[f"subj_of={vl}"] = 1.0
        if verb.i in trig_reps:
            f["speaker_of_trigger"] = 1.0
        if verb.i in trig_govs:
            f["subject_of_trigger_verb"] = 1.0
    if tok.dep_ == "pobj" and head.lower_ == "to" and head.head.lower_ == "according":
        f["according_to"] = 1.0
    speaker = _modified_speaker(tok)
    if speaker is not None:
        f["names_speaker"] = 1.0
        verb = speaker.head
        if speaker.dep_ == "pobj" and verb.lower_ == "to" and verb.head.lower_ == "according":
            f["names_speaker_according"] = 1.0
        elif lemma(verb) in lex.reporting:
            f["names_speaker_of_reporting"] = 1.0
            if verb.i in trig_reps:
                f["names_speaker_of_trigger"] = 1.0
    if tok.dep_ == "pobj" and head.lower_ == "by" and head.head.dep_ == "agent" or tok.dep_ == "agent":
        f["agent"] = 1.0
    if tok.dep_ == "poss":
        f[f"poss_of={lemma(head)}"] = 1.0
    if tok.dep_ in ("dobj", "dative", "pobj") and lemma(head) in ("tell", "to"):
        f["told_to"] = 1.0
    first = min(cand.triggers)
    f["before_trigger" if tok.i < first else "after_trigger"] = 1.0
    f[f"dist={min(abs(tok.i - first) // 4, 5)}"] = 1.0
    return f


def _modified_speaker(tok: Token) -> Token | None:
    """The speaker noun a name qualifies ("a spokesperson for the Kremlin said", "a State Department official
    said", "according to a French official"): that noun, when it is a subject or the object of "according to"."""
    cur = tok
    for _ in range(3):
        if cur.dep_ in ("compound", "amod", "poss", "nmod"):
            cur = cur.head
        elif cur.dep_ == "pobj" and cur.head.lower_ in ("for", "of", "from") and cur.head.head is not cur.head:
            cur = cur.head.head
        else:
            break
        if cur.dep_ in ("nsubj", "nsubjpass") or (cur.dep_ == "pobj" and cur.head.lower_ == "to"):
            return cur if cur is not tok else None
    return None


def source_options(cand: Candidate, ctx: ArticleContext, gaz: Gazetteer, lex: Lexicon,
                   last_speaker: SourceOption | None) -> list[SourceOption]:
    """The possible sources of a candidate sentence's claims, each with the parse's evidence for it."""
    doc = ctx.doc
    sent = doc[cand.start:cand.end]
    trig_reps, trig_govs = set(), set()
    for i in cand.triggers:
        rep = reporting_verb(doc[i], lex)
        if rep is not None:
            trig_reps.add(rep.i)
        trig_govs.add(governing_verb(doc[i]).i)
    reps = [t for t in sent if lemma(t) in lex.reporting and t.pos_ in ("VERB", "AUX") and t.i not in ctx.quoted]
    options: list[SourceOption] = []
    seen: dict[str, SourceOption] = {}

    def add(opt: SourceOption, tok: Token | None) -> None:
        if tok is not None:
            opt.features.update(_role(tok, cand, ctx, lex, trig_reps, trig_govs))
        opt.features[f"kind={opt.kind}"] = 1.0
        if opt.key in seen:  # one option a source: keep the strongest evidence of both mentions
            old = seen[opt.key]
            for k, v in opt.features.items():
                old.features[k] = max(old.features.get(k, 0.0), v)
            return
        seen[opt.key] = opt
        options.append(opt)

    # the outlet: the article's own voice, anonymous sources
    out = SourceOption(kind="outlet", name="", key="", features={"outlet": 1.0})
    anon = [r for r in reps if (s := _subject(r)) is not None and lemma(s) in lex.anonymous]
    if not reps:
        out.features["no_reporting_verb"] = 1.0
    if anon:
        out.features["anonymous_speaker"] = 1.0
    if any(t.lower_ == "according" for t in sent):
        out.features["according_in_sentence"] = 1.0
    if cand.in_title:
        out.features["title"] = 1.0
    if any(t.lower_ in lex.hedges for t in sent):
        out.features["hedge_word"] = 1.0
    add(out, None)

    covered: set[int] = set()
    for m in ctx.by_sent[cand.sent_index]:
        covered.update(range(m.start, m.end))
        span = doc[m.start:m.end]
        if m.person:
            opt = SourceOption(kind="person", name=m.person, key=slugify(m.person),
                               org=gaz.actors[m.code].name if m.code in gaz.actors else None, code=m.code,
                               token=span.root.i)
        else:
            name, key, kind = actor_option(m.text, m.code, gaz, span.root.ent_type_)
            opt = SourceOption(kind=kind, name=name, key=key, code=m.code, token=span.root.i)
        add(opt, span.root)
    for ent in sent.ents:
        if any(i in covered for i in range(ent.start, ent.end)):
            continue
        if ent.label_ == "PERSON":
            name = _full_name(clean_name(list(ent), lex), ctx)
            if not name or name.lower() in lex.non_sources or not name[:1].isupper():
                continue
            add(SourceOption(kind="person", name=name, key=slugify(name), token=ent.root.i), ent.root)
        elif ent.label_ in ("ORG", "NORP"):
            name = clean_name(list(ent), lex)
            if not name or len(name) < 2 or not any(ch.isupper() for ch in name) or "--" in name:
                continue
            add(SourceOption(kind="body", name=name, key=slugify(name), token=ent.root.i), ent.root)
            options[-1].features[f"ent={ent.label_}"] = 1.0
    # a generic side speaking or acting ("the government said", "the militants rejected"): the article's side
    for t in sent:
        if t.dep_ not in ("nsubj", "nsubjpass") or t.i in covered or t.ent_type_:
            continue
        code = _generic_side(t, ctx, gaz)
        if code is not None:
            name, key, kind = actor_option(gaz.actors[code].name if code in gaz.actors else code, code, gaz)
            opt = SourceOption(kind=kind, name=name, key=key, code=code, token=t.i)
            add(opt, t)
            seen[key].features["generic_side"] = 1.0
    # a pronoun or role word speaking or acting ("he said", "the spokesman said", "she offered talks"): the
    # speaker named before
    for r in [*reps, *(doc[i] for i in trig_govs if doc[i].pos_ in ("VERB", "AUX") and doc[i] not in reps)]:
        s = _subject(r)
        if s is None or s.i in covered or s.ent_type_:
            continue
        if (s.lower_ in lex.pronouns or lemma(s) in lex.role_words) and last_speaker is not None:
            prev = _named_before(last_speaker, s.i)
            add(prev, s)
            seen[prev.key].features["refers_back"] = 1.0
            seen[prev.key].features[f"refers_back={'pronoun' if s.lower_ in lex.pronouns else 'role'}"] = 1.0
    for t in sent:  # "according to her"
        if t.lower_ in lex.pronouns and t.dep_ == "pobj" \
                and t.head.lower_ == "to" and t.head.head.lower_ == "according" and last_speaker is not None:
            prev = _named_before(last_speaker, t.i)
            add(prev, t)
            seen[prev.key].features["refers_back"] = 1.0
            seen[prev.key].features["refers_back=pronoun"] = 1.0
    if cand.in_quote and last_speaker is not None and not reps:
        prev = _named_before(last_speaker, None)
        prev.features["quote_continues"] = 1.0
        add(prev, None)
    return options


def _named_before(speaker: SourceOption, token: int | None) -> SourceOption:
    """The speaker named in an earlier sentence as an option of this one (its features are this sentence's)."""
    return SourceOption(kind=speaker.kind, name=speaker.name, key=speaker.key, org=speaker.org, code=speaker.code,
                        token=token)


def _generic_side(t: Token, ctx: ArticleContext, gaz: Gazetteer) -> str | None:
    """The actor a generic subject stands for: "the government" -> the state the article names most,
    "the militants" -> the non-state actor it names most."""
    lem = lemma(t)
    phrase = " ".join(lemma(c) for c in t.lefts if c.dep_ in ("amod", "compound")) + f" {lem}"
    phrase = phrase.strip()
    if lem in gaz.generic_state or phrase in gaz.generic_state:
        kinds = ("state",)
    elif lem in gaz.generic_nonstate or phrase in gaz.generic_nonstate:
        kinds = ("nonstate",)
    else:
        return None
    for code, _ in ctx.counts.most_common():
        actor = gaz.actors.get(code)
        if (actor.kind if actor else "nonstate") in kinds:
            return code
    return None


def sentence_speaker(sent: Span, ctx: ArticleContext, gaz: Gazetteer, lex: Lexicon) -> SourceOption | None:
    """The person who speaks in the sentence, outside quotation marks: the subject of a reporting verb, its
    agent ("as stated by X") or the object of "according to" (who "he" and "she" are later)."""
    by_token = {}
    for m in ctx.by_sent[ctx.sent_of(sent.start)] if len(sent) else ():
        for i in range(m.start, m.end):
            by_token[i] = m
    speakers: list[Token] = []
    for t in sent:
        if t.i in ctx.quoted:
            continue
        if lemma(t) in lex.reporting and t.pos_ in ("VERB", "AUX"):
            s = _subject(t)
            if s is not None:
                speakers.append(s)
            speakers.extend(g for c in t.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj")
        elif t.lower_ == "according" and t.i + 1 < sent.end and t.nbor(1).lower_ == "to":
            speakers.extend(c for c in t.nbor(1).children if c.dep_ == "pobj")
    for s in speakers:
        for tok in s.subtree:
            m = by_token.get(tok.i)
            if m is not None and m.person:
                return SourceOption(kind="person", name=m.person, key=slugify(m.person), code=m.code)
            if tok.ent_type_ == "PERSON" and tok.ent_iob_ == "B":
                ent = next((e for e in sent.ents if e.start == tok.i), None)
                name = _full_name(clean_name(list(ent), lex), ctx) if ent is not None else ""
                if name:
                    return SourceOption(kind="person", name=name, key=slugify(name))
    return None


def rule_source(options: list[SourceOption], status_kind: str) -> SourceOption:
    """The rule baseline (SPEC 5a): the speaker of the claim's reporting verb, "according to X", else for a
    position the party whose subject it is, else the outlet."""
    def score(o: SourceOption) -> float:
        f = o.features
        if f.get("speaker_of_trigger") or f.get("according_to"):
            return 4.0
        if f.get("refers_back") and f.get("subj_of_reporting"):
            return 3.0
        if f.get("quote_continues"):
            return 2.5
        if status_kind == "position" and f.get("subject_of_trigger_verb"):
            return 2.0
        if o.kind == "outlet":
            return 1.0
        return 0.0
    return max(options, key=score)
