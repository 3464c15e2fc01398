"""The network fields of a create body, decoded as moby reads them and turned into the
engine's ``ContainerSpec`` fields (``api/server/container_network.py``), and bad ones
refused with docker's words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.api.server import container_json
from berth.api.types.containers import ContainerCreate
from berth.api.types.decode import decode
from berth.engine.containers.model import ContainerSpec, EndpointConfig, PortBinding
from berth.errors import BerthError, InvalidArgument


def _spec(**body: Any) -> ContainerSpec:
    raw = json.dumps({"Image": "busybox", **body}).encode()
    return container_json.spec_from_create(decode(raw, ContainerCreate))


def test_port_bindings_every_form_of_host_port() -> None:
    spec = _spec(HostConfig={"PortBindings": {
        "8080/tcp": [{"HostIp": "", "HostPort": "8888"},
                     {"HostIp": "127.0.0.1", "HostPort": "9999"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
        "9000/tcp": [{"HostPort": "8000-8010"}], "7000": [{"HostPort": ""}],
        "6000/tcp": None, "5000/tcp": [{"HostPort": "5000-5000"}]}})
    assert spec.port_bindings == (
        PortBinding(8080, "tcp", "", 8888), PortBinding(8080, "tcp", "127.0.0.1", 9999),
        PortBinding(53, "udp", "127.0.0.1", 5353), PortBinding(9000, "tcp", "", 8000, 8010),
        PortBinding(7000, "tcp", "", 0), PortBinding(6000, "tcp", "", 0),
        PortBinding(5000, "tcp", "", 5000))
    # the bound ports are exposed too, as docker's client makes them
    assert spec.exposed_ports == ("5000/tcp", "53/udp", "6000/tcp", "7000/tcp",
                                  "8080/tcp", "9000/tcp")


def test_exposed_ports_merge_and_publish_all() -> None:
    spec = _spec(ExposedPorts={"80/tcp": {}, "81": {}},
                 HostConfig={"PublishAllPorts": True,
                             "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})
    assert spec.exposed_ports == ("80/tcp", "81/tcp") and spec.publish_all_ports


@pytest.mark.parametrize(("bindings", "message"), [
    ({"8o/tcp": []}, 'invalid port specification: "8o"'),
    ({"70000/tcp": []}, 'invalid port specification: "70000"'),
    ({"\u00b2/tcp": []}, 'invalid port specification: "\u00b2"'),
    ({"80/tcp": [{"HostPort": "\u0663"}]}, "Invalid hostPort: \u0663"),
    ({"80/tcp": [{"HostPort": "x"}]}, "Invalid hostPort: x"),
    ({"80/tcp": [{"HostPort": "80-"}]}, "Invalid hostPort: 80-"),
    ({"80/tcp": [{"HostPort": "9000-8000"}]}, "invalid hostPort: 9000-8000"),
    ({"80/tcp": [{"HostPort": "70000"}]}, "invalid hostPort: 70000"),
    ({"80/tcp": [{"HostIp": "nope", "HostPort": "1"}]}, "invalid IP address: nope"),
    ({"80/tcp": [{"HostIp": "::1", "HostPort": "1"}]}, "IPv4 addresses only"),
    ({"80/icmp": []}, "invalid proto: icmp"),
    ({"0/tcp": []}, "invalid containerPort: 0"),
])
def test_bad_port_bindings(bindings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _spec(HostConfig={"PortBindings": bindings})


def test_links_in_both_forms() -> None:
    spec = _spec(HostConfig={"Links": ["db:database", "/cache:/web2/c", "queue"]})
    assert spec.links == (("db", "database"), ("cache", "c"), ("queue", "queue"))
    for bad in (["a:b:c"], [""], [":x"]):
        with pytest.raises(InvalidArgument):
            _spec(HostConfig={"Links": bad})


def test_network_mode_dns_hosts_and_mac_are_kept() -> None:
    spec = _spec(MacAddress="02:42:ac:11:00:09", HostConfig={
        "NetworkMode": "container:db", "Dns": ["10.0.0.2"], "DnsSearch": ["corp"],
        "DnsOptions": ["ndots:2"], "ExtraHosts": ["h:10.0.0.3", "gw:host-gateway"]})
    assert (spec.network_mode, spec.dns, spec.dns_search, spec.dns_options) == (
        "container:db", ("10.0.0.2",), ("corp",), ("ndots:2",))
    assert spec.extra_hosts == ("h:10.0.0.3", "gw:host-gateway")
    assert spec.mac_address == "02:42:ac:11:00:09"
    assert _spec().network_mode == "default"
    for mode in ("host", "none", "bridge", "appnet"):
        assert _spec(HostConfig={"NetworkMode": mode}).network_mode == mode
    with pytest.raises(InvalidArgument, match="not a valid mac address"):
        _spec(MacAddress="02:42")


def test_endpoints_config_primary_first() -> None:
    spec = _spec(HostConfig={"NetworkMode": "front", "Links": ["db:db"]},
                 NetworkingConfig={"EndpointsConfig": {
                     "back": {"Aliases": ["b"]},
                     "front": {"Aliases": ["web", "w"], "Links": ["db:database"],
                               "IPAMConfig": {"IPv4Address": "10.88.1.5"},
                               "MacAddress": "02:42:0a:58:01:05", "NetworkID": "ignored",
                               "IPAddress": "ignored too", "DNSNames": ["x"]}}})
    assert spec.endpoints == (
        EndpointConfig("front", ("web", "w"), "10.88.1.5", (("db", "database"),)),
        EndpointConfig("back", ("b",)))
    assert spec.mac_address == "02:42:0a:58:01:05"
    # what docker's CLI sends for a plain run: the default network, empty settings
    plain = _spec(HostConfig={"NetworkMode": "default"},
                  NetworkingConfig={"EndpointsConfig": {"default": {"IPAMConfig": None}}})
    assert plain.endpoints == (EndpointConfig("bridge"),)


@pytest.mark.parametrize(("body", "message"), [
    ({"NetworkingConfig": {"EndpointsConfig": {"a": {"IPAMConfig": {
        "IPv6Address": "fd00::2"}}}}},
     "NetworkingConfig.EndpointsConfig.a.IPAMConfig.IPv6Address yet"),
    ({"NetworkingConfig": {"EndpointsConfig": {"a": {"IPAMConfig": {
        "LinkLocalIPs": ["169.254.0.9"]}}}}}, "IPAMConfig.LinkLocalIPs yet"),
    ({"NetworkingConfig": {"EndpointsConfig": {"a": {"DriverOpts": {"k": "v"}}}}},
     "NetworkingConfig.EndpointsConfig.a.DriverOpts yet"),
    ({"NetworkingConfig": {"EndpointsConfig": {"a": {"IPAMConfig": {
        "IPv4Address": "10.1.1.300"}}}}}, "invalid IPv4 address: 10.1.1.300"),
    ({"HostConfig": {"NetworkMode": "a"}, "NetworkingConfig": {"EndpointsConfig": {
        "b": {"MacAddress": "02:42:ac:11:00:09"}}}}, "only on the container's primary"),
    ({"MacAddress": "02:42:ac:11:00:09", "HostConfig": {"NetworkMode": "a"},
      "NetworkingConfig": {"EndpointsConfig": {"a": {"MacAddress": "02:42:ac:11:00:0a"}}}},
     "must match the endpoint-specific MAC address"),
    ({"ExposedPorts": {"http": {}}}, "invalid port specification"),
    ({"ExposedPorts": {"\u00b2/tcp": {}}}, "invalid port specification"),
])
def test_bad_endpoints(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _spec(**body)


_text = st.text(alphabet="0123456789-/:.abtcpud ", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_text, st.none() | st.lists(st.fixed_dictionaries(
           {}, optional={"HostIp": _text, "HostPort": _text}), max_size=3), max_size=3),
       st.lists(_text, max_size=3),
       st.dictionaries(_text, st.fixed_dictionaries({}, optional={
           "Aliases": st.lists(_text, max_size=2), "Links": st.lists(_text, max_size=2),
           "MacAddress": _text, "IPAMConfig": st.fixed_dictionaries(
               {}, optional={"IPv4Address": _text, "IPv6Address": _text})}), max_size=2),
       _text)
def test_arbitrary_network_fields_fail_only_as_bad_requests(
        bindings: dict[str, Any], links: list[str], endpoints: dict[str, Any],
        mode: str) -> None:
    try:
        _spec(HostConfig={"PortBindings": bindings, "Links": links, "NetworkMode": mode},
              NetworkingConfig={"EndpointsConfig": endpoints})
    except BerthError as err:
        assert err.status == 400, err
