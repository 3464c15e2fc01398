"""A create body's resource fields (docker's HostConfig ``Resources``) in, and inspect's
HostConfig out: ``engine.containers.resources.Resources`` on the engine side.

    HONOURED, DEFAULTS          what create accepts (every other field set is refused)
    resources_from(host)        the limits a create or update asks for
    host_config(host, c)        inspect's HostConfig with the container's limits
"""

from __future__ import annotations

import os

from berth.api.types import containers as types
from berth.engine.containers.model import Container
from berth.engine.containers.resources import Resources
from berth.errors import InvalidArgument

HONOURED = frozenset({"CpuShares", "Memory", "CpuPeriod", "CpuQuota", "MemoryReservation",
                      "MemorySwap", "NanoCpus", "PidsLimit"})
# Values that ask for exactly what every berth container gets.
DEFAULTS: dict[str, tuple[object, ...]] = {"MemorySwappiness": (-1,), "OomKillDisable": (False,)}


def resources_from(host: types.HostConfig) -> Resources:
    """The limits ``host`` asks for; InvalidArgument as docker words it."""
    if host.NanoCpus and (host.CpuQuota or host.CpuPeriod):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    ncpu = os.cpu_count() or 1
    if host.NanoCpus < 0 or host.NanoCpus > ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    return Resources(
        memory=host.Memory, memory_swap=host.MemorySwap,
        memory_reservation=host.MemoryReservation, nano_cpus=host.NanoCpus,
        cpu_shares=host.CpuShares, cpu_quota=host.CpuQuota, cpu_period=host.CpuPeriod,
        pids_limit=host.PidsLimit or 0)


def host_config(host: types.HostConfig, c: Container) -> types.HostConfig:
    """``host`` with the resource fields of ``c``."""
    r = c.spec.resources
    host.Memory, host.MemorySwap, host.MemoryReservation = (
        r.memory, r.memory_swap, r.memory_reservation)
    host.NanoCpus, host.CpuShares, host.CpuQuota, host.CpuPeriod = (
        r.nano_cpus, r.cpu_shares, r.cpu_quota, r.cpu_period)
    host.PidsLimit = r.pids_limit or None
    host.OomKillDisable = False
    return host
