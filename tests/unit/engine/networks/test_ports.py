"""-p and -P as host ports to reserve, their refusals, and the free-port check."""

from __future__ import annotations

import socket

import pytest

from berth.engine.containers.model import PortBinding
from berth.engine.networks import ports
from berth.errors import InvalidArgument

EPHEMERAL = range(40000, 40100)


def test_bindings_become_requests_with_the_default_address() -> None:
    reqs = ports.requests([PortBinding(80, host_port=8080),
                           PortBinding(53, "udp", "127.0.0.1"),
                           PortBinding(81, host_port=9000, host_port_end=9005)],
                          False, (), "0.0.0.0", EPHEMERAL)
    assert [(r.proto, r.host_ip, r.host_port, r.document) for r in reqs] == [
        ("tcp", "0.0.0.0", 8080, "80"), ("udp", "127.0.0.1", 0, "53"),
        ("tcp", "0.0.0.0", 0, "81")]
    assert reqs[1].candidates == EPHEMERAL
    assert reqs[2].candidates == range(9000, 9006)


def test_publish_all_adds_every_exposed_port_not_bound() -> None:
    reqs = ports.requests([PortBinding(80, host_port=8080)], True,
                          ("80/tcp", "443/tcp", "53/udp"), "127.0.0.1", EPHEMERAL)
    assert [(r.proto, r.host_port, r.document) for r in reqs] == [
        ("tcp", 8080, "80"), ("tcp", 0, "443"), ("udp", 0, "53")]


@pytest.mark.parametrize("binding,message", [
    (PortBinding(0), "invalid containerPort"),
    (PortBinding(70000), "invalid containerPort"),
    (PortBinding(80, "icmp"), "invalid proto"),
    (PortBinding(80, host_port=70000), "invalid hostPort"),
    (PortBinding(80, host_port=9000, host_port_end=8000), "invalid hostPort"),
    (PortBinding(80, host_ip="1.2.3"), "invalid IP address"),
    (PortBinding(80, host_ip="::1"), "IPv4"),
])
def test_bad_bindings_are_refused(binding: PortBinding, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ports.validate([binding])


def test_a_port_another_program_listens_on_is_not_free() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        err = ports.bind_error("tcp", "127.0.0.1", port)
        assert err is not None
        assert ports.in_use_message("tcp", "127.0.0.1", port, err) == (
            f"Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: "
            "address already in use")
    assert ports.is_free("tcp", "127.0.0.1", port)


def test_exposed_specs_parse() -> None:
    assert ports.parse_exposed("80") == (80, "tcp")
    assert ports.parse_exposed("53/udp") == (53, "udp")
    with pytest.raises(InvalidArgument):
        ports.parse_exposed("x/tcp")
