"""News-like articles for the extraction and whole-run benchmarks, built offline from the eval set.

The source texts are the real news items of ``../shared/eval/dev.jsonl`` (RSS items and article
bodies about ceasefire talks, plus unrelated "talks" news) and the seed article. An article of the
benchmark joins one to three of them, in a seeded random order, under the first one's title: whole
paragraphs of real news, so sentence lengths, names, quotes and datelines are what the pipeline
meets at night. Every article of a corpus has a distinct combination (no two share their text), so
that the warehouse's content-hash dedup keeps them all.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.models import Article

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TALKWATCH_SHARED", REPO.parent / "shared"))
START = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)


def source_items() -> list[dict]:
    """The dev set's and the seed's articles (id, outlet, title, text), each once."""
    items: dict[str, dict] = {}
    for name in ("dev.jsonl", "seed.jsonl"):
        path = SHARED / "eval" / name
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                items.setdefault(d["id"], {k: d.get(k) or "" for k in ("id", "outlet", "title", "text")})
    if not items:
        raise SystemExit(f"no source texts under {SHARED / 'eval'}")
    return list(items.values())


def build(n: int, *, seed: int = 2026, parts: tuple[int, ...] = (1, 2, 3),
          weights: tuple[float, ...] = (0.4, 0.4, 0.2)) -> list[Article]:
    """N distinct articles of `parts` source items each (chosen with `weights`)."""
    rng = random.Random(seed)
    items = source_items()
    seen: set[tuple[str, ...]] = set()
    out: list[Article] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise SystemExit(f"cannot build {n} distinct articles from {len(items)} source items with parts={parts}")
        k = rng.choices(parts, weights=weights)[0]
        picked = tuple(rng.sample(range(len(items)), k))
        key = tuple(items[i]["id"] for i in picked)
        if key in seen:
            continue
        seen.add(key)
        first = items[picked[0]]
        body = "\n\n".join(items[i]["text"].strip() for i in picked)
        i = len(out)
        out.append(Article(
            id=f"bench-{i}",
            outlet=first["outlet"] or "Bench Wire",
            url=f"https://bench.example/story/{i}",
            published=(START + timedelta(minutes=7 * i)).isoformat(),
            title=first["title"],
            text=body,
        ))
    return out


def word_count(text: str) -> int:
    return len(text.split())
