"""Benchmark: contradiction detection of a night's 5,000 new claims with 100k and with 1M claims stored.

For each size: a scratch database gets the synthetic history (bench/synth.py: the last week dense
and identical at every size, the rest spread over two years), one detection over the last week's
claims (so that contradictions exist, as after earlier nights), VACUUM ANALYZE, then tonight's
5,000 unchecked claims. That state is kept as a template; each repeat detects on a fresh copy of
it and the best time counts. Reported: the seconds at 1M (target <= 2 s) and t(1M) / t(100k)
(the work should grow with the new claims, not the stored ones: a scan of every claim would make
it about 10), with the pairs, evidence and per-step times behind them, and the analyst views'
query times at each size.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, synth  # noqa: E402
from pipeline import contradictions, warehouse  # noqa: E402

log = logging.getLogger("bench_contradictions")
TARGET_SECONDS = 2.0
TARGET_GROWTH = 2.0

VIEW_QUERIES = {
    "contradictions_open": "select count(*) from analytics.contradictions where is_open",
    "tracks": "select count(*) from analytics.negotiation_tracks",
    "timeline_rus_ukr": "select count(*) from analytics.status_timeline where parties_key = 'RUS|UKR'",
    "claims_rus_ukr_month": (
        "select count(*) from analytics.negotiation_claims where parties_key = 'RUS|UKR' "
        "and published_at >= '2026-10-01' and published_at < '2026-11-01'"
    ),
}


def _timed_query(conn, query: str) -> float:
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(query)
        cur.fetchall()
    conn.commit()
    return time.perf_counter() - t0


def prepare(dsn: str, n_claims: int, night_claims: int) -> dict:
    """History, the earlier nights' detection, and tonight's unchecked claims, in DSN's database."""
    conn = warehouse.connect(dsn)
    try:
        bg = synth.load_background(conn, n_claims)
        log.info("loaded %s claims in %.1f s", f"{n_claims:,}", bg["seconds"])
        with warehouse.transaction(conn) as cur:
            # the last week is detected once, as earlier nights would have
            cur.execute(
                "insert into talkwatch.detection_queue (claim_id) select claim_id from talkwatch.claims"
                " where published_at >= %s on conflict do nothing",
                (synth.END - timedelta(days=synth.RECENT_DAYS),),
            )
        t0 = time.perf_counter()
        warm = contradictions.detect(conn)
        contradictions.refresh_confidence(conn)  # as the earlier nights' jobs did after their detection
        warm_s = time.perf_counter() - t0
        log.info("earlier nights: %s claims checked in %.1f s", f"{warm.claims_checked:,}", warm_s)
        synth.copy_batch(conn, synth.night(night_claims, first_article_id=bg["next_article_id"]))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("vacuum analyze")
        counts = warehouse.table_counts(conn)
    finally:
        conn.close()
    return {"load_seconds": round(bg["seconds"], 1), "warmup_claims": warm.claims_checked,
            "warmup_seconds": round(warm_s, 2), "stored_before": counts}


def detect_once(dsn: str, *, views: bool) -> dict:
    conn = warehouse.connect(dsn)
    try:
        t0 = time.perf_counter()
        res = contradictions.detect(conn)
        seconds = time.perf_counter() - t0
        # the confidence of every contradiction that gained evidence: the nightly job's next step, measured apart
        t0 = time.perf_counter()
        changed = contradictions.refresh_confidence(conn)
        confidence_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = contradictions.detect(conn)
        empty_s = time.perf_counter() - t0
        out = {
            "detect_seconds": round(seconds, 3), "claims_checked": res.claims_checked, "pairs": res.pairs,
            "confidence_seconds": round(confidence_s, 3), "confidence_changed": changed,
            "new_contradictions": len(res.new_contradiction_ids), "evidence_attached": res.evidence_attached,
            "steps": {k: round(v, 3) for k, v in res.timings.items()},
            "empty_detect_seconds": round(empty_s, 3), "empty_detect_claims": again.claims_checked,
        }
        if views:
            out["view_seconds"] = {name: round(_timed_query(conn, q), 3) for name, q in VIEW_QUERIES.items()}
            out["stored_after"] = warehouse.table_counts(conn)
    finally:
        conn.close()
    return out


def run_size(server: str, n_claims: int, night_claims: int, repeat: int) -> dict:
    base = f"tw_bench_detect_{n_claims}"
    with synth.scratch_database(server, base) as dsn:
        prep = prepare(dsn, n_claims, night_claims)
        runs = []
        for i in range(repeat):
            with synth.scratch_database(server, f"{base}_run", template=base) as run_dsn:
                runs.append(detect_once(run_dsn, views=i == repeat - 1))
            log.info("%s claims, run %s: detect %.2f s (%s pairs, %s evidence attached; %s); confidence %.2f s",
                     f"{n_claims:,}", i + 1, runs[-1]["detect_seconds"], f"{runs[-1]['pairs']:,}",
                     f"{runs[-1]['evidence_attached']:,}",
                     ", ".join(f"{k} {v:.2f}" for k, v in runs[-1]["steps"].items()), runs[-1]["confidence_seconds"])
    best = min(runs, key=lambda r: r["detect_seconds"])
    return {"claims": n_claims, **prep, "best": best, "detect_seconds_all": [r["detect_seconds"] for r in runs],
            "views": runs[-1].get("view_seconds"), "stored_after": runs[-1].get("stored_after")}


def measure(args) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    with synth.server_dsn(args.server) as server:
        import psycopg2

        c = psycopg2.connect(server)
        with c.cursor() as cur:
            cur.execute("select current_setting('server_version')")
            version = cur.fetchone()[0]
        c.close()
        runs = [run_size(server, n, args.night, args.repeat) for n in sizes]
    out = {"benchmark": "contradictions", **common.environment(), "server": version,
           "params": {"sizes": sizes, "night": args.night, "repeat": args.repeat},
           "target_seconds_at_largest": TARGET_SECONDS, "runs": runs}
    if len(runs) >= 2:
        out["growth_ratio"] = round(runs[-1]["best"]["detect_seconds"] / runs[0]["best"]["detect_seconds"], 2)
    return out


def rows(result: dict) -> list[common.Row]:
    runs = result["runs"]
    night = result["params"]["night"]
    small, large = runs[0], runs[-1]
    lb = large["best"]
    out = [common.Row(
        benchmark=f"contradiction detection, {night:,} new claims, {large['claims']:,} stored",
        baseline="absolute (the issue's 2 s)",
        measured=lb["detect_seconds"], unit="s", target=f"<= {TARGET_SECONDS}",
        detail=f"{lb['pairs']:,} conflicting pairs, {lb['new_contradictions']:,} new contradictions, "
               f"{lb['evidence_attached']:,} evidence rows attached; "
               + ", ".join(f"{k} {v:.2f}" for k, v in lb["steps"].items())
               + f"; then the confidence of {lb.get('confidence_changed', 0):,} contradictions refreshed in "
                 f"{lb.get('confidence_seconds', 0):.2f} s (a step of its own)",
    )]
    if len(runs) >= 2:
        sb = small["best"]
        out.append(common.Row(
            benchmark=f"contradiction detection, t({large['claims']:,}) / t({small['claims']:,} stored)",
            baseline=f"{small['claims']:,} stored: {sb['detect_seconds']:.2f} s ({sb['pairs']:,} pairs)",
            measured=result["growth_ratio"], unit="ratio", target=f"<= {TARGET_GROWTH}",
            detail=f"{large['claims'] // small['claims']}x the stored claims; a full scan would grow ~10x",
        ))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated stored-claim counts, smallest first")
    ap.add_argument("--night", type=int, default=5000, help="new claims in the measured night")
    ap.add_argument("--repeat", type=int, default=2, help="detections per size (fresh copies), the best counts")
    ap.add_argument("--server", default=None,
                    help="PostgreSQL server DSN to create scratch databases on (default: TALKWATCH_BENCH_DSN, "
                         "else a throwaway embedded server under /tmp)")
    args = ap.parse_args(argv)
    common.setup_logging()
    result = measure(args)
    path = common.write_json("contradictions", result)
    for r in rows(result):
        print(r.line())
    for run in result["runs"]:
        print(f"  views at {run['claims']:,} claims: {run['views']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
