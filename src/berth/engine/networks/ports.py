"""Published ports: ``-p``/``-P`` turned into the host ports to reserve, and the check
that a host port is free.

    -p 8080:80          host 8080 (taken by another of our containers: "port is already
                        allocated"; by another program: "address already in use")
    -p 8080-8090:80     the first free port of the range
    -p 80, -P           a free port of the kernel's ephemeral range (ip_local_port_range)

A port is free when berth has not given it out (the ports table, in the same transaction
that reserves it) and binding it succeeds (bind and close, SO_REUSEADDR off: a listener
of any other program refuses it). The kernel path binds nothing afterwards (DNAT), which
is why the table, not the socket, is what keeps two containers of this daemon apart.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from pathlib import Path

from berth.engine.containers.model import PortBinding
from berth.errors import InvalidArgument
from berth.store.metadata.networks import PortRequest

PROTOS = ("tcp", "udp", "sctp")
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def parse_exposed(spec: str) -> tuple[int, str]:
    """``"80/tcp"`` → (80, "tcp"); InvalidArgument for anything else."""
    number, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if not number.isdigit() or not 0 < int(number) < 65536 or proto not in PROTOS:
        raise InvalidArgument(f"invalid port specification: {spec!r}")
    return int(number), proto


def validate(bindings: Sequence[PortBinding]) -> None:
    """The refusals of ``docker create -p`` the API layer leaves to the engine."""
    for b in bindings:
        if not 0 < b.container_port < 65536:
            raise InvalidArgument(f"invalid containerPort: {b.container_port}")
        if b.proto not in PROTOS:
            raise InvalidArgument(f"invalid proto: {b.proto}")
        if not 0 <= b.host_port < 65536 or not 0 <= b.host_port_end < 65536:
            raise InvalidArgument(f"invalid hostPort: {b.host_port}")
        if b.host_port_end and b.host_port_end < b.host_port:
            raise InvalidArgument(f"invalid hostPort: {b.host_port}-{b.host_port_end}")
        if b.host_ip:
            try:
                addr = ipaddress.ip_address(b.host_ip)
            except ValueError as err:
                raise InvalidArgument(f"invalid IP address: {b.host_ip}") from err
            if addr.version != 4:
                raise InvalidArgument(f"invalid host IP {b.host_ip}: berth publishes "
                                      "ports on IPv4 addresses only")


def ephemeral_range() -> range:
    try:
        low, high = (int(x) for x in _EPHEMERAL.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def document(container_port: int) -> str:
    return str(container_port)


def requests(bindings: Sequence[PortBinding], publish_all: bool, exposed: Sequence[str],
             default_ip: str, ephemeral: range) -> list[PortRequest]:
    """The host ports a start reserves: the bindings, then (-P) each exposed port no
    binding publishes, on a free ephemeral port."""
    out: list[PortRequest] = []
    bound: set[tuple[int, str]] = set()
    for b in bindings:
        bound.add((b.container_port, b.proto))
        ip = b.host_ip or default_ip
        if b.host_port_end > b.host_port:
            candidates: Sequence[int] = range(b.host_port, b.host_port_end + 1)
            out.append(PortRequest(b.proto, ip, 0, document(b.container_port), candidates))
        elif b.host_port:
            out.append(PortRequest(b.proto, ip, b.host_port, document(b.container_port)))
        else:
            out.append(PortRequest(b.proto, ip, 0, document(b.container_port), ephemeral))
    if publish_all:
        for spec in exposed:
            port, proto = parse_exposed(spec)
            if (port, proto) not in bound:
                bound.add((port, proto))
                out.append(PortRequest(proto, default_ip, 0, document(port), ephemeral))
    return out


def bind_error(proto: str, host_ip: str, port: int) -> OSError | None:
    """Bind the port and let it go: None if that worked, else why not."""
    if proto == "sctp":
        return None  # no portable SCTP socket to try: the table alone decides
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host_ip, port))
        except OSError as err:
            return err
    return None


def is_free(proto: str, host_ip: str, port: int) -> bool:
    return bind_error(proto, host_ip, port) is None


def in_use_message(proto: str, host_ip: str, port: int, err: OSError) -> str:
    """docker's words for a port another program holds."""
    reason = "address already in use" if err.errno == 98 else (err.strerror or str(err))
    return (f"Error starting userland proxy: listen {proto}4 {host_ip}:{port}: bind: "
            f"{reason}")
