"""Benchmark: loading 100k claims through the project's loader vs a plain COPY of the same rows.

The loader is `pipeline.warehouse.store_claims`, as `talkwatch run` calls it after extraction: the
claims of ~33k pending articles in one transaction (idempotent insert, articles marked done). The
baseline COPYs the very rows the loader writes (same columns and values, claim keys included)
into the same table of an identical database. Both start from copies of one template (migrated
schema with every index, the pending articles); each side runs `--repeat` times and its best
time counts. Ratio = loader rows/s over COPY rows/s (target >= 0.5).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, corpus, synth  # noqa: E402
from pipeline import warehouse  # noqa: E402
from pipeline.models import Claim  # noqa: E402

log = logging.getLogger("bench_load")
TARGET = 0.5
VERSION = "bench-load"


def evidence_sentences() -> list[str]:
    """Real evidence sentences of the dev set's gold claims (row widths as at night)."""
    out = []
    for line in (corpus.SHARED / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out += [c["evidence"] for c in json.loads(line).get("claims", []) if c.get("evidence")]
    return out or ["Officials said the talks would resume next week in Doha."]


def make_claims(n_claims: int, seed: int = 5) -> tuple[synth.Batch, list[tuple[int, list[Claim]]]]:
    b = synth.make_batch(n_claims, start=synth.END.replace(day=1), end=synth.END, first_article_id=1,
                         checked=False, seed=seed)
    sentences = evidence_sentences()
    per_article: dict[int, list[Claim]] = {}
    for i in range(len(b)):
        a = int(b.claim_article[i])
        src = int(b.source[i])
        # half the sources are people, as at night: named in full ("Speaker Name12"), or by the surname of
        # such a full name ("Name12"), which the load resolves through talkwatch.person_names
        if src % 4 == 0:
            name, key, kind = f"Speaker Name{src}", f"speaker-name{src}", "person"
        elif src % 4 == 1:
            name, key, kind = f"Name{src - 1}", f"name{src - 1}", "person"
        else:
            name, key, kind = f"Source {src}", f"source-{src}", "org"
        per_article.setdefault(int(b.article_ids[a]), []).append(Claim(
            parties=str(b.parties_key[i]).split("|"), status=str(b.status[i]), topic=str(b.topic[i]),
            source=name, source_key=key, evidence=f"{sentences[i % len(sentences)]} [{i}]", extra={"source_kind": kind},
            source_org=f"Ministry {src % 7}" if src % 3 == 0 else None, reported_by=f"Outlet {int(b.article_outlet[a])}",
            venue="Doha" if i % 11 == 0 else None, hedged=i % 13 == 0, event_time=str(b.event_time[i]) or None,
        ))
    results = [(aid, per_article.get(aid, [])) for aid in (int(x) for x in b.article_ids)]
    return b, results


def pending_articles_tsv(b: synth.Batch) -> io.StringIO:
    buf = synth.articles_tsv(b)
    return io.StringIO(buf.getvalue().replace("\tdone\n", "\tpending\n"))


def loader_rows(b: synth.Batch, results) -> list[tuple]:
    """The rows store_claims inserts, in its column order (published_at from the article)."""
    published = {int(aid): datetime.fromtimestamp(float(p), tz=timezone.utc).isoformat()
                 for aid, p in zip(b.article_ids, b.article_published, strict=True)}
    rows = []
    for article_id, claims in results:
        for i, c in enumerate(claims):
            rows.append((article_id, i, warehouse.claim_key(c), c.parties, "|".join(c.parties), c.status, c.topic,
                         c.source, c.source_key, c.source_org, c.reported_by, c.mediator, c.venue, c.hedged,
                         c.event_time, c.evidence, VERSION, None, published[article_id]))
    return rows


COPY_COLUMNS = ("article_id, claim_index, claim_key, parties, parties_key, status, topic, source, source_key, "
                "source_org, reported_by, mediator, venue, hedged, event_time, evidence, extractor_version, run_id, "
                "published_at")


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, list):
        return "{" + ",".join(f'"{x}"' for x in v) + "}"
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def plain_copy(dsn: str, rows: list[tuple]) -> float:
    conn = warehouse.connect(dsn)
    try:
        t0 = time.perf_counter()
        buf = io.StringIO()
        for r in rows:
            buf.write("\t".join(_copy_value(v) for v in r) + "\n")
        buf.seek(0)
        with conn.cursor() as cur:
            cur.copy_expert(f"copy talkwatch.claims ({COPY_COLUMNS}) from stdin", buf)
        conn.commit()
        return time.perf_counter() - t0
    finally:
        conn.close()


def project_load(dsn: str, results) -> tuple[float, int]:
    conn = warehouse.connect(dsn)
    try:
        t0 = time.perf_counter()
        n = warehouse.store_claims(conn, results, extractor_version=VERSION)
        return time.perf_counter() - t0, n
    finally:
        conn.close()


def _count(dsn: str) -> int:
    conn = warehouse.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from talkwatch.claims")
            return cur.fetchone()[0]
    finally:
        conn.close()


def measure(args) -> dict:
    b, results = make_claims(args.claims)
    rows = loader_rows(b, results)
    with synth.server_dsn(args.server) as server, synth.scratch_database(server, "tw_bench_load") as tpl:
        conn = warehouse.connect(tpl)
        with conn.cursor() as cur:
            cur.copy_expert(f"copy talkwatch.articles ({synth.ARTICLE_COLUMNS}) from stdin", pending_articles_tsv(b))
            cur.execute("select setval('talkwatch.articles_article_id_seq', (select max(article_id) from talkwatch.articles))")
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("vacuum analyze")
        conn.close()
        copy_s, load_s, loaded = [], [], 0
        for i in range(args.repeat):
            with synth.scratch_database(server, "tw_bench_load_run", template="tw_bench_load") as dsn:
                copy_s.append(plain_copy(dsn, rows))
                assert _count(dsn) == len(rows)
            with synth.scratch_database(server, "tw_bench_load_run", template="tw_bench_load") as dsn:
                s, loaded = project_load(dsn, results)
                load_s.append(s)
                assert _count(dsn) == len(rows) == loaded, (loaded, len(rows))
            log.info("run %s: COPY %.2f s, store_claims %.2f s", i + 1, copy_s[-1], load_s[-1])
    best_copy, best_load = min(copy_s), min(load_s)
    return {
        "benchmark": "load", **common.environment(),
        "params": {"claims": args.claims, "articles": len(b.article_ids), "repeat": args.repeat},
        "copy_seconds": copy_s, "store_claims_seconds": load_s,
        "copy_rows_per_s": round(len(rows) / best_copy), "store_claims_rows_per_s": round(len(rows) / best_load),
        "ratio": round(best_copy / best_load, 3), "target": f">= {TARGET}",
    }


def rows(result: dict) -> list[common.Row]:
    n = result["params"]["claims"]
    return [common.Row(
        benchmark=f"load {n:,} claims: store_claims rows/s",
        baseline=f"plain COPY of the same rows: {result['copy_rows_per_s']:,} rows/s",
        measured=result["ratio"], unit="ratio", target=f">= {TARGET}",
        detail=f"store_claims {result['store_claims_rows_per_s']:,} rows/s "
               f"({min(result['store_claims_seconds']):.2f} s vs {min(result['copy_seconds']):.2f} s)",
    )]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--server", default=None, help="server DSN (default: TALKWATCH_BENCH_DSN, else embedded)")
    args = ap.parse_args(argv)
    common.setup_logging()
    result = measure(args)
    path = common.write_json("load", result)
    for r in rows(result):
        print(r.line())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
