"""The networking flags of ``run``/``create`` and how they become ``ContainerNetworking``.

Two kinds of check, as in docker's CLI: a flag's own validator (``--dns``, ``--add-host``,
``--link``, ``--network`` long syntax) fails while parsing, as ``invalid argument "x" for
"--dns" flag: ...`` with the usage line; checks across flags (ports, ``--expose``,
``--mac-address``, aliases on a network without them) fail in ``network_config`` as
``berth: <reason>``. Network names are resolved by the daemon, never here.

The first network (``--network``, or the default one) gets what the single-network flags
ask for: ``--network-alias``, ``--ip``, ``--mac-address`` and, on a user-defined
network, ``--link``; any further ``--network`` is joined with no settings of its own
(docker 28's ``parseNetworkOpts``).
"""

from __future__ import annotations

from berth.cli.flags import Flag, UsageError
from berth.cli.portspec import parse_expose, parse_publish
from berth.client.networking import ContainerNetworking, EndpointConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.flags import Options

_NOT_USER_DEFINED = ("default", "bridge", "host", "none")


def is_user_defined(mode: str) -> bool:
    """docker's ``NetworkMode.IsUserDefined``: a network the user created."""
    return mode not in _NOT_USER_DEFINED and not mode.startswith("container:")


def _ip(text: str) -> str:
    from ipaddress import ip_address  # only the flags that carry an address pay for it

    return str(ip_address(text))


def validate_ip(text: str) -> str:
    """docker's ``ValidateIPAddress`` (``--dns``): the address in canonical form."""
    try:
        return _ip(text.strip())
    except ValueError:
        raise ValueError(f"IP address is not correctly formatted: {text}") from None


def validate_dns_search(text: str) -> str:
    """docker's ``ValidateDNSSearch``: "." or a domain name of letters, digits and "-"
    labels (at least one letter somewhere), optionally ending in "."."""
    value = text.strip(" ")
    if value == ".":
        return value
    name = value.rstrip()
    labels = (name[:-1] if name.endswith(".") else name).split(".")
    good = any(c.isascii() and c.isalpha() for c in value) and len(name) < 256 and all(
        label and label.isascii() and label.replace("-", "").isalnum()
        and label[0] != "-" and label[-1] != "-" for label in labels)
    if not good:
        raise ValueError(f"{text} is not a valid domain")
    return name[:-1] if name.endswith(".") else name


def validate_extra_host(text: str) -> str:
    """docker's ``ValidateExtraHost``: ``name:ip`` or ``name=ip`` (``host-gateway`` for
    the host's address), sent as ``name:ip``."""
    name, sep, address = text.partition("=")
    if not sep:
        name, sep, address = text.partition(":")
    if not sep or not name or ":" in name:
        raise ValueError(f'bad format for add-host: "{text}"')
    if address != "host-gateway":
        bare = address[1:-1] if len(address) > 2 and address[0] == "[" and \
            address[-1] == "]" else address
        try:
            _ip(bare)
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{bare}"') from None
        address = bare
    return f"{name}:{address}"


def validate_link(text: str) -> str:
    """docker's ``ValidateLink``: ``name`` or ``name:alias``, passed on as given."""
    if not text:
        raise ValueError("empty string specified for links")
    if text.count(":") > 1:
        raise ValueError(f"bad format for links: {text}")
    return text


def valid_mac(text: str) -> bool:
    """Go's ``net.ParseMAC`` for 6-byte addresses: ``02:42:ac:11:00:02``,
    ``02-42-ac-11-00-02`` or ``0242.ac11.0002``."""
    value = text.strip()
    hexdigits = "0123456789abcdefABCDEF"
    for sep, size in ((":", 2), ("-", 2), (".", 4)):
        groups = value.split(sep)
        if len(groups) == 12 // size and all(
                len(g) == size and all(c in hexdigits for c in g) for g in groups):
            return True
    return False


class NetworkAttachment:
    """One ``--network`` value: a name, or docker's long syntax
    ``name=NET[,alias=A][,ip=IP][,mac-address=MAC]``."""

    __slots__ = ("aliases", "ipv4_address", "mac_address", "target")

    def __init__(self, target: str, aliases: tuple[str, ...] = (), ipv4_address: str = "",
                 mac_address: str = "") -> None:
        self.target = target
        self.aliases = aliases
        self.ipv4_address = ipv4_address
        self.mac_address = mac_address


_UNSUPPORTED_KEYS = ("ip6", "link-local-ip", "driver-opt", "gw-priority")


def parse_network(text: str) -> NetworkAttachment:
    """A ``--network`` value. Docker takes it as the long syntax when it contains
    ``\\w+=\\w+`` anywhere, and lowercases keys and values alike."""
    import re  # only a --network value pays for it

    if not re.search(r"\w+=\w+", text):
        return NetworkAttachment(text)
    fields: dict[str, str] = {}
    aliases: list[str] = []
    for field in text.split(","):
        key, eq, value = field.lower().partition("=")
        if not eq or not key:
            raise ValueError(f"invalid field {field}")
        key, value = key.strip(), value.strip()
        if key == "alias":
            aliases.append(value)
        elif key in ("name", "ip", "mac-address"):
            fields[key] = value
        elif key in _UNSUPPORTED_KEYS:
            raise ValueError(f"berth does not support the {key} field yet")
        else:
            raise ValueError(f"invalid field key {key}")
    if not fields.get("name"):
        raise ValueError("network name/id is not specified")
    return NetworkAttachment(fields["name"], tuple(aliases), fields.get("ip", ""),
                             fields.get("mac-address", ""))


NETWORK_FLAGS: tuple[Flag, ...] = (
    Flag("add-host", kind="list", convert=validate_extra_host,
         help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("dns", kind="list", convert=validate_ip, help="Set custom DNS servers"),
    Flag("dns-opt", kind="list", dest="dns-option", hidden=True, help="Set DNS options"),
    Flag("dns-option", kind="list", help="Set DNS options"),
    Flag("dns-search", kind="list", convert=validate_dns_search,
         help="Set custom DNS search domains"),
    Flag("expose", kind="list", help="Expose a port or a range of ports"),
    Flag("ip", kind="str", default="", help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("link", kind="list", convert=validate_link, help="Add link to another container"),
    Flag("mac-address", kind="str", default="",
         help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("net", kind="list", convert=parse_network, dest="network", hidden=True,
         metavar="network", help="Connect a container to a network"),
    Flag("net-alias", kind="list", dest="network-alias", hidden=True,
         help="Add network-scoped alias for the container"),
    Flag("network", kind="list", convert=parse_network, metavar="network",
         help="Connect a container to a network"),
    Flag("network-alias", kind="list", help="Add network-scoped alias for the container"),
    Flag("publish", "p", "list", help="Publish a container's port(s) to the host"),
    Flag("publish-all", "P", "bool", help="Publish all exposed ports to random ports"),
)


def _endpoint(att: NetworkAttachment, aliases: tuple[str, ...] = (),
              links: tuple[str, ...] = (), ip: str = "", mac: str = "") -> EndpointConfig:
    """docker's ``applyContainerOptions`` and ``parseNetworkAttachmentOpt``: the
    attachment's own settings merged with the single-network flags (given only for the
    first network), refusing a setting given both ways."""
    for both, flag, what in ((att.aliases and aliases, "--network-alias", "per-network alias"),
                             (att.ipv4_address and ip, "--ip", "per-network IPv4 address"),
                             (att.mac_address and mac, "--mac-address",
                              "per-network MAC address")):
        if both:
            raise UsageError(f"conflicting options: cannot specify both {flag} and {what}")
    aliases = aliases or att.aliases
    if aliases and not is_user_defined(att.target):
        raise UsageError("network-scoped aliases are only supported for user-defined "
                         "networks")
    mac = mac or att.mac_address
    if mac and not valid_mac(mac):
        raise UsageError(f"{mac} is not a valid mac address")
    return EndpointConfig(aliases=aliases, ipv4_address=ip or att.ipv4_address,
                          mac_address=mac,
                          links=links if is_user_defined(att.target) else ())


def network_config(opts: Options) -> ContainerNetworking:
    """The networking half of the create request, from the parsed flags."""
    if opts.mac_address and not valid_mac(opts.mac_address):
        raise UsageError(f"{opts.mac_address} is not a valid mac address")
    exposed, bindings = parse_publish(opts.publish)
    for port in parse_expose(opts.expose):
        if port not in exposed:
            exposed.append(port)
    attachments: list[NetworkAttachment] = opts.network or [NetworkAttachment("default")]
    first = attachments[0]
    endpoints = {first.target: _endpoint(first, tuple(opts.network_alias), tuple(opts.link),
                                         opts.ip, opts.mac_address)}
    for extra in attachments[1:]:
        if extra.target in endpoints:
            raise UsageError(f'network "{extra.target}" is specified multiple times')
        endpoints[extra.target] = _endpoint(extra)
    kinds = {is_user_defined(a.target) for a in attachments}
    if len(kinds) > 1:
        raise UsageError("conflicting options: cannot attach both user-defined and "
                         "non-user-defined network-modes")
    if len(opts.network) == 1 and endpoints[first.target] == EndpointConfig():
        endpoints = {}  # one network, nothing to say about it: docker omits the entry
    return ContainerNetworking(
        network_mode=attachments[0].target, exposed_ports=tuple(exposed),
        port_bindings=bindings, publish_all=opts.publish_all, links=tuple(opts.link),
        dns=tuple(opts.dns), dns_search=tuple(opts.dns_search),
        dns_options=tuple(opts.dns_option), extra_hosts=tuple(opts.add_host),
        mac_address=opts.mac_address, endpoints=endpoints)

