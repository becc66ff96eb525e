"""Benchmark: words/s of the project's extraction (`talkwatch extract`) vs bare `nlp.pipe` of the same model.

Both sides read the same texts (each article's title and body, as `pipeline.extract.article_text`
joins them) with the same batch size and `--n-process`; each side runs in a fresh subprocess, so
that its peak memory (RSS summed over the process and its spaCy workers) is its own. The ratio is
project words/s over bare words/s (target >= 0.8: the project's components may cost a quarter).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, corpus  # noqa: E402

log = logging.getLogger("bench_extract")
TARGET = 0.8


def _model_name(model: str | None) -> str:
    if model:
        return model
    from pipeline.extract import _default_model  # the same choice as load_pipeline()

    return _default_model()


def phase(kind: str, n_articles: int, batch_size: int, n_process: int, model: str | None, profile: int) -> dict:
    """One side of the comparison, in this process: load, warm up, then time the whole corpus."""
    import spacy

    from pipeline.extract import article_text, extract_articles, load_pipeline

    articles = corpus.build(n_articles)
    texts = [article_text(a)[0] for a in articles]
    words = sum(corpus.word_count(t) for t in texts)
    name = _model_name(model)
    with common.TreeMemorySampler() as mem:
        t0 = common.timer()
        nlp = spacy.load(name) if kind == "bare" else load_pipeline(name)
        load_s = common.timer() - t0
        warm = articles[:16]
        if kind == "bare":
            for _ in nlp.pipe([article_text(a)[0] for a in warm], batch_size=batch_size):
                pass
        else:
            for _ in extract_articles(warm, nlp=nlp, batch_size=batch_size):
                pass
        profiler = None
        if profile and kind == "project":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0 = common.timer()
        claims = 0
        if kind == "bare":
            for _doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
                pass
        else:
            for _art, cs in extract_articles(articles, nlp=nlp, batch_size=batch_size, n_process=n_process):
                claims += len(cs)
        seconds = common.timer() - t0
        if profiler is not None:
            profiler.disable()
    out = {
        "kind": kind, "model": name, "pipe_names": nlp.pipe_names, "articles": len(articles), "words": words,
        "seconds": round(seconds, 3), "words_per_s": round(words / seconds, 1), "load_s": round(load_s, 2),
        "claims": claims, "peak_rss_mb": round(mem.peak_mb, 1),
        "peak_pss_mb": round(mem.peak_pss_mb, 1) if mem.peak_pss_mb else None,
        "self_maxrss_mb": round(common.self_peak_rss_mb(), 1),
    }
    if profiler is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(profile)
        out["profile_tottime"] = buf.getvalue()
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(profile)
        out["profile_cumulative"] = buf.getvalue()
    return out


def run_phase(kind: str, args) -> dict:
    cmd = [sys.executable, __file__, "--phase", kind, "--articles", str(args.articles),
           "--batch-size", str(args.batch_size), "--n-process", str(args.n_process)]
    if args.model:
        cmd += ["--model", args.model]
    if args.profile and kind == "project":
        cmd += ["--profile", str(args.profile)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_extract: the {kind} phase failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(args) -> dict:
    runs: dict[str, list[dict]] = {"bare": [], "project": []}
    for _ in range(args.repeat):
        for kind in ("bare", "project"):
            runs[kind].append(run_phase(kind, args))
            r = runs[kind][-1]
            log.info("%s: %.0f words/s (%.1f s), peak %.0f MB", kind, r["words_per_s"], r["seconds"], r["peak_rss_mb"])
    best = {k: max(v, key=lambda r: r["words_per_s"]) for k, v in runs.items()}
    ratio = best["project"]["words_per_s"] / best["bare"]["words_per_s"]
    return {
        "benchmark": "extract", **common.environment(),
        "params": {"articles": args.articles, "batch_size": args.batch_size, "n_process": args.n_process,
                   "repeat": args.repeat},
        "words": best["bare"]["words"], "model": best["bare"]["model"],
        "bare": best["bare"], "project": best["project"], "all_runs": runs,
        "ratio": round(ratio, 3), "target": f">= {TARGET}",
    }


def _peak(side: dict, n_process: int) -> float:
    """RSS for one process; for several, PSS (RSS counts the pages the forked workers share once each)."""
    if n_process > 1 and side.get("peak_pss_mb"):
        return side["peak_pss_mb"]
    return side["peak_rss_mb"]


def rows(result: dict) -> list[common.Row]:
    b, p = result["bare"], result["project"]
    n = result["params"]["n_process"]
    return [
        common.Row(
            benchmark=f"extraction words/s, {result['params']['articles']:,} articles, n_process={n}",
            baseline=f"bare nlp.pipe of {result['model']}: {b['words_per_s']:,.0f} words/s",
            measured=result["ratio"], unit="ratio", target=f">= {TARGET}",
            detail=f"project {p['words_per_s']:,.0f} words/s ({p['seconds']:.0f} s for {result['words']:,} words, "
                   f"{p['claims']:,} claims)",
        ),
        common.Row(
            benchmark=f"extraction peak memory (n_process={n}: {'PSS summed over the workers' if n > 1 else 'RSS'})",
            baseline=f"bare nlp.pipe: {_peak(b, n):,.0f} MB",
            measured=_peak(p, n), unit="MB", target="",
            detail=f"reported: no target for extraction alone (1.5 GB is the whole run's); RSS summed over the "
                   f"process tree {p['peak_rss_mb']:,.0f} MB",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--n-process", type=int, default=1)
    ap.add_argument("--model", default=None, help="spaCy model (default: what load_pipeline picks)")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two sides N times, keep each side's best")
    ap.add_argument("--profile", type=int, default=0, help="cProfile the project side; print the top N functions")
    ap.add_argument("--phase", choices=("bare", "project"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    common.setup_logging()
    if args.phase:
        print(json.dumps(phase(args.phase, args.articles, args.batch_size, args.n_process, args.model, args.profile)))
        return 0
    result = measure(args)
    path = common.write_json(f"extract_np{args.n_process}", result)
    for r in rows(result):
        print(r.line())
    if args.profile:
        print(result["project"]["profile_tottime"])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
