"""``berth-runtime events``: the container's cgroup statistics as runc's events.

``--stats`` prints one ``{"type":"stats","id":ID,"data":STATS}`` line and exits; without
it a stats event follows every ``--interval`` (Go duration, default 5s), plus an
``{"type":"oom","id":ID}`` event when the cgroup's OOM-kill count grows, until the
container stops. STATS has the shape of runc's ``types.Stats`` (keys and Go's
``omitempty`` rules), read straight from the cgroup files::

    cpu{usage{total,percpu,percpu_kernel,percpu_user,kernel,user},throttling{...}}
    cpuset{cpus,mems,...}  memory{cache,usage,swap,kernel,kernelTCP,raw}
    pids{current,limit}  blkio{...}  hugetlb{}  intel_rdt{}  network_interfaces null
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from berth.runtime.linux import state as cstate
from berth.runtime.linux.cgroups import DEFAULT_ROOT, is_unified
from berth.runtime.linux.cgroups import cgroupfs as fs
from berth.runtime.linux.cli_log import CommandError, go_json
from berth.runtime.linux.runtime import NativeRuntime

_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}
_CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
                 "memory_spread_page", "memory_spread_slab", "memory_pressure",
                 "sched_load_balance", "sched_relax_domain_level")


def register(sub: Any) -> None:
    p = sub.add_parser("events")
    p.add_argument("--interval", default="5s")
    p.add_argument("--stats", action="store_true")
    p.add_argument("id")
    p.set_defaults(func=events)


def events(args: argparse.Namespace) -> int:
    interval = parse_duration(args.interval)
    runtime = NativeRuntime(state_root=args.root, subreaper=False)
    container = cstate.load(runtime, args.id)
    if container.status == "stopped":
        raise CommandError(f"container with id {args.id} is not running")
    rel = fs.relative_path(cstate.cgroup(container.state).cgroups_path)
    if args.stats:
        _emit({"type": "stats", "id": args.id, "data": read_stats(rel)})
        return 0
    ooms = _oom_kills(rel)
    while True:
        time.sleep(interval)
        try:
            if cstate.load(runtime, args.id).status == "stopped":
                return 0
        except CommandError:
            return 0  # deleted meanwhile
        count = _oom_kills(rel)
        if count > ooms:
            _emit({"type": "oom", "id": args.id})
        ooms = count
        _emit({"type": "stats", "id": args.id, "data": read_stats(rel)})


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(go_json(event) + "\n")
    sys.stdout.flush()


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` for the forms runc's users write (``5s``, ``100ms``,
    ``1m30s``), in seconds."""
    if not text or _DURATION.sub("", text):
        raise CommandError(f'invalid value "{text}" for flag -interval: parse error')
    total = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))
    if total <= 0:
        raise CommandError("duration interval must be greater than 0")
    return total


def read_stats(rel: Path, root: Path = DEFAULT_ROOT) -> dict[str, Any]:
    if is_unified(root):
        return _stats_v2(root / rel)
    return _stats_v1(root, rel)


def _oom_kills(rel: Path, root: Path = DEFAULT_ROOT) -> int:
    if is_unified(root):
        return fs.read_keyed(root / rel / "memory.events").get("oom_kill", 0)
    return fs.read_keyed(root / "memory" / rel / "memory.oom_control").get("oom_kill", 0)


def _stats_v1(root: Path, rel: Path) -> dict[str, Any]:
    acct, cpu, cpuset = root / "cpuacct" / rel, root / "cpu" / rel, root / "cpuset" / rel
    mem, pids, blkio = root / "memory" / rel, root / "pids" / rel, root / "blkio" / rel
    ticks = fs.read_keyed(acct / "cpuacct.stat")
    throttle = fs.read_keyed(cpu / "cpu.stat")
    raw = fs.read_keyed(mem / "memory.stat")
    return _document(
        usage={"total": fs.read_int(acct / "cpuacct.usage"),
               "percpu": _ints(acct / "cpuacct.usage_percpu"),
               "percpu_kernel": _ints(acct / "cpuacct.usage_percpu_sys"),
               "percpu_user": _ints(acct / "cpuacct.usage_percpu_user"),
               "kernel": ticks.get("system", 0) * _NS_PER_TICK,
               "user": ticks.get("user", 0) * _NS_PER_TICK},
        throttling={"periods": throttle.get("nr_periods", 0),
                    "throttled_periods": throttle.get("nr_throttled", 0),
                    "throttled_time": throttle.get("throttled_time", 0)},
        cpuset=_cpuset(cpuset, "cpuset.cpus", "cpuset.mems", "cpuset."),
        memory={"cache": raw.get("cache", 0),
                "usage": _memory_entry(mem, "memory."),
                "swap": _memory_entry(mem, "memory.memsw."),
                "kernel": _memory_entry(mem, "memory.kmem."),
                "kernelTCP": _memory_entry(mem, "memory.kmem.tcp."),
                "raw": raw},
        pids=_pids(pids),
        blkio={"ioServiceBytesRecursive": _blkio(
                   blkio / "blkio.throttle.io_service_bytes_recursive"),
               "ioServicedRecursive": _blkio(blkio / "blkio.throttle.io_serviced_recursive")},
    )


def _stats_v2(path: Path) -> dict[str, Any]:
    cpu = fs.read_keyed(path / "cpu.stat")
    raw = fs.read_keyed(path / "memory.stat")
    usage = fs.read_int(path / "memory.current")
    swap = fs.read_int(path / "memory.swap.current")
    failcnt = fs.read_keyed(path / "memory.events").get("max", 0)
    return _document(
        usage={"total": cpu.get("usage_usec", 0) * 1000,
               "kernel": cpu.get("system_usec", 0) * 1000,
               "user": cpu.get("user_usec", 0) * 1000},
        throttling={"periods": cpu.get("nr_periods", 0),
                    "throttled_periods": cpu.get("nr_throttled", 0),
                    "throttled_time": cpu.get("throttled_usec", 0) * 1000},
        cpuset=_cpuset(path, "cpuset.cpus.effective", "cpuset.mems.effective", None),
        memory={"cache": raw.get("file", 0),
                "usage": {"limit": _limit(path / "memory.max"), "usage": usage,
                          "failcnt": failcnt},
                "swap": {"limit": _limit(path / "memory.swap.max"), "usage": usage + swap,
                         "failcnt": 0},
                "kernel": {"limit": 0, "failcnt": 0},
                "kernelTCP": {"limit": 0, "failcnt": 0},
                "raw": raw},
        pids=_pids(path),
        blkio={},
    )


def _document(*, usage: dict[str, Any], throttling: dict[str, int], cpuset: dict[str, Any],
              memory: dict[str, Any], pids: dict[str, int], blkio: dict[str, Any]
              ) -> dict[str, Any]:
    """The runc JSON, with Go's omitempty applied where runc's types have it."""
    return {
        "cpu": {"usage": _omit_empty(usage, keep=("kernel", "user")),
                "throttling": _omit_empty(throttling)},
        "cpuset": _omit_empty(cpuset, keep=_CPUSET_FLAGS),
        "memory": _omit_empty(
            {**memory, **{k: _omit_empty(memory[k], keep=("limit", "failcnt"))
                          for k in ("usage", "swap", "kernel", "kernelTCP")}},
            keep=("usage", "swap", "kernel", "kernelTCP")),
        "pids": _omit_empty(pids),
        "blkio": _omit_empty(blkio),
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def _omit_empty(values: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keep or v not in (0, [], {}, None, "")}


def _ints(path: Path) -> list[int]:
    try:
        return [int(v) for v in fs.read(path).split()]
    except (FileNotFoundError, ValueError):
        return []


def _limit(path: Path) -> int:
    try:
        value = fs.read(path)
    except FileNotFoundError:
        return 0
    return 2**64 - 1 if value == "max" else int(value)


def _memory_entry(path: Path, prefix: str) -> dict[str, int]:
    return {"limit": fs.read_int(path / f"{prefix}limit_in_bytes"),
            "usage": fs.read_int(path / f"{prefix}usage_in_bytes"),
            "max": fs.read_int(path / f"{prefix}max_usage_in_bytes"),
            "failcnt": fs.read_int(path / f"{prefix}failcnt")}


def _pids(path: Path) -> dict[str, int]:
    limit = fs.read_int(path / "pids.max")  # "max" reads as 0: unlimited
    return {"current": fs.read_int(path / "pids.current"), "limit": limit}


def _cpuset(path: Path, cpus: str, mems: str, flags_prefix: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"cpus": _cpu_list(path / cpus), "mems": _cpu_list(path / mems)}
    for flag in _CPUSET_FLAGS:
        doc[flag] = fs.read_int(path / f"{flags_prefix}{flag}") if flags_prefix else 0
    return doc


def _cpu_list(path: Path) -> list[int]:
    """"0-2,4" → [0, 1, 2, 4]."""
    try:
        text = fs.read(path)
    except FileNotFoundError:
        return []
    result: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        result.extend(range(int(low), int(high or low) + 1))
    return result


def _blkio(path: Path) -> list[dict[str, Any]]:
    """Lines "8:0 Read 4096" (a final "Total N" line is skipped, as runc does)."""
    entries = []
    try:
        lines = fs.read(path).splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) != 3:
            continue
        major, _, minor = fields[0].partition(":")
        entries.append({"major": int(major), "minor": int(minor), "op": fields[1],
                        "value": int(fields[2])})
    return entries
