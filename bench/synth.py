"""Synthetic articles and claims for the benchmarks: realistic mixes of tracks, sources, statuses and dates."""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg2
from psycopg2 import sql

logger = logging.getLogger(__name__)

# status shares of a general news flow: the dev set, chosen around contradicting reports, has about
# four times these shares of denials; positions and states dominate everyday coverage
STATUSES = {
    "agreed": 0.21, "ongoing": 0.21, "held": 0.15, "planned": 0.12, "rejected": 0.08, "proposed": 0.08,
    "collapsed": 0.05, "stalled": 0.04, "accepted": 0.03, "denied": 0.015, "no_deal": 0.015,
}
PARTY_SOURCES = 4  # the first local sources of a track are its parties' spokespeople: they issue the denials
TOPICS = {"ceasefire": 0.35, "peace_deal": 0.28, "partial_ceasefire": 0.08, "hostages": 0.10,
          "humanitarian": 0.12, "other": 0.07}
ACTORS = [
    "RUS", "UKR", "ISR", "HAMAS", "HEZBOLLAH", "LBN", "YEM", "HOUTHIS", "SAU", "ETH", "TPLF", "SDN", "RSF",
    "COL", "ELN", "PAK", "TTP", "AFG", "NGA", "BOKO_HARAM", "COD", "M23", "RWA", "ARM", "AZE", "SYR", "TUR",
    "IRN", "USA", "CHN", "TWN", "IND", "MMR", "PHL", "SOM", "MLI", "LBY", "SRB", "XKX", "GEO", "VEN", "HTI",
]
END = datetime(2026, 11, 24, tzinfo=timezone.utc)  # the benchmark's "tonight"
HISTORY_DAYS = 730
RECENT_DAYS = 7
CLAIMS_PER_ARTICLE = 3


def _probs(d: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array(list(d))
    p = np.array(list(d.values()), dtype=float)
    return keys, p / p.sum()


def _zipf(n: int, s: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def tracks(n: int = 150, seed: int = 7) -> list[str]:
    """N distinct parties keys ('RUS|UKR'), the most covered first."""
    rng = np.random.default_rng(seed)
    out = ["RUS|UKR", "HAMAS|ISR", "HEZBOLLAH|ISR", "HOUTHIS|YEM", "ETH|TPLF", "RSF|SDN", "COL|ELN"]
    while len(out) < n:
        a, b = sorted(rng.choice(ACTORS, 2, replace=False))
        key = f"{a}|{b}"
        if key not in out:
            out.append(key)
    return out


@dataclass
class Batch:
    """Column arrays of N synthetic claims and their articles (CLAIMS_PER_ARTICLE claims an article)."""

    article_ids: np.ndarray      # per article
    article_published: np.ndarray  # per article, epoch seconds
    article_outlet: np.ndarray   # per article, outlet index
    claim_article: np.ndarray    # per claim, index into the article arrays
    parties_key: np.ndarray
    status: np.ndarray
    topic: np.ndarray
    source: np.ndarray           # source index
    event_time: np.ndarray       # str or ''
    checked: bool

    def __len__(self) -> int:
        return len(self.claim_article)


def make_batch(
    n_claims: int, *, start: datetime, end: datetime, first_article_id: int, checked: bool, seed: int,
    n_tracks: int = 150, n_global_sources: int = 60, n_local_sources: int = 40, n_outlets: int = 200,
) -> Batch:
    rng = np.random.default_rng(seed)
    n_articles = max(1, n_claims // CLAIMS_PER_ARTICLE)
    span = (end - start).total_seconds()
    art_pub = start.timestamp() + rng.random(n_articles) * span
    art_outlet = rng.choice(n_outlets, n_articles, p=_zipf(n_outlets, 0.8))
    claim_article = np.sort(rng.integers(0, n_articles, n_claims))
    track_names = np.array(tracks(n_tracks))
    # one article is about one track: claims take their article's track
    art_track = rng.choice(n_tracks, n_articles, p=_zipf(n_tracks, 1.0))
    parties_key = track_names[art_track[claim_article]]
    st_keys, st_p = _probs(STATUSES)
    tp_keys, tp_p = _probs(TOPICS)
    status = rng.choice(st_keys, n_claims, p=st_p)
    topic = rng.choice(tp_keys, n_claims, p=tp_p)
    # half of the claims come from global outlets in their own voice (shared by every track), half
    # from the track's own sources (governments, spokespeople, leaders, local media)
    global_src = rng.choice(n_global_sources, n_claims, p=_zipf(n_global_sources, 0.9))
    local_src = rng.choice(n_local_sources, n_claims, p=_zipf(n_local_sources, 0.9))
    track_of_claim = art_track[claim_article]
    source = np.where(rng.random(n_claims) < 0.5, global_src, 1000 + track_of_claim * 100 + local_src)
    denial = np.isin(status, ["denied", "no_deal"])
    party = 1000 + track_of_claim * 100 + rng.integers(0, PARTY_SOURCES, n_claims)
    source = np.where(denial, party, source)
    # ~10% of claims are about a stated period in the past: a year, a month or a day before publication
    pub = art_pub[claim_article]
    kind = rng.choice(4, n_claims, p=[0.90, 0.03, 0.05, 0.02])
    back = pub - rng.integers(0, 3 * 365, n_claims) * 86400.0
    days = np.array(back, dtype="datetime64[s]").astype("datetime64[D]").astype(str)
    event_time = np.array(
        ["" if k == 0 else d[:4] if k == 1 else d[:7] if k == 2 else d for d, k in zip(days, kind, strict=True)],
        dtype=object,
    )
    return Batch(
        article_ids=np.arange(first_article_id, first_article_id + n_articles),
        article_published=art_pub,
        article_outlet=art_outlet,
        claim_article=claim_article,
        parties_key=parties_key,
        status=status,
        topic=topic,
        source=source,
        event_time=event_time,
        checked=checked,
    )


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def articles_tsv(b: Batch) -> io.StringIO:
    buf = io.StringIO()
    for aid, pub, outlet in zip(b.article_ids, b.article_published, b.article_outlet, strict=True):
        url = f"https://news{outlet}.example/{aid}"
        buf.write(f"{aid}\t{url}\t{url}\tOutlet {outlet}\tTalks update {aid}\t\th{aid}\t{_ts(pub)}\tdone\n")
    buf.seek(0)
    return buf


def claim_rows(b: Batch) -> Iterator[tuple]:
    """(article_id, claim_index, claim_key, parties, parties_key, status, topic, source, source_key,
    reported_by, hedged, event_time, evidence, published_at) per claim."""
    prev, idx = -1, 0
    for i in range(len(b)):
        a = int(b.claim_article[i])
        idx = idx + 1 if a == prev else 0
        prev = a
        src = int(b.source[i])
        pk = str(b.parties_key[i])
        yield (
            int(b.article_ids[a]), idx, f"s{i}-{idx}", pk.split("|"), pk, str(b.status[i]), str(b.topic[i]),
            f"Source {src}", f"source-{src}", f"Outlet {int(b.article_outlet[a])}", False,
            str(b.event_time[i]) or None,
            f"Source {src} said the {b.topic[i]} talks between {pk.replace('|', ' and ')} are {b.status[i]}.",
            _ts(float(b.article_published[a])),
        )


def claims_tsv(b: Batch) -> io.StringIO:
    buf = io.StringIO()
    for r in claim_rows(b):
        parties = "{" + ",".join(r[3]) + "}"
        et = r[11] if r[11] else "\\N"
        buf.write(
            f"{r[0]}\t{r[1]}\t{r[2]}\t{parties}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\t{r[8]}\t{r[9]}\tf\t{et}\t"
            f"{r[12]}\t{r[13]}\tsynth\n"
        )
    buf.seek(0)
    return buf


CLAIM_COLUMNS = (
    "article_id, claim_index, claim_key, parties, parties_key, status, topic, source, source_key, "
    "reported_by, hedged, event_time, evidence, published_at, extractor_version"
)
ARTICLE_COLUMNS = "article_id, canonical_url, url, outlet, title, body, content_hash, published_at, extract_status"


def copy_batch(conn, b: Batch) -> float:
    """COPY a batch's articles and claims; returns seconds."""
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.copy_expert(f"copy talkwatch.articles ({ARTICLE_COLUMNS}) from stdin", articles_tsv(b))
        cur.execute("select coalesce(max(claim_id), 0) from talkwatch.claims")
        before = cur.fetchone()[0]
        cur.copy_expert(f"copy talkwatch.claims ({CLAIM_COLUMNS}) from stdin", claims_tsv(b))
        if b.checked:
            # history that earlier nights' detection has already read: not queued for detection
            cur.execute("delete from talkwatch.detection_queue where claim_id > %s", (before,))
        cur.execute("select setval('talkwatch.articles_article_id_seq', (select max(article_id) from talkwatch.articles))")
    conn.commit()
    return time.perf_counter() - t0


def load_background(conn, n_claims: int, *, seed: int = 1, chunk: int = 250_000) -> dict:
    """History of N checked claims: the last RECENT_DAYS dense and identical at every N, the rest over ~2 years.

    The recent days hold what the night's new claims are compared with; keeping them identical at
    every size makes the 100k/1M ratio measure the table size, not the news flow.
    """
    recent_claims = min(n_claims // 2, 21_000)
    older = n_claims - recent_claims
    t0 = time.perf_counter()
    next_id = 1
    recent = make_batch(recent_claims, start=END - timedelta(days=RECENT_DAYS), end=END, first_article_id=next_id,
                        checked=True, seed=seed)
    copy_batch(conn, recent)
    next_id += len(recent.article_ids)
    done, part = 0, 0
    while done < older:
        n = min(chunk, older - done)
        b = make_batch(n, start=END - timedelta(days=HISTORY_DAYS), end=END - timedelta(days=RECENT_DAYS),
                       first_article_id=next_id, checked=True, seed=seed + 100 + part)
        copy_batch(conn, b)
        next_id += len(b.article_ids)
        done += n
        part += 1
    with conn.cursor() as cur:
        cur.execute("analyze talkwatch.claims")
        cur.execute("analyze talkwatch.articles")
    conn.commit()
    return {"claims": n_claims, "recent_claims": recent_claims, "seconds": time.perf_counter() - t0,
            "next_article_id": next_id}


def night(n_claims: int, *, first_article_id: int, seed: int = 99) -> Batch:
    """A night's new (unchecked) claims, published during the last day."""
    return make_batch(n_claims, start=END - timedelta(days=1), end=END, first_article_id=first_article_id,
                      checked=False, seed=seed)


@contextmanager
def server_dsn(dsn: str | None = None) -> Iterator[str]:
    """DSN (or TALKWATCH_BENCH_DSN) of a server the benchmark may create databases on, else a
    throwaway embedded PostgreSQL under /tmp, deleted afterwards."""
    dsn = dsn or os.environ.get("TALKWATCH_BENCH_DSN")
    if dsn:
        yield dsn
        return
    from pipeline import embedded

    home = Path(tempfile.mkdtemp(prefix="talkwatch-bench-", dir="/tmp"))
    server = embedded.start(home, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(home, ignore_errors=True)


def _admin(server: str):
    admin = psycopg2.connect(server)
    admin.autocommit = True
    return admin


@contextmanager
def scratch_database(server: str, name: str, *, template: str | None = None, migrate: bool = True) -> Iterator[str]:
    """A fresh database NAME on SERVER (migrated, or a copy of TEMPLATE), dropped afterwards."""
    from pipeline import warehouse

    admin = _admin(server)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        if template:
            # a file copy (PostgreSQL 15+), not a WAL-logged copy: copying a 1M-claim template through
            # the WAL would leave checkpoints running into the measurement that follows
            cur.execute(sql.SQL("create database {} template {} strategy file_copy").format(
                sql.Identifier(name), sql.Identifier(template)))
        else:
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = psycopg2.extensions.make_dsn(server, dbname=name)
    if migrate and not template:
        conn = warehouse.connect(dsn)
        warehouse.migrate(conn)
        conn.close()
    try:
        yield dsn
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.close()
