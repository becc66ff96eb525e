"""The claims component's work on one doc: find candidates and their options, decide each claim's
fields with the trained models (or a rule, where the rule won on held-out data), set `doc._.claims`.

Training (`pipeline.extract.learn`) builds its examples with the same `featurize` and the same option
features, so that a model sees at run time exactly what it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pipeline.extract.context import ArticleContext
from pipeline.extract.linear import Calibrator, LinearModel
from pipeline.extract.parties import DyadPrior, party_options, rule_parties
from pipeline.extract.predicate import denial, governing_verb, rule_status, status_features
from pipeline.extract.records import Candidate, Features, PartyOption, RawClaim, SourceOption
from pipeline.extract.resources import Gazetteer, Lexicon
from pipeline.extract.sources import rule_source, sentence_speaker, source_options
from pipeline.extract.topics import hedge_features, rule_hedged, rule_topic, topic_features
from pipeline.extract.triggers import find_candidates

MODEL_DIR = Path(__file__).resolve().parent / "models"
NONE = "none"
STATUS_FLOOR = 0.03  # a status less likely than this is not considered at all
POSITIONS = frozenset({"proposed", "accepted", "rejected"})
DENIALS = frozenset({"denied", "no_deal"})
# what a denial contradicts (SPEC 5): a source denying talks does not report them in the same sentence
DENIED_BY = {"denied": frozenset({"planned", "ongoing", "held", "agreed", "stalled", "collapsed"}),
             "no_deal": frozenset({"agreed"})}


def status_kind(status: str) -> str:
    return "position" if status in POSITIONS else "denial" if status in DENIALS else "state"


@dataclass
class SentenceFeatures:
    """A candidate sentence with everything the decisions read (parties need the dyad prior: see `decide`)."""

    cand: Candidate
    status: Features
    sources: list[SourceOption]
    hedge: Features
    topic: Features


def featurize(ctx: ArticleContext, lex: Lexicon, gaz: Gazetteer, words: frozenset[str]) -> list[SentenceFeatures]:
    out = []
    last_speaker: SourceOption | None = None
    cands = {c.sent_index: c for c in find_candidates(ctx, words)}
    for n, sent in enumerate(ctx.sents):
        cand = cands.get(n)
        if cand is not None:
            sf = status_features(cand, ctx, lex)
            out.append(SentenceFeatures(cand=cand, status=sf, sources=source_options(cand, ctx, gaz, lex, last_speaker),
                                        hedge=hedge_features(cand, ctx, lex), topic=topic_features(cand, ctx, sf)))
        speaker = sentence_speaker(sent, ctx, gaz, lex)
        if speaker is not None:
            last_speaker = speaker
    return out


def source_rows(options: list[SourceOption], status: str, parties: tuple[str, ...]) -> list[Features]:
    """The source model's rows: each option's features, and the same crossed with the claim's kind of status
    and with whether the option is one of its parties (positions belong to a party, SPEC 5a)."""
    kind = status_kind(status)
    rows = []
    for o in options:
        f = dict(o.features)
        is_party = o.code is not None and o.code in parties
        if is_party:
            f["is_party"] = 1.0
        elif o.code is not None:
            f["not_party"] = 1.0
        for k, v in list(f.items()):
            f[f"{k}|{kind}"] = v
        f["bias"] = 1.0
        rows.append(f)
    return rows


def topic_row(base: Features, status: str) -> Features:
    return {**base, f"status={status}": 1.0}


@dataclass
class Models:
    """The trained artefacts of `models/` (see its manifest.json), and which decisions use rules instead."""

    status: LinearModel
    parties: LinearModel
    source: LinearModel
    topic: LinearModel
    hedge: LinearModel
    calibrator: Calibrator
    dyad_prior: DyadPrior
    manifest: dict = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return float(self.manifest.get("claim_threshold", 0.5))

    @property
    def denial_threshold(self) -> float:
        """Denials have a threshold of their own: few, and every contradiction needs one."""
        return float(self.manifest.get("denial_threshold", self.threshold))

    @property
    def denial_precision(self) -> float:
        """How often a sentence the denial rule reads held that denial among its article's gold claims."""
        return float(self.manifest.get("denial_precision", 0.0))

    def uses_rule(self, decision: str) -> bool:
        return self.manifest.get("decisions", {}).get(decision) == "rules"

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> Models:
        manifest_path = directory / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"no trained models in {directory}: run `talkwatch train`")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        prior = DyadPrior.from_counts({tuple(k.split("|")): float(v) for k, v in manifest.get("dyad_prior", {}).items()})
        return cls(
            status=LinearModel.load(directory / "status.npz"),
            parties=LinearModel.load(directory / "parties.npz"),
            source=LinearModel.load(directory / "source.npz"),
            topic=LinearModel.load(directory / "topic.npz"),
            hedge=LinearModel.load(directory / "hedge.npz"),
            calibrator=Calibrator.load(directory / "calibration.npz"),
            dyad_prior=prior,
            manifest=manifest,
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("status", "parties", "source", "topic", "hedge"):
            getattr(self, name).save(directory / f"{name}.npz")
        self.calibrator.save(directory / "calibration.npz")
        manifest = {**self.manifest, "dyad_prior": {"|".join(k): v for k, v in sorted(self.dyad_prior.counts.items())}}
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def ranked_statuses(probs: np.ndarray, classes: list[str], floor: float, k: int = 2) -> list[tuple[int, str, float]]:
    """A sentence's k most likely statuses other than none, as (rank, status, probability), those above `floor`."""
    ranked = [(str(classes[j]), float(probs[j])) for j in np.argsort(-probs, kind="stable") if classes[j] != NONE][:k]
    return [(n, st, p) for n, (st, p) in enumerate(ranked) if p >= floor]


def choose(options: list, model: LinearModel, rows: list[Features]) -> tuple[object, float]:
    probs = model.predict_proba(rows)[:, 0]
    best = int(np.argmax(probs))
    return options[best], float(probs[best])


def sentence_claims(ctx: ArticleContext, feats: list[SentenceFeatures], models: Models, lex: Lexicon, gaz: Gazetteer,
                    floor: float = STATUS_FLOOR) -> list[RawClaim]:
    """Every claim a candidate sentence may hold: its likeliest statuses, each with the chosen parties, source,
    topic and hedging, and `score` = P(status) x P(parties) x P(source)."""
    if not feats:
        return []
    probs = models.status.predict_proba([sf.status for sf in feats])
    classes = models.status.classes
    out: list[RawClaim] = []
    for sf, p in zip(feats, probs, strict=True):
        if models.uses_rule("status"):
            rule = rule_status(sf.cand, ctx, lex)
            statuses = [(0, rule, 1.0)] if rule else []
        else:
            statuses = ranked_statuses(p, classes, floor)
            said = denial(sf.cand, ctx, lex) if models.denial_precision else None
            if said is not None:  # a denial the rule reads, trusted as much as it was right in training
                learned = next((q for _, st, q in statuses if st == said), 0.0)
                statuses = [(0, said, max(learned, models.denial_precision)),
                            *((n + 1, st, q) for n, st, q in statuses if st != said)][:3]
        if not statuses:
            continue
        popts = party_options(sf.cand, ctx, gaz, models.dyad_prior, lex.mediation)
        if not popts:
            continue
        if models.uses_rule("parties"):
            party, p_party = rule_parties(popts), 1.0
        else:
            party, p_party = choose(popts, models.parties, [o.features for o in popts])
        assert isinstance(party, PartyOption)
        mediator = next((m.code for m in ctx.by_sent[sf.cand.sent_index]
                         if m.code not in party.parties and gaz.actors.get(m.code) is not None
                         and _mediated(m.start, ctx, lex)), None)
        sent = ctx.sents[sf.cand.sent_index]
        trig = ctx.doc[sf.cand.triggers[0]]
        if models.uses_rule("hedged"):  # (the sentence's, whatever its status)
            hedged = rule_hedged(sf.cand, ctx, lex)
        else:
            hedged = bool(models.hedge.predict_proba([sf.hedge])[0, 0] >= 0.5)
        text = sent.text
        modal = governing_verb(trig).tag_ == "MD"
        rule_topic_ = rule_topic(sf.cand, ctx, lex) if models.uses_rule("topic") else None
        found: list[RawClaim] = []
        sources_by_kind: dict[str, tuple[object, float]] = {}
        for rank, status, p_status in statuses:
            kind = status_kind(status)  # (the source's rows depend on the status only through its kind)
            if kind not in sources_by_kind:
                if models.uses_rule("source"):
                    sources_by_kind[kind] = rule_source(sf.sources, kind), 1.0
                else:
                    sources_by_kind[kind] = choose(sf.sources, models.source,
                                                   source_rows(sf.sources, status, party.parties))
            src, p_src = sources_by_kind[kind]
            assert isinstance(src, SourceOption)
            if rule_topic_ is not None:
                topic = rule_topic_
            else:
                tp = models.topic.predict_proba([topic_row(sf.topic, status)])[0]
                topic = models.topic.classes[int(np.argmax(tp))]
            score = p_status * p_party * p_src
            found.append(RawClaim(
                parties=list(party.parties), status=status, topic=topic,
                source=None if src.kind == "outlet" else {"kind": src.kind, "name": src.name, "key": src.key,
                                                          "org": src.org, "code": src.code},
                hedged=hedged, evidence=text.strip(), start_char=sent.start_char, end_char=sent.end_char,
                time_text=text, confidence=score, score=score, p_status=p_status, p_parties=p_party,
                p_source=p_src, mediator=mediator, trigger=trig.text, rank=rank,
                future=modal or status == "planned",
            ))
        # a source denying talks in a sentence does not also report them there: the likelier reading stays
        denials = {(claim_key(c)[2], c.status): c.score for c in found if c.status in DENIALS}
        out.extend(c for c in found if not any(
            c.status in DENIED_BY[d] and claim_key(c)[2] == key and c.score <= score for (key, d), score in denials.items()))
    return out


def claim_key(c: RawClaim) -> tuple:
    """SPEC 6's identity of a claim in an article: parties, status, source (the outlet: "")."""
    return (tuple(c.parties), c.status, c.source["key"] if c.source else "")


def aggregate(raws: list[RawClaim], threshold: float, calibrator: Calibrator | None,
              denial_threshold: float | None = None) -> list[RawClaim]:
    """One claim per key: the sentences saying it are independent pieces of evidence (its score is their
    noisy-or), read from its best sentence; kept when the score reaches `threshold` (`denial_threshold` for a
    denial); its confidence the
    calibrated score."""
    groups: dict[tuple, list[RawClaim]] = {}
    for r in raws:
        groups.setdefault(claim_key(r), []).append(r)
    out = []
    for group in groups.values():
        top = max(group, key=lambda r: r.score)
        agg = 1.0 - float(np.prod([1.0 - r.score for r in group]))
        if agg < (denial_threshold if denial_threshold is not None and top.status in DENIALS else threshold):
            continue
        out.append(replace(
            top, support=len(group), score=agg, confidence=calibrator(agg) if calibrator is not None else agg,
            venue=top.venue or next((r.venue for r in group if r.venue), None),
            mediator=top.mediator or next((r.mediator for r in group if r.mediator), None)))
    out.sort(key=lambda r: r.start_char)
    return out


def decide(ctx: ArticleContext, feats: list[SentenceFeatures], models: Models, lex: Lexicon,
           gaz: Gazetteer) -> list[RawClaim]:
    """The article's claims: every candidate sentence's, aggregated by key, kept above the trained threshold."""
    return aggregate(sentence_claims(ctx, feats, models, lex, gaz), models.threshold, models.calibrator,
                     models.denial_threshold)


def _mediated(start: int, ctx: ArticleContext, lex: Lexicon) -> bool:
    before = ctx.doc[max(0, start - 3):start]
    return any(t.lemma_.lower() in lex.mediation or t.lower_ in lex.mediation for t in before)
