"""A container's networking on the wire: the network fields of a create body in, and its
``NetworkSettings``, ``Ports`` and HostConfig's network fields out.

    create body                               ContainerSpec
    ───────────────────────────────────────   ─────────────────────────────────────────
    HostConfig.NetworkMode                    network_mode ("" → "default")
    HostConfig.PortBindings {"80/tcp":        port_bindings (PortBinding(80, "tcp", ip,
      [{"HostIp", "HostPort": "8000-8010"}]}    8000, 8010)), one per binding
    Config.ExposedPorts + the bound ports     exposed_ports ("80/tcp", normalised)
    HostConfig.Links ["db:db", "/db:/w/db"]   links (("db", "db"), ...)
    NetworkingConfig.EndpointsConfig          endpoints (the primary network first)
    Config.MacAddress, the primary            mac_address
      endpoint's MacAddress
    Dns, DnsSearch, DnsOptions, ExtraHosts    as given (the engine's check validates them)

What the engine must resolve (network names, linked containers, free host ports) it checks
at create; this module refuses only what is malformed on the wire, with docker's words.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

import msgspec

from berth.api.types import containers as types
from berth.api.types import responses as wire
from berth.api.types.decode import unsupported
from berth.engine.containers.model import Container, ContainerSpec, EndpointConfig, PortBinding
from berth.engine.networks import ports
from berth.engine.networks.model import ContainerNetwork, Endpoint
from berth.errors import InvalidArgument

# Of an endpoint's settings: what berth honours, and the fields docker fills in itself
# (operational data a client echoing an inspect may send back), which moby ignores too.
_HONOURED_ENDPOINT = frozenset({
    "IPAMConfig", "Links", "Aliases", "MacAddress", "NetworkID", "EndpointID", "Gateway",
    "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen",
    "DNSNames",
})
_DEFAULT_MODES = ("", "default", "bridge")
_NUMBER = re.compile(r"[0-9]{1,5}")  # ASCII only: str.isdigit takes "²" and "٣"
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}")


def with_networking(spec: ContainerSpec, body: types.ContainerCreate) -> ContainerSpec:
    """``spec`` with the network fields of ``body``; InvalidArgument for malformed ones."""
    host = body.HostConfig
    mode = host.NetworkMode or "default"
    bindings = tuple(port_bindings(host.PortBindings or {}))
    ports.validate(bindings)
    endpoints, endpoint_mac = _endpoints(body.NetworkingConfig.EndpointsConfig or {}, mode)
    if body.MacAddress and endpoint_mac and body.MacAddress != endpoint_mac:
        raise InvalidArgument("the container-wide MAC address must match the "
                              "endpoint-specific MAC address for the main network, or be "
                              "left empty")
    mac = endpoint_mac or body.MacAddress
    if mac and not _MAC.fullmatch(mac):
        raise InvalidArgument(f"{mac} is not a valid mac address")
    exposed = [*(body.ExposedPorts or {}), *(f"{b.container_port}/{b.proto}" for b in bindings)]
    return replace(
        spec, network_mode=mode, port_bindings=bindings,
        exposed_ports=tuple(sorted({f"{p}/{proto}" for p, proto in map(_exposed, exposed)})),
        publish_all_ports=host.PublishAllPorts,
        links=tuple(parse_link(v) for v in host.Links or ()),
        dns=tuple(host.Dns or ()), dns_search=tuple(host.DnsSearch or ()),
        dns_options=tuple(host.DnsOptions or ()), extra_hosts=tuple(host.ExtraHosts or ()),
        mac_address=mac, endpoints=endpoints)


def _exposed(key: str) -> tuple[int, str]:
    """``"80/tcp"``, ``"80"``: the engine's parse, ASCII digits only."""
    if not _NUMBER.fullmatch(key.partition("/")[0]):
        raise InvalidArgument(f"invalid port specification: {key!r}")
    return ports.parse_exposed(key)


def port_bindings(table: Mapping[str, list[types.PortBinding] | None]
                  ) -> Iterable[PortBinding]:
    """HostConfig.PortBindings as the engine's bindings: one per host binding, and one
    on any free port for a container port with none listed (moby's ``-p 80``)."""
    for key, given in table.items():
        number, _, proto = key.partition("/")
        if not _NUMBER.fullmatch(number) or int(number) > 65535:
            raise InvalidArgument(f'invalid port specification: "{number}"')
        for b in given or [types.PortBinding()]:
            low, high = _host_ports(b.HostPort)
            yield PortBinding(container_port=int(number), proto=proto or "tcp",
                              host_ip=b.HostIp, host_port=low, host_port_end=high)


def _host_ports(text: str) -> tuple[int, int]:
    """``""`` → (0, 0): any free port; ``"8000"``; ``"8000-8010"``: the first free one."""
    if not text:
        return 0, 0
    low, sep, high = text.partition("-")
    if not _NUMBER.fullmatch(low) or (sep and not _NUMBER.fullmatch(high)):
        raise InvalidArgument(f"Invalid hostPort: {text}")
    if not sep or int(high) == int(low):
        return int(low), 0
    return int(low), int(high)


def parse_link(text: str) -> tuple[str, str]:
    """``name:alias``, ``name`` (the alias is the name), or inspect's ``/name:/me/alias``
    (moby's ``opts.ParseLink``)."""
    if not text:
        raise InvalidArgument("empty string specified for links")
    parts = text.split(":")
    if len(parts) > 2:
        raise InvalidArgument(f"bad format for links: {text}")
    if len(parts) == 1:
        return text, text
    name, alias = parts
    if name.startswith("/"):
        return name[1:], alias.rsplit("/", 1)[-1]
    if not name or not alias:
        raise InvalidArgument(f"bad format for links: {text}")
    return name, alias


def _is_primary(name: str, mode: str) -> bool:
    return name == mode or (name in _DEFAULT_MODES and mode in _DEFAULT_MODES)


def _endpoints(table: Mapping[str, types.EndpointSettings | None], mode: str
               ) -> tuple[tuple[EndpointConfig, ...], str]:
    """The endpoints asked for (the primary network's first) and the primary one's MAC
    address. ``default`` names the default bridge, as in NetworkMode."""
    out: list[EndpointConfig] = []
    mac = ""
    for name, given in table.items():
        settings = given or types.EndpointSettings()
        primary = _is_primary(name, mode)
        if settings.MacAddress and not primary:
            raise InvalidArgument(f"berth does not support NetworkingConfig.EndpointsConfig."
                                  f"{name}.MacAddress yet (only on the container's primary "
                                  "network)")
        cfg = endpoint_config(name, settings, f"NetworkingConfig.EndpointsConfig.{name}.")
        if primary:
            mac = settings.MacAddress
            out.insert(0, cfg)
        else:
            out.append(cfg)
    return tuple(out), mac


def endpoint_config(network: str, settings: types.EndpointSettings, where: str
                    ) -> EndpointConfig:
    """One EndpointSettings of a create or a connect as the engine's EndpointConfig;
    ``where`` prefixes the field a refusal names."""
    ipam = settings.IPAMConfig or types.EndpointIPAMConfig()
    refused = (unsupported(settings, _HONOURED_ENDPOINT, prefix=where)
               or unsupported(ipam, frozenset({"IPv4Address"}), prefix=f"{where}IPAMConfig."))
    if refused is not None:
        raise InvalidArgument(f"berth does not support {refused} yet")
    if ipam.IPv4Address:
        try:
            ipaddress.IPv4Address(ipam.IPv4Address)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {ipam.IPv4Address}") from None
    return EndpointConfig(
        network="bridge" if network == "default" else network,
        aliases=tuple(settings.Aliases or ()), ipv4_address=ipam.IPv4Address,
        links=tuple(parse_link(v) for v in settings.Links or ()))


# ── out: inspect and list ───────────────────────────────────────────────────────────────


def host_config(host: types.HostConfig, c: Container) -> types.HostConfig:
    """``host`` with the network fields of ``c``, as docker echoes them (empty Dns lists
    as ``[]``, no links or extra hosts as null)."""
    s = c.spec
    bound: dict[str, list[types.PortBinding]] = {}
    for b in s.port_bindings:
        port = (f"{b.host_port}-{b.host_port_end}" if b.host_port_end
                else str(b.host_port) if b.host_port else "")
        bound.setdefault(f"{b.container_port}/{b.proto}", []).append(
            types.PortBinding(HostIp=b.host_ip, HostPort=port))
    return msgspec.structs.replace(
        host, NetworkMode=s.network_mode, PortBindings=dict(bound),
        PublishAllPorts=s.publish_all_ports,
        Links=[f"/{name}:/{c.name}/{alias}" for name, alias in s.links] or None,
        Dns=list(s.dns), DnsSearch=list(s.dns_search), DnsOptions=list(s.dns_options),
        ExtraHosts=list(s.extra_hosts) or None)


def port_map(c: Container, net: ContainerNetwork) -> dict[str, list[wire.PortBinding] | None]:
    """NetworkSettings.Ports: while it runs in a sandbox of its own, each published port
    with its host side and each exposed one as null; ``{}`` otherwise (docker drops the
    map at stop; host, none and container: modes have no port map)."""
    if not (c.state.running and net.sandbox_key):
        return {}
    out: dict[str, list[wire.PortBinding] | None] = {p: None for p in net.exposed}
    for p in net.ports:
        key = f"{p.container_port}/{p.proto}"
        out[key] = [*(out.get(key) or []),
                    {"HostIp": p.host_ip, "HostPort": str(p.host_port)}]
    return out


def summary_ports(c: Container, net: ContainerNetwork) -> list[wire.Port]:
    """ps's Ports, from the same map: one entry per host binding, a bare one per exposed
    port nothing publishes."""
    out: list[wire.Port] = []
    for key, bound in port_map(c, net).items():
        number, _, proto = key.partition("/")
        if not bound:
            out.append({"PrivatePort": int(number), "Type": proto})
        for b in bound or ():
            out.append({"IP": b["HostIp"], "PrivatePort": int(number),
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out


def endpoint_settings(e: Endpoint) -> wire.EndpointSettings:
    ipam: wire.EndpointIPAMConfig | None = (
        {"IPv4Address": e.ipam_ipv4_address} if e.ipam_ipv4_address else None)
    return {
        "IPAMConfig": ipam, "Links": [f"{n}:{a}" for n, a in e.links] or None,
        "Aliases": list(e.aliases) or None, "MacAddress": e.mac_address, "DriverOpts": None,
        "NetworkID": e.network_id, "EndpointID": e.endpoint_id, "Gateway": e.gateway,
        "IPAddress": e.ip_address, "IPPrefixLen": e.prefix_len, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DNSNames": list(e.dns_names) or None,
    }


def networks(net: ContainerNetwork) -> dict[str, wire.EndpointSettings]:
    return {e.network_name: endpoint_settings(e) for e in net.endpoints}


def network_settings(c: Container, net: ContainerNetwork) -> wire.NetworkSettings:
    bridge = next((e for e in net.endpoints if e.network_name == "bridge"), Endpoint("", ""))
    return {
        "Bridge": "", "SandboxID": net.sandbox_id, "SandboxKey": net.sandbox_key,
        "Ports": port_map(c, net), "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": bridge.endpoint_id,
        "Gateway": bridge.gateway, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.ip_address, "IPPrefixLen": bridge.prefix_len,
        "IPv6Gateway": "", "MacAddress": bridge.mac_address, "Networks": networks(net),
    }
