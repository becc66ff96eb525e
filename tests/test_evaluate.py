"""`talkwatch eval` and `talkwatch extract`: the reference scorer's numbers, the error file, the JSONL contract.

The floor tests are the regression guard of the learned extractor on data it was not trained on. They read
only the visible evaluation data (../shared/eval, ../shared/train/valid.jsonl, eval/written), never the
holdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from pipeline.settings import Settings
from tests.conftest import REPO, SHARED

EVAL = SHARED / "eval"

pytestmark = pytest.mark.skipif(not (EVAL / "score.py").is_file(), reason="../shared/eval is not present")


@pytest.fixture(scope="module")
def nlp():
    from pipeline.extract import load_pipeline

    return load_pipeline()


@pytest.fixture
def settings(pg_server_dsn):
    return replace(Settings.from_env(), dsn=pg_server_dsn)


# Floors a little under what the learned extractor (models trained on ../shared/train/train.jsonl only) scored
# on files it never saw (pipeline/extract/README.md#measuring): a change that loses ground there fails here.
# They are not the targets of issue 12 (claims 0.75, status 0.85, conflicts 0.80), which it does not reach.
FLOORS = {
    SHARED / "train" / "valid.jsonl": {"claims_f1": 0.32, "status_f1": 0.44},
    EVAL / "dev.jsonl": {"claims_f1": 0.39, "status_f1": 0.60},
    REPO / "eval" / "written" / "set1.jsonl": {"claims_f1": 0.42, "status_f1": 0.59},
    REPO / "eval" / "written" / "set2.jsonl": {"claims_f1": 0.46, "status_f1": 0.62},
    REPO / "eval" / "written" / "set3.jsonl": {"claims_f1": 0.45, "status_f1": 0.58},
}


@pytest.mark.slow
@pytest.mark.parametrize("gold", sorted(FLOORS), ids=lambda p: p.name)
def test_held_out_sets_keep_their_scores(settings, nlp, tmp_path, gold):
    from pipeline.evaluate import evaluate

    if not gold.is_file():
        pytest.skip(f"{gold} is not present")
    result = evaluate(gold, settings, scorer=EVAL / "score.py", errors_path=tmp_path / "errors.jsonl", nlp=nlp)
    below = {k: round(result.scores[k], 3) for k, floor in FLOORS[gold].items() if result.scores[k] < floor}
    assert not below, f"{gold.name} below its floor: {below} (floors {FLOORS[gold]})"


@pytest.mark.slow
def test_the_seed_articles_denial_is_zakharovas(settings, nlp, tmp_path):
    from pipeline.evaluate import evaluate

    result = evaluate(EVAL / "seed.jsonl", settings, errors_path=tmp_path / "seed.errors.jsonl", nlp=nlp)
    said = {(tuple(c["parties"]), c["status"], c["source_key"]) for c in result.claims}
    assert (("RUS", "UKR"), "denied", "maria-zakharova") in said


@pytest.mark.slow
def test_error_file_holds_exactly_what_the_scorer_did_not_match(settings, nlp, tmp_path):
    from pipeline.evaluate import evaluate

    errors = tmp_path / "errors.jsonl"
    result = evaluate(EVAL / "dev.jsonl", settings, errors_path=errors, nlp=nlp)
    rows = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    s = result.scores
    matched = round(s["claims_precision"] * s["system_claims"])
    assert sum(r["kind"] == "missed" for r in rows) == s["gold_claims"] - matched
    assert sum(r["kind"] == "spurious" for r in rows) == s["system_claims"] - matched
    assert all(r["system"]["evidence"] for r in rows if r["kind"] == "spurious")


def _cli(args: list[str], tmp_path, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TALKWATCH_HOME": str(tmp_path / "home"), **env}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, capture_output=True,
                          text=True, env=full_env, timeout=300)


@pytest.mark.slow
def test_extract_cli_writes_one_claim_a_line_with_its_article(tmp_path):
    articles = tmp_path / "in.jsonl"
    rows = [
        {"id": "a1", "outlet": "Wire", "url": "https://example.org/a1", "published": "2025-01-10",
         "title": "Sudan army and RSF resume talks in Jeddah",
         "text": "The Sudanese army and the RSF resumed talks in Jeddah on Thursday, Saudi officials said."},
        {"id": "a2", "outlet": "Wire", "url": "https://example.org/a2", "published": "2025-01-11",
         "title": "Markets", "text": "Stocks rose on Friday as trade talks progressed."},
    ]
    articles.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "claims.jsonl"
    proc = _cli(["extract", str(articles), "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    claims = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert claims and {c["article_id"] for c in claims} == {"a1"}
    c = claims[0]
    assert c["article_url"] == "https://example.org/a1" and c["parties"] == ["RSF", "SDN"]
    assert {"status", "topic", "source", "source_key", "source_org", "reported_by", "mediator", "venue", "hedged",
            "event_time", "evidence"} <= set(c)


def test_extract_cli_rejects_a_line_that_is_not_json(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a1", "text": "x"}\nnot json\n', encoding="utf-8")
    proc = _cli(["extract", str(bad)], tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:2: not a JSON object" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_cli_reports_a_missing_gold_file_clearly(tmp_path):
    proc = _cli(["eval", str(tmp_path / "nope.jsonl")], tmp_path)
    assert proc.returncode == 1
    assert "cannot read" in proc.stderr and "Traceback" not in proc.stderr
