"""`talkwatch eval`: extract the gold articles, detect contradictions with the warehouse rule, score.

Claims come from the extractor; contradictions from loading those claims into a throwaway
database on the configured server and running the warehouse's own detection. Scores are the
reference scorer's (`score.py`, SPEC section 6), run as a program, so the numbers are its own.
"""

from __future__ import annotations

import json
import logging
import re
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


def _norm(s: str) -> str:
    s = re.sub(r"[^\w\s]", " ", str(s or "").lower())
    return re.sub(r"^the ", "", re.sub(r"\s+", " ", s).strip())


def write_errors(path: Path, gold: list[dict], claims: list[dict]) -> None:
    """Missed gold claims and spurious system claims (parties+status+source matching), one JSON a line."""
    by_article: dict[str, list[dict]] = {}
    for c in claims:
        by_article.setdefault(c["article_id"], []).append(c)
    with path.open("w", encoding="utf-8") as out:
        for art in gold:
            system = list(by_article.get(art["id"], []))
            used = set()
            for g in art.get("claims", []):
                names = [g.get("source", "")] + list(g.get("source_aliases", []))
                hit = None
                for i, s in enumerate(system):
                    if i in used or sorted(s["parties"]) != sorted(g["parties"]) or s["status"] != g["status"]:
                        continue
                    sn = f" {_norm(s['source'])} "
                    if any((f" {_norm(n)} " in sn or sn in f" {_norm(n)} ") for n in names if _norm(n)):
                        hit = i
                        break
                if hit is None:
                    out.write(json.dumps({"kind": "missed", "article_id": art["id"], "gold": g},
                                         ensure_ascii=False) + "\n")
                else:
                    used.add(hit)
            for i, s in enumerate(system):
                if i not in used:
                    out.write(json.dumps({"kind": "spurious", "article_id": art["id"], "system": s},
                                         ensure_ascii=False) + "\n")


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
    write_errors(errors_path, gold, claims)
    return EvalResult(json.loads(js.stdout), text.stdout, errors_path, claims, conflicts)
