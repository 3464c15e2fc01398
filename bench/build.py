#!/usr/bin/env python3
"""Dockerfile builds: ``berth build`` against docker's classic builder and BuildKit, on the
same 6-step Dockerfile with a 10 MB COPY, in one run.

Three cases per builder, each timed as the whole CLI command:

- cold: ``--no-cache`` (the base image is local on every side);
- cached: the same build again, nothing changed (every step a cache hit);
- one file: one copied file changed, so COPY and the steps after it run again.

Builders: ``berth build`` on a private berthd; ``DOCKER_BUILDKIT=0 docker build`` (the newest
docker CLI) and ``DOCKER_BUILDKIT=1`` with dockerd's own 20.10 CLI (the one CLI here that
speaks BuildKit without the buildx plugin) on a private dockerd. busybox on dockerd is
``docker import`` of berth's own busybox layer, as in run_bench.py. Rounds rotate which builder
goes first. Every build runs with ``--network none`` (berth's RUN containers have only
loopback; the private dockerd has no bridge). Not part of the test suite: see README.md.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemons import Berthd, Dockerd, start_daemons
from harness import Stoppers, entry_parser, parse_entry_args, run_privately
from host import log
from measure import Case, stats

DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY data/ /app/data/
RUN cat /app/data/* | wc -c > /app/size
CMD ["cat", "/app/size"]
"""
FILES, FILE_BYTES = 20, 512 * 1024  # 10 MiB in all
LEGACY_DOCKER_CLI = Path("/usr/bin/docker")  # docker.io 20.10: BuildKit built in


def make_context(root: Path) -> None:
    (root / "data").mkdir(parents=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    rng = random.Random(5)
    for i in range(FILES):
        (root / "data" / f"f{i:02d}.bin").write_bytes(rng.randbytes(FILE_BYTES))


def change_one_file(root: Path, n: int) -> None:
    path = root / "data" / "f07.bin"
    data = bytearray(path.read_bytes())
    data[:8] = n.to_bytes(8, "big")
    path.write_bytes(bytes(data))


@dataclass
class Builder:
    name: str
    label: str
    argv: list[str]  # the CLI up to and including "build"
    env: dict[str, str]
    context: Path
    samples: dict[str, list[float]] = field(default_factory=dict)

    def case(self, kind: str, *flags: str) -> Case:
        return Case(f"{self.name}:{kind}", self.label,
                    lambda i: [*self.argv, *flags, "-q", "--network", "none",
                               "-t", f"bench-build:{self.name}",
                               str(self.context)], self.env)

    def round(self, n: int) -> None:
        """cold, cached, one file changed: in that order (each needs the one before)."""
        for kind, flags in (("cold", ("--no-cache",)), ("cached", ())):
            self.samples.setdefault(kind, []).append(self.case(kind, *flags).once(n))
        change_one_file(self.context, n)
        self.samples.setdefault("one_file", []).append(self.case("one_file").once(n))


def builders(work: Path, berthd: Berthd, dockerd: Dockerd | None) -> list[Builder]:
    found = []
    for name in ("berth", "classic", "buildkit"):
        ctx = work / f"ctx-{name}"
        make_context(ctx)  # one context each: the one-file change of one must not leak
        if name == "berth":
            found.append(Builder(name, "berth build", [*berthd.cli, "build"], berthd.env, ctx))
        elif dockerd is not None and name == "classic":
            found.append(Builder(name, "DOCKER_BUILDKIT=0 docker build",
                                 [*dockerd.cli, "build"],
                                 {**dockerd.env, "DOCKER_BUILDKIT": "0"}, ctx))
        elif dockerd is not None and LEGACY_DOCKER_CLI.exists():
            found.append(Builder(name, "DOCKER_BUILDKIT=1 docker build (CLI 20.10)",
                                 [str(LEGACY_DOCKER_CLI), *dockerd.cli[1:], "build"],
                                 {**dockerd.env, "DOCKER_BUILDKIT": "1"}, ctx))
    return found


def benchmark(work: Path, args: argparse.Namespace, berthd: Berthd,
              dockerd: Dockerd | None) -> dict[str, Any]:
    sides = builders(work, berthd, dockerd)
    for b in sides:
        b.round(0)  # warm-up: caches, page cache, daemons' first-build costs
        b.samples.clear()
    for r in range(args.rounds):
        shift = r % len(sides)
        for b in sides[shift:] + sides[:shift]:
            b.round(r + 1)
        log(f"round {r + 1}: " + ", ".join(
            f"{b.name} " + "/".join(f"{s[-1]:.0f}" for s in b.samples.values()) + " ms"
            for b in sides))
    rows = {b.name: {kind: stats(s) for kind, s in b.samples.items()} for b in sides}
    ratios = {}
    for other in rows:
        if other == "berth":
            continue
        for kind in ("cold", "cached", "one_file"):
            ratios[f"{kind} berth/{other}"] = round(
                rows["berth"][kind]["median_ms"] / rows[other][kind]["median_ms"], 3)
    return {"labels": {b.name: b.label for b in sides}, "rows": rows, "ratios": ratios,
            "samples_ms": {b.name: b.samples for b in sides}}


def report(result: dict[str, Any]) -> None:
    print(f"\n{'builder':<44} {'cold ms':>9} {'cached ms':>10} {'one file ms':>12}")
    for name, row in result["rows"].items():
        cells = [f"{row[k]['median_ms']:>{w}.0f}" for k, w in
                 (("cold", 9), ("cached", 10), ("one_file", 12))]
        print(f"{result['labels'][name]:<44} {' '.join(cells)}")
    print("(medians)\n")
    for key, value in result["ratios"].items():
        print(f"{key:<28} {value:.2f}x")
    for other in ("classic", "buildkit"):
        r = result["ratios"].get(f"cached berth/{other}")
        if r is not None:
            verdict = "met" if r <= 0.5 else "NOT met"
            print(f"target: cached rebuild >= 2x faster than docker's {other} builder "
                  f"(ratio <= 0.5): {verdict}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return parse_entry_args(entry_parser(__doc__, rounds=5), argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def body(work: Path, tag: str, stoppers: Stoppers) -> dict[str, Any]:
        berthd, dockerd, _ = start_daemons(work, tag, stoppers, docker=not args.skip_docker)
        result = benchmark(work, args, berthd, dockerd)
        report(result)
        return result

    return run_privately("build", args.json, body)


if __name__ == "__main__":
    sys.exit(main())
