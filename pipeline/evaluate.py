"""`talkwatch eval`: extract the gold articles, detect contradictions with the warehouse rule, score.

Claims come from the extractor; contradictions from loading those claims into a throwaway
database on the configured server and running the warehouse's own detection. Scores are the
reference scorer's (`score.py`, SPEC section 6), run as a program, so the numbers are its own.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Article
from pipeline.settings import PROJECT_DIR, Settings

logger = logging.getLogger(__name__)


class EvalError(RuntimeError):
    pass


@dataclass
class EvalResult:
    scores: dict
    scorer_output: str
    errors_path: Path | None
    claims: list[dict]
    conflicts: list[dict]


def find_scorer(gold: Path, scorer: Path | None = None) -> Path:
    candidates = [scorer] if scorer else [gold.resolve().parent / "score.py",
                                          PROJECT_DIR.parent / "shared" / "eval" / "score.py"]
    for c in candidates:
        if c and c.is_file():
            return c
    raise EvalError(f"no scorer found (looked for {', '.join(str(c) for c in candidates)}); pass --scorer")


def read_gold(gold: Path) -> list[dict]:
    try:
        lines = gold.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read {gold}: {exc.strerror}") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalError(f"{gold}:{n}: not JSON: {exc.msg}") from exc
    return rows


def extract_claims(articles: list[Article], settings: Settings, nlp=None) -> list[tuple[Article, list]]:
    from pipeline.extract import extract_articles, load_pipeline

    nlp = nlp or load_pipeline(settings.spacy_model)
    return list(extract_articles(articles, nlp=nlp, batch_size=settings.batch_size))


def warehouse_conflicts(dsn: str, extracted: list[tuple[Article, list]]) -> list[dict]:
    """Load the claims into a scratch database, run the warehouse detection, return conflict pairs."""
    from pipeline import contradictions
    from pipeline import warehouse as wh
    from pipeline.extract import EXTRACTOR_VERSION

    with wh.scratch_database(dsn, prefix="talkwatch_eval") as scratch:
        conn = wh.connect(scratch)
        try:
            run_id = wh.start_run(conn, kind="eval")
            ids = wh.import_articles(conn, [a for a, _ in extracted], run_id=run_id)
            wh.store_claims(conn, [(ids[a.id], cs) for a, cs in extracted],
                            extractor_version=EXTRACTOR_VERSION, run_id=run_id)
            contradictions.detect(conn, run_id=run_id)
            rows = contradictions.list_contradictions(conn)
            wh.finish_run(conn, run_id, status="success")
        finally:
            conn.close()
    gold_id = {v: k for k, v in ids.items()}
    out = []
    for r in rows:
        pair = {}
        for side in ("a", "b"):
            c = dict(r[side])
            c["article_id"] = gold_id.get(c["article_id"], c["article_id"])
            pair[side] = c
        pair["rule"] = r["rule"]
        out.append(pair)
    return out


def load_scorer(path: Path):
    """The reference scorer as a module, so that error analysis matches claims exactly as it scores them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("talkwatch_reference_scorer", path)
    if spec is None or spec.loader is None:
        raise EvalError(f"cannot load the scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_errors(path: Path, gold: list[dict], claims: list[dict], scorer) -> dict[str, int]:
    """Missed gold claims and spurious system claims, one JSON a line, matched as the scorer matches them
    (article, parties, status, source name or alias; a maximum matching). Returns the counts."""
    gold_keys: dict[tuple, dict] = {}
    for art in gold:
        for g in art.get("claims", []):
            key = (str(art["id"]), tuple(sorted(g["parties"])), g["status"], scorer.norm(g.get("source")))
            gold_keys.setdefault(key, g)
    sys_keys: dict[tuple, dict] = {}
    for c in claims:
        key = (str(c["article_id"]), tuple(sorted(c["parties"])), c["status"], scorer.norm(c.get("source")))
        sys_keys.setdefault(key, c)

    def candidates(sk):
        g_names = lambda g: [g.get("source", ""), *g.get("source_aliases", [])]  # noqa: E731
        return [gk for gk, g in gold_keys.items() if gk[:3] == sk[:3] and scorer.source_matches(sk[3], g_names(g))]

    owner = scorer.max_matching({sk: candidates(sk) for sk in sys_keys}, list(sys_keys))
    matched = set(owner.values())
    counts = {"missed": 0, "spurious": 0}
    with path.open("w", encoding="utf-8") as out:
        for gk, g in gold_keys.items():
            if gk not in owner:
                counts["missed"] += 1
                out.write(json.dumps({"kind": "missed", "article_id": gk[0], "gold": g}, ensure_ascii=False) + "\n")
        for sk, c in sys_keys.items():
            if sk not in matched:
                counts["spurious"] += 1
                out.write(json.dumps({"kind": "spurious", "article_id": sk[0], "system": c}, ensure_ascii=False) + "\n")
    return counts


def evaluate(
    gold_path: Path,
    settings: Settings | None = None,
    *,
    scorer: Path | None = None,
    errors_path: Path | None = None,
    nlp=None,
) -> EvalResult:
    from pipeline import warehouse as wh

    settings = settings or Settings.from_env()
    scorer_path = find_scorer(gold_path, scorer)
    gold = read_gold(gold_path)
    try:
        articles = [Article.from_dict(a) for a in gold]
    except (ValueError, TypeError) as exc:
        raise EvalError(f"{gold_path}: {exc}") from exc
    extracted = extract_claims(articles, settings, nlp=nlp)
    claims = [
        {"article_id": a.id, "article_url": a.url, **c.to_dict()} for a, cs in extracted for c in cs
    ]
    conflicts = warehouse_conflicts(wh.resolve_dsn(settings), extracted)
    with tempfile.TemporaryDirectory(prefix="talkwatch-eval-") as tmp:
        cpath, kpath = Path(tmp) / "claims.jsonl", Path(tmp) / "conflicts.jsonl"
        cpath.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in claims), encoding="utf-8")
        kpath.write_text("".join(json.dumps(k, ensure_ascii=False, default=str) + "\n" for k in conflicts),
                         encoding="utf-8")
        cmd = [sys.executable, str(scorer_path), str(gold_path), str(cpath), str(kpath)]
        text = subprocess.run(cmd, capture_output=True, text=True, check=False)
        js = subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=False)
    if text.returncode != 0 or js.returncode != 0:
        raise EvalError(f"scorer failed: {text.stderr.strip() or js.stderr.strip()}")
    if errors_path is None:
        errors_path = Path.cwd() / f"{gold_path.stem}.errors.jsonl"
    write_errors(errors_path, gold, claims, load_scorer(scorer_path))
    return EvalResult(json.loads(js.stdout), text.stdout, errors_path, claims, conflicts)
