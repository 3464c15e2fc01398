"""berth.net.links over the real kernel: bridges, veths into named netns, ping and TCP
between two of them, clean failure, idempotent removal."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import time
from pathlib import Path

import pytest
from tests.integration.net.conftest import (
    ROOT_ONLY,
    MakeBridge,
    MakeEndpoint,
    ask,
    echo_server,
    short,
)

from berth.net import links, netns
from berth.net.links import LinkError

pytestmark = ROOT_ONLY

BUSYBOX = "/usr/bin/busybox"


def _in(path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={path}", BUSYBOX, *argv], capture_output=True,
                          text=True, timeout=10)


def _addresses(name: str) -> list[str]:
    out = subprocess.run([BUSYBOX, "ip", "-4", "-o", "addr", "show", "dev", name],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def test_ensure_bridge_is_idempotent(make_bridge: MakeBridge) -> None:
    b = make_bridge()
    links.ensure_bridge(links.BridgeConfig(b.name, b.gateway, b.subnet.prefixlen))
    assert links.bridge_exists(b.name)
    assert _addresses(b.name) == [f"{b.gateway}/{b.subnet.prefixlen}"]
    flags = int(Path(f"/sys/class/net/{b.name}/flags").read_text(), 16)
    assert flags & 1  # IFF_UP
    assert Path(f"/proc/sys/net/ipv4/conf/{b.name}/route_localnet").read_text() == "1\n"
    assert b.subnet in links.routes()


def test_remove_bridge_is_idempotent(make_bridge: MakeBridge) -> None:
    b = make_bridge()
    links.remove_bridge(b.name)
    links.remove_bridge(b.name)
    assert not links.bridge_exists(b.name)


def test_two_netns_on_a_bridge_ping_and_talk_tcp(make_bridge: MakeBridge,
                                                 make_endpoint: MakeEndpoint) -> None:
    b = make_bridge()
    one, two = make_endpoint(b, 2), make_endpoint(b, 3)
    addr = _in(one.netns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    assert f"inet {one.address}/{b.subnet.prefixlen}" in addr
    link = _in(one.netns, "ip", "-o", "link", "show", "dev", "eth0").stdout
    assert links.mac_for(one.address) in link and "UP" in link
    assert f"default via {b.gateway} dev eth0" in _in(one.netns, "ip", "route").stdout
    assert _in(one.netns, "ping", "-c1", "-W2", two.address).returncode == 0
    assert _in(two.netns, "ping", "-c1", "-W2", b.gateway).returncode == 0
    with echo_server(two.netns, 7000):
        assert ask(one.netns, two.address, 7000) == b"echo:hi"
        assert ask(None, two.address, 7000) == b"echo:hi"  # the host over the bridge
    assert links.host_veths(one.veth) == [one.veth]
    assert Path(f"/sys/class/net/{one.veth}/master").resolve().name == b.name


def test_given_mac_and_no_gateway(make_bridge: MakeBridge, nsdir: Path) -> None:
    b = make_bridge()
    path, veth = nsdir / "a", short("vt")
    netns.create(path)
    try:
        mac = links.add_veth(links.VethConfig(veth, b.name, path, "eth1", b.host(9),
                                              b.subnet.prefixlen, mac="02:11:22:33:44:55"))
        assert mac == "02:11:22:33:44:55"
        assert mac in _in(path, "ip", "link", "show", "eth1").stdout
        assert "default" not in _in(path, "ip", "route").stdout
    finally:
        links.remove_veth(veth)


def test_add_veth_failure_leaves_nothing(make_bridge: MakeBridge, nsdir: Path) -> None:
    b = make_bridge()
    path, veth = nsdir / "a", short("vt")
    netns.create(path)
    off_subnet = str(ipaddress.IPv4Address(b.gateway) + 4096)
    with pytest.raises(LinkError, match="configuring eth0"):  # the route cannot be made
        links.add_veth(links.VethConfig(veth, b.name, path, "eth0", b.host(2),
                                        b.subnet.prefixlen, gateway=off_subnet))
    assert links.host_veths(veth) == []
    with netns.entered(path):  # the peer went with the host end
        assert [n for _, n in socket.if_nameindex()] == ["lo"]
    with pytest.raises(LinkError, match="does not exist"):
        links.add_veth(links.VethConfig(veth, short("bt"), path, "eth0", b.host(2), 24))
    with pytest.raises(LinkError):
        links.add_veth(links.VethConfig(veth, b.name, nsdir / "absent", "eth0", b.host(2),
                                        24))
    assert links.host_veths(veth) == []


def test_remove_veth_and_remove_in_netns_are_idempotent(make_bridge: MakeBridge,
                                                        make_endpoint: MakeEndpoint,
                                                        nsdir: Path) -> None:
    b = make_bridge()
    one = make_endpoint(b, 2)
    links.remove_veth(one.veth)
    links.remove_veth(one.veth)
    assert links.host_veths(one.veth) == []
    two = make_endpoint(b, 3)
    links.remove_in_netns(two.netns, "eth0")
    links.remove_in_netns(two.netns, "eth0")
    links.remove_in_netns(nsdir / "absent", "eth0")
    assert links.host_veths(two.veth) == []
    with netns.entered(two.netns):
        assert [n for _, n in socket.if_nameindex()] == ["lo"]


def test_mac_for_is_dockers() -> None:
    assert links.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    assert links.mac_for(ipaddress.IPv4Address("10.0.0.255")) == "02:42:0a:00:00:ff"


def test_setup_of_one_container_takes_a_few_milliseconds(make_bridge: MakeBridge,
                                                         nsdir: Path) -> None:
    """netns + veth + address + route + up: the network's share of a container start."""
    b = make_bridge()
    times = []
    for i in range(5):
        path, veth = nsdir / f"n{i}", short("vt")
        start = time.perf_counter()
        netns.create(path)
        try:
            links.add_veth(links.VethConfig(veth, b.name, path, "eth0", b.host(2 + i),
                                            b.subnet.prefixlen, b.gateway))
            times.append(time.perf_counter() - start)
        finally:
            links.remove_veth(veth)
            netns.remove(path)
    print(f"netns + veth setup: min {min(times) * 1000:.1f} ms, "
          f"median {sorted(times)[2] * 1000:.1f} ms")
    assert sorted(times)[2] < 0.05
