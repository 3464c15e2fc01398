"""berth.net.firewall over the real kernel (iptables): published ports reached from the
host on 127.0.0.1 and on the bridge's gateway address, hairpin, outbound masquerade, udp,
exact removal, isolation between bridges, nothing left after teardown."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time

import pytest
from tests.integration.net.conftest import (
    ROOT_ONLY,
    MakeBridge,
    MakeEndpoint,
    ask,
    echo_server,
    free_port,
    reachable,
    socket_in,
)

from berth.net.firewall import Firewall, PortRule

pytestmark = ROOT_ONLY


def _saved() -> str:
    return "".join(subprocess.run(["iptables-save", "-t", t], capture_output=True,
                                  text=True, check=True).stdout for t in ("nat", "filter"))


def _ours(fw: Firewall) -> list[str]:
    return [line for line in _saved().splitlines() if fw.prefix in line]


def test_setup_is_idempotent(firewall: Firewall) -> None:
    before = _ours(firewall)
    firewall.setup()
    assert _ours(firewall) == before
    forward = [line for line in _saved().splitlines() if line.startswith("-A FORWARD")]
    assert forward[0] == f"-A FORWARD -j {firewall.prefix}-FORWARD"


def test_published_tcp_port_from_loopback_gateway_and_hairpin(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    b = make_bridge()
    c = make_endpoint(b, 2)
    firewall.add_network("net1", b.name, str(b.subnet), internal=False)
    port = free_port()
    firewall.publish("c1", b.name, [PortRule("tcp", "0.0.0.0", port, c.address, 8080)])
    with echo_server(c.netns, 8080):
        assert ask(None, "127.0.0.1", port) == b"echo:hi"
        assert ask(None, b.gateway, port) == b"echo:hi"
        assert ask(c.netns, b.gateway, port) == b"echo:hi"  # hairpin through the host


def test_outbound_traffic_is_masqueraded(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    """A container reaches what the host reaches, under the host's address: "outside" is a
    netns of this test behind a plain host bridge (no berth network, so no isolation)."""
    b, world = make_bridge(), make_bridge()
    c, outside = make_endpoint(b, 2), make_endpoint(world, 2)
    firewall.add_network("net1", b.name, str(b.subnet), internal=False)
    port = free_port()
    srv = socket_in(outside.netns)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(5)

    def tell_peer() -> None:
        with contextlib.suppress(OSError):
            conn, peer = srv.accept()
            with conn:
                conn.sendall(peer[0].encode())

    t = threading.Thread(target=tell_peer, daemon=True)
    t.start()
    try:
        with socket_in(c.netns) as s:
            s.settimeout(5)
            s.connect((outside.address, port))
            seen = s.recv(64).decode()
    finally:
        t.join(6)
        srv.close()
    assert seen == world.gateway, "the container's source is the host's, not " + c.address
    firewall.remove_network("net1")  # without the masquerade the source is the container's
    assert not any("MASQUERADE" in r and str(b.subnet) in r for r in _ours(firewall))


def test_published_udp_port_on_loopback_only(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    b = make_bridge()
    c = make_endpoint(b, 2)
    firewall.add_network("net1", b.name, str(b.subnet), internal=False)
    port = free_port()
    firewall.publish("c1", b.name, [PortRule("udp", "127.0.0.1", port, c.address, 5353)])
    with echo_server(c.netns, 5353, socket.SOCK_DGRAM):
        assert ask(None, "127.0.0.1", port, socket.SOCK_DGRAM) == b"echo:hi"
        with pytest.raises(TimeoutError):  # bound to 127.0.0.1 only
            ask(None, b.gateway, port, socket.SOCK_DGRAM, timeout=0.3)


def test_unpublish_removes_exactly_its_rules(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    b = make_bridge()
    one, two = make_endpoint(b, 2), make_endpoint(b, 3)
    firewall.add_network("net1", b.name, str(b.subnet), internal=False)
    p1, p2 = free_port(), free_port()
    firewall.publish("c1", b.name, [PortRule("tcp", "0.0.0.0", p1, one.address, 80)])
    without_c2 = _ours(firewall)
    firewall.publish("c2", b.name, [PortRule("tcp", "0.0.0.0", p2, two.address, 80),
                                    PortRule("udp", "0.0.0.0", p2, two.address, 80)])
    firewall.publish("c2", b.name, [PortRule("tcp", "0.0.0.0", p2, two.address, 80),
                                    PortRule("udp", "0.0.0.0", p2, two.address, 80)])
    # per port a DNAT, a hairpin MASQUERADE and a FORWARD accept: twice published, no copies
    assert len(_ours(firewall)) == len(without_c2) + 6
    assert firewall.keys() == {"net1", "c1", "c2"}
    firewall.unpublish("c2")
    assert _ours(firewall) == without_c2
    firewall.unpublish("c2")
    assert firewall.keys() == {"net1", "c1"}
    with echo_server(one.netns, 80), echo_server(two.netns, 80):
        assert reachable(None, "127.0.0.1", p1)
        assert not reachable(None, "127.0.0.1", p2)


def test_bridges_are_isolated_from_each_other(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    b1, b2 = make_bridge(), make_bridge()
    one, two = make_endpoint(b1, 2), make_endpoint(b2, 2)
    with echo_server(two.netns, 80):
        assert reachable(one.netns, two.address, 80)  # routed by the host: no rules yet
        firewall.add_network("n1", b1.name, str(b1.subnet), internal=False)
        firewall.add_network("n2", b2.name, str(b2.subnet), internal=False)
        assert not reachable(one.netns, two.address, 80)
        firewall.remove_network("n2")
        firewall.remove_network("n2")
        assert firewall.keys() == {"n1"}
        assert reachable(one.netns, two.address, 80)


def test_internal_network_talks_only_within_its_bridge(
        firewall: Firewall, make_bridge: MakeBridge, make_endpoint: MakeEndpoint) -> None:
    inner, outer = make_bridge(), make_bridge()
    a, b = make_endpoint(inner, 2), make_endpoint(inner, 3)
    far = make_endpoint(outer, 2)
    firewall.add_network("in", inner.name, str(inner.subnet), internal=True)
    with echo_server(b.netns, 80), echo_server(far.netns, 80):
        assert reachable(a.netns, b.address, 80)
        assert not reachable(a.netns, far.address, 80)  # not through the host (no -o)
        assert reachable(None, b.address, 80)  # the host itself reaches it


def test_teardown_leaves_nothing(firewall: Firewall, make_bridge: MakeBridge) -> None:
    b = make_bridge()
    firewall.add_network("net1", b.name, str(b.subnet), internal=True)
    firewall.publish("c1", b.name, [PortRule("tcp", "0.0.0.0", 40000, b.host(2), 80)])
    firewall.teardown()
    firewall.teardown()
    assert firewall.prefix not in _saved()
    assert firewall.keys() == set()


def test_publish_and_unpublish_times(firewall: Firewall, make_bridge: MakeBridge) -> None:
    b = make_bridge()
    firewall.add_network("net1", b.name, str(b.subnet), internal=False)
    rules = [PortRule("tcp", "0.0.0.0", 40001, b.host(2), 80)]
    publish, unpublish = [], []
    for _ in range(3):
        start = time.perf_counter()
        firewall.publish("c1", b.name, rules)
        publish.append(time.perf_counter() - start)
        start = time.perf_counter()
        firewall.unpublish("c1")
        unpublish.append(time.perf_counter() - start)
    print(f"publish {min(publish) * 1000:.1f} ms, unpublish {min(unpublish) * 1000:.1f} ms")
    assert min(publish) < 1 and min(unpublish) < 1
