"""spaCy components of the claim extractor: paragraph breaks, actor gazetteer, claim rules."""

from __future__ import annotations

import logging
from bisect import bisect_right

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.extract import rules
from pipeline.extract.resources import load_cues, load_gazetteer
from pipeline.extract.timex import mentions_time

logger = logging.getLogger(__name__)

ACTORS_KEY = "tw_actors"
POSITIONS = {"proposed", "accepted", "rejected"}
# what saying "no" to a status says (SPEC 2: denying that talks collapsed or were suspended says they go on)
DENIAL_OF = {"agreed": "no_deal", "planned": "denied", "ongoing": "denied", "held": "denied",
             "collapsed": "ongoing", "stalled": "ongoing"}

if not Doc.has_extension("claims"):
    Doc.set_extension("claims", default=None)


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
# talkwatch_claims: the rule families over trigger sentences -> doc._.claims
# --------------------------------------------------------------------------------------------

class ClaimExtractor:
    """Read negotiation-status claims; doc._.claims is a list of plain dicts (msgpack-safe).

    Article-level fields that need the feed's metadata (outlet as source, event_time against the
    publication date) are completed by `pipeline.extract.extract_articles`.
    """

    def __init__(self, *, gazetteer_path: str | None = None, cues_path: str | None = None) -> None:
        self.lex = rules.Lexicon(load_cues(cues_path), load_gazetteer(gazetteer_path))

    def __call__(self, doc: Doc) -> Doc:
        lex = self.lex
        ctx = rules.article_context(doc, lex)
        state: dict = {"last_person": None, "quote_speaker": None}
        out: list[dict] = []
        sents = list(doc.sents)
        quote_flags, state["quoted"] = self._quotes(doc, sents)
        # people named in each sentence (by sentence start), found once for the whole article
        starts = [sn.start for sn in sents]
        state["person_spans"], state["person_ents"] = {}, {}
        for key, spans in (("person_spans", ctx.person_spans), ("person_ents", [e for e in doc.ents if e.label_ == "PERSON"])):
            for sp in spans:
                state[key].setdefault(starts[bisect_right(starts, sp.start) - 1], []).append(sp)
        forward = self._forward_speakers(sents, quote_flags, ctx, state)
        for n, sent in enumerate(sents):
            new_paragraph = sent.start > 0 and ("\n" in doc[sent.start - 1].whitespace_ or "\n" in doc[sent.start - 1].text)
            frame = state.get("time_frame")
            state["frame_text"] = frame[1] if frame and n - frame[0] <= 3 else None
            if new_paragraph:
                state["quote_speaker"] = None
            state["in_quote"] = quote_flags[n]
            if forward.get(n) is not None:
                state["quote_speaker"] = forward[n]
            if rules.sentence_has_trigger(sent, lex) and not rules.has_negative_context(sent, lex):
                context = [sents[k] for k in (n - 1, n + 1) if 0 <= k < len(sents) and _same_paragraph(sents[k], sent)]
                out.extend(self._sentence_claims(sent, ctx, state, context))
            self._update_state(sent, ctx, state)
            if mentions_time(sent.text):
                state["time_frame"] = (n, sent.text)
        doc._.claims = out
        return doc

    @staticmethod
    def _quotes(doc: Doc, sents: list[Span]) -> tuple[list[bool], set[int]]:
        """Per sentence: does it start inside an open quotation? And the tokens inside quotation marks."""
        flags = []
        quoted: set[int] = set()
        in_quote = False
        for sent in sents:
            if sent.start > 0 and ("\n" in doc[sent.start - 1].whitespace_ or "\n" in doc[sent.start - 1].text):
                in_quote = False
            flags.append(in_quote or sent.text.lstrip()[:1] in ('"', "“"))
            for t in sent:
                if t.text == '"':
                    in_quote = not in_quote
                elif t.text == "“":
                    in_quote = True
                elif t.text == "”":
                    in_quote = False
                elif in_quote:
                    quoted.add(t.i)
        return flags, quoted

    def _forward_speakers(self, sents: list[Span], flags: list[bool], ctx: rules.ArticleContext,
                          state: dict) -> dict[int, rules.Source | None]:
        """A quotation attributed at its end ('"...," Shekau said.') gives its earlier sentences a speaker."""
        out: dict[int, rules.Source | None] = {}
        n = 0
        while n < len(sents):
            if not flags[n]:
                n += 1
                continue
            run = [n]
            j = n
            while j + 1 < len(sents) and flags[j + 1] and len(run) < 6:
                j += 1
                run.append(j)
            speaker = None
            for k in (run[-1], run[-1] + 1):
                if k >= len(sents) or speaker is not None:
                    continue
                for t in sents[k]:
                    if t.i in state["quoted"]:
                        continue  # "Allah said we should not," AFP reported Shekau as saying
                    if t.pos_ == "VERB" and rules.lem(t) in ("say", "tell", "add", "continue", "write", "quote", "report"):
                        subj = rules.subject_of(t)
                        as_obj = next((c for c in t.children if c.dep_ == "dobj"), None)
                        if as_obj is not None and any(c.dep_ == "prep" and c.lower_ == "as" for c in t.children):
                            subj = as_obj
                        if subj is not None:
                            src = rules.resolve_source(subj, ctx, state, self.lex)
                            if src.kind != "outlet":
                                speaker = src
                                break
            for k in run:
                out[k] = speaker
            n = j + 1
        return out

    def _sentence_claims(self, sent: Span, ctx: rules.ArticleContext, state: dict,
                         context: list[Span] = ()) -> list[dict]:
        lex = self.lex
        found, mediator, venue = rules.sentence_actors(sent, ctx, lex)
        parties = None
        claims: list[dict] = []
        for trig, cls in rules.find_triggers(sent, lex, context=context):
            p = rules.analyse(trig, cls, lex)
            status = rules.decide_status(p, sent, lex)
            if status is None:
                continue
            scope = rules.time_scope(p)
            if status not in POSITIONS and rules.is_background(p, scope, lex):
                continue
            if parties is None:
                parties = rules.choose_parties(found, ctx, sent, lex) or []
            if not parties:
                continue
            if rules.talks_with_outsider(p, parties, mediator, ctx, lex):
                continue  # "Russia and China signed a gas deal": not the conflict's talks
            att = rules.attribute(p, sent, ctx, state, lex)
            if att.anonymous and att.counter is None:
                continue
            src = att.source
            if src is not None and src.kind == "outlet":
                src = None
            if att.invert:
                if status in ("no_deal", "denied", "rejected"):
                    pass
                elif status in DENIAL_OF:
                    status = DENIAL_OF[status]
                else:
                    continue
            if src is None and not att.article_voice and trig.i in state["quoted"] and state.get("quote_speaker"):
                src = state["quote_speaker"]
            if status in POSITIONS:
                if src is None or src.kind == "outlet":
                    src = rules.subject_actor(p, ctx, state, lex)
                if src is None or src.kind == "outlet" or (src.kind == "name" and src.code not in parties):
                    continue  # (a name kept: "its deputy leader", of a party)
                if src.code and src.code not in parties and src.kind != "person":
                    continue
                if src.kind == "person" and src.code and src.code not in parties:
                    continue
            topic = rules.decide_topic(p, sent, lex)
            base = {
                "parties": list(parties),
                "status": status,
                "topic": topic,
                "mediator": mediator if mediator not in parties else None,
                "venue": venue or rules.venue_of(p, parties, ctx),
                "hedged": rules.is_hedged(sent, lex),
                "evidence": sent.text.strip(),
                "time_text": scope,
                # a past event told without a date takes the period of the last dated sentence, up to
                # three sentences back ("... a commission in 2013. [...] But nothing materialised from the talks.")
                "context_time_text": state.get("frame_text") if p.past else None,
                "start_char": sent.start_char,
                "end_char": sent.end_char,
                "trigger": trig.text,
                "cls": cls,
                "future": p.future,
            }
            if topic == "peace_deal" and any(c.dep_ == "det" and c.lower_ in ("these", "those", "such", "the", "no", "any")
                                             for c in trig.children):
                topic = state.get("last_topic", {}).get(tuple(parties), topic)
                base["topic"] = topic
            state.setdefault("last_topic", {})[tuple(parties)] = topic
            own = att.source is None and not att.article_voice
            dated = rules.dated_participles(p, lex)
            if dated and not mentions_time(scope):
                base["participle_time_text"] = dated[0][1]  # the collapse of "talks held in March 2022" is no news of now
            if not att.anonymous:
                claims.append({**base, "source": _src_dict(src), "_own": own})
            for extra in rules.conj_statuses(p, lex) if not att.anonymous else ():
                claims.append({**base, "status": extra, "source": _src_dict(src), "_own": own})
            for extra, when in dated if not (att.anonymous or att.invert) else ():
                if extra != status:  # "talks held in Istanbul in March 2022 had collapsed": they were held then, too
                    claims.append({**base, "status": extra, "time_text": when, "context_time_text": None,
                                   "future": False, "source": _src_dict(src), "_own": own})
            if att.counter is not None and status in DENIAL_OF:
                claims.append({**base, "status": DENIAL_OF[status], "hedged": base["hedged"],
                               "source": _src_dict(att.counter), "_own": False})
        # one sentence, one voice: a state read in the sentence's own voice takes the source
        # that the sentence names for its other claims
        named = [c["source"] for c in claims if not c["_own"] and c["source"] is not None]
        for c in claims:
            own = c.pop("_own")
            if own and c["source"] is None and named and c["status"] not in POSITIONS:
                c["source"] = named[0]
        return claims

    def _update_state(self, sent: Span, ctx: rules.ArticleContext, state: dict) -> None:
        lex = self.lex
        quoted = state["quoted"]
        # the last person the sentence names outside quotation marks (a gazetteer person, else a PERSON entity
        # that does not start inside one); only that one is resolved
        last: tuple[int, Span, bool] | None = None
        for sp in state["person_spans"].get(sent.start, ()):
            if sp.start not in quoted and (last is None or sp.start > last[0]):
                last = (sp.start, sp, True)
        for ent in state["person_ents"].get(sent.start, ()):
            if ent.start in quoted or (last is not None and ent.start <= last[0]):
                continue
            a = ctx.actor_at.get(ent.start)
            if a and a[1]:
                continue
            last = (ent.start, ent, False)
        person = None
        if last is not None and last[2]:
            sp = last[1]
            code, name = ctx.actor_at[sp.start][0], ctx.actor_at[sp.start][1]
            person = rules.resolve_source(sp.root, ctx, state, lex)
            if person.kind != "person":
                person = rules.Source("person", name, rules.slugify(name), None, code)
        elif last is not None:
            name = rules.clean_person(last[1], lex)
            if " " not in name:
                name = ctx.people.get(name.lower(), name)
            if name:
                person = rules.Source("person", name, rules.slugify(name))
        speaker = self._speaker(sent, ctx, state)
        if speaker is not None:
            state["last_speaker"] = speaker
            if speaker.kind in ("name", "org") and speaker.code is None:
                state["last_outlet"] = speaker  # what "the newspaper" will refer to
        if person is not None:
            state["last_person"] = person
        text = sent.text
        if (speaker or person) is not None and ('"' in text or "“" in text or "”" in text or state.get("in_quote")):
            state["quote_speaker"] = speaker or person

    def _speaker(self, sent: Span, ctx: rules.ArticleContext, state: dict) -> rules.Source | None:
        """Who speaks in this sentence: the named subject of its first speech verb outside quotation marks."""
        for t in sent:
            if t.i in state["quoted"] or t.pos_ != "VERB" or rules.lem(t) not in self.lex.speech_verbs:
                continue
            subj = rules.subject_of(t)
            as_obj = next((c for c in t.children if c.dep_ == "dobj"), None)
            if as_obj is not None and any(c.dep_ == "prep" and c.lower_ == "as" for c in t.children):
                subj = as_obj  # "AFP reported Shekau as saying"
            if subj is None:
                continue
            src = rules.resolve_source(subj, ctx, state, self.lex)
            if src.kind == "outlet":
                src = rules.cited_outlet(t, ctx) or src
            if src.kind != "outlet":
                return src
        for t in sent:  # "..., according to the Houthi-run Al-Masirah TV."
            if t.lower_ == "according" and t.i + 1 < sent.end and t.nbor(1).lower_ == "to" and t.i not in state["quoted"]:
                obj = next((c for c in t.nbor(1).children if c.dep_ == "pobj"), None)
                if obj is not None:
                    src = rules.resolve_source(obj, ctx, state, self.lex)
                    if src.kind != "outlet":
                        return src
        return None


def _same_paragraph(a: Span, b: Span) -> bool:
    first, second = (a, b) if a.start < b.start else (b, a)
    between = first.doc[first.end - 1:second.start]
    return not any("\n" in t.text or "\n" in t.whitespace_ for t in between)


def _src_dict(src: rules.Source | None) -> dict | None:
    if src is None or src.kind == "outlet":
        return None
    return {"kind": src.kind, "name": src.name, "key": src.key, "org": src.org, "code": src.code}


@Language.factory(
    "talkwatch_claims",
    assigns=["doc._.claims"],
    requires=["token.dep", "token.lemma", "doc.sents", "doc.spans"],
    default_config={"gazetteer_path": None, "cues_path": None},
)
def make_claims(nlp: Language, name: str, *, gazetteer_path: str | None = None,
                cues_path: str | None = None) -> ClaimExtractor:
    return ClaimExtractor(gazetteer_path=gazetteer_path, cues_path=cues_path)
