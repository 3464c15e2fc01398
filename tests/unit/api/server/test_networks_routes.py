"""``/networks`` and a container's networking through the real routes over the fakes:
the JSON docker-py and docker-compose v1 read, key for key, and the statuses of errors."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.api.server.harness import Api, with_api

NETWORK_KEYS = ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv4", "EnableIPv6",
                "IPAM", "Internal", "Attachable", "Ingress", "ConfigFrom", "ConfigOnly",
                "Containers", "Options", "Labels"]


async def _json(api: Api, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    resp = await api.client.request(method, path, **kw)
    assert resp.status == status, await resp.text()
    return await resp.json() if resp.content_length else None


async def _create_network(api: Api, **body: Any) -> str:
    doc = await _json(api, "POST", "/networks/create", 201, json=body)
    assert list(doc) == ["Id", "Warning"] and doc["Warning"] == ""
    return str(doc["Id"])


@with_api
async def test_create_inspect_and_remove_a_network(api: Api) -> None:
    nid = await _create_network(api, Name="appnet", CheckDuplicate=True, Driver="bridge",
                                Labels={"com.docker.compose.project": "p"}, Options={},
                                IPAM={"Driver": "default", "Options": {}, "Config": [
                                    {"Subnet": "10.88.1.0/24", "Gateway": "10.88.1.1"}]})
    doc = await _json(api, "GET", "/v1.41/networks/appnet")
    assert list(doc) == NETWORK_KEYS
    assert (doc["Id"], doc["Name"], doc["Driver"], doc["Scope"]) == (
        nid, "appnet", "bridge", "local")
    assert doc["IPAM"] == {"Driver": "default", "Options": {},
                           "Config": [{"Subnet": "10.88.1.0/24", "Gateway": "10.88.1.1"}]}
    assert doc["ConfigFrom"] == {"Network": ""} and doc["Containers"] == {}
    assert doc["Labels"] == {"com.docker.compose.project": "p"}
    assert (await _json(api, "GET", f"/networks/{nid[:12]}"))["Id"] == nid
    await _json(api, "GET", "/networks/appnet?scope=swarm", 404)
    await _json(api, "DELETE", "/networks/appnet", 204)
    err = await _json(api, "GET", "/networks/appnet", 404)
    assert err == {"message": "network appnet not found"}


@with_api
async def test_create_errors(api: Api) -> None:
    await _create_network(api, Name="dup")
    err = await _json(api, "POST", "/networks/create", 409, json={"Name": "dup"})
    assert err["message"] == "network with name dup already exists"
    for body, words in (
            ({"Name": "x", "EnableIPv6": True}, "EnableIPv6"),
            ({"Name": "x", "Ingress": True}, "Ingress"),
            ({"Name": "x", "ConfigOnly": True}, "ConfigOnly"),
            ({"Name": "x", "ConfigFrom": {"Network": "cfg"}}, "ConfigFrom"),
            ({"Name": "x", "Scope": "swarm"}, "Scope"),
            ({"Name": "x", "IPAM": {"Driver": "dhcp"}}, "IPAM.Driver"),
            ({"Name": "x", "IPAM": {"Options": {"a": "b"}}}, "IPAM.Options"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.1.0.0/16",
                                                "AuxiliaryAddresses": {"a": "10.1.0.9"}}]}},
             "IPAM.Config[0].AuxiliaryAddresses"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "fd00::/64"}]}}, "IPv6"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.1.0.0/16"},
                                               {"Subnet": "10.2.0.0/16"}]}}, "one IPAM pool"),
            ({"Name": "x", "Internal": "yes"}, "Internal")):
        err = await _json(api, "POST", "/networks/create", 400, json=body)
        assert words in err["message"], (body, err)
    err = await _json(api, "POST", "/networks/create", 403,
                      json={"Name": "x", "IPAM": {"Config": [{"Subnet": "172.18.5.0/24"}]}})
    assert "Pool overlaps" in err["message"]
    await _json(api, "POST", "/networks/create", 403, json={"Name": "h", "Driver": "host"})
    await _json(api, "POST", "/networks/create", 404, json={"Name": "o", "Driver": "overlay"})


@with_api
async def test_the_predefined_networks_and_list_filters(api: Api) -> None:
    await _create_network(api, Name="front", Labels={"tier": "web"})
    await _create_network(api, Name="back", Labels={"tier": "db"})
    everything = await _json(api, "GET", "/networks")
    assert {n["Name"] for n in everything} == {"bridge", "host", "none", "front", "back"}
    assert all(list(n) == NETWORK_KEYS and n["Containers"] == {} for n in everything)
    bridge = next(n for n in everything if n["Name"] == "bridge")
    assert bridge["IPAM"]["Options"] is None and bridge["IPAM"]["Config"][0]["Gateway"]
    host = next(n for n in everything if n["Name"] == "host")
    assert (host["Driver"], host["IPAM"]["Config"]) == ("host", [])
    back_id = next(n["Id"] for n in everything if n["Name"] == "back")

    async def names(**filters: list[str]) -> set[str]:
        docs = await _json(api, "GET", "/networks",
                           params={"filters": json.dumps(filters)})
        return {n["Name"] for n in docs}

    assert await names(name=["ron"]) == {"front"}
    assert await names(id=[back_id[:10]]) == {"back"}
    assert await names(label=["tier"]) == {"front", "back"}
    assert await names(label=["tier=db"]) == {"back"}
    assert await names(label=["tier", "tier=db"]) == {"back"}  # every label must match
    assert await names(driver=["null"]) == {"none"}
    assert await names(type=["custom"]) == {"front", "back"}
    assert await names(type=["builtin"]) == {"bridge", "host", "none"}
    assert await names(scope=["local"], name=["back", "front"]) == {"front", "back"}
    assert await names(dangling=["true"]) == {"front", "back"}
    await api.create("db", HostConfig={"NetworkMode": "back"})
    assert await names(dangling=["1"]) == {"front"}
    assert await names(dangling=["false"]) == {"bridge", "host", "none", "back"}
    for bad in ({"type": ["other"]}, {"dangling": ["maybe"]}, {"nope": ["x"]}):
        await _json(api, "GET", "/networks", 400, params={"filters": json.dumps(bad)})


@with_api
async def test_remove_errors(api: Api) -> None:
    err = await _json(api, "DELETE", "/networks/bridge", 403)
    assert err["message"] == "bridge is a pre-defined network and cannot be removed"
    await _json(api, "DELETE", "/networks/nope", 404)
    await _create_network(api, Name="busy")
    cid = await api.create(Cmd=["sleep", "300"], HostConfig={"NetworkMode": "busy"})
    await _json(api, "POST", f"/containers/{cid}/start", 204)
    err = await _json(api, "DELETE", "/networks/busy", 409)
    assert "has active endpoints" in err["message"]


@with_api
async def test_connect_inspect_and_disconnect(api: Api) -> None:
    nid = await _create_network(api, Name="appnet")
    cid = await api.create("web", Cmd=["sleep", "300"])
    await _json(api, "POST", "/networks/appnet/connect", 200, json={
        "Container": "web", "EndpointConfig": {"Aliases": ["api"], "Links": ["web:me"],
                                               "IPAMConfig": {"IPv4Address": ""}}})
    await _json(api, "POST", f"/containers/{cid}/start", 204)
    net = await _json(api, "GET", "/networks/appnet")
    [(member, entry)] = net["Containers"].items()
    assert member == cid and list(entry) == ["Name", "EndpointID", "MacAddress",
                                             "IPv4Address", "IPv6Address"]
    assert entry["Name"] == "web" and entry["IPv4Address"].endswith("/16")
    settings = (await _json(api, "GET", "/containers/web/json"))["NetworkSettings"]
    assert list(settings["Networks"]) == ["bridge", "appnet"]
    appnet = settings["Networks"]["appnet"]
    assert (appnet["NetworkID"], appnet["Aliases"], appnet["Links"]) == (
        nid, ["api"], ["web:me"])
    assert appnet["IPAddress"] == entry["IPv4Address"].split("/")[0]
    assert "web" in appnet["DNSNames"] and "api" in appnet["DNSNames"]
    err = await _json(api, "POST", "/networks/appnet/connect", 403, json={"Container": cid})
    assert "already exists in network appnet" in err["message"]
    await _json(api, "POST", "/networks/appnet/connect", 400, json={
        "Container": cid, "EndpointConfig": {"IPAMConfig": {"IPv6Address": "fd00::5"}}})
    await _json(api, "POST", "/networks/appnet/connect", 400, json={
        "Container": cid, "EndpointConfig": {"DriverOpts": {"a": "b"}}})
    await _json(api, "POST", "/networks/appnet/connect", 404, json={"Container": "nope"})
    await _json(api, "POST", "/networks/nope/connect", 404, json={"Container": cid})
    await _json(api, "POST", "/networks/host/connect", 403, json={"Container": cid})
    await _json(api, "POST", "/networks/appnet/disconnect", 200,
                json={"Container": cid, "Force": False})
    net = await _json(api, "GET", "/networks/appnet")
    assert net["Containers"] == {}
    settings = (await _json(api, "GET", f"/containers/{cid}/json"))["NetworkSettings"]
    assert list(settings["Networks"]) == ["bridge"]


@with_api
async def test_prune(api: Api) -> None:
    await _create_network(api, Name="old", Labels={"stage": "test"})
    await _create_network(api, Name="kept", Labels={"stage": "prod"})
    await _create_network(api, Name="used")
    cid = await api.create(Cmd=["sleep", "300"], HostConfig={"NetworkMode": "used"})
    await _json(api, "POST", f"/containers/{cid}/start", 204)
    doc = await _json(api, "POST", "/networks/prune",
                      params={"filters": json.dumps({"label!": ["stage=prod"]})})
    assert doc == {"NetworksDeleted": ["old"]}
    assert await _json(api, "POST", "/networks/prune",
                       params={"filters": json.dumps({"until": ["1h"]})}) == {
        "NetworksDeleted": None}
    await _json(api, "POST", "/networks/prune", 400,
                params={"filters": json.dumps({"dangling": ["true"]})})
    doc = await _json(api, "POST", "/networks/prune")
    assert doc == {"NetworksDeleted": ["kept"]}
