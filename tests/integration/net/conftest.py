"""Fixtures for berth.net over the real kernel: bridges, named netns, veths and chains,
all under names of this run only (bridges ``bt<hex>``, veths ``vt<hex>``, chains
``BT<hex>``, subnets from 10.232.0.0/16 that no host route touches), removed in
``finally`` whatever failed. Servers and clients are Python sockets opened inside a netns
with ``netns.entered``: no process, and nothing sent anywhere but loopback and the
namespaces made here."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.net import ipam, links, netns
from berth.net.firewall import Firewall

ROOT_ONLY = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: netns, veths, iptables"),
]


def short(prefix: str) -> str:
    return prefix + secrets.token_hex(4)  # 10 characters, well inside IFNAMSIZ


@dataclass(frozen=True)
class Bridge:
    name: str
    subnet: ipaddress.IPv4Network
    gateway: str

    def host(self, n: int) -> str:
        return str(self.subnet.network_address + n)


@pytest.fixture
def nsdir(tmp_path: Path) -> Iterator[Path]:
    """A directory for netns binds; whatever is bound in it is removed after the test."""
    d = tmp_path / "netns"
    try:
        yield d
    finally:
        for where, _, files in os.walk(d):
            for name in files:
                netns.remove(Path(where) / name)


MakeBridge = Callable[[], Bridge]


@pytest.fixture
def make_bridge() -> Iterator[MakeBridge]:
    made: list[Bridge] = []

    def make() -> Bridge:
        taken = links.routes() + [b.subnet for b in made]
        subnet = ipam.pick_subnet(["10.232.0.0/16:24"], taken)
        b = Bridge(short("bt"), subnet, str(subnet.network_address + 1))
        made.append(b)
        links.ensure_bridge(links.BridgeConfig(b.name, b.gateway, subnet.prefixlen))
        return b

    try:
        yield make
    finally:
        for b in made:
            links.remove_bridge(b.name)


@dataclass(frozen=True)
class Endpoint:
    netns: Path
    veth: str
    address: str
    bridge: Bridge


MakeEndpoint = Callable[[Bridge, int], Endpoint]


@pytest.fixture
def make_endpoint(nsdir: Path) -> Iterator[MakeEndpoint]:
    """A netns with eth0 on ``bridge`` at host number ``n`` and a default route."""
    veths: list[str] = []

    def make(bridge: Bridge, n: int) -> Endpoint:
        path = nsdir / short("ns")
        netns.create(path)
        veth = short("vt")
        veths.append(veth)
        address = bridge.host(n)
        links.add_veth(links.VethConfig(veth, bridge.name, path, "eth0", address,
                                        bridge.subnet.prefixlen, bridge.gateway))
        return Endpoint(path, veth, address, bridge)

    try:
        yield make
    finally:
        for veth in veths:
            links.remove_veth(veth)


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    fw = Firewall("BT" + secrets.token_hex(3).upper())
    if not fw.available():
        pytest.skip("iptables is not available")
    try:
        links.enable_forwarding()
        fw.setup()
        yield fw
    finally:
        fw.teardown()


# ── sockets in a netns ───────────────────────────────────────────────────────────────


def socket_in(path: Path | None, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket bound to the netns at ``path`` (the host's when None)."""
    if path is None:
        return socket.socket(socket.AF_INET, kind)
    with netns.entered(path):
        return socket.socket(socket.AF_INET, kind)


@contextlib.contextmanager
def echo_server(path: Path, port: int, kind: int = socket.SOCK_STREAM) -> Iterator[None]:
    """Answers ``b"echo:" + data`` from inside the netns (TCP or UDP) until the block
    ends."""
    srv = socket_in(path, kind)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.settimeout(0.05)
    if kind == socket.SOCK_STREAM:
        srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                if kind == socket.SOCK_DGRAM:
                    data, peer = srv.recvfrom(2048)
                    srv.sendto(b"echo:" + data, peer)
                    continue
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                conn.sendall(b"echo:" + conn.recv(2048))

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()
        srv.close()


def ask(path: Path | None, address: str, port: int, kind: int = socket.SOCK_STREAM,
        timeout: float = 2.0) -> bytes:
    """Send b"hi" from the netns at ``path`` (the host when None); return the answer."""
    with socket_in(path, kind) as s:
        s.settimeout(timeout)
        if kind == socket.SOCK_DGRAM:
            s.sendto(b"hi", (address, port))
            return s.recvfrom(2048)[0]
        s.connect((address, port))
        s.sendall(b"hi")
        return s.recv(2048)


def reachable(path: Path | None, address: str, port: int, timeout: float = 0.3) -> bool:
    try:
        return ask(path, address, port, timeout=timeout) == b"echo:hi"
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
