#!/usr/bin/env python3
"""CLI start-up budget: ``berth version`` and ``berth ps`` against one berthd, side by side
with the docker CLI against the same berthd, and what a ``berth`` start imports.

Every case talks to the same private berthd over its unix socket (no dockerd is started:
``docker -H unix://…/berth.sock`` is the docker CLI speaking to berthd), so the daemon's
share is the same and the difference is the client's start-up::

    /tmp/bb-<tag>/
        bd/, be/, berth.sock   berthd (with one running ``sleep`` container for ps to list)
        docker-cli/            an empty DOCKER_CONFIG for the docker CLI
        pycache/               PYTHONPYCACHEPREFIX, as an installed berth has its .pyc
        tls/                   with --remote: a throwaway CA, server and client certificates

The budget, checked at the end of the table:

- ``berth ps`` median <= ``RATIO_BUDGET`` x ``docker ps`` median (wall time, same daemon;
  ``python -c pass`` alone is about 1x);
- the modules a ``berth ps`` imports, ``-X importtime`` self times summed, minus those of a
  bare interpreter, <= ``IMPORT_BUDGET_MS`` (median of the rounds). ``-X importtime`` slows
  imports down, so this is a figure to compare between commits, not wall time.

With ``--remote`` berthd also listens on loopback TCP with TLS (``--tlsverify``, client
certificates), and ``berth ps`` over it is timed too: what the lazily imported h11/ssl path
and the handshake cost (berthd applies TLS to all its tcp:// hosts, as dockerd does).
Not part of the test suite: see README.md.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemons import VENV_BIN, Berthd, cli_version, newest_docker_cli
from harness import Stoppers, entry_parser, parse_entry_args, run_privately
from host import BenchError, log, run_checked
from measure import Case, print_table, ratio, round_robin, stats

# The docker CLI (Go) starts about as fast as a bare CPython (~15-17 ms on the 2-core VM),
# so the budget is what Python leaves room for. With the client's private JSON scanner it
# was 1.43x and 6.6 ms of imports; the public ``json`` brings ``re``, ``enum``,
# ``functools`` and ``collections`` (2.0x, 14.9 ms): the budget holds that line.
RATIO_BUDGET = 2.2
IMPORT_BUDGET_MS = 16.0
PYTHON = VENV_BIN / "python"


def import_times(argv: list[str], env: dict[str, str]) -> tuple[float, dict[str, int]]:
    """One ``python -X importtime`` run of ``argv``: the self times summed (ms) and each
    module's self time (us)."""
    proc = subprocess.run([str(PYTHON), "-X", "importtime", *argv], env=env, timeout=60,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{argv} exited {proc.returncode}: {proc.stderr[-2000:]}")
    modules: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        if self_us.strip().isdigit():
            modules[name.strip()] = int(self_us)
    return sum(modules.values()) / 1000, modules


def import_profile(berthd: Berthd, rounds: int) -> dict[str, Any]:
    """Median import totals of the interpreter floor, ``berth version`` and ``berth ps``,
    and the slowest modules ``berth ps`` adds to the floor."""
    script = str(VENV_BIN / "berth")
    cases = {"python_floor": ["-c", "pass"],
             "berth_version": [script, *berthd.cli[1:], "version"],
             "berth_ps": [script, *berthd.cli[1:], "ps"]}
    totals: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, dict[str, int]] = {}
    for _ in range(rounds):
        for name, argv in cases.items():
            total, last[name] = import_times(argv, berthd.env)
            totals[name].append(total)
    floor = set(last["python_floor"])
    added = {m: us for m, us in last["berth_ps"].items() if m not in floor}
    slowest = sorted(added.items(), key=lambda kv: -kv[1])[:12]
    return {"median_ms": {k: round(statistics.median(v), 2) for k, v in totals.items()},
            "berth_ps_modules_added": len(added),
            "berth_ps_slowest_added_us": dict(slowest)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_certs(tls: Path) -> None:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    tls.mkdir()

    def openssl(*args: str) -> None:
        run_checked(["openssl", *args], timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=bench-ca", "-keyout", str(tls / "ca-key.pem"), "-out", str(tls / "ca.pem"))
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
                str(tls / f"{name}-key.pem"), "-out", str(tls / f"{name}.csr"))
        (tls / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", str(tls / f"{name}.csr"), "-CA", str(tls / "ca.pem"),
                "-CAkey", str(tls / "ca-key.pem"), "-CAcreateserial", "-days", "2",
                "-extfile", str(tls / f"{name}.ext"), "-out", str(tls / f"{name}.pem"))


def benchmark(work: Path, tag: str, args: argparse.Namespace,
              stoppers: Stoppers) -> dict[str, Any]:
    extra: list[str] = []
    tls_port = 0
    if args.remote:
        make_certs(work / "tls")
        tls_port = free_port()
        extra = ["-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify", "--tlscacert",
                 str(work / "tls/ca.pem"), "--tlscert", str(work / "tls/server.pem"),
                 "--tlskey", str(work / "tls/server-key.pem")]
    berthd = Berthd(work, f"berth-bench-{tag}", extra=extra)
    stoppers.append(berthd.stop)
    log(f"starting berthd in {work}")
    berthd.start()
    berthd.bootstrap()
    run_checked([*berthd.cli, "run", "-d", "--name", "bench-ps", "busybox", "sleep", "3600"],
                env=berthd.env)
    # stoppers run last-first: the container goes before berthd stops (its pid 1 ignores
    # SIGTERM, and berthd's own stop leaves containers running by design)
    stoppers.append(lambda: run_checked([*berthd.cli, "rm", "-f", "bench-ps"], env=berthd.env))
    cases = [Case("python_floor", "python -c pass (interpreter floor)",
                  lambda i: [str(PYTHON), "-c", "pass"], berthd.env),
             Case("berth_version", "berth version", lambda i: [*berthd.cli, "version"],
                  berthd.env),
             Case("berth_ps", "berth ps", lambda i: [*berthd.cli, "ps"], berthd.env)]
    if args.remote:
        tls = work / "tls"
        remote = [str(VENV_BIN / "berth"), "-H", f"tcp://127.0.0.1:{tls_port}", "--tlsverify",
                  "--tlscacert", str(tls / "ca.pem"), "--tlscert", str(tls / "client.pem"),
                  "--tlskey", str(tls / "client-key.pem")]
        cases.append(Case("berth_ps_tls", "berth -H tcp://127.0.0.1 --tlsverify ps (h11, TLS)",
                          lambda i: [*remote, "ps"], berthd.env))
    docker = None
    if not args.skip_docker:
        docker = newest_docker_cli()
        (work / "docker-cli").mkdir()
        denv = {**{k: v for k, v in berthd.env.items() if not k.startswith("DOCKER_")},
                "DOCKER_CONFIG": str(work / "docker-cli")}
        dcli = [str(docker), "-H", f"unix://{berthd.sock}"]
        cases += [Case("docker_version", "docker version (same berthd)",
                       lambda i: [*dcli, "version"], denv),
                  Case("docker_ps", "docker ps (same berthd)", lambda i: [*dcli, "ps"], denv)]
    log(f"cases: {', '.join(c.name for c in cases)}; {args.warmup} warm-up + {args.rounds} "
        "rounds, round-robin")
    round_robin(cases, args.rounds, args.warmup)
    rows = {c.name: stats(c.samples) for c in cases}
    imports = import_profile(berthd, max(3, args.rounds // 3))
    result: dict[str, Any] = {
        "cases": {c.name: {"label": c.label, "argv": c.argv(0), **rows[c.name],
                           "samples_ms": [round(s, 3) for s in c.samples]} for c in cases},
        "imports": imports, "budget": {"ratio": RATIO_BUDGET, "import_ms": IMPORT_BUDGET_MS},
        "versions": {"berth": run_checked([str(VENV_BIN / "berth"), "--version"]).strip()}}
    if docker is not None:
        result["versions"]["docker_cli"] = f"{docker} " + ".".join(
            map(str, cli_version(docker)))
        result["ratios_of_medians"] = {
            "berth_version/docker_version": ratio(rows["berth_version"],
                                                  rows["docker_version"]),
            "berth_ps/docker_ps": ratio(rows["berth_ps"], rows["docker_ps"])}
    report(rows, {c.name: c.label for c in cases}, result)
    return result


def report(rows: dict[str, dict[str, Any]], labels: dict[str, str],
           result: dict[str, Any]) -> None:
    print()
    print_table(rows, labels)
    imports = result["imports"]
    med = imports["median_ms"]
    added = med["berth_ps"] - med["python_floor"]
    print(f"\n-X importtime, self times summed (median): python -c pass "
          f"{med['python_floor']:.1f} ms, berth version {med['berth_version']:.1f} ms, "
          f"berth ps {med['berth_ps']:.1f} ms ({imports['berth_ps_modules_added']} modules "
          f"over the floor)")
    print("slowest modules berth ps adds (us): " + ", ".join(
        f"{m} {us}" for m, us in imports["berth_ps_slowest_added_us"].items()))
    print()
    for key, value in result.get("ratios_of_medians", {}).items():
        print(f"{key:<30} {value:.2f}x (median)")
    verdicts = [("imports of berth ps over the floor", added, IMPORT_BUDGET_MS, "ms")]
    ps_ratio = result.get("ratios_of_medians", {}).get("berth_ps/docker_ps")
    if ps_ratio is not None:
        verdicts.append(("berth ps / docker ps", ps_ratio, RATIO_BUDGET, "x"))
    for what, value, budget, unit in verdicts:
        verdict = "PASS" if value <= budget else "FAIL"
        print(f"budget {what}: {value:.2f} {unit} <= {budget} {unit}: {verdict}")
    result["budget"]["imports_over_floor_ms"] = round(added, 2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = entry_parser(__doc__, rounds=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--remote", action="store_true",
                   help="also time berth ps over loopback TCP and TLS")
    return parse_entry_args(p, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_privately("startup", args.json,
                         lambda work, tag, stoppers: benchmark(work, tag, args, stoppers))


if __name__ == "__main__":
    sys.exit(main())
