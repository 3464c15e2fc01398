"""``GET /containers/{id}/stats`` as moby's ``getContainersStats`` and
``daemon.ContainerStats`` serve it, with the JSON of docker 28's ``StatsResponse``.

    stream=true (default)   one document per sample (each second), precpu_stats and
                            preread from the one before (zero in the first)
    stream=false            one document: the second sample, the first as its pre*
    one-shot=true (>=1.41)  with stream=false: one sample at once, no pre*

A container that is not running gives documents with only its id and name set and every
figure zero (Go's zero values: the same keys, ``read`` "0001-01-01T00:00:00Z").
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router
from berth.engine.containers.stats import ZERO_TIME, StatsSample, StatsSubscription
from berth.errors import InvalidArgument

_VERSION_PREFIX = "/v"


class StatsBackend(Protocol):
    def subscribe(self, ref: str) -> StatsSubscription: ...

    async def once(self, ref: str, one_shot: bool
                   ) -> tuple[StatsSample, StatsSample | None]: ...


class ContainerStatsRoutes:
    def __init__(self, stats: StatsBackend) -> None:
        self.backend = stats

    def register(self, r: Router) -> None:
        r.add("GET", "/containers/{id}/stats", self.stats)

    async def stats(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        stream = params.boolean(request, "stream", default=True)
        one_shot = _api_at_least(request, (1, 41)) and params.boolean(request, "one-shot")
        if stream and one_shot:
            raise InvalidArgument("cannot have stream=true and one-shot=true")
        if not stream:
            sample, first = await self.backend.once(ref, one_shot)
            return web.Response(body=_line(stats_json(sample, first)),
                                content_type="application/json")
        sub = self.backend.subscribe(ref)  # NotFound before any byte is sent
        try:
            # Go sniffs an empty first flush as text/plain
            response = web.StreamResponse(
                headers={"Content-Type": "text/plain; charset=utf-8"})
            await response.prepare(request)
            previous: StatsSample | None = None
            async for sample in sub:
                await response.write(_line(stats_json(sample, previous)))
                previous = sample
            await response.write_eof()
            return response
        finally:
            sub.close()


def _api_at_least(request: web.Request, version: tuple[int, int]) -> bool:
    path = request.path
    if not path.startswith(_VERSION_PREFIX):
        return True  # no prefix: the newest API
    head = path[len(_VERSION_PREFIX):].split("/", 1)[0]
    major, _, minor = head.partition(".")
    try:
        return (int(major), int(minor)) >= version
    except ValueError:
        return True


def _line(doc: dict[str, Any]) -> bytes:
    """Go's ``json.Encoder.Encode``: compact, newline-terminated."""
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def stats_json(s: StatsSample, pre: StatsSample | None) -> dict[str, Any]:
    """docker 28's ``StatsResponse`` (api/types/container/stats.go), in its field order;
    Go's ``omitempty`` drops zero numbers and empty maps, never structs."""
    doc: dict[str, Any] = {}
    if s.name:
        doc["name"] = s.name
    if s.id:
        doc["id"] = s.id
    doc["read"] = s.read
    doc["preread"] = pre.read if pre is not None else ZERO_TIME
    doc["pids_stats"] = _pids(s)
    doc["blkio_stats"] = _blkio(s)
    doc["num_procs"] = 0
    doc["storage_stats"] = {}
    doc["cpu_stats"] = cpu_json(s)
    doc["precpu_stats"] = cpu_json(pre)
    doc["memory_stats"] = _memory(s)
    if s.networks:
        doc["networks"] = {n.name: {
            "rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets, "rx_errors": n.rx_errors,
            "rx_dropped": n.rx_dropped, "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets,
            "tx_errors": n.tx_errors, "tx_dropped": n.tx_dropped,
        } for n in sorted(s.networks, key=lambda n: n.name)}
    return doc


def cpu_json(s: StatsSample | None) -> dict[str, Any]:
    cg = s.cgroup if s is not None else None
    if cg is None or s is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    cpu = cg.cpu
    usage: dict[str, Any] = {"total_usage": cpu.total}
    if cpu.percpu:
        usage["percpu_usage"] = list(cpu.percpu)
    usage["usage_in_kernelmode"] = cpu.kernel
    usage["usage_in_usermode"] = cpu.user
    doc: dict[str, Any] = {"cpu_usage": usage}
    if s.system is not None and s.system.usage:
        doc["system_cpu_usage"] = s.system.usage
    if s.system is not None and s.system.online_cpus:
        doc["online_cpus"] = s.system.online_cpus
    doc["throttling_data"] = {"periods": cpu.periods,
                              "throttled_periods": cpu.throttled_periods,
                              "throttled_time": cpu.throttled_time}
    return doc


def _memory(s: StatsSample) -> dict[str, Any]:
    if s.cgroup is None:
        return {}
    mem = s.cgroup.memory
    limit = mem.limit
    if s.machine_memory > 0 and limit > s.machine_memory:
        limit = s.machine_memory  # unlimited: the host's memory, as moby reports it
    doc: dict[str, Any] = {}
    for key, value in (("usage", mem.usage), ("max_usage", mem.max_usage)):
        if value:
            doc[key] = value
    if mem.stats:
        doc["stats"] = dict(sorted(mem.stats))  # a Go map: keys sorted
    for key, value in (("failcnt", mem.failcnt), ("limit", limit)):
        if value:
            doc[key] = value
    return doc


def _pids(s: StatsSample) -> dict[str, int]:
    if s.cgroup is None:
        return {}
    doc = {}
    if s.cgroup.pids_current:
        doc["current"] = s.cgroup.pids_current
    if s.cgroup.pids_limit:
        doc["limit"] = s.cgroup.pids_limit
    return doc


_BLKIO_FIELDS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                 "io_service_time_recursive", "io_wait_time_recursive",
                 "io_merged_recursive", "io_time_recursive", "sectors_recursive")


def _blkio(s: StatsSample) -> dict[str, Any]:
    blkio = s.cgroup.blkio if s.cgroup is not None else None
    doc: dict[str, Any] = {}
    for name in _BLKIO_FIELDS:
        entries = blkio.get(name) if blkio is not None else None
        doc[name] = None if entries is None else [
            {"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}
            for e in entries]
    return doc
