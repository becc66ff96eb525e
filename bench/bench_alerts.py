"""Benchmark: how far an analyst can trust the digest: mailed contradictions scored against gold, per threshold.

Each gold set (SPEC §6 JSONL; default `../shared/train/valid.jsonl` and `../shared/eval/dev.jsonl`) is
published as a local news site on 127.0.0.1: one RSS feed per outlet, its items dated as the gold
articles, each linking to an HTML article page that carries the gold text. `talkwatch run --feeds FILE`
then runs as a child process, as at night (feeds, pages, full text, extraction, load, detection, the
digest), against a scratch warehouse, with a local SMTP server (aiosmtpd) receiving the digest and
TALKWATCH_ALERT_MIN_CONFIDENCE set to the threshold measured (default: the pipeline's default).

Scored as `../shared/eval/score.py` scores conflicts (run as a program: its numbers are its own): a
contradiction's two head claims are matched to gold claims of their articles (parties, status, source
name or alias), and the pair counts as (parties, the two gold sources); the gold conflicts are the
file's. Precision and recall of the contradictions the digest mailed (read from the mail's
X-Talkwatch-Contradictions header); and, from every contradiction's stored confidence, the
precision-recall curve: what the digest would have mailed at each threshold. "both" adds the sets'
counts (46 gold contradictions for the two default sets).

    .venv/bin/python bench/bench_alerts.py                      # both default sets, default threshold
    .venv/bin/python bench/bench_alerts.py --threshold 0.5 --gold ../shared/eval/dev.jsonl

Prints markdown tables to paste into bench/README.md and writes bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import email
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email import policy
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, corpus, synth  # noqa: E402

log = logging.getLogger("bench_alerts")
DEFAULT_GOLD = (corpus.SHARED / "train" / "valid.jsonl", corpus.SHARED / "eval" / "dev.jsonl")
SCORER = corpus.SHARED / "eval" / "score.py"


# --------------------------------------------------------------------------- the local news site


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "outlet"


def _published(article: dict) -> datetime:
    """The gold day (or time) as an aware datetime: noon UTC for a bare date, so the UTC day is the gold's."""
    raw = str(article.get("published") or "")[:19]
    if "T" in raw:
        when = datetime.fromisoformat(raw)
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    d = date.fromisoformat(raw[:10])
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=timezone.utc)


def _page(article: dict) -> bytes:
    paras = "".join(f"<p>{html.escape(p.strip())}</p>" for p in str(article["text"]).split("\n") if p.strip())
    title = html.escape(str(article.get("title") or ""))
    outlet = html.escape(str(article.get("outlet") or ""))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><main><article><h1>{title}</h1>"
            f"<p class='byline'>{outlet}</p>{paras}</article></main><footer>Local bench site</footer>"
            f"</body></html>").encode()


def _feed(outlet: str, items: list[tuple[str, dict]], base: str) -> bytes:
    out = []
    for path, a in items:
        first = next((p.strip() for p in str(a["text"]).split("\n") if p.strip()), "")[:300]
        out.append(
            f"<item><title>{html.escape(str(a.get('title') or ''))}</title><link>{base}{path}</link>"
            f"<guid isPermaLink='false'>{html.escape(str(a['id']))}</guid>"
            f"<pubDate>{format_datetime(_published(a), usegmt=True)}</pubDate>"
            f"<description>{html.escape(first)}</description></item>"
        )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{html.escape(outlet)}"
            f"</title><link>{base}/</link><description>bench</description>{''.join(out)}</channel></rss>").encode()


class Site:
    """A gold set as a news site: /feeds/<outlet>.xml and /a/<n>.html."""

    def __init__(self, articles: list[dict]):
        self.pages = {f"/a/{n}.html": a for n, a in enumerate(articles)}
        self.feeds: dict[str, tuple[str, list[tuple[str, dict]]]] = {}
        for path, a in self.pages.items():
            outlet = str(a.get("outlet") or "Unknown outlet")
            self.feeds.setdefault(f"/feeds/{_slug(outlet)}.xml", (outlet, []))[1].append((path, a))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.base = f"http://{host}:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path = self.path.split("?")[0]
                if path in site.pages:
                    body, ctype = _page(site.pages[path]), "text/html; charset=utf-8"
                elif path in site.feeds:
                    outlet, items = site.feeds[path]
                    body, ctype = _feed(outlet, items, site.base), "application/rss+xml; charset=utf-8"
                else:
                    body, ctype = b"not found", "text/plain"
                self.send_response(200 if ctype != "text/plain" else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def gold_id(self, url: str | None) -> str | None:
        """The gold article behind a stored article URL."""
        if not url or not url.startswith(self.base):
            return None
        a = self.pages.get(url[len(self.base):].split("?")[0].split("#")[0])
        return str(a["id"]) if a else None

    def feeds_file(self, folder: Path) -> Path:
        lines = ["fetch_fulltext: true", "feeds:"]
        for path, (outlet, _items) in sorted(self.feeds.items()):
            lines += [f"  - url: {self.base}{path}", f"    outlet: {json.dumps(outlet)}", "    language: en"]
        out = folder / "feeds.yaml"
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


# --------------------------------------------------------------------------- one gold set through the night


@dataclass
class SetResult:
    name: str
    threshold: float
    gold_conflicts: int = 0
    mailed_ids: list[int] = field(default_factory=list)
    mailed: dict = field(default_factory=dict)         # scores of the mailed contradictions
    curve: list[dict] = field(default_factory=list)    # scores per threshold
    contradictions: int = 0
    summary: dict = field(default_factory=dict)        # the run's JSON summary
    seconds: float = 0.0


def _score(gold_path: Path, claims_path: Path, pairs: list[dict], folder: Path) -> dict:
    """score.py's conflict scores for PAIRS (as {'a': claim, 'b': claim}), with true positives counted."""
    conflicts = folder / "conflicts.jsonl"
    conflicts.write_text("".join(json.dumps(p, ensure_ascii=False, default=str) + "\n" for p in pairs),
                         encoding="utf-8")
    out = subprocess.run([sys.executable, str(SCORER), str(gold_path), str(claims_path), str(conflicts), "--json"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench_alerts: score.py failed: {out.stderr.strip()}")
    s = json.loads(out.stdout)
    found = round(s["conflicts_precision"] * s["system_conflicts"])
    return {"system": s["system_conflicts"], "correct": found, "gold": s["gold_conflicts"],
            "precision": s["conflicts_precision"], "recall": s["conflicts_recall"], "f1": s["conflicts_f1"]}


def _warehouse_rows(dsn: str, site: Site) -> tuple[list[dict], list[dict]]:
    """(claims as score.py reads them, contradictions with confidence and head claims), by gold article id."""
    from pipeline import contradictions
    from pipeline import warehouse as wh

    conn = wh.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                select a.url, c.parties, c.status, c.topic, c.source, c.source_key
                  from talkwatch.claims c join talkwatch.articles a on a.article_id = c.article_id
                """
            )
            claims = [{"article_id": site.gold_id(r[0]) or f"unmapped:{r[0]}", "parties": list(r[1]),
                       "status": r[2], "topic": r[3], "source": r[4], "source_key": r[5]} for r in cur.fetchall()]
        conn.commit()
        rows = contradictions.list_contradictions(conn)
    finally:
        conn.close()
    pairs = []
    for r in rows:
        pair = {"contradiction_id": r["contradiction_id"], "confidence": r["confidence"]}
        for side in ("a", "b"):
            c = r[side]
            pair[side] = {"article_id": site.gold_id(c["article_url"]) or f"unmapped:{c['article_url']}",
                          "parties": c["parties"], "status": c["status"], "source": c["source"]}
        pairs.append(pair)
    return claims, pairs


def run_set(gold_path: Path, server: str, threshold: float | None, workdir: Path) -> SetResult:
    import time

    from aiosmtpd.controller import Controller

    from pipeline.settings import DEFAULT_ALERT_MIN_CONFIDENCE

    articles = [json.loads(x) for x in gold_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    threshold = DEFAULT_ALERT_MIN_CONFIDENCE if threshold is None else threshold
    result = SetResult(name=f"{gold_path.parent.name}/{gold_path.name}", threshold=threshold)
    folder = workdir / _slug(result.name)
    folder.mkdir(parents=True)
    site = Site(articles)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        with synth.scratch_database(server, f"tw_bench_alerts_{_slug(gold_path.stem)}", migrate=False) as dsn:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TALKWATCH_")}
            env.update({
                "TALKWATCH_DSN": dsn, "TALKWATCH_HOME": str(folder / "home"), "TALKWATCH_HOST_DELAY": "0",
                "TALKWATCH_SMTP_HOST": "127.0.0.1", "TALKWATCH_SMTP_PORT": str(smtp.port),
                "TALKWATCH_ALERT_TO": "analysts@example.org", "TALKWATCH_ALERT_FROM": "talkwatch@example.org",
                "TALKWATCH_ALERT_MIN_CONFIDENCE": str(threshold), "PYTHONUNBUFFERED": "1",
            })
            cmd = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(site.feeds_file(folder)), "--json",
                   "--quiet"]
            t0 = time.perf_counter()
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(corpus.REPO), check=False)
            result.seconds = round(time.perf_counter() - t0, 1)
            if out.returncode != 0:
                raise SystemExit(f"bench_alerts: talkwatch run failed ({out.returncode}):\n{out.stderr[-3000:]}")
            result.summary = json.loads(out.stdout.strip().splitlines()[-1])
            result.summary.pop("feed_results", None)
            claims, pairs = _warehouse_rows(dsn, site)
    finally:
        smtp.stop()
        site.close()
    for msg in inbox.messages:
        result.mailed_ids += [int(x) for x in str(msg["X-Talkwatch-Contradictions"] or "").split(",") if x.strip()]
    result.contradictions = len(pairs)
    claims_path = folder / "claims.jsonl"
    claims_path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in claims), encoding="utf-8")
    mailed = set(result.mailed_ids)
    result.mailed = _score(gold_path, claims_path, [p for p in pairs if p["contradiction_id"] in mailed], folder)
    result.gold_conflicts = result.mailed["gold"]
    for t in thresholds(pairs, threshold):
        chosen = [p for p in pairs if (p["confidence"] or 0.0) >= t]
        result.curve.append({"threshold": t, **_score(gold_path, claims_path, chosen, folder)})
    would = sorted(p["contradiction_id"] for p in pairs if (p["confidence"] or 0.0) >= threshold)
    if would != sorted(mailed):
        log.warning("%s: mailed %s, but the stored confidences put %s at or above %s", result.name,
                    sorted(mailed), would, threshold)
    log.info("%s: %s contradictions, %s mailed, precision %.3f, recall %.3f (%.0f s)", result.name,
             result.contradictions, len(mailed), result.mailed["precision"], result.mailed["recall"], result.seconds)
    return result


GRID = [round(x * 0.05, 2) for x in range(21)]  # 0, 0.05, ..., 1
TARGET_PRECISION, TARGET_RECALL = 0.90, 0.50  # issue 14, on both sets together


def thresholds(pairs: list[dict], threshold: float) -> list[float]:
    """The rows of the curve: the 0.05 grid and the threshold measured."""
    return sorted({*GRID, threshold})


def recommended(results: list[SetResult]) -> tuple[float | None, dict | None]:
    """bench/README.md's rule for the default: the smallest threshold of the 0.05 grid at which the sets
    together reach the target precision; (None, None) when none does."""
    for t in GRID:
        both = _both([next(c for c in r.curve if c["threshold"] >= t) for r in results])
        if both["system"] and both["precision"] >= TARGET_PRECISION:
            return t, both
    return None, None


# --------------------------------------------------------------------------- tables


def _pr(s: dict) -> str:
    """'0.950 / 0.413 (19/20)'; a precision of nothing mailed is no number: '–'."""
    precision = f"{s['precision']:.3f}" if s["system"] else "–"
    return f"{precision} / {s['recall']:.3f} ({s['correct']}/{s['system']})"


def _both(scores: list[dict]) -> dict:
    system = sum(s["system"] for s in scores)
    correct = sum(s["correct"] for s in scores)
    gold = sum(s["gold"] for s in scores)
    p = correct / system if system else (1.0 if not gold else 0.0)
    r = correct / gold if gold else 1.0
    return {"system": system, "correct": correct, "gold": gold, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def markdown(results: list[SetResult]) -> str:
    threshold = results[0].threshold
    lines = [
        f"Mailed at TALKWATCH_ALERT_MIN_CONFIDENCE = {threshold:g}:",
        "",
        "| gold set | gold contradictions | contradictions stored | mailed | mailed, as scored pairs | right | "
        "precision | recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r.mailed
        precision = f"{m['precision']:.3f}" if m["system"] else "– (nothing mailed)"
        lines.append(f"| `{r.name}` | {r.gold_conflicts} | {r.contradictions} | {len(r.mailed_ids)} | {m['system']} | "
                     f"{m['correct']} | {precision} | {m['recall']:.3f} |")
    if len(results) > 1:
        b = _both([r.mailed for r in results])
        lines.append(f"| both | {b['gold']} | {sum(r.contradictions for r in results)} | "
                     f"{sum(len(r.mailed_ids) for r in results)} | {b['system']} | {b['correct']} | "
                     f"{b['precision']:.3f} | {b['recall']:.3f} |")
    lines += ["", "Precision / recall (right / scored pairs) had the threshold been each value below:", ""]
    head = "| threshold | " + " | ".join(f"`{r.name}`" for r in results) + (" | both |" if len(results) > 1 else " |")
    lines += [head, "|---" * (len(results) + 1 + (len(results) > 1)) + "|"]
    ts = sorted({c["threshold"] for r in results for c in r.curve})
    for t in ts:
        cells = []
        scores = []
        for r in results:
            # a set without this exact threshold mails what its next higher threshold mails
            s = next(c for c in r.curve if c["threshold"] >= t)
            scores.append(s)
            cells.append(_pr(s))
        if len(results) > 1:
            cells.append(_pr(_both(scores)))
        mark = " **(measured)**" if t == threshold else ""
        lines.append(f"| {t:.4g}{mark} | " + " | ".join(cells) + " |")
    t, both = recommended(results)
    lines.append("")
    if t is None:
        lines.append(f"No threshold reaches precision {TARGET_PRECISION:.2f} on these sets together.")
    else:
        met = "met" if both["recall"] >= TARGET_RECALL else "missed"
        lines.append(f"Default by bench/README.md's rule: {t:.2f} (the smallest threshold of the 0.05 grid with "
                     f"precision >= {TARGET_PRECISION:.2f} on these sets together): precision {both['precision']:.3f}, "
                     f"recall {both['recall']:.3f}; recall target {TARGET_RECALL:.2f} {met}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", type=Path, nargs="+", default=list(DEFAULT_GOLD), help="gold JSONL files")
    ap.add_argument("--threshold", type=float, default=None,
                    help="TALKWATCH_ALERT_MIN_CONFIDENCE of the run (default: the pipeline's default)")
    ap.add_argument("--server", default=None, help="server DSN (default: TALKWATCH_BENCH_DSN, else embedded)")
    args = ap.parse_args(argv)
    common.setup_logging()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every SMTP command
    workdir = Path(tempfile.mkdtemp(prefix="talkwatch-bench-alerts-"))
    try:
        with synth.server_dsn(args.server) as server:
            results = [run_set(g, server, args.threshold, workdir) for g in args.gold]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = markdown(results)
    payload = {"benchmark": "alerts", **common.environment(), "threshold": results[0].threshold,
               "sets": [r.__dict__ for r in results], "table": table}
    from pipeline.extract import EXTRACTOR_VERSION

    payload["extractor_version"] = EXTRACTOR_VERSION
    path = common.write_json("alerts", payload)
    print(f"extractor {EXTRACTOR_VERSION}; {', '.join(f'{r.name}: {r.seconds:.0f} s' for r in results)}\n")
    print(table)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
