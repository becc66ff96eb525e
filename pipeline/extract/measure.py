"""`talkwatch measure`: how well the learned extractor does on data it was not trained on, as markdown.

Grouped cross-validation by story over the training corpus, the held-out gold files scored by models trained
on the whole corpus, each decision learned against its rule, the learning curve and the calibration of the
claims' confidence. Claims and conflicts are scored by the shared scorer (`score.py`, SPEC 6); conflicts are
derived from the system's claims by SPEC 5 (the rule of `derive_conflicts.py`, sources compared by key).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from pipeline.extract import learn
from pipeline.extract.claims import DENIED_BY, choose, source_rows, status_kind, topic_row
from pipeline.extract.parties import party_options, rule_parties
from pipeline.extract.predicate import rule_status
from pipeline.extract.resources import Lexicon, load_cues, load_gazetteer
from pipeline.extract.sources import rule_source
from pipeline.extract.topics import rule_hedged, rule_topic

CURVE = (0.25, 0.5, 0.75, 1.0)
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0001)
CONFLICTS = DENIED_BY  # SPEC 5: what each denial contradicts
CEASEFIRES = {"ceasefire", "partial_ceasefire"}


# --------------------------------------------------------------------------------------------
# SPEC 5 on system claims (the rule of derive_conflicts.py, with the system's source keys)
# --------------------------------------------------------------------------------------------

def _topics_compatible(a: str, b: str) -> bool:
    if a == b or {a, b} <= CEASEFIRES:
        return True
    under = CEASEFIRES | {"hostages"}
    return (a == "peace_deal" and b in under) or (b == "peace_deal" and a in under)


def _periods_overlap(ta, pa: date, tb, pb: date) -> bool:
    if ta is None and tb is None:
        return abs((pa - pb).days) <= 7
    if ta is None or tb is None:
        return False
    return ta.startswith(tb) or tb.startswith(ta)


def system_conflicts(predicted: list[tuple[learn.Example, list]]) -> list[dict]:
    """Every conflicting pair of system claims (SPEC 5) across the articles, in score.py's format."""
    rows = []
    for ex, claims in predicted:
        pub = ex.article.published_date or date(1970, 1, 1)
        for c in claims:
            rows.append((ex.article.id, pub, c))
    out = []
    by_parties: dict[tuple, list] = {}
    for r in rows:
        by_parties.setdefault(tuple(r[2].parties), []).append(r)
    for group in by_parties.values():
        for i, (ida, pa, ca) in enumerate(group):
            for idb, pb, cb in group[i + 1:]:
                if ca.source_key == cb.source_key:
                    continue
                if not (cb.status in CONFLICTS.get(ca.status, ()) or ca.status in CONFLICTS.get(cb.status, ())):
                    continue
                if not _topics_compatible(ca.topic, cb.topic) or not _periods_overlap(ca.event_time, pa, cb.event_time, pb):
                    continue
                out.append({"a": {"article_id": ida, **ca.to_dict()}, "b": {"article_id": idb, **cb.to_dict()}})
    return out


# --------------------------------------------------------------------------------------------
# scoring with score.py
# --------------------------------------------------------------------------------------------

def find_scorer(corpus: Path) -> Path:
    """The shared scorer: ../eval/score.py beside the corpus folder, else where `talkwatch eval` looks."""
    from pipeline.evaluate import find_scorer as find

    beside = corpus.resolve().parent.parent / "eval" / "score.py"
    return beside if beside.is_file() else find(corpus)


def score(gold_rows: list[dict], predicted: list[tuple[learn.Example, list]], scorer: Path) -> dict:
    """score.py's measures for these predictions against these gold lines (conflicts derived from both)."""
    ids = {ex.article.id for ex, _ in predicted}
    gold = [dict(r) for r in gold_rows if r["id"] in ids]
    _derive_gold_conflicts(gold)
    claims = [{"article_id": ex.article.id, **c.to_dict()} for ex, cs in predicted for c in cs]
    with tempfile.TemporaryDirectory(prefix="talkwatch-measure-") as tmp:
        g, c, k = Path(tmp) / "gold.jsonl", Path(tmp) / "claims.jsonl", Path(tmp) / "conflicts.jsonl"
        g.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gold), encoding="utf-8")
        c.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in claims), encoding="utf-8")
        k.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in system_conflicts(predicted)),
                     encoding="utf-8")
        res = subprocess.run([sys.executable, str(scorer), str(g), str(c), str(k), "--json"],
                             capture_output=True, text=True, check=False)
    if res.returncode:
        raise RuntimeError(f"score.py failed: {res.stderr.strip()}")
    out = json.loads(res.stdout)
    out.update(_field_accuracy(predicted))
    return out


def _derive_gold_conflicts(gold: list[dict]) -> None:
    """Gold conflicts among these articles only (derive_conflicts.py's rule), so that a subset is scored fairly."""
    claims = []
    for art in gold:
        art["conflicts"] = []
        pub = date.fromisoformat(str(art["published"])[:10])
        for i, c in enumerate(art.get("claims", [])):
            claims.append((f"{art['id']}#{i}", c, pub, art))
    for n, (ra, ca, pa, arta) in enumerate(claims):
        for rb, cb, pb, _ in claims[n + 1:]:
            if sorted(ca["parties"]) != sorted(cb["parties"]) or ca["source_id"] == cb["source_id"]:
                continue
            if not (cb["status"] in CONFLICTS.get(ca["status"], ()) or ca["status"] in CONFLICTS.get(cb["status"], ())):
                continue
            if _topics_compatible(ca["topic"], cb["topic"]) and _periods_overlap(ca["event_time"], pa, cb["event_time"], pb):
                arta["conflicts"].append({"a": ra, "b": rb})


def _matched(predicted: list[tuple[learn.Example, list]]):
    """(example, system claim, its gold claim) for every correct claim (score.py's matching, greedy)."""
    for ex, claims in predicted:
        used: set[int] = set()
        for c in sorted(claims, key=lambda c: -(c.confidence or 0.0)):
            for g, gold in enumerate(ex.gold):
                if g in used or tuple(sorted(gold["parties"])) != tuple(c.parties) or gold["status"] != c.status:
                    continue
                if learn.source_matches(c.source, [gold.get("source", ""), *gold.get("source_aliases", [])]):
                    used.add(g)
                    yield ex, c, gold
                    break


def _field_accuracy(predicted) -> dict:
    n = hedged = when = 0
    for _, c, gold in _matched(predicted):
        n += 1
        hedged += bool(c.hedged) == bool(gold.get("hedged"))
        when += (c.event_time or None) == (gold.get("event_time") or None)
    return {"hedged_accuracy": hedged / n if n else 0.0, "event_time_accuracy": when / n if n else 0.0}


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One set of predictions with the models that made them (per fold for cross-validation)."""

    name: str
    predicted: list[tuple[learn.Example, list]]
    models: list = field(default_factory=list)  # (example indexes, models)
    seconds: float = 0.0


def _cv(examples, folds, cfg, lex, fraction=1.0) -> Run:
    t = time.time()
    predicted: list = []
    fitted = []
    for fold, models in learn.cross_fit(examples, folds, cfg, lex, fraction):
        predicted.extend((examples[i], learn.predict(examples[i], models, lex)) for i in fold)
        fitted.append((fold, models))
    order = {id(e): i for i, e in enumerate(examples)}
    predicted.sort(key=lambda p: order[id(p[0])])
    return Run("cv", predicted, fitted, time.time() - t)


def _row(name: str, s: dict) -> str:
    return (f"| {name} | {s['claims_precision']:.3f} | {s['claims_recall']:.3f} | **{s['claims_f1']:.3f}** | "
            f"{s['status_f1']:.3f} | {s['topic_accuracy']:.3f} | {s.get('conflicts_f1', 0.0):.3f} "
            f"({s.get('gold_conflicts', 0)} gold, {s.get('system_conflicts', 0)} system) | "
            f"{s['hedged_accuracy']:.3f} | {s['event_time_accuracy']:.3f} | {s['gold_claims']} / {s['system_claims']} |")


HEADER = ("| data | claims P | claims R | claims F1 | status F1 | topic acc. | conflicts F1 | hedged acc. | "
          "event_time acc. | gold / system claims |\n|---|---|---|---|---|---|---|---|---|---|")


def decision_table(examples: list[learn.Example], run: Run, lex: Lexicon) -> list[str]:
    """Each decision made by its model and by its rule on the held-out folds, given what precedes it in gold
    (the gold claim's sentence for status and parties; its sentence, status and parties for the source)."""
    gaz = load_gazetteer()
    tally: Counter = Counter()
    for fold, models in run.models:
        for i in fold:
            ex = examples[i]
            if not ex.feats:
                continue
            probs = models.status.predict_proba([sf.status for sf in ex.feats])
            for n, gs in ex.aligned.items():
                sf = ex.feats[n]
                ranked = [c for c in np.asarray(models.status.classes)[np.argsort(-probs[n])] if c != learn.NONE]
                rule = rule_status(sf.cand, ex.ctx, lex)
                popts = party_options(sf.cand, ex.ctx, gaz, models.dyad_prior, lex.mediation)
                for g in gs:
                    gold = ex.gold[g]
                    parties = tuple(sorted(gold["parties"]))
                    names = [gold.get("source", ""), *gold.get("source_aliases", [])]
                    tally["n"] += 1
                    tally["status_learned"] += ranked[0] == gold["status"]
                    tally["status_rule"] += rule == gold["status"]
                    if popts:
                        best, _ = choose(popts, models.parties, [o.features for o in popts])
                        tally["parties_learned"] += best.parties == parties
                        tally["parties_rule"] += rule_parties(popts).parties == parties
                    tally["parties_oracle"] += any(o.parties == parties for o in popts)
                    src, _ = choose(sf.sources, models.source, source_rows(sf.sources, gold["status"], parties))
                    tally["source_learned"] += learn.source_matches(learn.option_name(src, ex), names)
                    rs = rule_source(sf.sources, status_kind(gold["status"]))
                    tally["source_rule"] += learn.source_matches(learn.option_name(rs, ex), names)
                    tally["source_oracle"] += any(learn.source_matches(learn.option_name(o, ex), names)
                                                  for o in sf.sources)
    topic_rule = hedge_rule = topic_learned = hedge_learned = matched = 0
    model_of = {id(examples[i]): models for fold, models in run.models for i in fold}
    for ex, c, gold in _matched(run.predicted):
        n = next(k for k, sf in enumerate(ex.feats) if sf.cand.start_char == c.extra["start_char"])
        sf = ex.feats[n]
        models = model_of[id(ex)]
        matched += 1
        probs = models.topic.predict_proba([topic_row(sf.topic, c.status)])[0]
        topic_learned += models.topic.classes[int(np.argmax(probs))] == gold["topic"]
        topic_rule += rule_topic(sf.cand, ex.ctx, lex) == gold["topic"]
        hedge_learned += bool(models.hedge.predict_proba([sf.hedge])[0, 0] >= 0.5) == bool(gold.get("hedged"))
        hedge_rule += rule_hedged(sf.cand, ex.ctx, lex) == bool(gold.get("hedged"))
    n = tally["n"] or 1
    return [
        f"| status (top status of the gold claim's sentence) | {tally['status_learned'] / n:.3f} | "
        f"{tally['status_rule'] / n:.3f} | — | {tally['n']} |",
        f"| parties (pair chosen for the gold claim's sentence) | {tally['parties_learned'] / n:.3f} | "
        f"{tally['parties_rule'] / n:.3f} | {tally['parties_oracle'] / n:.3f} | {tally['n']} |",
        f"| source (given sentence, gold status and parties) | {tally['source_learned'] / n:.3f} | "
        f"{tally['source_rule'] / n:.3f} | {tally['source_oracle'] / n:.3f} | {tally['n']} |",
        f"| topic (correct claims) | {topic_learned / max(1, matched):.3f} | {topic_rule / max(1, matched):.3f} | — | "
        f"{matched} |",
        f"| hedged (correct claims) | {hedge_learned / max(1, matched):.3f} | {hedge_rule / max(1, matched):.3f} | — | "
        f"{matched} |",
    ]


def calibration(predicted: list[tuple[learn.Example, list]]) -> tuple[list[str], float]:
    """Reliability of the confidence: per bin, how many claims, their mean confidence, the share right."""
    pairs = [(c.confidence or 0.0, ok) for ex, cs in predicted for c, ok in learn.label_claims(ex, cs)]
    lines = []
    ece = 0.0
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        inside = [(p, ok) for p, ok in pairs if lo <= p < hi]
        if not inside:
            continue
        conf = float(np.mean([p for p, _ in inside]))
        acc = float(np.mean([ok for _, ok in inside]))
        ece += len(inside) / len(pairs) * abs(conf - acc)
        lines.append(f"| {lo:.1f}–{min(hi, 1.0):.1f} | {len(inside)} | {conf:.3f} | {acc:.3f} |")
    return lines, ece


def per_status(predicted: list[tuple[learn.Example, list]]) -> list[str]:
    """(parties, status) precision and recall by status: which kind of claim the extractor misses or invents."""
    tp: Counter = Counter()
    n_sys: Counter = Counter()
    n_gold: Counter = Counter()
    for ex, claims in predicted:
        sys_ps = {(tuple(c.parties), c.status) for c in claims}
        gold_ps = {(tuple(sorted(g["parties"])), g["status"]) for g in ex.gold}
        for _, st in sys_ps:
            n_sys[st] += 1
        for _, st in gold_ps:
            n_gold[st] += 1
        for _, st in sys_ps & gold_ps:
            tp[st] += 1
    lines = []
    for st in sorted(n_gold, key=lambda s: -n_gold[s]):
        p = tp[st] / n_sys[st] if n_sys[st] else 0.0
        r = tp[st] / n_gold[st] if n_gold[st] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(f"| {st} | {n_gold[st]} | {n_sys[st]} | {p:.3f} | {r:.3f} | {f:.3f} |")
    return lines


def report(corpus: Path, checks: list[Path], *, folds: int = 5, cache_dir: Path | None = None, quick: bool = False,
           log: Callable[[str], None] = print) -> str:
    from pipeline.extract import load_pipeline

    t0 = time.time()
    nlp = load_pipeline(claims=False)
    lex = Lexicon.from_cues(load_cues())
    scorer = find_scorer(corpus)
    rows = learn.read_corpus(corpus)
    log(f"parsing {corpus.name}")
    examples = learn.build_examples(rows, learn.parse(rows, nlp, cache_dir))
    cfg = learn.FitConfig()
    log(f"{folds}-fold cross-validation grouped by story")
    cv = _cv(examples, folds, cfg, lex)
    out = [f"Measured {time.strftime('%Y-%m-%d')} by `talkwatch measure` ({corpus.name}, {folds} folds grouped by "
           f"`group`; held-out files scored by models trained on all of {corpus.name}).", "", HEADER,
           _row(f"{corpus.name}, grouped {folds}-fold CV", score(rows, cv.predicted, scorer))]
    held: list[Run] = []
    if checks:
        log("fitting on the whole corpus")
        models = learn.fit(examples, cfg, lex)
        for path in checks:
            grows = learn.read_corpus(path)
            gex = learn.build_examples(grows, learn.parse(grows, nlp, cache_dir))
            run = Run(path.name, [(e, learn.predict(e, models, lex)) for e in gex])
            held.append(run)
            out.append(_row(path.name, score(grows, run.predicted, scorer)))
    out += ["", "Per status, (parties, status) pairs of the cross-validation:", "",
            "| status | gold | system | precision | recall | F1 |", "|---|---|---|---|---|---|", *per_status(cv.predicted)]
    out += ["", "Calibration of `confidence` (claims by confidence bin; right = matches a gold claim):", ""]
    for run in [replace(cv, name=f"{corpus.name} CV"), *held]:
        lines, ece = calibration(run.predicted)
        out += [f"{run.name} (expected calibration error {ece:.3f}):", "",
                "| confidence | claims | mean confidence | share right |", "|---|---|---|---|", *lines, ""]
    if quick:
        return "\n".join(out) + f"\n({time.time() - t0:.0f} s)\n"
    log("learned against rules, decision by decision")
    out += ["Each decision, learned and by rule, on the held-out folds (accuracy; oracle = the right answer is "
            "among the options):", "", "| decision | learned | rule | oracle | n |", "|---|---|---|---|---|",
            *decision_table(examples, cv, lex), ""]
    out += ["The whole extractor with one decision by its rule instead (cross-validation):", "", HEADER]
    for decision in ("status", "parties", "source"):
        log(f"cross-validation with the {decision} rule")
        rule_cfg = learn.FitConfig(decisions={**learn.RULE_DECISIONS, decision: "rules"})  # (only this one changes)
        run = _cv(examples, folds, rule_cfg, lex)
        out.append(_row(f"{decision} by rule", score(rows, run.predicted, scorer)))
    out += ["", "Learning curve (each fold trained on this share of its training stories):", "",
            "| training share | stories | claims F1 | status F1 | conflicts F1 |", "|---|---|---|---|---|"]
    n_groups = len({e.group for e in examples})
    for frac in CURVE:
        log(f"learning curve at {frac:.0%}")
        run = cv if frac == 1.0 else _cv(examples, folds, cfg, lex, frac)
        s = score(rows, run.predicted, scorer)
        out.append(f"| {frac:.0%} | ~{round(n_groups * (folds - 1) / folds * frac)} | {s['claims_f1']:.3f} | "
                   f"{s['status_f1']:.3f} | {s.get('conflicts_f1', 0.0):.3f} |")
    return "\n".join(out) + f"\n\n({time.time() - t0:.0f} s)\n"
