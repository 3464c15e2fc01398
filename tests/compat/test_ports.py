"""Published ports through the real docker CLI: ``-p`` with a host ip, ``-P`` with EXPOSE,
udp, ranges, hairpin, ``docker port``, the PORTS column, ``NetworkSettings`` and the
refusals (a port in use, a port already given out, a bad spec) with nothing leaked.

Every fetch goes to 127.0.0.1 or to the test's own containers."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.compat import netstate
from tests.compat.daemon import Daemon, raw_request
from tests.compat.netserve import (
    container_net,
    fetch,
    fetch_eventually,
    free_ports,
    httpd_argv,
    listening,
    name,
    wget_in,
)
from tests.trees import write_tree


def _port_lines(d: Daemon, ref: str) -> set[str]:
    return set(d.docker("port", ref).stdout.splitlines())


def test_publish_on_loopback_with_port_ps_and_inspect(daemon: Daemon,
                                                      containers: list[str]) -> None:
    web = name("web")
    containers.append(web)
    d = daemon
    d.docker("run", "-d", "-p", "127.0.0.1:0:8080", "--name", web, "busybox",
             *httpd_argv("hello-web", 8080))
    mapped = d.docker("port", web, "8080").stdout.strip()
    host_ip, _, host_port = mapped.rpartition(":")
    assert host_ip == "127.0.0.1" and host_port.isdigit(), mapped
    port = int(host_port)
    assert fetch_eventually(port) == "hello-web"
    assert _port_lines(d, web) == {f"8080/tcp -> 127.0.0.1:{port}"}
    ps = d.docker("ps", "--filter", f"name={web}", "--format", "{{.Ports}}").stdout.strip()
    assert ps == f"127.0.0.1:{port}->8080/tcp"
    shown = d.docker("inspect", "-f",
                     "{{.NetworkSettings.IPAddress}} {{json .NetworkSettings.Ports}}",
                     web).stdout.strip()
    address, _, ports = shown.partition(" ")
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address), shown
    assert json.loads(ports) == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    settings = container_net(d, web)
    bridge = settings["Networks"]["bridge"]  # type: ignore[index]
    assert bridge["IPAddress"] == address and bridge["Gateway"] == settings["Gateway"]
    assert bridge["IPPrefixLen"] == settings["IPPrefixLen"] and bridge["MacAddress"]
    assert Path(str(settings["SandboxKey"])).exists()
    # the container's own view: eth0 with that address, default route via the gateway
    addr = d.docker("exec", web, "ip", "-4", "addr", "show", "eth0").stdout
    assert f"inet {address}/{settings['IPPrefixLen']}" in addr
    route = d.docker("exec", web, "ip", "route").stdout
    assert f"default via {settings['Gateway']}" in route


def test_publish_all_exposed_ports(daemon: Daemon, containers: list[str], tags: list[str],
                                   tmp_path: Path) -> None:
    d = daemon
    image = f"{name('exposing')}:1"
    tags.append(image)
    write_tree(tmp_path, {"Dockerfile": "FROM busybox\nEXPOSE 8080 9090/udp\n"})
    d.docker("build", "-q", "-t", image, str(tmp_path))
    web = name("allports")
    containers.append(web)
    d.docker("run", "-d", "-P", "--name", web, image, *httpd_argv("every-port", 8080))
    lines = _port_lines(d, web)
    tcp = [ln for ln in lines if ln.startswith("8080/tcp -> 0.0.0.0:")]
    udp = [ln for ln in lines if ln.startswith("9090/udp -> 0.0.0.0:")]
    assert len(tcp) == 1 and len(udp) == 1, lines
    port = int(tcp[0].rpartition(":")[2])
    assert fetch_eventually(port) == "every-port"  # 0.0.0.0 includes loopback
    ports = container_net(d, web)["Ports"]
    assert set(ports) == {"8080/tcp", "9090/udp"}  # type: ignore[arg-type]
    ps = d.docker("ps", "--filter", f"name={web}", "--format", "{{.Ports}}").stdout
    assert f"0.0.0.0:{port}->8080/tcp" in ps and "->9090/udp" in ps


def test_exposed_but_unpublished_port_is_null(daemon: Daemon, containers: list[str]) -> None:
    c = name("exposed")
    containers.append(c)
    daemon.docker("run", "-d", "--expose", "7000", "--name", c, "busybox", "sleep", "600")
    assert container_net(daemon, c)["Ports"] == {"7000/tcp": None}
    assert daemon.docker("port", c).stdout.strip() == ""


def test_default_bind_address_from_daemon_toml(fresh_daemon: Daemon) -> None:
    d = fresh_daemon
    d.settings["default_bind_address"] = "127.0.0.1"
    d.stop()
    d.start()
    d.docker("run", "-d", "-p", "8080", "--name", "local", "busybox",
             *httpd_argv("only-local", 8080))
    mapped = d.docker("port", "local", "8080").stdout.strip()
    assert mapped.startswith("127.0.0.1:"), mapped
    assert fetch_eventually(int(mapped.rpartition(":")[2])) == "only-local"


# The static busybox's nc has no -u: the UDP server is a host python run inside the
# container's network namespace (nsenter -n), which is where a published port leads.
_UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
"""


def test_udp_publish(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    port = free_ports()
    c = name("udp")
    containers.append(c)
    d.docker("run", "-d", "-p", f"127.0.0.1:{port}:5353/udp", "--name", c, "busybox",
             "sleep", "600")
    assert _port_lines(d, c) == {f"5353/udp -> 127.0.0.1:{port}"}
    pid = d.docker("inspect", "-f", "{{.State.Pid}}", c).stdout.strip()
    with subprocess.Popen(["nsenter", "-t", pid, "-n", sys.executable, "-c", _UDP_ECHO],
                          stdout=subprocess.PIPE, text=True) as echo:
        try:
            assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.5)
                deadline = time.monotonic() + 15
                while True:
                    s.sendto(b"datagram-1", ("127.0.0.1", port))
                    try:
                        assert s.recv(64) == b"echo:datagram-1"
                        break
                    except TimeoutError:
                        assert time.monotonic() < deadline, "no UDP reply"
        finally:
            echo.kill()


def test_publish_a_range(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    base = free_ports(2)
    c = name("range")
    containers.append(c)
    d.docker("run", "-d", "-p", f"127.0.0.1:{base}-{base + 1}:8000-8001", "--name", c,
             "busybox", *httpd_argv("ranged", 8000, 8001))
    assert _port_lines(d, c) == {f"8000/tcp -> 127.0.0.1:{base}",
                                 f"8001/tcp -> 127.0.0.1:{base + 1}"}
    assert fetch_eventually(base) == "ranged"
    assert fetch_eventually(base + 1) == "ranged"


def test_hairpin_through_the_bridge_gateway(daemon: Daemon, containers: list[str]) -> None:
    """A container reaches a published port (another's, and its own) at the gateway."""
    d = daemon
    port = free_ports()
    server, other = name("hairpin"), name("peer")
    containers += [server, other]
    d.docker("run", "-d", "-p", f"{port}:8080", "--name", server, "busybox",
             *httpd_argv("hairpinned", 8080))
    d.docker("run", "-d", "--name", other, "busybox", "sleep", "600")
    gateway = container_net(d, server)["Gateway"]
    assert wget_in(d, ["exec", other], f"http://{gateway}:{port}/") == "hairpinned"
    assert wget_in(d, ["exec", server], f"http://{gateway}:{port}/") == "hairpinned"


def test_port_held_by_another_program(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    port = free_ports()
    c = name("busy")
    containers.append(c)
    with listening(port):
        done = d.docker("run", "-d", "-p", f"127.0.0.1:{port}:80", "--name", c, "busybox",
                        "sleep", "600", check=False)
    assert done.returncode != 0
    assert "address already in use" in done.stderr and f"127.0.0.1:{port}" in done.stderr, \
        done.stderr
    _assert_not_started_nothing_left(d, c)


def test_port_already_published_by_berth(daemon: Daemon, containers: list[str]) -> None:
    d = daemon
    port = free_ports()
    first, second = name("first"), name("second")
    containers += [first, second]
    d.docker("run", "-d", "-p", f"127.0.0.1:{port}:8080", "--name", first, "busybox",
             *httpd_argv("first", 8080))
    done = d.docker("run", "-d", "-p", f"127.0.0.1:{port}:80", "--name", second, "busybox",
                    "sleep", "600", check=False)
    assert done.returncode != 0
    assert f"Bind for 127.0.0.1:{port} failed: port is already allocated" in done.stderr, \
        done.stderr
    _assert_not_started_nothing_left(d, second)
    assert fetch_eventually(port) == "first"  # the first keeps its port
    d.docker("rm", "-f", first)
    assert [r for r in netstate.rules(d.chain_prefix) if f"--dport {port}" in r] == []
    with listening(port):  # freed: the host can bind it again
        pass


def _assert_not_started_nothing_left(d: Daemon, c: str) -> None:
    state = json.loads(d.docker("inspect", "-f", "{{json .State}}", c).stdout)
    assert state["Running"] is False and state["Status"] == "created", state
    cid = d.docker("inspect", "-f", "{{.Id}}", c).stdout.strip()
    assert netstate.container_rules(d.chain_prefix, cid) == []
    assert not (d.exec_root / "netns" / cid).exists()
    veths = netstate.veths_on({d.bridge})
    running = d.docker("ps", "-q").stdout.split()
    assert len(veths) == len(running), (veths, running)


@pytest.mark.parametrize("spec", ["127.0.0.1:notaport:80", "80:70000"])
def test_invalid_port_spec_through_the_api(daemon: Daemon, spec: str) -> None:
    host = spec.rsplit(":", 1)[0].rpartition(":")[2]
    inner = spec.rsplit(":", 1)[1]
    body = {"Image": "busybox", "Cmd": ["true"], "ExposedPorts": {f"{inner}/tcp": {}},
            "HostConfig": {"PortBindings": {f"{inner}/tcp": [{"HostPort": host}]}}}
    status, _, text = raw_request(daemon, "POST", "/v1.45/containers/create", body)
    assert status == 400, (status, text)
    assert b"invalid" in text.lower()


def test_invalid_port_spec_through_the_cli(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "-p", "127.0.0.1:99999:80", "busybox", "true",
                         check=False)
    assert done.returncode != 0 and "invalid" in done.stderr.lower()


def test_published_port_of_a_stopped_container_is_closed(daemon: Daemon,
                                                         containers: list[str]) -> None:
    d = daemon
    port = free_ports()
    c = name("stopping")
    containers.append(c)
    d.docker("run", "-d", "-p", f"127.0.0.1:{port}:8080", "--name", c, "busybox",
             *httpd_argv("soon-stopped", 8080))
    assert fetch_eventually(port) == "soon-stopped"
    cid = d.docker("inspect", "-f", "{{.Id}}", c).stdout.strip()
    assert netstate.container_rules(d.chain_prefix, cid), "published by rules"
    d.docker("stop", "-t", "1", c)
    assert netstate.container_rules(d.chain_prefix, cid) == []
    with pytest.raises(OSError):
        fetch(port, timeout=2)
    assert d.docker("port", c).stdout.strip() == ""
    d.docker("start", c)
    assert fetch_eventually(port) == "soon-stopped"  # the same host port again
