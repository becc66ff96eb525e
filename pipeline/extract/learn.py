"""Training and honest measurement of the extractor's learned decisions (`talkwatch train`).

A gold corpus (SPEC section 6 lines, with `group` = story) is parsed by the same pipeline that runs at
night, featurised by the same families, and aligned with its gold claims by evidence sentence. Each
decision gets its model: the status of a candidate sentence (none or one of the 11), the pair of parties
and the source (both as rankers over the options), the topic and hedging. A calibration map turns the
product of the three choice probabilities into the chance that the claim is right. Grouped
cross-validation by story measures all of it; scikit-learn is imported only here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.extract.claims import (
    DENIALS,
    NONE,
    Models,
    SentenceFeatures,
    aggregate,
    decide,
    featurize,
    sentence_claims,
    source_rows,
    topic_row,
)
from pipeline.extract.context import ArticleContext, article_context
from pipeline.extract.linear import Calibrator, LinearModel
from pipeline.extract.parties import DyadPrior, party_options
from pipeline.extract.predicate import denial
from pipeline.extract.records import Features
from pipeline.extract.resources import Lexicon, load_cues, load_gazetteer
from pipeline.extract.triggers import trigger_words
from pipeline.models import Article

logger = logging.getLogger(__name__)

# regularisation of each model (inverse strength, scikit-learn's C); chosen by grouped CV on train.jsonl
DEFAULT_C = {"status": 0.5, "parties": 1.0, "source": 0.5, "topic": 1.0, "hedge": 1.0}
SEED = 13
# the decisions whose rule beat their model on grouped cross-validation over train.jsonl (topic: 0.714 against
# 0.677 accuracy on the correct claims, `talkwatch measure`)
RULE_DECISIONS = {"topic": "rules"}


# --------------------------------------------------------------------------------------------
# the scorer's matching (score.py, SPEC 6), loaded from the shared evaluation folder
# --------------------------------------------------------------------------------------------

def _norm(s: str) -> str:
    import re

    s = re.sub(r"[^\w\s]", " ", str(s or "").lower())
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"^the ", "", s)


def source_matches(system: str, names: Iterable[str]) -> bool:
    """score.py's rule: whole-word containment either way, case- and punctuation-insensitive."""
    s = f" {_norm(system)} "
    for name in names:
        n = f" {_norm(name)} "
        if n.strip() and s.strip() and (n in s or s in n):
            return True
    return False


# --------------------------------------------------------------------------------------------
# corpus -> parsed, featurised, aligned examples
# --------------------------------------------------------------------------------------------

@dataclass
class Example:
    """One gold article: its parse, its candidate sentences' features, and which gold claims each holds."""

    article: Article
    gold: list[dict]
    group: str
    ctx: ArticleContext
    feats: list[SentenceFeatures]
    aligned: dict[int, list[int]] = field(default_factory=dict)  # feats index -> gold claim indexes
    unaligned: list[int] = field(default_factory=list)  # gold claims in no candidate sentence


def read_corpus(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r.setdefault("group", r["id"])
    return rows


def parse(rows: list[dict], nlp, cache_dir: Path | None = None) -> list:
    """Parse the articles as the nightly job does (title + text, same preparation); optionally cached."""
    from spacy.tokens import DocBin

    from pipeline.extract import prepared_docs

    articles = [Article.from_dict(r) for r in rows]
    docs = [d for d, _ in prepared_docs(articles, nlp, piece_chars=10**9)]  # (gold texts are short)
    cache = None
    if cache_dir is not None:
        key = hashlib.sha256("\x00".join([*nlp.pipe_names, nlp.meta.get("version", ""),
                                           *(d.text for d in docs)]).encode()).hexdigest()
        cache = cache_dir / f"{key[:24]}.spacy"
        if cache.is_file():
            return list(DocBin(store_user_data=True).from_disk(cache).get_docs(nlp.vocab))
    docs = list(nlp.pipe(docs, batch_size=32))
    if cache is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        db = DocBin(store_user_data=True)
        for d in docs:
            db.add(d)
        db.to_disk(cache)
    return docs


def build_examples(rows: list[dict], docs: list, lex: Lexicon | None = None) -> list[Example]:
    from pipeline.extract import article_text

    cues = load_cues()
    lex = lex or Lexicon.from_cues(cues)
    gaz = load_gazetteer()
    words = trigger_words(cues)
    out = []
    for r, doc in zip(rows, docs, strict=True):
        art = Article.from_dict(r)
        text, title_len = article_text(art)
        ctx = article_context(doc, gaz, title_len)
        feats = featurize(ctx, lex, gaz, words)
        ex = Example(article=art, gold=r.get("claims", []), group=str(r.get("group") or r["id"]), ctx=ctx, feats=feats)
        by_sent = {sf.cand.sent_index: n for n, sf in enumerate(feats)}
        for g, c in enumerate(ex.gold):
            i = text.find(c["evidence"])
            j = i + len(c["evidence"])
            hit = None
            if i >= 0:
                for n, s in enumerate(ctx.sents):
                    if s.start_char < j and s.end_char > i and n in by_sent:
                        hit = by_sent[n]
                        break
            if hit is None:
                ex.unaligned.append(g)
            else:
                ex.aligned.setdefault(hit, []).append(g)
        out.append(ex)
    return out


# --------------------------------------------------------------------------------------------
# training rows
# --------------------------------------------------------------------------------------------

def dyad_prior(examples: list[Example]) -> DyadPrior:
    """How often each pair of parties is a gold claim's (the conflicts the corpus knows)."""
    c: Counter = Counter()
    for ex in examples:
        for g in ex.gold:
            c[tuple(sorted(g["parties"]))] += 1
    return DyadPrior.from_counts(dict(c))


def _gold_names(ex: Example, g: dict) -> tuple[list[str], list[str]]:
    return [g.get("source", "")], [g.get("source", ""), *g.get("source_aliases", [])]


def option_name(opt, ex: Example) -> str:
    return ex.article.outlet if opt.kind == "outlet" else opt.name


def status_rows(examples: list[Example], model: LinearModel | None = None
                ) -> tuple[list[Features], list[str], list[float], list[str]]:
    """The status model's rows (features, label, weight, story).

    A gold file annotates each (parties, status, source) once per article, on its clearest sentence: another
    sentence saying the same thing is not annotated, so an unannotated candidate of an article with claims is
    not surely `none`. Its label is only known to be `none` or one of the article's gold statuses (a partial
    label); given a `model`, the row is split over those labels by the model's probabilities (the E step of
    EM), else it counts as `none`. Candidates of articles without claims are surely `none`."""
    X, y, w, groups = [], [], [], []
    for ex in examples:
        article_statuses = sorted({g["status"] for g in ex.gold})
        unsure = [n for n in range(len(ex.feats)) if n not in ex.aligned] if article_statuses else []
        probs = model.predict_proba([ex.feats[n].status for n in unsure]) if model is not None and unsure else None
        for n, sf in enumerate(ex.feats):
            labels = sorted({ex.gold[g]["status"] for g in ex.aligned.get(n, [])})
            if labels:
                weights = [1.0] * len(labels)
            elif probs is not None:
                allowed = [NONE, *article_statuses]
                p = probs[unsure.index(n)]
                q = np.asarray([p[model.classes.index(c)] if c in model.classes else 0.0 for c in allowed])
                q = q / q.sum() if q.sum() > 0 else np.asarray([1.0] + [0.0] * (len(allowed) - 1))
                labels, weights = [c for c, v in zip(allowed, q, strict=True) if v >= 0.01], [float(v) for v in q if v >= 0.01]
            else:
                labels, weights = [NONE], [1.0]
            for lab, wt in zip(labels, weights, strict=True):
                X.append(sf.status)
                y.append(lab)
                w.append(wt)
                groups.append(ex.group)
    return X, y, w, groups


def fit_status(examples: list[Example], C: float, rounds: int = 2) -> LinearModel:
    """The status model, by EM over the partial labels of unannotated sentences (see `status_rows`)."""
    model = None
    for _ in range(rounds + 1):
        X, y, w, _ = status_rows(examples, model)
        model = fit_linear(X, y, C, sample_weight=w)
    return model


def party_rows(examples: list[Example], prior, mediation) -> tuple[list[Features], list[int], list[str]]:
    X, y, groups = [], [], []
    gaz = load_gazetteer()
    for ex in examples:
        for n, gs in ex.aligned.items():
            want = {tuple(sorted(ex.gold[g]["parties"])) for g in gs}
            opts = party_options(ex.feats[n].cand, ex.ctx, gaz, prior, mediation)
            if not any(o.parties in want for o in opts):
                continue  # the gold pair is not among the options: nothing to learn from
            for o in opts:
                X.append(o.features)
                y.append(int(o.parties in want))
                groups.append(ex.group)
    return X, y, groups


def source_labels(ex: Example, options, g: dict) -> list[int]:
    canonical, names = _gold_names(ex, g)
    exact = [int(source_matches(option_name(o, ex), canonical)) for o in options]
    if any(exact):
        return exact
    return [int(source_matches(option_name(o, ex), names)) for o in options]


def source_rows_for(examples: list[Example]) -> tuple[list[Features], list[int], list[str]]:
    X, y, groups = [], [], []
    for ex in examples:
        for n, gs in ex.aligned.items():
            opts = ex.feats[n].sources
            for g in gs:
                gold = ex.gold[g]
                labels = source_labels(ex, opts, gold)
                if not any(labels):
                    continue
                X.extend(source_rows(opts, gold["status"], tuple(sorted(gold["parties"]))))
                y.extend(labels)
                groups.extend([ex.group] * len(opts))
    return X, y, groups


def claim_rows(examples: list[Example], kind: str) -> tuple[list[Features], list, list[str]]:
    X, y, groups = [], [], []
    for ex in examples:
        for n, gs in ex.aligned.items():
            sf = ex.feats[n]
            for g in gs:
                gold = ex.gold[g]
                if kind == "topic":
                    X.append(topic_row(sf.topic, gold["status"]))
                    y.append(gold["topic"])
                else:
                    X.append(sf.hedge)
                    y.append(int(bool(gold.get("hedged"))))
                groups.append(ex.group)
    return X, y, groups


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------

def _vocab(rows: list[Features], min_count: int = 2) -> dict[str, int]:
    c: Counter = Counter(k for r in rows for k in r)
    names = sorted(k for k, n in c.items() if n >= min_count)
    return {k: i for i, k in enumerate(names)}


def _matrix(rows: list[Features], index: dict[str, int]):
    from scipy.sparse import csr_matrix

    data, cols, ptr = [], [], [0]
    for r in rows:
        for k, v in r.items():
            j = index.get(k)
            if j is not None:
                cols.append(j)
                data.append(v)
        ptr.append(len(cols))
    return csr_matrix((np.asarray(data, dtype=np.float64), np.asarray(cols, dtype=np.int64), np.asarray(ptr)),
                      shape=(len(rows), len(index)))


def fit_linear(rows: list[Features], labels: list, C: float, *, binary: bool = False,
               sample_weight: list[float] | None = None) -> LinearModel:
    """Logistic regression (L2, lbfgs): deterministic for the same rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    index = _vocab(rows)
    X = _matrix(rows, index)
    y = np.asarray(labels)
    if len(set(labels)) < 2:  # a degenerate fold: a constant model
        const = 8.0 if (labels and labels[0]) else -8.0
        classes = ["1"] if binary else sorted({str(v) for v in labels})
        return LinearModel(classes=classes, index={}, coef=np.zeros((1 if binary else len(classes), 0)),
                           intercept=np.full(1 if binary else len(classes), const if binary else 0.0))
    clf = LogisticRegression(C=C, max_iter=3000, solver="saga", tol=1e-3, random_state=SEED)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, y, sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    for w in caught:  # saga stops at max_iter on a few folds; the fit is still deterministic
        logger.debug("%s", w.message)
    classes = [str(c) for c in clf.classes_]
    if binary:
        return LinearModel(classes=["1"], index=index, coef=clf.coef_[-1:].copy(), intercept=clf.intercept_[-1:].copy())
    return LinearModel(classes=classes, index=index, coef=clf.coef_.copy(), intercept=clf.intercept_.copy())


def fit_isotonic(scores: list[float], correct: list[int]) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    if len(set(correct)) < 2:
        return Calibrator(x=np.asarray([0.0, 1.0]), y=np.asarray([float(correct[0]) if correct else 0.5] * 2))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.asarray(scores), np.asarray(correct, dtype=float))
    return Calibrator(x=np.asarray(iso.X_thresholds_), y=np.asarray(iso.y_thresholds_))


def group_folds(examples: list[Example], k: int, seed: int = SEED) -> list[list[int]]:
    """k folds of example indexes, whole stories (`group`) to one fold, balanced by claims (deterministic)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex.group].append(i)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda g: -sum(len(examples[i].gold) + 1 for i in groups[g]))
    folds: list[list[int]] = [[] for _ in range(k)]
    load = [0] * k
    for g in names:
        j = min(range(k), key=lambda n: (load[n], n))
        folds[j].extend(groups[g])
        load[j] += sum(len(examples[i].gold) + 1 for i in groups[g])
    return [sorted(f) for f in folds]


@dataclass
class FitConfig:
    C: dict = field(default_factory=lambda: dict(DEFAULT_C))
    # decision -> "rules" where the rule won on grouped cross-validation (pipeline/extract/README.md)
    decisions: dict = field(default_factory=lambda: dict(RULE_DECISIONS))
    calibrate_folds: int = 4
    em_rounds: int = 2


def _fit_models(examples: list[Example], cfg: FitConfig, lex: Lexicon) -> Models:
    prior = dyad_prior(examples)
    status = fit_status(examples, cfg.C["status"], cfg.em_rounds)
    X, y, _ = party_rows(examples, prior, lex.mediation)
    parties = fit_linear(X, y, cfg.C["parties"], binary=True)
    X, y, _ = source_rows_for(examples)
    source = fit_linear(X, y, cfg.C["source"], binary=True)
    X, y, _ = claim_rows(examples, "topic")
    topic = fit_linear(X, y, cfg.C["topic"])
    X, y, _ = claim_rows(examples, "hedge")
    hedge = fit_linear(X, y, cfg.C["hedge"], binary=True)
    return Models(status=status, parties=parties, source=source, topic=topic, hedge=hedge,
                  calibrator=Calibrator(x=np.asarray([]), y=np.asarray([])), dyad_prior=prior,
                  manifest={"decisions": dict(cfg.decisions), "claim_threshold": 0.0,
                            "denial_precision": denial_precision(examples, lex)})


def denial_precision(examples: list[Example], lex: Lexicon) -> float:
    """The share of sentences the denial rule reads whose denial is among their article's gold claims
    (annotators mark each claim once per article, on one sentence); smoothed towards 0.5 by one each way."""
    fired = right = 0
    for ex in examples:
        statuses = {g["status"] for g in ex.gold}
        for sf in ex.feats:
            said = denial(sf.cand, ex.ctx, lex)
            if said is not None:
                fired += 1
                right += said in statuses
    return round((right + 1) / (fired + 2), 4)


def fit(examples: list[Example], cfg: FitConfig | None = None, lex: Lexicon | None = None) -> Models:
    """Train every model on the examples; choose the claim thresholds and fit the calibration map on
    out-of-fold predictions of an inner grouped cross-validation (so neither sees its own training data)."""
    cfg = cfg or FitConfig()
    lex = lex or Lexicon.from_cues(load_cues())
    inner: list[tuple[Example, list]] = []
    for fold in group_folds(examples, cfg.calibrate_folds):
        held = set(fold)
        models = _fit_models([e for i, e in enumerate(examples) if i not in held], cfg, lex)
        for i in fold:
            inner.append((examples[i], aggregate(predict_raw(examples[i], models, lex), 0.0, None)))
    threshold, denial_threshold = choose_thresholds(inner)
    models = _fit_models(examples, cfg, lex)
    models.manifest.update({"claim_threshold": threshold, "denial_threshold": denial_threshold})
    scored = [(c.extra["score"], ok) for ex, raws in inner
              for c, ok in label_claims(ex, kept_claims(ex, raws, threshold, denial_threshold))]
    models.calibrator = fit_isotonic([s for s, _ in scored], [ok for _, ok in scored])
    return models


# --------------------------------------------------------------------------------------------
# prediction and scoring
# --------------------------------------------------------------------------------------------

def predict(ex: Example, models: Models, lex: Lexicon) -> list:
    """The article's claims as the nightly job would store them (completed and merged)."""
    from pipeline.extract import EXTRACTOR_VERSION, article_text
    from pipeline.extract.consolidate import complete, merge

    raws = decide(ex.ctx, ex.feats, models, lex, load_gazetteer())
    _, title_len = article_text(ex.article)
    return merge([complete(ex.article, r, EXTRACTOR_VERSION) for r in raws], title_len)


def label_claims(ex: Example, claims: list) -> list[tuple[object, int]]:
    """Each system claim with 1 when it matches a gold claim of its article as score.py matches
    (parties, status, source name or alias; each gold claim once), else 0."""
    used: set[int] = set()
    out = []
    for c in sorted(claims, key=lambda c: -(c.confidence or 0.0)):
        hit = 0
        for g, gold in enumerate(ex.gold):
            if g in used or tuple(sorted(gold["parties"])) != tuple(c.parties) or gold["status"] != c.status:
                continue
            if source_matches(c.source, [gold.get("source", ""), *gold.get("source_aliases", [])]):
                used.add(g)
                hit = 1
                break
        out.append((c, hit))
    return out


def _gold_keys(ex: Example, statuses: frozenset[str] | None = None) -> int:
    return len({(tuple(sorted(g["parties"])), g["status"], _norm(g.get("source", ""))) for g in ex.gold
                if statuses is None or g["status"] in statuses})


def kept_claims(ex: Example, keys: list, threshold: float, denial_threshold: float | None = None) -> list:
    """The article's claims (one per key, see `claims.aggregate`) whose score reaches the threshold (a denial's
    own, when given), completed and merged as at night."""
    from pipeline.extract import EXTRACTOR_VERSION, article_text
    from pipeline.extract.consolidate import complete, merge

    _, title_len = article_text(ex.article)
    dt = threshold if denial_threshold is None else denial_threshold
    kept = [r for r in keys if r.score >= (dt if r.status in DENIALS else threshold)]
    return merge([complete(ex.article, r, EXTRACTOR_VERSION) for r in kept], title_len)


def _best_threshold(labelled: list[tuple[float, int]], n_gold: int) -> float:
    best = (-1.0, 0.5)
    for t in np.arange(0.02, 0.9, 0.01):
        kept = [ok for score, ok in labelled if score >= t]
        f1 = 2 * sum(kept) / (len(kept) + n_gold) if kept or n_gold else 0.0
        if f1 > best[0] + 1e-9:
            best = (f1, round(float(t), 2))
    return best[1]


def choose_thresholds(predicted: list[tuple[Example, list]]) -> tuple[float, float]:
    """The claim threshold that maximises claims F1 over out-of-fold predictions (one per key), and the one
    that maximises the F1 of denials alone (few, and what every contradiction needs), on a grid."""
    labelled = [(c.extra["score"], ok, c.status in DENIALS) for ex, keys in predicted
                for c, ok in label_claims(ex, kept_claims(ex, keys, 0.0))]
    n_gold = sum(_gold_keys(ex) for ex, _ in predicted)
    n_denials = sum(_gold_keys(ex, DENIALS) for ex, _ in predicted)
    threshold = _best_threshold([(s, ok) for s, ok, _ in labelled], n_gold)
    denial = _best_threshold([(s, ok) for s, ok, d in labelled if d], n_denials) if n_denials else threshold
    return threshold, denial


def predict_raw(ex: Example, models: Models, lex: Lexicon) -> list:
    """Every candidate sentence's claims, before aggregation and threshold."""
    return sentence_claims(ex.ctx, ex.feats, models, lex, load_gazetteer())



# --------------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------------

def cross_fit(examples: list[Example], k: int = 5, cfg: FitConfig | None = None, lex: Lexicon | None = None,
              fraction: float = 1.0):
    """Grouped k-fold cross-fitting: yields (held-out example indexes, models fit on the other stories).
    `fraction` < 1 trains each fold on that share of its training stories (the learning curve)."""
    lex = lex or Lexicon.from_cues(load_cues())
    for n, fold in enumerate(group_folds(examples, k)):
        held = set(fold)
        train = [e for i, e in enumerate(examples) if i not in held]
        if fraction < 1.0:
            groups = sorted({e.group for e in train})
            random.Random(SEED + n).shuffle(groups)
            keep = set(groups[:max(1, round(len(groups) * fraction))])
            train = [e for e in train if e.group in keep]
        models = fit(train, cfg, lex)
        logger.info("fold %d/%d fitted", n + 1, k)
        yield fold, models


# --------------------------------------------------------------------------------------------
# `talkwatch train`
# --------------------------------------------------------------------------------------------

def corpus_examples(path: Path, nlp, cache_dir: Path | None = None) -> list[Example]:
    rows = read_corpus(path)
    return build_examples(rows, parse(rows, nlp, cache_dir))


def train(corpus: Path, out_dir: Path, *, nlp=None, cache_dir: Path | None = None,
          cfg: FitConfig | None = None, log: Callable[[str], None] = logger.info) -> Models:
    """Fit every model on the corpus and write the artefacts (and their manifest) to `out_dir`.

    Deterministic: the same corpus, code and model give byte-identical files."""
    from pipeline.extract import EXTRACTOR_VERSION, load_pipeline

    nlp = nlp or load_pipeline(claims=False)
    log(f"parsing {corpus}")
    examples = corpus_examples(corpus, nlp, cache_dir)
    log(f"{len(examples)} articles, {sum(len(e.gold) for e in examples)} gold claims, "
        f"{sum(len(e.feats) for e in examples)} candidate sentences; fitting")
    cfg = cfg or FitConfig()
    models = fit(examples, cfg)
    models.manifest.update({
        "extractor_version": EXTRACTOR_VERSION,
        "spacy_model": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "corpus": corpus.name,
        "corpus_sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
        "articles": len(examples),
        "gold_claims": sum(len(e.gold) for e in examples),
        "C": dict(cfg.C),
        "em_rounds": cfg.em_rounds,
        "features": {n: len(getattr(models, n).index) for n in ("status", "parties", "source", "topic", "hedge")},
    })
    models.save(out_dir)
    log(f"models written to {out_dir} (claim threshold {models.threshold})")
    return models
