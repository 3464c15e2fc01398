"""Daemon configuration: ``daemon.toml`` plus command-line flags, as frozen dataclasses.

Flags win over the file. Only this module and ``cli/main.py`` read the environment.
"""

from __future__ import annotations

import argparse
import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from berth.errors import InvalidArgument

DEFAULT_DATA_ROOT = Path("/var/lib/berth")
DEFAULT_EXEC_ROOT = Path("/run/berth")
DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class DaemonConfig:
    data_root: Path = DEFAULT_DATA_ROOT
    exec_root: Path = DEFAULT_EXEC_ROOT
    # -H, repeatable: at most one unix:///path (none: exec_root/berth.sock, always served)
    # and any number of tcp://host:port, with TLS for all of them when tls or tlsverify
    hosts: tuple[str, ...] = ()
    tls: bool = False  # serve TLS on tcp:// hosts (tlscert, tlskey)
    tlsverify: bool = False  # ... and require client certificates signed by tlscacert
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    runtime: str = "native"  # a name in daemon.py's RUNTIMES or a path: checked at start
    snapshotter: str = "overlay"
    cgroup_parent: str = "berth"
    debug: bool = False
    # Registries (docs/design/registry.md): registry host → mirror endpoints tried in order
    # before it; hosts or CIDRs reached over plain HTTP; what an unqualified name resolves to.
    registry_mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure_registries: tuple[str, ...] = ()
    default_registry: str = DOCKER_HUB
    # ``image bootstrap debian``'s Debian mirror; empty: the host's apt source, else
    # deb.debian.org (engine/images/apt_sources.py)
    bootstrap_mirror: str = ""
    # Networking (docs/design/networking.md): the default bridge's device and subnet ("":
    # picked from default_address_pools, clear of the host's routes), the pools user
    # networks' subnets come from ("CIDR" or "CIDR:size"), the host ip of a -p without
    # one, the userland proxy beside the kernel rules, and berth's iptables chains (a
    # second berthd on the host needs its own bridge and prefix).
    bridge: str = "berth0"
    bridge_subnet: str = ""
    default_address_pools: tuple[str, ...] = (
        "172.18.0.0/16", "172.19.0.0/14:16", "172.24.0.0/14:16", "192.168.0.0/16:20")
    default_bind_address: str = "0.0.0.0"
    userland_proxy: bool = False
    iptables: bool = True
    iptables_chain_prefix: str = "BERTH"
    # The DNS servers of containers without --dns (dockerd's --dns): their resolv.conf,
    # and where the embedded DNS forwards; empty: the host's resolvers.
    dns: tuple[str, ...] = ()
    # The containers' /proc view (docs/design/procview.md): lxcfs's meminfo, cpuinfo, stat,
    # ... bound over theirs, so they show the container's limits; off: the host's.
    proc_view: bool = True
    # --userns-remap (docs/design/userns.md): "" (off), "default" (the berthremap user,
    # made if missing) or USER[:GROUP] whose /etc/subuid and /etc/subgid ranges containers'
    # root and users map onto.
    userns_remap: str = ""

    @property
    def socket_path(self) -> Path:
        unix = [h.removeprefix("unix://") for h in self.hosts if h.startswith("unix://")]
        return Path(unix[-1]) if unix else self.exec_root / "berth.sock"

    @property
    def tcp_addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each tcp:// host."""
        return tuple(_tcp_address(h) for h in self.hosts if h.startswith("tcp://"))

    @property
    def serves_tls(self) -> bool:
        return self.tls or self.tlsverify


def _tcp_address(host: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (``[v6]:PORT``; no host: 127.0.0.1) as (host, port)."""
    address = host.removeprefix("tcp://").rstrip("/")
    name, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536 or "/" in address:
        raise InvalidArgument(f"invalid host {host!r}: expected tcp://HOST:PORT")
    name = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    return name or "127.0.0.1", int(port)


def _check_hosts(config: DaemonConfig) -> None:
    for host in config.hosts:
        if not host.startswith(("unix://", "tcp://")) or host in ("unix://", "tcp://"):
            raise InvalidArgument(f"unsupported host {host!r}: unix:///path or "
                                  "tcp://host:port")
    if sum(h.startswith("unix://") for h in config.hosts) > 1:
        raise InvalidArgument("berthd serves one unix:// socket")
    config.tcp_addresses  # noqa: B018 - validates each tcp:// host
    if config.serves_tls and not (config.tlscert and config.tlskey):
        raise InvalidArgument("--tls and --tlsverify need --tlscert and --tlskey")
    if config.tlsverify and not config.tlscacert:
        raise InvalidArgument("--tlsverify needs --tlscacert (the CA of client certificates)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="The Berth container daemon")
    p.add_argument("--config-file", type=Path, default=None, help="daemon.toml")
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--exec-root", type=Path, default=None)
    p.add_argument("-H", "--host", dest="hosts", action="append", default=None,
                   help="unix:///path or tcp://host:port to serve the API on (repeatable)")
    p.add_argument("--tls", action="store_true", default=None,
                   help="serve TLS on tcp:// hosts; implied by --tlsverify")
    p.add_argument("--tlsverify", action="store_true", default=None,
                   help="serve TLS and require client certificates signed by --tlscacert")
    p.add_argument("--tlscacert", default=None, metavar="PATH")
    p.add_argument("--tlscert", default=None, metavar="PATH")
    p.add_argument("--tlskey", default=None, metavar="PATH")
    p.add_argument("--runtime", default=None,
                   help="the default runtime: a name berthd knows (berth info lists them; "
                        "native if unset) or the path of a runc-compatible binary")
    p.add_argument("--snapshotter", default=None, choices=("overlay", "native"))
    p.add_argument("--cgroup-parent", default=None)
    p.add_argument("-D", "--debug", action="store_true", default=None)
    p.add_argument("--registry-mirror", action="append", default=[], metavar="URL",
                   help="a mirror of docker.io, tried before it (repeatable)")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST|CIDR",
                   help="a registry reached over plain HTTP (repeatable)")
    p.add_argument("--default-registry", default=None, metavar="HOST",
                   help="the registry unqualified names (busybox) come from")
    p.add_argument("--bootstrap-mirror", default=None, metavar="URL",
                   help="the Debian mirror `image bootstrap debian` uses")
    p.add_argument("-b", "--bridge", default=None,
                   help="the default bridge network's device (berth0)")
    p.add_argument("--bip", dest="bridge_subnet", default=None, metavar="CIDR",
                   help="the default bridge network's subnet")
    p.add_argument("--ip", dest="default_bind_address", default=None,
                   help="the host ip of published ports without one (0.0.0.0)")
    p.add_argument("--dns", action="append", default=None, metavar="IP",
                   help="a DNS server of containers without --dns (repeatable)")
    p.add_argument("--iptables-chain-prefix", default=None,
                   help="the prefix of berth's iptables chains (BERTH)")
    p.add_argument("--proc-view", action=argparse.BooleanOptionalAction, default=None,
                   help="bind lxcfs's /proc files into containers (on by default)")
    p.add_argument("--userns-remap", default=None, metavar="default|USER[:GROUP]",
                   help="map containers' root to the subordinate id ranges of USER")
    return p


def registry_host(text: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``H:5000/`` → ``h:5000``."""
    host = text.split("://", 1)[-1].split("/", 1)[0].lower()
    if not host:
        raise InvalidArgument(f"invalid registry host {text!r}")
    return DOCKER_HUB if host in _HUB_ALIASES else host


def _mirror(url: object) -> str:
    """A mirror endpoint as ``scheme://host[:port]`` (docker's ValidateMirror)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"invalid mirror {url!r}: it must start with http:// or https://")
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    if not host or path.strip("/") not in ("", "v2"):
        raise InvalidArgument(f"invalid mirror {url!r}: a mirror is scheme://host[:port]")
    return f"{scheme}://{host.lower()}"


def _mirrors(raw: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise InvalidArgument("registry_mirrors must be a table of host = [mirror URLs]")
    out: dict[str, tuple[str, ...]] = {}
    for host, urls in raw.items():
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list):
            raise InvalidArgument(f"registry_mirrors.{host}: expected a list of URLs")
        out[registry_host(host)] = tuple(_mirror(u) for u in urls)
    return out


def _insecure(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise InvalidArgument("insecure_registries must be a list of host[:port] or CIDR")
    out = []
    for entry in raw:
        if "/" in entry and "://" not in entry:
            try:
                out.append(str(ipaddress.ip_network(entry, strict=False)))
                continue
            except ValueError as err:
                raise InvalidArgument(f"insecure registry {entry!r}: {err}") from err
        out.append(registry_host(entry))
    return tuple(out)


def _registry_values(values: dict[str, object], args: argparse.Namespace) -> None:
    """Validate and normalise the registry keys of ``values``; the flags add to the file
    (``--registry-mirror`` names docker.io's mirrors, as dockerd's does)."""
    mirrors = _mirrors(values.get("registry_mirrors", {}))
    if args.registry_mirror:
        hub = tuple(_mirror(u) for u in args.registry_mirror)
        mirrors[DOCKER_HUB] = (*hub, *(m for m in mirrors.get(DOCKER_HUB, ()) if m not in hub))
    values["registry_mirrors"] = mirrors
    from_file = _insecure(values.get("insecure_registries", []))
    values["insecure_registries"] = (*from_file, *_insecure(args.insecure_registry))
    default = args.default_registry or values.get("default_registry", DOCKER_HUB)
    if not isinstance(default, str):
        raise InvalidArgument("default_registry must be a host[:port]")
    values["default_registry"] = registry_host(default)


def load(argv: list[str]) -> DaemonConfig:
    args = _parser().parse_args(argv)
    values: dict[str, object] = {}
    if args.config_file is not None:
        try:
            raw = tomllib.loads(args.config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise InvalidArgument(f"cannot read {args.config_file}: {err}") from err
        known = {f.name for f in fields(DaemonConfig)}
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise InvalidArgument(f"unknown key {key!r} in {args.config_file}")
            values[name] = Path(value) if name in ("data_root", "exec_root") else value
    for key in ("hosts", "default_address_pools", "dns"):
        if isinstance(values.get(key), list):  # daemon.toml's lists, as dockerd's
            values[key] = tuple(values[key])  # type: ignore[arg-type]
    for f in fields(DaemonConfig):
        flag = getattr(args, f.name, None)
        if flag is not None and not f.name.endswith("_registry"):
            values[f.name] = tuple(flag) if f.name in ("hosts", "dns") else flag
    _registry_values(values, args)
    if not isinstance(values.get("proc_view", True), bool):
        raise InvalidArgument("proc_view must be true or false")
    config = DaemonConfig(**values)  # type: ignore[arg-type]
    _check_hosts(config)
    _check_network(config)
    return config


def _check_network(config: DaemonConfig) -> None:
    """The networking keys' shapes; the subnets themselves are checked at start."""
    if not 0 < len(config.bridge) < 16 or "/" in config.bridge or " " in config.bridge:
        raise InvalidArgument(f"invalid bridge name {config.bridge!r}: 1-15 characters")
    if not config.iptables_chain_prefix or len(config.iptables_chain_prefix) > 12:
        raise InvalidArgument("iptables_chain_prefix must be 1-12 characters")
    try:
        ipaddress.IPv4Address(config.default_bind_address)
        if config.bridge_subnet:
            ipaddress.IPv4Network(config.bridge_subnet, strict=False)
        for pool in config.default_address_pools:
            ipaddress.IPv4Network(pool.split(":", 1)[0], strict=False)
        for server in config.dns:
            ipaddress.ip_address(server)
    except ValueError as err:
        raise InvalidArgument(f"invalid network setting: {err}") from err
