"""Family 3, parties: which sides a claim is about (SPEC section 3), chosen among the pairs of actors
the sentence and the article name, and the conflicts' usual sides (`dyads` of actors.yaml, and the
dyads of the training corpus that `talkwatch train` counts)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

from pipeline.extract.context import ArticleContext
from pipeline.extract.records import Candidate, Features, PartyOption
from pipeline.extract.resources import Gazetteer

MAX_ARTICLE_ACTORS = 6


@dataclass
class DyadPrior:
    """How often each pair of parties is a gold claim's in the training corpus, and each code's partners."""

    counts: dict[tuple[str, ...], float]
    partners: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, counts: dict[tuple[str, ...], float]) -> DyadPrior:
        partners: dict[str, set[str]] = {}
        for d in counts:
            for x in d:
                partners.setdefault(x, set()).update(d)
        return cls(counts=dict(counts), partners=partners)


def party_options(cand: Candidate, ctx: ArticleContext, gaz: Gazetteer, dyad_prior: DyadPrior,
                  mediation_words: frozenset[str]) -> list[PartyOption]:
    """The candidate pairs of sides for the claims of a sentence, each with its features."""
    in_sent: dict[str, int] = {}
    mediated: set[str] = set()
    for m in ctx.by_sent[cand.sent_index]:
        in_sent[m.code] = in_sent.get(m.code, 0) + 1
        before = ctx.doc[max(cand.start, m.start - 3):m.start]
        if any(t.lemma_.lower() in mediation_words or t.lower_ in mediation_words for t in before):
            mediated.add(m.code)
        after = ctx.doc[m.end:min(cand.end, m.end + 2)]
        if any(t.lower_.lstrip("-") in mediation_words for t in after):  # "Qatar-brokered", "Qatar mediated"
            mediated.add(m.code)
    rank = ctx.rank
    core = set(in_sent) | {c for c, _ in ctx.counts.most_common(3)}
    pool = core | {c for c, _ in ctx.counts.most_common(MAX_ARTICLE_ACTORS)}
    for code in core:
        for d in gaz.dyads_of(code):
            pool.update(d)
        pool.update(dyad_prior.partners.get(code, ()))
    known = gaz.dyad_set
    title_codes = {m.code for m in ctx.mentions if m.start < ctx.title_end}
    options = []
    for a, b in combinations(sorted(pool), 2):
        if a not in core and b not in core:
            continue  # neither side is named in the sentence or leads the article
        pair = (a, b)
        f: Features = {"bias": 1.0}
        prior = dyad_prior.counts.get(pair, 0.0)
        known_pair = pair in known or prior > 0
        if known_pair:
            f["known_dyad"] = 1.0
        sides_sent = sum(1 for x in pair if x in in_sent)
        sides_art = sum(1 for x in pair if x in ctx.counts)
        f[f"in_sent={sides_sent}"] = 1.0
        f[f"in_article={sides_art}"] = 1.0
        f[f"in_sent={sides_sent}|known={known_pair}"] = 1.0
        ranks = sorted(rank.get(x, 99) for x in pair)
        f[f"best_rank={min(ranks[0], 4)}"] = 1.0
        f[f"worst_rank={min(ranks[1], 6)}"] = 1.0
        kinds = sorted(gaz.actors[x].kind if x in gaz.actors else "state" for x in pair)
        f[f"kinds={'+'.join(kinds)}"] = 1.0
        f["share"] = sum(ctx.counts.get(x, 0) for x in pair) / max(1, sum(ctx.counts.values()))
        together = ctx.pair_sentences.get(pair, 0)
        f["together"] = math.log1p(together)
        f[f"together={min(together, 3)}"] = 1.0
        if title_codes and all(x in title_codes for x in pair):
            f["both_in_title"] = 1.0

        for x in pair:
            if x in mediated:
                f["mediated_side"] = 1.0
            if x not in ctx.counts:
                f["unnamed_side"] = 1.0
                f[f"unnamed_side|in_sent={sides_sent}"] = 1.0
            if x in ctx.first_at and ctx.first_at[x] <= 1:
                f["side_in_lead"] = f.get("side_in_lead", 0.0) + 1.0
        options.append(PartyOption(parties=pair, features=f))
    _relative(options)
    return options


def _relative(options: list[PartyOption]) -> None:
    """What an option has over the others: the most named pair, the pair most named together, the best-named
    known pair (a pointwise model cannot compare options by itself)."""
    for name in ("share", "together"):
        top = max((o.features.get(name, 0.0) for o in options), default=0.0)
        for o in options:
            if top and o.features.get(name, 0.0) == top:
                o.features[f"best_{name}"] = 1.0
    def sent(o: PartyOption) -> int:
        return next((int(k.split("=")[1]) for k in o.features if k.startswith("in_sent=") and "|" not in k), 0)
    known = [o for o in options if o.features.get("known_dyad")]
    if known:
        top = max(sent(o) for o in known)
        best = [o for o in known if sent(o) == top]
        top_share = max(o.features["share"] for o in best)
        for o in best:
            o.features["best_known_in_sent"] = 1.0
            if o.features["share"] == top_share:
                o.features["rule_choice"] = 1.0


def rule_parties(options: list[PartyOption]) -> PartyOption | None:
    """The rule baseline: a known conflict's pair, most of it named in the sentence, then in the article."""
    def score(o: PartyOption) -> tuple:
        f = o.features
        sent = next((int(k.split("=")[1]) for k in f if k.startswith("in_sent=") and "|" not in k), 0)
        return (f.get("known_dyad", 0.0) > 0, sent, f.get("share", 0.0))
    return max(options, key=score, default=None)
