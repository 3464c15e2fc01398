"""A container's networking through the container routes over the fakes: inspect's
``NetworkSettings`` and HostConfig, ps's ``Ports`` and ``Networks``, in docker's shape."""

from __future__ import annotations

from typing import Any

from tests.unit.api.server.harness import Api, with_api

SETTINGS_KEYS = ["Bridge", "SandboxID", "SandboxKey", "Ports", "HairpinMode",
                 "LinkLocalIPv6Address", "LinkLocalIPv6PrefixLen", "SecondaryIPAddresses",
                 "SecondaryIPv6Addresses", "EndpointID", "Gateway", "GlobalIPv6Address",
                 "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen", "IPv6Gateway",
                 "MacAddress", "Networks"]
ENDPOINT_KEYS = ["IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts", "NetworkID",
                 "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway",
                 "GlobalIPv6Address", "GlobalIPv6PrefixLen", "DNSNames"]


async def _get(api: Api, path: str) -> Any:
    resp = await api.client.get(path)
    assert resp.status == 200, await resp.text()
    return await resp.json()


@with_api
async def test_published_ports_on_the_default_bridge(api: Api) -> None:
    cid = await api.create("web", Cmd=["sleep", "300"], ExposedPorts={"9090/tcp": {}},
                           HostConfig={"PortBindings": {
                               "8080/tcp": [{"HostIp": "", "HostPort": "8888"}]}})
    created = (await _get(api, f"/containers/{cid}/json"))["NetworkSettings"]
    assert list(created) == SETTINGS_KEYS
    assert created["Ports"] == {} and created["IPAddress"] == "" and created["SandboxKey"] == ""
    assert list(created["Networks"]) == ["bridge"]
    assert (await api.client.post(f"/containers/{cid}/start")).status == 204

    doc = await _get(api, f"/containers/{cid}/json")
    settings = doc["NetworkSettings"]
    assert settings["Ports"] == {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8888"}],
                                 "9090/tcp": None}
    bridge = settings["Networks"]["bridge"]
    assert list(bridge) == ENDPOINT_KEYS
    assert (settings["IPAddress"], settings["Gateway"], settings["IPPrefixLen"]) == (
        bridge["IPAddress"], "172.18.0.1", 16)
    assert settings["EndpointID"] == bridge["EndpointID"] != ""
    assert settings["MacAddress"] == bridge["MacAddress"] != ""
    assert (settings["SecondaryIPAddresses"], settings["HairpinMode"]) == (None, False)
    assert (bridge["IPAMConfig"], bridge["Links"], bridge["Aliases"],
            bridge["DNSNames"], bridge["DriverOpts"]) == (None, None, None, None, None)
    assert settings["SandboxID"] == cid and settings["SandboxKey"]
    assert doc["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "", "HostPort": "8888"}]}
    assert doc["Config"]["ExposedPorts"] == {"8080/tcp": {}, "9090/tcp": {}}

    [row] = await _get(api, "/containers/json")
    assert sorted(row["Ports"], key=lambda p: p["PrivatePort"]) == [
        {"IP": "0.0.0.0", "PrivatePort": 8080, "PublicPort": 8888, "Type": "tcp"},
        {"PrivatePort": 9090, "Type": "tcp"}]
    assert row["HostConfig"] == {"NetworkMode": "default"}
    assert list(row["NetworkSettings"]["Networks"]) == ["bridge"]
    assert row["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == bridge["IPAddress"]

    assert (await api.client.post(f"/containers/{cid}/stop")).status == 204
    stopped = (await _get(api, f"/containers/{cid}/json"))["NetworkSettings"]
    assert stopped["Ports"] == {} and stopped["Networks"]["bridge"]["IPAddress"] == ""


@with_api
async def test_host_config_echoes_the_network_fields(api: Api) -> None:
    await api.create("db", Cmd=["sleep", "300"])
    cid = await api.create("web2", HostConfig={
        "Links": ["db:db"], "Dns": ["10.0.0.2"], "DnsSearch": ["corp"],
        "DnsOptions": ["ndots:2"], "ExtraHosts": ["h:10.0.0.3"], "PublishAllPorts": True,
        "PortBindings": {"80/tcp": [{"HostPort": "8000-8010"}, {"HostIp": "127.0.0.1"}]}})
    host = (await _get(api, f"/containers/{cid}/json"))["HostConfig"]
    assert host["Links"] == ["/db:/web2/db"]
    assert (host["Dns"], host["DnsSearch"], host["DnsOptions"], host["ExtraHosts"]) == (
        ["10.0.0.2"], ["corp"], ["ndots:2"], ["h:10.0.0.3"])
    assert host["PublishAllPorts"] is True and host["NetworkMode"] == "default"
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"},
                                               {"HostIp": "127.0.0.1", "HostPort": ""}]}
    plain = (await _get(api, "/containers/db/json"))["HostConfig"]
    assert (plain["Links"], plain["ExtraHosts"], plain["Dns"], plain["PortBindings"]) == (
        None, None, [], {})


@with_api
async def test_a_user_network_with_aliases_and_a_fixed_address(api: Api) -> None:
    resp = await api.client.post("/networks/create", json={
        "Name": "appnet", "IPAM": {"Config": [{"Subnet": "10.88.1.0/24"}]}})
    nid = (await resp.json())["Id"]
    cid = await api.create("api", Cmd=["sleep", "300"], HostConfig={"NetworkMode": "appnet"},
                           NetworkingConfig={"EndpointsConfig": {"appnet": {
                               "Aliases": ["backend"],
                               "IPAMConfig": {"IPv4Address": "10.88.1.50"}}}})
    assert (await api.client.post(f"/containers/{cid}/start")).status == 204
    doc = await _get(api, f"/containers/{cid}/json")
    settings = doc["NetworkSettings"]
    assert doc["HostConfig"]["NetworkMode"] == "appnet"
    assert (settings["IPAddress"], settings["EndpointID"]) == ("", "")  # not the bridge
    e = settings["Networks"]["appnet"]
    assert (e["NetworkID"], e["IPAddress"], e["IPPrefixLen"], e["Gateway"]) == (
        nid, "10.88.1.50", 24, "10.88.1.1")
    assert e["IPAMConfig"] == {"IPv4Address": "10.88.1.50"} and e["Aliases"] == ["backend"]
    assert e["DNSNames"] == ["api", "backend", cid[:12]]


@with_api
async def test_an_unknown_network_is_a_bad_parameter_at_create(api: Api) -> None:
    # a 404 would make docker's CLI say the image is missing and pull it (moby#39823)
    resp = await api.client.post("/containers/create", json={
        "Image": "busybox", "HostConfig": {"NetworkMode": "nope"}})
    assert resp.status == 400
    assert (await resp.json())["message"] == "network nope not found"


@with_api
async def test_ps_filters_by_network_name_or_id(api: Api) -> None:
    resp = await api.client.post("/networks/create", json={"Name": "appnet"})
    nid = (await resp.json())["Id"]
    on = await api.create("on", HostConfig={"NetworkMode": "appnet"})
    await api.create("off")

    async def ids(network: str) -> list[str]:
        rows = await _get(api, f'/containers/json?all=1&filters={{"network":["{network}"]}}')
        return [r["Id"] for r in rows]

    assert await ids("appnet") == [on] and await ids(nid[:12]) == [on]
    assert len(await ids("bridge")) == 1 and await ids("nope") == []


@with_api
async def test_no_port_map_without_a_sandbox_of_its_own(api: Api) -> None:
    for mode in ("host", "none"):
        cid = await api.create(Cmd=["sleep", "300"], ExposedPorts={"80/tcp": {}},
                               HostConfig={"NetworkMode": mode})
        assert (await api.client.post(f"/containers/{cid}/start")).status == 204
        settings = (await _get(api, f"/containers/{cid}/json"))["NetworkSettings"]
        assert settings["Ports"] == {} and list(settings["Networks"]) == [mode]
        assert settings["Networks"][mode]["IPAddress"] == ""
