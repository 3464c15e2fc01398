"""``GET /containers/{id}/stats`` through the real route and the engine's real
StatsCollector, over a container service stand-in whose cgroup reads are counted."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from berth.api.server.app import make_app
from berth.api.server.container_stats import ContainerStatsRoutes, stats_json
from berth.engine.containers.model import Container, ContainerSpec, State, Status
from berth.engine.containers.stats import StatsCollector, StatsSample
from berth.errors import NotFound
from berth.runtime.linux.cgroups.stats import (
    BLKIO_FIELDS,
    Blkio,
    BlkioEntry,
    CgroupSample,
    CpuUsage,
    InterfaceCounters,
    MemoryUsage,
    SystemCpu,
)

Client = TestClient[web.Request, web.Application]
CID = "c" * 64


class Cgroups:
    def __init__(self) -> None:
        self.reads = 0

    def stats(self, cid: str) -> CgroupSample:
        self.reads += 1
        return CgroupSample(
            version=1, cpu=CpuUsage(total=1000 * self.reads, percpu=(600, 400)),
            memory=MemoryUsage(usage=4096, limit=0x7FFFFFFFFFFFF000,
                               stats=(("rss", 4096), ("cache", 0))),
            pids_current=2, pids_limit=0,
            blkio=Blkio(tuple((f, ()) for f in BLKIO_FIELDS)))


class Containers:
    """``get`` and ``cgroups``: what the collector uses of ContainerService."""

    def __init__(self) -> None:
        self.cgroups = Cgroups()
        self.containers = {CID: Container(
            id=CID, name="web", created="t", spec=ContainerSpec(image="busybox",
                                                                network_mode="host"),
            image_id="i", path="sh", args=(), cmd=None, entrypoint=None, labels=(), env=(),
            working_dir="", user="", hostname="", runtime="native", log_path="",
            state=State(status=Status.RUNNING, pid=1))}

    def get(self, ref: str) -> Container:
        for c in self.containers.values():
            if c.id.startswith(ref) or c.name == ref:
                return c
        raise NotFound(f"No such container: {ref}")


def with_stats(test: Callable[[Client, Containers, StatsCollector], Awaitable[None]]
               ) -> Callable[[], None]:
    def run() -> None:
        async def main() -> None:
            containers = Containers()
            collector = StatsCollector(containers, interval=0.05)  # type: ignore[arg-type]
            app = make_app([ContainerStatsRoutes(collector).register])
            async with TestClient(TestServer(app)) as client:
                try:
                    await test(client, containers, collector)
                finally:
                    await collector.close()

        asyncio.run(main())

    return run


def _zero_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def test_the_empty_sample_is_gos_zero_document() -> None:
    body = json.dumps(stats_json(StatsSample(id=CID, name="/web"), None),
                      separators=(",", ":"))
    nulls = ",".join(f'"{f}":null' for f in BLKIO_FIELDS)
    cpu = ('{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},'
           '"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}}')
    assert body == (
        f'{{"name":"/web","id":"{CID}","read":"0001-01-01T00:00:00Z",'
        f'"preread":"0001-01-01T00:00:00Z","pids_stats":{{}},"blkio_stats":{{{nulls}}},'
        f'"num_procs":0,"storage_stats":{{}},"cpu_stats":{cpu},"precpu_stats":{cpu},'
        f'"memory_stats":{{}}}}')


def test_a_sample_as_docker_encodes_it() -> None:
    cg = CgroupSample(
        version=2, cpu=CpuUsage(total=5, kernel=1, user=4, periods=3),
        memory=MemoryUsage(usage=100, failcnt=0, limit=2**64 - 1,
                           stats=(("file", 1), ("anon", 2))),
        pids_current=3, pids_limit=2**64 - 1,
        blkio=Blkio(tuple((f, (BlkioEntry(8, 0, "read", 7),) if f == BLKIO_FIELDS[0]
                           else None) for f in BLKIO_FIELDS)))
    nets = (InterfaceCounters("eth1", 1, 2, 3, 4, 5, 6, 7, 8),
            InterfaceCounters("eth0", 0, 0, 0, 0, 0, 0, 0, 0))
    s = StatsSample(id=CID, name="/web", read="2026-12-05T11:00:01.5Z", cgroup=cg,
                    system=SystemCpu(usage=10**12, online_cpus=2), networks=nets,
                    machine_memory=2**34)
    doc = stats_json(s, replace(s, read="2026-12-05T11:00:00.5Z"))
    assert doc["preread"] == "2026-12-05T11:00:00.5Z"
    assert doc["cpu_stats"] == doc["precpu_stats"] == {
        "cpu_usage": {"total_usage": 5, "usage_in_kernelmode": 1, "usage_in_usermode": 4},
        "system_cpu_usage": 10**12, "online_cpus": 2,
        "throttling_data": {"periods": 3, "throttled_periods": 0, "throttled_time": 0}}
    # no max_usage on v2, failcnt 0 omitted, the limit capped at the host's memory,
    # stats keys sorted as Go's map
    assert doc["memory_stats"] == {"usage": 100, "stats": {"anon": 2, "file": 1},
                                   "limit": 2**34}
    assert list(doc["memory_stats"]["stats"]) == ["anon", "file"]
    assert doc["pids_stats"] == {"current": 3, "limit": 2**64 - 1}
    assert doc["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 7}]
    assert doc["blkio_stats"]["sectors_recursive"] is None
    assert list(doc["networks"]) == ["eth0", "eth1"]
    assert doc["networks"]["eth1"] == {
        "rx_bytes": 1, "rx_packets": 2, "rx_errors": 3, "rx_dropped": 4, "tx_bytes": 5,
        "tx_packets": 6, "tx_errors": 7, "tx_dropped": 8}


@with_stats
async def test_stream_pairs_each_sample_with_the_previous(
        client: Client, containers: Containers, _: StatsCollector) -> None:
    resp = await client.get(f"/v1.45/containers/{CID[:6]}/stats")
    assert resp.status == 200
    docs = [json.loads(await resp.content.readline()) for _ in range(3)]
    resp.close()
    assert docs[0]["preread"] == "0001-01-01T00:00:00Z"
    assert docs[0]["precpu_stats"] == _zero_cpu()
    for before, after in itertools.pairwise(docs):
        assert after["preread"] == before["read"]
        assert after["precpu_stats"] == before["cpu_stats"]
        assert after["cpu_stats"]["cpu_usage"]["total_usage"] > before["cpu_stats"][
            "cpu_usage"]["total_usage"]
    d = docs[0]
    assert d["name"] == "/web" and d["id"] == CID
    assert d["memory_stats"]["limit"] < 0x7FFFFFFFFFFFF000  # the host's MemTotal
    assert "networks" not in d  # --network host: none of its own, as docker


@with_stats
async def test_stream_false_waits_for_two_samples_one_shot_for_none(
        client: Client, containers: Containers, _: StatsCollector) -> None:
    resp = await client.get(f"/containers/{CID}/stats", params={"stream": "0"})
    assert resp.headers["Content-Type"] == "application/json"
    doc = json.loads(await resp.text())
    assert doc["precpu_stats"]["cpu_usage"]["total_usage"] == 1000
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] == 2000
    assert containers.cgroups.reads == 2
    one = await (await client.get(f"/containers/{CID}/stats",
                                  params={"stream": "false", "one-shot": "true"})).json()
    assert one["preread"] == "0001-01-01T00:00:00Z" and containers.cgroups.reads == 3
    bad = await client.get(f"/containers/{CID}/stats", params={"one-shot": "1"})
    assert bad.status == 400
    assert await bad.json() == {"message": "cannot have stream=true and one-shot=true"}
    old = await client.get(f"/v1.40/containers/{CID}/stats",
                           params={"stream": "0", "one-shot": "1"})
    assert (await old.json())["preread"] != "0001-01-01T00:00:00Z"  # one-shot unread
    missing = await client.get("/containers/nosuch/stats")
    assert missing.status == 404
    assert await missing.json() == {"message": "No such container: nosuch"}


@with_stats
async def test_a_stopped_container_is_not_read(client: Client, containers: Containers,
                                              _: StatsCollector) -> None:
    c = containers.containers[CID]
    containers.containers[CID] = c.with_state(status=Status.EXITED, pid=0)
    doc = await (await client.get(f"/containers/{CID}/stats",
                                  params={"stream": "0"})).json()
    assert doc["read"] == "0001-01-01T00:00:00Z" and doc["memory_stats"] == {}
    assert containers.cgroups.reads == 0


@with_stats
async def test_one_sampler_serves_every_subscriber(
        client: Client, containers: Containers, collector: StatsCollector) -> None:
    streams = [await client.get(f"/containers/{CID}/stats") for _ in range(4)]
    firsts = [json.loads(await s.content.readline()) for s in streams]
    seconds = [json.loads(await s.content.readline()) for s in streams]
    # every subscriber gets the same rounds: four clients, one read per round
    assert len({d["read"] for d in seconds}) <= 2
    assert containers.cgroups.reads <= 4
    assert all(d["cpu_stats"]["cpu_usage"]["total_usage"] in (1000, 2000, 3000)
               for d in firsts + seconds)
    for s in streams:
        s.close()


@with_stats
async def test_removing_the_container_ends_its_stream(
        client: Client, containers: Containers, _: StatsCollector) -> None:
    resp = await client.get(f"/containers/{CID}/stats")
    await resp.content.readline()
    del containers.containers[CID]
    rest = await asyncio.wait_for(resp.content.read(), 5)
    assert rest.count(b"\n") <= 2  # what was already taken, then the end
