"""``berth-runtime pause``, ``resume``, ``update`` and ``kill --all``: the container's
cgroup, through the cgroup manager (``cgroups.open_manager``).

``update`` builds OCI ``linux.resources`` from runc's flags, or takes them from
``-r FILE`` (``-r -``: stdin; then the flags are ignored, as in runc), and applies them
with ``CgroupManager.apply``. As in runc, a zero means "leave as it is", so only the
values given (and non-zero) reach the cgroup.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any, cast

from berth.oci import spec as oci
from berth.runtime.linux import state as cstate
from berth.runtime.linux.cli_log import CommandError
from berth.runtime.linux.runtime import NativeRuntime

log = logging.getLogger(__name__)

# docker/go-units RAMInBytes: binary multiples, an optional "i" and "b".
_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULTIPLIERS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_MEMORY_FLAGS = (("memory", "limit"), ("memory_swap", "swap"),
                 ("memory_reservation", "reservation"), ("kernel_memory", "kernel"),
                 ("kernel_memory_tcp", "kernelTCP"))
_UINT_FLAGS = (("cpu_period", "period"), ("cpu_rt_period", "realtimePeriod"),
               ("cpu_share", "shares"))
_INT_FLAGS = (("cpu_quota", "quota"), ("cpu_rt_runtime", "realtimeRuntime"))


def register(sub: Any) -> None:
    for name, func in (("pause", pause), ("resume", resume)):
        p = sub.add_parser(name)
        p.add_argument("id")
        p.set_defaults(func=func)
    p = sub.add_parser("update")
    p.add_argument("--resources", "-r")
    p.add_argument("--blkio-weight", type=int, default=0)
    for flag in ("cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
                 "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
                 "memory", "memory-reservation", "memory-swap", "l3-cache-schema",
                 "mem-bw-schema", "cpu-idle"):
        p.add_argument("--" + flag)
    p.add_argument("--pids-limit", type=int, default=0)
    p.add_argument("id")
    p.set_defaults(func=update)


def pause(args: argparse.Namespace) -> int:
    container = cstate.load(NativeRuntime(state_root=args.root, subreaper=False), args.id)
    if container.status != "running":
        raise CommandError("container not running")
    _freezer(container, freeze=True)
    return 0


def resume(args: argparse.Namespace) -> int:
    container = cstate.load(NativeRuntime(state_root=args.root, subreaper=False), args.id)
    if container.status != "paused":
        raise CommandError("container not paused")
    _freezer(container, freeze=False)
    return 0


def _freezer(container: cstate.Container, freeze: bool) -> None:
    manager = cstate.cgroup(container.state)
    try:
        manager.freeze() if freeze else manager.thaw()
    except OSError as err:
        raise CommandError(f"{'freeze' if freeze else 'thaw'}: {err}") from None


def signal_all(container: cstate.Container, sig: int) -> None:
    """runc's signalAllProcesses: freeze, signal every process of the cgroup, thaw (a
    frozen process cannot act on a signal, not even SIGKILL)."""
    manager = cstate.cgroup(container.state)
    try:
        manager.freeze()
    except OSError as err:
        log.warning("%s", err)
    try:
        for pid in manager.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
    finally:
        try:
            manager.thaw()
        except OSError as err:
            log.warning("%s", err)


def update(args: argparse.Namespace) -> int:
    container = cstate.load(NativeRuntime(state_root=args.root, subreaper=False), args.id)
    if container.status == "stopped":
        raise CommandError("container not running")
    resources = _from_file(args.resources) if args.resources else _from_flags(args)
    try:
        cstate.cgroup(container.state).apply(cast(oci.Resources, _non_zero(resources)))
    except (OSError, ValueError) as err:
        raise CommandError(str(err)) from None
    return 0


def _from_file(source: str) -> dict[str, Any]:
    try:
        if source == "-":
            doc = json.load(sys.stdin)
        else:
            with open(source) as f:
                doc = json.load(f)
    except FileNotFoundError:
        raise CommandError(f"open {source}: no such file or directory") from None
    except ValueError as err:
        raise CommandError(f"invalid resources: {err}") from None
    if not isinstance(doc, dict):
        raise CommandError("invalid resources: not a JSON object")
    return doc


def _from_flags(args: argparse.Namespace) -> dict[str, Any]:
    memory: dict[str, int] = {}
    cpu: dict[str, Any] = {}
    for flag, key in _MEMORY_FLAGS:
        value = getattr(args, flag)
        if value:
            memory[key] = -1 if value == "-1" else ram_in_bytes(value, flag)
    for flag, key in (*_UINT_FLAGS, *_INT_FLAGS):
        value = getattr(args, flag)
        if value:
            try:
                cpu[key] = int(value)
            except ValueError:
                raise CommandError(f"invalid value for {flag.replace('_', '-')}: "
                                   f'strconv.ParseInt: parsing "{value}": invalid syntax'
                                   ) from None
            if key in dict(_UINT_FLAGS).values() and cpu[key] < 0:
                raise CommandError(f"invalid value for {flag.replace('_', '-')}: "
                                   f'strconv.ParseUint: parsing "{value}": invalid syntax')
    if args.cpuset_cpus:
        cpu["cpus"] = args.cpuset_cpus
    if args.cpuset_mems:
        cpu["mems"] = args.cpuset_mems
    resources: dict[str, Any] = {"memory": memory, "cpu": cpu,
                                 "pids": {"limit": args.pids_limit}}
    if args.blkio_weight:
        resources["blockIO"] = {"weight": args.blkio_weight}
    return resources


def ram_in_bytes(value: str, flag: str = "memory") -> int:
    match = _RAM.match(value)
    if not match:
        raise CommandError(f"invalid value for {flag.replace('_', '-')}: "
                           f"invalid size: '{value}'")
    return int(float(match.group(1)) * _MULTIPLIERS[(match.group(2) or "").lower()])


def _non_zero(resources: dict[str, Any]) -> dict[str, Any]:
    """Drop what runc would leave unchanged: zero values and sections left empty."""
    result: dict[str, Any] = {}
    for section, values in resources.items():
        if isinstance(values, dict):
            kept = {k: v for k, v in values.items() if v not in (0, "", None)}
            if kept:
                result[section] = kept
        elif values not in (0, "", None, []):
            result[section] = values
    return result
