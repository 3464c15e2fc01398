"""``/volumes`` through the real routes over the fakes: the JSON docker's clients read,
key for key, the filters, and the statuses of errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from tests.unit.api.server.harness import Api, with_api

from berth.api.server.app import make_app
from berth.api.server.system import SystemRoutes
from berth.engine.images.registries import RegistryOptions
from berth.engine.system import DiskUsage, Info
from berth.engine.volumes.model import ANONYMOUS_LABEL, VolumeCreate

VOLUME_KEYS = ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


def _filters(**values: list[str]) -> dict[str, str]:
    return {"filters": json.dumps(values)}


async def _names(api: Api, **values: list[str]) -> list[str]:
    resp = await api.client.get("/volumes", params=_filters(**values))
    assert resp.status == 200, await resp.text()
    return [v["Name"] for v in (await resp.json())["Volumes"]]


@with_api
async def test_create_answers_201_with_the_volume_in_dockers_shape(api: Api) -> None:
    resp = await api.client.post("/v1.45/volumes/create", json={
        "Name": "data", "Driver": "local", "DriverOpts": {}, "Labels": {"k": "v"}})
    assert resp.status == 201
    doc: dict[str, Any] = await resp.json()
    assert sorted(doc) == VOLUME_KEYS
    assert doc["Name"] == "data" and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"k": "v"} and doc["Options"] == {}
    assert doc["Mountpoint"] == "/var/lib/berth/volumes/data/_data" and doc["CreatedAt"]
    again = await api.client.post("/volumes/create", json={"Name": "data"})
    assert again.status == 201 and (await again.json()) == doc  # idempotent, as docker
    inspected = await api.client.get("/volumes/data")
    assert inspected.status == 200 and await inspected.json() == doc


@with_api
async def test_create_without_a_name_or_body_makes_a_random_name(api: Api) -> None:
    resp = await api.client.post("/volumes/create")
    assert resp.status == 201
    name = (await resp.json())["Name"]
    assert len(name) == 64 and api.volumes.get(name).driver == "local"


@with_api
async def test_create_refusals(api: Api) -> None:
    resp = await api.client.post("/volumes/create", json={"Name": "a/b"})
    assert await _error(resp) == (400, 'create a/b: "a/b" includes invalid characters for a '
                                       'local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" '
                                       "are allowed. If you intended to pass a host "
                                       "directory, use absolute path")
    resp = await api.client.post("/volumes/create", json={"Name": "x", "Driver": "nfs"})
    status, message = await _error(resp)
    assert status == 404 and "plugin" in message
    resp = await api.client.post("/volumes/create", json={"Name": "x",
                                                          "ClusterVolumeSpec": {}})
    status, message = await _error(resp)
    assert status == 400 and "ClusterVolumeSpec" in message
    resp = await api.client.post("/volumes/create", json={"Name": 3})
    status, message = await _error(resp)
    assert status == 400 and message.startswith("invalid JSON")
    assert api.volumes.list() == []


@with_api
async def test_list_has_warnings_null_and_filters(api: Api) -> None:
    resp = await api.client.get("/volumes")
    assert await resp.json() == {"Volumes": [], "Warnings": None}
    await api.volumes.create(VolumeCreate("web-data", labels=(("app", "web"),)))
    await api.volumes.create(VolumeCreate("db-data", labels=(("app", "db"), ("tier", "x"))))
    await api.create(HostConfig={"Binds": ["db-data:/var/lib/db"]})
    assert await _names(api) == ["db-data", "web-data"]
    assert await _names(api, name=["web"]) == ["web-data"]
    assert await _names(api, name=["^db"]) == ["db-data"]  # a regular expression, as docker
    assert await _names(api, label=["app"]) == ["db-data", "web-data"]
    assert await _names(api, label=["app=db", "tier"]) == ["db-data"]  # every label
    assert await _names(api, driver=["local"]) == ["db-data", "web-data"]
    assert await _names(api, dangling=["true"]) == ["web-data"]
    assert await _names(api, dangling=["0"]) == ["db-data"]
    resp = await api.client.get("/volumes", params=_filters(dangling=["maybe"]))
    assert await _error(resp) == (400, "invalid filter 'dangling=maybe'")
    resp = await api.client.get("/volumes", params=_filters(until=["1h"]))
    assert await _error(resp) == (400, "invalid filter 'until'")


@with_api
async def test_inspect_and_remove_of_a_missing_volume(api: Api) -> None:
    assert await _error(await api.client.get("/volumes/nope")) == (
        404, "get nope: no such volume")
    assert await _error(await api.client.delete("/volumes/nope")) == (
        404, "get nope: no such volume")
    resp = await api.client.delete("/volumes/nope", params={"force": "1"})
    assert resp.status == 204


@with_api
async def test_remove_of_a_volume_in_use_is_409_until_its_container_goes(api: Api) -> None:
    cid = await api.create(HostConfig={"Binds": ["used:/data"]})
    for params in ({}, {"force": "true"}):
        resp = await api.client.delete("/volumes/used", params=params)
        assert await _error(resp) == (409, f"remove used: volume is in use - [{cid}]")
    assert (await api.client.delete(f"/containers/{cid}")).status == 204
    assert (await api.client.delete("/volumes/used")).status == 204
    assert api.volumes.list() == []


@with_api
async def test_prune_takes_anonymous_volumes_unless_all_and_reports_them(api: Api) -> None:
    await api.volumes.create(VolumeCreate("named", labels=(("keep", "no"),)))
    anon = await api.volumes.create(VolumeCreate(labels=((ANONYMOUS_LABEL, ""),)))
    resp = await api.client.post("/volumes/prune")
    assert await resp.json() == {"VolumesDeleted": [anon.name], "SpaceReclaimed": 0}
    resp = await api.client.post("/volumes/prune")
    assert await resp.json() == {"VolumesDeleted": None, "SpaceReclaimed": 0}
    resp = await api.client.post("/volumes/prune", params=_filters(
        all=["true"], **{"label!": ["keep=no"]}))
    assert (await resp.json())["VolumesDeleted"] is None
    resp = await api.client.post("/volumes/prune", params=_filters(all=["1"], label=["keep"]))
    assert (await resp.json())["VolumesDeleted"] == ["named"]


@with_api
async def test_prune_before_api_1_42_takes_every_unused_volume(api: Api) -> None:
    await api.volumes.create(VolumeCreate("named"))
    resp = await api.client.post("/v1.41/volumes/prune")
    assert (await resp.json())["VolumesDeleted"] == ["named"]


@with_api
async def test_prune_filter_errors(api: Api) -> None:
    resp = await api.client.post("/volumes/prune", params=_filters(dangling=["true"]))
    assert await _error(resp) == (400, "invalid filter 'dangling'")
    resp = await api.client.post("/volumes/prune", params=_filters(all=["maybe"]))
    status, message = await _error(resp)
    assert status == 400 and message.startswith("invalid filter 'all'")
    resp = await api.client.post("/volumes/prune", params=_filters(all=["1", "0"]))
    status, message = await _error(resp)
    assert status == 400 and "only one value is expected" in message


class _NoSystem:
    async def info(self) -> Info:
        raise NotImplementedError

    async def disk_usage(self) -> DiskUsage:
        return DiskUsage(0, (), ())


@with_api
async def test_system_df_lists_volumes_with_usage_data(api: Api) -> None:
    await api.create(HostConfig={"Binds": ["used:/data"]})
    await api.volumes.create(VolumeCreate("idle"))
    app: web.Application = make_app([SystemRoutes(
        _NoSystem(), RegistryOptions(), api.containers.events, api.volumes).register])
    async with TestClient(TestServer(app)) as client:
        doc = await (await client.get("/system/df")).json()
    usage = {v["Name"]: v["UsageData"] for v in doc["Volumes"]}
    assert usage == {"idle": {"Size": 0, "RefCount": 0}, "used": {"Size": 0, "RefCount": 1}}
    assert sorted(doc["Volumes"][0]) == sorted([*VOLUME_KEYS, "UsageData"])
