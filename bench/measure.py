"""Timing commands: interleaved rounds and their statistics."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from host import BenchError, log


@dataclass
class Case:
    name: str
    label: str
    argv: Callable[[int], list[str]]
    env: dict[str, str] | None = None
    samples: list[float] = field(default_factory=list)

    def once(self, i: int) -> float:
        argv = self.argv(i)
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=self.env, timeout=60,
                              check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise BenchError(f"{self.name}: {' '.join(argv)} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace').strip()}")
        return elapsed


def round_robin(cases: list[Case], runs: int, warmup: int) -> None:
    counter = 0
    for r in range(warmup + runs):
        shift = r % len(cases)
        for case in cases[shift:] + cases[:shift]:
            counter += 1
            ms = case.once(counter)
            if r >= warmup:
                case.samples.append(ms)
        if r == warmup - 1:
            log(f"warm-up done ({warmup} rounds); measuring {runs} rounds")


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = (statistics.quantiles(ordered, n=10, method="inclusive")[8]
           if len(ordered) > 1 else ordered[0])
    return {"median_ms": round(statistics.median(ordered), 2), "p90_ms": round(p90, 2),
            "min_ms": round(ordered[0], 2), "max_ms": round(ordered[-1], 2),
            "mean_ms": round(statistics.fmean(ordered), 2), "n": len(ordered)}


def ratio(a: dict[str, Any], b: dict[str, Any] | None) -> float | None:
    return round(a["median_ms"] / b["median_ms"], 3) if b else None


def print_table(rows: dict[str, dict[str, Any]], labels: dict[str, str]) -> None:
    width = max(len(labels[k]) for k in rows)
    print(f"{'case':<{width}}  {'median ms':>9}  {'p90 ms':>8}  {'min ms':>8}  {'n':>3}")
    for key, s in rows.items():
        print(f"{labels[key]:<{width}}  {s['median_ms']:>9.1f}  {s['p90_ms']:>8.1f}  "
              f"{s['min_ms']:>8.1f}  {s['n']:>3}")
