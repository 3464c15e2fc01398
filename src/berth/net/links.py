"""Links over netlink (pyroute2, never the ``ip`` command): the bridge of a network, a
container's veth pair, the host's routes, the two sysctls berth needs.

A container's veth is made in one request whose peer is created straight inside the
container's netns under its final name (``IFLA_NET_NS_FD`` in ``VETH_INFO_PEER``), so no
temporary name ever exists on the host and nothing needs moving or renaming::

    host netns                                      container netns
    ──────────────────────────────────────          ───────────────────────────────────
    RTM_NEWLINK vb<hash> master <bridge> up  ═══▶   eth0 (mac, mtu)             (1 request)
                                                    eth0 up; address; default route
                                                    (a netlink socket opened by this
                                                     thread inside: netns.entered)

Sockets: pyroute2 0.9 creates a netns socket by forking a helper; opening the socket from
a thread that ``setns``'d in costs nothing instead. Every call opens its own sockets
(``groups=0``: no event subscriptions), so any thread may call any function.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from berth.errors import BerthError
from berth.net import netns

log = logging.getLogger(__name__)

IFNAMSIZ = 15  # usable bytes of an interface name
RT_TABLE_MAIN = 254


class LinkError(BerthError):
    """A netlink request about a link, address or route failed."""


@dataclass(frozen=True)
class BridgeConfig:
    name: str
    gateway: str
    prefix_len: int
    mtu: int = 1500


@dataclass(frozen=True)
class VethConfig:
    host_name: str
    bridge: str
    netns: Path | str
    ifname: str
    address: str
    prefix_len: int
    gateway: str = ""  # "": no default route
    mac: str = ""  # "": mac_for(address)
    mtu: int = 1500


@contextlib.contextmanager
def _ipr() -> Iterator[IPRoute]:
    """A netlink socket in the calling thread's current netns."""
    try:
        ipr = IPRoute(groups=0)
    except OSError as err:
        raise LinkError(f"opening a netlink socket: {err.strerror}") from err
    try:
        yield ipr
    finally:
        ipr.close()


def _fail(what: str, err: NetlinkError | OSError) -> LinkError:
    detail = os.strerror(err.code) if isinstance(err, NetlinkError) else err.strerror
    return LinkError(f"{what}: {detail}")


def _index(name: str) -> int | None:
    """The ifindex of ``name`` in the calling thread's netns (an ioctl, no netlink)."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def _check_name(name: str) -> None:
    if not name or len(name.encode()) > IFNAMSIZ or "/" in name or name.strip() != name:
        raise LinkError(f"invalid interface name {name!r}")


# ── bridges ──────────────────────────────────────────────────────────────────────────


def ensure_bridge(cfg: BridgeConfig) -> None:
    """Make the bridge if missing, give it ``gateway/prefix_len`` if it lacks it, bring it
    up, and let it route 127.0.0.1 (DNAT of published loopback ports). Idempotent."""
    _check_name(cfg.name)
    with _ipr() as ipr:
        try:
            index = _index(cfg.name)
            if index is None:
                ipr.link("add", ifname=cfg.name, kind="bridge", mtu=cfg.mtu)
                index = _index(cfg.name)
                if index is None:
                    raise LinkError(f"bridge {cfg.name} vanished after creation")
            have = {(a.get("address"), a["prefixlen"])
                    for a in ipr.addr("dump", family=socket.AF_INET, index=index)}
            if (cfg.gateway, cfg.prefix_len) not in have:
                ipr.addr("add", index=index, address=cfg.gateway, prefixlen=cfg.prefix_len)
            ipr.link("set", index=index, state="up")
        except NetlinkError as err:
            raise _fail(f"setting up bridge {cfg.name}", err) from err
    _write_sysctl(f"net/ipv4/conf/{cfg.name}/route_localnet", "1")


def remove_bridge(name: str) -> None:
    """Delete the bridge; no error if it is absent."""
    _remove_link(name, "bridge")


def bridge_exists(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def bridge_addresses(name: str) -> list[ipaddress.IPv4Interface]:
    """The IPv4 addresses of bridge ``name`` (none if it does not exist), in the kernel's
    order: the first is the one it was given first."""
    index = _index(name)
    if index is None:
        return []
    with _ipr() as ipr:
        try:
            found = ipr.addr("dump", family=socket.AF_INET, index=index)
        except NetlinkError as err:
            raise _fail(f"listing the addresses of {name}", err) from err
    return [ipaddress.IPv4Interface(f"{a.get('address')}/{a['prefixlen']}")
            for a in found]


def _remove_link(name: str, what: str) -> None:
    index = _index(name)
    if index is None:
        return
    with _ipr() as ipr:
        try:
            ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code != 19:  # ENODEV: someone else removed it
                raise _fail(f"removing {what} {name}", err) from err


# ── veths ────────────────────────────────────────────────────────────────────────────


def add_veth(cfg: VethConfig) -> str:
    """Give the netns at ``cfg.netns`` an interface ``cfg.ifname`` on ``cfg.bridge``
    (address, default route via ``cfg.gateway`` if set) and return its mac. On any
    failure what was made is removed and a LinkError raised."""
    _check_name(cfg.host_name)
    _check_name(cfg.ifname)
    mac = cfg.mac or mac_for(cfg.address)
    master = _index(cfg.bridge)
    if master is None:
        raise LinkError(f"bridge {cfg.bridge} does not exist")
    try:
        ns_fd = os.open(cfg.netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise _fail(f"opening network namespace {cfg.netns}", err) from err
    try:
        with _ipr() as ipr:
            ipr.link("add", ifname=cfg.host_name, kind="veth", master=master, mtu=cfg.mtu,
                     state="up", peer={"ifname": cfg.ifname, "net_ns_fd": ns_fd,
                                       "address": mac, "mtu": cfg.mtu})
    except NetlinkError as err:
        raise _fail(f"creating veth {cfg.host_name}", err) from err
    finally:
        os.close(ns_fd)
    try:
        _write_sysfs(f"/sys/class/net/{cfg.host_name}/brport/hairpin_mode", "1")
        _configure_peer(cfg)
    except BaseException:
        remove_veth(cfg.host_name)
        raise
    return mac


def _configure_peer(cfg: VethConfig) -> None:
    with netns.entered(cfg.netns), _ipr() as ipr:
        try:
            index = _index(cfg.ifname)
            if index is None:
                raise LinkError(f"{cfg.ifname} did not appear in {cfg.netns}")
            _no_dad(cfg.ifname)
            ipr.link("set", index=index, state="up")
            ipr.addr("add", index=index, address=cfg.address, prefixlen=cfg.prefix_len)
            if cfg.gateway:
                ipr.route("add", dst="0.0.0.0/0", gateway=cfg.gateway, oif=index)
        except NetlinkError as err:
            raise _fail(f"configuring {cfg.ifname} ({cfg.address}) in {cfg.netns}",
                        err) from err


def _no_dad(ifname: str) -> None:
    """Hairpin mode reflects the interface's own IPv6 neighbour solicitations back to it,
    which duplicate address detection would take for a clash (docker's known
    ``dadfailed``): skip DAD, as the address is berth's own. /proc/sys/net shows the
    netns of the thread that opens it, so this acts inside the container's netns."""
    key = f"net/ipv6/conf/{ifname}/accept_dad"
    if os.path.exists(f"/proc/sys/{key}"):  # else no IPv6 here
        _write_sysctl(key, "0")


def remove_veth(host_name: str) -> None:
    """Delete a veth pair by its host end; no error if it is absent."""
    _remove_link(host_name, "veth")


def remove_in_netns(netns_path: Path | str, ifname: str) -> None:
    """Delete ``ifname`` inside a netns (disconnect of a running container); no error if
    the interface or the netns is gone."""
    if not netns.is_netns(netns_path):
        return
    with netns.entered(netns_path):
        _remove_link(ifname, "interface")


def host_veths(prefix: str) -> list[str]:
    """Names of the host's links starting with ``prefix`` (veths left by a crash)."""
    return sorted(name for _, name in socket.if_nameindex() if name.startswith(prefix))


# ── routes and sysctls ───────────────────────────────────────────────────────────────


def routes() -> list[ipaddress.IPv4Network]:
    """Destinations of the host's IPv4 routes in the main table, default excluded, so
    that a new subnet can avoid them."""
    with _ipr() as ipr:
        try:
            found = ipr.route("dump", family=socket.AF_INET, table=RT_TABLE_MAIN)
            out = []
            for r in found:
                dst, length = r.get("dst"), r["dst_len"]
                if dst and length:
                    out.append(ipaddress.IPv4Network(f"{dst}/{length}", strict=False))
        except NetlinkError as err:
            raise _fail("listing routes", err) from err
    return out


def enable_forwarding() -> None:
    """net.ipv4.ip_forward=1: containers' traffic is routed through the host."""
    _write_sysctl("net/ipv4/ip_forward", "1")


def enable_bridge_netfilter() -> bool:
    """Bridged traffic through iptables (br_netfilter, loaded if it is a module), as
    docker's bridge driver does: a DNAT between two containers of one bridge is undone on
    the way back. False if the kernel has no br_netfilter."""
    key = "net/bridge/bridge-nf-call-iptables"
    if not os.path.exists(f"/proc/sys/{key}") and shutil.which("modprobe"):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    if not os.path.exists(f"/proc/sys/{key}"):
        return False
    _write_sysctl(key, "1")
    return True


def _write_sysctl(key: str, value: str) -> None:
    _write_sysfs(f"/proc/sys/{key}", value)


def _write_sysfs(path: str, value: str) -> None:
    """Write ``value`` unless it is there already (a read is cheaper than a write that
    makes the kernel notify)."""
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as err:
        raise LinkError(f"writing {value} to {path}: {err.strerror}") from err


def mac_for(address: str | ipaddress.IPv4Address) -> str:
    """Docker's mac for an address: 02:42 and the four address bytes."""
    packed = ipaddress.IPv4Address(address).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)
