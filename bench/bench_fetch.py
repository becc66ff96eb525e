"""Benchmark: parallel vs sequential feed fetching, and a no-change night (304s) vs the first night."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import http  # noqa: E402
from pipeline.articles import build_articles  # noqa: E402
from pipeline.feeds import FeedSpec, FeedState, FetchResult, fetch_feeds  # noqa: E402
from pipeline.settings import FetchSettings  # noqa: E402

log = logging.getLogger("bench_fetch")
RESULTS = Path(__file__).resolve().parent / "results" / "fetch.json"


PAGE = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Story</title></head><body>"
        "<nav><a href='/'>Home</a></nav><article><h1>Talks continue</h1>{paras}</article>"
        "<footer>Copyright</footer></body></html>")
PARA = ("<p>Negotiators from both delegations met again on {n} to discuss the ceasefire, the sequencing of "
        "a withdrawal and an exchange of prisoners, officials familiar with the talks said.</p>")


def page_body(feed: int, item: int) -> bytes:
    paras = "".join(PARA.format(n=f"day {item}, session {k} of feed {feed}") for k in range(8))
    return PAGE.format(paras=paras).encode()


def feed_body(feed: int, items: int, base: str) -> bytes:
    entries = "".join(
        f"<item><title>Feed {feed} story {i}: talks continue</title>"
        f"<link>{base}/page/{feed}/{i}?utm_source=rss</link><guid>f{feed}-{i}</guid>"
        f"<pubDate>{formatdate(1_764_000_000 - i * 3600, usegmt=True)}</pubDate>"
        f"<description>&lt;p&gt;Negotiators met again on day {i} to discuss a ceasefire and an exchange "
        f"of prisoners, officials from both sides said after the meeting.&lt;/p&gt;</description></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>https://news{feed}.example/</link><description>bench</description>{entries}"
            f"</channel></rss>").encode()


def make_handler(delay: float, items: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out as two writes: without TCP_NODELAY the body waits for the client's
        # delayed ACK, 40 ms per response that no real web server adds
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            time.sleep(delay)
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "page":
                body = page_body(int(parts[1]), int(parts[2]))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            feed = int(parts[-1])
            etag = f'"feed-{feed}-v1"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            host, port = self.server.server_address[:2]
            body = feed_body(feed, items, f"http://{host}:{port}")
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def start_servers(hosts: int, delay: float, items: int) -> list[ThreadingHTTPServer]:
    """One server per loopback address 127.0.0.1..N (distinct hosts for politeness)."""
    servers = []
    handler = make_handler(delay, items)
    for i in range(hosts):
        try:
            srv = ThreadingHTTPServer((f"127.0.0.{i + 1}", 0), handler)
        except OSError:  # loopback aliases unavailable: fall back to distinct ports
            srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    return servers


def timed(items: list[tuple[FeedSpec, FeedState | None]], settings: FetchSettings) -> tuple[float, list]:
    started = time.perf_counter()
    results = fetch_feeds(items, settings)
    return time.perf_counter() - started, results


def ingest(items: list[tuple[FeedSpec, FeedState | None]], settings: FetchSettings) -> tuple[float, list, int]:
    """A night's ingest stage: fetch feeds, then full-text pages of every entry (feeds in parallel,
    politeness shared); returns (seconds, fetch results, articles built)."""
    started = time.perf_counter()
    results = fetch_feeds(items, settings)
    throttle = http.HostThrottle(settings.host_delay)

    def build(result: FetchResult) -> int:
        return len(build_articles(result, settings, throttle=throttle))

    with ThreadPoolExecutor(max_workers=settings.max_workers) as pool:
        built = sum(pool.map(build, [r for r in results if r.status == "ok"]))
    return time.perf_counter() - started, results, built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.05, help="server delay per response, seconds")
    parser.add_argument("--items", type=int, default=10, help="items (article pages) per feed")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--host-delay", type=float, default=0.05, help="politeness delay per host")
    parser.add_argument("--only", choices=("parallel", "nights"), default=None,
                        help="run one comparison: parallel vs sequential fetch, or the no-change night")
    parser.add_argument("--out", type=Path, default=None, help="result JSON (default: bench/results/fetch[_ONLY].json)")
    parser.add_argument("--time-limit", type=int, default=300, help="abort after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench_fetch: time limit reached"))
    signal.alarm(args.time_limit)

    servers = start_servers(args.hosts, args.delay, args.items)
    try:
        specs = []
        for i in range(args.feeds):
            host, port = servers[i % len(servers)].server_address[:2]
            specs.append(FeedSpec(url=f"http://{host}:{port}/feed/{i}", outlet=f"Outlet {i}", language="en"))
        items = [(spec, None) for spec in specs]
        base = dict(connect_timeout=5.0, read_timeout=10.0, retries=0, host_delay=args.host_delay,
                    fetch_fulltext=False)
        sequential = FetchSettings(max_workers=1, **base)
        parallel = FetchSettings(max_workers=args.workers, **base)

        timed(items[:2], parallel)  # warm-up: imports, first connections
        seq_s = par_s = night1_s = night2_s = None
        seq_results = par_results = night1_results = night2_results = []
        built = 0
        if args.only in (None, "parallel"):
            seq_s, seq_results = timed(items, sequential)
            par_s, par_results = timed(items, parallel)
        if args.only in (None, "nights"):
            full = FetchSettings(max_workers=args.workers, **{**base, "fetch_fulltext": True})
            night1_s, night1_results, built = ingest(items, full)
            states = [FeedState(etag=r.etag, last_modified=r.last_modified) for r in night1_results]
            night2_s, night2_results, _ = ingest(list(zip(specs, states, strict=True)), full)
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        signal.alarm(0)

    def count(results: list, status: str) -> int:
        return sum(r.status == status for r in results)

    report = {
        "benchmark": "fetch_feeds",
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "distinct_hosts": len({s.server_address for s in servers}),
    }
    if seq_s is not None:
        report["parallel_vs_sequential"] = {
            "sequential_s": round(seq_s, 3), "parallel_s": round(par_s, 3), "ratio": round(par_s / seq_s, 3),
            "target": "<= 0.25", "ok_sequential": count(seq_results, "ok"), "ok_parallel": count(par_results, "ok"),
            "entries": sum(len(r.entries) for r in par_results),
        }
    if night1_s is not None:
        report["no_change_night"] = {
            "stage": "ingest: feeds + full-text pages (no extraction, no warehouse)",
            "first_night_s": round(night1_s, 3), "articles_first_night": built,
            "second_night_s": round(night2_s, 3), "not_modified": count(night2_results, "not_modified"),
            "ratio": round(night2_s / night1_s, 3), "target": "<= 0.10",
        }
        if par_s is not None:
            report["no_change_night"]["fetch_only_ratio"] = round(night2_s / par_s, 3)
    out = args.out or RESULTS.with_name(f"fetch_{args.only}.json" if args.only else "fetch.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.feeds} feeds on {report['distinct_hosts']} hosts, {args.delay * 1000:.0f} ms per response, "
          f"host delay {args.host_delay * 1000:.0f} ms, {args.workers} workers")
    if "parallel_vs_sequential" in report:
        pv = report["parallel_vs_sequential"]
        print(f"sequential {pv['sequential_s']:.2f} s, parallel {pv['parallel_s']:.2f} s: ratio {pv['ratio']:.3f}")
    if "no_change_night" in report:
        nc = report["no_change_night"]
        print(f"no-change night (all 304) {nc['second_night_s']:.2f} s vs first night {nc['first_night_s']:.2f} s "
              f"({nc['articles_first_night']} articles with full text): ratio {nc['ratio']:.3f} "
              f"({nc['not_modified']} not modified)")
    print(f"wrote {out}")
    return 0


def rows(report: dict) -> list:
    """The benchmark table's lines for run_all."""
    from bench.common import Row

    p = report["params"]
    out = []
    if "parallel_vs_sequential" in report:
        pv = report["parallel_vs_sequential"]
        out.append(Row(
            benchmark=f"fetch {p['feeds']} local feeds, {p['delay'] * 1000:.0f} ms per response: parallel",
            baseline=f"sequential: {pv['sequential_s']:.1f} s", measured=pv["ratio"], unit="ratio", target="<= 0.25",
            detail=f"parallel {pv['parallel_s']:.1f} s; {p['workers']} workers, {report['distinct_hosts']} hosts, "
                   f"{p['host_delay'] * 1000:.0f} ms politeness per host",
        ))
    if "no_change_night" in report:
        nc = report["no_change_night"]
        out.append(Row(
            benchmark=f"no-change second night, {p['feeds']} local feeds (ingest stage: feeds + pages)",
            baseline=f"first night: {nc['first_night_s']:.1f} s, {nc['articles_first_night']} articles with full text",
            measured=nc["ratio"], unit="ratio", target="<= 0.1",
            detail=f"second night {nc['second_night_s']:.2f} s, {nc['not_modified']} feeds answered 304",
        ))
    return out


if __name__ == "__main__":
    sys.exit(main())
