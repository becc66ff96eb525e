"""Run every benchmark of talkwatch, one after another, and write the table (`make bench`).

Each benchmark is its own script in bench/ (run here as a subprocess, so that one's memory and
imports never weigh on the next) and writes its JSON to bench/results/; this script turns them
into one table (benchmark, baseline, measured, target, pass/fail) on stdout and in
bench/results/summary.md and summary.json. Figures are ratios against a baseline measured in
the same run where the issue asks for one; the machine is shared, so run nothing heavy beside it.

--quick scales every benchmark down (a few minutes instead of ~half an hour); its figures are not
the ones the targets are about (see bench/README.md for what the full run measures).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

BENCH = Path(__file__).resolve().parent


def plan(quick: bool, n_process: int) -> list[tuple[str, str, list[str], str]]:
    """(name, module, arguments, result file) per benchmark, in the order they run."""
    if quick:
        return [
            ("extraction", "bench_extract", ["--articles", "300", "--n-process", str(n_process)],
             f"extract_np{n_process}.json"),
            ("fetch: parallel vs sequential", "bench_fetch", ["--only", "parallel", "--feeds", "40", "--delay", "0.2"],
             "fetch_parallel.json"),
            ("fetch: no-change night", "bench_fetch", ["--only", "nights", "--feeds", "50"], "fetch_nights.json"),
            ("contradiction detection", "bench_contradictions",
             ["--sizes", "20000,200000", "--night", "2000", "--repeat", "1"], "contradictions.json"),
            ("claims load", "bench_load", ["--claims", "20000", "--repeat", "1"], "load.json"),
            ("whole run", "bench_run", ["--articles", "500", "--feeds", "50", "--n-process", str(n_process)],
             "run.json"),
        ]
    return [
        ("extraction", "bench_extract", ["--articles", "2000", "--n-process", str(n_process)],
         f"extract_np{n_process}.json"),
        ("fetch: parallel vs sequential", "bench_fetch", ["--only", "parallel", "--feeds", "200", "--delay", "0.2"],
         "fetch_parallel.json"),
        ("fetch: no-change night", "bench_fetch", ["--only", "nights", "--feeds", "50"], "fetch_nights.json"),
        ("contradiction detection", "bench_contradictions",
         ["--sizes", "100000,1000000", "--night", "5000", "--repeat", "2"], "contradictions.json"),
        ("claims load", "bench_load", ["--claims", "100000", "--repeat", "2"], "load.json"),
        ("whole run", "bench_run", ["--articles", "5000", "--feeds", "50", "--n-process", str(n_process)], "run.json"),
    ]


def markdown(rows: list[dict]) -> str:
    def fmt(r: dict) -> str:
        v = r["measured"]
        if v is None:
            return "—"
        return f"{v:,.0f} {r['unit']}" if r["unit"] == "MB" else f"{v:g}" + (" s" if r["unit"] == "s" else "")

    lines = ["| benchmark | baseline | measured | target | result |", "|---|---|---|---|---|"]
    for r in rows:
        result = "error" if r.get("error") else {True: "pass", False: "FAIL", None: "reported"}[r["ok"]]
        target = r["target"].replace(">=", "≥").replace("<=", "≤") or "—"
        lines.append(f"| {r['benchmark']} | {r['baseline']} | {fmt(r)} | {target} | {result} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="scaled-down sizes (minutes, not the targets' sizes)")
    ap.add_argument("--n-process", type=int, default=1, help="spaCy processes for extraction and the whole run")
    ap.add_argument("--only", default=None, help="comma-separated benchmark modules to run (e.g. bench_load)")
    args = ap.parse_args(argv)
    started = time.time()
    env = common.environment()
    rows: list[dict] = []
    details: dict[str, dict] = {}
    only = set(args.only.split(",")) if args.only else None
    for name, module, bench_args, result_file in plan(args.quick, args.n_process):
        if only and module not in only:
            continue
        cmd = [sys.executable, str(BENCH / f"{module}.py"), *bench_args]
        print(f"== {name}: {shlex.join(['python', f'bench/{module}.py', *bench_args])}", file=sys.stderr, flush=True)
        t0 = time.time()
        result_path = common.RESULTS_DIR / result_file
        result_path.unlink(missing_ok=True)
        proc = subprocess.run(cmd, check=False, stdout=sys.stderr)
        elapsed = round(time.time() - t0, 1)
        if proc.returncode != 0 or not result_path.exists():
            rows.append({"benchmark": name, "baseline": "", "measured": None, "unit": "", "target": "",
                         "detail": f"exit code {proc.returncode}", "ok": False, "error": True})
            continue
        result = json.loads(result_path.read_text(encoding="utf-8"))
        details[module + ("" if module != "bench_fetch" else "_" + bench_args[1])] = result
        for row in importlib.import_module(f"bench.{module}").rows(result):
            rows.append({**row.as_dict(), "seconds": elapsed, "command": f"python bench/{module}.py "
                         + " ".join(bench_args)})
    table = markdown(rows)
    header = (f"talkwatch benchmarks, {'quick' if args.quick else 'full'} run, {env['measured_at']}, "
              f"{env['cpus']} CPUs, Python {env['python']}, load average at start {env['load_average']}, "
              f"{(time.time() - started) / 60:.0f} min")
    print(header)
    print(table)
    common.RESULTS_DIR.mkdir(exist_ok=True)
    details_lines = "\n".join(f"- {r['benchmark']}: {r['detail']}" for r in rows if r.get("detail"))
    (common.RESULTS_DIR / "summary.md").write_text(
        f"{header}\n\n{table}\n\nDetails:\n\n{details_lines}\n", encoding="utf-8")
    (common.RESULTS_DIR / "summary.json").write_text(
        json.dumps({"environment": env, "quick": args.quick, "n_process": args.n_process, "rows": rows,
                    "results": details}, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {common.RESULTS_DIR / 'summary.md'} and summary.json", file=sys.stderr)
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
