"""Small servers in containers and their clients on the host, for the networking tests.

Traffic goes only to loopback and to the tests' own containers: a container serves with
busybox ``httpd``, the host fetches through ``http.client`` on 127.0.0.1, and containers
fetch from each other with busybox ``wget``.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from tests.compat.daemon import Daemon


def name(stem: str) -> str:
    """A container or network name no other test of the session uses."""
    return f"{stem}{secrets.token_hex(3)}"


def httpd_argv(body: str, *ports: int) -> list[str]:
    """busybox sh serving ``body`` as /index.html with one httpd per port (the last in
    the foreground, so the container lives as long as it does)."""
    serve = [f"httpd -p {p} -h /www" for p in ports[:-1]]
    script = "; ".join(["mkdir -p /www", f"echo {body} > /www/index.html", *serve,
                        f"exec httpd -f -p {ports[-1]} -h /www"])
    return ["sh", "-c", script]


def interfaces(text: str) -> set[str]:
    """Interface names in ``ip -o link`` output (``2: eth0@if7: <...> ...``); other
    lines are ignored."""
    return {m.group(1) for m in re.finditer(r"^\d+: ([^:@\s]+)(?:@\S+)?:", text, re.M)}


def fetch(port: int, host: str = "127.0.0.1", timeout: float = 5) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/index.html")
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        return resp.read().decode().strip()
    finally:
        conn.close()


def fetch_eventually(port: int, host: str = "127.0.0.1", within: float = 15) -> str:
    """:func:`fetch` once the server in the container listens."""
    deadline = time.monotonic() + within
    while True:
        try:
            return fetch(port, host)
        except (OSError, http.client.HTTPException, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wget_in(d: Daemon, where: list[str], url: str, tries: int = 30) -> str:
    """``wget -qO- url`` from a container (``where``: ``exec NAME`` or ``run --rm ...``
    argv), retried until the server answers."""
    last: subprocess.CompletedProcess[str] | None = None
    for _ in range(tries):
        last = d.docker(*where, "timeout", "5", "wget", "-qO-", url, check=False)
        if last.returncode == 0:
            return last.stdout.strip()
        time.sleep(0.3)
    assert last is not None
    raise AssertionError(f"wget {url} from {where} failed: {last.stderr}")


def docker_json(d: Daemon, *args: str) -> object:
    return json.loads(d.docker(*args).stdout)


def container_net(d: Daemon, ref: str) -> dict[str, object]:
    settings = docker_json(d, "inspect", "-f", "{{json .NetworkSettings}}", ref)
    assert isinstance(settings, dict)
    return settings


def ip_of(d: Daemon, ref: str, network: str = "bridge") -> str:
    nets = container_net(d, ref)["Networks"]
    assert isinstance(nets, dict), nets
    address = nets[network]["IPAddress"]
    assert isinstance(address, str) and address, nets
    return address


def free_ports(count: int = 1) -> int:
    """The first of ``count`` consecutive TCP and UDP ports free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count < 65000 and all(_free(base + i) for i in range(count)):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_subnet() -> str:
    """A /24 of 10.88.0.0/16 that no host route and no interface address touches."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True, check=True).stdout
    taken = []
    for line in routes.splitlines():
        with contextlib.suppress(ValueError):
            taken.append(ipaddress.ip_network(line.split()[0] if line.split()[0] not in (
                "local", "broadcast") else line.split()[1], strict=False))
    for _ in range(100):
        net = ipaddress.ip_network(f"10.88.{secrets.randbelow(250) + 1}.0/24")
        if not any(net.overlaps(t) for t in taken if t.prefixlen > 0):
            return str(net)
    raise AssertionError("no free 10.88.x.0/24")


@contextlib.contextmanager
def listening(port: int, host: str = "127.0.0.1") -> Iterator[socket.socket]:
    """A TCP socket of the test's own holding ``host:port``."""
    s = socket.socket()
    try:
        s.bind((host, port))
        s.listen()
        yield s
    finally:
        s.close()


@contextlib.contextmanager
def loopback_dns(answers: dict[str, str]) -> Iterator[str]:
    """A DNS server on 127.53.<random>:53 (UDP) answering ``answers`` (name → IPv4) and
    NXDOMAIN otherwise: the upstream of containers run with ``--dns <it>``, so a test's
    lookups of unknown names never leave the host for its real resolvers."""
    from dnslib import QTYPE, RCODE, RR, A
    from dnslib.server import BaseResolver, DNSServer

    class Resolver(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: Any, handler: Any) -> Any:
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            if name in answers and request.q.qtype == QTYPE.A:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(answers[name]), ttl=5))
            elif name not in answers:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    address = f"127.53.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    server = DNSServer(Resolver(), address=address, port=53,
                       logger=type("Quiet", (), {"__getattr__": lambda s, n: lambda *a: None})())
    server.start_thread()
    try:
        yield address
    finally:
        server.stop()
        server.server.server_close()
