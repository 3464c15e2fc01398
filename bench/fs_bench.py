#!/usr/bin/env python3
"""The container filesystem, berth against docker in one run, on the same busybox image,
each engine's own CLI against its own daemon (``berth cp`` / ``docker cp``):

    cp in       a file of --mb MiB (default 1024) from the host into a stopped container
    cp out      the same file back out of it to the host
    commit      a container that wrote --commit-mb MiB (default 200) committed to an image

Rounds alternate berth and docker (round 0 warms up and is not counted); medians, min and
max per case, and berth/docker ratios (below 1: berth faster or smaller). The daemon's peak
RSS during each operation is read from /proc/<pid>/status VmHWM after resetting it through
/proc/<pid>/clear_refs ("5"), so each peak is that operation's own; its growth is that
peak over the VmRSS at the reset (what the operation itself needed). Everything runs
privately under /tmp/bb-<tag> and is removed afterwards (harness.py).

    .venv/bin/python bench/fs_bench.py [--mb 1024] [--commit-mb 200] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import start_daemons
from harness import Stoppers, entry_parser, parse_entry_args, run_privately
from host import BenchError, log, run_checked
from hostnet import free_subnet


@dataclass
class Side:
    """One engine as the bench drives it: its CLI argv, environment and daemon pid."""

    name: str
    cli: list[str]
    env: dict[str, str]
    pid: int

    def run(self, *args: str, timeout: float = 600) -> str:
        return run_checked([*self.cli, *args], env=self.env, timeout=timeout).strip()

    def timed(self, *args: str) -> float:
        start = time.perf_counter()
        self.run(*args)
        return time.perf_counter() - start

    def reset_peak(self) -> float:
        """The daemon's peak RSS reset to its current RSS, which is returned (MiB)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self.status_mib("VmRSS")

    def status_mib(self, key: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
        raise BenchError(f"{self.name}: no {key} for pid {self.pid}")

    def timed_peak(self, got: dict[str, float], case: str, *args: str) -> None:
        """``got[case_s]`` the seconds ``args`` took; ``case_peak_rss_mib`` the daemon's
        peak RSS meanwhile and ``case_rss_growth_mib`` that peak over its RSS before."""
        before = self.reset_peak()
        got[f"{case}_s"] = self.timed(*args)
        peak = self.status_mib("VmHWM")
        got[f"{case}_peak_rss_mib"] = peak
        got[f"{case}_rss_growth_mib"] = peak - before


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 3), "min": round(min(samples), 3),
            "max": round(max(samples), 3), "n": len(samples)}


def one_round(side: Side, work: Path, src: Path, commit_mb: int, r: int) -> dict[str, float]:
    """One round of every case on ``side``; seconds, and peak RSS MiB during the copies."""
    cname = f"fsb{r}"
    out_dir = work / f"out-{side.name}-{r}"
    out_dir.mkdir()
    side.run("create", "--name", cname, "busybox", "true")
    got: dict[str, float] = {}
    side.timed_peak(got, "cp_in", "cp", str(src), f"{cname}:/big")
    side.timed_peak(got, "cp_out", "cp", f"{cname}:/big", str(out_dir / "big"))
    if (out_dir / "big").stat().st_size != src.stat().st_size:
        raise BenchError(f"{side.name}: cp out gave {(out_dir / 'big').stat().st_size} bytes")
    (out_dir / "big").unlink()
    side.run("rm", cname)
    writer = f"fsw{r}"
    side.run("run", "--name", writer, "busybox", "dd", "if=/dev/urandom", "of=/data.bin",
             "bs=1048576", f"count={commit_mb}")
    image = f"fsbench-{side.name}:{r}"
    side.timed_peak(got, "commit", "commit", writer, image)
    side.run("rm", writer)
    side.run("rmi", image)
    return got


def measure(sides: list[Side], work: Path, src: Path, rounds: int,
            commit_mb: int) -> dict[str, dict[str, dict[str, float]]]:
    samples: dict[str, dict[str, list[float]]] = {s.name: {} for s in sides}
    for r in range(rounds + 1):  # round 0 warms up
        for side in (sides if r % 2 else sides[::-1]):
            got = one_round(side, work, src, commit_mb, r)
            log(f"round {r} {side.name}: {got}")
            if r:
                for key, value in got.items():
                    samples[side.name].setdefault(key, []).append(value)
    return {name: {k: summary(v) for k, v in cases.items()}
            for name, cases in samples.items()}


def print_results(results: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    keys = [f"{case}_{what}" for what in ("s", "peak_rss_mib", "rss_growth_mib")
            for case in ("cp_in", "cp_out", "commit")]
    print(f"\n{'case (median)':<22} {'berth':>9} {'docker':>9} {'ratio':>7}")
    table: dict[str, Any] = {}
    for key in keys:
        b = results.get("berth", {}).get(key)
        d = results.get("docker", {}).get(key)
        ratio = round(b["median"] / d["median"], 3) if b and d and d["median"] else None
        table[key] = {"berth": b, "docker": d, "ratio": ratio}
        print(f"{key:<22} {b['median'] if b else '-':>9} {d['median'] if d else '-':>9} "
              f"{ratio if ratio is not None else '-':>7}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    p = entry_parser(__doc__, 3)
    p.add_argument("--mb", type=int, default=1024, help="MiB copied in and out (1024)")
    p.add_argument("--commit-mb", type=int, default=200,
                   help="MiB a container writes before its commit (200)")
    args = parse_entry_args(p, argv)

    def body(work: Path, tag: str, stoppers: Stoppers) -> dict[str, Any]:
        # berthd's default bridge is this run's own (no iptables, a free pool), so the
        # host's other berthds and their bridge's addresses neither clash nor accumulate;
        # it goes after berthd stopped (stoppers run last-first)
        bridge = f"bf{tag}"
        stoppers.append(lambda: subprocess.run(["ip", "link", "del", bridge], check=False,
                                               capture_output=True))
        settings: dict[str, object] = {"bridge": bridge, "iptables": False,
                                       "default_address_pools": [str(free_subnet("10.214"))]}
        berthd, dockerd, _ = start_daemons(work, tag, stoppers, docker=not args.skip_docker,
                                           berth_settings=settings)
        assert berthd.proc is not None
        sides = [Side("berth", berthd.cli, berthd.env, berthd.proc.pid)]
        if dockerd is not None:
            assert dockerd.proc is not None
            sides.append(Side("docker", dockerd.cli, dockerd.env, dockerd.proc.pid))
        src = work / "big.bin"
        with src.open("wb") as f:  # random: no engine can compress or sparse it away
            for _ in range(args.mb):
                f.write(os.urandom(1 << 20))
        log(f"{args.rounds} rounds: cp of {args.mb} MiB in and out, commit of "
            f"{args.commit_mb} MiB")
        results = measure(sides, work, src, args.rounds, args.commit_mb)
        table = print_results(results)
        return {"mb": args.mb, "commit_mb": args.commit_mb, "rounds": args.rounds,
                "results": results, "table": table}

    return run_privately("fs_bench", args.json, body)


if __name__ == "__main__":
    sys.exit(main())
