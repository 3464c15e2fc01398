#!/usr/bin/env python3
"""TCP throughput through published ports and between containers, berth against docker in
one run, on the same busybox image, each daemon with its own bridge and iptables.

    host → container, kernel path   127.0.0.1:P DNAT to the container (berth: its rules;
                                    docker: --userland-proxy=false)
    host → container, proxy path    127.0.0.1:P through the userland proxy (berth:
                                    iptables = false, userland_proxy = true; docker:
                                    docker-proxy, --userland-proxy=true)
    container → container           dd | nc from one container to another's address on
                                    the default bridge, timed by /proc/uptime in it

The receiver is busybox ``nc -l`` into /dev/null, its stdin a FIFO that never ends (nc
closes when its stdin ends); the host sender is this script (sendall of zeros, then
shutdown and wait for the receiver to close), the container sender ``dd | nc`` timed by
dd itself. Rounds alternate berth and docker. Everything runs privately under
/tmp/bb-<tag> and is removed afterwards (harness.py, hostnet.py); traffic goes only to
loopback and to the run's own containers.

    .venv/bin/python bench/net_bench.py [--mb 256] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import re
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import Berthd, Dockerd, start_daemons
from harness import Stoppers, entry_parser, parse_entry_args, run_privately
from host import BenchError, log, run_checked

PORT = 5001
RECEIVER = ("mkfifo /f; exec 3<>/f; "
            f"while true; do nc -l -p {PORT} </f >/dev/null; done")
CHUNK = bytes(1 << 20)


@dataclass
class Side:
    """One engine as the bench drives it: its CLI argv and environment."""

    name: str
    cli: list[str]
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> str:
        return run_checked([*self.cli, *args], env=self.env, timeout=timeout).strip()

    def receiver(self, cname: str, publish: bool) -> str:
        ports = ["-p", f"127.0.0.1::{PORT}"] if publish else []
        self.run("run", "-d", "--name", cname, *ports, "busybox", "sh", "-c", RECEIVER)
        return cname

    def host_port(self, cname: str) -> int:
        return int(self.run("port", cname, str(PORT)).splitlines()[0].rpartition(":")[2])

    def address(self, cname: str) -> str:
        return self.run("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cname)


def send_from_host(port: int, mb: int) -> float:
    """MB/s of ``mb`` MiB sent to 127.0.0.1:port, until the receiver has closed. The
    receiver re-listens between rounds: a refused connect (kernel path) or a reset (a
    proxy accepted, then found nobody listening behind it) is tried again."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return _send_once(port, mb)
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _send_once(port: int, mb: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        start = time.perf_counter()
        for _ in range(mb):
            s.sendall(CHUNK)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        return mb / (time.perf_counter() - start)


def send_between(side: Side, sender: str, address: str, mb: int) -> float:
    """MB/s of ``dd | nc`` from the container ``sender`` to ``address``, timed inside it
    by /proc/uptime (10 ms steps) around the pipeline: busybox dd's own time line does
    not come out under docker's exec here, so both engines are timed the same other way."""
    argv = [*side.cli, "exec", sender, "sh", "-c",
            "read t0 _ </proc/uptime; "
            f"dd if=/dev/zero bs=1048576 count={mb} 2>/tmp/dd.err | nc {address} {PORT}; "
            "read t1 _ </proc/uptime; cat /tmp/dd.err; echo \"uptime $t0 $t1\""]
    text = ""
    for _ in range(50):
        text = run_checked(argv, env=side.env, timeout=120)
        found = re.search(r"uptime ([\d.]+) ([\d.]+)", text)
        if found and f"{mb}+0 records out" in text:
            return mb / max(float(found.group(2)) - float(found.group(1)), 0.01)
        time.sleep(0.1)  # nc connected before the receiver listened again
    raise BenchError(f"{side.name}: container → container never completed: {text}")


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_mb_s": round(statistics.median(samples), 1),
            "min_mb_s": round(min(samples), 1), "max_mb_s": round(max(samples), 1),
            "n": len(samples)}


def measure(sides: list[Side], rounds: int, mb: int, between: bool) -> dict[str, Any]:
    """Per side: host → container (and container → container when ``between``)."""
    samples: dict[str, dict[str, list[float]]] = {s.name: {} for s in sides}
    setups = {}
    for side in sides:
        receiver = side.receiver("recv", publish=True)
        setups[side.name] = (side.host_port(receiver), side.address(receiver))
        if between:
            side.run("run", "-d", "--name", "send", "busybox", "sleep", "100000")
    for r in range(rounds + 1):  # round 0 warms up
        for side in (sides if r % 2 else sides[::-1]):
            port, address = setups[side.name]
            got = {"host_to_container": send_from_host(port, mb)}
            if between:
                got["container_to_container"] = send_between(side, "send", address, mb)
            if r:
                for key, value in got.items():
                    samples[side.name].setdefault(key, []).append(value)
    for side in sides:
        side.run("rm", "-f", "recv", *(["send"] if between else []))
    return {name: {k: summary(v) for k, v in cases.items()} for name, cases in samples.items()}


def sides_of(berthd: Berthd, dockerd: Dockerd | None) -> list[Side]:
    sides = [Side("berth", berthd.cli, berthd.env)]
    if dockerd is not None:
        sides.append(Side("docker", dockerd.cli, dockerd.env))
    return sides


def restart(berthd: Berthd, dockerd: Dockerd | None, proxy: bool) -> None:
    """Both daemons again, on their proxy path (``proxy``) or kernel path."""
    berthd.stop()
    berthd.settings = {**berthd.settings, "iptables": not proxy, "userland_proxy": proxy}
    berthd.start()
    if dockerd is not None:
        dockerd.stop()
        dockerd.userland_proxy = proxy
        dockerd.start()


def print_results(kernel: dict[str, Any], proxy: dict[str, Any]) -> dict[str, Any]:
    table = [("host → container, kernel path", kernel, "host_to_container"),
             ("container → container", kernel, "container_to_container"),
             ("host → container, userland proxy", proxy, "host_to_container")]
    print(f"\n{'case':<36} {'berth MB/s':>11} {'docker MB/s':>12} {'ratio':>7}")
    found: dict[str, Any] = {}
    for label, results, key in table:
        b = results.get("berth", {}).get(key)
        d = results.get("docker", {}).get(key)
        r = round(b["median_mb_s"] / d["median_mb_s"], 3) if b and d else None
        found[label] = {"berth": b, "docker": d, "ratio": r}
        print(f"{label:<36} {b['median_mb_s'] if b else '-':>11} "
              f"{d['median_mb_s'] if d else '-':>12} {r if r is not None else '-':>7}")
    targets = [("host → container, kernel path", 0.9), ("container → container", 0.9),
               ("host → container, userland proxy", 1.0)]
    for label, floor in targets:
        r = found[label]["ratio"]
        if r is not None:
            print(f"target {label}: berth >= {floor}x docker: {'PASS' if r >= floor else 'FAIL'}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    p = entry_parser(__doc__, 5)
    p.add_argument("--mb", type=int, default=256, help="MiB per transfer (default 256)")
    args = parse_entry_args(p, argv)

    def body(work: Path, tag: str, stoppers: Stoppers) -> dict[str, Any]:
        berthd, dockerd, _ = start_daemons(work, tag, stoppers, docker=not args.skip_docker,
                                           networking=True)
        restart(berthd, dockerd, proxy=False)
        sides = sides_of(berthd, dockerd)
        log(f"kernel path: {args.rounds} rounds of {args.mb} MiB")
        kernel = measure(sides, args.rounds, args.mb, between=True)
        restart(berthd, dockerd, proxy=True)
        log(f"proxy path: {args.rounds} rounds of {args.mb} MiB")
        proxy = measure(sides, args.rounds, args.mb, between=False)
        found = print_results(kernel, proxy)
        return {"mb": args.mb, "rounds": args.rounds, "kernel": kernel, "proxy": proxy,
                "table": found}

    return run_privately("net_bench", args.json, body)


if __name__ == "__main__":
    sys.exit(main())
