"""``POST /containers/{id}/update`` and the resource fields of create and inspect over
the fake backends (the engine's real merge and checks; no cgroup is written here)."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from tests.unit.api.server.harness import Api, with_api

MB = 1 << 20


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


async def _host(api: Api, cid: str) -> dict[str, Any]:
    resp = await api.client.get(f"/containers/{cid}/json")
    host: dict[str, Any] = (await resp.json())["HostConfig"]
    return host


@with_api
async def test_create_honours_and_inspect_shows_every_resource_field(api: Api) -> None:
    cid = await api.create(HostConfig={
        "Memory": 64 * MB, "MemoryReservation": 32 * MB, "MemorySwappiness": -1,
        "OomScoreAdj": 100, "CpusetCpus": "0", "ShmSize": 128 * MB, "PidsLimit": 10,
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                     "CgroupPermissions": "rw"}],
        "DeviceCgroupRules": ["c 1:3 r"]})
    host = await _host(api, cid)
    assert host["Memory"] == 64 * MB and host["MemorySwap"] == 128 * MB  # docker's default
    assert host["MemoryReservation"] == 32 * MB and host["MemorySwappiness"] is None
    assert host["OomScoreAdj"] == 100 and host["CpusetCpus"] == "0"
    assert host["ShmSize"] == 128 * MB and host["PidsLimit"] == 10
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                "CgroupPermissions": "rw"}]
    assert host["DeviceCgroupRules"] == ["c 1:3 r"]
    plain = await _host(api, await api.create())
    assert plain["ShmSize"] == 64 * MB and plain["MemorySwap"] == 0


@with_api
async def test_create_warns_as_docker(api: Api) -> None:
    resp = await api.client.post("/containers/create", json={
        "Image": "busybox", "HostConfig": {"OomKillDisable": True}})
    assert resp.status == 201
    assert (await resp.json())["Warnings"] == [
        "OOM killer is disabled for the container, but no memory limit is set, this can "
        "result in the system running out of resources."]
    resp = await api.client.post("/containers/create", json={
        "Image": "busybox", "HostConfig": {"Memory": MB}})
    assert await _error(resp) == (400, "Minimum memory limit allowed is 6MB")


@with_api
async def test_update_merges_and_persists(api: Api) -> None:
    cid = await api.create(HostConfig={"Memory": 64 * MB, "CpuShares": 512})
    resp = await api.client.post(f"/containers/{cid}/update", json={
        "Memory": 100 * MB, "MemorySwap": 200 * MB, "PidsLimit": 20, "CpusetCpus": "0",
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    assert resp.status == 200 and await resp.json() == {"Warnings": []}
    host = await _host(api, cid)
    assert (host["Memory"], host["MemorySwap"], host["PidsLimit"]) == (100 * MB, 200 * MB, 20)
    assert host["CpuShares"] == 512, "a field not in the update stays"
    assert host["CpusetCpus"] == "0"
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}


@with_api
async def test_update_refusals_in_dockers_words(api: Api) -> None:
    cid = await api.create(HostConfig={"Memory": 64 * MB})
    full = api.containers.get(cid).id
    resp = await api.client.post(f"/containers/{cid}/update", json={"Memory": 256 * MB})
    assert await _error(resp) == (409, f"Cannot update container {full}: Memory limit should "
                                  "be smaller than already set memoryswap limit, update the "
                                  "memoryswap at the same time")
    resp = await api.client.post(f"/containers/{cid}/update", json={"NanoCpus": 10**9})
    assert resp.status == 200
    resp = await api.client.post(f"/containers/{cid}/update", json={"CpuQuota": 50000})
    assert await _error(resp) == (409, f"Cannot update container {full}: Conflicting "
                                  "options: CPU Quota cannot be updated as NanoCPUs has "
                                  "already been set")
    resp = await api.client.post(f"/containers/{cid}/update", json={"Memory": MB})
    assert await _error(resp) == (400, "Minimum memory limit allowed is 6MB")
    resp = await api.client.post(f"/containers/{cid}/update",
                                 json={"RestartPolicy": {"Name": "sometimes"}})
    assert (await _error(resp))[0] == 400
    resp = await api.client.post(f"/containers/{cid}/update", json={"CpuRealtimePeriod": 5})
    assert await _error(resp) == (400, "berth does not support updating CpuRealtimePeriod yet")
    resp = await api.client.post("/containers/nope/update", json={"CpuShares": 5})
    assert resp.status == 404
    removed = await api.create(HostConfig={"AutoRemove": True})
    resp = await api.client.post(f"/containers/{removed}/update",
                                 json={"RestartPolicy": {"Name": "always"}})
    status, message = await _error(resp)
    assert status == 409 and message.endswith(
        "Restart policy cannot be updated because AutoRemove is enabled for the container")
