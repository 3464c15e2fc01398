"""``--profile``: where berth's time goes. CLI start-up against the daemon, then the
daemon side, one HTTP call at a time, in the order the docker CLI sends them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from daemons import Berthd, Dockerd, UnixHTTPConnection, api
from host import BenchError
from measure import Case, print_table, round_robin, stats


def api_sequence(sock: Path, prefix: str) -> dict[str, float]:
    """One ``run --rm busybox true`` the way the docker CLI drives it, timed per call:
    create → attach (hijack) → wait?condition=removed (headers) → start → output EOF →
    wait's body (the container is removed)."""
    t: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        t[name] = (now - mark) * 1000
        mark = now

    begin = mark
    body = {"Image": "busybox", "Cmd": ["true"], "AttachStdout": True, "AttachStderr": True,
            "HostConfig": {"AutoRemove": True}}
    cid = api(sock, "POST", f"{prefix}/containers/create", body)["Id"]
    lap("create")
    attach = UnixHTTPConnection(sock)
    attach.request("POST", f"{prefix}/containers/{cid}/attach?stream=1&stdout=1&stderr=1",
                   headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    stream = attach.getresponse()
    if stream.status not in (101, 200):
        raise BenchError(f"attach: {stream.status} {stream.read()!r}")
    lap("attach")
    waiter = UnixHTTPConnection(sock)
    waiter.request("POST", f"{prefix}/containers/{cid}/wait?condition=removed")
    waited = waiter.getresponse()  # headers come once the wait is registered
    if waited.status != 200:
        raise BenchError(f"wait: {waited.status} {waited.read()!r}")
    lap("wait_registered")
    api(sock, "POST", f"{prefix}/containers/{cid}/start")
    lap("start")
    reader = stream.fp if stream.status == 101 else stream
    assert reader is not None
    while reader.read(65536):
        pass
    lap("run_until_output_eof")
    result = json.loads(waited.read())
    lap("exit_and_remove")
    attach.close()
    waiter.close()
    if result.get("StatusCode") != 0:
        raise BenchError(f"container exited {result}")
    t["total"] = (time.perf_counter() - begin) * 1000
    return t


def profile(berthd: Berthd, dockerd: Dockerd | None, runs: int, warmup: int,
            python: Path) -> dict[str, Any]:
    env = berthd.env
    cases = [Case("python_startup", "python -c pass (interpreter floor)",
                  lambda i: [str(python), "-c", "pass"], env),
             Case("berth_import", "python -c 'import berth.cli.main'",
                  lambda i: [str(python), "-c", "import berth.cli.main"], env),
             Case("berth_import_client", "python -c 'import berth.cli.main, berth.client'",
                  lambda i: [str(python), "-c", "import berth.cli.main, berth.client"], env),
             Case("berth_version", "berth version (CLI start-up + GET /version)",
                  lambda i: [*berthd.cli, "version"], env),
             Case("berth_version_nopyc", "berth version, no bytecode cache",
                  lambda i: [*berthd.cli, "version"], berthd.env_nopyc),
             Case("berth_run", "berth run --rm busybox true",
                  lambda i: [*berthd.cli, "run", "--rm", "busybox", "true"], env)]
    if dockerd is not None:
        cases.append(Case("docker_version", "docker version",
                          lambda i: [*dockerd.cli, "version"], env=dockerd.env))
    round_robin(cases, runs, warmup)
    out: dict[str, Any] = {"cli": {c.name: {"label": c.label, **stats(c.samples)}
                                   for c in cases}}
    targets = [("berth", berthd.sock, "/v1.45")]
    if dockerd is not None:
        targets.append(("docker", dockerd.sock, f"/v{dockerd.version()['ApiVersion']}"))
    laps: dict[str, dict[str, list[float]]] = {name: {} for name, _, _ in targets}
    for r in range(warmup + runs):
        for name, sock, prefix in targets:
            one = api_sequence(sock, prefix)
            if r >= warmup:
                for key, ms in one.items():
                    laps[name].setdefault(key, []).append(ms)
    out["api"] = {name: {k: stats(v) for k, v in steps.items()} for name, steps in laps.items()}
    return out


def print_profile(prof: dict[str, Any]) -> None:
    print("\nCLI start-up (same daemon, same rounds):")
    print_table({k: v for k, v in prof["cli"].items()},
                {k: v["label"] for k, v in prof["cli"].items()})
    print("\nDaemon side, per HTTP call (http.client over the unix socket, docker CLI order):")
    names = list(prof["api"])
    steps = list(prof["api"][names[0]])
    print(f"{'step':<22}" + "".join(f"  {n + ' med':>11}  {n + ' p90':>11}" for n in names))
    for step in steps:
        print(f"{step:<22}" + "".join(
            f"  {prof['api'][n][step]['median_ms']:>11.1f}  {prof['api'][n][step]['p90_ms']:>11.1f}"
            for n in names))
    cli = prof["cli"]
    overhead = cli["berth_run"]["median_ms"] - prof["api"]["berth"]["total"]["median_ms"]
    print(f"\nberth run median minus API total median = {overhead:.1f} ms "
          f"(CLI start-up, imports and argument handling; python floor "
          f"{cli['python_startup']['median_ms']:.1f} ms)")
