"""Port specs as docker's CLI parses them (go-connections ``nat``, v0.5.0, docker 28).

``-p [ip:][hostPort[-end]:]containerPort[-end][/proto]`` becomes one ``PortBindings``
entry per container port, a range expanded here in the client as docker's does:
``8000-8010:8000-8010`` is eleven keys, ``8000-8010:80`` one key whose host port is the
range the daemon picks a free port from. ``--expose 7000-7002/udp`` is three
``ExposedPorts`` keys. Messages are docker's, word for word.
"""

from __future__ import annotations

from berth.cli.flags import UsageError
from berth.client.networking import PortBinding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_PROTOCOLS = ("tcp", "udp", "sctp")


def parse_uint16(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 10, 16)``, with its messages."""
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value > 0xFFFF:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def parse_port_range(text: str) -> tuple[int, int]:
    """``nat.ParsePortRange``: "80" or "8000-8010" (only the first two parts of
    "a-b-c" count, as in Go)."""
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        port = parse_uint16(text)
        return port, port
    parts = text.split("-")
    start, end = parse_uint16(parts[0]), parse_uint16(parts[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def split_proto_port(text: str) -> tuple[str, str]:
    """``nat.SplitProtoPort``: (proto, port), tcp by default, ("", "") for no port."""
    parts = text.split("/")
    if not text or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _split_parts(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _host_ip(ip: str) -> str:
    """The host address of a spec: IPv4 only. docker 28 also publishes on IPv6
    addresses; berth's port rules are IPv4 (iptables, not ip6tables), so an IPv6 address
    is refused here rather than silently not published."""
    if ip.startswith("["):
        ip = ip[1:-1] if ip.endswith("]") else ip
    from ipaddress import IPv4Address, ip_address

    try:
        address = ip_address(ip)
    except ValueError:
        raise UsageError(f"invalid IP address: {ip}") from None
    if not isinstance(address, IPv4Address):
        raise UsageError(f"invalid IP address: {ip}: berth publishes ports on IPv4 "
                         "addresses only")
    return ip


def parse_port_spec(spec: str) -> list[tuple[str, PortBinding]]:
    """``nat.ParsePortSpec``: (container port key, binding) per container port."""
    ip, host_port, container_port = _split_parts(spec)
    proto, container_port = split_proto_port(container_port)
    if ip:
        ip = _host_ip(ip)
    if not container_port:
        raise UsageError(f"no port specified: {spec}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except ValueError:
        raise UsageError(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except ValueError:
            raise UsageError(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise UsageError("invalid ranges specified for container and host Ports: "
                             f"{container_port} and {host_port}")
    if proto.lower() not in _PROTOCOLS:
        raise UsageError(f"invalid proto: {proto}")
    mappings = []
    for offset in range(end - start + 1):
        published = str(host_start + offset) if host_port else ""
        if start == end and host_start != host_end:
            published = f"{published}-{host_end}"  # a free port of this range
        mappings.append((f"{start + offset}/{proto.lower()}", PortBinding(ip, published)))
    return mappings


def standard_notation(spec: str) -> str:
    """docker's ``convertToStandardNotation``: ``published=8080,target=80,protocol=udp``
    as ``8080:80/udp``."""
    if "=" not in spec:
        return spec
    params = {"protocol": "tcp"}
    for param in spec.split(","):
        key, eq, value = param.partition("=")
        if not eq or not key:
            raise UsageError("invalid publish opts format (should be name=value but got "
                             f"'{param}')")
        params[key] = value
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def parse_publish(specs: Iterable[str]) -> tuple[list[str], dict[str, tuple[PortBinding, ...]]]:
    """``nat.ParsePortSpecs`` over every ``-p``: the exposed ports (in first-seen order)
    and each container port's bindings."""
    bindings: dict[str, list[PortBinding]] = {}
    for spec in specs:
        for port, binding in parse_port_spec(standard_notation(spec)):
            bindings.setdefault(port, []).append(binding)
    return list(bindings), {port: tuple(b) for port, b in bindings.items()}


def parse_expose(specs: Iterable[str]) -> list[str]:
    """``--expose PORT[-END][/PROTO]`` as the ``ExposedPorts`` keys it names."""
    ports: list[str] = []
    for spec in specs:
        if ":" in spec:
            raise UsageError(f"invalid port format for --expose: {spec}")
        proto, port = split_proto_port(spec)
        try:
            start, end = parse_port_range(port)
        except ValueError as err:
            raise UsageError(f"invalid range format for --expose: {spec}, error: {err}"
                             ) from None
        ports.extend(f"{number}/{proto}" for number in range(start, end + 1))
    return ports
