"""Benchmark: a whole `talkwatch run` over 5,000 new articles (peak memory), then a no-change second night.

Local HTTP servers on 127.0.0.1..10 serve `--feeds` RSS feeds of `--entries` items each (with an
ETag: a repeated request gets 304) and an HTML page per item whose text is a news-like article of
bench/corpus.py. `talkwatch run --feeds FILE --json --quiet` runs as a child process against a
scratch database: fetch, full text, dedup, extraction (the default spaCy settings), load,
detection (no SMTP configured, so no mail). Measured: the child's peak RSS (its own getrusage
maximum, and the sampled sum over its process tree, for spaCy workers when --n-process > 1;
target <= 1.5 GB), and the wall time of a second, identical night in which every feed answers
304, against the first night's (target <= 10%).

The politeness delay per host is 0 here (TALKWATCH_HOST_DELAY=0): the servers are local and the
benchmark is about memory; bench_fetch.py measures fetching with politeness.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, corpus, synth  # noqa: E402

log = logging.getLogger("bench_run")
TARGET_MB = 1536
TARGET_NIGHT = 0.10


def _page(article) -> bytes:
    paras = "".join(f"<p>{html.escape(p.strip())}</p>" for p in article.text.split("\n") if p.strip())
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(article.title)}</title>"
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><main><article>"
            f"<h1>{html.escape(article.title)}</h1><p class='byline'>{html.escape(article.outlet)}</p>{paras}"
            f"</article></main><footer>Copyright Bench News</footer></body></html>").encode()


def _feed(feed_no: int, articles, base: str) -> bytes:
    from datetime import datetime

    items = []
    for a in articles:
        summary = a.text.strip().split("\n")[0][:400]
        pub = format_datetime(datetime.fromisoformat(a.published), usegmt=True)
        items.append(
            f"<item><title>{html.escape(a.title)}</title><link>{base}/page/{a.id}</link>"
            f"<guid isPermaLink='false'>{a.id}</guid><pubDate>{pub}</pubDate>"
            f"<description>{html.escape(summary)}</description></item>"
        )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Bench feed {feed_no}</title>"
            f"<link>{base}/</link><description>benchmark</description>{''.join(items)}</channel></rss>").encode()


class Site:
    """The feeds and pages of every host; feed_of[host_index] lists that host's feeds."""

    def __init__(self, articles, n_feeds: int):
        self.articles = {a.id: a for a in articles}
        per = -(-len(articles) // n_feeds)
        self.feeds = [articles[i * per:(i + 1) * per] for i in range(n_feeds)]
        self.requests = {"feed": 0, "feed_304": 0, "page": 0}
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes: without TCP_NODELAY the body waits for the client's
            # delayed ACK, 40 ms per response that no real web server adds
            disable_nagle_algorithm = True

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[0] == "page" and len(parts) == 2 and parts[1] in site.articles:
                    with site.lock:
                        site.requests["page"] += 1
                    self._send(200, _page(site.articles[parts[1]]), "text/html; charset=utf-8")
                    return
                if parts[0] == "feed" and len(parts) == 2 and parts[1].isdigit() and int(parts[1]) < len(site.feeds):
                    n = int(parts[1])
                    etag = f'"bench-feed-{n}"'
                    if self.headers.get("If-None-Match") == etag:
                        with site.lock:
                            site.requests["feed_304"] += 1
                        self._send(304, b"", "application/rss+xml", {"ETag": etag})
                        return
                    with site.lock:
                        site.requests["feed"] += 1
                    host, port = self.server.server_address[:2]
                    body = _feed(n, site.feeds[n], f"http://{host}:{port}")
                    self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
                    return
                self._send(404, b"not found", "text/plain")

            def log_message(self, *args) -> None:
                pass

        return Handler


def start_servers(site: Site, hosts: int) -> list[ThreadingHTTPServer]:
    servers = []
    for i in range(hosts):
        try:
            srv = ThreadingHTTPServer((f"127.0.0.{i + 1}", 0), site.handler())
        except OSError:
            srv = ThreadingHTTPServer(("127.0.0.1", 0), site.handler())
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    return servers


def night(feeds_file: Path, env: dict, workdir: Path, label: str) -> dict:
    """One `talkwatch run` child: wall time, its summary, its peak memory."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(feeds_file), "--json", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out, err = workdir / f"{label}.out", workdir / f"{label}.err"
    t0 = time.perf_counter()
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, cwd=str(corpus.REPO))
        with common.TreeMemorySampler(proc.pid, interval=0.2) as mem:
            rc = proc.wait()
    seconds = time.perf_counter() - t0
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if rc != 0:
        raise SystemExit(f"bench_run: {label} failed ({rc}):\n{err.read_text()[-3000:]}")
    summary = json.loads(out.read_text().strip().splitlines()[-1])
    summary.pop("feed_results", None)
    return {"seconds": round(seconds, 2), "summary": summary, "peak_tree_rss_mb": round(mem.peak_mb, 1),
            "peak_tree_pss_mb": round(mem.peak_pss_mb, 1) if mem.peak_pss_mb else None,
            # ru_maxrss of RUSAGE_CHILDREN is the largest child's peak so far: valid for the first night only
            "child_maxrss_mb": round(maxrss / 1024, 1) if maxrss > before else None}


def measure(args) -> dict:
    articles = corpus.build(args.articles, parts=(1, 2, 3), weights=(0.45, 0.45, 0.10))
    words = sum(corpus.word_count(a.text) for a in articles)
    site = Site(articles, args.feeds)
    servers = start_servers(site, args.hosts)
    workdir = Path(tempfile.mkdtemp(prefix="talkwatch-bench-run-"))
    try:
        lines = ["fetch_fulltext: true", "feeds:"]
        for n in range(args.feeds):
            host, port = servers[n % len(servers)].server_address[:2]
            lines += [f"  - url: http://{host}:{port}/feed/{n}", f"    outlet: Bench Outlet {n}", "    language: en"]
        feeds_file = workdir / "feeds.yaml"
        feeds_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with synth.server_dsn(args.server) as server, \
                synth.scratch_database(server, "tw_bench_run", migrate=False) as dsn:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TALKWATCH_SMTP", "TALKWATCH_ALERT"))}
            env.update({
                "TALKWATCH_DSN": dsn, "TALKWATCH_HOME": str(workdir / "home"), "TALKWATCH_HOST_DELAY": "0",
                "TALKWATCH_N_PROCESS": str(args.n_process), "PYTHONUNBUFFERED": "1",
            })
            first = night(feeds_file, env, workdir, "night1")
            log.info("first night: %.1f s, %s articles, %s claims, peak %s MB (tree %s MB)", first["seconds"],
                     first["summary"].get("articles_extracted"), first["summary"].get("claims"),
                     first["child_maxrss_mb"], first["peak_tree_rss_mb"])
            second = night(feeds_file, env, workdir, "night2")
            log.info("second night: %.1f s, %s new articles", second["seconds"], second["summary"].get("articles_new"))
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        shutil.rmtree(workdir, ignore_errors=True)
    # one process: its own peak RSS (getrusage, exact); with spaCy workers: the sampled PSS sum of the tree
    if args.n_process > 1 and first["peak_tree_pss_mb"]:
        peak = first["peak_tree_pss_mb"]
    else:
        peak = max(x for x in (first["child_maxrss_mb"], first["peak_tree_rss_mb"]) if x is not None)
    return {
        "benchmark": "run", **common.environment(),
        "params": {"articles": args.articles, "feeds": args.feeds, "hosts": args.hosts, "n_process": args.n_process},
        "words": words, "requests": site.requests, "first_night": first, "second_night": second,
        "peak_rss_mb": peak, "night_ratio": round(second["seconds"] / first["seconds"], 4),
    }


def rows(result: dict) -> list[common.Row]:
    p, f, s = result["params"], result["first_night"], result["second_night"]
    fs = f["summary"]
    return [
        common.Row(
            benchmark=f"peak memory of a {p['articles']:,}-article `talkwatch run` (n_process={p['n_process']})",
            baseline="absolute (the issue's 1.5 GB)", measured=result["peak_rss_mb"], unit="MB",
            target=f"<= {TARGET_MB}",
            detail=f"{fs.get('articles_new'):,} new articles ({result['words']:,} words of full text), "
                   f"{fs.get('claims'):,} claims, {fs.get('contradictions_new'):,} contradictions; "
                   f"child maxrss {f['child_maxrss_mb']} MB, process tree sampled: RSS {f['peak_tree_rss_mb']} MB, "
                   f"PSS {f['peak_tree_pss_mb']} MB; "
                   f"night {f['seconds']:.0f} s",
        ),
        common.Row(
            benchmark=f"no-change second night, {p['feeds']} local feeds (whole `talkwatch run`)",
            baseline=f"first night: {f['seconds']:.0f} s", measured=result["night_ratio"], unit="ratio",
            target=f"<= {TARGET_NIGHT}",
            detail=f"second night {s['seconds']:.1f} s: {result['requests']['feed_304']} feeds answered 304, "
                   f"{s['summary'].get('articles_new')} new articles",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--n-process", type=int, default=1)
    ap.add_argument("--server", default=None, help="server DSN (default: TALKWATCH_BENCH_DSN, else embedded)")
    args = ap.parse_args(argv)
    common.setup_logging()
    result = measure(args)
    path = common.write_json("run", result)
    for r in rows(result):
        print(r.line())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
